"""Kurator's fleet plugins (kurator-dev/kurator at b6339412dc3b0a408a99b14531ae233e9de9d652).

The golden tests mirror `pkg/fleet-manager/plugin/plugin_test.go` against the upstream
`pkg/fleet-manager/plugin/testdata/**` files (copied under `upstream/plugin-testdata/`), with
Flux's current API versions and without ownerReferences. The example tests compile Kurator's
`examples/fleet/**` and the Fleets of its plugin docs (copied under `upstream/`).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from kurator_compile.errors import Diagnostic, SourceLocation
from kurator_compile.kurator.inventory import HOST, Generated, KuratorFleet, KuratorInputs, Member
from kurator_compile.kurator.plugins import (
    KubeConfigRef,
    PluginContext,
    compile_plugins,
    fill_empty,
    merge_maps,
    render_cluster_storage,
    render_flagger,
    render_grafana,
    render_kyverno,
    render_kyverno_policy,
    render_prometheus,
    render_rollout_testloader,
    render_storage_operator,
    render_submariner_broker,
    render_submariner_operator,
    render_thanos,
    render_velero,
)
from kurator_compile.yamldoc import Document, load_stream

UPSTREAM = Path(__file__).parent / "upstream"
CLUSTER1 = KubeConfigRef("cluster1", "cluster1", "kubeconfig.yaml")
MEMBERS = (
    Member("kurator-member1", "AttachedCluster", "default", {}, "kurator-member1",
           "kurator-member1.config"),
    Member("kurator-member2", "AttachedCluster", "default", {}, "kurator-member2",
           "kurator-member2.config"),
)  # fmt: skip


def load(name: str) -> list[Document]:
    path = UPSTREAM / name
    return load_stream(path.read_text(), f"upstream/{name}")


def parse(text: str, file: str = "fleet.yaml") -> list[Document]:
    return load_stream(text, file)


def fleet_doc(name: str, plugin: str) -> Document:
    """A Fleet whose `spec.plugin` holds `plugin` (YAML lines indented by four spaces)."""
    header = "apiVersion: fleet.kurator.dev/v1alpha1\nkind: Fleet\n"
    return parse(
        f"{header}metadata: {{name: {name}, namespace: default}}\nspec:\n  plugin:\n{plugin}"
    )[0]


def secret_docs(name: str, body: str) -> tuple[Document, ...]:
    """A Secret in `s.yaml` whose fields after metadata (line 4 on) are `body`."""
    return tuple(
        parse(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n{body}", "s.yaml")
    )


def fleet_of(doc: Document, members: tuple[Member, ...] = MEMBERS) -> KuratorFleet:
    meta = doc.data["metadata"]
    return KuratorFleet(meta["name"], meta.get("namespace", "default"), members, doc)


def members_from(docs: list[Document]) -> tuple[Member, ...]:
    """What the registry resolves an AttachedCluster into."""
    found = []
    for doc in docs:
        if doc.data.get("kind") == "AttachedCluster":
            kubeconfig = doc.data["spec"]["kubeconfig"]
            found.append(
                Member(
                    doc.data["metadata"]["name"],
                    "AttachedCluster",
                    doc.data["metadata"]["namespace"],
                    {},
                    kubeconfig["name"],
                    kubeconfig.get("key", "value"),
                )
            )
    return tuple(found)


def compile_docs(
    fleet_docs: list[Document], resources: tuple[Document, ...] = (), **kw: Any
) -> tuple[list[Generated], list[Diagnostic]]:
    fleets = tuple(fleet_of(d, **kw) for d in fleet_docs if d.data.get("kind") == "Fleet")
    return compile_plugins(KuratorInputs(fleets, {"Fleet": tuple(fleet_docs)}, resources))


def index(objects: list[Generated]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(g.cluster, g.data["kind"], g.data["metadata"]["name"]): g.data for g in objects}


def golden(path: str) -> list[dict[str, Any]]:
    """An upstream rendering as the compiler emits it: current Flux versions, no owner."""
    docs = [d.data for d in load(f"plugin-testdata/{path}")]
    versions = {
        "source.toolkit.fluxcd.io/v1beta2": "source.toolkit.fluxcd.io/v1",
        "helm.toolkit.fluxcd.io/v2beta1": "helm.toolkit.fluxcd.io/v2",
    }
    for doc in docs:
        doc["apiVersion"] = versions[doc["apiVersion"]]
        doc["metadata"].pop("ownerReferences", None)
    return docs


def go_test_context(namespace: str = "default") -> PluginContext:
    """The fleet every upstream plugin test renders for: fleet-1, member cluster1."""
    doc = parse(
        f"apiVersion: fleet.kurator.dev/v1alpha1\nkind: Fleet\n"
        f"metadata: {{name: fleet-1, namespace: {namespace}}}\n"
    )[0]
    member = Member("cluster1", "AttachedCluster", namespace, {}, "cluster1", "kubeconfig.yaml")
    return PluginContext(KuratorFleet("fleet-1", namespace, (member,), doc), doc)


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def only_error(diagnostics: list[Diagnostic]) -> tuple[str, SourceLocation]:
    """The one error among the diagnostics: its message and where it points."""
    [error] = errors(diagnostics)
    return error.message, error.location


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- golden renderings: pkg/fleet-manager/plugin/plugin_test.go ---------------------------------


def test_render_kyverno_policy_golden() -> None:
    """plugin_test.go TestRenderKyvernoPolicy / RenderKyvernoPolicy."""
    cfg = {"podSecurity": {"standard": "baseline", "severity": "medium",
                           "validationFailureAction": "Audit"}}  # fmt: skip
    got = render_kyverno_policy(go_test_context(), CLUSTER1, cfg, "/spec")
    assert got == golden("kyverno-policies/default.yaml")


def test_render_kyverno_golden() -> None:
    """plugin_test.go TestRenderKyverno / RenderKyverno."""
    got = render_kyverno(go_test_context(), CLUSTER1, {}, "/spec")
    assert got == golden("kyverno/default.yaml")


@pytest.mark.parametrize("case", ["default", "with-datasource"])
def test_render_grafana_golden(case: str) -> None:
    """plugin_test.go TestRenderGrafana / RenderGrafana."""
    sources = []
    if case == "with-datasource":
        sources = [{"name": "prometheus", "type": "prometheus", "url": "http://prometheus:9090",
                    "access": "proxy", "isDefault": True}]  # fmt: skip
    got = render_grafana(go_test_context(), {}, "/spec", sources)
    assert got == golden(f"grafana/{case}.yaml")


def test_render_thanos_golden_default() -> None:
    """plugin_test.go TestRenderThanos "default" / RenderThanos."""
    metric = {"thanos": {"objectStoreConfig": {"secretName": "thanos-objstore"}}}
    assert render_thanos(go_test_context(), metric, "/spec") == golden("thanos/default.yaml")


def test_render_thanos_golden_custom_values() -> None:
    """plugin_test.go TestRenderThanos "custom-values": a non-OCI chart gives type default."""
    metric = {
        "thanos": {
            "chart": {"repository": "https://charts.bitnami.com/bitnami", "name": "thanos",
                      "version": "x.y.z"},
            "objectStoreConfig": {"secretName": "thanos-objstore"},
            "extraArgs": {"key1": "value1"},
        }
    }  # fmt: skip
    got = render_thanos(go_test_context("monitoring"), metric, "/spec")
    assert got == golden("thanos/custom-values.yaml")


@pytest.mark.parametrize(
    ("case", "metric"),
    [("default", {}), ("with-values", {"prometheus": {"extraArgs": {"key1": "value1"}}})],
)
def test_render_prometheus_golden(case: str, metric: dict[str, Any]) -> None:
    """plugin_test.go TestRenderPrometheus / RenderPrometheus. With no secret name, the template's
    merge fills the chart's default `thanos-objstore` in for the empty string."""
    got = render_prometheus(go_test_context(), CLUSTER1, metric, "/spec")
    assert got == golden(f"prometheus/{case}.yaml")


