"""Karmada's default interpreters for third-party kinds: replicas, requests and revision.

Karmada ships Lua customizations for kinds of OpenKruise, Argo, Flink, Kubeflow and KubeRay
(`pkg/resourceinterpreter/default/thirdparty/resourcecustomizations/<group>/<version>/<kind>/
customizations.yaml`), enabled by default. Their `replicaResource` script says where a kind's
replicas live and which pod template gives the per-replica request; their `replicaRevision`
script writes a cluster's share back. Each is reimplemented here as a pair of Python
functions, keyed by apiVersion and kind: the scripts are a few lines of field access, so an
embedded Lua interpreter would add a dependency for no fidelity a test cannot pin (every
kind is pinned by Karmada's own test files in tests/karmada/upstream/thirdparty).

A missing `spec.replicas` of an OpenKruise kind reads as 1, as OpenKruise's defaulting webhook
sets it before Karmada sees the object (the script itself would fail on nil).

A kind without a revision script is sent unchanged to each cluster, as Karmada does when the
ReviseReplica hook is missing. Kinds whose scripts define components rather than replicas
(Kubeflow training jobs, Volcano Job, Ray clusters and jobs) and kinds with no replica script
are not workloads, as in Karmada.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..fields import as_dict, as_list
from .quantity import QuantityError, parse_quantity, values

__all__ = ["THIRD_PARTY", "Requirements", "ThirdParty"]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a replica script returns: replicas, the per-replica request (Karmada's units:
    cpu in millicores, the rest in whole units) and whether ReplicaRequirements is set."""

    replicas: int
    requests: dict[str, int]
    has_requirements: bool


