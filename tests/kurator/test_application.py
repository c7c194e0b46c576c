"""Kurator's Application Manager, compiled offline.

Upstream: kurator-dev/kurator, commit b6339412dc3b0a408a99b14531ae233e9de9d652,
`pkg/fleet-manager/application/helper.go` and `controller.go` (the objects) and
`pkg/webhooks/application_webhook.go` (the rules). Inputs are Kurator's own examples and
webhook testdata, copied under tests/kurator/upstream.
"""

from __future__ import annotations

from typing import Any

import pytest
from kurator_kit import EXAMPLES, UPSTREAM, by_kind, inputs, load, load_text, quickstart

from kurator_compile.duration import go_duration_or_none
from kurator_compile.errors import Diagnostic
from kurator_compile.kurator.application import (
    compile_application,
    explain_application,
    plan_applications,
    policy_resource_name,
)
from kurator_compile.kurator.inventory import HOST, Generated, KuratorFleet, Member

APPS = EXAMPLES / "application"
LABEL = "apps.kurator.dev/app-name"
SELECTOR_LABELS = {"kurator-member1": {"env": "test"}, "kurator-member2": {"env": "dev"}}


def compiled(name: str, **labels: dict[str, str]) -> tuple[list[Generated], list[Diagnostic]]:
    return compile_application(inputs(load(APPS / name), [quickstart(labels or None)]))


def named(objects: list[Generated], name: str) -> dict[str, Any]:
    (found,) = [o.data for o in objects if o.data["metadata"]["name"] == name]
    return found


def meta(name: str, app: str) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "labels": {LABEL: app}}


def kube_config(member: int) -> dict[str, Any]:
    return {
        "secretRef": {"name": f"kurator-member{member}", "key": f"kurator-member{member}.config"}
    }


def errors_of(diagnostics: list[Diagnostic]) -> list[tuple[str, str]]:
    return [
        (d.location.pointer if d.location else "", d.message) for d in diagnostics if d.is_error
    ]


def app_yaml(spec: str, name: str = "demo") -> str:
    return (
        "apiVersion: apps.kurator.dev/v1alpha1\nkind: Application\n"
        f"metadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}"
    )


GIT_SOURCE = """  source:
    gitRepository:
      interval: 3m
      url: https://github.com/stefanprodan/podinfo
"""


def test_git_repository_source() -> None:
    """helper.go `syncSourceResource` (GitRepository): the app's spec, CRD timeout default."""
    objects, diagnostics = compiled("gitrepo-kustomization-demo.yaml")
    assert diagnostics == []
    source = objects[0]
    assert source.cluster == HOST
    assert source.data == {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": meta("gitrepo-kustomization-demo", "gitrepo-kustomization-demo"),
        "spec": {
            "interval": "3m0s",
            "ref": {"branch": "master"},
            "timeout": "1m0s",
            "url": "https://github.com/stefanprodan/podinfo",
        },
    }


