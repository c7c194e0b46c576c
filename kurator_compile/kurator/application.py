"""Kurator's Application Manager (`pkg/fleet-manager/application/helper.go`, `controller.go`):
an `apps.kurator.dev/v1alpha1` Application becomes, on the host, one Flux source named after the
application and, per sync policy and selected fleet member, one Flux Kustomization or
HelmRelease that reaches the member through its kubeconfig Secret.

Kurator writes Flux's v1beta2/v2beta1 objects; current Flux serves the same fields as
source/kustomize v1 and helm v2, which is what is written here. Ownership by the Application
is left out: an offline compiler has no UID to point at.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..duration import go_duration_or_none
from ..errors import Diagnostic
from ..fields import as_dict, as_list
from ..yamldoc import Document
from .inventory import HOST, Generated, KuratorFleet, KuratorInputs, Member

APP_LABEL = "apps.kurator.dev/app-name"
APPLICATION_KIND = "Application"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
# The pseudo member Kurator names its own cluster after when an application has no fleet.
CURRENT_CLUSTER_KIND = "currentCluster"
CURRENT_CLUSTER_NAME = "host"
MAX_NAME = 63
# The application's name is a Flux object name and a label value: a DNS subdomain of at most
# a label value's 63 characters.
_APP_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")

# (field under spec.source, Flux kind, defaults from Kurator's Application CRD and Flux's v1
# CRD that land in the stored object, restricted to fields the v1 kind still has).
_SOURCES: tuple[tuple[str, str, Mapping[str, str]], ...] = (
    ("gitRepository", "GitRepository", {"timeout": "60s"}),
    ("helmRepository", "HelmRepository", {"provider": "generic", "timeout": "60s"}),
    ("ociRepository", "OCIRepository", {"provider": "generic", "timeout": "60s"}),
)
# v1beta2 fields the v1 kinds dropped: `gitImplementation` (v1 always uses go-git, Kurator's
# default) and `accessFrom` (cross-namespace ACLs, removed).
_DROPPED_SOURCE_FIELDS = {"GitRepository": ("gitImplementation", "accessFrom")}
_NESTED_SOURCE_DEFAULTS = {
    "GitRepository": ("verify", "mode", "HEAD"),
    "OCIRepository": ("verify", "provider", "cosign"),
}

# Kurator's Kustomization subset, in the order helper.go copies it; durations are Go
# `metav1.Duration`s and round-trip through Go's formatting.
_KUSTOMIZATION_FIELDS = (
    "dependsOn",
    "interval",
    "retryInterval",
    "path",
    "prune",
    "patches",
    "images",
    "suspend",
    "targetNamespace",
    "timeout",
    "force",
    "components",
)
_KUSTOMIZATION_DURATIONS = ("interval", "retryInterval", "timeout")
_HELM_FIELDS = (
    "interval",
    "suspend",
    "releaseName",
    "targetNamespace",
    "dependsOn",
    "timeout",
    "maxHistory",
    "serviceAccountName",
    "persistentClient",
    "install",
    "upgrade",
    "rollback",
    "uninstall",
    "valuesFrom",
    "values",
)
_HELM_DURATIONS = ("interval", "timeout")
_HELM_ACTIONS = ("install", "upgrade", "rollback", "uninstall")  # each has a `timeout`
# Pointer-typed fields of Kurator's Kustomization/HelmRelease: kept even when zero or empty.
_POINTER_FIELDS = frozenset(
    ("retryInterval", "timeout", "maxHistory", "persistentClient", "values", *_HELM_ACTIONS)
)


@dataclass(frozen=True)
class PolicyDestination:
    """Where one sync policy of one Application goes, and why each fleet member is in or out."""

    app: Document
    index: int
    name: str  # `policy.name`, or `<app>-<index>`
    pointer: str  # /spec/syncPolicies/<index>
    fleet: KuratorFleet | None  # None: Kurator's own cluster
    match_labels: Mapping[str, str] | None
    selected: tuple[Member, ...]
    rejected: tuple[tuple[Member, str], ...]  # member, why its labels do not match

    @property
    def app_name(self) -> str:
        return app_name(self.app)

    @property
    def app_namespace(self) -> str:
        return app_namespace(self.app)

    @property
    def policy(self) -> dict[str, Any]:
        return as_dict(as_list(as_dict(self.app.data.get("spec")).get("syncPolicies"))[self.index])


def app_name(app: Document) -> str:
    return str(as_dict(app.data.get("metadata")).get("name") or "")


def app_namespace(app: Document) -> str:
    return str(as_dict(app.data.get("metadata")).get("namespace") or "default")


def policy_resource_name(policy: str, kind: str, cluster: str) -> str:
    """`generatePolicyResourceName`: lower-cased and cut to a label's 63 characters."""
    return f"{policy}-{kind}-{cluster}".lower()[:MAX_NAME]


