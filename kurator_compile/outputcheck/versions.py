"""Kubernetes versions and the API versions each one stopped serving, with what to use instead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import Severity

KubeVersion = tuple[int, int]  # (major, minor); Kubernetes has only ever had major 1

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", re.ASCII)


def parse_kube_version(text: str) -> KubeVersion | None:
    """`1.29`, `v1.29` and `1.29.3` -> (1, 29); anything else -> None."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def show_version(version: KubeVersion) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class ApiRemoval:
    """One API version (for some kinds) that Kubernetes stopped serving.

    `replacements` are (apiVersion, first minor that serves it), most stable first: the advice
    names the first one the target cluster serves, so a 1.26 cluster is told to use flowcontrol
    v1beta3 and a 1.29 cluster flowcontrol v1.
    """

    api_version: str
    kinds: tuple[str, ...]
    removed: int  # the minor (1.x) that no longer serves it
    deprecated: int | None = None  # the minor from which a warning is due, where it matters
    replacements: tuple[tuple[str, int], ...] = ()
    advice: str = ""  # what to do when no API replaces it

    def replacement(self, target: KubeVersion) -> str | None:
        for api_version, since in self.replacements:
            if target >= (1, since):
                return api_version
        return self.replacements[-1][0] if self.replacements else None


_FLOWCONTROL = "flowcontrol.apiserver.k8s.io"
_FLOWCONTROL_KINDS = ("FlowSchema", "PriorityLevelConfiguration")
_FLOWCONTROL_NEXT = ((f"{_FLOWCONTROL}/v1", 29), (f"{_FLOWCONTROL}/v1beta3", 26))
_WORKLOADS = ("Deployment", "DaemonSet", "ReplicaSet", "StatefulSet")
_PSA = (
    "PodSecurityPolicy has no replacement API; enforce the Pod Security Standards with Pod "
    "Security Admission (pod-security.kubernetes.io/* labels on the namespace)"
)

