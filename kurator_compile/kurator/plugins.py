"""Kurator's Plugin Manager: a Fleet's `spec.plugin` as the Flux objects its host would hold.

Mirrors kurator-dev/kurator at b6339412: `pkg/fleet-manager/fleet_plugin*.go` (which components a
plugin installs, on which clusters, and its side objects), `pkg/fleet-manager/plugin/plugin.go`
(each component's values) and `render.go` + `manifests/plugin.tpl` (the HelmRepository and
HelmRelease pair every component becomes). Chart defaults are in `plugin_charts.py`.

Deliberate differences from upstream:
- Flux's current versions (`source.toolkit.fluxcd.io/v1`, `helm.toolkit.fluxcd.io/v2`) instead of
  v1beta2/v2beta1, with the same fields; no ownerReferences (an offline Fleet has no UID).
- Kurator renders `plugin.tpl` with Go's html/template, which HTML-escapes quotes, `+`, `&`, `<`
  and `>` inside values; the objects here carry the values as data, unescaped.
- The Endpoints of `thanos-sidecar-remote` are the members' LoadBalancer IPs, known only at run
  time: the headless Service is emitted, its Endpoints are not.
- The Submariner broker's `ca`, `token` and `server`, which Kurator reads from the broker cluster
  once the broker is installed, are left out of the operator values (with a warning).
- gcp and azure backup providers are errors: upstream's credential builders for them are stubs
  that make the controller dereference a nil Secret.
- Kurator also creates the `monitoring`/`velero` Namespace in a member before copying a Secret
  there; no Namespace object is emitted here (the member's HelmRelease creates it).
- Kurator installs in stages, waiting for HelmReleases to be Ready (kyverno before its policies,
  rook before rook-ceph, the broker before the operators) and for the sidecars before the
  Service; all objects are emitted at once here, and Flux retries until the earlier stage is up.

Upstream behaviour kept as it is (each covered by a test):
- A user `chart:` block replaces repository, name *and* version (blanks included: a warning),
  and the kyverno/distributedStorage block also replaces the policies/rook-ceph chart.
- The template's sprig `merge` lets chart defaults replace "empty" user values (false, 0, ""),
  so e.g. Velero's deployNodeAgent and Submariner's globalnet cannot be turned off.
- The public testloader gets Flagger's extraArgs as its values.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Diagnostic
from ..fields import as_dict, as_list
from ..yamldoc import Document, pointer_join
from .inventory import HOST, Generated, KuratorFleet, KuratorInputs, Member
from .plugin_charts import CHARTS, PROVIDER_NAMESPACE, ChartConfig

HELM_REPOSITORY_API = "source.toolkit.fluxcd.io/v1"
HELM_RELEASE_API = "helm.toolkit.fluxcd.io/v2"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
FLEET_NAME_LABEL = "fleet.kurator.dev/name"
PLUGIN_LABEL = "fleet.kurator.dev/plugin"
COMPONENT_LABEL = "fleet.kurator.dev/component"
FLEET_MANAGER = "fleet-manager"

MONITORING_NAMESPACE = "monitoring"
VELERO_NAMESPACE = "velero"
SIDECAR_REMOTE_SERVICE = "thanos-sidecar-remote"
BROKER_NAMESPACE = "submariner-k8s-broker"

# Object-store credential Secret suffix per backup provider (fleet_plugin_backup.go).
VELERO_SECRET_SUFFIX = {"aws": "-velero-s3", "huaweicloud": "-velero-obs"}
_STUB_PROVIDERS = ("gcp", "azure")
_AWS_PLUGIN_INIT = {
    "initContainers": [
        {
            "image": "velero/velero-plugin-for-aws:v1.7.1",
            "name": "velero-plugin-for-aws",
            "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
        }
    ]
}
# Kyverno's pod security fields and their CRD defaults.
_POD_SECURITY = (
    ("standard", "podSecurityStandard", "baseline"),
    ("severity", "podSecuritySeverity", "medium"),
    ("validationFailureAction", "validationFailureAction", "Audit"),
)
# Fields of Kurator's Go types for rook storage and placement; the API server keeps unknown ones
# (x-kubernetes-preserve-unknown-fields) but Kurator's decoder drops them.
_STORAGE_FIELDS = ("nodes", "useAllNodes", "devices")
_NODE_FIELDS = ("name", "devices")
_DEVICE_FIELDS = ("name", "config")
_PLACEMENT_FIELDS = (
    "nodeAffinity",
    "podAffinity",
    "podAntiAffinity",
    "tolerations",
    "topologySpreadConstraints",
)


class GoTyped(dict[str, Any]):
    """A Go map that is not `map[string]interface{}` (a typed map or a struct): Flux's MergeMaps
    cannot descend into it, so a user value at that key replaces it whole."""


@dataclass(frozen=True)
class KubeConfigRef:
    """Kurator's KubeConfigSecretRef: the member a component goes to, and its kubeconfig."""

    name: str
    secret_name: str
    secret_key: str

    @classmethod
    def of(cls, member: Member) -> KubeConfigRef:
        return cls(member.name, member.secret_name, member.secret_key)