def _label_mismatch(labels: Mapping[str, str], match_labels: Mapping[str, str]) -> str:
    """Why `labels` fail `doLabelsMatchSelector`, or "" when they match."""
    for key in sorted(match_labels):
        want = match_labels[key]
        if key not in labels:
            return f"has no label {key} (wants {key}={want})"
        if labels[key] != want:
            return f"has {key}={labels[key]} (wants {key}={want})"
    return ""


def _str_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _fleet_errors(app: Document) -> list[Diagnostic]:
    """`validateFleet` (pkg/webhooks/application_webhook.go): one fleet per application."""
    spec = as_dict(app.data.get("spec"))
    errors: list[Diagnostic] = []
    if "destination" in spec and not as_dict(spec.get("destination")).get("fleet"):
        errors.append(
            Diagnostic.error("spec.destination.fleet is required", app.locate("/spec/destination"))
        )
    default_fleet = str(as_dict(spec.get("destination")).get("fleet") or "")
    first = ""
    unset: list[int] = []
    for i, raw in enumerate(as_list(spec.get("syncPolicies"))):
        policy = as_dict(raw)
        at = f"/spec/syncPolicies/{i}/destination"
        if "destination" in policy and not as_dict(policy.get("destination")).get("fleet"):
            errors.append(Diagnostic.error(f"{dotted(at)}.fleet is required", app.locate(at)))
        fleet = str(as_dict(policy.get("destination")).get("fleet") or "")
        if not fleet:
            unset.append(i)
            continue
        if default_fleet and fleet != default_fleet:
            errors.append(
                Diagnostic.error(
                    f"destination fleet {fleet!r} must be the application's fleet "
                    f"{default_fleet!r} (spec.destination.fleet): Kurator keeps one fleet "
                    "per application",
                    app.locate(at + "/fleet"),
                )
            )
        elif not default_fleet and first and fleet != first:
            errors.append(
                Diagnostic.error(
                    f"destination fleet {fleet!r} must be the first sync policy's fleet "
                    f"{first!r}: Kurator keeps one fleet per application",
                    app.locate(at + "/fleet"),
                )
            )
        first = first or fleet
    if not default_fleet and first:
        for i in unset:
            errors.append(
                Diagnostic.error(
                    f"sync policy {i} has no destination fleet while another policy names "
                    f"{first!r}; set spec.destination.fleet or a fleet on every policy",
                    app.locate(f"/spec/syncPolicies/{i}"),
                )
            )
    return errors


def dotted(pointer: str) -> str:
    return pointer.strip("/").replace("/", ".")


def _fleet_key(spec: Mapping[str, Any]) -> tuple[str, str]:
    """`generateFleetKey`: the fleet Kurator fetches (policy 0's, else the application's) and
    where it is named."""
    first = as_dict(next(iter(as_list(spec.get("syncPolicies"))), None))
    fleet = as_dict(first.get("destination")).get("fleet")
    if fleet:
        return str(fleet), "/spec/syncPolicies/0/destination/fleet"
    return str(as_dict(spec.get("destination")).get("fleet") or ""), "/spec/destination/fleet"


