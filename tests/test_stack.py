"""The Kurator stack: FederatedDeployment, dependents, BackupPolicy, observability, checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kurator_compile.cron import CronError, parse_standard
from kurator_compile.stack.backup import ttl_hours

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli

FD = """\
apiVersion: apps.kurator.dev/v1alpha1
kind: FederatedDeployment
metadata:
  name: frontend
  namespace: shop
spec:
  template:
    spec:
      replicas: 3
      selector:
        matchLabels: {app: frontend}
      template:
        metadata:
          labels: {app: frontend}
        spec:
          containers:
            - {name: nginx, image: "nginx:1.27"}
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname,
               whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: frontend}}}
  placement:
    clusters:
      - {name: alpha, replicas: 2}
      - {name: beta, replicas: 1}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  selector: {app: frontend}
  ports: [{port: 80}]
"""

INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: frontend, namespace: shop}
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: frontend, port: {number: 80}}}
"""


def stream(fleet: Path, cluster: str, *flags: str) -> dict[tuple[str, str], dict[str, Any]]:
    result = run_cli(*flags, "render", fleet, "--cluster", cluster, "--allow-empty")
    assert result.exit_code == 0, result.output
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}


def test_federated_deployment_with_dependents(make_fleet: Callable[..., Path]) -> None:
    fleet = make_fleet("", apps={"fd.yaml": FD + "---\n" + SERVICE + "---\n" + INGRESS})
    alpha, beta = stream(fleet, "alpha"), stream(fleet, "beta")
    assert alpha[("Deployment", "frontend")]["spec"]["replicas"] == 2
    assert beta[("Deployment", "frontend")]["spec"]["replicas"] == 1
    assert alpha[("Deployment", "frontend")]["metadata"] == {
        "name": "frontend",
        "namespace": "shop",
    }
    assert ("Service", "frontend") in alpha
    assert ("Ingress", "frontend") in beta
    explained = run_cli("plan", fleet, "--explain", "Service/shop/frontend").stdout
    assert "follows Deployment.apps/shop/frontend: its selector matches the pods" in explained
    warned = run_cli("build", fleet, "-o", fleet.parent / "out")
    assert "FederatedDeployment is not an upstream Kurator or Karmada kind" in warned.stderr


def test_dependents_can_be_switched_off(make_fleet: Callable[..., Path]) -> None:
    header = FLEET_HEADER + "  followWorkloads: false\n"
    fleet = make_fleet("", apps={"fd.yaml": FD + "---\n" + SERVICE}, header=header)
    assert ("Service", "frontend") not in stream(fleet, "alpha")


def test_pod_template_references_follow(make_fleet: Callable[..., Path]) -> None:
    deployment = DEPLOYMENT.replace(
        "        - name: nginx\n          image: nginx:1.27\n",
        "        - name: nginx\n          image: nginx:1.27\n"
        "          envFrom: [{configMapRef: {name: settings}}]\n"
        "          env: [{name: T, valueFrom: {secretKeyRef: {name: token, key: t}}}]\n",
    )
    extras = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: shop}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: shop}\n"
    )
    policy = POLICY_ALL.replace("    - apiVersion: v1\n      kind: ConfigMap\n", "")
    policy += "  placement:\n    clusterAffinity: {clusterNames: [alpha]}\n"
    fleet = make_fleet("---\n" + policy, apps={"web.yaml": deployment, "extra.yaml": extras})
    alpha = stream(fleet, "alpha")
    assert ("ConfigMap", "settings") in alpha
    assert ("Secret", "token") in alpha
    assert ("ConfigMap", "unrelated") not in alpha
    assert stream(fleet, "beta") == {}


@pytest.mark.parametrize(
    ("fd", "where", "message"),
    [
        (
            FD.replace("name: beta, replicas", "name: gamma, replicas"),
            "24:10",
            "names cluster 'gamma', which the fleet does not have",
        ),
        (FD.replace("replicas: 1}", "replicas: -1}"), "24:22", "replicas must be 0 or more"),
        (FD.replace("name: beta,", "name: alpha,"), "24:10", "cluster 'alpha' is listed twice"),
    ],
)
def test_federated_deployment_errors(
    make_fleet: Callable[..., Path], tmp_path: Path, fd: str, where: str, message: str
) -> None:
    fleet = make_fleet("", apps={"fd.yaml": fd})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert f"apps/fd.yaml:{where}: error: " in result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


