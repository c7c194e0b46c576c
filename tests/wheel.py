"""This checkout as users get it: built into a wheel, installed from a git URL or from the plugin
image's build context, each into a fresh virtualenv with no network."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKOUT_ONLY = ("__pycache__", ".git", ".venv", "build", "*.egg-info", "rendered", "dist")


def copy_checkout(target: Path) -> Path:
    """The working tree as a commit would hold it (caches and local builds left out)."""
    shutil.copytree(REPO, target, symlinks=True, ignore=shutil.ignore_patterns(*CHECKOUT_ONLY))
    return target


def committed_clone(work: Path) -> tuple[Path, str]:
    """This checkout as a repository users install from, and its commit. Tests name it
    `file://localhost/...`: pip before 23.3 refuses `git+file:///...` (no host)."""
    clone = copy_checkout(work / "kurator-compile")
    for args in (
        ("init", "-q", "-b", "main"),
        ("config", "user.email", "ci@example.com"),
        ("config", "user.name", "ci"),
        ("add", "-A"),
        ("commit", "-q", "-m", "release"),
    ):
        subprocess.run(["git", *args], cwd=clone, check=True, capture_output=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    return clone, commit


def fresh_venv(work: Path) -> Path:
    """A venv's python. Dependencies come from this interpreter's site-packages through a path
    entry (no network, and none of that site's `.pth` start-up hooks), so that only what the
    test installs provides kurator_compile itself."""
    venv = work / "venv"
    # Without a pip of its own, `python -m pip` there is this interpreter's (newer) pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(venv_site) / "outer-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shim = venv / "bin" / "pip"  # what a plain `pip install` line finds first on PATH
    shim.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
    shim.chmod(0o755)
    return python


# What every offline install here adds to the user's own pip command: nothing from an index,
# the build backend from the outer site-packages, and a real install although the outer
# site-packages (on the path for the dependencies) already holds a kurator-compile.
OFFLINE = ("--no-deps", "--no-index", "--no-build-isolation", "--force-reinstall", "-q")


def install_wheel(work: Path, *extra: str) -> Path:
    """The venv's python, with kurator_compile only from a wheel of this checkout, whose
    bytecode pip compiles as it would for a user; `extra`: more `pip install` options."""
    source = copy_checkout(work / "src")
    wheels = work / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip_wheel, "-w", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("kurator_compile-*.whl")
    python = fresh_venv(work)
    subprocess.run([str(python), "-m", "pip", "install", *OFFLINE, *extra, str(wheel)], check=True)
    return python


def docker_context(target: Path) -> Path:
    """What `docker build .` sends: the checkout less what `.dockerignore` excludes (its
    patterns here are names at the root, `**/name` anywhere and `*.suffix` at the root)."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(REPO).as_posix()
        out: set[str] = set()
        for name in names:
            path = name if relative == "." else f"{relative}/{name}"
            for pattern in patterns:
                anywhere = pattern.removeprefix("**/")
                if fnmatch.fnmatch(path, pattern) or (
                    pattern.startswith("**/") and fnmatch.fnmatch(name, anywhere)
                ):
                    out.add(name)
        return out

    shutil.copytree(REPO, target, symlinks=True, ignore=ignored)
    return target