@dataclass
class PluginContext:
    """One Fleet being compiled, and where its diagnostics go."""

    fleet: KuratorFleet
    document: Document
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(self, diagnostic: Diagnostic) -> None:
        """Once each: components rendered per member would repeat the same finding."""
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    def error(self, message: str, pointer: str) -> None:
        self.report(Diagnostic.error(message, self.document.locate(pointer)))

    def warning(self, message: str, pointer: str) -> None:
        self.report(Diagnostic.warning(message, self.document.locate(pointer)))

    def extra_args(self, cfg: Mapping[str, Any], pointer: str) -> dict[str, Any] | None:
        """`toMap`: extraArgs as a private map, None when absent; anything but an object fails."""
        raw = cfg.get("extraArgs")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.error("extraArgs must be a mapping of chart values", f"{pointer}/extraArgs")
            return None
        return copy.deepcopy(raw)

    def chart(self, component: str, cfg: Mapping[str, Any], pointer: str) -> ChartConfig:
        """`getFleetPluginChart` + `mergeChartConfig`: a user `chart:` block replaces the default
        chart's repository, name and version all together, even the ones it leaves out."""
        default = CHARTS[component]
        user = cfg.get("chart")
        if user is None:
            return default
        user = as_dict(user)
        repo, name, version = (str(user.get(k) or "") for k in ("repository", "name", "version"))
        blank = [
            key
            for key, value in (("repository", repo), ("name", name), ("version", version))
            if not value
        ]
        if blank:
            self.warning(
                f"chart sets no {', '.join(blank)}: Kurator replaces the whole default chart "
                f"({default.repo} {default.name} {default.version}) with this block, so the "
                f"HelmRelease gets an empty {', '.join(blank)}",
                f"{pointer}/chart",
            )
        kind = "oci" if repo.startswith("oci://") else "default"
        return replace(default, type=kind, repo=repo, name=name, version=version)