_NEW_IMAGE = {"image": {"repository": "velero/velero", "tag": "v1.10.1",
                        "pullPolicy": "IfNotPresent"}}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "backup", "secret"),
    [
        (
            "default",
            {"storage": {"location": {"bucket": "velero", "provider": "aws",
                                      "endpoint": "http://x.x.x.x:x", "region": "minio"},
                         "secretName": "backup-secret"}},
            "kurator-velero-s3",
        ),
        (
            "custom-values-s3",
            {"storage": {"location": {"bucket": "velero", "provider": "aws",
                                      "endpoint": "http://x.x.x.x:x", "region": "minio",
                                      "config": {"s3Url": "s3.us-east-2.amazonaws.com",
                                                 "region": "us-east-2"}},
                         "secretName": "backup-secret"},
             "extraArgs": _NEW_IMAGE},
            "kurator-velero-s3",
        ),
        (
            "custom-values-obs",
            {"storage": {"location": {"bucket": "kurator-backup", "provider": "huaweicloud",
                                      "endpoint": "http://obs.cn-south-1.myhuaweicloud.com",
                                      "region": "cn-south-1"},
                         "secretName": "backup-secret"},
             "extraArgs": _NEW_IMAGE},
            "kurator-velero-obs",
        ),
    ],
)  # fmt: skip
def test_render_velero_golden(case: str, backup: dict[str, Any], secret: str) -> None:
    """plugin_test.go TestRenderVelero / RenderVelero: Kurator's endpoint and region win over
    `location.config`; huaweicloud becomes Velero's aws provider."""
    got = render_velero(go_test_context(), CLUSTER1, backup, "/spec", secret)
    assert got == golden(f"backup/{case}.yaml")


_STORAGE_DEFAULT = {"storage": {"dataDirHostPath": "/var/lib/rook", "monitor": {"count": 3},
                                "manager": {"count": 2}}}  # fmt: skip


def test_render_storage_operator_golden() -> None:
    """plugin_test.go TestRenderStorageOperator / RenderStorageOperator: no values at all."""
    got = render_storage_operator(go_test_context(), CLUSTER1, _STORAGE_DEFAULT, "/spec")
    assert got == golden("distributedstorage/default.yaml")


def test_render_cluster_storage_golden_default() -> None:
    """plugin_test.go TestRenderClusterStorage "ceph-cluster-default" / RenderClusterStorage."""
    got = render_cluster_storage(go_test_context(), CLUSTER1, _STORAGE_DEFAULT, "/spec")
    assert got == golden("distributedstorage/ceph-cluster-default.yaml")


