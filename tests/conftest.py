"""Shared fixtures: no network, in-repo paths, and a small fleet builder."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from kurator_compile.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiler never touches the network; any attempt in a test fails loudly."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _render_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test renders with a cache of its own, never the user's (~/.cache)."""
    monkeypatch.setenv("KURATOR_COMPILE_CACHE_DIR", str(tmp_path / "render-cache"))


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Replace `owner.name` with a wrapper that counts its calls (in the list's one item):
    how tests tell a run that compiled from one that did not, without timing it."""
    count = [0]
    real = getattr(owner, name)

    def counting(*args: object) -> object:
        count[0] += 1
        return real(*args)

    monkeypatch.setattr(owner, name, counting)
    return count


def run_cli(*args: str | Path, cwd: Path | None = None) -> Result:
    runner = CliRunner()
    argv = [str(a) for a in args]
    if cwd is None:
        return runner.invoke(main, argv, catch_exceptions=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return runner.invoke(main, argv, catch_exceptions=False)


FLEET_HEADER = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  clusters:
    - name: alpha
      labels: {region: north}
    - name: beta
      labels: {region: south}
  resources:
    - apps/*.yaml
"""

POLICY_ALL = """\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: everything
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
    - apiVersion: v1
      kind: ConfigMap
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchLabels: {app: web}}}
"""


DEMO_FOLDERS = ("fleets", "apps", "overlays")


def copy_demo(target: Path, git: bool = False) -> Path:
    """The bundled example repository under `target`: a `.git` marker, or a real repository
    on branch main (committer configured) with `git=True`."""
    for folder in DEMO_FOLDERS:
        shutil.copytree(REPO / folder, target / folder)
    if git:
        git_run(target, "init", "-q", "-b", "main")
        git_run(target, "config", "user.email", "ci@example.com")
        git_run(target, "config", "user.name", "ci")
    else:
        (target / ".git").mkdir()
    return target


def ci_script_lines(path: Path, substitutions: dict[str, str]) -> list[str]:
    """Every line of every string in a CI file (its scripts), with variables filled in."""
    text = path.read_text()
    for name, value in substitutions.items():
        text = text.replace(name, value)
    lines: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            lines.extend(line.strip() for line in node.splitlines())

    walk(yaml.safe_load(text))
    return lines


def git_run(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


LOCAL_ONLY = frozenset({".kurator/lock", ".kurator/cache.json"})


def tree_of(path: Path) -> dict[str, bytes]:
    """Every regular file below `path` that belongs in git, by POSIX relative path."""
    files = {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
    return {k: v for k, v in files.items() if k not in LOCAL_ONLY}


@pytest.fixture
def make_fleet(tmp_path: Path) -> Callable[..., Path]:
    """Write a small repo (`.git` marker, fleet, apps) and return the fleet path."""

    def make(
        fleet_extra: str = "---\n" + POLICY_ALL,
        apps: dict[str, str] | None = None,
        header: str = FLEET_HEADER,
    ) -> Path:
        (tmp_path / ".git").mkdir(exist_ok=True)
        (tmp_path / "apps").mkdir(exist_ok=True)
        for name, text in (apps if apps is not None else {"web.yaml": DEPLOYMENT}).items():
            (tmp_path / "apps" / name).write_text(text, encoding="utf-8")
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(header + fleet_extra, encoding="utf-8")
        return fleet

    return make


@pytest.fixture
def out_dir(tmp_path: Path) -> Iterator[Path]:
    return tmp_path / "rendered"
