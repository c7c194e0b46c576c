"""Identical copies are one object in memory: what a build holds grows with distinct objects,
not with clusters x objects (the no-timing half of the memory benchmark)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from kurator_compile.compile import compile_fleet
from kurator_compile.options import Options
from kurator_compile.outputcheck import OutputValidator
from kurator_compile.outputcheck.check import Located
from kurator_compile.sources import read_sources

from .conftest import run_cli
from .synthetic import write_fleet


def _distinct_contents(tmp_path: Path, clusters: int) -> tuple[int, int, int]:
    fleet = write_fleet(tmp_path / f"fleet-{clusters}", clusters=clusters, apps=5, overlays=True)
    options = Options(strict=False, allow_outside=False, root=None)
    tree = compile_fleet(read_sources(fleet), options).tree
    cluster_files = [data for path, data in tree.items() if path.startswith("clusters/")]
    return len(cluster_files), len({id(data) for data in cluster_files}), len(set(cluster_files))


@pytest.mark.parametrize("clusters", [3, 30, 90])
def test_each_distinct_file_content_is_one_bytes_object(tmp_path: Path, clusters: int) -> None:
    files, objects, contents = _distinct_contents(tmp_path, clusters)
    assert files == clusters * 15  # 5 apps x Deployment, Service, ConfigMap
    # Per region one variant of each Deployment (replicas and image tag differ); Services
    # and ConfigMaps are alike everywhere: 3 x 5 + 5 + 5 contents, held once each.
    assert objects == contents == 25


def test_a_groups_objects_are_validated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clusters of one region receive the same objects: the validator is asked about them
    once for the region, not once per cluster."""
    asked: list[object] = []
    real_findings = OutputValidator.findings

    def counting_findings(self: OutputValidator, obj: Any, *args: Any) -> list[Located]:
        asked.append(obj)
        return real_findings(self, obj, *args)

    monkeypatch.setattr(OutputValidator, "findings", counting_findings)
    fleet = write_fleet(tmp_path, clusters=30, apps=5, overlays=True)
    compile_fleet(read_sources(fleet, lock_file=tmp_path / "lock.json"), Options())
    assert len(asked) == 3 * 15  # per region its 5 apps x Deployment, Service, ConfigMap


@pytest.mark.parametrize("enabled", [True, False])
def test_build_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    """`build` freezes what the compile made and pauses the collector while it writes; a
    process that goes on (these tests, a caller embedding the CLI) gets both back."""
    fleet = write_fleet(tmp_path, clusters=3, apps=2, overlays=True)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        result = run_cli("build", fleet, "-o", tmp_path / "out", "--lock", tmp_path / "lock")
        assert result.exit_code == 0, result.output
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable() if was else gc.disable()