def test_render_cluster_storage_golden_handle() -> None:
    """plugin_test.go TestRenderClusterStorage "ceph-cluster-handle" / buildStorageClusterValue."""
    toleration = {"tolerations": [{"key": "storage-node", "operator": "Exists"}]}
    storage = {
        "storage": {
            "dataDirHostPath": "/var/lib/rook",
            "monitor": {"count": 3, "annotations": {"role": "MonitorNodeAnnotation"},
                        "labels": {"role": "MonitorNodeLabel"}, "placement": toleration},
            "manager": {"count": 2, "annotations": {"role": "ManagerNodeAnnotation"},
                        "labels": {"role": "ManagerNodeLabel"}, "placement": toleration},
        }
    }  # fmt: skip
    got = render_cluster_storage(go_test_context(), CLUSTER1, storage, "/spec")
    assert got == golden("distributedstorage/ceph-cluster-handle.yaml")


def test_render_flagger_golden() -> None:
    """plugin_test.go TestRendeFlagger / RenderFlagger (istio)."""
    cfg = {"publicTestloader": True, "trafficRoutingProvider": "istio"}
    assert render_flagger(go_test_context(), CLUSTER1, cfg, "/spec") == golden(
        "rollout/default.yaml"
    )


def test_render_testloader_golden() -> None:
    """plugin_test.go TestRendeRolloutTestloader / RenderRolloutTestloader."""
    cfg = {"publicTestloader": True, "trafficRoutingProvider": "istio"}
    got = render_rollout_testloader(go_test_context(), CLUSTER1, cfg, "/spec")
    assert got == golden("rollout/testloader-default.yaml")


def test_render_submariner_broker_golden() -> None:
    """plugin_test.go TestRenderSubmarinerBroker / RenderSubmarinerBroker."""
    got = render_submariner_broker(go_test_context(), CLUSTER1)
    assert got == golden("sm-broker/default.yaml")


_SM_GO_TEST = {
    "brokerCluster": "cluster1",
    "clusterCidrs": {"cluster1": "10.244.0.0/24"},
    "serviceCidrs": {"cluster1": "10.96.0.0/16"},
    "globalcidrs": {"cluster1": "242.0.0.0/24"},
}


def test_render_submariner_operator_golden() -> None:
    """plugin_test.go TestRenderSubmarinerOperator / RenderSubmarinerOperator, given the broker
    values Kurator reads at run time."""
    broker = {"ca": "ca-xxx", "token": "token-xxx", "server": "server-xxx"}
    got = render_submariner_operator(go_test_context(), CLUSTER1, _SM_GO_TEST, "/spec", broker)
    assert got == golden("sm-operator/default.yaml")


# --- examples and docs compiled end to end ------------------------------------------------------

OBJSTORE = """\
apiVersion: v1
kind: Secret
metadata: {name: thanos-objstore, namespace: default}
stringData:
  objstore.yml: |
    type: S3
"""


def test_metric_example_objects() -> None:
    """examples/fleet/metric/metric-plugin.yaml: reconcileMetricPlugin and
    reconcileGrafanaPlugin, every object they create."""
    docs = load("metric-plugin.yaml")
    objects, diagnostics = compile_docs(docs, tuple(parse(OBJSTORE, "secret.yaml")),
                                        members=members_from(docs))  # fmt: skip
    assert diagnostics == []
    assert sorted(index(objects)) == [
        (HOST, "HelmRelease", "grafana"),
        (HOST, "HelmRelease", "prometheus-kurator-member1"),
        (HOST, "HelmRelease", "prometheus-kurator-member2"),
        (HOST, "HelmRelease", "thanos"),
        (HOST, "HelmRepository", "grafana"),
        (HOST, "HelmRepository", "prometheus-kurator-member1"),
        (HOST, "HelmRepository", "prometheus-kurator-member2"),
        (HOST, "HelmRepository", "thanos"),
        (HOST, "Service", "thanos-sidecar-remote"),
        ("kurator-member1", "Secret", "thanos-objstore"),
        ("kurator-member2", "Secret", "thanos-objstore"),
    ]
    assert all(g.origin is docs[2] for g in objects)


def test_metric_objstore_secret_copy() -> None:
    """fleet_plugin_metric.go reconcileMetricPlugin (promSecret) + syncObjStoreSecret: the
    user's Secret data, in each member's `monitoring` namespace, with the metric labels."""
    docs = load("metric-plugin.yaml")
    objects, _ = compile_docs(docs, tuple(parse(OBJSTORE, "secret.yaml")),
                              members=members_from(docs))  # fmt: skip
    assert index(objects)[("kurator-member2", "Secret", "thanos-objstore")] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "thanos-objstore",
            "namespace": "monitoring",
            "labels": {
                "app.kubernetes.io/managed-by": "fleet-manager",
                "fleet.kurator.dev/name": "quickstart",
                "fleet.kurator.dev/plugin": "metric",
            },
        },
        "data": {"objstore.yml": b64("type: S3\n")},
    }