BACKUP = """\
apiVersion: backup.kurator.dev/v1alpha1
kind: BackupPolicy
metadata: {name: nightly}
spec:
  schedule: "0 2 * * *"
  retentionPolicy: {keepLast: 7}
  backupContent: {namespaces: [shop]}
  storageLocation: {provider: aws, bucket: backups}
"""


@pytest.mark.parametrize(
    ("retention", "where", "message"),
    [
        (
            "{keepLast: 1000000000000}",
            "fleet.yaml:30:21",
            "keepLast 1000000000000 x the schedule's longest gap is 24000000000000h, past the "
            "largest ttl Velero reads (2562047h, Go's largest Duration)",
        ),
        (
            "{ttl: 9999999999h}",
            "fleet.yaml:30:21",
            "retentionPolicy.ttl: invalid duration '9999999999h': out of range",
        ),
    ],
)
def test_a_ttl_velero_cannot_read_is_an_error(
    make_fleet: Callable[..., Path], tmp_path: Path, retention: str, where: str, message: str
) -> None:
    backup = BACKUP.replace("{keepLast: 7}", retention)
    fleet = make_fleet("---\n" + POLICY_ALL + "---\n" + backup)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"{where}: error: {message}" in result.stderr


def test_twenty_digit_replicas_are_refused_for_any_workload(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Replicas are int32 in every workload kind the API server serves. A number past int64
    is a float once kubectl has read it (through JSON), so it is no integer at all."""
    stateful = DEPLOYMENT.replace("kind: Deployment", "kind: StatefulSet").replace(
        "replicas: 2", "replicas: 12345678901234567890"
    )
    policy = POLICY_ALL + "    - {apiVersion: apps/v1, kind: StatefulSet}\n"
    fleet = make_fleet("---\n" + policy, apps={"web.yaml": stateful})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "spec.replicas must be an integer >= 0, not 1.2345678901234567e+19" in result.stderr


def test_backup_policy_to_velero(make_fleet: Callable[..., Path]) -> None:
    policy = POLICY_ALL + "  placement:\n    clusterAffinity: {clusterNames: [beta]}\n"
    fleet = make_fleet("---\n" + policy + "---\n" + BACKUP)
    beta = stream(fleet, "beta")
    schedule = beta[("Schedule", "nightly")]
    assert schedule["spec"] == {
        "schedule": "0 2 * * *",
        "template": {
            "includedNamespaces": ["shop"],
            "storageLocation": "nightly",
            "ttl": "168h0m0s",
        },
    }
    location = beta[("BackupStorageLocation", "nightly")]
    assert location["spec"]["objectStorage"] == {"bucket": "backups", "prefix": "test/beta"}
    assert ("Schedule", "nightly") not in stream(fleet, "alpha")  # alpha hosts nothing in shop


def test_backup_cluster_selector_and_prefixes(make_fleet: Callable[..., Path]) -> None:
    backup = BACKUP.replace("  schedule:", "  clusterSelector: {}\n  schedule:")
    fleet = make_fleet("---\n" + POLICY_ALL + "---\n" + backup)
    prefixes = {
        c: stream(fleet, c)[("BackupStorageLocation", "nightly")]["spec"]["objectStorage"]["prefix"]
        for c in ("alpha", "beta")
    }
    assert prefixes == {"alpha": "test/alpha", "beta": "test/beta"}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 25 * * *", "end of range (25) above maximum (23): 25"),
        ("0 2 * *", "expected exactly 5 fields, found 4: [0 2 * *]"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("0 2 * * 7", "end of range (7) above maximum (6): 7"),
        ("0 0 31 2 *", "the schedule never runs"),
    ],
)
def test_bad_cron_is_positioned(
    make_fleet: Callable[..., Path], tmp_path: Path, schedule: str, message: str
) -> None:
    fleet = make_fleet("---\n" + POLICY_ALL + "---\n" + BACKUP.replace("0 2 * * *", schedule))
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "fleet.yaml:29:3: error: invalid cron schedule: " in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    ("schedule", "gap"),
    [
        ("0 2 * * *", 1440),
        ("*/15 * * * *", 15),
        ("0 3 * * 1", 7 * 1440),
        ("@hourly", 60),
        ("0 0 1 * *", 31 * 1440),
        ("0 0 29 2 *", 4 * 365 * 1440 + 1440),
        # `*/1` keeps robfig's star bit, so both day fields must match: Sundays only
        ("0 0 */1 * 0", 7 * 1440),
        ("0 0 */2 * 0", 2 * 1440),  # stepped by 2: either may match (odd days or Sundays)
        ("@every 90m", 90),
        ("@every 30s", 1),
        ("CRON_TZ=Asia/Shanghai 0 2 * * *", 1440),
    ],
)
def test_cron_longest_gap(schedule: str, gap: int) -> None:
    assert parse_standard(schedule).longest_gap_minutes() == gap


def test_ttl_from_retention() -> None:
    assert ttl_hours(7, 1440) == 168
    assert ttl_hours(3, 90) == 5
    with pytest.raises(CronError):
        parse_standard("61 * * * *")


PROMETHEUS = """\
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: k8s, namespace: monitoring}
spec:
  replicas: 2
  thanos: {image: "quay.io/thanos/thanos:v0.24.0"}
