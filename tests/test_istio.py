"""Istio traffic across clusters: VirtualServices follow Services, cluster subsets, weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kurator_compile.stack.istio import alias_cluster, largest_remainder, service_of_host

from .conftest import run_cli

HEADER = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: mesh
spec:
  clusters:
    - name: cluster-beijing
    - name: cluster-shanghai
    - name: guangzhou
  resources:
    - apps/*.yaml
"""

# 10 replicas divided 5:3:2 between the three clusters.
APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: user-service}
spec:
  replicas: 10
  selector: {matchLabels: {app: user-service}}
  template:
    metadata: {labels: {app: user-service}}
    spec:
      containers: [{name: app, image: "user-service:1"}]
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchLabels: {app: user-service}}}
---
apiVersion: v1
kind: Service
metadata: {name: user-service}
spec:
  selector: {app: user-service}
  ports: [{port: 80}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: user-service}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {clusterNames: [CLUSTERS]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - {targetCluster: {clusterNames: [cluster-beijing]}, weight: 5}
          - {targetCluster: {clusterNames: [cluster-shanghai]}, weight: 3}
          - {targetCluster: {clusterNames: [guangzhou]}, weight: 2}
"""
ALL = "cluster-beijing, cluster-shanghai, guangzhou"

VS = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: user-service
spec:
  hosts:
    - user-service
  http:
    - route:
        - destination:
            host: user-service
            subset: beijing
          weight: 50
        - destination:
            host: user-service
            subset: shanghai
          weight: 30
        - destination:
            host: user-service.default.svc.cluster.local
            subset: guangzhou
          weight: 20
"""


def _build(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    vs: str = VS,
    clusters: str = ALL,
    extra: str = "",
    *flags: str,
) -> tuple[int, str, dict[str, dict[tuple[str, str], dict[str, Any]]]]:
    apps = {"app.yaml": APP.replace("CLUSTERS", clusters), "vs.yaml": vs}
    if extra:
        apps["extra.yaml"] = extra
    fleet = make_fleet("", apps=apps, header=HEADER)
    out = tmp_path / "out"
    result = run_cli("build", *flags, fleet, "-o", out)
    trees: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for path in sorted(out.glob("clusters/*/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        trees.setdefault(path.parent.name, {})[(doc["kind"], doc["metadata"]["name"])] = doc
    return result.exit_code, result.stderr, trees


def test_listing_05_follows_the_service_and_gets_a_destination_rule(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    code, stderr, trees = _build(make_fleet, tmp_path)
    assert code == 0, stderr
    assert sorted(trees) == ["cluster-beijing", "cluster-shanghai", "guangzhou"]
    rule = trees["guangzhou"][("DestinationRule", "user-service")]
    assert rule == {
        "apiVersion": "networking.istio.io/v1alpha3",  # the VirtualService's version
        "kind": "DestinationRule",
        "metadata": {"name": "user-service", "namespace": "default"},
        "spec": {
            "host": "user-service.default.svc.cluster.local",
            "subsets": [
                {"name": "beijing", "labels": {"topology.istio.io/cluster": "cluster-beijing"}},
                {"name": "guangzhou", "labels": {"topology.istio.io/cluster": "guangzhou"}},
                {"name": "shanghai", "labels": {"topology.istio.io/cluster": "cluster-shanghai"}},
            ],
        },
    }
    assert all(("VirtualService", "user-service") in tree for tree in trees.values())
    assert "vs.yaml:1:1: warning: VirtualService.networking.istio.io/default/user-service " in (
        stderr
    )
    assert "routes to subsets (beijing, guangzhou, shanghai) of user-service that no " in stderr
    assert "the upstream form: a networking.istio.io DestinationRule" in stderr
    explained = run_cli(
        "plan",
        tmp_path / "fleet.yaml",
        "--explain",
        "VirtualService.networking.istio.io/default/user-service",
    ).stdout
    assert "follows Service/default/user-service: it routes to that Service" in explained


def test_a_policy_places_the_virtual_service_and_its_rule_goes_along(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    policy = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\n"
        "metadata: {name: vs}\nspec:\n"
        "  resourceSelectors: [{apiVersion: networking.istio.io/v1alpha3, kind: VirtualService}]\n"
        "  placement: {clusterAffinity: {clusterNames: [cluster-beijing]}}\n"
    )
    code, stderr, trees = _build(make_fleet, tmp_path, VS + policy)
    assert code == 0, stderr
    assert ("VirtualService", "user-service") in trees["cluster-beijing"]
    assert ("DestinationRule", "user-service") in trees["cluster-beijing"]
    for cluster in ("cluster-shanghai", "guangzhou"):
        assert ("VirtualService", "user-service") not in trees[cluster]
        assert ("DestinationRule", "user-service") not in trees[cluster]


@pytest.mark.parametrize(
    ("subset", "clusters", "expected"),
    [
        ("beijing", ["cluster-beijing", "beijing"], "beijing"),  # the exact name wins
        ("beijing", ["cluster-beijing"], "cluster-beijing"),
        ("cluster-beijing", ["cluster-beijing"], "cluster-beijing"),
        ("wuhan", ["cluster-beijing"], None),
    ],
)
def test_alias_rule(subset: str, clusters: list[str], expected: str | None) -> None:
    assert alias_cluster(subset, clusters) == expected


def test_service_of_host() -> None:
    assert service_of_host("user-service", "shop") == ("shop", "user-service")
    assert service_of_host("user-service.web.svc.cluster.local", "shop") == ("web", "user-service")
    assert service_of_host("api.example.com", "shop") is None
    assert service_of_host("*.example.com", "shop") is None


def test_unmappable_subset_is_an_error_at_its_line(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    code, stderr, _ = _build(make_fleet, tmp_path, VS.replace("subset: shanghai", "subset: wuhan"))
    assert code == 2
    assert (
        "apps/vs.yaml:16:13: error: VirtualService.networking.istio.io/default/user-service: "
        "subset 'wuhan' stands for no cluster: there is no cluster 'wuhan' or 'cluster-wuhan'"
    ) in stderr


@pytest.mark.parametrize(("weight", "ok"), [("10", False), ("20", True)])
def test_weights_add_up_to_100(
    make_fleet: Callable[..., Path], tmp_path: Path, weight: str, ok: bool
) -> None:
    code, stderr, _ = _build(make_fleet, tmp_path, VS.replace("weight: 20", f"weight: {weight}"))
    if ok:
        assert code == 0, stderr
    else:
        assert code == 2
        assert (
            "apps/vs.yaml:9:7: error: VirtualService.networking.istio.io/default/user-service: "
            "the weights of http[0] add up to 90 (50 + 30 + 10), not 100"
        ) in stderr


def test_a_negative_weight_is_refused_even_when_the_sum_is_100(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Istio refuses a route weight below 0; 130 + -50 + 20 adds up to 100 all the same."""
    negative = VS.replace("weight: 50", "weight: 130").replace("weight: 30", "weight: -50")
    code, stderr, _ = _build(make_fleet, tmp_path, negative)
    assert code == 2
    assert (
        "apps/vs.yaml:17:11: error: VirtualService.networking.istio.io/default/user-service: "
        "a route weight must be between 0 and 100, not -50"
    ) in stderr


def test_a_lone_destination_needs_no_weight(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    lone = VS.split(
        "        - destination:\n            host: user-service\n            subset: shanghai"
    )[0]
    code, stderr, _ = _build(make_fleet, tmp_path, lone.replace("weight: 50", "weight: 7"))
    assert code == 0, stderr


def test_weighted_cluster_must_run_the_workload(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    # user-service runs on beijing and shanghai only; 20% would go to guangzhou.
    code, stderr, _ = _build(make_fleet, tmp_path, clusters="cluster-beijing, cluster-shanghai")
    assert code == 2
    assert (
        "apps/vs.yaml:18:11: error: VirtualService.networking.istio.io/default/user-service "
        "sends 20% of http[0] to subset 'guangzhou' (guangzhou), but no workload selected by "
        "Service default/user-service runs on guangzhou: that traffic would fail"
    ) in stderr
    # Weight 0 sends nothing there: no error.
    zero = VS.replace("weight: 50", "weight: 70").replace("weight: 20", "weight: 0")
    code, stderr, _ = _build(
        make_fleet, tmp_path / "zero", zero, clusters="cluster-beijing, cluster-shanghai"
    )
    assert code == 0, stderr


FROM_PLACEMENT = (
    VS.replace(
        "  name: user-service\n",
        "  name: user-service\n  annotations: {compile.kurator.dev/weights: fromPlacement}\n",
    )
    .replace("          weight: 50\n", "")
    .replace("          weight: 30\n", "")
    .replace("          weight: 20\n", "")
)


def test_weights_from_placement(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    code, stderr, trees = _build(make_fleet, tmp_path, FROM_PLACEMENT)
    assert code == 0, stderr
    route = trees["cluster-beijing"][("VirtualService", "user-service")]["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [
        ("beijing", 50),
        ("shanghai", 30),
        ("guangzhou", 20),
    ]
    explained = run_cli(
        "plan",
        tmp_path / "fleet.yaml",
        "--explain",
        "VirtualService.networking.istio.io/default/user-service",
    ).stdout
    assert (
        "weights: http[0] from the replicas each subset's cluster received: beijing " in explained
    )
    assert "(cluster-beijing) 5 -> 50, shanghai (cluster-shanghai) 3 -> 30, guangzhou 2 -> 20" in (
        explained
    )


def test_weights_from_placement_round_to_exactly_100(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Three equal clusters: 33.3 each; the spare point goes to the smallest cluster name."""
    app = APP.replace("replicas: 10", "replicas: 3").replace("weight: 5", "weight: 1")
    fleet = make_fleet(
        "",
        apps={
            "app.yaml": app.replace("weight: 3", "weight: 1")
            .replace("weight: 2", "weight: 1")
            .replace("CLUSTERS", ALL),
            "vs.yaml": FROM_PLACEMENT,
        },
        header=HEADER,
    )
    out = tmp_path / "out"
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    vs = yaml.safe_load(
        (
            out / "clusters/guangzhou/virtualservice.networking.istio.io_default_user-service.yaml"
        ).read_text()
    )
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [34, 33, 33]


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([("a", 1), ("b", 1), ("c", 1)], [34, 33, 33]),
        ([("c", 1), ("b", 1), ("a", 1)], [33, 33, 34]),  # ties by cluster name, not position
        ([("beijing", 3), ("shanghai", 2), ("hangzhou", 2)], [43, 28, 29]),
        ([("a", 2), ("b", 1)], [67, 33]),
        ([("a", 1), ("b", 0)], [100, 0]),
        ([("a", 1)] * 7, [15, 15, 14, 14, 14, 14, 14]),
    ],
)
def test_largest_remainder(counts: list[tuple[str, int]], weights: list[int]) -> None:
    assert largest_remainder(counts) == weights
    assert sum(weights) == 100


@pytest.mark.parametrize(
    ("vs", "clusters", "message"),
    [
        (
            FROM_PLACEMENT.replace("fromPlacement", "equal"),
            ALL,
            "annotation compile.kurator.dev/weights is 'equal'; the only value is 'fromPlacement'",
        ),
        (
            FROM_PLACEMENT.replace(
                "host: user-service\n            subset: shanghai", "host: user-service"
            ),
            ALL,
            "fromPlacement needs every destination of http[0] to be a Service of the fleet with a "
            "subset that stands for a cluster; user-service subset None is not",
        ),
    ],
)
def test_weights_from_placement_errors(
    make_fleet: Callable[..., Path], tmp_path: Path, vs: str, clusters: str, message: str
) -> None:
    code, stderr, _ = _build(make_fleet, tmp_path, vs, clusters)
    assert code == 2
    assert message in stderr


RULE = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: user-service-by-cluster}
spec:
  host: user-service
  subsets:
    - {name: beijing, labels: {topology.istio.io/cluster: cluster-beijing}}
    - {name: shanghai, labels: {topology.istio.io/cluster: CLUSTER}}
    - {name: guangzhou, labels: {topology.istio.io/cluster: guangzhou}}
"""


def test_a_written_destination_rule_is_checked_not_generated(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    code, stderr, trees = _build(
        make_fleet, tmp_path, extra=RULE.replace("CLUSTER", "cluster-shanghai")
    )
    assert code == 0, stderr
    tree = trees["cluster-shanghai"]
    assert ("DestinationRule", "user-service-by-cluster") in tree  # follows its Service
    assert ("DestinationRule", "user-service") not in tree
    assert "no DestinationRule defines" not in stderr


@pytest.mark.parametrize(
    ("rule", "where", "message"),
    [
        (
            RULE.replace("CLUSTER", "cluster-wuhan"),
            "extra.yaml:8:33",
            "subset 'shanghai' selects topology.istio.io/cluster=cluster-wuhan, which is not a "
            "cluster of the fleet",
        ),
        (
            RULE.replace(
                "    - {name: shanghai, labels: {topology.istio.io/cluster: CLUSTER}}\n", ""
            ),
            "vs.yaml:16:13",
            "routes to subset 'shanghai' of user-service, which "
            "DestinationRule.networking.istio.io/default/user-service-by-cluster does not define "
            "(its subsets: beijing, guangzhou)",
        ),
    ],
)
def test_written_destination_rule_errors(
    make_fleet: Callable[..., Path], tmp_path: Path, rule: str, where: str, message: str
) -> None:
    code, stderr, _ = _build(make_fleet, tmp_path, extra=rule)
    assert code == 2
    assert f"apps/{where}: error: " in stderr
    assert message in stderr


def test_subsets_of_a_written_rule_that_are_not_clusters_are_left_alone(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    versions = (
        RULE.replace("topology.istio.io/cluster: cluster-beijing", "version: v1")
        .replace("topology.istio.io/cluster: CLUSTER", "version: v2")
        .replace("topology.istio.io/cluster: guangzhou", "version: v3")
    )
    # Every subset is a version, so guangzhou not running user-service is no error here.
    code, stderr, _ = _build(
        make_fleet, tmp_path, extra=versions, clusters="cluster-beijing, cluster-shanghai"
    )
    assert code == 0, stderr


def test_a_subset_of_a_host_that_is_no_service_is_not_checked(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    typo = VS.replace(
        "host: user-service\n            subset: shanghai",
        "host: user-servce\n            subset: shanghai",
    )
    code, stderr, _ = _build(make_fleet, tmp_path, typo)
    assert code == 0, stderr
    assert (
        "apps/vs.yaml:16:13: warning: VirtualService.networking.istio.io/default/user-service "
        "routes to subset 'shanghai' of user-servce, which is no Service of the fleet and has no "
        "DestinationRule here; the subset is not checked"
    ) in stderr


# Istio's bookinfo sample (tests/upstream/istio-bookinfo/, each file naming its commit): the
# subsets v1, v2, v3 are versions of the pods, defined by destination-rule-all.yaml.
BOOKINFO = Path(__file__).parent / "upstream" / "istio-bookinfo"
BOOKINFO_FLEET = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: bookinfo
spec:
  clusters:
    - name: cluster-a
    - name: cluster-b
  resources:
    - apps/*.yaml
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: bookinfo
spec:
  resourceSelectors:
    - {apiVersion: apps/v1, kind: Deployment}
  placement:
    clusterAffinity: {clusterNames: [cluster-a, cluster-b]}
"""


def _bookinfo(
    tmp_path: Path, *files: str, extra: str = "", drop: str = "", strict: bool = True
) -> tuple[int, str]:
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps").mkdir()
    for name in files:
        text = (BOOKINFO / name).read_text()
        if drop:
            text = "---".join(part for part in text.split("---") if drop not in part)
        (tmp_path / "apps" / name).write_text(text)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(BOOKINFO_FLEET + extra)
    out, lock = tmp_path / "out", tmp_path / "lock.json"
    flags = ["--strict"] if strict else []
    result = run_cli("build", *flags, fleet, "-o", out, "--lock", lock)
    return result.exit_code, result.stderr


def test_bookinfo_version_subsets_are_pods_not_clusters(tmp_path: Path) -> None:
    code, stderr = _bookinfo(
        tmp_path, "bookinfo.yaml", "destination-rule-all.yaml", "virtual-service-reviews-50-v3.yaml"
    )
    assert code == 0, stderr
    for cluster in ("cluster-a", "cluster-b"):
        folder = tmp_path / "out" / "clusters" / cluster
        written = yaml.safe_load(
            (folder / "destinationrule.networking.istio.io_default_reviews.yaml").read_text()
        )
        assert [s["labels"] for s in written["spec"]["subsets"]] == [
            {"version": "v1"},
            {"version": "v2"},
            {"version": "v3"},
        ]
        routed = yaml.safe_load(
            (folder / "virtualservice.networking.istio.io_default_reviews.yaml").read_text()
        )
        assert [r["weight"] for r in routed["spec"]["http"][0]["route"]] == [50, 50]


def test_bookinfo_header_match_routes_build(tmp_path: Path) -> None:
    code, stderr = _bookinfo(
        tmp_path,
        "bookinfo.yaml",
        "destination-rule-all.yaml",
        "virtual-service-reviews-jason-v2-v3.yaml",
    )
    assert code == 0, stderr


def test_a_version_no_workload_runs_is_a_warning(tmp_path: Path) -> None:
    code, stderr = _bookinfo(
        tmp_path,
        "bookinfo.yaml",
        "destination-rule-all.yaml",
        "virtual-service-reviews-50-v3.yaml",
        drop="name: reviews-v3",
        strict=False,
    )
    assert code == 0
    assert stderr.splitlines()[0] == (
        "apps/virtual-service-reviews-50-v3.yaml:15:7: warning: VirtualService.networking.istio.io"
        "/default/reviews sends 50% of http[0] to subset 'v3', the pods with version=v3 that "
        "DestinationRule.networking.istio.io/default/reviews defines, but no workload of the "
        "fleet behind Service default/reviews runs such pods; Istio answers those requests with "
        "503 (no healthy upstream) (at /spec/http/0/route/1/destination)"
    )


def test_a_version_subset_needs_its_rule_where_the_route_is(tmp_path: Path) -> None:
    only_a = """\
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: reviews-rule}
spec:
  resourceSelectors: [{apiVersion: networking.istio.io/v1, kind: DestinationRule}]
  placement: {clusterAffinity: {clusterNames: [cluster-a]}}
"""
    code, stderr = _bookinfo(
        tmp_path,
        "bookinfo.yaml",
        "destination-rule-all.yaml",
        "virtual-service-reviews-50-v3.yaml",
        extra=only_a,
    )
    assert code == 2
    assert stderr.splitlines()[0] == (
        "apps/virtual-service-reviews-50-v3.yaml:11:7: error: VirtualService.networking.istio.io"
        "/default/reviews routes to subset 'v1' on cluster-b, where "
        "DestinationRule.networking.istio.io/default/reviews, which defines it, is not placed; "
        "Istio there answers those requests with 503 (at /spec/http/0/route/0/destination)"
    )


def test_bookinfo_subsets_without_their_rule_ask_for_it(tmp_path: Path) -> None:
    code, stderr = _bookinfo(tmp_path, "bookinfo.yaml", "virtual-service-all-v1.yaml")
    assert code == 2
    assert (
        "apps/virtual-service-all-v1.yaml:26:9: error: VirtualService.networking.istio.io/default"
        "/reviews: subset 'v1' stands for no cluster: there is no cluster 'v1' or 'cluster-v1' "
        "(clusters: cluster-a, cluster-b); name a cluster, or write a DestinationRule for reviews "
        "whose subset selects topology.istio.io/cluster (or, when 'v1' is a set of pods such as "
        "a version, the DestinationRule that defines it by their labels, which Istio needs "
        "anyway) (at /spec/http/0/route/0/destination/subset)\n"
    ) in stderr


def test_a_cluster_subset_counts_only_its_versions_pods(tmp_path: Path) -> None:
    """A subset with the cluster label and a version is that version's pods on that cluster:
    reviews-v1 running on cluster-a does not serve subset v3-a."""
    by_cluster = """\
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-by-cluster}
spec:
  host: reviews
  subsets:
    - {name: v1, labels: {version: v1, topology.istio.io/cluster: cluster-a}}
    - {name: v3, labels: {version: v3, topology.istio.io/cluster: cluster-a}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: reviews-v3}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: reviews-v3}]
  placement: {clusterAffinity: {clusterNames: [cluster-b]}}
"""
    code, stderr = _bookinfo(
        tmp_path, "bookinfo.yaml", "virtual-service-reviews-50-v3.yaml", extra=by_cluster
    )
    assert code == 2
    assert stderr.startswith(
        "apps/virtual-service-reviews-50-v3.yaml:15:7: error: VirtualService.networking.istio.io"
        "/default/reviews sends 50% of http[0] to subset 'v3' (cluster-a), but no workload "
        "selected by Service default/reviews with version=v3 runs on cluster-a: that traffic "
        "would fail (no healthy upstream) (at /spec/http/0/route/1/destination)\n"
    )