def test_metric_sidecar_remote_service() -> None:
    """fleet_plugin_metric.go reconcileSidecarRemoteService: the headless Service (its
    Endpoints are runtime LoadBalancer IPs and are not emitted)."""
    docs = load("metric-plugin.yaml")
    objects, _ = compile_docs(docs, tuple(parse(OBJSTORE, "secret.yaml")),
                              members=members_from(docs))  # fmt: skip
    assert index(objects)[(HOST, "Service", "thanos-sidecar-remote")] == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "thanos-sidecar-remote",
            "namespace": "default",
            "labels": {
                "app.kubernetes.io/managed-by": "fleet-manager",
                "fleet.kurator.dev/name": "quickstart",
                "fleet.kurator.dev/plugin": "metric",
            },
        },
        "spec": {
            "ports": [{"name": "grpc", "port": 10901, "protocol": "TCP", "appProtocol": "grpc"}],
            "clusterIP": "None",
        },
    }
    assert not any(g.data["kind"] == "Endpoints" for g in objects)


def test_metric_prometheus_release_per_member() -> None:
    """plugin.go RenderPrometheus + plugin.tpl for an example member: its kubeconfig Secret."""
    docs = load("metric-plugin.yaml")
    objects, _ = compile_docs(docs, tuple(parse(OBJSTORE, "secret.yaml")),
                              members=members_from(docs))  # fmt: skip
    release = index(objects)[(HOST, "HelmRelease", "prometheus-kurator-member1")]
    assert release["metadata"] == {
        "name": "prometheus-kurator-member1",
        "namespace": "default",
        "labels": {
            "app.kubernetes.io/managed-by": "fleet-manager",
            "fleet.kurator.dev/name": "quickstart",
            "fleet.kurator.dev/plugin": "metric",
            "fleet.kurator.dev/component": "prometheus",
        },
    }
    spec = release["spec"]
    assert spec["kubeConfig"] == {
        "secretRef": {"name": "kurator-member1", "key": "kurator-member1.config"}
    }
    assert spec["values"]["prometheus"]["externalLabels"] == {"cluster": "kurator-member1"}
    assert (spec["targetNamespace"], spec["storageNamespace"]) == ("monitoring", "monitoring")
    repo = index(objects)[(HOST, "HelmRepository", "prometheus-kurator-member1")]
    assert repo["spec"] == {
        "type": "oci",
        "interval": "5m0s",
        "url": "oci://registry-1.docker.io/bitnamicharts",
    }


def test_grafana_thanos_datasource() -> None:
    """fleet_plugin_grafana.go reconcileGrafanaPlugin: with metric on, Thanos is the default
    datasource; Grafana is fleet-scoped (no kubeConfig, fleet namespace)."""
    docs = load("metric-plugin.yaml")
    objects, _ = compile_docs(docs, tuple(parse(OBJSTORE, "secret.yaml")),
                              members=members_from(docs))  # fmt: skip
    spec = index(objects)[(HOST, "HelmRelease", "grafana")]["spec"]
    assert spec["values"]["datasources"] == {
        "secretDefinition": {
            "apiVersion": 1,
            "datasources": [
                {
                    "access": "proxy",
                    "isDefault": True,
                    "name": "Thanos",
                    "type": "prometheus",
                    "url": "http://default-thanos-query:9090",
                }
            ],
        }
    }
    assert "kubeConfig" not in spec
    assert (spec["targetNamespace"], spec["storageNamespace"]) == ("default", "default")


def test_kyverno_example() -> None:
    """examples/fleet/policy/kyverno.yaml: reconcileKyvernoPlugin; unset pod security fields
    take their CRD defaults (validationFailureAction Audit)."""
    docs = load("kyverno.yaml")
    objects, diagnostics = compile_docs(docs, members=members_from(docs))
    assert diagnostics == []
    found = index(objects)
    assert sorted(found) == [
        (HOST, "HelmRelease", "kyverno-kurator-member1"),
        (HOST, "HelmRelease", "kyverno-policies-kurator-member1"),
        (HOST, "HelmRepository", "kyverno-kurator-member1"),
        (HOST, "HelmRepository", "kyverno-policies-kurator-member1"),
    ]
    assert found[(HOST, "HelmRelease", "kyverno-policies-kurator-member1")]["spec"]["values"] == {
        "fullnameOverride": "kyverno-policies",
        "podSecuritySeverity": "high",
        "podSecurityStandard": "baseline",
        "validationFailureAction": "Audit",
    }


def test_submariner_example() -> None:
    """examples/fleet/network/submariner-plugin.yaml: reconcileSubmarinerPlugin puts the broker
    on brokerCluster and an operator on every member; runtime broker values are a warning."""
    docs = load("submariner-plugin.yaml")
    objects, diagnostics = compile_docs(docs, members=members_from(docs))
    found = index(objects)
    assert sorted(k for k in found if k[1] == "HelmRelease") == [
        (HOST, "HelmRelease", "sm-broker-kurator-member1"),
        (HOST, "HelmRelease", "sm-operator-kurator-member1"),
        (HOST, "HelmRelease", "sm-operator-kurator-member2"),
    ]
    assert found[(HOST, "HelmRelease", "sm-operator-kurator-member2")]["spec"]["values"] == {
        "broker": {"globalnet": True, "namespace": "submariner-k8s-broker"},
        "ipsec": {"psk": "$SUBMARINER_PSK"},
        "serviceAccounts": {
            "globalnet": {"create": True},
            "lighthouseAgent": {"create": True},
            "lighthouseCoreDns": {"create": True},
        },
        "submariner": {
            "cableDriver": "libreswan",
            "clusterCidr": "10.12.0.0/24",
            "clusterId": "kurator-member2",
            "globalCidr": "242.2.0.0/16",
            "natEnabled": False,
            "serviceCidr": "10.96.0.0/16",
            "serviceDiscovery": True,
        },
    }
    [warning] = diagnostics
    assert not warning.is_error
    assert "broker.ca, broker.token and broker.server" in warning.message
    assert "submariner-k8s-broker-sm-broker-kurator-member1-client-token" in warning.message
    assert warning.location is not None
    assert (warning.location.file, warning.location.line) == ("upstream/submariner-plugin.yaml", 34)