"""


def test_prometheus_labels_and_thanos_hub(make_fleet: Callable[..., Path]) -> None:
    header = (
        FLEET_HEADER.replace(
            "      labels: {region: south}\n",
            "      labels: {region: south}\n      thanosStore: beta-sidecar.example.com:10901\n",
        )
        + "  observability: {hub: alpha}\n"
    )
    policy = POLICY_ALL + "    - apiVersion: monitoring.coreos.com/v1\n      kind: Prometheus\n"
    fleet = make_fleet("---\n" + policy, apps={"prom.yaml": PROMETHEUS}, header=header)
    alpha, beta = stream(fleet, "alpha"), stream(fleet, "beta")
    assert beta[("Prometheus", "k8s")]["spec"]["externalLabels"] == {"cluster": "beta"}
    assert alpha[("Prometheus", "k8s")]["spec"]["replicaExternalLabelName"] == "prometheus_replica"
    query = alpha[("Deployment", "thanos-query")]["spec"]["template"]["spec"]["containers"][0]
    assert "--endpoint=beta-sidecar.example.com:10901" in query["args"]
    assert ("Service", "thanos-query") in alpha
    assert ("Deployment", "thanos-query") not in beta
    built = run_cli("build", fleet, "-o", fleet.parent / "out")
    assert "cluster alpha runs Prometheus but sets no thanosStore address" in built.stderr


PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: MIN
  selector: {matchLabels: {app: web}}
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: LOW
  maxReplicas: HIGH
"""


ROUTING = (
    "    - apiVersion: v1\n      kind: Service\n"
    "    - apiVersion: networking.k8s.io/v1\n      kind: Ingress\n"
)


def _check(make_fleet: Callable[..., Path], tmp_path: Path, apps: dict[str, str]) -> str:
    """Warnings of a build (a strict build fails exactly when there are some), and the advice
    `plan` shows, which no build prints."""
    fleet = make_fleet("---\n" + POLICY_ALL + ROUTING, apps=apps)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "advice:" not in result.stderr
    strict = run_cli("build", "--strict", fleet, "-o", tmp_path / "strict")
    assert strict.exit_code == (2 if "warning:" in result.stderr else 0)
    plan = run_cli("plan", fleet)
    assert plan.exit_code == 0, plan.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    advice = [line for line in plan.stderr.splitlines() if ": advice: " in line]
    return "".join(line + "\n" for line in [*warnings, *advice])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            PDB.replace("MIN", "2"),
            "warning: PodDisruptionBudget.policy/shop/web on alpha: "
            "minAvailable 2 is at or above the 2 replica(s)",
        ),
        (PDB.replace("MIN", "1"), None),
        (
            PDB.replace("minAvailable: MIN", "maxUnavailable: 0"),
            "warning: PodDisruptionBudget.policy/shop/web on alpha: maxUnavailable is 0",
        ),
        (
            PDB.replace("MIN", '"100%"'),
            "warning: PodDisruptionBudget.policy/shop/web on alpha: minAvailable 2 is at or above",
        ),
        (
            HPA.replace("LOW", "3").replace("HIGH", "5"),
            "advice: HorizontalPodAutoscaler."
            "autoscaling/shop/web on alpha: minReplicas 3 exceeds the 2 replica(s)",
        ),
        (
            HPA.replace("LOW", "1").replace("HIGH", "1"),
            "warning: HorizontalPodAutoscaler."
            "autoscaling/shop/web on alpha: maxReplicas 1 is below the 2 replica(s)",
        ),
        (HPA.replace("LOW", "1").replace("HIGH", "4"), None),
        (
            SERVICE.replace("frontend", "lonely"),
            "advice: Service/shop/lonely: no workload among "
            "the inputs has pods its selector matches; fine when an operator creates them from a "
            "custom resource, else its traffic goes nowhere (at /spec/selector)",
        ),
        (SERVICE.replace("{app: frontend}", "{app: web}").replace("frontend", "web"), None),
        (
            INGRESS.replace("name: frontend, port", "name: missing, port"),
            "warning: Ingress.networking.k8s.io/shop/frontend is placed on alpha, but none of "
            "the Services it routes to (missing) is there",
        ),
    ],
)
def test_consistency_checks(
    make_fleet: Callable[..., Path], tmp_path: Path, extra: str, expected: str | None
) -> None:
    found = _check(make_fleet, tmp_path, {"web.yaml": DEPLOYMENT, "extra.yaml": extra})
    if expected is None:
        assert found == ""
    else:
        assert expected in found
        assert "apps/extra.yaml:" in found


