"""Output validation: emitted objects against Kubernetes (kubernetes-validate) and CRD schemas."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kurator_compile.errors import Diagnostic, Severity, SourceLocation
from kurator_compile.outputcheck import (
    REMOVALS,
    OutputValidator,
    SchemaStore,
    api_lifecycle,
    parse_kube_version,
    validate_object,
)
from kurator_compile.outputcheck.crd import prepare_crd_schema
from kurator_compile.outputcheck.store import builtin_filename
from kurator_compile.yamldoc import Document, load_stream

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.0.0
          ports:
            - containerPort: 8080
              name: http
          resources:
            requests: {cpu: 500m, memory: 128Mi}
            limits: {cpu: 2, memory: 1Gi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: 8080}
    - {name: named, port: 81, targetPort: http}
    - {name: quoted, port: 82, targetPort: "8080"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
data:
  LOG_LEVEL: info
"""


def documents(text: str, file: str = "apps/web.yaml") -> list[Document]:
    return load_stream(text, file)


def web() -> Document:
    return documents(WEB)[0]


def no_position(pointer: str) -> SourceLocation:
    return SourceLocation("in-memory.yaml", 1, 1, pointer)


def messages(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.message for d in diagnostics]


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    """Shared by the read-only tests: loading schemas once keeps the file fast."""
    return SchemaStore()


def check(store: SchemaStore, obj: Any, version: str | None = "1.30") -> list[Diagnostic]:
    return validate_object(store, obj, version, "c1", no_position)


# -- built-in kinds --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.25", "1.30", "v1.29.4"])
def test_valid_deployment_service_configmap_pass(store: SchemaStore, version: str) -> None:
    for doc in documents(WEB):
        assert validate_object(store, doc.data, version, "c1", doc.locate) == []


def test_unknown_field_is_an_error_at_the_key_as_written() -> None:
    doc = documents(WEB.replace("  replicas: 3\n", "  replicass: 3\n"))[0]
    found = validate_object(SchemaStore(), doc.data, "1.30", "cluster-beijing", doc.locate)
    assert messages(found) == [
        "cluster cluster-beijing: Deployment.apps/shop/web: spec.replicass: unknown field "
        "(did you mean 'replicas'?)"
    ]
    assert found[0].location == SourceLocation("apps/web.yaml", 8, 3, "/spec/replicass")
    assert found[0].render().startswith("apps/web.yaml:8:3: error: cluster cluster-beijing:")


def test_unknown_metadata_field_is_an_error(store: SchemaStore) -> None:
    obj = copy.deepcopy(web().data)
    obj["metadata"]["lables"] = {"a": "b"}
    assert messages(check(store, obj)) == [
        "cluster c1: Deployment.apps/shop/web: metadata.lables: unknown field "
        "(did you mean 'labels'?)"
    ]


def test_wrong_type_names_field_and_expected_type(store: SchemaStore) -> None:
    doc = documents(WEB.replace("replicas: 3", "replicas: three"))[0]
    found = validate_object(store, doc.data, "1.29", "cluster-beijing", doc.locate)
    assert messages(found) == [
        "cluster cluster-beijing: Deployment.apps/shop/web: spec.replicas: "
        "'three' is not of type 'integer'"
    ]
    assert found[0].location == doc.locate("/spec/replicas")
    assert (found[0].location.line, found[0].location.column) == (8, 3)


def test_missing_required_field(store: SchemaStore) -> None:
    obj = copy.deepcopy(web().data)
    del obj["spec"]["selector"]
    assert messages(check(store, obj)) == [
        "cluster c1: Deployment.apps/shop/web: spec: 'selector' is a required property"
    ]


def test_loose_mode_accepts_unknown_fields() -> None:
    obj = copy.deepcopy(web().data)
    obj["spec"]["replicass"] = 3
    obj["metadata"]["lables"] = {}
    assert check(SchemaStore(loose=True), obj) == []
    obj["spec"]["replicas"] = "three"
    assert len(check(SchemaStore(loose=True), obj)) == 1


@pytest.mark.parametrize("value", [80, "80", "http", None])
def test_int_or_string_accepts_both(store: SchemaStore, value: object) -> None:
    """None as well: the API server takes a null as unset (it matches both oneOf branches)."""
    obj = copy.deepcopy(documents(WEB)[1].data)
    obj["spec"]["ports"][0]["targetPort"] = value
    assert check(store, obj) == []