# From the Kubernetes deprecated-API migration guide; the removals from 1.33 on are the beta
# APIs that the schemas shipped by kubernetes-validate stop carrying (a test cross-checks every
# entry against those schemas). Deprecation minors are given only where a supported cluster
# (1.25+) can still serve the API, since only there is a warning due. Removals before 1.25 are
# listed because old manifests still carry them.
REMOVALS: tuple[ApiRemoval, ...] = (
    ApiRemoval("extensions/v1beta1", _WORKLOADS[:3], 16, replacements=(("apps/v1", 9),)),
    ApiRemoval(
        "extensions/v1beta1", ("NetworkPolicy",), 16, replacements=(("networking.k8s.io/v1", 7),)
    ),
    ApiRemoval("extensions/v1beta1", ("PodSecurityPolicy",), 16, advice=_PSA),
    ApiRemoval(
        "extensions/v1beta1", ("Ingress",), 22, replacements=(("networking.k8s.io/v1", 19),)
    ),
    ApiRemoval("apps/v1beta1", _WORKLOADS, 16, replacements=(("apps/v1", 9),)),
    ApiRemoval("apps/v1beta2", _WORKLOADS, 16, replacements=(("apps/v1", 9),)),
    ApiRemoval(
        "networking.k8s.io/v1beta1",
        ("Ingress", "IngressClass"),
        22,
        replacements=(("networking.k8s.io/v1", 19),),
    ),
    ApiRemoval(
        "admissionregistration.k8s.io/v1beta1",
        ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"),
        22,
        replacements=(("admissionregistration.k8s.io/v1", 16),),
    ),
    ApiRemoval(
        "apiextensions.k8s.io/v1beta1",
        ("CustomResourceDefinition",),
        22,
        replacements=(("apiextensions.k8s.io/v1", 16),),
    ),
    ApiRemoval(
        "apiregistration.k8s.io/v1beta1",
        ("APIService",),
        22,
        replacements=(("apiregistration.k8s.io/v1", 10),),
    ),
    ApiRemoval(
        "certificates.k8s.io/v1beta1",
        ("CertificateSigningRequest",),
        22,
        replacements=(("certificates.k8s.io/v1", 19),),
    ),
    ApiRemoval(
        "coordination.k8s.io/v1beta1",
        ("Lease",),
        22,
        replacements=(("coordination.k8s.io/v1", 14),),
    ),
    ApiRemoval(
        "rbac.authorization.k8s.io/v1beta1",
        ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
        22,
        replacements=(("rbac.authorization.k8s.io/v1", 8),),
    ),
    ApiRemoval(
        "scheduling.k8s.io/v1beta1",
        ("PriorityClass",),
        22,
        replacements=(("scheduling.k8s.io/v1", 14),),
    ),
    ApiRemoval(
        "storage.k8s.io/v1beta1",
        ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
        22,
        replacements=(("storage.k8s.io/v1", 19),),
    ),
    ApiRemoval("batch/v1beta1", ("CronJob",), 25, replacements=(("batch/v1", 21),)),
    ApiRemoval(
        "discovery.k8s.io/v1beta1",
        ("EndpointSlice",),
        25,
        replacements=(("discovery.k8s.io/v1", 21),),
    ),
    ApiRemoval("events.k8s.io/v1beta1", ("Event",), 25, replacements=(("events.k8s.io/v1", 19),)),
    ApiRemoval(
        "autoscaling/v2beta1",
        ("HorizontalPodAutoscaler",),
        25,
        replacements=(("autoscaling/v2", 23),),
    ),
    ApiRemoval("policy/v1beta1", ("PodDisruptionBudget",), 25, replacements=(("policy/v1", 21),)),
    ApiRemoval("policy/v1beta1", ("PodSecurityPolicy",), 25, advice=_PSA),
    ApiRemoval(
        "node.k8s.io/v1beta1", ("RuntimeClass",), 25, replacements=(("node.k8s.io/v1", 20),)
    ),
    ApiRemoval(
        "autoscaling/v2beta2",
        ("HorizontalPodAutoscaler",),
        26,
        deprecated=23,
        replacements=(("autoscaling/v2", 23),),
    ),
    ApiRemoval(
        f"{_FLOWCONTROL}/v1beta1",
        _FLOWCONTROL_KINDS,
        26,
        deprecated=23,
        replacements=(*_FLOWCONTROL_NEXT, (f"{_FLOWCONTROL}/v1beta2", 23)),
    ),
    ApiRemoval(
        "storage.k8s.io/v1beta1",
        ("CSIStorageCapacity",),
        27,
        deprecated=24,
        replacements=(("storage.k8s.io/v1", 24),),
    ),
    ApiRemoval(
        f"{_FLOWCONTROL}/v1beta2",
        _FLOWCONTROL_KINDS,
        29,
        deprecated=26,
        replacements=_FLOWCONTROL_NEXT,
    ),
    ApiRemoval(
        f"{_FLOWCONTROL}/v1beta3",
        _FLOWCONTROL_KINDS,
        32,
        deprecated=29,
        replacements=((f"{_FLOWCONTROL}/v1", 29),),
    ),
    ApiRemoval(
        "admissionregistration.k8s.io/v1beta1",
        ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"),
        34,
        replacements=(("admissionregistration.k8s.io/v1", 30),),
    ),
    ApiRemoval(
        "networking.k8s.io/v1beta1",
        ("IPAddress", "ServiceCIDR"),
        37,
        replacements=(("networking.k8s.io/v1", 33),),
    ),
    ApiRemoval(
        "storage.k8s.io/v1beta1",
        ("VolumeAttributesClass",),
        37,
        replacements=(("storage.k8s.io/v1", 34),),
    ),
)

_BY_API_KIND = {(entry.api_version, kind): entry for entry in REMOVALS for kind in entry.kinds}


def removal_for(api_version: str, kind: str) -> ApiRemoval | None:
    return _BY_API_KIND.get((api_version, kind))


def api_lifecycle(api_version: str, kind: str, target: KubeVersion) -> tuple[Severity, str] | None:
    """An error when `target` no longer serves this API, a warning when it is deprecated there."""
    entry = removal_for(api_version, kind)
    if entry is None:
        return None
    what = f"{api_version} {kind}"
    use = entry.replacement(target)
    advice = f"use {use}" if use else entry.advice
    if target >= (1, entry.removed):
        return Severity.ERROR, f"{what} was removed in 1.{entry.removed}; {advice}"
    if entry.deprecated is not None and target >= (1, entry.deprecated):
        return (
            Severity.WARNING,
            f"{what} is deprecated since 1.{entry.deprecated} and removed in "
            f"1.{entry.removed}; {advice}",
        )
    return None