def test_submariner_operator_is_golden_minus_runtime_values() -> None:
    """TestRenderSubmarinerOperator's golden through compile_plugins: everything but the three
    values Kurator reads from the broker cluster."""
    doc = fleet_doc("fleet-1", "    submariner:\n"
                "      brokerCluster: cluster1\n"
                "      clusterCidrs: {cluster1: 10.244.0.0/24}\n"
                "      serviceCidrs: {cluster1: 10.96.0.0/16}\n"
                "      globalcidrs: {cluster1: 242.0.0.0/24}\n")  # fmt: skip
    members = tuple(
        Member(n, "AttachedCluster", "default", {}, n, "kubeconfig.yaml")
        for n in ("cluster1", "cluster2")
    )
    objects, _ = compile_docs([doc], members=members)
    expected = golden("sm-operator/default.yaml")
    for key in ("ca", "token", "server"):
        del expected[1]["spec"]["values"]["broker"][key]
    found = index(objects)
    assert [found[(HOST, "HelmRepository", "sm-operator-cluster1")],
            found[(HOST, "HelmRelease", "sm-operator-cluster1")]] == expected  # fmt: skip


def test_submariner_globalnet_stays_on_without_global_cidr() -> None:
    """RenderSubmarinerOperator sets globalnet false without a global CIDR, but sprig's merge in
    plugin.tpl treats false as empty and the chart default (true) wins."""
    doc = fleet_doc("f", "    submariner: {clusterCidrs: {}, serviceCidrs: {}}\n")  # fmt: skip
    objects, _ = compile_docs([doc])
    values = index(objects)[(HOST, "HelmRelease", "sm-operator-kurator-member1")]["spec"]["values"]
    assert values["broker"]["globalnet"] is True
    assert values["serviceAccounts"]["globalnet"] == {"create": True}
    assert values["submariner"]["globalCidr"] == ""
    assert (HOST, "HelmRelease", "sm-broker-kurator-member1") in index(objects)  # first cluster


BACKUP_SECRETS = """\
apiVersion: v1
kind: Secret
metadata: {name: minio-credentials, namespace: default}
stringData: {access-key: minio, secret-key: minio123}
---
apiVersion: v1
kind: Secret
metadata: {name: obs-credentials}
data: {access-key: QUs=, secret-key: U0s=}
"""


@pytest.mark.parametrize(
    ("fleet_index", "secret", "cloud", "bucket"),
    [
        (0, "quickstart-velero-s3", "[default]\naws_access_key_id=minio\n"
         "aws_secret_access_key=minio123", "velero"),
        (1, "quickstart-velero-obs", "[default]\naws_access_key_id=AK\n"
         "aws_secret_access_key=SK", "kurator-obs"),
    ],
)  # fmt: skip
def test_backup_velero_credentials_secret(
    fleet_index: int, secret: str, cloud: str, bucket: str
) -> None:
    """docs backup-plugin.md Fleets: fleet_plugin_backup.go buildAWSSecret (aws, and
    huaweicloud with its own name) in each member's velero namespace."""
    fleet_doc = load("backup-plugin.yaml")[fleet_index]
    objects, diagnostics = compile_docs([fleet_doc], tuple(parse(BACKUP_SECRETS, "s.yaml")))
    assert diagnostics == []
    found = index(objects)
    for member in ("kurator-member1", "kurator-member2"):
        assert found[(member, "Secret", secret)] == {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret,
                "namespace": "velero",
                "labels": {"fleet.kurator.dev/plugin": "backup"},
            },
            "data": {"cloud": b64(cloud)},
            "type": "Opaque",
        }
        values = found[(HOST, "HelmRelease", f"velero-{member}")]["spec"]["values"]
        assert values["credentials"] == {"existingSecret": secret, "useSecret": True}
        assert values["configuration"]["backupStorageLocation"][0]["bucket"] == bucket
        assert values["configuration"]["backupStorageLocation"][0]["provider"] == "aws"


def test_backup_extra_args_cannot_turn_off_defaults() -> None:
    """plugin.tpl's sprig merge: a user `false` for a default `true` is 'empty' and loses."""
    doc = fleet_doc("quickstart", "    backup:\n"
                "      storage: {location: {bucket: b, provider: aws, endpoint: e},"
                " secretName: minio-credentials}\n"
                "      extraArgs: {deployNodeAgent: false, snapshotsEnabled: true}\n")  # fmt: skip
    objects, _ = compile_docs([doc], tuple(parse(BACKUP_SECRETS, "s.yaml")))
    values = index(objects)[(HOST, "HelmRelease", "velero-kurator-member1")]["spec"]["values"]
    assert values["deployNodeAgent"] is True
    assert values["snapshotsEnabled"] is True
    assert values["configuration"]["backupStorageLocation"][0]["config"]["region"] == ""