def test_git_repository_defaults_and_dropped_fields() -> None:
    """`syncSourceResource`: Kurator's CRD defaults timeout to 60s (Go writes 1m0s back);
    `gitImplementation` (default go-git) is gone from Flux v1; `accessFrom` too, with a warning."""
    app = app_yaml(
        """  source:
    gitRepository:
      interval: 1h
      url: https://example.com/repo
      gitImplementation: go-git
      accessFrom:
        namespaceSelectors: [{matchLabels: {a: b}}]
      verify:
        secretRef: {name: keys}
  syncPolicies:
    - kustomization: {interval: 5m, prune: false}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert objects[0].data["spec"] == {
        "interval": "1h0m0s",
        "url": "https://example.com/repo",
        "timeout": "1m0s",
        "verify": {"secretRef": {"name": "keys"}, "mode": "HEAD"},
    }
    assert [(d.is_error, d.location.pointer if d.location else "") for d in diagnostics] == [
        (False, "/spec/source/gitRepository/accessFrom")
    ]


def test_helm_repository_source() -> None:
    """`syncSourceResource` (HelmRepository): provider generic and timeout 60s are CRD defaults."""
    objects, diagnostics = compiled("helmrepo-helmrelease-demo.yaml")
    assert diagnostics == []
    assert objects[0].data == {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": meta("helmrepo-helmrelease-demo", "helmrepo-helmrelease-demo"),
        "spec": {
            "interval": "5m0s",
            "url": "https://stefanprodan.github.io/podinfo",
            "provider": "generic",
            "timeout": "1m0s",
        },
    }


def test_oci_repository_source() -> None:
    """`syncSourceResource` (OCIRepository): provider, timeout and verify.provider defaults."""
    app = app_yaml(
        """  source:
    ociRepository:
      interval: 10m
      url: oci://ghcr.io/stefanprodan/manifests/podinfo
      ref: {tag: latest}
      verify: {secretRef: {name: cosign-pub}}
  syncPolicies:
    - kustomization: {interval: 5m, prune: true}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert diagnostics == []
    assert objects[0].data["kind"] == "OCIRepository"
    assert objects[0].data["spec"] == {
        "interval": "10m0s",
        "url": "oci://ghcr.io/stefanprodan/manifests/podinfo",
        "ref": {"tag": "latest"},
        "verify": {"secretRef": {"name": "cosign-pub"}, "provider": "cosign"},
        "provider": "generic",
        "timeout": "1m0s",
    }
    assert objects[1].data["spec"]["sourceRef"] == {"kind": "OCIRepository", "name": "demo"}


def test_kustomization_per_member() -> None:
    """helper.go `syncPolicyResource` + `syncKustomizationForCluster`: one Kustomization per
    policy and fleet member, named `generatePolicyResourceName`, reaching it by kubeconfig."""
    objects, _ = compiled("gitrepo-kustomization-demo.yaml")
    kustomizations = by_kind(objects, "Kustomization")
    assert [k.data["metadata"]["name"] for k in kustomizations] == [
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member1",
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member2",
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member1",
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2",
    ]
    assert all(k.cluster == HOST for k in kustomizations)
    name = "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2"
    assert named(objects, name) == {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": meta(name, "gitrepo-kustomization-demo"),
        "spec": {
            "interval": "5m0s",
            "path": "./kustomize",
            "prune": True,
            "targetNamespace": "default",
            "timeout": "2m0s",
            "kubeConfig": kube_config(2),
            "sourceRef": {"kind": "GitRepository", "name": "gitrepo-kustomization-demo"},
            "force": False,
        },
    }


def test_kustomization_copies_kurator_fields_only() -> None:
    """`syncKustomizationForCluster` copies its field list (commonMetadata's labels and
    annotations); a field outside Kurator's Kustomization type is never copied."""
    app = app_yaml(
        GIT_SOURCE
        + """  syncPolicies:
    - name: Web
      kustomization:
        dependsOn: [{name: infra}]
        interval: 90s
        retryInterval: 1m
        path: ./deploy
        prune: false
        patches: [{patch: "- op: remove\\n  path: /x", target: {kind: Deployment}}]
        images: [{name: podinfo, newTag: 6.0.0}]
        suspend: true
        targetNamespace: web
        timeout: 30s
        force: true
        components: [./c]
        commonMetadata: {labels: {team: a}, annotations: {note: b}}
        postBuild: {substitute: {A: b}}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert diagnostics == []
    assert objects[1].data["metadata"]["name"] == "web-currentcluster-host"
    assert objects[1].data["spec"] == {
        "dependsOn": [{"name": "infra"}],
        "interval": "1m30s",
        "retryInterval": "1m0s",
        "path": "./deploy",
        "prune": False,
        "patches": [{"patch": "- op: remove\n  path: /x", "target": {"kind": "Deployment"}}],
        "images": [{"name": "podinfo", "newTag": "6.0.0"}],
        "suspend": True,
        "targetNamespace": "web",
        "timeout": "30s",
        "force": True,
        "components": ["./c"],
        "sourceRef": {"kind": "GitRepository", "name": "demo"},
        "commonMetadata": {"annotations": {"note": "b"}, "labels": {"team": "a"}},
    }


def test_helm_release_per_member() -> None:
    """helper.go `syncHelmReleaseForCluster`: chart template with the CRD defaults version `*`
    and reconcileStrategy ChartVersion; `interval: 50m` round-trips as Go writes it, 50m0s."""
    objects, diagnostics = compiled("gitrepo-helmrelease-demo.yaml")
    assert diagnostics == []
    name = "gitrepo-helmrelease-demo-0-attachedcluster-kurator-member1"
    assert [o.data["metadata"]["name"] for o in by_kind(objects, "HelmRelease")] == [
        name,
        "gitrepo-helmrelease-demo-0-attachedcluster-kurator-member2",
    ]
    assert named(objects, name) == {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": meta(name, "gitrepo-helmrelease-demo"),
        "spec": {
            "interval": "50m0s",
            "kubeConfig": kube_config(1),
            "releaseName": "podinfo",
            "install": {"remediation": {"retries": 3}},
            "values": {
                "redis": {
                    "enabled": True,
                    "repository": "public.ecr.aws/docker/library/redis",
                    "tag": "7.0.6",
                },
                "ingress": {"enabled": True, "className": "nginx"},
            },
            "chart": {
                "spec": {
                    "chart": "./charts/podinfo",
                    "version": "*",
                    "sourceRef": {"kind": "GitRepository", "name": "gitrepo-helmrelease-demo"},
                    "reconcileStrategy": "ChartVersion",
                }
            },
        },
    }


def test_helm_release_from_helm_repository() -> None:
    """`syncHelmReleaseForCluster` with a HelmRepository source (helmrepo-helmrelease-demo)."""
    objects, _ = compiled("helmrepo-helmrelease-demo.yaml")
    release = named(objects, "helmrepo-helmrelease-demo-0-attachedcluster-kurator-member2")
    assert release["spec"]["kubeConfig"] == kube_config(2)
    assert release["spec"]["chart"]["spec"] == {
        "chart": "podinfo",
        "version": "*",
        "sourceRef": {"kind": "HelmRepository", "name": "helmrepo-helmrelease-demo"},
        "reconcileStrategy": "ChartVersion",
    }


def test_helm_release_copies_kurator_fields() -> None:
    """`syncHelmReleaseForCluster`: every copied field, chart metadata, action timeouts (Go
    durations), and Flux's uninstall.deletionPropagation default."""
    app = app_yaml(
        GIT_SOURCE
        + """  syncPolicies:
    - helm:
        chart:
          metadata: {labels: {a: b}}
          spec:
            chart: ./charts/podinfo
            version: 6.x
            interval: 2m
            reconcileStrategy: Revision
            valuesFiles: [values.yaml, prod.yaml]
        interval: 5m
        suspend: false
        releaseName: pod
        targetNamespace: web
        dependsOn: [{name: infra, namespace: flux}]
        timeout: 10m
        maxHistory: 0
        serviceAccountName: deployer
        persistentClient: false
        install: {timeout: 1m, createNamespace: true}
        upgrade: {timeout: 2m}
        rollback: {timeout: 3m}
        uninstall: {timeout: 4m}
        valuesFrom: [{kind: ConfigMap, name: extra}]
        values: {replicaCount: 2}
        test: {enable: true}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert diagnostics == []
    assert objects[1].data["spec"] == {
        "interval": "5m0s",
        "releaseName": "pod",
        "targetNamespace": "web",
        "dependsOn": [{"name": "infra", "namespace": "flux"}],
        "timeout": "10m0s",
        "maxHistory": 0,
        "serviceAccountName": "deployer",
        "persistentClient": False,
        "install": {"timeout": "1m0s", "createNamespace": True},
        "upgrade": {"timeout": "2m0s"},
        "rollback": {"timeout": "3m0s"},
        "uninstall": {"timeout": "4m0s", "deletionPropagation": "background"},
        "valuesFrom": [{"kind": "ConfigMap", "name": "extra"}],
        "values": {"replicaCount": 2},
        "chart": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {
                "chart": "./charts/podinfo",
                "version": "6.x",
                "sourceRef": {"kind": "GitRepository", "name": "demo"},
                "interval": "2m0s",
                "reconcileStrategy": "Revision",
                "valuesFiles": ["values.yaml", "prod.yaml"],
            },
        },
    }


def test_cluster_selector_picks_members_by_label() -> None:
    """helper.go `fetchFleetClusterList` + `doLabelsMatchSelector` (cluster-selector-demo)."""
    objects, diagnostics = compiled("cluster-selector-demo.yaml", **SELECTOR_LABELS)
    assert diagnostics == []
    assert [o.data["metadata"]["name"] for o in by_kind(objects, "Kustomization")] == [
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member1",
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2",
    ]


def test_cluster_selector_without_matching_members() -> None:
    """`doLabelsMatchSelector`: unlabeled members match no selector; nothing is synced."""
    objects, diagnostics = compiled("cluster-selector-demo.yaml")
    assert diagnostics == []
    assert by_kind(objects, "Kustomization") == []
    assert [o.data["kind"] for o in objects] == ["GitRepository"]


def test_policy_destination_overrides_application_destination() -> None:
    """helper.go `getPolicyDestination`: a policy's destination (selector included) replaces
    the application's; a policy without one uses the application's."""
    app = app_yaml(
        GIT_SOURCE
        + """  destination:
    fleet: quickstart
    clusterSelector: {matchLabels: {env: test}}
  syncPolicies:
    - kustomization: {interval: 5m, prune: true}
    - destination: {fleet: quickstart}
      kustomization: {interval: 5m, prune: true}
"""
    )
    objects, diagnostics = compile_application(
        inputs(load_text(app), [quickstart(SELECTOR_LABELS)])
    )
    assert diagnostics == []
    assert [o.data["metadata"]["name"] for o in by_kind(objects, "Kustomization")] == [
        "demo-0-attachedcluster-kurator-member1",
        "demo-1-attachedcluster-kurator-member1",
        "demo-1-attachedcluster-kurator-member2",
    ]


def test_without_fleet_goes_to_kurators_own_cluster() -> None:
    """helper.go `handleSyncPolicyByKind` without a fleet: `<policy>-currentcluster-host`, no
    kubeConfig (gitrepo-kustomization-demo-without-fleet)."""
    objects, diagnostics = compile_application(
        inputs(load(APPS / "gitrepo-kustomization-demo-without-fleet.yaml"))
    )
    assert diagnostics == []
    name = "without-fleet-demo-0-currentcluster-host"
    assert [o.data["metadata"]["name"] for o in by_kind(objects, "Kustomization")] == [
        name,
        "without-fleet-demo-1-currentcluster-host",
    ]
    assert named(objects, name)["spec"] == {
        "interval": "0s",
        "path": "./deploy/webapp",
        "prune": True,
        "timeout": "2m0s",
        "sourceRef": {"kind": "GitRepository", "name": "without-fleet-demo"},
        "force": False,
    }


def test_policy_resource_name_is_lowercased_and_cut() -> None:
    """helper.go `generatePolicyResourceName`, with a `Cluster` member and a long name."""
    assert policy_resource_name("Web", "AttachedCluster", "m1") == "web-attachedcluster-m1"
    long = policy_resource_name("p" * 60, "Cluster", "member")
    assert long == ("p" * 60 + "-cl")
    assert len(long) == 63
    member = Member("aws-1", "Cluster", "default", secret_name="aws-1-kubeconfig")
    fleet = KuratorFleet("quickstart", "default", (member,))
    app = app_yaml(
        GIT_SOURCE
        + """  destination: {fleet: quickstart}
  syncPolicies:
    - kustomization: {interval: 5m, prune: true}
"""
    )
    objects, _ = compile_application(inputs(load_text(app), [fleet]))
    assert objects[1].data["metadata"]["name"] == "demo-0-cluster-aws-1"
    assert objects[1].data["spec"]["kubeConfig"] == {
        "secretRef": {"name": "aws-1-kubeconfig", "key": "value"}
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5m", "5m0s"), ("90s", "1m30s"), ("1h", "1h0m0s"), ("0s", "0s"), ("1.5s", "1.5s"),
     ("250ms", "250ms"), ("2h30m", "2h30m0s"), ("5", None), ("", None), ("1d", None)],
)  # fmt: skip
def test_durations_round_trip_as_go_writes_them(text: str, expected: str | None) -> None:
    """Go `time.Duration.String()`, which `metav1.Duration` fields are written back with."""
    assert go_duration_or_none(text) == expected


def test_explain_application() -> None:
    """Why each member is in or out of each sync policy (`plan --explain`)."""
    given = inputs(load(APPS / "cluster-selector-demo.yaml"), [quickstart(SELECTOR_LABELS)])
    assert explain_application(given) == [
        "Application default/gitrepo-kustomization-demo sync policy gitrepo-kustomization-demo-0"
        " (Kustomization) -> fleet default/quickstart, clusterSelector env=test",
        "  AttachedCluster kurator-member1: selected (labels match env=test) -> Kustomization "
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member1",
        "  AttachedCluster kurator-member2: not selected (has env=dev (wants env=test))",
        "Application default/gitrepo-kustomization-demo sync policy gitrepo-kustomization-demo-1"
        " (Kustomization) -> fleet default/quickstart, clusterSelector env=dev",
        "  AttachedCluster kurator-member1: not selected (has env=test (wants env=dev))",
        "  AttachedCluster kurator-member2: selected (labels match env=dev) -> Kustomization "
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2",
    ]
    plans, _ = plan_applications(
        inputs(load(APPS / "gitrepo-kustomization-demo-without-fleet.yaml"))
    )
    assert [(p.policy, p.fleet, [m.object_name for m in p.members]) for p in plans] == [
        ("without-fleet-demo-0", "", ["without-fleet-demo-0-currentcluster-host"]),
        ("without-fleet-demo-1", "", ["without-fleet-demo-1-currentcluster-host"]),
    ]


def test_explain_reports_missing_label() -> None:
    plans, _ = plan_applications(inputs(load(APPS / "cluster-selector-demo.yaml"), [quickstart()]))
    assert plans[0].members[0].reason == "has no label env (wants env=test)"
    assert not plans[0].members[0].selected


# ---- errors: Kurator's webhook (`validateFleet`) on its own testdata ----------------------

WEBHOOK = UPSTREAM / "pkg" / "webhooks" / "testdata" / "application"


def test_webhook_policy_fleet_must_match_application_fleet() -> None:
    """application_webhook.go `validateFleet` rule 1 (testdata invalid-fleet1.yaml)."""
    objects, diagnostics = compile_application(inputs(load(WEBHOOK / "invalid-fleet1.yaml")))
    assert objects == []
    assert [p for p, _ in errors_of(diagnostics)] == [
        "/spec/syncPolicies/0/destination/fleet",
        "/spec/syncPolicies/1/destination/fleet",
    ]
    first = diagnostics[0]
    assert first.location is not None
    assert (first.location.line, first.location.column) == (20, 9)
    assert "must be the application's fleet 'quickstart1'" in first.message


def test_webhook_policy_fleets_must_agree() -> None:
    """`validateFleet` rule 2 (testdata invalid-fleet2.yaml): all policies name one fleet."""
    _, diagnostics = compile_application(inputs(load(WEBHOOK / "invalid-fleet2.yaml")))
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == "/spec/syncPolicies/1/destination/fleet"
    assert "first sync policy's fleet 'quickstart1'" in message


def test_webhook_every_policy_needs_a_fleet() -> None:
    """`validateFleet` rule 2 (miss-default-and-policy-fleet.yaml): a policy without a fleet
    beside one with a fleet; its destination also lacks the CRD-required fleet."""
    _, diagnostics = compile_application(
        inputs(load(WEBHOOK / "miss-default-and-policy-fleet.yaml"))
    )
    assert [p for p, _ in errors_of(diagnostics)] == [
        "/spec/syncPolicies/1/destination",
        "/spec/syncPolicies/1",
    ]


def test_application_destination_needs_fleet() -> None:
    app = app_yaml(
        GIT_SOURCE
        + """  destination: {clusterSelector: {matchLabels: {a: b}}}
  syncPolicies:
    - kustomization: {interval: 5m, prune: true}
"""
    )
    _, diagnostics = compile_application(inputs(load_text(app)))
    assert errors_of(diagnostics) == [("/spec/destination", "spec.destination.fleet is required")]


def test_fleet_missing_from_inputs() -> None:
    """controller.go `Reconcile` requeues forever on a missing fleet; offline it is an error."""
    objects, diagnostics = compile_application(
        inputs(load(APPS / "gitrepo-kustomization-demo.yaml"))
    )
    assert objects == []
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == "/spec/syncPolicies/0/destination/fleet"
    assert message == "fleet 'quickstart' is not among the inputs (namespace 'default')"
    assert diagnostics[0].location is not None
    assert diagnostics[0].location.line == 17


def test_fleet_in_another_namespace() -> None:
    """`generateFleetKey`: the fleet is looked up in the application's own namespace."""
    elsewhere = KuratorFleet("quickstart", "fleets", quickstart().members)
    _, diagnostics = compile_application(
        inputs(load(APPS / "gitrepo-kustomization-demo.yaml"), [elsewhere])
    )
    ((_, message),) = errors_of(diagnostics)
    assert "is in namespace 'fleets'" in message


def test_application_fleet_missing_points_at_application_destination() -> None:
    app = app_yaml(
        GIT_SOURCE
        + """  destination: {fleet: nowhere}
  syncPolicies:
    - kustomization: {interval: 5m, prune: true}
"""
    )
    _, diagnostics = compile_application(inputs(load_text(app)))
    assert [p for p, _ in errors_of(diagnostics)] == ["/spec/destination/fleet"]


@pytest.mark.parametrize(
    ("source", "pointer", "message"),
    [
        ("  source: {}\n", "/spec/source", "spec.source needs one of"),
        (
            "  source:\n    gitRepository: {interval: 1m, url: u}\n"
            "    helmRepository: {interval: 1m, url: u}\n",
            "/spec/source",
            "spec.source may set only one of",
        ),
        (
            "  source:\n    gitRepository: {interval: 1m}\n",
            "/spec/source/gitRepository",
            "spec.source.gitRepository.url is required",
        ),
        (
            "  source:\n    helmRepository: {interval: soon, url: u}\n",
            "/spec/source/helmRepository/interval",
            "interval: 'soon' is not a duration",
        ),
        (
            "  source:\n    ociRepository: [x]\n",
            "/spec/source/ociRepository",
            "spec.source.ociRepository must be a mapping",
        ),
    ],
)
def test_source_errors(source: str, pointer: str, message: str) -> None:
    app = app_yaml(source + "  syncPolicies:\n    - kustomization: {interval: 5m, prune: true}\n")
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert objects == []
    ((got_pointer, got_message),) = errors_of(diagnostics)
    assert got_pointer == pointer
    assert got_message.startswith(message)


@pytest.mark.parametrize(
    ("policy", "pointer", "message"),
    [
        ("kustomization: {prune: true}", "/spec/syncPolicies/0/kustomization",
         "spec.syncPolicies.0.kustomization.interval is required"),
        ("kustomization: {interval: 5m}", "/spec/syncPolicies/0/kustomization",
         "spec.syncPolicies.0.kustomization.prune is required"),
        ("kustomization: {interval: 5m, prune: true, timeout: 2}",
         "/spec/syncPolicies/0/kustomization/timeout", "timeout: 2 is not a duration"),
        ("helm: {chart: {spec: {chart: c}}}", "/spec/syncPolicies/0/helm",
         "spec.syncPolicies.0.helm.interval is required"),
        ("helm: {interval: 1m, chart: {spec: {}}}", "/spec/syncPolicies/0/helm",
         "spec.syncPolicies.0.helm.chart.spec.chart is required"),
        ("helm: {interval: 1m, chart: {spec: {chart: c, interval: x}}}",
         "/spec/syncPolicies/0/helm/chart/spec/interval", "interval: 'x' is not a duration"),
        ("helm: {interval: 1m, chart: {spec: {chart: c}}, install: {timeout: z}}",
         "/spec/syncPolicies/0/helm/install/timeout", "timeout: 'z' is not a duration"),
    ],
)  # fmt: skip
def test_sync_policy_errors(policy: str, pointer: str, message: str) -> None:
    app = app_yaml(GIT_SOURCE + f"  syncPolicies:\n    - {policy}\n")
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert objects == []
    ((got_pointer, got_message),) = errors_of(diagnostics)
    assert got_pointer == pointer
    assert got_message.startswith(message)


def test_application_needs_sync_policies_and_a_name() -> None:
    app = app_yaml(GIT_SOURCE + "  syncPolicies: []\n")
    _, diagnostics = compile_application(inputs(load_text(app)))
    assert errors_of(diagnostics) == [("/spec", "Application needs at least one sync policy")]
    nameless = load_text(GIT_SOURCE.join(["kind: Application\nspec:\n", ""]))
    _, diagnostics = compile_application(inputs(nameless))
    assert ("/metadata", "Application needs metadata.name") in errors_of(diagnostics)


def test_application_name_must_be_a_label_value() -> None:
    """examples/rollout/canaryWithCustomMetric.yaml is named `CustomMetric-demo`, which the
    API server refuses; offline that is an error at the name."""
    path = EXAMPLES / "rollout" / "canaryWithCustomMetric.yaml"
    objects, diagnostics = compile_application(inputs(load(path), [quickstart()]))
    assert objects == []
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == "/metadata/name"
    assert "'CustomMetric-demo'" in message


def test_two_policies_writing_one_object() -> None:
    """Two policies with one name would overwrite one Flux object on every reconcile."""
    app = app_yaml(
        GIT_SOURCE
        + """  syncPolicies:
    - name: web
      kustomization: {interval: 5m, prune: true, path: ./a}
    - name: web
      kustomization: {interval: 5m, prune: true, path: ./b}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    ((pointer, message),) = errors_of(diagnostics)
    assert pointer == "/spec/syncPolicies"
    assert message.startswith("Kustomization default/web-currentcluster-host is written twice")
    assert len(by_kind(objects, "Kustomization")) == 1


def test_policy_warnings() -> None:
    """`getSyncPolicyKind`: no kustomization/helm syncs nothing; both means kustomization."""
    app = app_yaml(
        GIT_SOURCE
        + """  syncPolicies:
    - name: empty
    - kustomization: {interval: 5m, prune: true}
      helm: {interval: 5m, chart: {spec: {chart: c}}}
"""
    )
    objects, diagnostics = compile_application(inputs(load_text(app)))
    assert [(d.is_error, d.location.pointer if d.location else "") for d in diagnostics] == [
        (False, "/spec/syncPolicies/0"),
        (False, "/spec/syncPolicies/1/helm"),
    ]
    assert [o.data["kind"] for o in objects] == ["GitRepository", "Kustomization"]


def test_go_round_trip_keeps_set_pointers_and_drops_empty_values() -> None:
    """`syncHelmReleaseForCluster` copies Go structs: `omitempty` drops false and empty lists,
    while pointer fields (install, values, timeout) are kept once set, even empty."""
    app = app_yaml(
        GIT_SOURCE
        + """  syncPolicies:
    - helm:
        chart: {spec: {chart: c}}
        interval: 1m
        suspend: false
        dependsOn: []
        releaseName: ""
        install: {}
        values: {}
"""
    )
    objects, _ = compile_application(inputs(load_text(app)))
    spec = objects[1].data["spec"]
    assert sorted(spec) == ["chart", "install", "interval", "values"]
    assert (spec["install"], spec["values"]) == ({}, {})
