"""Overlays per cluster cost work linear in clusters: each selector is compiled once, a
cluster's overlays are found by name and label instead of by testing every overlay, and an
object no selected overlay names is shared between clusters (bounded by counting)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kurator_compile.overlay.stage as stage_module
import kurator_compile.stack.checks as checks_module
from kurator_compile.compile import compile_fleet
from kurator_compile.errors import Diagnostic
from kurator_compile.model import Cluster
from kurator_compile.options import Options
from kurator_compile.overlay.stage import SelectorIndex
from kurator_compile.placement.selectors import ClusterAffinity, compile_affinity
from kurator_compile.sources import read_sources

from .synthetic import REGIONS, cluster_name, write_fleet

REGION_OVERLAYS = 3  # synthetic.region_overlay, one per region
TAG_RULES = 3  # synthetic.tag_override: one rule per region


class Counts:
    def __init__(self) -> None:
        self.compiled = 0
        self.tested = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counts:
    found = Counts()
    real_compile = stage_module.compile_affinity
    real_matches = ClusterAffinity.matches

    def counting_compile(affinity: Any) -> ClusterAffinity:
        found.compiled += 1
        return real_compile(affinity)

    def counting_matches(self: ClusterAffinity, cluster: Cluster) -> bool:
        found.tested += 1
        return real_matches(self, cluster)

    monkeypatch.setattr(stage_module, "compile_affinity", counting_compile)
    monkeypatch.setattr(ClusterAffinity, "matches", counting_matches)
    return found


def _build(tmp_path: Path, clusters: int) -> dict[str, bytes]:
    fleet = write_fleet(
        tmp_path / f"fleet-{clusters}",
        clusters=clusters,
        apps=3,
        overlays=True,
        per_cluster_overlays=True,
    )
    options = Options(strict=True)
    sources = read_sources(fleet, lock_file=tmp_path / f"lock-{clusters}.json")
    return compile_fleet(sources, options).tree


@pytest.mark.parametrize("clusters", [30, 120])
def test_selectors_are_compiled_once_and_tested_per_candidate(
    tmp_path: Path, counts: Counts, clusters: int
) -> None:
    _build(tmp_path, clusters)
    # one compilation per overlay (3 regions + one per cluster) and per override rule target
    assert counts.compiled == REGION_OVERLAYS + clusters + TAG_RULES
    # per cluster: its region overlay and its own overlay (found by label and by name), and
    # each override rule's target once; never every overlay against every cluster
    assert counts.tested <= clusters * (2 + TAG_RULES)


def test_objects_no_selected_overlay_names_are_shared(tmp_path: Path) -> None:
    tree = _build(tmp_path, 30)
    own = "clusters/{}/deployment.apps_apps_app-00.yaml"
    other = "clusters/{}/deployment.apps_apps_app-01.yaml"
    for index in range(30):
        name = cluster_name(index)
        assert f"owner: {name}".encode() in tree[own.format(name)]
        assert b"owner:" not in tree[other.format(name)]
    # app-01 is alike in the clusters of one region (every third cluster): one bytes object
    same_region = [tree[other.format(cluster_name(i))] for i in range(0, 30, 3)]
    assert len({id(data) for data in same_region}) == 1


def test_selector_index_answers_as_testing_every_affinity() -> None:
    rnd = random.Random(7)
    names = [f"c{i}" for i in range(40)]
    values = ["a", "b", "c"]

    def affinity() -> dict[str, Any]:
        shape = rnd.randrange(6)
        if shape == 0:
            return {"clusterNames": rnd.sample(names, rnd.randint(1, 3))}
        if shape == 1:
            return {"labelSelector": {"matchLabels": {"tier": rnd.choice(values)}}}
        if shape == 2:
            return {
                "labelSelector": {
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": rnd.sample(values, 2)}
                    ]
                },
                "exclude": rnd.sample(names, 3),
            }
        if shape == 3:
            return {
                "labelSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]
                }
            }
        if shape == 4:
            return {
                "clusterNames": rnd.sample(names, 2),
                "labelSelector": {"matchLabels": {"zone": rnd.choice(values)}},
            }
        return {"fieldSelector": {"matchExpressions": [{"key": "region", "operator": "Exists"}]}}

    affinities = [compile_affinity(affinity()) for _ in range(60)]
    index = SelectorIndex(affinities)
    for name in names:
        labels = {k: rnd.choice(values) for k in ("tier", "zone") if rnd.random() < 0.8}
        cluster = Cluster(name, labels=labels, region=rnd.choice(["", "eu"]))
        expected = [i for i, a in enumerate(affinities) if a.matches(cluster)]
        assert index.selecting(cluster) == expected


RENAME = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: a-rename
spec:
  patches:
    - target: {kind: ConfigMap, name: app-00-config}
      patch: |
        - {op: replace, path: /metadata/name, value: renamed}
"""