@pytest.mark.parametrize("value", [1.5, True, {"port": 80}])
def test_int_or_string_rejects_other_types(store: SchemaStore, value: object) -> None:
    obj = copy.deepcopy(documents(WEB)[1].data)
    obj["spec"]["ports"][0]["targetPort"] = value
    shown = "{...}" if isinstance(value, dict) else repr(value)
    assert messages(check(store, obj)) == [
        f"cluster c1: Service/shop/web: spec.ports[0].targetPort: {shown} is not of type "
        "'string' or 'integer'"
    ]


@pytest.mark.parametrize("cpu", ["500m", "2", 2, 0.5])
def test_quantities_accept_strings_and_numbers(store: SchemaStore, cpu: object) -> None:
    obj = copy.deepcopy(web().data)
    obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = cpu
    assert check(store, obj) == []


def test_odd_keys_are_quoted_in_the_path(store: SchemaStore) -> None:
    obj = copy.deepcopy(web().data)
    obj["metadata"]["annotations"] = {"example.com/owner": 5}
    assert messages(check(store, obj)) == [
        'cluster c1: Deployment.apps/shop/web: metadata.annotations["example.com/owner"]: '
        "5 is not of type 'string'"
    ]


def test_object_without_api_version_is_an_error(store: SchemaStore) -> None:
    assert messages(check(store, {"kind": "ConfigMap"})) == [
        "cluster c1: object has no apiVersion and kind to validate against"
    ]


# -- API versions that clusters no longer serve ----------------------------------------------

PDB = {
    "apiVersion": "policy/v1beta1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
}


def test_removed_api_names_its_replacement(store: SchemaStore) -> None:
    found = check(store, PDB, "1.25")
    assert messages(found) == [
        "cluster c1: PodDisruptionBudget.policy/shop/web: policy/v1beta1 PodDisruptionBudget "
        "was removed in 1.25; use policy/v1"
    ]
    assert found[0].is_error
    assert found[0].location == no_position("/apiVersion")
    replaced = {**PDB, "apiVersion": "policy/v1"}
    assert check(store, replaced, "1.25") == []


def test_replacement_is_one_the_cluster_serves() -> None:
    api = "flowcontrol.apiserver.k8s.io/v1beta2"
    assert api_lifecycle(api, "FlowSchema", (1, 28)) == (
        Severity.WARNING,
        f"{api} FlowSchema is deprecated since 1.26 and removed in 1.29; "
        "use flowcontrol.apiserver.k8s.io/v1beta3",
    )
    assert api_lifecycle(api, "FlowSchema", (1, 29)) == (
        Severity.ERROR,
        f"{api} FlowSchema was removed in 1.29; use flowcontrol.apiserver.k8s.io/v1",
    )
    assert api_lifecycle(api, "FlowSchema", (1, 25)) is None
    assert api_lifecycle("policy/v1beta1", "PodSecurityPolicy", (1, 30)) is not None
    assert api_lifecycle("networking.k8s.io/v1beta1", "ServiceCIDR", (1, 36)) is None


def test_deprecated_api_warns_and_is_still_validated(store: SchemaStore) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2beta2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "maxReplicas": "ten",
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        },
    }
    found = check(store, hpa, "1.25")
    assert [(d.severity, d.message) for d in found] == [
        (
            Severity.WARNING,
            "cluster c1: HorizontalPodAutoscaler.autoscaling/shop/web: autoscaling/v2beta2 "
            "HorizontalPodAutoscaler is deprecated since 1.23 and removed in 1.26; "
            "use autoscaling/v2",
        ),
        (
            Severity.ERROR,
            "cluster c1: HorizontalPodAutoscaler.autoscaling/shop/web: spec.maxReplicas: "
            "'ten' is not of type 'integer'",
        ),
    ]


def test_removal_table_agrees_with_the_shipped_schemas(store: SchemaStore) -> None:
    """Every entry: still there the minor before (when shipped), gone from its removal on,
    and its replacement served from the minor the entry says."""
    shipped = set(store.versions)
    for entry in REMOVALS:
        group, _, version = entry.api_version.rpartition("/")
        for kind in entry.kinds:
            name = builtin_filename(group, version, kind)
            before = (1, entry.removed - 1)
            if before in shipped:
                assert name in store.listing(before), (entry, kind)
            for minor in sorted(v for v in shipped if v >= (1, entry.removed)):
                assert name not in store.listing(minor), (entry, kind, minor)
            for replacement, since in entry.replacements:
                rgroup, _, rversion = replacement.rpartition("/")
                rname = builtin_filename(rgroup, rversion, kind)
                served = [v for v in sorted(shipped) if rname in store.listing(v)]
                if since > max(shipped)[1]:
                    assert not served, (entry, replacement)
                elif since >= 25:
                    assert served, (entry, replacement)
                    assert served[0] == (1, since), (entry, replacement)
                else:
                    assert (1, 25) in served, (entry, replacement)


