"""Volcano Jobs (batch.volcano.sh/v1alpha1): gangs that are never divided across clusters.

Karmada treats a Volcano Job as a non-workload and sends it whole to every cluster the policy
selects. Under Duplicated that stands: every selected cluster runs a copy of the gang. Under
Divided the Job still goes whole, to ONE cluster, chosen as Karmada's Aggregated division
places a single replica: candidates by available jobs (descending), then by name (mirrored
when the uid hash is odd, as everywhere else); the first that can hold one whole job. A job's
size is the sum over its tasks of replicas x per-pod requests (limits standing in for missing
requests), plus one pod per replica; a cluster's room for it comes from its declared
`capacity` (unknown capacity counts as room for one job, as Karmada counts the replica count).

Checks: `minAvailable` (job and task) within the replicas, `schedulerName: volcano`, the queue
exists on each target cluster (`default`, the cluster's `volcanoQueues`, or a placed
scheduling.volcano.sh Queue), and each task's nodeSelector and per-pod requests fit the
clusters' declared labels (`labels`, `nodeLabels`) and capacity.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..fields import as_dict
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from ..placement.capacity import ClusterCapacity, estimate, parse_capacity
from ..placement.explain import Explanation
from ..placement.spec import parse_placement
from ..placement.webster import names_descending
from ..placement.workload import WorkloadProblem, pod_requests
from .fleetspec import cluster_entries
from .kind import StackKind

GROUP = "batch.volcano.sh"
SCHEDULER = "volcano"
DEFAULT_QUEUE = "default"
QUEUE_GROUP = "scheduling.volcano.sh"


def is_job(resource: Resource) -> bool:
    return resource.group == GROUP and resource.kind == "Job"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Task:
    index: int
    name: str
    replicas: int
    requests: tuple[tuple[str, int], ...]  # per pod: cpu in millicores, the rest in units
    node_selector: tuple[tuple[str, str], ...]  # a null nodeSelector is no constraint

    @property
    def label(self) -> str:
        return repr(self.name) if self.name else f"#{self.index}"


@dataclass(frozen=True)
class Gang:
    tasks: tuple[Task, ...]
    pods: int
    requests: tuple[tuple[str, int], ...]  # the whole job, `pods` included


def read_gang(data: Mapping[str, Any]) -> tuple[Gang, list[WorkloadProblem]]:
    problems: list[WorkloadProblem] = []
    tasks: list[Task] = []
    raw_tasks = as_dict(data.get("spec")).get("tasks")
    for index, raw in enumerate(raw_tasks if isinstance(raw_tasks, list) else []):
        raw = as_dict(raw)
        pod = as_dict(as_dict(raw.get("template")).get("spec"))
        pointer = f"/spec/tasks/{index}/template/spec"
        requests = pod_requests(pod, pointer, problems)
        selector = as_dict(pod.get("nodeSelector"))
        tasks.append(
            Task(
                index,
                str(raw.get("name") or ""),
                max(_count(raw.get("replicas")) or 0, 0),
                tuple(sorted(requests.items())),
                tuple(sorted((str(k), str(v)) for k, v in selector.items())),
            )
        )
    total: dict[str, int] = {}
    for task in tasks:
        for name, amount in task.requests:
            total[name] = total.get(name, 0) + task.replicas * amount
    pods = sum(task.replicas for task in tasks)
    total["pods"] = pods
    return Gang(tuple(tasks), pods, tuple(sorted(total.items()))), problems


def show_amount(name: str, amount: int) -> str:
    """A request as a Kubernetes quantity: cpu from millicores, memory in binary units."""
    if name == "cpu":
        return str(amount // 1000) if amount % 1000 == 0 else f"{amount}m"
    if name in ("memory", "ephemeral-storage") or name.startswith("hugepages-"):
        for suffix, power in (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20)):
            if amount and amount % (1 << power) == 0:
                return f"{amount >> power}{suffix}"
        if amount and amount % 1024 == 0:
            return f"{amount >> 10}Ki"
    return str(amount)


def show_requests(requests: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {show_amount(name, amount)}" for name, amount in requests) or "none"


def _well_known(key: str) -> bool:
    """Node labels Kubernetes itself sets (kubernetes.io/hostname, topology.kubernetes.io/zone,
    node-role.kubernetes.io/edge, ...): a fleet does not declare them, so they are not checked."""
    prefix, _, _ = key.rpartition("/")
    return any(prefix == d or prefix.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))


def node_labels(cluster: Cluster, entry: Mapping[str, Any]) -> dict[str, set[str]]:
    """What the fleet declares about the labels of a cluster's nodes: key -> every value."""
    known: dict[str, set[str]] = {str(k): {str(v)} for k, v in cluster.labels.items()}
    for key, values in as_dict(entry.get("nodeLabels")).items():
        known.setdefault(str(key), set()).update(str(v) for v in values or ())
    return known