BY_NEW_NAME = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: b-only-{cluster}
spec:
  clusterSelector:
    clusterNames: [{cluster}]
  patches:
    - target: {{kind: ConfigMap, name: renamed}}
      patch: |
        - {{op: add, path: /data/ONLY, value: "{cluster}"}}
"""


def test_an_overlay_selects_an_object_by_the_name_an_earlier_one_gave_it(tmp_path: Path) -> None:
    """Sharing never hides a patch that reaches an object only after an earlier overlay
    renamed it (kustomize lets a JSON patch rename; later patches see the new name)."""
    fleet = write_fleet(tmp_path / "repo", clusters=4, apps=1, overlays=True)
    own = tmp_path / "repo" / "overlays"
    (own / "y-rename.yaml").write_text(RENAME)  # sorts before zz-*
    # cluster 3 is in cluster 0's region: only the overlay of its own tells them apart
    (own / "zz-own.yaml").write_text(BY_NEW_NAME.format(cluster=cluster_name(3)))
    sources = read_sources(fleet, lock_file=tmp_path / "lock.json")
    tree = compile_fleet(sources, Options()).tree
    for index in range(4):
        name = cluster_name(index)
        data = tree[f"clusters/{name}/configmap_apps_renamed.yaml"]
        assert (f'ONLY: "{name}"'.encode() in data or f"ONLY: {name}".encode() in data) == (
            index == 3
        ), data


MOVED_PODS = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: own-{cluster}
spec:
  clusterSelector:
    clusterNames: [{cluster}]
  patches:
    - target: {{group: apps, kind: Deployment, name: app-00}}
      patch: |
        - {{op: replace, path: /spec/selector/matchLabels/app, value: moved}}
        - {{op: replace, path: /spec/template/metadata/labels/app, value: moved}}
"""


def test_clusters_whose_objects_read_alike_are_checked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cluster's own overlay annotates app-00 (the checks do not read annotations), one
    relabels its pods: the per-cluster checks run once per region and once for that cluster,
    whose Service alone is warned about."""
    fleet = write_fleet(tmp_path, clusters=30, apps=3, overlays=True, per_cluster_overlays=True)
    moved = cluster_name(4)
    (tmp_path / "own" / f"{moved}.yaml").write_text(MOVED_PODS.format(cluster=moved))
    runs: list[str] = []
    real_routing = checks_module._routing

    def counting_routing(cluster: str, *args: Any) -> Iterator[Diagnostic]:
        runs.append(cluster)
        return real_routing(cluster, *args)

    monkeypatch.setattr(checks_module, "_routing", counting_routing)
    sources = read_sources(fleet, lock_file=tmp_path / "lock.json")
    warnings = compile_fleet(sources, Options()).warnings
    assert len(runs) == len(REGIONS) + 1
    assert [w.render() for w in warnings] == [
        f"apps/app-00.yaml:31:1: warning: Service/apps/app-00 is placed on {moved}, but no "
        "workload there has pods its selector matches; its traffic goes nowhere"
    ]


def test_override_rules_are_chosen_once_per_object_and_targeting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which override rules apply depends on the input object and on which rules target the
    cluster, not on what the cluster's own overlay did: chosen once per object and region,
    however many clusters have an overlay of their own."""
    calls: list[object] = []
    real_steps = stage_module.override_steps

    def counting_steps(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real_steps(*args, **kwargs)

    monkeypatch.setattr(stage_module, "override_steps", counting_steps)
    _build(tmp_path, 30)
    assert len(calls) == 3 * 3 * len(REGIONS)  # 3 apps x Deployment, Service, ConfigMap