def test_distributed_storage_example() -> None:
    """docs distributedstorage-plugin.md Fleet: reconcileDistributedStoragePlugin, the Rook
    operator then the Ceph cluster on each member."""
    objects, diagnostics = compile_docs(load("distributedstorage-plugin.yaml"))
    assert diagnostics == []
    found = index(objects)
    assert sorted(k[2] for k in found if k[1] == "HelmRelease") == [
        "rook-ceph-kurator-member1",
        "rook-ceph-kurator-member2",
        "rook-kurator-member1",
        "rook-kurator-member2",
    ]
    assert "values" not in found[(HOST, "HelmRelease", "rook-kurator-member1")]["spec"]
    assert found[(HOST, "HelmRelease", "rook-ceph-kurator-member2")]["spec"]["values"] == {
        "cephClusterSpec": {
            "dataDirHostPath": "/var/lib/rook",
            "labels": {"mgr": {"role": "ManagerNodeLabel"}, "mon": {"role": "MonitorNodeLabel"}},
            "mgr": {"count": 2},
            "mon": {"count": 3},
        }
    }


def test_distributed_storage_drops_unknown_fields() -> None:
    """buildStorageClusterValue reads Go structs: fields Kurator's API lacks are dropped, and
    extraArgs replace a typed value (labels.mon) whole."""
    doc = fleet_doc("q", "    distributedStorage:\n      storage:\n"
                "        storage: {useAllNodes: true, useAllDevices: true,"
                " nodes: [{name: n1, devices: [{name: sdb}]}]}\n"
                "        monitor: {labels: {a: b}}\n"
                "      extraArgs: {cephClusterSpec: {labels: {mon: {c: d}}}}\n")  # fmt: skip
    objects, diagnostics = compile_docs([doc])
    spec = index(objects)[(HOST, "HelmRelease", "rook-ceph-kurator-member1")]["spec"]
    assert spec["values"]["cephClusterSpec"] == {
        "labels": {"mon": {"c": "d"}},
        "storage": {"nodes": [{"devices": [{"name": "sdb"}], "name": "n1"}], "useAllNodes": True},
    }
    [warning] = diagnostics
    assert not warning.is_error
    assert warning.location is not None
    assert (
        warning.location.pointer == "/spec/plugin/distributedStorage/storage/storage/useAllDevices"
    )


def test_rollout_example_istio() -> None:
    """docs rollout-plugin.md Fleet: reconcileFlaggerPlugin (Flagger + public testloader in
    istio-system); reconcileProviderPlugin installs nothing for istio."""
    objects, diagnostics = compile_docs(load("rollout-plugin.yaml"))
    assert diagnostics == []
    assert sorted(k[2] for k in index(objects) if k[1] == "HelmRelease") == [
        "flagger-kurator-member1",
        "flagger-kurator-member2",
        "testloader-kurator-member1",
        "testloader-kurator-member2",
    ]


@pytest.mark.parametrize(
    ("provider", "namespace", "chart"),
    [("kuma", "kuma-system", "kuma"), ("nginx", "ingress-nginx", "ingress-nginx")],
)
def test_flagger_provider_chart(provider: str, namespace: str, chart: str) -> None:
    """fleet_plugin_provider.go reconcileProviderPlugin / RenderProvider; nginx Flagger values
    from RenderFlagger."""
    doc = fleet_doc("q", f"    flagger: {{trafficRoutingProvider: {provider},"
                " config: {extraArgs: {replicaCount: 2}}}\n")  # fmt: skip
    objects, diagnostics = compile_docs([doc])
    assert diagnostics == []
    found = index(objects)
    release = found[(HOST, "HelmRelease", f"{provider}-kurator-member1")]
    assert release["metadata"]["labels"]["fleet.kurator.dev/plugin"] == provider
    assert release["spec"]["chart"]["spec"]["chart"] == chart
    assert release["spec"]["targetNamespace"] == namespace
    assert release["spec"]["values"]["replicaCount"] == 2
    flagger = found[(HOST, "HelmRelease", "flagger-kurator-member1")]["spec"]
    assert flagger["targetNamespace"] == namespace
    if provider == "nginx":
        assert release["spec"]["values"]["controller"]["podAnnotations"] == {
            "prometheus.io/port": 10254,
            "prometheus.io/scrape": True,
        }
        assert flagger["values"] == {
            "meshProvider": "nginx",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "prometheus": {"install": True},
        }


def test_fleet_without_plugins_yields_nothing() -> None:
    """examples/fleet/fleet.yaml (a provisioned Cluster from quickstart.yaml): no plugin."""
    cluster = load("quickstart.yaml")[0].data
    member = Member("quickstart", "Cluster", "test", {},
                    cluster["spec"]["credential"]["secretRef"], "value")  # fmt: skip
    assert compile_docs(load("fleet.yaml"), members=(member,)) == ([], [])


def test_chart_block_replaces_the_whole_default_chart() -> None:
    """plugin.go mergeChartConfig: `chart: {version: x}` blanks the chart's name and repository
    (and the kyverno chart block applies to kyverno-policies too)."""
    doc = fleet_doc("q", "    policy:\n      kyverno:\n"
                "        chart: {version: 3.1.0}\n        podSecurity: {}\n")  # fmt: skip
    objects, diagnostics = compile_docs([doc], members=MEMBERS[:1])
    found = index(objects)
    for name in ("kyverno-kurator-member1", "kyverno-policies-kurator-member1"):
        release = found[(HOST, "HelmRelease", name)]
        assert release["spec"]["chart"]["spec"]["chart"] == ""
        assert release["spec"]["chart"]["spec"]["version"] == "3.1.0"
        assert found[(HOST, "HelmRepository", name)]["spec"] == {
            "type": "default", "interval": "5m0s", "url": ""}  # fmt: skip
    assert {d.message.split(":")[0] for d in diagnostics} == {"chart sets no repository, name"}
    assert all(not d.is_error for d in diagnostics)
    assert diagnostics[0].location is not None
    assert diagnostics[0].location.line == 8


