"""The console script answers an unchanged `build` or `check` before the CLI is imported, with
the CLI's own messages; every other command line, and every change the CLI's no-change check
would see, is left to the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kurator_compile import entry, unchanged
from kurator_compile.options import Options
from kurator_compile.sources import Globs, fingerprint, read_sources

from .conftest import copy_demo, run_cli
from .synthetic import write_fleet

WEB = "apps/web/web.yaml"
FILE = "rendered/clusters/cluster-beijing/configmap_shop_cluster-info.yaml"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo built once (its stat cache in place), as the working directory."""
    repo = copy_demo(tmp_path / "repo")
    assert run_cli("build", cwd=repo).exit_code == 0
    monkeypatch.chdir(repo)
    monkeypatch.delenv("ARGOCD_ENV_FLEET", raising=False)
    monkeypatch.delenv("PARAM_FLEET", raising=False)
    return repo


def _answered(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str | None:
    """What the entry printed when it answered `argv`, None when it left it to the CLI."""
    answered = entry.answer(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    if not answered:
        assert captured.err == ""
        return None
    return captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["build"],
        ["build", "fleets/demo.yaml"],
        ["build", "fleets/demo.yaml", "-o", "rendered", "--fail-on-change", "--allow-removal"],
        ["-q", "build", "--output=rendered", "--layout", "per-object"],
        ["--debug", "check", "fleets/demo.yaml", "--diff"],
        ["check", "-o", "rendered", "--lock", "fleets/demo.lock.json"],
        ["--quiet", "check"],
    ],
)
def test_an_unchanged_run_is_answered_as_the_cli_answers_it(
    demo: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    printed = _answered(argv, capsys)
    by_cli = run_cli(*argv)
    assert by_cli.exit_code == 0
    assert printed == by_cli.stderr
    assert printed in ("", "rendered is up to date: 0 written, 0 removed\n") or printed == (
        "rendered is up to date (35 files)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version"],
        ["build", "--help"],
        ["plan"],
        ["render", "--cluster", "cluster-beijing"],
        ["build", "fleets/demo.yaml", "fleets/demo.yaml"],
        ["build", "--root", "."],
        ["build", "--shard", "1/2"],
        ["build", "--reschedule"],
        ["build", "--crd-schemas", "fleets"],
        ["build", "-q"],
        ["build", "--", "fleets/demo.yaml"],
        ["build", "-orendered"],
        ["build", "-o"],
        ["build", "-o", ""],
        ["build", "--layout", "one-file"],
        ["check", "--fail-on-change"],
        ["build", "--lock", "fleets"],
        ["build", "--strict"],  # another option than the last build's
        ["build", "--layout", "per-cluster"],
        ["check", "--kustomization"],
    ],
)
def test_any_other_command_line_is_left_to_the_cli(
    demo: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert _answered(argv, capsys) is None


def test_a_fleet_from_argo_cds_environment_is_left_to_the_cli(
    demo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGOCD_ENV_FLEET", "fleets/demo.yaml")
    assert _answered(["check"], capsys) is None


def test_every_change_is_left_to_the_cli(
    demo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _answered(["check"], capsys) is not None
    edited = demo / FILE
    original = edited.read_bytes()
    edited.write_bytes(original.replace(b"beijing", b"BEIJING"))  # same size
    assert _answered(["check"], capsys) is None
    edited.write_bytes(original)
    assert _answered(["check"], capsys) is None  # same bytes, but another mtime
    assert run_cli("build").exit_code == 0
    assert _answered(["check"], capsys) is not None
    stray = demo / "rendered/clusters/cluster-beijing/configmap_shop_extra.yaml"
    stray.write_text("x: 1\n")
    assert _answered(["build"], capsys) is None  # the CLI warns about it
    stray.unlink()
    assert _answered(["build"], capsys) is not None
    web = demo / WEB
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 3"))
    assert _answered(["build"], capsys) is None
    web.write_text(web.read_text().replace("replicas: 3", "replicas: 2"))
    assert _answered(["build"], capsys) is not None
    monkeypatch.setattr(unchanged, "code_digest", lambda: "another compiler")
    assert _answered(["build"], capsys) is None


def test_without_a_fleets_folder_or_a_stat_cache_the_cli_runs(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo / "rendered/.kurator/cache.json").unlink()
    assert _answered(["build"], capsys) is None
    assert _answered(["build", "-o", "elsewhere"], capsys) is None
    (demo / "fleets/other.yaml").write_text("")
    assert _answered(["build"], capsys) is None


def test_the_console_script_answers_without_importing_click(demo: Path) -> None:
    script = (
        "import sys\n"
        "from kurator_compile.entry import main\n"
        "sys.argv = ['kurator-compile', 'check']\n"
        "main()\n"
        "print(sorted(m for m in sys.modules if m == 'click' or m == 'kurator_compile.cli'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=demo, capture_output=True, text=True, check=True
    )
    assert (done.stdout, done.stderr) == ("[]\n", "rendered is up to date (35 files)\n")
    plain = subprocess.run(
        [sys.executable, "-m", "kurator_compile", "check", "--kustomization"],
        cwd=demo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 1
    assert "run `kurator-compile build` and commit the result" in plain.stderr


# -- the plain reader: os, hashlib and json only ----------------------------------------------


@pytest.fixture
def synthetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fleet of plain globs (`../apps/*.yaml`, the folder `../overlays`), as the working
    directory, with a hidden draft among the overlays (a folder stands for all its YAML)."""
    fleet = write_fleet(tmp_path / "repo", clusters=4, apps=3, overlays=True)
    assert (tmp_path / "repo/.git").is_dir()
    monkeypatch.chdir(tmp_path / "repo")
    return fleet


def _both(fleet: Path, lock: str | None = None) -> tuple[str | None, str]:
    """The plain reader's fingerprint (None when it leaves the fleet to sources.py), and
    sources.py's, of the same inputs with the globs the fleet file names."""
    full = read_sources(fleet, lock_file=None if lock is None else Path(lock))
    globs = (full.globs.resources, full.globs.overlays)
    options = Options(strict=True, layout="per-cluster")
    expected = fingerprint(
        read_sources(fleet, None, False, Globs(*globs), None if lock is None else Path(lock)),
        options,
        "code",
    )
    try:
        root, texts = unchanged.read_plain_inputs(str(fleet), globs, lock)
    except (unchanged.NotPlain, OSError):
        return None, expected
    mine = unchanged.inputs_hasher("code", repr(options), root, texts).hexdigest()
    return mine, expected


def test_the_plain_reader_reads_what_sources_reads(synthetic: Path) -> None:
    (synthetic.parent.parent / "overlays/.draft.yaml").write_text(
        (synthetic.parent.parent / "overlays/north.yaml").read_text()
    )
    mine, expected = _both(synthetic)
    assert mine == expected
    (synthetic.parent.parent / "apps/.hidden.yaml").write_text("x: 1\n")  # not matched: hidden
    assert _both(synthetic)[0] == _both(synthetic)[1] == expected
    (synthetic.parent.parent / "apps/app-99.yaml").write_text("x: 1\n")
    assert _both(synthetic)[0] == _both(synthetic)[1] != expected
    for lock in ("elsewhere.lock.json", str(synthetic.parent / "synthetic.lock.json")):
        Path(lock).write_text("{}\n")
        assert _both(synthetic, lock)[0] == _both(synthetic, lock)[1]


@pytest.mark.parametrize(
    "change",
    [
        "symlinked app",
        "symlinked folder",
        "folder of apps",
        "symlinked overlay",
        "binary app",
        "not UTF-8",
        "double star",
        "exclusion",
        "outside the root",
        "matches nothing",
        "relative lock with ..",
    ],
)
def test_the_plain_reader_leaves_the_rest_to_sources(synthetic: Path, change: str) -> None:
    """Each of these is either read otherwise by sources.py, or refused by it (a binary
    file, a glob that reaches outside the root or matches nothing)."""
    repo = synthetic.parent.parent
    lock = None
    assert _plain(synthetic, (("../apps/*.yaml",), ("../overlays",)), None) is not None
    if change == "symlinked app":
        (repo / "apps/app-09.yaml").symlink_to(repo / "apps/app-00.yaml")
    elif change == "symlinked folder":
        (repo / "apps").rename(repo / "real-apps")
        (repo / "apps").symlink_to(repo / "real-apps")
    elif change == "folder of apps":
        (repo / "apps/more.yaml").mkdir()
    elif change == "symlinked overlay":
        (repo / "overlays/west.yaml").symlink_to(repo / "overlays/north.yaml")
    elif change == "binary app":
        (repo / "apps/app-00.yaml").write_bytes(b"x: 1\x00\n")
    elif change == "not UTF-8":
        (repo / "apps/app-00.yaml").write_bytes(b"x: \xff\n")
    elif change == "outside the root":
        (repo.parent / "elsewhere").mkdir()
        (repo.parent / "elsewhere/app.yaml").write_text("x: 1\n")
    elif change == "relative lock with ..":
        lock = "fleets/../fleets/synthetic.lock.json"
    globs = (("../apps/*.yaml",), ("../overlays",))
    resources = {
        "double star": "../apps/**/*.yaml",
        "exclusion": "!x.yaml",
        "outside the root": "../../elsewhere/*.yaml",
        "matches nothing": "../apps/*.yml",
    }.get(change)
    if resources is not None:
        globs = (("../apps/*.yaml", resources), ("../overlays",))
    assert _plain(synthetic, globs, lock) is None


def _plain(
    fleet: Path, globs: tuple[tuple[str, ...], tuple[str, ...]], lock: str | None
) -> str | None:
    """The plain reader's fingerprint of the inputs these globs name, None when it leaves
    them to sources.py."""
    try:
        root, texts = unchanged.read_plain_inputs(str(fleet), globs, lock)
    except (unchanged.NotPlain, OSError):
        return None
    return unchanged.inputs_hasher("code", "", root, texts).hexdigest()


def test_the_options_repr_is_options_own() -> None:
    import dataclasses
    import itertools

    fields = [(f.name, f.default) for f in dataclasses.fields(Options)]
    assert fields == list(unchanged.OPTION_FIELDS)
    names = ["--strict", "--kustomization", "--allow-outside", "--no-validate", "--loose"]
    names.append("--ignore-missing-schemas")
    for chosen in itertools.product([False, True], repeat=len(names)):
        flags = {name for name, on in zip(names, chosen, strict=True) if on}
        for layout in ("per-object", "per-cluster"):
            options = Options(
                strict="--strict" in flags,
                kustomization="--kustomization" in flags,
                allow_outside="--allow-outside" in flags,
                validate_output="--no-validate" not in flags,
                loose="--loose" in flags,
                ignore_missing_schemas="--ignore-missing-schemas" in flags,
                layout=layout,
            )
            assert unchanged.options_repr(flags, layout) == repr(options)


def test_an_unchanged_synthetic_fleet_is_answered_by_the_plain_reader(
    synthetic: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("build", synthetic).exit_code == 0
    found = unchanged.answer(set(), None, None, None, str(synthetic))
    assert found is not None
    assert found[0] == "rendered"
    assert _answered(["check", str(synthetic)], capsys) == run_cli("check", synthetic).stderr
    with pytest.raises(unchanged.NotPlain):  # the CLI would show it as `rendered`
        unchanged.answer(set(), None, "rendered/", None, str(synthetic))
    stray = Path("rendered/clusters/cluster-0001/notes.txt")
    stray.write_text("x\n")
    assert unchanged.answer(set(), None, None, None, str(synthetic)) is None
    stray.unlink()
    assert unchanged.answer({"--strict"}, None, None, None, str(synthetic)) is None
    assert unchanged.answer(set(), "per-cluster", None, None, str(synthetic)) is None
    (synthetic.parent.parent / "overlays/.draft.yaml").write_text("{}\n")
    assert unchanged.answer(set(), None, None, None, str(synthetic)) is None
    (synthetic.parent.parent / "overlays/.draft.yaml").unlink()
    assert unchanged.answer(set(), None, None, None, str(synthetic)) is not None
    (Path("rendered/.kurator/journal.json")).write_text("{}")
    assert unchanged.answer(set(), None, None, None, str(synthetic)) is None


def test_the_demo_is_answered_without_the_plain_reader(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its globs use `**`: the compiler's own reader decides, still before click."""
    with pytest.raises(unchanged.NotPlain):
        unchanged.answer(set(), None, None, None, "fleets/demo.yaml")
    assert _answered(["check"], capsys) == "rendered is up to date (35 files)\n"


def test_the_only_fleet_is_the_one_the_cli_finds(demo: Path) -> None:
    assert entry.only_fleet(None) == "fleets/demo.yaml"
    (demo / "fleets/.draft.yaml").write_text("")  # pathlib's glob sees hidden files
    assert entry.only_fleet(None) is None
    assert run_cli("check").exit_code == 2