def test_replicas_without_spreading_are_advice(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    crowded = DEPLOYMENT.split("      topologySpreadConstraints:")[0]
    found = _check(make_fleet, tmp_path, {"web.yaml": crowded})
    assert found == (
        "apps/web.yaml:13:5: advice: Deployment.apps/shop/web runs more than one replica per "
        "cluster (alpha=2, beta=2) with neither pod anti-affinity nor topology spread "
        "constraints; one node can take them all down (at /spec/template/spec)\n"
    )
    assert _check(make_fleet, tmp_path / "ok", {"web.yaml": DEPLOYMENT}) == ""


def test_plan_json_lists_the_warnings_and_advice_with_their_positions(
    make_fleet: Callable[..., Path],
) -> None:
    crowded = DEPLOYMENT.split("      topologySpreadConstraints:")[0]
    unplaced = "apiVersion: v1\nkind: Secret\nmetadata: {name: extra, namespace: shop}\n"
    apps = {"web.yaml": crowded, "extra.yaml": unplaced}
    fleet = make_fleet("---\n" + POLICY_ALL + ROUTING, apps=apps)
    plan = run_cli("plan", "--format", "json", fleet)
    assert plan.exit_code == 0, plan.output
    found = json.loads(plan.stdout)
    assert found["advice"] == [
        {
            "file": "apps/web.yaml",
            "line": 13,
            "column": 5,
            "pointer": "/spec/template/spec",
            "message": "Deployment.apps/shop/web runs more than one replica per cluster "
            "(alpha=2, beta=2) with neither pod anti-affinity nor topology spread constraints; "
            "one node can take them all down",
        }
    ]
    assert found["warnings"] == [
        {
            "file": "apps/extra.yaml",
            "line": 1,
            "column": 1,
            "pointer": "",
            "message": "Secret/shop/extra is selected by no propagation policy; it is "
            "rendered nowhere",
        }
    ]


ONLY_ALPHA = """apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: frontend, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: frontend}]
  placement: {clusterAffinity: {clusterNames: [alpha]}}
"""
FRONTEND = DEPLOYMENT.replace("name: web", "name: frontend").replace("app: web", "app: frontend")


def test_a_service_whose_pods_run_elsewhere_warns_on_that_cluster(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {"web.yaml": DEPLOYMENT, "frontend.yaml": FRONTEND + "---\n" + ONLY_ALPHA}
    apps["svc.yaml"] = SERVICE
    fleet = make_fleet("---\n" + POLICY_ALL + ROUTING, apps=apps)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "apps/svc.yaml:1:1: warning: Service/shop/frontend is placed on beta, but no workload "
        "there has pods its selector matches; its traffic goes nowhere"
    )
    assert "on alpha" not in result.stderr


OVERRIDE_REPLICAS = """apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: more, namespace: shop}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  overrideRules:
    - targetCluster: {clusterNames: [CLUSTER]}
      overriders:
        plaintext: [{path: /spec/replicas, operator: replace, value: 3}]
"""


@pytest.mark.parametrize(("overridden", "warned"), [("beta", ["alpha"]), ("alpha", ["beta"])])
def test_checks_read_the_replicas_overrides_wrote(
    make_fleet: Callable[..., Path], tmp_path: Path, overridden: str, warned: list[str]
) -> None:
    """Placement gives each cluster 2 replicas; the OverridePolicy writes 3 on one of them,
    where minAvailable 2 no longer blocks drains."""
    override = OVERRIDE_REPLICAS.replace("CLUSTER", overridden)
    apps = {"web.yaml": DEPLOYMENT, "pdb.yaml": PDB.replace("MIN", "2"), "op.yaml": override}
    fleet = make_fleet("---\n" + POLICY_ALL, apps=apps)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if ": warning: " in line] == [
        f"apps/pdb.yaml:5:3: warning: PodDisruptionBudget.policy/shop/web on {cluster}: "
        "minAvailable 2 is at or above the 2 replica(s) of Deployment.apps/shop/web placed "
        "there; node drains will block (at /spec/minAvailable)"
        for cluster in warned
    ]