def test_merge_functions() -> None:
    """transform.MergeMaps (b wins, nested maps merged) and sprig merge (dst wins unless empty)."""
    assert merge_maps({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4}) == {
        "a": {"x": 1, "y": 3}, "b": 1, "c": 4}  # fmt: skip
    dst = {"a": "", "b": [], "c": {"d": 0, "e": "kept"}, "f": "kept", "g": None}
    src = {"a": "x", "b": [1], "c": {"d": 5, "e": "lost", "h": 1}, "f": "lost", "g": 1, "i": None}
    assert fill_empty(dst, src) == {
        "a": "x", "b": [1], "c": {"d": 5, "e": "kept", "h": 1}, "f": "kept", "g": 1}  # fmt: skip


# --- errors ------------------------------------------------------------------------------------


def test_error_metric_objstore_secret_missing() -> None:
    """reconcileMetricPlugin fails when the object store Secret cannot be read."""
    docs = load("metric-plugin.yaml")
    _, diagnostics = compile_docs(docs, members=members_from(docs))
    message, where = only_error(diagnostics)
    assert "Secret default/thanos-objstore is not among the input objects" in message
    assert where.pointer == "/spec/plugin/metric/thanos/objectStoreConfig/secretName"
    assert (where.file, where.line) == ("upstream/metric-plugin.yaml", 37)


def test_error_metric_secret_name_required() -> None:
    """ThanosConfig.objectStoreConfig.secretName is required by the CRD."""
    doc = fleet_doc("q", "    metric: {thanos: {}}\n")  # fmt: skip
    objects, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert "secretName is required" in message
    assert where.pointer == "/spec/plugin/metric/thanos/objectStoreConfig"
    assert objects == []


def test_error_sops_secret_cannot_be_copied() -> None:
    """A SOPS-encrypted object store Secret cannot be read offline."""
    secret = secret_docs(
        "thanos-objstore", "data: {objstore.yml: 'ENC[abc]'}\nsops: {version: 3.8.1}\n"
    )
    _, diagnostics = compile_docs(load("metric-plugin.yaml"), secret)
    message, where = only_error(diagnostics)
    assert "SOPS-encrypted" in message
    assert (where.file, where.line) == ("s.yaml", 5)


def test_error_secret_data_not_base64() -> None:
    """Secret data must be base64, as the API server would demand."""
    secret = secret_docs("thanos-objstore", "data:\n  objstore.yml: not base64!\n")
    _, diagnostics = compile_docs(load("metric-plugin.yaml"), secret)
    message, where = only_error(diagnostics)
    assert message == "Secret data 'objstore.yml' is not valid base64"
    assert (where.line, where.pointer) == (5, "/data/objstore.yml")


def test_error_extra_args_not_a_mapping() -> None:
    """plugin.go toMap: extraArgs must unmarshal into a map."""
    doc = fleet_doc("q", "    grafana: {extraArgs: [1]}\n")  # fmt: skip
    _, diagnostics = compile_docs([doc])
    _, where = only_error(diagnostics)
    assert where.pointer == "/spec/plugin/grafana/extraArgs"


@pytest.mark.parametrize("provider", ["gcp", "azure"])
def test_error_backup_stub_provider(provider: str) -> None:
    """fleet_plugin_backup.go buildGCPSecret/buildAzureSecret are stubs returning nil."""
    doc = fleet_doc("q", "    backup:\n"
                f"      storage: {{location: {{bucket: b, provider: {provider}, endpoint: e}},"
                " secretName: s}\n")  # fmt: skip
    objects, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert "not implemented by Kurator" in message
    assert where.pointer == "/spec/plugin/backup/storage/location/provider"
    assert objects == []


def test_error_backup_unknown_provider() -> None:
    """fleet_plugin_backup.go buildNewSecret: unknown objStoreProvider."""
    doc = fleet_doc("q", "    backup:\n"
                "      storage: {location: {bucket: b, provider: s3, endpoint: e},"
                " secretName: s}\n")  # fmt: skip
    _, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert message.startswith("unknown backup provider 's3'")
    assert where.pointer == "/spec/plugin/backup/storage/location/provider"


def test_error_backup_secret_name_required() -> None:
    """BackupStorage.secretName is required by the CRD."""
    doc = fleet_doc("q", "    backup:\n"
                "      storage: {location: {bucket: b, provider: aws, endpoint: e}}\n")  # fmt: skip
    _, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert "secretName is required" in message
    assert where.pointer == "/spec/plugin/backup/storage"


def test_error_backup_secret_missing() -> None:
    """getObjStoreCredentials fails when the user's Secret does not exist."""
    _, diagnostics = compile_docs(load("backup-plugin.yaml")[:1])
    message, where = only_error(diagnostics)
    assert "Secret default/minio-credentials is not among the input objects" in message
    assert where.pointer == "/spec/plugin/backup/storage/secretName"