def application_destinations(
    app: Document, inputs: KuratorInputs
) -> tuple[list[PolicyDestination], list[Diagnostic]]:
    """Each sync policy's members, as `syncPolicyResource` and `fetchFleetClusterList` pick them."""
    errors = _fleet_errors(app)
    spec = as_dict(app.data.get("spec"))
    name = app_name(app)
    if not name:
        errors.append(Diagnostic.error("Application needs metadata.name", app.locate("/metadata")))
    elif not _APP_NAME.fullmatch(name) or len(name) > MAX_NAME:
        errors.append(
            Diagnostic.error(
                f"Application name {name!r} is refused by the API server and could not label "
                "Kurator's Flux objects: use at most 63 lowercase letters, digits, '-' and '.'",
                app.locate("/metadata/name"),
            )
        )
    policies = as_list(spec.get("syncPolicies"))
    if not policies:
        errors.append(
            Diagnostic.error("Application needs at least one sync policy", app.locate("/spec"))
        )
    if errors:
        return [], errors
    namespace = app_namespace(app)
    fleet_name, fleet_pointer = _fleet_key(spec)
    fleet: KuratorFleet | None = None
    if fleet_name:
        fleet = inputs.fleet(fleet_name, namespace)
        if fleet is None:
            elsewhere = inputs.fleet(fleet_name)
            hint = (
                f"; a fleet of that name is in namespace {elsewhere.namespace!r}, but Kurator "
                "looks in the application's namespace"
                if elsewhere is not None
                else ""
            )
            return [], [
                Diagnostic.error(
                    f"fleet {fleet_name!r} is not among the inputs (namespace {namespace!r}){hint}",
                    app.locate(fleet_pointer),
                )
            ]
    result: list[PolicyDestination] = []
    for i, raw in enumerate(policies):
        policy = as_dict(raw)
        name = str(policy.get("name") or f"{app_name(app)}-{i}")
        destination = (
            as_dict(policy.get("destination"))
            if policy.get("destination") is not None
            else as_dict(spec.get("destination"))
        )
        match_labels = _str_map(as_dict(destination.get("clusterSelector")).get("matchLabels"))
        selected: list[Member] = []
        rejected: list[tuple[Member, str]] = []
        for member in fleet.members if fleet is not None else ():
            why = _label_mismatch(member.labels, match_labels or {})
            if why:
                rejected.append((member, why))
            else:
                selected.append(member)
        result.append(
            PolicyDestination(
                app,
                i,
                name,
                f"/spec/syncPolicies/{i}",
                fleet,
                match_labels,
                tuple(selected),
                tuple(rejected),
            )
        )
    return result, []


def _metadata(name: str, app: Document) -> dict[str, Any]:
    """`buildObjectMetaWithApplication`, without the owner reference."""
    return {"name": name, "namespace": app_namespace(app), "labels": {APP_LABEL: app_name(app)}}


def _copy_durations(
    target: dict[str, Any], fields: Iterable[str], app: Document, at: str
) -> list[Diagnostic]:
    errors: list[Diagnostic] = []
    for field in fields:
        if field not in target or target[field] is None:
            continue
        text = go_duration_or_none(target[field])
        if text is None:
            errors.append(
                Diagnostic.error(
                    f"{field}: {target[field]!r} is not a duration (e.g. 30s, 5m, 1h)",
                    app.locate(f"{at}/{field}"),
                )
            )
        else:
            target[field] = text
    return errors


def source_kind(app: Document) -> tuple[str, str] | None:
    """`findSourceKind`: (field, Flux kind) of the application's source."""
    source = as_dict(as_dict(app.data.get("spec")).get("source"))
    for field, kind, _ in _SOURCES:
        if source.get(field) is not None:
            return field, kind
    return None


def _source_object(app: Document) -> tuple[Generated | None, list[Diagnostic]]:
    """`syncSourceResource`: the source spec verbatim, plus the CRD defaults Flux stores."""
    source = as_dict(as_dict(app.data.get("spec")).get("source"))
    present = [(f, k, d) for f, k, d in _SOURCES if source.get(f) is not None]
    if not present:
        return None, [
            Diagnostic.error(
                "spec.source needs one of gitRepository, helmRepository or ociRepository",
                app.locate("/spec/source"),
            )
        ]
    diagnostics: list[Diagnostic] = []
    if len(present) > 1:
        diagnostics.append(
            Diagnostic.error(
                "spec.source may set only one of gitRepository, helmRepository or ociRepository",
                app.locate("/spec/source"),
            )
        )
        return None, diagnostics
    field, kind, defaults = present[0]
    at = f"/spec/source/{field}"
    raw = source[field]
    if not isinstance(raw, dict):
        return None, [Diagnostic.error(f"spec.source.{field} must be a mapping", app.locate(at))]
    spec = copy.deepcopy(raw)
    for required in ("interval", "url"):
        if not spec.get(required):
            diagnostics.append(
                Diagnostic.error(f"spec.source.{field}.{required} is required", app.locate(at))
            )
    for dropped in _DROPPED_SOURCE_FIELDS.get(kind, ()):
        if dropped in spec:
            value = spec.pop(dropped)
            if dropped == "gitImplementation" and value == "go-git":
                continue
            diagnostics.append(
                Diagnostic.warning(
                    f"spec.source.{field}.{dropped} is gone from Flux's {kind} v1 and is left out",
                    app.locate(f"{at}/{dropped}"),
                )
            )
    for key, value in defaults.items():
        spec.setdefault(key, value)
    nested = _NESTED_SOURCE_DEFAULTS.get(kind)
    if nested is not None and isinstance(spec.get(nested[0]), dict):
        spec[nested[0]].setdefault(nested[1], nested[2])
    diagnostics += _copy_durations(spec, ("interval", "timeout"), app, at)
    data = {
        "apiVersion": SOURCE_API,
        "kind": kind,
        "metadata": _metadata(app_name(app), app),
        "spec": spec,
    }
    return Generated(HOST, data, app), diagnostics


