"""The installed package (not the checkout) compiles the demo: schemas ship in the wheel."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kurator_compile.outputcheck.store import BUNDLED_CRDS

from .conftest import copy_demo
from .wheel import install_wheel


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
