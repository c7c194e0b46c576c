"""What Karmada's default resource interpreter reads from an object: replicas and requests.

apps/v1 Deployment, ReplicaSet, StatefulSet, batch/v1 Job and v1 Pod are workloads
(`resourceinterpreter/default/native/replica.go`), and so are the third-party kinds Karmada
ships interpreters for (thirdparty.py); every other kind has 0 replicas and is propagated
unchanged. kube-apiserver defaults come first, as they would in a control plane:
a missing `spec.replicas` is 1; a Job with neither parallelism nor completions runs 1 of 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..fields import as_list
from .quantity import QuantityError, values
from .thirdparty import THIRD_PARTY

__all__ = ["WORKLOAD_KINDS", "Workload", "read_workload"]

WORKLOAD_KINDS = {
    ("apps/v1", "Deployment"): "/spec/replicas",
    ("apps/v1", "ReplicaSet"): "/spec/replicas",
    ("apps/v1", "StatefulSet"): "/spec/replicas",
    ("batch/v1", "Job"): "/spec/parallelism",
    ("v1", "Pod"): "",
}
INT32_MAX = 2**31 - 1

_NATIVE = ("cpu", "memory", "ephemeral-storage", "pods")
# `dict` first: isinstance settles a plain dict without the ABC machinery (hot path)
_MAPPING = (dict, Mapping)


@dataclass(frozen=True, slots=True)
class Workload:
    """The interpreter's view of one object.

    `requests` holds the per-replica request as Karmada's Resource type counts it: cpu in
    millicores, everything else in whole units (each rounded up, as Quantity.Value does).
    """

    replicas: int
    requests: tuple[tuple[str, int], ...]
    # ReplicaRequirements != nil: requests, a nodeSelector, tolerations or required affinity.
    has_requirements: bool
    uid: str
    is_workload_kind: bool

    @property
    def is_workload(self) -> bool:
        """`ResourceBindingSpec.IsWorkload`: whether replicas are assigned at all."""
        return self.replicas > 0 or self.has_requirements


@dataclass(frozen=True, slots=True)
class WorkloadProblem:
    pointer: str
    message: str


@lru_cache(maxsize=1024)
def _counted(name: str) -> bool:
    """Resources Karmada's Resource type keeps: native ones, hugepages, extended resources."""
    if name in _NATIVE or name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    if "kubernetes.io/" in name:
        return True  # prefixed native resource
    return "/" in name and not name.startswith("requests.")


def _resource_list(raw: object, pointer: str, problems: list[WorkloadProblem]) -> dict[str, int]:
    out: dict[str, int] = {}
    if not isinstance(raw, _MAPPING):
        return out
    for name, text in raw.items():
        try:
            units, millis = values(text)
        except QuantityError as error:
            problems.append(WorkloadProblem(f"{pointer}/{name}", str(error)))
            continue
        name = str(name)
        if _counted(name):
            out[name] = millis if name == "cpu" else units
    return out


def _container_requests(
    container: object, pointer: str, problems: list[WorkloadProblem]
) -> dict[str, int]:
    """requests, with limits standing in for missing requests (Kubernetes defaulting);
    `pointer` is the container's."""
    if not isinstance(container, _MAPPING):
        return {}
    resources = container.get("resources")
    if not isinstance(resources, _MAPPING):
        return {}
    raw_limits = resources.get("limits")
    limits = (
        _resource_list(raw_limits, f"{pointer}/resources/limits", problems) if raw_limits else {}
    )
    requests = _resource_list(resources.get("requests"), f"{pointer}/resources/requests", problems)
    return {**limits, **requests} if limits else requests


def pod_requests(
    pod_spec: Mapping[str, Any], pointer: str, problems: list[WorkloadProblem]
) -> dict[str, int]:
    """Karmada's AddPodTemplateRequest: sum(containers) max'd with each init container."""
    total: dict[str, int] = {}
    for i, container in enumerate(as_list(pod_spec.get("containers"))):
        for name, amount in _container_requests(
            container, f"{pointer}/containers/{i}", problems
        ).items():
            total[name] = total.get(name, 0) + amount
    for i, container in enumerate(as_list(pod_spec.get("initContainers"))):
        for name, amount in _container_requests(
            container, f"{pointer}/initContainers/{i}", problems
        ).items():
            total[name] = max(total.get(name, 0), amount)
    for name, amount in _resource_list(
        pod_spec.get("overhead"), f"{pointer}/overhead", problems
    ).items():
        total[name] = total.get(name, 0) + amount
    return {name: amount for name, amount in total.items() if amount > 0}


def _has_node_claim(pod_spec: Mapping[str, Any]) -> bool:
    affinity = pod_spec.get("affinity")
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, _MAPPING) else None
    required = (
        node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(node_affinity, _MAPPING)
        else None
    )
    return (
        bool(pod_spec.get("nodeSelector"))
        or bool(pod_spec.get("tolerations"))
        or (required is not None)
    )


def _count(spec: Mapping[str, Any], key: str, problems: list[WorkloadProblem]) -> int | None:
    raw = spec.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= INT32_MAX:
        problems.append(
            WorkloadProblem(f"/spec/{key}", f"spec.{key} must be an integer >= 0, not {raw!r}")
        )
        return None
    return raw


def read_workload(data: Mapping[str, Any]) -> tuple[Workload, list[WorkloadProblem]]:
    """Replicas, per-replica requests and the tie-break UID of one input object."""
    problems: list[WorkloadProblem] = []
    api_version, kind = data.get("apiVersion"), data.get("kind")
    metadata = data.get("metadata")
    uid = str(metadata.get("uid") or "") if isinstance(metadata, _MAPPING) else ""
    spec = data.get("spec")
    spec = spec if isinstance(spec, _MAPPING) else {}
    key = (api_version, kind)
    if key not in WORKLOAD_KINDS:
        third_party = THIRD_PARTY.get((str(api_version), str(kind)))
        if third_party is None:
            return Workload(0, (), False, uid, False), problems

        def pod(pod_spec: Mapping[str, Any], pointer: str) -> tuple[dict[str, int], bool]:
            requests = pod_requests(pod_spec, pointer, problems)
            return requests, bool(requests) or _has_node_claim(pod_spec)

        found = third_party.read(spec, pod)
        counted = tuple(sorted(found.requests.items()))
        return Workload(found.replicas, counted, found.has_requirements, uid, True), problems
    if kind == "Pod":
        replicas, pod_spec, pointer = 1, spec, "/spec"
    else:
        template = spec.get("template")
        template_spec = template.get("spec") if isinstance(template, _MAPPING) else None
        pod_spec = template_spec if isinstance(template_spec, _MAPPING) else {}
        pointer = "/spec/template/spec"
        if kind == "Job":
            parallelism = _count(spec, "parallelism", problems)
            completions = _count(spec, "completions", problems)
            if parallelism is None:
                parallelism = 1
            replicas = min(parallelism, parallelism if completions is None else completions)
        else:
            count = _count(spec, "replicas", problems)
            replicas = 1 if count is None else count
    requests = pod_requests(pod_spec, pointer, problems)
    has_requirements = bool(requests) or _has_node_claim(pod_spec)
    return (
        Workload(replicas, tuple(sorted(requests.items())), has_requirements, uid, True),
        problems,
    )