def _kube_config(member: Member | None) -> dict[str, Any] | None:
    """`generateKubeConfig`: the member's kubeconfig Secret, which Flux reads on the host."""
    if member is None:
        return None
    return {"secretRef": {"name": member.secret_name, "key": member.secret_key}}


def _copy_fields(given: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Copy fields as Go's JSON round trip keeps them: `omitempty` drops false, "" and empty
    lists, while Kurator's pointer fields (`_POINTER_FIELDS`) survive whenever they are set."""
    spec: dict[str, Any] = {}
    for field in fields:
        value = given.get(field)
        keep = value is not None if field in _POINTER_FIELDS else value not in (None, False, "", [])
        if keep:
            spec[field] = copy.deepcopy(value)
    return spec


def _kustomization_spec(
    dest: PolicyDestination, member: Member | None, source: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """`syncKustomizationForCluster`: Kurator's field subset; Flux's CRD defaults `force`."""
    app = dest.app
    at = f"{dest.pointer}/kustomization"
    given = as_dict(dest.policy.get("kustomization"))
    errors = [
        Diagnostic.error(f"{dotted(at)}.{field} is required", app.locate(at))
        for field in ("interval", "prune")
        if field not in given
    ]
    spec = _copy_fields(given, _KUSTOMIZATION_FIELDS)
    spec["prune"] = bool(given.get("prune", False))  # never omitted by the Go struct
    kube_config = _kube_config(member)
    if kube_config is not None:
        spec["kubeConfig"] = kube_config
    spec["sourceRef"] = {"kind": source, "name": app_name(app)}
    common = given.get("commonMetadata")
    if isinstance(common, dict):
        spec["commonMetadata"] = {
            key: copy.deepcopy(common[key]) for key in ("annotations", "labels") if common.get(key)
        }
    spec.setdefault("force", False)  # Flux's Kustomization CRD default
    errors += _copy_durations(spec, _KUSTOMIZATION_DURATIONS, app, at)
    return spec, errors


def _helm_release_spec(
    dest: PolicyDestination, member: Member | None, source: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """`syncHelmReleaseForCluster`: Kurator's field subset and chart template."""
    app = dest.app
    at = f"{dest.pointer}/helm"
    given = as_dict(dest.policy.get("helm"))
    chart = as_dict(given.get("chart"))
    chart_spec = as_dict(chart.get("spec"))
    errors: list[Diagnostic] = []
    if "interval" not in given:
        errors.append(Diagnostic.error(f"{dotted(at)}.interval is required", app.locate(at)))
    if not chart_spec.get("chart"):
        errors.append(
            Diagnostic.error(f"{dotted(at)}.chart.spec.chart is required", app.locate(at))
        )
    spec = _copy_fields(given, _HELM_FIELDS)
    kube_config = _kube_config(member)
    if kube_config is not None:
        spec["kubeConfig"] = kube_config
    template: dict[str, Any] = {}
    chart_meta = chart.get("metadata")
    if isinstance(chart_meta, dict):
        template["metadata"] = {
            key: copy.deepcopy(chart_meta[key])
            for key in ("labels", "annotations")
            if chart_meta.get(key)
        }
    template_spec: dict[str, Any] = {
        "chart": chart_spec.get("chart", ""),
        "version": chart_spec.get("version") or "*",  # CRD default, Kurator's and Flux's
        "sourceRef": {"kind": source, "name": app_name(app)},
    }
    if chart_spec.get("interval"):
        template_spec["interval"] = chart_spec["interval"]
    template_spec["reconcileStrategy"] = chart_spec.get("reconcileStrategy") or "ChartVersion"
    if chart_spec.get("valuesFiles"):
        template_spec["valuesFiles"] = copy.deepcopy(chart_spec["valuesFiles"])
    template["spec"] = template_spec
    spec["chart"] = template
    errors += _copy_durations(spec, _HELM_DURATIONS, app, at)
    errors += _copy_durations(template_spec, ("interval",), app, f"{at}/chart/spec")
    for action in _HELM_ACTIONS:
        if isinstance(spec.get(action), dict):
            errors += _copy_durations(spec[action], ("timeout",), app, f"{at}/{action}")
    uninstall = spec.get("uninstall")
    if isinstance(uninstall, dict):
        uninstall.setdefault("deletionPropagation", "background")  # Flux v2 CRD default
    return spec, errors


def policy_kind(policy: Mapping[str, Any]) -> str:
    """`getSyncPolicyKind`: a kustomization wins over helm; neither syncs nothing."""
    if policy.get("kustomization") is not None:
        return "Kustomization"
    if policy.get("helm") is not None:
        return "HelmRelease"
    return ""


def _policy_objects(
    dest: PolicyDestination, source: str
) -> tuple[list[Generated], list[Diagnostic]]:
    """`syncPolicyResource` / `handleSyncPolicyByKind` for one sync policy."""
    kind = policy_kind(dest.policy)
    app = dest.app
    diagnostics: list[Diagnostic] = []
    if not kind:
        if dest.policy.get("rollout") is None:
            diagnostics.append(
                Diagnostic.warning(
                    "sync policy has neither kustomization nor helm: Kurator syncs nothing for it",
                    app.locate(dest.pointer),
                )
            )
        return [], diagnostics
    if kind == "Kustomization" and dest.policy.get("helm") is not None:
        diagnostics.append(
            Diagnostic.warning(
                "sync policy sets both kustomization and helm: Kurator uses only the kustomization",
                app.locate(f"{dest.pointer}/helm"),
            )
        )
    targets: list[Member | None] = list(dest.selected) if dest.fleet is not None else [None]
    objects: list[Generated] = []
    for member in targets:
        if member is None:
            name = policy_resource_name(dest.name, CURRENT_CLUSTER_KIND, CURRENT_CLUSTER_NAME)
        else:
            name = policy_resource_name(dest.name, member.kind, member.name)
        if kind == "Kustomization":
            spec, errors = _kustomization_spec(dest, member, source)
            api = KUSTOMIZE_API
        else:
            spec, errors = _helm_release_spec(dest, member, source)
            api = HELM_API
        if errors:
            return [], diagnostics + errors
        data = {"apiVersion": api, "kind": kind, "metadata": _metadata(name, app), "spec": spec}
        objects.append(Generated(HOST, data, app))
    return objects, diagnostics


def _without_annotations(data: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in data["metadata"].items() if k != "annotations"}
    return {**data, "metadata": meta}


def duplicate_errors(objects: list[Generated], hint: str) -> list[Diagnostic]:
    """Two writers of one object would overwrite each other on every reconcile. Annotations
    may differ: Kurator's update keeps the first writer's (the others' objects are the same)."""
    seen: dict[tuple[str, str, str, str], Generated] = {}
    errors: list[Diagnostic] = []
    for obj in objects:
        meta = obj.data["metadata"]
        key = (obj.cluster, obj.data["kind"], meta.get("namespace", ""), meta["name"])
        first = seen.setdefault(key, obj)
        if first is not obj and _without_annotations(first.data) != _without_annotations(obj.data):
            errors.append(
                Diagnostic.error(
                    f"{key[1]} {key[2]}/{key[3]} is written twice with different contents "
                    f"(also from {first.origin.file}); {hint}",
                    obj.origin.locate("/spec/syncPolicies"),
                )
            )
    return errors


def unique_objects(objects: list[Generated]) -> list[Generated]:
    seen: set[tuple[str, str, str, str]] = set()
    result: list[Generated] = []
    for obj in objects:
        meta = obj.data["metadata"]
        key = (obj.cluster, obj.data["kind"], meta.get("namespace", ""), meta["name"])
        if key not in seen:
            seen.add(key)
            result.append(obj)
    return result


def compile_application(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Every Application's Flux source and per-member Kustomizations/HelmReleases (host)."""
    objects: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    for app in inputs.documents.get(APPLICATION_KIND, ()):
        destinations, errors = application_destinations(app, inputs)
        source, source_diagnostics = _source_object(app)
        diagnostics += errors + source_diagnostics
        if errors or source is None or any(d.is_error for d in source_diagnostics):
            continue
        app_objects = [source]
        failed = False
        for dest in destinations:
            policy_objects, policy_diagnostics = _policy_objects(dest, source.data["kind"])
            diagnostics += policy_diagnostics
            failed = failed or any(d.is_error for d in policy_diagnostics)
            app_objects += policy_objects
        if not failed:
            objects += app_objects
    diagnostics += duplicate_errors(objects, "give the sync policies distinct names")
    return unique_objects(objects), diagnostics


@dataclass(frozen=True)
class MemberChoice:
    """One fleet member as seen by one sync policy: selected or not, and why."""

    member: str
    kind: str
    selected: bool
    reason: str
    object_name: str  # the Flux object it gets ("" when not selected)


@dataclass(frozen=True)
class PolicyPlan:
    application: str  # namespace/name
    policy: str
    kind: str  # Kustomization, HelmRelease, or "" (none)
    fleet: str  # namespace/name, or "" for Kurator's own cluster
    match_labels: Mapping[str, str] | None
    members: tuple[MemberChoice, ...]


def plan_applications(inputs: KuratorInputs) -> tuple[list[PolicyPlan], list[Diagnostic]]:
    """Per Application and sync policy, which members Kurator syncs to, for `plan --explain`."""
    plans: list[PolicyPlan] = []
    diagnostics: list[Diagnostic] = []
    for app in inputs.documents.get(APPLICATION_KIND, ()):
        destinations, errors = application_destinations(app, inputs)
        diagnostics += errors
        for dest in destinations:
            kind = policy_kind(dest.policy)
            choices: list[MemberChoice] = []
            if dest.fleet is None:
                choices.append(
                    MemberChoice(
                        CURRENT_CLUSTER_NAME,
                        CURRENT_CLUSTER_KIND,
                        True,
                        "no destination fleet: installed in Kurator's own cluster",
                        policy_resource_name(dest.name, CURRENT_CLUSTER_KIND, CURRENT_CLUSTER_NAME)
                        if kind
                        else "",
                    )
                )
            else:
                rejected = {m.name: why for m, why in dest.rejected}
                for member in dest.fleet.members:
                    if member.name in rejected:
                        choices.append(
                            MemberChoice(member.name, member.kind, False, rejected[member.name], "")
                        )
                        continue
                    reason = (
                        "labels match " + _labels_text(dest.match_labels)
                        if dest.match_labels
                        else "no cluster selector: every fleet member"
                    )
                    name = policy_resource_name(dest.name, member.kind, member.name) if kind else ""
                    choices.append(MemberChoice(member.name, member.kind, True, reason, name))
            plans.append(
                PolicyPlan(
                    f"{dest.app_namespace}/{dest.app_name}",
                    dest.name,
                    kind,
                    f"{dest.fleet.namespace}/{dest.fleet.name}" if dest.fleet else "",
                    dest.match_labels,
                    tuple(choices),
                )
            )
    return plans, diagnostics


def _labels_text(labels: Mapping[str, str] | None) -> str:
    given = labels or {}
    return ",".join(f"{k}={given[k]}" for k in sorted(given))


def explain_application(inputs: KuratorInputs) -> list[str]:
    """`plan_applications` as text lines: one per sync policy, then one per member."""
    plans, _ = plan_applications(inputs)
    lines: list[str] = []
    for plan in plans:
        where = f"fleet {plan.fleet}" if plan.fleet else "Kurator's own cluster"
        selector = (
            f", clusterSelector {_labels_text(plan.match_labels)}" if plan.match_labels else ""
        )
        lines.append(
            f"Application {plan.application} sync policy {plan.policy} "
            f"({plan.kind or 'nothing to sync'}) -> {where}{selector}"
        )
        for choice in plan.members:
            verdict = "selected" if choice.selected else "not selected"
            target = f" -> {plan.kind} {choice.object_name}" if choice.object_name else ""
            lines.append(f"  {choice.kind} {choice.member}: {verdict} ({choice.reason}){target}")
    return lines