KURATOR_BACKUP = """\
apiVersion: backup.kurator.dev/v1alpha1
kind: Backup
metadata: {name: weekly, namespace: default}
spec:
  schedule: "0 3 * * 0"
  destination:
    fleet: test
    clusters: [{kind: AttachedCluster, name: beta}]
  policy:
    resourceFilter: {includedNamespaces: [shop]}
    ttl: 720h
"""
# Kurator's inventory for the test fleet's clusters: Backup destinations name these.
KURATOR_FLEET = """\
apiVersion: fleet.kurator.dev/v1alpha1
kind: Fleet
metadata: {name: test, namespace: default}
spec:
  clusters: [{kind: AttachedCluster, name: alpha}, {kind: AttachedCluster, name: beta}]
---
apiVersion: cluster.kurator.dev/v1alpha1
kind: AttachedCluster
metadata: {name: alpha, namespace: default}
spec: {kubeconfig: {name: alpha-kubeconfig}}
---
apiVersion: cluster.kurator.dev/v1alpha1
kind: AttachedCluster
metadata: {name: beta, namespace: default}
spec: {kubeconfig: {name: beta-kubeconfig}}
"""


def test_kurator_backup_maps_to_velero(make_fleet: Callable[..., Path]) -> None:
    """Each destination cluster gets its own name, so clusters sharing a bucket never collide
    (pkg/fleet-manager/backup/shared.go generateVeleroResourceName, kurator b633941)."""
    docs = "---\n" + POLICY_ALL + "---\n" + KURATOR_FLEET + "---\n"
    fleet = make_fleet(docs + KURATOR_BACKUP)
    schedule = stream(fleet, "beta")[("Schedule", "beta-backup-default-weekly")]
    assert schedule["metadata"]["namespace"] == "velero"
    assert schedule["spec"]["schedule"] == "0 3 * * 0"
    assert schedule["spec"]["template"]["includedNamespaces"] == ["shop"]
    assert schedule["spec"]["template"]["ttl"] == "720h0m0s"
    assert not any(kind == "Schedule" for kind, _ in stream(fleet, "alpha"))
    everywhere = KURATOR_BACKUP.replace("    clusters: [{kind: AttachedCluster, name: beta}]\n", "")
    one_off = everywhere.replace('  schedule: "0 3 * * 0"\n', "")
    fleet = make_fleet(docs + one_off)
    for cluster in ("alpha", "beta"):
        backup = stream(fleet, cluster)[("Backup", f"{cluster}-backup-default-weekly")]
        assert backup["spec"]["ttl"] == "720h0m0s"


def test_workload_on_zero_clusters_warns(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    idle = DEPLOYMENT.replace("replicas: 2", "replicas: 0").replace(
        "          image: nginx:1.27\n",
        "          image: nginx:1.27\n          resources: {requests: {cpu: 100m}}\n",
    )
    fleet = make_fleet(apps={"web.yaml": idle})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "apps/web.yaml:1:1: warning: Deployment.apps/shop/web lands on zero clusters" in (
        result.stderr
    )
    busy = run_cli("build", make_fleet(apps={"web.yaml": DEPLOYMENT}), "-o", tmp_path / "b")
    assert "lands on zero clusters" not in busy.stderr