def merge_maps(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """Flux's `transform.MergeMaps`: a new map where b wins, merging nested plain maps."""
    out = dict(a or {})
    for key, value in (b or {}).items():
        current = out.get(key)
        if _plain_map(value) and _plain_map(current):
            out[key] = merge_maps(current, value)
        else:
            out[key] = value
    return out


def _plain_map(value: Any) -> bool:
    """A Go `map[string]interface{}`, the only kind of map MergeMaps descends into."""
    return isinstance(value, dict) and not isinstance(value, GoTyped)


def _is_empty(value: Any) -> bool:
    """mergo's isEmptyValue on a dereferenced interface: nil, false, 0, "" and empty maps/lists."""
    if value is None or value is False:
        return True
    if isinstance(value, str | dict | list):
        return len(value) == 0
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def fill_empty(dst: dict[str, Any], src: Mapping[str, Any]) -> dict[str, Any]:
    """sprig's `merge` (mergo.Merge without override), which plugin.tpl applies to the values
    and the chart defaults: dst wins, except that an *empty* dst value (false, 0, "", {}, [])
    is replaced by the default. Maps are merged in place."""
    for key, value in src.items():
        if value is None:
            continue
        current = dst.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            fill_empty(current, value)
        if key not in dst or _is_empty(current):
            dst[key] = value
    return dst


def _plain(value: Any) -> Any:
    """Values as Kurator's toYaml writes them: keys sorted, JSON numbers (3.0 is 3)."""
    if isinstance(value, dict):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def render_fleet_plugin(
    ctx: PluginContext,
    plugin: str,
    component: str,
    chart: ChartConfig,
    values: Mapping[str, Any] | None,
    cluster: KubeConfigRef | None,
) -> list[dict[str, Any]]:
    """`renderFleetPlugin` with plugin.tpl: the HelmRepository and HelmRelease of one component,
    fleet-scoped (`cluster` None) or for one member."""
    namespace = ctx.fleet.namespace
    name = f"{component}-{cluster.name}" if cluster else component

    def metadata() -> dict[str, Any]:
        labels = {
            MANAGED_BY_LABEL: FLEET_MANAGER,
            FLEET_NAME_LABEL: ctx.fleet.name,
            PLUGIN_LABEL: plugin,
            COMPONENT_LABEL: component,
        }
        return {"name": name, "namespace": namespace, "labels": labels}

    repository = {
        "apiVersion": HELM_REPOSITORY_API,
        "kind": "HelmRepository",
        "metadata": metadata(),
        "spec": {"type": chart.type, "interval": "5m0s", "url": chart.repo},
    }
    spec: dict[str, Any] = {
        "chart": {
            "spec": {
                "chart": chart.name,
                "version": chart.version,
                "sourceRef": {"kind": "HelmRepository", "name": name},
            }
        }
    }
    merged = fill_empty(copy.deepcopy(dict(values or {})), chart.fresh_values())
    if merged:
        spec["values"] = _plain(merged)
    spec["interval"] = "1m0s"
    spec["install"] = {"createNamespace": True}
    spec["targetNamespace"] = chart.target_namespace
    spec["storageNamespace"] = chart.target_namespace if cluster else namespace
    spec["timeout"] = "15m0s"
    if cluster:
        spec["kubeConfig"] = {"secretRef": {"name": cluster.secret_name, "key": cluster.secret_key}}
    release = {
        "apiVersion": HELM_RELEASE_API,
        "kind": "HelmRelease",
        "metadata": metadata(),
        "spec": spec,
    }
    return [repository, release]


# --- one render function per upstream Render* (pkg/fleet-manager/plugin/plugin.go) -------------


def _render_with_extra_args(
    ctx: PluginContext,
    plugin: str,
    component: str,
    cfg: Mapping[str, Any],
    pointer: str,
    cluster: KubeConfigRef,
) -> list[dict[str, Any]]:
    """The plain case: the component's chart (or the user's) with extraArgs as its values."""
    chart = ctx.chart(component, cfg, pointer)
    values = ctx.extra_args(cfg, pointer)
    return render_fleet_plugin(ctx, plugin, component, chart, values, cluster)


def render_thanos(
    ctx: PluginContext, metric: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderThanos`: fleet-scoped, in the fleet's namespace; Kurator's values win over
    extraArgs."""
    thanos = as_dict(metric.get("thanos"))
    chart = replace(
        ctx.chart("thanos", thanos, f"{pointer}/thanos"), target_namespace=ctx.fleet.namespace
    )
    values = merge_maps(
        ctx.extra_args(thanos, f"{pointer}/thanos"),
        {
            "existingObjstoreSecret": _objstore_secret(metric),
            "query": {"dnsDiscovery": {"sidecarsNamespace": ctx.fleet.namespace}},
        },
    )
    return render_fleet_plugin(ctx, "metric", "thanos", chart, values, None)


def render_prometheus(
    ctx: PluginContext, cluster: KubeConfigRef, metric: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderPrometheus`: per member, labelled with the cluster's name for Thanos."""
    prometheus = as_dict(metric.get("prometheus"))
    chart = ctx.chart("prometheus", prometheus, f"{pointer}/prometheus")
    values = merge_maps(
        ctx.extra_args(prometheus, f"{pointer}/prometheus"),
        {
            "prometheus": {
                "externalLabels": {"cluster": cluster.name},
                "thanos": {"objectStorageConfig": {"secretName": _objstore_secret(metric)}},
            }
        },
    )
    return render_fleet_plugin(ctx, "metric", "prometheus", chart, values, cluster)


def render_grafana(
    ctx: PluginContext,
    grafana: Mapping[str, Any],
    pointer: str,
    datasources: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """`RenderGrafana`: fleet-scoped, with the given datasources (Thanos when metric is on)."""
    chart = replace(ctx.chart("grafana", grafana, pointer), target_namespace=ctx.fleet.namespace)
    values = ctx.extra_args(grafana, pointer)
    if datasources:
        values = merge_maps(
            values,
            {"datasources": {"secretDefinition": {"apiVersion": 1, "datasources": datasources}}},
        )
    return render_fleet_plugin(ctx, "grafana", "grafana", chart, values, None)


def render_kyverno(
    ctx: PluginContext, cluster: KubeConfigRef, kyverno: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderKyverno`: the Kyverno chart with extraArgs as values."""
    return _render_with_extra_args(ctx, "kyverno", "kyverno", kyverno, pointer, cluster)


def render_kyverno_policy(
    ctx: PluginContext, cluster: KubeConfigRef, kyverno: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderKyvernoPolicy`: the Pod Security policies chart. The user's `chart:` block (meant
    for Kyverno) replaces this chart too; extraArgs do not apply."""
    chart = ctx.chart("kyverno-policies", kyverno, pointer)
    security = as_dict(kyverno.get("podSecurity"))
    values = {value: security.get(key) or default for key, value, default in _POD_SECURITY}
    return render_fleet_plugin(ctx, "kyverno", "kyverno-policies", chart, values, cluster)


def render_velero(
    ctx: PluginContext,
    cluster: KubeConfigRef,
    backup: Mapping[str, Any],
    pointer: str,
    velero_secret: str,
) -> list[dict[str, Any]]:
    """`RenderVelero`: chart defaults + the provider's plugin init container, under Kurator's
    storage location and credentials, under extraArgs (which win here)."""
    chart = ctx.chart("velero", backup, pointer)
    location = as_dict(as_dict(backup.get("storage")).get("location"))
    provider = str(location.get("provider") or "")
    defaults = merge_maps(chart.fresh_values(), _provider_values(provider))
    config = merge_maps(
        {str(k): v for k, v in as_dict(location.get("config")).items()},
        {
            "s3Url": str(location.get("endpoint") or ""),
            "region": str(location.get("region") or ""),
            "s3ForcePathStyle": True,
        },
    )
    kurator_values = {
        "configuration": {
            "backupStorageLocation": [
                {
                    "bucket": str(location.get("bucket") or ""),
                    # Velero has no huaweicloud provider; OBS speaks S3.
                    "provider": "aws" if provider == "huaweicloud" else provider,
                    "config": config,
                }
            ]
        },
        "credentials": {"useSecret": True, "existingSecret": velero_secret},
    }
    custom = merge_maps(merge_maps({}, kurator_values), ctx.extra_args(backup, pointer))
    values = merge_maps(defaults, custom)
    return render_fleet_plugin(ctx, "backup", "velero", chart, values, cluster)


def render_storage_operator(
    ctx: PluginContext, cluster: KubeConfigRef, storage: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderStorageOperator`: the Rook operator chart with extraArgs as values."""
    return _render_with_extra_args(ctx, "storage-operator", "rook", storage, pointer, cluster)


def render_cluster_storage(
    ctx: PluginContext, cluster: KubeConfigRef, storage: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderClusterStorage`: the Ceph cluster chart. The user's `chart:` block (meant for the
    operator) replaces this chart too; extraArgs win over the built cephClusterSpec."""
    chart = ctx.chart("rook-ceph", storage, pointer)
    spec = _ceph_cluster_spec(ctx, as_dict(storage.get("storage")), f"{pointer}/storage")
    custom = merge_maps({"cephClusterSpec": spec}, ctx.extra_args(storage, pointer))
    values = merge_maps(chart.fresh_values(), custom)
    return render_fleet_plugin(ctx, "cluster-storage", "rook-ceph", chart, values, cluster)


def render_flagger(
    ctx: PluginContext, cluster: KubeConfigRef, flagger: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderFlagger`: in the provider's namespace; nginx also gets Prometheus and its mesh."""
    provider = str(flagger.get("trafficRoutingProvider") or "")
    chart = replace(
        ctx.chart("flagger", flagger, pointer),
        target_namespace=PROVIDER_NAMESPACE.get(provider, ""),
    )
    values = ctx.extra_args(flagger, pointer)
    if provider == "nginx":
        values = merge_maps(values, {"prometheus": {"install": True}, "meshProvider": "nginx"})
    return render_fleet_plugin(ctx, "flagger", "flagger", chart, values, cluster)


def render_rollout_testloader(
    ctx: PluginContext, cluster: KubeConfigRef, flagger: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderRolloutTestloader`: always the default loadtester chart, in Flagger's namespace.
    Upstream passes Flagger's extraArgs as its values."""
    provider = str(flagger.get("trafficRoutingProvider") or "")
    chart = replace(CHARTS["testloader"], target_namespace=PROVIDER_NAMESPACE.get(provider, ""))
    values = ctx.extra_args(flagger, pointer)
    return render_fleet_plugin(ctx, "testloader", "testloader", chart, values, cluster)


def render_provider(
    ctx: PluginContext, cluster: KubeConfigRef, flagger: Mapping[str, Any], pointer: str
) -> list[dict[str, Any]]:
    """`RenderProvider`: the kuma or ingress-nginx chart, tuned by the flagger `config:` block."""
    provider = str(flagger.get("trafficRoutingProvider") or "")
    chart = CHARTS[provider]
    values: dict[str, Any] | None = {}
    config = flagger.get("config")
    if config is not None:
        config = as_dict(config)
        chart = ctx.chart(provider, config, f"{pointer}/config")
        values = ctx.extra_args(config, f"{pointer}/config")
    chart = replace(chart, target_namespace=PROVIDER_NAMESPACE[provider])
    return render_fleet_plugin(ctx, provider, provider, chart, values, cluster)


def render_submariner_broker(ctx: PluginContext, cluster: KubeConfigRef) -> list[dict[str, Any]]:
    """`RenderSubmarinerBroker`: the broker chart as it is (no user chart or values)."""
    return render_fleet_plugin(
        ctx, "submariner-broker", "sm-broker", CHARTS["sm-broker"], None, cluster
    )


def render_submariner_operator(
    ctx: PluginContext,
    cluster: KubeConfigRef,
    submariner: Mapping[str, Any],
    pointer: str,
    broker: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """`RenderSubmarinerOperator`: `broker` is what Kurator reads from the broker cluster.
    Globalnet is off without a global CIDR, but the chart defaults are true and the template's
    merge treats false as empty, so it comes out on either way (as upstream)."""
    chart = ctx.chart("sm-operator", submariner, pointer)
    global_cidr = str(as_dict(submariner.get("globalcidrs")).get(cluster.name) or "")
    globalnet = bool(global_cidr)
    values = merge_maps(
        ctx.extra_args(submariner, pointer),
        {
            "broker": {**broker, "globalnet": globalnet},
            "serviceAccounts": {"globalnet": {"create": globalnet}},
            "submariner": {
                "clusterId": cluster.name,
                "clusterCidr": str(as_dict(submariner.get("clusterCidrs")).get(cluster.name) or ""),
                "serviceCidr": str(as_dict(submariner.get("serviceCidrs")).get(cluster.name) or ""),
                "globalCidr": global_cidr,
            },
        },
    )
    return render_fleet_plugin(ctx, "submariner-operator", "sm-operator", chart, values, cluster)


def _objstore_secret(metric: Mapping[str, Any]) -> str:
    thanos = as_dict(metric.get("thanos"))
    return str(as_dict(thanos.get("objectStoreConfig")).get("secretName") or "")


def _provider_values(provider: str) -> dict[str, Any]:
    """`getProviderValues`: aws and huaweicloud need Velero's AWS plugin as an init container."""
    if provider in VELERO_SECRET_SUFFIX:
        return copy.deepcopy(_AWS_PLUGIN_INIT)
    return {}


def _go_struct(
    ctx: PluginContext, value: Any, fields: tuple[str, ...], pointer: str, what: str
) -> GoTyped:
    """The value as Kurator's Go struct decodes it: unknown fields dropped (with a warning) and
    empty `omitempty` ones left out."""
    out = GoTyped()
    for key, item in as_dict(value).items():
        if key not in fields:
            ctx.warning(
                f"Kurator's {what} has no field {key!r}; its controller drops it",
                pointer_join(pointer, key),
            )
        elif not _is_empty(item):
            out[key] = item
    return out


def _storage_scope(ctx: PluginContext, value: Any, pointer: str) -> GoTyped:
    """A StorageScopeSpec: nodes (name, devices) and devices (name, config)."""
    scope = _go_struct(ctx, value, _STORAGE_FIELDS, pointer, "storage")

    def devices(items: Any, base: str) -> list[GoTyped]:
        return [
            _go_struct(ctx, d, _DEVICE_FIELDS, pointer_join(base, i), "device")
            for i, d in enumerate(as_list(items))
        ]

    if "devices" in scope:
        scope["devices"] = devices(scope["devices"], f"{pointer}/devices")
    if "nodes" in scope:
        nodes = []
        for i, node in enumerate(as_list(scope["nodes"])):
            base = f"{pointer}/nodes/{i}"
            typed = _go_struct(ctx, node, _NODE_FIELDS, base, "storage node")
            if "devices" in typed:
                typed["devices"] = devices(typed["devices"], f"{base}/devices")
            nodes.append(typed)
        scope["nodes"] = nodes
    return scope


def _ceph_cluster_spec(
    ctx: PluginContext, storage: Mapping[str, Any], pointer: str
) -> dict[str, Any]:
    """`buildStorageClusterValue`: Kurator's storage settings in rook-ceph-cluster's terms."""
    spec: dict[str, Any] = {}
    if storage.get("dataDirHostPath") is not None:
        spec["dataDirHostPath"] = storage["dataDirHostPath"]
    if storage.get("storage") is not None:
        spec["storage"] = _storage_scope(ctx, storage["storage"], f"{pointer}/storage")
    for field_name, short in (("monitor", "mon"), ("manager", "mgr")):
        daemon = storage.get(field_name)
        if daemon is None:
            continue
        daemon = as_dict(daemon)
        if daemon.get("count") is not None:
            spec[short] = {"count": daemon["count"]}
        for key in ("labels", "annotations"):
            if daemon.get(key) is not None:
                spec.setdefault(key, {})[short] = GoTyped(as_dict(daemon[key]))
        if daemon.get("placement") is not None:
            where = f"{pointer}/{field_name}/placement"
            placement = _go_struct(ctx, daemon["placement"], _PLACEMENT_FIELDS, where, "placement")
            spec.setdefault("placement", {})[short] = placement
    return spec


# --- the reconcile functions (pkg/fleet-manager/fleet_plugin_*.go) -----------------------------


@dataclass
class _FleetPlugins:
    """The objects one Fleet's plugins yield."""

    ctx: PluginContext
    resources: tuple[Document, ...]
    objects: list[Generated] = field(default_factory=list)
    read: list[Document] = field(default_factory=list)  # the input Secrets Kurator reads

    def host(self, objects: list[dict[str, Any]]) -> None:
        self.objects.extend(Generated(HOST, data, self.ctx.document) for data in objects)

    def member(self, member: Member, data: dict[str, Any]) -> None:
        self.objects.append(Generated(member.name, data, self.ctx.document))

    @property
    def members(self) -> tuple[Member, ...]:
        return self.ctx.fleet.members

    def secret_data(self, name: str, pointer: str) -> dict[str, bytes] | None:
        """The user's Secret `name` in the fleet's namespace, decoded as the API server holds
        it (`stringData` folded into `data`); None, with an error, if it cannot be read."""
        namespace = self.ctx.fleet.namespace
        for doc in self.resources:
            data = as_dict(doc.data)
            meta = as_dict(data.get("metadata"))
            if (
                data.get("apiVersion") == "v1"
                and data.get("kind") == "Secret"
                and meta.get("name") == name
                and (meta.get("namespace") or "default") == namespace
            ):
                self.read.append(doc)
                return self._decode(doc)
        self.ctx.error(
            f"Secret {namespace}/{name} is not among the input objects; Kurator reads it from "
            "the fleet's namespace",
            pointer,
        )
        return None

    def _decode(self, doc: Document) -> dict[str, bytes] | None:
        if "sops" in doc.data:
            self.ctx.report(
                Diagnostic.error(
                    "this Secret is SOPS-encrypted: Kurator copies its decrypted data, which an "
                    "offline compile cannot read; give the plugin a Secret it can read",
                    doc.locate("/sops"),
                )
            )
            return None
        out: dict[str, bytes] = {}
        ok = True
        for key, value in as_dict(doc.data.get("data")).items():
            try:
                out[str(key)] = base64.b64decode(str(value or ""), validate=True)
            except (binascii.Error, ValueError):
                ok = False
                self.ctx.report(
                    Diagnostic.error(
                        f"Secret data {key!r} is not valid base64",
                        doc.locate(pointer_join("/data", key)),
                    )
                )
        for key, value in as_dict(doc.data.get("stringData")).items():
            out[str(key)] = str("" if value is None else value).encode()
        return out if ok else None

    # metric: reconcileMetricPlugin
    def metric(self, cfg: dict[str, Any], pointer: str) -> None:
        secret_name = _objstore_secret(cfg)
        if not secret_name:
            self.ctx.error(
                "metric.thanos.objectStoreConfig.secretName is required: it names the Secret "
                "holding the Thanos object store configuration",
                f"{pointer}/thanos/objectStoreConfig",
            )
            return
        self.host(render_thanos(self.ctx, cfg, pointer))
        data = self.secret_data(secret_name, f"{pointer}/thanos/objectStoreConfig/secretName")
        labels = _metric_labels(self.ctx.fleet.name)
        for member in self.members:
            if data is not None:
                self.member(member, _secret(secret_name, MONITORING_NAMESPACE, labels, data))
            self.host(render_prometheus(self.ctx, KubeConfigRef.of(member), cfg, pointer))
        self.host([_sidecar_remote_service(self.ctx.fleet)])

    # grafana: reconcileGrafanaPlugin
    def grafana(self, cfg: dict[str, Any], pointer: str, metric_on: bool) -> None:
        datasources = []
        if metric_on:
            datasources.append(
                {
                    "name": "Thanos",
                    "type": "prometheus",
                    "url": f"http://{self.ctx.fleet.namespace}-thanos-query:9090",
                    "access": "proxy",
                    "isDefault": True,
                }
            )
        self.host(render_grafana(self.ctx, cfg, pointer, datasources))

    # policy.kyverno: reconcileKyvernoPlugin
    def kyverno(self, cfg: dict[str, Any], pointer: str) -> None:
        for member in self.members:
            self.host(render_kyverno(self.ctx, KubeConfigRef.of(member), cfg, pointer))
        if cfg.get("podSecurity") is not None:
            for member in self.members:
                self.host(render_kyverno_policy(self.ctx, KubeConfigRef.of(member), cfg, pointer))

    # backup: reconcileBackupPlugin
    def backup(self, cfg: dict[str, Any], pointer: str) -> None:
        storage = as_dict(cfg.get("storage"))
        raw = as_dict(storage.get("location")).get("provider")
        provider = _text(raw)
        where = f"{pointer}/storage/location/provider"
        if provider in _STUB_PROVIDERS:
            self.ctx.error(
                f"backup provider {provider!r} is not implemented by Kurator (its credential "
                "Secret builder is a stub); use aws or huaweicloud",
                where,
            )
            return
        if provider not in VELERO_SECRET_SUFFIX:
            self.ctx.error(
                f"unknown backup provider {raw!r}: Kurator supports aws and huaweicloud",
                where,
            )
            return
        user_secret = storage.get("secretName")
        if not isinstance(user_secret, str) or not user_secret:
            self.ctx.error(
                "backup.storage.secretName is required: it names the Secret holding the "
                "object store's access-key and secret-key",
                f"{pointer}/storage",
            )
            return
        data = self.secret_data(user_secret, f"{pointer}/storage/secretName")
        if data is None:
            return
        missing = [key for key in ("access-key", "secret-key") if key not in data]
        if missing:
            self.ctx.warning(
                f"Secret {user_secret} has no {' or '.join(missing)}: Kurator writes an empty "
                "credential for it",
                f"{pointer}/storage/secretName",
            )
        name = self.ctx.fleet.name + VELERO_SECRET_SUFFIX[str(provider)]
        cloud = (
            b"[default]\naws_access_key_id="
            + data.get("access-key", b"")
            + b"\naws_secret_access_key="
            + data.get("secret-key", b"")
        )
        secret = _secret(name, VELERO_NAMESPACE, {PLUGIN_LABEL: "backup"}, {"cloud": cloud})
        secret["type"] = "Opaque"
        for member in self.members:
            self.host(render_velero(self.ctx, KubeConfigRef.of(member), cfg, pointer, name))
            self.member(member, copy.deepcopy(secret))

    # distributedStorage: reconcileDistributedStoragePlugin
    def distributed_storage(self, cfg: dict[str, Any], pointer: str) -> None:
        for member in self.members:
            self.host(render_storage_operator(self.ctx, KubeConfigRef.of(member), cfg, pointer))
        if cfg.get("storage") is not None:
            for member in self.members:
                ref = KubeConfigRef.of(member)
                self.host(render_cluster_storage(self.ctx, ref, cfg, pointer))

    # flagger: reconcileFlaggerPlugin and reconcileProviderPlugin
    def flagger(self, cfg: dict[str, Any], pointer: str) -> None:
        raw = cfg.get("trafficRoutingProvider")
        provider = _text(raw)
        if provider not in PROVIDER_NAMESPACE:
            self.ctx.error(
                f"trafficRoutingProvider {raw!r} is not one Kurator installs Flagger for: "
                f"use one of {', '.join(sorted(PROVIDER_NAMESPACE))}",
                f"{pointer}/trafficRoutingProvider" if raw is not None else pointer,
            )
            return
        for member in self.members:
            ref = KubeConfigRef.of(member)
            self.host(render_flagger(self.ctx, ref, cfg, pointer))
            if cfg.get("publicTestloader") is True:
                self.host(render_rollout_testloader(self.ctx, ref, cfg, pointer))
        if provider != "istio":  # istio is installed by the user
            for member in self.members:
                self.host(render_provider(self.ctx, KubeConfigRef.of(member), cfg, pointer))

    # submariner: reconcileSubmarinerPlugin
    def submariner(self, cfg: dict[str, Any], pointer: str) -> None:
        if len(self.members) < 2:
            self.ctx.error(
                f"the submariner plugin needs at least 2 clusters in the fleet, which has "
                f"{len(self.members)}",
                pointer,
            )
            return
        broker_name = cfg.get("brokerCluster") or _first_cluster(self.ctx) or ""
        broker = next((m for m in self.members if m.name == broker_name), None)
        if broker is None:
            chosen = "brokerCluster" if cfg.get("brokerCluster") else "the first cluster"
            self.ctx.error(
                f"{chosen} {broker_name!r}, where the Submariner broker goes, is not a cluster "
                "of this fleet",
                f"{pointer}/brokerCluster" if cfg.get("brokerCluster") else pointer,
            )
            return
        self.host(render_submariner_broker(self.ctx, KubeConfigRef.of(broker)))
        self.ctx.warning(
            "Kurator fills the Submariner operators' broker.ca, broker.token and broker.server "
            f"at run time from the broker cluster {broker.name} (Secret {BROKER_NAMESPACE}/"
            f"{BROKER_NAMESPACE}-sm-broker-{broker.name}-client-token and the default/kubernetes "
            "Endpoints); the sm-operator HelmReleases here leave them out, and the operators "
            "cannot join the broker until they are supplied",
            pointer,
        )
        static_broker = {"namespace": BROKER_NAMESPACE}
        for member in self.members:
            ref = KubeConfigRef.of(member)
            self.host(render_submariner_operator(self.ctx, ref, cfg, pointer, static_broker))


def _text(value: Any) -> str | None:
    """A field that should be a string; anything else (unhashable too) is no valid choice."""
    return value if isinstance(value, str) else None


def _first_cluster(ctx: PluginContext) -> str | None:
    """`fleet.Spec.Clusters[0].Name`, the default broker cluster."""
    clusters = as_list(as_dict(as_dict(ctx.document.data).get("spec")).get("clusters"))
    if clusters:
        name = as_dict(clusters[0]).get("name")
        return str(name) if name is not None else None
    return ctx.fleet.members[0].name if ctx.fleet.members else None


def _metric_labels(fleet: str) -> dict[str, str]:
    """`fleetMetricResourceLabels`."""
    return {MANAGED_BY_LABEL: FLEET_MANAGER, FLEET_NAME_LABEL: fleet, PLUGIN_LABEL: "metric"}


def _secret(
    name: str, namespace: str, labels: dict[str, str], data: Mapping[str, bytes]
) -> dict[str, Any]:
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }
    if data:
        secret["data"] = {k: base64.b64encode(data[k]).decode() for k in sorted(data)}
    return secret


def _sidecar_remote_service(fleet: KuratorFleet) -> dict[str, Any]:
    """`reconcileSidecarRemoteService`: the headless Service Thanos discovers sidecars through.
    Its Endpoints (the members' LoadBalancer IPs) exist only at run time."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": SIDECAR_REMOTE_SERVICE,
            "namespace": fleet.namespace,
            "labels": _metric_labels(fleet.name),
        },
        "spec": {
            "ports": [{"name": "grpc", "port": 10901, "protocol": "TCP", "appProtocol": "grpc"}],
            "clusterIP": "None",
        },
    }


def _enabled(cfg: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A plugin is on when its block is present and not null (a nil pointer upstream)."""
    value = cfg.get(key)
    return None if value is None else as_dict(value)


def compile_fleet_plugins(
    fleet: KuratorFleet, resources: tuple[Document, ...], read: list[Document] | None = None
) -> tuple[list[Generated], list[Diagnostic]]:
    """Every plugin of one Fleet, in the order `reconcilePlugins` lists them; the input
    Secrets it reads are added to `read`."""
    if fleet.document is None:
        return [], []
    spec = as_dict(as_dict(fleet.document.data).get("spec"))
    plugin = spec.get("plugin")
    if plugin is None:
        return [], []
    plugin = as_dict(plugin)
    context = PluginContext(fleet, fleet.document)
    run = _FleetPlugins(context, resources, read=read if read is not None else [])
    base = "/spec/plugin"
    metric = _enabled(plugin, "metric")
    if metric is not None:
        run.metric(metric, f"{base}/metric")
    grafana = _enabled(plugin, "grafana")
    if grafana is not None:
        run.grafana(grafana, f"{base}/grafana", metric is not None)
    kyverno = _enabled(as_dict(plugin.get("policy")), "kyverno")
    if kyverno is not None:
        run.kyverno(kyverno, f"{base}/policy/kyverno")
    backup = _enabled(plugin, "backup")
    if backup is not None:
        run.backup(backup, f"{base}/backup")
    storage = _enabled(plugin, "distributedStorage")
    if storage is not None:
        run.distributed_storage(storage, f"{base}/distributedStorage")
    flagger = _enabled(plugin, "flagger")
    if flagger is not None:
        run.flagger(flagger, f"{base}/flagger")
    submariner = _enabled(plugin, "submariner")
    if submariner is not None:
        run.submariner(submariner, f"{base}/submariner")
    return run.objects, run.ctx.diagnostics


def compile_plugins(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """The HelmRepository/HelmRelease pairs and side objects of every Fleet's `spec.plugin`."""
    objects: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    owners: dict[tuple[str, str, str, str, str], tuple[KuratorFleet, Generated]] = {}
    for fleet in inputs.fleets:
        found, problems = compile_fleet_plugins(fleet, inputs.resources, inputs.read)
        diagnostics.extend(problems)
        for generated in found:
            key = _object_key(generated)
            if key not in owners:
                owners[key] = (fleet, generated)
                objects.append(generated)
                continue
            first, earlier = owners[key]
            if earlier.data != generated.data:
                where = "the host" if generated.cluster == HOST else f"cluster {generated.cluster}"
                diagnostics.append(
                    Diagnostic.error(
                        f"Fleets {first.namespace}/{first.name} and {fleet.namespace}/"
                        f"{fleet.name} both make {key[2]} {key[3]}/{key[4]} on {where}, which "
                        "Kurator would let them overwrite in turn; rename or merge the fleets",
                        generated.origin.locate("/spec/plugin"),
                    )
                )
    return objects, sorted(set(diagnostics), key=Diagnostic.sort_key)


def _object_key(generated: Generated) -> tuple[str, str, str, str, str]:
    meta = as_dict(generated.data.get("metadata"))
    return (
        generated.cluster,
        str(generated.data.get("apiVersion")),
        str(generated.data.get("kind")),
        str(meta.get("namespace", "")),
        str(meta.get("name")),
    )