def test_api_the_cluster_does_not_serve_yet_or_any_more(store: SchemaStore) -> None:
    claim = {
        "apiVersion": "resource.k8s.io/v1alpha2",
        "kind": "ResourceClaim",
        "metadata": {"name": "gpu", "namespace": "ml"},
    }
    assert messages(check(store, claim, "1.31")) == [
        "cluster c1: ResourceClaim.resource.k8s.io/ml/gpu: Kubernetes 1.31 does not serve "
        "resource.k8s.io/v1alpha2 ResourceClaim (served in 1.27 to 1.30)"
    ]


# -- versions --------------------------------------------------------------------------------


def test_parse_kube_version() -> None:
    assert parse_kube_version("1.29") == (1, 29)
    assert parse_kube_version("v1.30.2") == (1, 30)
    assert parse_kube_version("latest") is None


def test_no_kube_version_means_the_newest_shipped(store: SchemaStore) -> None:
    assert store.default_version == f"1.{store.versions[-1][1]}"
    assert store.versions[0] == (1, 25)
    assert check(store, web().data, None) == []
    assert messages(check(store, PDB, None))[0].endswith("use policy/v1")


def test_versions_outside_the_shipped_range(store: SchemaStore) -> None:
    old = check(store, PDB, "1.24")
    assert [(d.severity, d.message) for d in old] == [
        (
            Severity.WARNING,
            "cluster c1: Kubernetes 1.24 is older than the oldest schemas installed (1.25); "
            "objects for it are not validated",
        )
    ]
    future = check(store, {**web().data, "bogus": 1}, "1.99")
    assert [d.severity for d in future] == [Severity.WARNING, Severity.ERROR]
    assert "is newer than the newest schemas installed" in future[0].message
    assert messages(check(store, web().data, "one")) == [
        "cluster c1: kubeVersion 'one' is not a Kubernetes version"
    ]


# -- custom resources ------------------------------------------------------------------------

APPLICATION_SET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: fleet
  namespace: argocd
spec:
  goTemplate: true
  generators:
    - clusters:
        selector:
          matchLabels: {environment: production}
  template:
    metadata:
      name: '{{.name}}-apps'
    spec:
      project: default
      source:
        repoURL: https://git.example.com/platform/fleet.git
        targetRevision: main
        path: 'rendered/clusters/{{.name}}'
      destination:
        server: '{{.server}}'
        namespace: default
      syncPolicy:
        automated: {prune: true, selfHeal: true}
"""

SCHEDULE = """\
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: daily
  namespace: velero
spec:
  schedule: 0 1 * * *
  template:
    includedNamespaces: ["*"]
    ttl: 72h0m0s
"""

PROMETHEUS = """\
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: main
  namespace: monitoring
spec:
  replicas: 2
  serviceAccountName: prometheus
  serviceMonitorSelector:
    matchLabels: {team: shop}
  resources:
    requests: {memory: 400Mi, cpu: 1}
"""

PROPAGATION = """\
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: web
  namespace: shop
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: web
  placement:
    clusterAffinity:
      clusterNames: [member1]
