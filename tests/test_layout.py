"""`build --layout per-cluster`: one multi-document file per cluster folder, holding the
per-object layout's files in apply order, with the same pruning, checks and guards."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kurator_compile.render import split_stream

from .conftest import copy_demo, run_cli, tree_of

CLUSTERS = ["cluster-beijing", "cluster-hangzhou", "cluster-shanghai", "cluster-tianjin"]
WEB = "apps/web/web.yaml"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "repo")


def _build(demo: Path, *extra: str) -> tuple[int, str]:
    result = run_cli("build", "fleets/demo.yaml", *extra, cwd=demo)
    return result.exit_code, result.stderr


def _cluster_files(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree_of(out).items() if k.startswith("clusters/")}


def _state(out: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((out / ".kurator/state.json").read_text())
    return state


def test_cluster_file_joins_the_object_files_in_apply_order(demo: Path) -> None:
    assert _build(demo, "-o", "per-object")[0] == 0
    assert _build(demo, "-o", "per-cluster", "--layout", "per-cluster")[0] == 0
    objects = _cluster_files(demo / "per-object")
    joined = _cluster_files(demo / "per-cluster")
    assert sorted(joined) == [f"clusters/{c}/all.yaml" for c in CLUSTERS]
    for cluster in CLUSTERS:
        data = joined[f"clusters/{cluster}/all.yaml"]
        parts = split_stream(data, cluster)
        assert b"---\n".join(part for _, part in parts) == data
        assert {f"clusters/{cluster}/{name}": part for name, part in parts} == {
            path: part for path, part in objects.items() if path.startswith(f"clusters/{cluster}/")
        }
        kinds = [yaml.safe_load(part)["kind"] for _, part in parts]
        assert kinds[0] == "Namespace"  # apply order, not the order of the file names
        rendered = run_cli(
            "render", "fleets/demo.yaml", "--cluster", cluster, "--no-cache", cwd=demo
        )
        assert rendered.exit_code == 0, rendered.stderr
        assert rendered.stdout.encode() == data
    # the Argo CD and Flux objects are the same in both layouts: they name the folder
    for top in ("argocd/", "flux/"):
        assert {k: v for k, v in tree_of(demo / "per-cluster").items() if k.startswith(top)} == {
            k: v for k, v in tree_of(demo / "per-object").items() if k.startswith(top)
        }


def test_switching_layouts_removes_only_the_files_it_wrote(demo: Path) -> None:
    out = demo / "rendered"
    assert _build(demo)[0] == 0
    assert "layout" not in _state(out)
    foreign = out / "clusters/cluster-beijing/extra.yaml"
    foreign.write_text("kind: ConfigMap\n")
    edited = out / "clusters/cluster-beijing/service_shop_web.yaml"
    edited.write_text(edited.read_text() + "# edited\n")
    code, stderr = _build(demo, "--layout", "per-cluster")
    assert code == 0, stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("clusters/*/*")) == sorted(
        [
            *(f"clusters/{c}/all.yaml" for c in CLUSTERS),
            "clusters/cluster-beijing/extra.yaml",
            "clusters/cluster-beijing/service_shop_web.yaml",
        ]
    )
    assert f"warning: {edited.relative_to(demo)} is no longer part of the tree" in stderr
    assert _state(out)["layout"] == "per-cluster"
    assert set(_state(out)["files"]) >= {f"clusters/{c}/all.yaml" for c in CLUSTERS}
    # without --layout, a build keeps the layout the state records
    code, stderr = _build(demo)
    assert code == 0, stderr
    assert "0 written, 0 removed" in stderr
    edited.unlink()
    code, stderr = _build(demo, "--layout", "per-object")
    assert code == 0, stderr
    assert not list(out.glob("clusters/*/all.yaml"))
    assert foreign.read_text() == "kind: ConfigMap\n"
    assert "layout" not in _state(out)
    foreign.unlink()
    (demo / "again").mkdir()
    assert _build(demo, "-o", "again")[0] == 0
    assert tree_of(out) == tree_of(demo / "again")


def test_a_state_listing_a_cluster_file_it_never_wrote_keeps_it(demo: Path) -> None:
    out = demo / "rendered"
    assert _build(demo, "--layout", "per-cluster")[0] == 0
    mine = out / "clusters/cluster-beijing/all.yaml"
    mine.write_text("kind: ConfigMap\n")  # not the bytes the state records
    code, stderr = _build(demo, "--layout", "per-object")
    assert code == 0, stderr
    assert mine.read_text() == "kind: ConfigMap\n"
    assert f"warning: {mine.relative_to(demo)} is no longer part of the tree" in stderr


@pytest.mark.parametrize("show_diff", [False, True])
def test_check_detects_a_hand_edit_in_a_cluster_file(demo: Path, show_diff: bool) -> None:
    out = demo / "rendered"
    assert _build(demo, "--layout", "per-cluster")[0] == 0
    extra = ["--diff"] if show_diff else []
    assert run_cli("check", "fleets/demo.yaml", *extra, cwd=demo).exit_code == 0
    (out / ".kurator/cache.json").unlink()  # as in a fresh clone: compiles and compares
    assert run_cli("check", "fleets/demo.yaml", *extra, cwd=demo).exit_code == 0
    target = out / "clusters/cluster-hangzhou/all.yaml"
    target.write_text(target.read_text().replace("replicas: ", "replicas: 9", 1))
    result = run_cli("check", "fleets/demo.yaml", *extra, cwd=demo)
    assert result.exit_code == 1
    assert (
        result.stdout.splitlines()[0]
        == f"changed: {Path('rendered')}/clusters/cluster-hangzhou/all.yaml"
    )
    assert ("+++ b/clusters/cluster-hangzhou/all.yaml" in result.stdout) == show_diff
    # the other layout is drift too: build would rewrite every folder
    other = run_cli("check", "fleets/demo.yaml", "--layout", "per-object", cwd=demo)
    assert other.exit_code == 1
    assert "removed: rendered/clusters/cluster-beijing/all.yaml" in other.stdout


def test_an_object_placed_nowhere_any_more_needs_allow_removal(demo: Path) -> None:
    assert _build(demo, "--layout", "per-cluster")[0] == 0
    before = tree_of(demo / "rendered")
    text = (demo / WEB).read_text()
    (demo / WEB).write_text(text.replace("  name: web\n", "  name: webapp\n", 1))
    code, stderr = _build(demo)
    assert code == 2
    assert stderr.splitlines()[-2] == (
        "error: 2 objects that the last build wrote would now be placed on no cluster, and "
        "Argo CD or Flux would delete them: deployment.apps_shop_web.yaml (from "
        "cluster-beijing, cluster-hangzhou, cluster-shanghai); service_shop_web.yaml (from "
        "cluster-beijing, cluster-hangzhou, cluster-shanghai). Check their kind, apiVersion "
        "and policy; pass --allow-removal if they really left the fleet."
    )
    assert tree_of(demo / "rendered") == before
    # switching layouts at the same time hides nothing, in either direction
    assert _build(demo, "--layout", "per-object")[0] == 2
    assert tree_of(demo / "rendered") == before
    code, stderr = _build(demo, "--allow-removal")
    assert code == 0, stderr
    assert b"name: web\n" not in (demo / "rendered/clusters/cluster-beijing/all.yaml").read_bytes()
    (demo / WEB).write_text(text)
    assert _build(demo, "--layout", "per-object")[0] == 0
    (demo / WEB).write_text(text.replace("  name: web\n", "  name: webapp\n", 1))
    assert _build(demo, "--layout", "per-cluster")[0] == 2


def test_diff_reads_a_cluster_file_as_its_objects(demo: Path) -> None:
    assert _build(demo, "--layout", "per-cluster")[0] == 0
    result = run_cli("diff", "fleets/demo.yaml", "--against", "rendered", cwd=demo)
    assert (result.exit_code, result.stdout) == (0, "no differences\n")
    text = (demo / WEB).read_text()
    (demo / WEB).write_text(text.replace("  name: web\n", "  name: webapp\n", 1))
    result = run_cli("diff", "fleets/demo.yaml", "--against", "rendered", cwd=demo)
    assert result.exit_code == 1
    assert "Deployment.apps shop/web" in result.stdout


def test_shards_write_the_same_cluster_files(demo: Path) -> None:
    assert _build(demo, "--layout", "per-cluster", "-o", "whole")[0] == 0
    for shard in ("1/2", "2/2"):
        code, stderr = _build(demo, "--layout", "per-cluster", "--shard", shard)
        assert code == 0, stderr
    assert _cluster_files(demo / "rendered") == _cluster_files(demo / "whole")
    state = json.loads((demo / "rendered/.kurator/state.shard-1-of-2.json").read_text())
    assert state["layout"] == "per-cluster"
    text = (demo / WEB).read_text()
    (demo / WEB).write_text(text.replace("  name: web\n", "  name: webapp\n", 1))
    assert _build(demo, "--shard", "1/2")[0] == 2  # the guard holds per shard too


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("kustomization", [False, True])
def test_flux_reads_the_cluster_folder(demo: Path, kustomization: bool) -> None:
    """Flux's Kustomization and Argo CD's directory source name the folder, as in the
    per-object layout; kustomize-controller generates a kustomization over `all.yaml`."""
    extra = ["--kustomization"] if kustomization else []
    assert _build(demo, "--layout", "per-cluster", *extra)[0] == 0
    out = demo / "rendered"
    flux = yaml.safe_load(
        (
            out
            / "flux/cluster-beijing/kustomization.kustomize.toolkit.fluxcd.io_flux-system_demo.yaml"
        ).read_text()
    )
    assert flux["spec"]["path"] == "./rendered/clusters/cluster-beijing"
    (appset,) = [yaml.safe_load(p.read_text()) for p in (out / "argocd").glob("*.yaml")]
    assert appset["spec"]["template"]["spec"]["source"]["path"] == "rendered/clusters/{{.cluster}}"
    folder = out / "clusters/cluster-beijing"
    if not kustomization:
        (folder / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["all.yaml"],
                }
            )
        )
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    expected = list(yaml.safe_load_all((folder / "all.yaml").read_text()))
    canonical = sorted(json.dumps(o, sort_keys=True) for o in expected)
    assert (
        sorted(json.dumps(o, sort_keys=True) for o in yaml.safe_load_all(built) if o) == canonical
    )