def test_warning_backup_secret_without_keys() -> None:
    """getObjStoreCredentials reads missing keys as empty strings: a warning, not an error."""
    secret = secret_docs("minio-credentials", "stringData: {access-key: a}\n")
    objects, diagnostics = compile_docs(load("backup-plugin.yaml")[:1], secret)
    [warning] = diagnostics
    assert not warning.is_error
    assert "has no secret-key" in warning.message
    data = index(objects)[("kurator-member1", "Secret", "quickstart-velero-s3")]["data"]
    assert data == {"cloud": b64("[default]\naws_access_key_id=a\naws_secret_access_key=")}


@pytest.mark.parametrize(
    ("flagger", "pointer"),
    [
        ("{trafficRoutingProvider: linkerd}", "/spec/plugin/flagger/trafficRoutingProvider"),
        ("{publicTestloader: true}", "/spec/plugin/flagger"),
    ],
)
def test_error_flagger_provider(flagger: str, pointer: str) -> None:
    """RenderProvider has no chart for other providers; the CRD requires one."""
    doc = fleet_doc("q", f"    flagger: {flagger}\n")  # fmt: skip
    _, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert "is not one Kurator installs Flagger for" in message
    assert where.pointer == pointer


def test_error_submariner_needs_two_clusters() -> None:
    """reconcileSubmarinerPlugin: `fleetClusters number < 2`."""
    docs = load("submariner-plugin.yaml")
    objects, diagnostics = compile_docs(docs, members=members_from(docs)[:1])
    message, where = only_error(diagnostics)
    assert "at least 2 clusters" in message
    assert (where.line, where.pointer) == (34, "/spec/plugin/submariner")
    assert objects == []


def test_error_submariner_unknown_broker_cluster() -> None:
    """reconcileSubmarinerPlugin finds no broker cluster (upstream then dereferences nil)."""
    doc = fleet_doc("q", "    submariner:\n"
                "      brokerCluster: nowhere\n")  # fmt: skip
    _, diagnostics = compile_docs([doc])
    message, where = only_error(diagnostics)
    assert message == (
        "brokerCluster 'nowhere', where the Submariner broker goes, is not a cluster of this fleet"
    )
    assert (where.line, where.pointer) == (
        7,
        "/spec/plugin/submariner/brokerCluster",
    )


@pytest.mark.parametrize(
    "plugin",
    [
        "    [1]\n",
        "    {metric: x, grafana: 3, policy: {kyverno: 1}, backup: [], flagger: {config: 7}}\n",
        "    {flagger: {trafficRoutingProvider: [x]}}\n",
        "    {backup: {storage: {location: {provider: [a]}}}}\n",
        "    {distributedStorage: {storage: {storage: {nodes: [1, {devices: [3]}]}}}}\n",
        "    {submariner: {brokerCluster: [1], clusterCidrs: 4}}\n",
    ],
)
def test_malformed_plugin_blocks_are_diagnostics_not_tracebacks(plugin: str) -> None:
    """Wrong types read as empty or as errors with positions, never as exceptions."""
    _, diagnostics = compile_docs([fleet_doc("q", plugin)])
    assert all(d.location is not None for d in diagnostics)


def test_error_two_fleets_make_the_same_object() -> None:
    """Two Fleets in one namespace would fight over fleet-scoped releases like `grafana`."""
    first = fleet_doc("one", "    grafana: {}\n")
    second = load_stream(
        "apiVersion: fleet.kurator.dev/v1alpha1\nkind: Fleet\n"
        "metadata: {name: two, namespace: default}\nspec:\n  plugin:\n    grafana: {}\n",
        "two.yaml",
    )[0]
    objects, diagnostics = compile_docs([first, second])
    assert [e.render() for e in errors(diagnostics)] == [
        f"two.yaml:5:3: error: Fleets default/one and default/two both make {kind} "
        "default/grafana on the host, which Kurator would let them overwrite in turn; rename or "
        "merge the fleets (at /spec/plugin)"
        for kind in ("HelmRelease", "HelmRepository")
    ]
    assert len(objects) == 2


def test_flagger_extra_args_reach_the_testloader_and_storage_chart_reaches_rook_ceph() -> None:
    """RenderRolloutTestloader passes Flagger's extraArgs; RenderClusterStorage merges the
    operator's chart block into the rook-ceph chart (mergeChartConfig)."""
    doc = fleet_doc(
        "q",
        "    flagger: {trafficRoutingProvider: istio, publicTestloader: true,"
        " extraArgs: {replicaCount: 2}}\n"
        "    distributedStorage:\n"
        "      chart: {repository: 'oci://example.com/charts', name: rook-ceph, version: 1.12.0}\n"
        "      storage: {}\n",
    )
    objects, diagnostics = compile_docs([doc], members=MEMBERS[:1])
    assert diagnostics == []
    found = index(objects)
    testloader = found[(HOST, "HelmRelease", "testloader-kurator-member1")]["spec"]
    assert testloader["values"] == {"replicaCount": 2}
    ceph = found[(HOST, "HelmRelease", "rook-ceph-kurator-member1")]["spec"]
    assert ceph["chart"]["spec"]["chart"] == "rook-ceph"
    assert ceph["values"] == {"cephClusterSpec": {}}
    assert found[(HOST, "HelmRepository", "rook-ceph-kurator-member1")]["spec"]["type"] == "oci"