"""


@pytest.mark.parametrize("text", [APPLICATION_SET, SCHEDULE, PROMETHEUS, PROPAGATION])
def test_custom_resources_validate(store: SchemaStore, text: str) -> None:
    doc = documents(text)[0]
    assert validate_object(store, doc.data, "1.30", "c1", doc.locate) == []


def test_custom_resource_with_a_bad_field_fails(store: SchemaStore) -> None:
    doc = documents(SCHEDULE.replace("ttl: 72h0m0s", "ttll: 72h0m0s"))[0]
    found = validate_object(store, doc.data, "1.30", "c1", doc.locate)
    assert messages(found) == [
        "cluster c1: Schedule.velero.io/velero/daily: spec.template.ttll: unknown field "
        "(did you mean 'ttl'?)"
    ]
    assert found[0].location == SourceLocation("apps/web.yaml", 10, 5, "/spec/template/ttll")
    bad_type = documents(PROMETHEUS.replace("replicas: 2", "replicas: two"))[0]
    assert messages(check(store, bad_type.data)) == [
        "cluster c1: Prometheus.monitoring.coreos.com/monitoring/main: spec.replicas: "
        "'two' is not of type 'integer'"
    ]


def test_crd_without_additional_properties_is_strict_unless_loose(store: SchemaStore) -> None:
    """The Karmada files are upstream schemas that allow unknown fields; the API server does
    not, so neither do we (loose mode does)."""
    doc = documents(PROPAGATION.replace("  placement:", "  placment:"))[0]
    assert messages(check(store, doc.data)) == [
        "cluster c1: PropagationPolicy.policy.karmada.io/shop/web: spec.placment: unknown field "
        "(did you mean 'placement'?)"
    ]
    assert check(SchemaStore(loose=True), doc.data) == []


def test_preserve_unknown_fields_accepts_anything(store: SchemaStore) -> None:
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "redis", "namespace": "cache"},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": "redis",
                    "sourceRef": {"kind": "HelmRepository", "name": "bitnami"},
                }
            },
            "values": {"architecture": "standalone", "auth": {"enabled": False}, "x": [1]},
        },
    }
    assert check(store, release) == []


def test_null_in_a_custom_resource_is_unset(store: SchemaStore) -> None:
    """`nodeSelector:` with nothing after it: the API server prunes the null, so do we."""
    job = {
        "apiVersion": "batch.volcano.sh/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "ml"},
        "spec": {
            "minAvailable": 1,
            "schedulerName": "volcano",
            "tasks": [
                {
                    "name": "worker",
                    "replicas": 2,
                    "template": {
                        "spec": {
                            "containers": [{"name": "tf", "image": "tensorflow/tensorflow:2.8.0"}],
                            "nodeSelector": None,
                            "restartPolicy": "OnFailure",
                        }
                    },
                }
            ],
        },
    }
    assert check(store, job) == []
    job["spec"]["tasks"][0]["template"]["spec"]["nodeSelector"] = "gpu"
    assert messages(check(store, job)) == [
        "cluster c1: Job.batch.volcano.sh/ml/train: spec.tasks[0].template.spec.nodeSelector: "
        "'gpu' is not of type 'object'"
    ]


def test_re2_only_pattern_is_carried_over(store: SchemaStore) -> None:
    rule: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "shop", "namespace": "monitoring"},
        "spec": {"groups": [{"name": "g", "partial_response_strategy": "WARN", "rules": []}]},
    }
    assert check(store, rule) == []
    rule["spec"]["groups"][0]["partial_response_strategy"] = "sometimes"
    assert messages(check(store, rule)) == [
        "cluster c1: PrometheusRule.monitoring.coreos.com/monitoring/shop: "
        "spec.groups[0].partial_response_strategy: 'sometimes' does not match "
        "'^(?i)(abort|warn)?$'"
    ]


def test_flux_kustomization_is_validated_but_kustomize_files_are_not(
    store: SchemaStore,
) -> None:
    local = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "x": 1}
    assert check(store, local) == []
    flux = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"interval": "5m", "prune": True, "sourceRef": {"kind": "GitRepository"}},
    }
    assert messages(check(store, flux)) == [
        "cluster c1: Kustomization.kustomize.toolkit.fluxcd.io/flux-system/apps: "
        "spec.sourceRef: 'name' is a required property"
    ]


def test_kind_without_schema_warns_and_errors_under_strict() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    expected = (
        "cluster c1: Widget.example.com/default/w: no schema for example.com/v1 Widget: not a "
        "Kubernetes 1.30 kind and no CRD schema example.com/widget_v1.json in the schema "
        "directories; not validated"
    )
    warned = check(SchemaStore(), widget)
    assert [(d.severity, d.message) for d in warned] == [(Severity.WARNING, expected)]
    failed = check(SchemaStore(strict=True), widget)
    assert [(d.severity, d.message) for d in failed] == [(Severity.ERROR, expected)]


def test_crd_directories_are_searched_in_order(tmp_path: Path) -> None:
    """The first directory wins; CRDs in *.k8s.io groups (Gateway API) are found there too."""
    first, second = tmp_path / "first", tmp_path / "second"
    for root, required in ((first, ["gatewayClassName"]), (second, ["listeners"])):
        (root / "gateway.networking.k8s.io").mkdir(parents=True)
        schema = {"type": "object", "properties": {"spec": {"required": required}}}
        (root / "gateway.networking.k8s.io" / "gateway_v1.json").write_text(json.dumps(schema))
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "edge"},
        "spec": {"listeners": []},
    }
    assert messages(check(SchemaStore([first, second]), gateway)) == [
        "cluster c1: Gateway.gateway.networking.k8s.io/default/edge: spec: "
        "'gatewayClassName' is a required property"
    ]
    assert check(SchemaStore([second, first]), gateway) == []


def test_unreadable_crd_schema_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "widget_v1.json").write_text("{not json")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    found = check(SchemaStore([tmp_path]), widget)
    assert len(found) == 1
    assert found[0].is_error
    assert "cannot read CRD schema" in found[0].message


def test_prepare_crd_schema_follows_the_api_server() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"x-kubernetes-int-or-string": True},
                    "mode": {"type": "string", "nullable": True, "enum": ["a", "b"]},
                    "raw": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"known": {"type": "string"}},
                        "additionalProperties": False,
                    },
                },
                "anyOf": [{"properties": {"size": {"type": "integer"}}}],
            }
        },
    }
    prepared = prepare_crd_schema(copy.deepcopy(schema), loose=False)
    spec = prepared["properties"]["spec"]
    assert prepared["additionalProperties"] is False
    assert prepared["properties"]["kind"] == {}  # every object has a kind
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["anyOf"][0]  # a branch lists only some fields
    assert "additionalProperties" not in spec["properties"]["raw"]
    assert spec["properties"]["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["mode"]["type"] == ["string", "null"]  # nullable: true
    assert spec["properties"]["mode"]["enum"] == ["a", "b", None]
    assert spec["properties"]["raw"]["properties"]["known"]["type"] == "string"  # not nullable
    loose = prepare_crd_schema(copy.deepcopy(schema), loose=True)
    assert "additionalProperties" not in loose["properties"]["spec"]


# -- caching and deduplication ---------------------------------------------------------------


def test_same_object_on_many_clusters_is_validated_once() -> None:
    store = SchemaStore()
    checker = OutputValidator(store)
    bad = copy.deepcopy(web().data)
    bad["spec"]["replicass"] = 3
    clusters = [f"member{i:04d}" for i in range(1000)]
    for cluster in clusters:
        checker.check(bad, "1.30", cluster, no_position)
    assert store.validations == 1
    assert messages(checker.diagnostics) == [
        "clusters member0000, member0001, member0002 and 997 more: Deployment.apps/shop/web: "
        "spec.replicass: unknown field (did you mean 'replicas'?)"
    ]
    checker.check(copy.deepcopy(bad), "1.30", "other", no_position)  # equal, not identical
    checker.check(bad, "1.29", "older", no_position)  # another version
    assert store.validations == 3
    checker.check(bad, "v1.29.1", "older2", no_position)  # the same version, spelt otherwise
    assert store.validations == 3


def test_validator_is_compiled_once_per_version_and_kind() -> None:
    store = SchemaStore()
    first = store.builtin((1, 30), "apps/v1", "Deployment")
    assert first is not None
    assert store.builtin((1, 30), "apps/v1", "Deployment") is first
    assert store.builtin((1, 29), "apps/v1", "Deployment") is not first
    # The file name keeps only the group's first label; another group must not borrow it.
    assert store.builtin((1, 30), "apps.example.com/v1", "Deployment") is None


def test_grouped_diagnostics_use_each_call_site(store: SchemaStore) -> None:
    asked: list[str] = []

    def locate_in(file: str) -> Callable[[str], SourceLocation]:
        def locate(pointer: str) -> SourceLocation:
            asked.append(pointer)
            return SourceLocation(file, 7, 3, pointer)

        return locate

    checker = OutputValidator(store)
    bad = {**PDB}
    checker.check(bad, "1.30", "b", locate_in("apps/pdb.yaml"))
    checker.check(bad, "1.30", "a", locate_in("apps/pdb.yaml"))
    checker.check(bad, "1.30", "c", locate_in("overlays/pdb.yaml"))
    checker.check(web().data, "1.24", "old", locate_in("apps/web.yaml"))
    assert asked == ["/apiVersion"] * 3
    rendered = [d.render() for d in checker.diagnostics]
    assert rendered == [
        "warning: cluster old: Kubernetes 1.24 is older than the oldest schemas installed "
        "(1.25); objects for it are not validated",
        "apps/pdb.yaml:7:3: error: clusters a and b: PodDisruptionBudget.policy/shop/web: "
        "policy/v1beta1 PodDisruptionBudget was removed in 1.25; use policy/v1 (at /apiVersion)",
        "overlays/pdb.yaml:7:3: error: cluster c: PodDisruptionBudget.policy/shop/web: "
        "policy/v1beta1 PodDisruptionBudget was removed in 1.25; use policy/v1 (at /apiVersion)",
    ]
