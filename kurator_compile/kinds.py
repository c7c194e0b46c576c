"""Which document kinds the compiler understands, and what role each plays in the pipeline.

A new kind (Overlay, OverridePolicy, BackupPolicy, ...) plugs in by adding an entry here; every
document whose (group, kind) is not listed is an ordinary Kubernetes object to be placed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .fields import as_dict


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`), the core group."""
    group, _, version = api_version.rpartition("/")
    return group, version


class Role(enum.Enum):
    FLEET = "fleet"
    PROPAGATION = "propagation"  # decides placement; never emitted
    EXTENSION = "extension"  # consumed by a later stage (overlays, overrides); never emitted
    RESOURCE = "resource"  # placed and emitted
    PROVISIONING = "provisioning"  # creates clusters: reported as not compiled, never emitted


@dataclass(frozen=True)
class KindSpec:
    group: str
    kind: str
    role: Role
    schema: str  # file name under kurator_compile/schemas/
    crd: bool = False  # validated against Kurator's CRD schema (kurator_compile/crds/), if any


KINDS: tuple[KindSpec, ...] = (
    KindSpec("compile.kurator.dev", "Fleet", Role.FLEET, "fleet.json"),
    KindSpec("policy.karmada.io", "PropagationPolicy", Role.PROPAGATION, "propagationpolicy.json"),
    KindSpec(
        "policy.karmada.io",
        "ClusterPropagationPolicy",
        Role.PROPAGATION,
        "clusterpropagationpolicy.json",
    ),
    KindSpec("compile.kurator.dev", "Overlay", Role.EXTENSION, "overlay.json"),
    KindSpec("policy.karmada.io", "OverridePolicy", Role.EXTENSION, "overridepolicy.json"),
    KindSpec(
        "policy.karmada.io", "ClusterOverridePolicy", Role.EXTENSION, "clusteroverridepolicy.json"
    ),
    KindSpec("apps.kurator.dev", "FederatedDeployment", Role.EXTENSION, "federateddeployment.json"),
    KindSpec("backup.kurator.dev", "BackupPolicy", Role.EXTENSION, "backuppolicy.json"),
    KindSpec("edge.kubeedge.io", "EdgeNode", Role.EXTENSION, "edgenode.json"),
)

_BY_GROUP_KIND = {(spec.group, spec.kind): spec for spec in KINDS}
_RESOURCE = KindSpec("", "", Role.RESOURCE, "resource.json")


# Kinds that provision clusters (Kurator's cluster-operator, Cluster API): nothing to compile.
PROVISIONING_KINDS = frozenset({("cluster.kurator.dev", "Cluster")})
PROVISIONING_GROUPS = frozenset(
    {
        "cluster.x-k8s.io",
        "infrastructure.cluster.x-k8s.io",
        "controlplane.cluster.x-k8s.io",
        "bootstrap.cluster.x-k8s.io",
    }
)


def is_kurator_group(group: str) -> bool:
    """Kurator's own API groups (apps., fleet., backup., cluster., pipeline.kurator.dev)."""
    return group.endswith(".kurator.dev") and group != "compile.kurator.dev"


def kind_spec(api_version: object, kind: object) -> KindSpec:
    """The role of a document; anything unknown is a resource to place, except Kurator's own
    kinds, which a registered module compiles and which are never emitted."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return _RESOURCE
    group, _ = split_api_version(api_version)
    found = _BY_GROUP_KIND.get((group, kind))
    if found is not None:
        return found
    if (group, kind) in PROVISIONING_KINDS or group in PROVISIONING_GROUPS:
        return KindSpec(group, kind, Role.PROVISIONING, "resource.json")
    if is_kurator_group(group):
        return KindSpec(group, kind, Role.EXTENSION, "resource.json", crd=True)
    return _RESOURCE


# Kinds that live outside namespaces; every other kind defaults to namespace "default", as
# kubectl would create it. Unknown custom kinds are assumed namespaced, as most CRDs are.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("policy.karmada.io", "ClusterPropagationPolicy"),
        ("policy.karmada.io", "ClusterOverridePolicy"),
        ("scheduling.volcano.sh", "Queue"),
        ("apps.kubeedge.io", "NodeGroup"),
        ("cert-manager.io", "ClusterIssuer"),
    }
)


def is_cluster_scoped(group: str, kind: str) -> bool:
    return (group, kind) in CLUSTER_SCOPED_KINDS


def input_crd_scopes(docs: Iterable[Any]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> cluster-scoped, for each CustomResourceDefinition among the input
    documents: its `spec.scope` says where its objects live, as the API server reads it."""
    found: dict[tuple[str, str], bool] = {}
    for doc in docs:
        data = doc.data if isinstance(doc.data, dict) else {}
        api_version = data.get("apiVersion")
        if data.get("kind") != "CustomResourceDefinition" or not isinstance(api_version, str):
            continue
        if split_api_version(api_version)[0] != "apiextensions.k8s.io":
            continue
        spec = as_dict(data.get("spec"))
        names = as_dict(spec.get("names"))
        group, kind, scope = spec.get("group"), names.get("kind"), spec.get("scope")
        if isinstance(group, str) and isinstance(kind, str) and scope in ("Cluster", "Namespaced"):
            found[(group, kind)] = scope == "Cluster"
    return found


# The order kubectl/kustomize apply kinds in (kustomize's legacy ordering): things other
# objects depend on first, webhooks last.
APPLY_ORDER_FIRST = (
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
APPLY_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def apply_rank(kind: str) -> int:
    if kind in APPLY_ORDER_FIRST:
        return APPLY_ORDER_FIRST.index(kind)
    if kind in APPLY_ORDER_LAST:
        return len(APPLY_ORDER_FIRST) + 1 + APPLY_ORDER_LAST.index(kind)
    return len(APPLY_ORDER_FIRST)
