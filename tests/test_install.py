"""The installed package (not the checkout) compiles the demo: schemas ship in the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import REPO, copy_demo


def test_wheel_installs_and_compiles_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # only the wheel may provide the package
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "rendered", "dist"),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("kurator_compile-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Dependencies come from this environment's site-packages (no network in tests);
    # kurator_compile itself only from the wheel.
    site = Path(sysconfig.get_paths()["purelib"])
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (venv_site / "outer-deps.pth").write_text(str(site) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
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