def task_problem(
    task: Task, capacity: ClusterCapacity, labels: Mapping[str, set[str]]
) -> str | None:
    """What a task's pods need that the cluster declares it lacks, or None."""
    for key, value in task.node_selector:
        values = labels.get(key)
        if not _well_known(key) and values is not None and value not in values:
            have = ", ".join(f"{key}={v}" for v in sorted(values))
            return f"node label {key}={value} (its nodes have {have})"
    pods = capacity.units.get("pods")
    if pods is not None and pods < 1 and task.replicas:
        return "a pod slot (pods: 0 free)"
    for name, amount in task.requests:
        free = capacity.amounts.get(name)
        if free is not None and free < amount:
            return (
                f"{show_amount(name, amount)} {name} per pod "
                f"({show_amount(name, free)} {name} free)"
            )
    return None


@dataclass(frozen=True)
class _Cluster:
    name: str
    capacity: ClusterCapacity
    labels: dict[str, set[str]]
    queues: frozenset[str]


def _clusters(fleet: Fleet, names: Sequence[str]) -> list[_Cluster]:
    entries = cluster_entries(fleet)
    found = []
    for name in names:
        cluster = fleet.cluster(name)
        if cluster is None:
            continue
        entry = entries.get(name, {})
        capacity, _ = parse_capacity(cluster)  # unparsable quantities are reported by placement
        queues = frozenset(str(q) for q in entry.get("volcanoQueues") or ())
        found.append(_Cluster(name, capacity, node_labels(cluster, entry), queues))
    return found


def _static_checks(resource: Resource, gang: Gang) -> Iterator[Diagnostic]:
    spec = as_dict(resource.data.get("spec"))
    key = resource.key
    minimum = _count(spec.get("minAvailable"))
    if minimum is not None and minimum > gang.pods:
        parts = " + ".join(f"{t.label} {t.replicas}" for t in gang.tasks) or "no tasks"
        yield Diagnostic.error(
            f"{key}: minAvailable {minimum} is above the {gang.pods} pod(s) its tasks run "
            f"({parts}); Volcano's admission webhook rejects it (job 'minAvailable' should not "
            "be greater than total replicas in tasks) and the gang could never start",
            resource.locate("/spec/minAvailable"),
        )
    tasks = spec.get("tasks")
    for task in gang.tasks:
        raw = as_dict(tasks[task.index]) if isinstance(tasks, list) else {}
        task_minimum = _count(raw.get("minAvailable"))
        if task_minimum is not None and task_minimum > task.replicas:
            yield Diagnostic.error(
                f"{key}: task {task.label} has minAvailable {task_minimum} above its "
                f"{task.replicas} replica(s); Volcano rejects it",
                resource.locate(f"/spec/tasks/{task.index}/minAvailable"),
            )
    scheduler = spec.get("schedulerName")
    if scheduler is not None and scheduler != SCHEDULER:
        yield Diagnostic.warning(
            f"{key}: schedulerName {scheduler!r} is not {SCHEDULER!r}: that scheduler places "
            "the pods one by one, so the gang (minAvailable) and the queue are not honoured; "
            f"set schedulerName: {SCHEDULER} or leave it out (Volcano's webhook defaults it)",
            resource.locate("/spec/schedulerName"),
        )


