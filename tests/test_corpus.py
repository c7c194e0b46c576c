"""The hardening corpus: every malformed input under tests/corpus/ fails cleanly.

Each case is a directory holding a small repository (`fleet.yaml`, `apps/`, `overlays/`) and an
`expect.yaml` (see tests/corpus/README.md). The case is copied to a temporary directory and
built with `python -m kurator_compile build fleet.yaml -o OUT` in a subprocess, where OUT already
holds the tree of a successful build of a valid fleet. The build must:

- exit 2 within the hang guard, with no traceback;
- print `<where>: error: ...<message>...` on stderr (`where` is `file:line:col`);
- leave OUT byte for byte as it was (only `.kurator/lock` may be touched).

Cases with a `bug:` key document a defect that is not fixed yet: they run as
`xfail(strict=True)`, so the fix turns them into failures until the key is removed. The builds
run in a small thread pool, started for every selected case when the first one needs its
result, so slow cases overlap with the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, REPO, run_cli

CORPUS = Path(__file__).resolve().parent / "corpus"
# A safety net, not an assertion: a build still running after this long is killed so that a
# hang fails one case instead of the run. Hostile work is bounded by counting (node counts,
# steps, visits), and the cases assert the error that the bound gives.
SAFETY_NET = 120.0
IGNORED_IN_OUT = frozenset({".kurator/lock"})
WHERE = re.compile(r"^[^:\s]+:\d+:\d+$")
REQUIRED_CATEGORIES = frozenset(
    {
        "broken-yaml",
        "wrong-types",
        "missing-fields",
        "api-version-kind",
        "selectors",
        "weights",
        "duplicate-keys",
        "indentation",
        "alias-bomb",
        "enormous",
        "binary",
        "empty-fleet",
        "contradictions",
        "overlays",
        "templates",
        "names",
        "duplicates",
        "unknown-clusters",
        "capacity",
        "non-mapping",
        "tags",
        "document-order",
    }
)

# The valid fleet whose build fills OUT before every case (clusters alpha and beta, as the
# corpus assumes).
VALID_FLEET = FLEET_HEADER + "---\n" + POLICY_ALL
VALID_APPS = {
    "web.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
""",
    "settings.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: production
""",
}


@dataclass(frozen=True)
class Case:
    id: str
    path: Path
    category: str
    where: str
    message: str
    args: tuple[str, ...] = ()
    generate: tuple[dict[str, Any], ...] = ()
    bug: str | None = None


def load_case(path: Path) -> Case:
    expect = yaml.safe_load((path / "expect.yaml").read_text("utf-8"))
    return Case(
        id=path.name,
        path=path,
        category=expect["category"],
        where=expect["where"],
        message=expect["message"],
        args=tuple(expect.get("args") or ()),
        generate=tuple(expect.get("generate") or ()),
        bug=expect.get("bug"),
    )


CASES = [load_case(p) for p in sorted(CORPUS.iterdir()) if (p / "expect.yaml").is_file()]


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


# --------------------------------------------------------------------------- materialising


def _generate(repo: Path, spec: dict[str, Any]) -> None:
    """Files that are too big, too binary or too special to keep in git."""
    target = repo / spec["file"]
    target.parent.mkdir(parents=True, exist_ok=True)
    kind = spec["kind"]
    if kind == "text":
        target.write_bytes(spec["content"].encode(spec.get("encoding", "utf-8")))
    elif kind == "repeat":
        start = int(spec.get("start", 0))
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(spec["head"])
            body = spec["body"]
            for i in range(start, start + int(spec["count"])):
                handle.write(body.replace("{i}", str(i)))
            handle.write(spec["tail"])
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        os.symlink(spec["target"], target)
    else:
        raise AssertionError(f"unknown generator kind {kind!r} in {spec}")


def materialise(case: Case, workdir: Path) -> Path:
    """The case's repository under `workdir/repo`, with a `.git` marker and its generated files.

    `workdir/outside/` holds a YAML file outside the repository, for globs that reach out.
    """
    repo = workdir / "repo"
    shutil.copytree(case.path, repo, ignore=shutil.ignore_patterns("expect.yaml"))
    (repo / ".git").mkdir()
    for spec in case.generate:
        _generate(repo, spec)
    outside = workdir / "outside"
    outside.mkdir()
    (outside / "fleet.yaml").write_text(FLEET_HEADER, encoding="utf-8")
    return repo


def snapshot(tree: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and directory (None) below `tree`, symlinks as their target."""
    found: dict[str, bytes | None] = {}
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree).as_posix()
        if rel in IGNORED_IN_OUT:
            continue
        if path.is_symlink():
            found[rel] = b"symlink:" + os.fsencode(os.readlink(path))
        elif path.is_dir():
            found[rel] = None
        else:
            found[rel] = path.read_bytes()
    return found