# (spec, read pod template -> (requests, has requirements)) -> Requirements
PodReader = Callable[[Mapping[str, Any], str], tuple[dict[str, int], bool]]
ReadReplicas = Callable[[Mapping[str, Any], PodReader], Requirements]
Revise = Callable[[dict[str, Any], int], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ThirdParty:
    read: ReadReplicas
    # None: Karmada has no ReviseReplica hook for the kind; each cluster gets it unchanged.
    revise: Revise | None
    # where the replicas live, for messages about a bad count
    replicas_field: str


def _count(raw: object, default: int) -> int:
    """A replica field as Lua reads it; the CRD schemas make these integers, and output
    validation reports any other type at its position."""
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else default


def _template(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(as_dict(spec.get("template")).get("spec"))


def _field_replicas(field: str, default: int) -> ReadReplicas:
    """`replica = obj.spec.<field>` (Lua's default when it checks for nil), with
    `kube.accuratePodRequirements(obj.spec.template)`."""

    def read(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
        requests, has = pod(_template(spec), "/spec/template/spec")
        return Requirements(_count(spec.get(field), default), requests, has)

    return read


def _set(field: str) -> Revise:
    def revise(spec: dict[str, Any], replicas: int) -> dict[str, Any]:
        return {**spec, field: replicas}

    return revise


def _sidecar_set(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
    """A SidecarSet injects containers into other pods: 0 replicas, no requirements."""
    return Requirements(0, {}, False)


def _notebook(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
    """One notebook server: 1 replica, the request of its pod template."""
    requests, has = pod(_template(spec), "/spec/template/spec")
    return Requirements(1, requests, has)


def _workflow(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
    """A pod template made of the Workflow's affinity, nodeSelector and tolerations only: a
    node claim, never a resource request."""
    claim = {key: spec[key] for key in ("affinity", "nodeSelector", "tolerations") if key in spec}
    requests, has = pod(claim, "/spec")
    return Requirements(_count(spec.get("parallelism"), 1), requests, has)


def _lua_number(raw: object, default: float | None) -> float | None:
    """Lua's `tonumber` with a default for nil, '' and text that is no number."""
    if isinstance(raw, bool) or raw is None or raw == "":
        return default
    if isinstance(raw, int | float):
        return float(raw)
    try:
        return float(str(raw))
    except ValueError:
        return default


def _larger(first: object, second: object) -> object:
    """The larger of two quantities as written (the second on a tie or when unreadable)."""
    try:
        return first if parse_quantity(first) > parse_quantity(second) else second
    except QuantityError:
        return second


def _flink(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
    """JobManager plus TaskManager replicas (TaskManagers from parallelism over task slots when
    not given); the larger cpu and memory of the two; always ReplicaRequirements."""
    job_manager, task_manager = as_dict(spec.get("jobManager")), as_dict(spec.get("taskManager"))
    managers = _lua_number(job_manager.get("replicas"), 1.0) or 0.0
    workers = _lua_number(task_manager.get("replicas"), None)
    if workers is None:
        parallelism = _lua_number(as_dict(spec.get("job")).get("parallelism"), None)
        slots = _lua_number(
            as_dict(spec.get("flinkConfiguration")).get("taskmanager.numberOfTaskSlots"), None
        )
        workers = 1.0 if parallelism is None or not slots else float(math.ceil(parallelism / slots))
    written: dict[str, object] = {}
    for name in ("cpu", "memory"):
        job = as_dict(job_manager.get("resource")).get(name)
        task = as_dict(task_manager.get("resource")).get(name)
        if job is not None and task is not None:
            written[name] = _larger(job, task) if name == "memory" else _larger(task, job)
        elif job is not None or task is not None:
            written[name] = task if task is not None else job
    requests: dict[str, int] = {}
    for name, text in written.items():
        try:
            units, millis = values(text)
        except QuantityError:
            continue  # output validation reports the field against the CRD schema
        if (millis if name == "cpu" else units) > 0:
            requests[name] = millis if name == "cpu" else units
    return Requirements(int(managers + workers), requests, True)


_RAY_MAXED = ("cpu", "memory")


def _ray_service(spec: Mapping[str, Any], pod: PodReader) -> Requirements:
    """One head plus every worker group's replicas; the head's requirements with the largest
    cpu and memory of any group (KubeRay's pods differ, Karmada's request is one)."""
    config = spec.get("rayClusterConfig")
    head = as_dict(config).get("headGroupSpec") if isinstance(config, Mapping) else None
    if not isinstance(head, Mapping) or not isinstance(head.get("template"), Mapping):
        return Requirements(0, {}, False)
    pointer = "/spec/rayClusterConfig"
    requests, has = pod(
        as_dict(head["template"].get("spec")), f"{pointer}/headGroupSpec/template/spec"
    )
    total = 1
    for index, group in enumerate(as_list(as_dict(config).get("workerGroupSpecs"))):
        group = as_dict(group)
        total += _count(group.get("replicas"), 0)
        template = group.get("template")
        if not has or not isinstance(template, Mapping):
            continue
        worker, _ = pod(
            as_dict(template.get("spec")), f"{pointer}/workerGroupSpecs/{index}/template/spec"
        )
        for name in _RAY_MAXED:
            if worker.get(name, 0) > requests.get(name, 0):
                requests[name] = worker[name]
    return Requirements(total, requests, has)


def _revise_ray_service(spec: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The head keeps 1; the workers share the rest: all to a single group, else in
    proportion to the groups' current replicas (evenly from 0), the last group the rest."""
    config = spec.get("rayClusterConfig")
    groups = as_list(as_dict(config).get("workerGroupSpecs"))
    if not groups:
        return spec
    workers = max(0, replicas - 1)
    current = [_count(as_dict(g).get("replicas"), 0) for g in groups]
    total = sum(current)
    revised: list[int] = [] if workers else [0] * len(groups)
    for index in range(len(groups) if workers else 0):
        if index == len(groups) - 1:
            revised.append(workers - sum(revised))
        elif total == 0:
            revised.append(workers // len(groups) + (1 if index < workers % len(groups) else 0))
        else:
            # Lua numbers are doubles: floor(workers * (current / total) + 0.5)
            revised.append(math.floor(workers * (current[index] / total) + 0.5))
    new_groups = [
        {**g, "replicas": count} if isinstance(g, Mapping) else g
        for g, count in zip(groups, revised, strict=True)
    ]
    return {**spec, "rayClusterConfig": {**as_dict(config), "workerGroupSpecs": new_groups}}


THIRD_PARTY: dict[tuple[str, str], ThirdParty] = {
    ("apps.kruise.io/v1alpha1", "CloneSet"): ThirdParty(
        _field_replicas("replicas", 1), _set("replicas"), "/spec/replicas"
    ),
    ("apps.kruise.io/v1beta1", "StatefulSet"): ThirdParty(
        _field_replicas("replicas", 1), _set("replicas"), "/spec/replicas"
    ),
    ("apps.kruise.io/v1alpha1", "UnitedDeployment"): ThirdParty(
        _field_replicas("replicas", 1), _set("replicas"), "/spec/replicas"
    ),
    ("apps.kruise.io/v1alpha1", "BroadcastJob"): ThirdParty(
        _field_replicas("parallelism", 1), _set("parallelism"), "/spec/parallelism"
    ),
    ("apps.kruise.io/v1alpha1", "SidecarSet"): ThirdParty(_sidecar_set, None, ""),
    ("argoproj.io/v1alpha1", "Workflow"): ThirdParty(
        _workflow, _set("parallelism"), "/spec/parallelism"
    ),
    ("flink.apache.org/v1beta1", "FlinkDeployment"): ThirdParty(_flink, None, ""),
    ("kubeflow.org/v1", "Notebook"): ThirdParty(_notebook, None, ""),
    ("ray.io/v1", "RayService"): ThirdParty(
        _ray_service, _revise_ray_service, "/spec/rayClusterConfig/workerGroupSpecs"
    ),
}