def _queue_checks(
    resource: Resource,
    targets: Sequence[_Cluster],
    placements: Sequence[ResourcePlacement],
) -> Iterator[Diagnostic]:
    queue = as_dict(resource.data.get("spec")).get("queue") or DEFAULT_QUEUE
    if queue == DEFAULT_QUEUE:
        return
    placed = {
        cluster
        for p in placements
        if p.resource.group == QUEUE_GROUP and p.resource.kind == "Queue"
        if p.resource.name == queue
        for cluster in p.replicas
    }
    for cluster in targets:
        if queue not in cluster.queues and cluster.name not in placed:
            yield Diagnostic.error(
                f"{resource.key} uses Volcano queue {queue!r}, which cluster {cluster.name} "
                f"does not have: list it in the cluster's volcanoQueues if it exists there, or "
                f"place a {QUEUE_GROUP}/v1beta1 Queue named {queue!r} on it; until then the job "
                "stays Pending",
                resource.locate("/spec/queue"),
            )


def _available(cluster: _Cluster, gang: Gang) -> int | None:
    return estimate(cluster.capacity, gang.requests)


def _room(available: int | None) -> int:
    """Unknown capacity counts as room for the job's one replica, as in Karmada."""
    return 1 if available is None else available


def _shown(available: int | None) -> str:
    return "1 (capacity unknown)" if available is None else str(available)


def _infeasible(gang: Gang, clusters: Sequence[_Cluster]) -> dict[str, list[tuple[Task, str]]]:
    """cluster -> the tasks whose pods it cannot run, with what they lack."""
    found: dict[str, list[tuple[Task, str]]] = {}
    for cluster in clusters:
        for task in gang.tasks:
            problem = task_problem(task, cluster.capacity, cluster.labels)
            if problem is not None:
                found.setdefault(cluster.name, []).append((task, problem))
    return found


def adjust(
    fleet: Fleet, placement: ResourcePlacement, placements: Sequence[ResourcePlacement]
) -> tuple[ResourcePlacement, list[Diagnostic]]:
    """The Job's placement as a gang, with the checks that need its clusters."""
    resource = placement.resource
    gang, problems = read_gang(resource.data)
    diagnostics = [
        Diagnostic.error(f"{resource.key}: {p.message}", resource.locate(p.pointer))
        for p in problems
    ]
    diagnostics.extend(_static_checks(resource, gang))
    if placement.policy is None or not placement.replicas:
        return placement, diagnostics
    spec = parse_placement(placement.policy.spec.get("placement"))
    clusters = _clusters(fleet, sorted(placement.replicas))
    infeasible = _infeasible(gang, clusters)
    minimum = _count(as_dict(resource.data.get("spec")).get("minAvailable"))
    lines = [
        f"gang: a Volcano Job of {gang.pods} pod(s) (minAvailable "
        f"{gang.pods if minimum is None else minimum}) is never divided between clusters; "
        f"the whole job requests {show_requests(gang.requests)}",
    ]
    if spec.divided:
        placement, found = _divided(resource, placement, gang, clusters, infeasible, lines)
        diagnostics.extend(found)
    else:
        lines.append("gang: Duplicated: every selected cluster runs a whole copy of the job")
        for cluster in clusters:
            for task, problem in infeasible.get(cluster.name, ()):
                diagnostics.append(
                    Diagnostic.error(
                        f"{resource.key}: task {task.label} needs {problem}, which cluster "
                        f"{cluster.name} does not have: its copy there never starts",
                        resource.locate(f"/spec/tasks/{task.index}"),
                    )
                )
            if cluster.name not in infeasible and _available(cluster, gang) == 0:
                diagnostics.append(
                    Diagnostic.error(
                        f"{resource.key}: cluster {cluster.name} has room for no whole copy "
                        f"of the job (it requests {show_requests(gang.requests)}); its copy "
                        "there never starts",
                        resource.locate(""),
                    )
                )
        placement = _explained(placement, lines, keep_result=True)
    targets = [c for c in clusters if c.name in placement.replicas]
    diagnostics.extend(_queue_checks(resource, targets, placements))
    return placement, diagnostics