@dataclass
class Outcome:
    returncode: int | None  # None: killed by the safety net
    stdout: str
    stderr: str
    before: dict[str, bytes | None] | None = None
    after: dict[str, bytes | None] | None = None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ARGOCD_ENV_FLEET", "PARAM_FLEET")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _build(repo: Path, out: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> Outcome:
    command = [sys.executable, "-m", "kurator_compile", "build", "fleet.yaml", "-o", str(out)]
    try:
        done = subprocess.run(
            [*command, *args],
            cwd=repo,
            env=env,
            capture_output=True,
            timeout=SAFETY_NET,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return Outcome(None, _text(expired.stdout), _text(expired.stderr))
    return Outcome(done.returncode, _text(done.stdout), _text(done.stderr))


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def run_case(case: Case, workdir: Path, valid_out: Path, env: dict[str, str]) -> Outcome:
    repo = materialise(case, workdir)
    out = workdir / "out"
    shutil.copytree(valid_out, out, symlinks=True)
    before = snapshot(out)
    outcome = _build(repo, out, env, case.args)
    outcome.before, outcome.after = before, snapshot(out)
    return outcome


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def valid_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT as a successful build of a small valid fleet (clusters alpha and beta) leaves it."""
    root = tmp_path_factory.mktemp("corpus-valid")
    repo = root / "repo"
    (repo / ".git").mkdir(parents=True)
    for name, text in VALID_APPS.items():
        (repo / "apps" / name).parent.mkdir(exist_ok=True)
        (repo / "apps" / name).write_text(text, encoding="utf-8")
    (repo / "fleet.yaml").write_text(VALID_FLEET, encoding="utf-8")
    out = root / "out"
    built = _build(repo, out, _env())
    assert built.returncode == 0, built.stderr
    assert (out / ".kurator" / "state.json").is_file()
    assert len(list((out / "clusters").rglob("*.yaml"))) == 4, sorted(snapshot(out))
    return out


class CorpusRunner:
    """Runs the selected cases in a thread pool (each build is its own process)."""

    def __init__(self, cases: list[Case], workdir: Path, valid_out: Path) -> None:
        workers = max(1, min(4, os.cpu_count() or 1))
        # Read the environment here: pytest rewrites it for every test while the pool runs,
        # and iterating os.environ in another thread then fails.
        env = _env()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="corpus")
        self.futures: dict[str, Future[Outcome]] = {
            case.id: self.pool.submit(run_case, case, workdir / case.id, valid_out, env)
            for case in cases
        }

    def outcome(self, case: Case) -> Outcome:
        return self.futures[case.id].result()


@pytest.fixture(scope="session")
def corpus_runner(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    valid_out: Path,
) -> Iterator[CorpusRunner]:
    wanted = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_malformed_input_fails_cleanly"
        and hasattr(item, "callspec")
    }
    cases = [case for case in CASES if case.id in wanted]
    runner = CorpusRunner(cases, tmp_path_factory.mktemp("corpus"), valid_out)
    yield runner
    runner.pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_malformed_input_fails_cleanly(case: Case, corpus_runner: CorpusRunner) -> None:
    outcome = corpus_runner.outcome(case)
    output = outcome.stdout + outcome.stderr
    assert outcome.returncode is not None, (
        f"killed by the safety net after {SAFETY_NET:.0f} s\n{outcome.stderr[-2000:]}"
    )
    assert "Traceback" not in output, output[-4000:]
    assert outcome.returncode == 2, f"exit {outcome.returncode}\n{output[-4000:]}"
    pattern = re.compile(rf"^{re.escape(case.where)}: error: .*{re.escape(case.message)}")
    assert any(pattern.search(line) for line in outcome.stderr.splitlines()), (
        f"no line starting {case.where}: error: ... {case.message!r} in:\n{outcome.stderr[-4000:]}"
    )
    assert "nothing was written" in outcome.stderr, outcome.stderr[-2000:]
    assert outcome.before is not None
    assert outcome.after is not None
    changed = sorted(
        path
        for path in outcome.before.keys() | outcome.after.keys()
        if outcome.before.get(path, b"<absent>") != outcome.after.get(path, b"<absent>")
    )
    assert not changed, f"the failed build changed the output tree: {changed}"


def test_corpus_is_complete() -> None:
    """At least 60 cases, every required category, and expectations that make sense."""
    assert len(CASES) >= 60, len(CASES)
    categories = {case.category for case in CASES}
    assert categories >= REQUIRED_CATEGORIES, sorted(REQUIRED_CATEGORIES - categories)
    for case in CASES:
        assert WHERE.match(case.where), (case.id, case.where)
        assert case.message, case.id
        assert case.bug is None or case.bug.strip(), case.id
        generated = {spec["file"] for spec in case.generate}
        assert (case.path / "fleet.yaml").is_file() or "fleet.yaml" in generated, case.id
        shown = case.where.rsplit(":", 2)[0]
        assert (case.path / shown).exists() or shown in generated, (case.id, shown)
    huge = [c for c in CASES if any(s["kind"] == "repeat" for s in c.generate)]
    assert any(c.category == "enormous" for c in huge), "the >16 MiB case must be generated"
    stored = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert stored < 1 << 20, f"the corpus stores {stored} bytes; generate big inputs instead"


def test_generated_files_are_what_they_claim(tmp_path: Path) -> None:
    huge = next(c for c in CASES if c.id == "huge-resource-file")
    repo = materialise(huge, tmp_path / "huge")
    assert (repo / "apps" / "huge.yaml").stat().st_size > 16 << 20
    binary = next(c for c in CASES if c.id == "binary-file")
    repo = materialise(binary, tmp_path / "binary")
    assert b"\x00" in (repo / "apps" / "blob.yaml").read_bytes()
    fifo = next(c for c in CASES if c.id == "fifo-resource")
    repo = materialise(fifo, tmp_path / "fifo")
    assert (repo / "apps" / "pipe.yaml").is_fifo()


# --------------------------------------------------------------------------- path safety

LOOKALIKES = [
    pytest.param("w\u0435b", id="cyrillic-ie"),
    pytest.param("\u0430pi", id="cyrillic-a"),
    pytest.param("we\u0299", id="latin-small-capital-b"),
    pytest.param("w\u00e9b", id="e-acute"),
    pytest.param("we\u0301b", id="combining-acute"),
    pytest.param("w\u200beb", id="zero-width-space"),
    pytest.param("web\uff11", id="fullwidth-digit"),
    pytest.param("\u017feb", id="long-s"),
    pytest.param("\u212aube", id="kelvin-sign"),
    pytest.param("web\u2024x", id="one-dot-leader"),
    pytest.param("web\u2215x", id="division-slash"),
    pytest.param("Web", id="uppercase"),
    pytest.param("wEB", id="mixed-case"),
]


@pytest.mark.parametrize("name", LOOKALIKES)
def test_object_name_lookalikes_are_rejected(
    make_fleet: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    """Names that look like (or case-fold to) `web` would collide or mislead as file names."""
    apps = {
        "web.yaml": DEPLOYMENT,
        "twin.yaml": DEPLOYMENT.replace("name: web\n", f"name: {name}\n", 1),
    }
    out = tmp_path / "out"
    result = run_cli("build", make_fleet(apps=apps), "-o", out)
    assert result.exit_code == 2, result.output
    assert f"apps/twin.yaml:4:3: error: object name {name!r} cannot become a file name" in (
        result.stderr
    )
    assert not out.exists()


@pytest.mark.parametrize("name", LOOKALIKES)
def test_namespace_lookalikes_are_rejected(
    make_fleet: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    apps = {"web.yaml": DEPLOYMENT.replace("namespace: shop\n", f"namespace: {name}\n", 1)}
    out = tmp_path / "out"
    result = run_cli("build", make_fleet(apps=apps), "-o", out)
    assert result.exit_code == 2, result.output
    assert f"apps/web.yaml:5:3: error: namespace {name!r} is not a valid DNS-1123 label" in (
        result.stderr
    )
    assert not out.exists()


@pytest.mark.parametrize("name", LOOKALIKES)
def test_cluster_name_lookalikes_are_rejected(
    make_fleet: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    header = FLEET_HEADER.replace("name: beta", f"name: {name}")
    out = tmp_path / "out"
    result = run_cli("build", make_fleet(header=header), "-o", out)
    assert result.exit_code == 2, result.output
    assert any(
        line.startswith("fleet.yaml:9:7: error: ") and "does not match" in line
        for line in result.stderr.splitlines()
    ), result.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- found on the way


def test_overflow_affinities_are_usable(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    placement = (
        "  placement:\n    clusterAffinities:\n      - affinityName: primary\n"
        "        clusterNames: [alpha]\n        overflowAffinities:\n"
        "          - {affinityName: spill, clusterNames: [beta]}\n"
        "    replicaScheduling:\n      replicaSchedulingType: Divided\n"
        "      replicaDivisionPreference: Aggregated\n"
    )
    fleet = make_fleet("---\n" + POLICY_ALL + placement)
    result = run_cli("validate", fleet)
    assert result.exit_code == 0, result.stderr
