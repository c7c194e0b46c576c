"""The install lines users are given, each run offline against a local clone: the wheel, the
README's git URL pinned to a commit, the CI examples, and the Argo CD plugin image's build
context and hash-pinned requirements."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from kurator_compile import __version__
from kurator_compile.outputcheck.store import BUNDLED_CRDS

from .conftest import REPO, ci_script_lines, copy_demo, run_cli
from .wheel import OFFLINE, committed_clone, docker_context, fresh_venv, install_wheel

# pip reads its options from the environment too: the user's line stays as written, and the
# test adds "nothing from an index, build backend from outside" around it.
PIP_OFFLINE = {
    "PIP_NO_INDEX": "1",
    "PIP_NO_DEPS": "1",
    "PIP_NO_BUILD_ISOLATION": "0",  # pip's negative options read "0" as "set"
    "PIP_FORCE_REINSTALL": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def _shell(script: str, python: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        **PIP_OFFLINE,
        "PATH": f"{python.parent}{os.pathsep}/usr/bin{os.pathsep}/bin",  # git, bash, cut
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_wheel_installs_and_compiles_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # only the wheel may provide the package
    python = install_wheel(tmp_path)
    venv = python.parent.parent
    demo = copy_demo(tmp_path / "demo")
    result = subprocess.run(
        [str(venv / "bin" / "kurator-compile"), "build"],
        cwd=demo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (demo / "rendered/clusters/cluster-beijing/deployment.apps_shop_web.yaml").exists()
    where = subprocess.run(
        [str(python), "-c", "import kurator_compile; print(kurator_compile.__file__)"],
        cwd=demo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in where
    shipped = subprocess.run(
        [
            str(python),
            "-c",
            "from kurator_compile.outputcheck.store import BUNDLED_CRDS as d;"
            "print(len(list(d.glob('*/*.json'))), (d / 'SOURCES.json').is_file())",
        ],
        cwd=demo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shipped == [str(len(list(BUNDLED_CRDS.glob("*/*.json")))), "True"]


def _readme_install_block() -> str:
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return str(block)


def test_readme_install_lines_install_a_pinned_commit(tmp_path: Path) -> None:
    clone, commit = committed_clone(tmp_path)
    python = fresh_venv(tmp_path)
    block = _readme_install_block()
    assert 'python3 -m pip install "kurator-compile @ git+$REPO@$REV"' in block
    script = re.sub(r"^REPO=\S+", f"REPO=file://localhost{clone}", block, count=1, flags=re.M)
    assert script != block
    result = _shell(script, python, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"kurator-compile, version {__version__}"
    direct_url = subprocess.run(
        [str(python), "-m", "pip", "inspect"], capture_output=True, text=True, check=True
    ).stdout
    assert commit in direct_url  # pip recorded the pinned commit it installed


@pytest.mark.parametrize("example", ["github-actions.yaml", "gitlab-ci.yaml"])
def test_ci_example_install_line_installs_the_pinned_commit(tmp_path: Path, example: str) -> None:
    clone, commit = committed_clone(tmp_path)
    python = fresh_venv(tmp_path)
    path = REPO / "examples/ci" / example
    substitutions = {
        "${KURATOR_COMPILE_REPO}": f"file://localhost{clone}",
        "${KURATOR_COMPILE_REV}": commit,
    }
    (install,) = [
        line for line in ci_script_lines(path, substitutions) if line.startswith("pip install")
    ]
    assert "KURATOR_COMPILE_REPO:" in path.read_text()  # set once at the top of the file
    result = _shell(f"{install}\nkurator-compile --version", python, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"kurator-compile, version {__version__}"


def test_plugin_image_context_installs_the_package(tmp_path: Path) -> None:
    """The Dockerfile's last install step, on exactly the files `.dockerignore` lets in."""
    context = docker_context(tmp_path / "context")
    assert not (context / "tests").exists()
    assert not (context / ".git").exists()
    dockerfile = (REPO / "deploy/argocd-cmp/Dockerfile").read_text("utf-8")
    assert "pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps --no-build-isolation /src" in dockerfile
    python = fresh_venv(tmp_path)
    subprocess.run([str(python), "-m", "pip", "install", *OFFLINE, str(context)], check=True)
    version = subprocess.run(
        [str(python.parent / "kurator-compile"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.strip() == f"kurator-compile, version {__version__}"
    assert (context / "deploy/argocd-cmp/plugin.yaml").is_file()


def _pinned_requirements() -> dict[str, tuple[str, list[str]]]:
    text = (REPO / "deploy/argocd-cmp/requirements.txt").read_text("utf-8")
    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=[A-Za-z])", text.split("\n", 4)[4]):
        first = entry.split("\\", 1)[0].strip()
        name, _, version = first.partition("==")
        pins[_normal(name)] = (
            version,
            re.findall(r"--hash=sha256:([0-9a-f]{64})", entry),
        )
    return pins


def _runtime_closure() -> set[str]:
    """kurator-compile's runtime dependencies and theirs, as the image's Python would pick."""
    environment = {"python_version": "3.12", "python_full_version": "3.12.0", "extra": ""}
    seen: set[str] = set()
    todo = [Requirement(r) for r in metadata.requires("kurator-compile") or []]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = _normal(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(requirement.name) or [])
    return seen


def _declared() -> dict[str, Requirement]:
    """pyproject.toml's runtime dependencies (read from the file: an editable install's
    metadata is as old as the install)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    declared = [Requirement(raw) for raw in project["dependencies"]]
    return {_normal(r.name): r for r in declared}


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_plugin_image_requirements_are_pinned_hashed_and_complete() -> None:
    pins = _pinned_requirements()
    assert all(version and hashes for version, hashes in pins.values()), pins
    assert _runtime_closure() | {"setuptools"} <= set(pins)
    for name, requirement in _declared().items():
        assert pins[name][0] in requirement.specifier, (name, pins[name][0])


def test_version_is_the_changelogs_newest_entry() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text("utf-8")
    newest = re.search(r"^## (?!Unreleased)(\S+)", changelog, flags=re.M)  # past Unreleased
    assert newest is not None
    assert newest.group(1) == __version__ == metadata.version("kurator-compile")
    result = run_cli("--version")
    assert result.stdout.splitlines()[-1] == f"kurator-compile, version {__version__}"


def test_lowest_constraints_are_the_lower_bounds() -> None:
    """CI's lowest-versions run installs exactly each dependency's lower bound."""
    lowest = {}
    for line in (REPO / "constraints/lowest.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            lowest[_normal(name)] = Version(version)
    declared = _declared()
    assert set(lowest) == set(declared)
    for name, requirement in declared.items():
        lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert lower == [lowest[name]], name
        assert any(s.operator == "<" for s in requirement.specifier), f"{name} has no upper bound"