def _divided(
    resource: Resource,
    placement: ResourcePlacement,
    gang: Gang,
    clusters: Sequence[_Cluster],
    infeasible: Mapping[str, list[tuple[Task, str]]],
    lines: list[str],
) -> tuple[ResourcePlacement, list[Diagnostic]]:
    lines.append(
        "gang: Divided: the whole job goes to one cluster, the one Karmada's Aggregated "
        "division would give a single replica"
    )
    feasible = [c for c in clusters if c.name not in infeasible]
    for name, failures in sorted(infeasible.items()):
        task, problem = failures[0]
        lines.append(f"gang: {name} dropped: task {task.label} needs {problem}")
    if not feasible:
        by_task: dict[int, list[str]] = {}
        for name, failures in sorted(infeasible.items()):
            for task, problem in failures:
                by_task.setdefault(task.index, []).append(f"{name} lacks {problem}")
        index = min(by_task)
        task = gang.tasks[index]
        return _nowhere(placement, lines), [
            Diagnostic.error(
                f"{resource.key}: task {task.label} can run on none of the selected clusters: "
                + "; ".join(by_task[index]),
                resource.locate(f"/spec/tasks/{index}"),
            )
        ]
    available = {c.name: _available(c, gang) for c in feasible}
    order = sorted(available, reverse=names_descending(_uid(resource)))
    order.sort(key=lambda name: -_room(available[name]))  # stable: ties keep the name order
    lines.append(
        "gang: candidates (available jobs desc, then name): "
        + ", ".join(f"{name}={_shown(available[name])}" for name in order)
    )
    best = order[0]
    if available[best] == 0:
        return _nowhere(placement, lines), [
            Diagnostic.error(
                f"{resource.key} cannot be scheduled: no selected cluster has room for the "
                f"whole job (it requests {show_requests(gang.requests)}; "
                + ", ".join(f"{n} fits {available[n]}" for n in order)
                + ")",
                resource.locate(""),
            )
        ]
    lines.append(f"result: {best}")
    chosen = replace(placement, replicas=MappingProxyType({best: None}))
    return _explained(chosen, lines, keep_result=False), []


def _uid(resource: Resource) -> str:
    return str(resource.metadata.get("uid") or "")


def _nowhere(placement: ResourcePlacement, lines: list[str]) -> ResourcePlacement:
    lines.append("result: (none)")
    return _explained(replace(placement, replicas=MappingProxyType({})), lines, keep_result=False)


def _explained(
    placement: ResourcePlacement, lines: Sequence[str], keep_result: bool
) -> ResourcePlacement:
    """`placement` with `lines` added to its explanation (before its result line, or instead)."""
    before = placement.explanation
    added = tuple(lines)

    def render() -> list[str]:
        head = list(before)
        tail: list[str] = []
        if head and head[-1].startswith("result:"):
            last = head.pop()
            tail = [last] if keep_result else []
        return [*head, *added, *tail]

    return replace(placement, explanation=Explanation(render))


def _adjust_jobs(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Every Volcano Job placed as a gang; other objects pass through."""
    adjusted = list(placements)
    diagnostics: list[Diagnostic] = []
    for index, placement in enumerate(placements):
        if is_job(placement.resource):
            adjusted[index], found = adjust(fleet, placement, placements)
            diagnostics.extend(found)
    return adjusted, diagnostics


STACK = StackKind("volcano", adjust=_adjust_jobs)
