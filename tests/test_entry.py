"""The console script answers an unchanged `build` or `check` before the CLI is imported, with
the CLI's own messages; every other command line, and every change the CLI's no-change check
would see, is left to the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kurator_compile import entry, sources

from .conftest import copy_demo, run_cli

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
    monkeypatch.setattr(sources, "code_digest", lambda: "another compiler")
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
