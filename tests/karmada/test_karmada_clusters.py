"""A Karmada policy naming a cluster the fleet does not have is valid Karmada: the name matches
no cluster. One policy set is commonly shared by fleets with different clusters, so it is a
warning (an error under --strict); Kurator's own kinds keep it an error."""

from __future__ import annotations

from pathlib import Path

import yaml
from karmada_kit import build, repository, stderr_lines

NGINX = {
    "deployment.yaml": "samples/nginx-deployment.yaml",
    "propagationpolicy.yaml": "samples/nginx-propagationpolicy.yaml",
}
HINT = (
    "which the fleet does not have (did you mean 'member1'?); Karmada matches no cluster by "
    "that name"
)
AFFINITY = "(at /spec/placement/clusterAffinity/clusterNames/1)"
WEIGHT = (
    "(at /spec/placement/replicaScheduling/weightPreference/staticWeightList/1/targetCluster/"
    "clusterNames/0)"
)


def naming(lines: list[str]) -> list[str]:
    return [line for line in lines if "names cluster" in line]


def test_policy_naming_an_absent_cluster_warns_and_places_on_the_others(tmp_path: Path) -> None:
    fleet = repository(tmp_path, ("member1",), NGINX)
    result = build(fleet)
    assert result.exit_code == 0, result.output
    assert naming(stderr_lines(result, "warning")) == [
        "apps/propagationpolicy.yaml:15:11: warning: PropagationPolicy 'nginx-propagation' "
        f"names cluster 'member2', {HINT} {AFFINITY}",
        "apps/propagationpolicy.yaml:27:19: warning: PropagationPolicy 'nginx-propagation' "
        f"names cluster 'member2', {HINT} {WEIGHT}",
    ]
    written = tmp_path / "rendered/clusters/member1/deployment.apps_default_nginx.yaml"
    # the static weight of member2 matches no candidate: member1 takes both replicas
    assert yaml.safe_load(written.read_text())["spec"]["replicas"] == 2


def test_policy_naming_an_absent_cluster_fails_under_strict(tmp_path: Path) -> None:
    fleet = repository(tmp_path, ("member1",), NGINX)
    result = build(fleet, "--strict")
    assert result.exit_code == 2
    assert naming(stderr_lines(result, "error")) == [
        "apps/propagationpolicy.yaml:15:11: error: PropagationPolicy 'nginx-propagation' "
        f"names cluster 'member2', {HINT} {AFFINITY}",
        "apps/propagationpolicy.yaml:27:19: error: PropagationPolicy 'nginx-propagation' "
        f"names cluster 'member2', {HINT} {WEIGHT}",
    ]
    assert "nothing was written" in result.stderr


def test_policy_naming_only_absent_clusters_schedules_nowhere(tmp_path: Path) -> None:
    """Karmada's ClusterAffinity filter fits no cluster: the binding stays unscheduled."""
    fleet = repository(tmp_path, ("member3",), NGINX)
    result = build(fleet)
    assert result.exit_code == 2
    assert stderr_lines(result, "error") == [
        "apps/deployment.yaml:2:1: error: Deployment.apps/default/nginx cannot be scheduled: "
        "0/1 clusters are available: 1 cluster(s) did not match the placement cluster affinity "
        "constraint. (policy PropagationPolicy/default/nginx-propagation at "
        "apps/propagationpolicy.yaml:2:1)"
    ]


def test_override_policy_naming_an_absent_cluster_warns(tmp_path: Path) -> None:
    files = {**NGINX, "overridepolicy.yaml": "samples/nginx-overridepolicy.yaml"}
    fleet = repository(tmp_path, ("member1",), files)
    result = build(fleet)
    assert result.exit_code == 0, result.output
    assert naming(stderr_lines(result, "warning"))[0] == (
        "apps/overridepolicy.yaml:14:13: warning: OverridePolicy 'nginx-op' names cluster "
        f"'member2', {HINT} (at /spec/overrideRules/0/targetCluster/clusterNames/0)"
    )
    written = tmp_path / "rendered/clusters/member1/deployment.apps_default_nginx.yaml"
    assert yaml.safe_load(written.read_text())["metadata"]["annotations"] == {"env": "skoala-stage"}


OVERLAY = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: only-member2
spec:
  clusterSelector:
    clusterNames: [member2]
  patches:
    - target: {kind: Deployment}
      patch: {metadata: {labels: {tier: web}}}
"""


def test_overlay_naming_an_absent_cluster_stays_an_error(tmp_path: Path) -> None:
    """Overlays are this compiler's own kind, written for this fleet: a typo is an error."""
    fleet = repository(tmp_path, ("member1",), NGINX)
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "overlay.yaml").write_text(OVERLAY)
    fleet.write_text(fleet.read_text() + "  overlays:\n    - overlays\n")
    result = build(fleet)
    assert result.exit_code == 2
    assert stderr_lines(result, "error") == [
        "overlays/overlay.yaml:7:20: error: Overlay 'only-member2' names cluster 'member2', "
        "which the fleet does not have (clusters: member1) "
        "(at /spec/clusterSelector/clusterNames/0)"
    ]
