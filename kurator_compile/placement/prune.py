"""What Karmada strips from an object before it reaches a member cluster.

Karmada's RemoveIrrelevantFields (`resourceinterpreter/default/native/prune/prune.go`, with
the RemoveJobTTLSeconds hook, as the Work webhook and controller call it) removes what
kube-apiserver and controllers write, so an object exported with `kubectl get -o yaml`
propagates as its author wrote it: the read-only metadata, owner references, finalizers and
`status`, plus per-kind fields that belong to the source cluster (matched by kind alone, as
Karmada does). The `kubectl.kubernetes.io/last-applied-configuration` annotation is kept, as
in Karmada. The input object is not changed: the uid still feeds the placement tie-break.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["remove_irrelevant_fields"]

_METADATA = (
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "resourceVersion",
    "selfLink",
    "uid",
    "ownerReferences",
    "finalizers",
)
_DEPLOYMENT_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
)
_JOB_SELECTOR_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
_JOB_TEMPLATE_LABELS = (
    *_JOB_SELECTOR_LABELS,
    "job-name",
    "batch.kubernetes.io/job-name",
)
_SERVICE_ACCOUNT_UID = "kubernetes.io/service-account.uid"
_SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _without(mapping: object, keys: tuple[str, ...]) -> object:
    """`mapping` without `keys` (the same object when none is there)."""
    if not isinstance(mapping, Mapping) or not any(key in mapping for key in keys):
        return mapping
    return {key: value for key, value in mapping.items() if key not in keys}


def _replace(data: Mapping[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    """A copy of `data` with `path` set to `value`, copying only the mappings on the way."""
    head, rest = path[0], path[1:]
    if not rest:
        return {**data, head: value}
    child = data.get(head)
    return {**data, head: _replace(child if isinstance(child, Mapping) else {}, rest, value)}


def _at(data: Mapping[str, Any], path: tuple[str, ...]) -> object:
    """The value at `path`, or None where the path breaks off."""
    current: object = data
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _drop(data: dict[str, Any], path: tuple[str, ...], keys: tuple[str, ...]) -> dict[str, Any]:
    """Remove `keys` from the mapping at `path`, if it is there."""
    found = _at(data, path)
    pruned = _without(found, keys)
    if pruned is found:
        return data
    return _replace(data, path, pruned) if path else dict(pruned)  # type: ignore[call-overload]


def _deployment(data: dict[str, Any]) -> dict[str, Any]:
    return _drop(data, ("metadata", "annotations"), _DEPLOYMENT_ANNOTATIONS)


def _job(data: dict[str, Any]) -> dict[str, Any]:
    data = _drop(data, ("spec",), ("ttlSecondsAfterFinished",))
    if _at(data, ("spec", "manualSelector")) is True:
        return data
    data = _drop(data, ("spec", "selector", "matchLabels"), _JOB_SELECTOR_LABELS)
    return _drop(data, ("spec", "template", "metadata", "labels"), _JOB_TEMPLATE_LABELS)


def _service(data: dict[str, Any]) -> dict[str, Any]:
    """A Service's cluster IPs belong to the source cluster, except a headless Service's."""
    if _at(data, ("spec", "clusterIP")) in (None, "None"):
        return data
    return _drop(data, ("spec",), ("clusterIP", "clusterIPs"))


def _service_account(data: dict[str, Any]) -> dict[str, Any]:
    """Token Secrets the source cluster generated (`<name>-token-...`) are not referenced."""
    secrets = data.get("secrets")
    name = _at(data, ("metadata", "name"))
    if not isinstance(secrets, list) or not isinstance(name, str):
        return data
    prefix = f"{name}-token-"
    kept = [
        s
        for s in secrets
        if not (isinstance(s, Mapping) and str(s.get("name", "")).startswith(prefix))
    ]
    return data if len(kept) == len(secrets) else {**data, "secrets": kept}


def _secret(data: dict[str, Any]) -> dict[str, Any]:
    """A service-account token is the source cluster's: its data and account uid go."""
    if data.get("type") != "kubernetes.io/service-account-token":
        return data
    data = _drop(data, ("metadata", "annotations"), (_SERVICE_ACCOUNT_UID,))
    return _drop(data, (), ("data",))


def _persistent_volume_claim(data: dict[str, Any]) -> dict[str, Any]:
    if not _at(data, ("metadata", "annotations", _SELECTED_NODE)):
        return data
    return _drop(data, ("metadata", "annotations"), (_SELECTED_NODE,))


_BY_KIND = {
    "Deployment": _deployment,
    "Job": _job,
    "Service": _service,
    "ServiceAccount": _service_account,
    "Secret": _secret,
    "PersistentVolumeClaim": _persistent_volume_claim,
}


def remove_irrelevant_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The object as Karmada hands it to a member cluster; a new dict only where it changes."""
    pruned = _drop(_drop(data, ("metadata",), _METADATA), (), ("status",))
    by_kind = _BY_KIND.get(str(pruned.get("kind")))
    return by_kind(pruned) if by_kind is not None else pruned
