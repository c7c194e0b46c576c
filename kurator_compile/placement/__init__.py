"""Which clusters get each object and with how many replicas: Karmada's scheduler, offline.

Targets Karmada v1.16 and later (Webster division). Objects the placement lock knows are
scheduled from their previous result as Karmada reschedules a binding (see previous.py and
the README's Placement section); the others get a fresh schedule, every cluster score 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic, shorten
from ..gcpause import cycle_collection_paused
from ..model import Fleet, Policy, Resource
from .control import (
    dependent_overrides_missing,
    live_only_warnings,
    override_keys,
    suspended_clusters,
)
from .explain import (
    Explanation,
    outcome_lines,
    policy_label,
    policy_lines,
    result_text,
    strategy_line,
    where,
    workload_line,
)
from .policy import CompiledPolicy, PolicyChoice, PolicyChooser, namespace_is_skipped
from .previous import (
    History,
    Locked,
    PlacementDigest,
    own_inputs_changed,
    placement_digest,
    why_again,
)
from .scheduler import FleetScheduler, Outcome, Rescheduling, Result
from .selectors import label_selector_problems
from .spec import PlacementSpec, parse_placement
from .thirdparty import THIRD_PARTY
from .webster import dispense, names_descending
from .workload import Workload, read_workload

__all__ = [
    "History",
    "ResourcePlacement",
    "explain_placement",
    "moves",
    "resolve_placement",
    "revise_replicas",
]

_NOWHERE: Mapping[str, int | None] = MappingProxyType({})


@dataclass(frozen=True)
class ResourcePlacement:
    """The decision for one input object.

    `replicas` maps each selected cluster to its replica count, or to None when the object is
    not a workload in Karmada's sense (any kind with 0 replicas and no requirements, including
    a Deployment with `replicas: 0`) and is emitted unchanged. Clusters that get 0 replicas
    are absent, as in Karmada's result. The mapping is read-only and may be shared between
    objects placed alike. `explanation` is what `plan --explain` prints (rendered on demand).
    """

    resource: Resource
    policy: Policy | None
    replicas: Mapping[str, int | None]
    explanation: Sequence[str] = ()
    # Duplicated, StaticWeight, DynamicWeight, Aggregated; "" for non-workloads/failures.
    strategy: str = ""
    # replicaSchedulingType is Divided (and the object is a workload): Job completions too.
    divided: bool = False
    # Other policies that matched the object, best first ("ClusterPropagationPolicy/x").
    competitors: tuple[str, ...] = ()
    # Job only: spec.completions per cluster when Divided (`divideReplicasByJobCompletions`).
    job_completions: Mapping[str, int] | None = None
    # The clusterAffinities term that succeeded, if the policy uses clusterAffinities.
    affinity_term: str | None = None
    # Clusters the filters dropped (in the attempt that succeeded), with every reason.
    dropped: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Recomputes the full scheduling trace on demand (candidates, selection, weights).
    trace: Callable[[], Outcome] | None = field(default=None, compare=False, repr=False)
    # Karmada's stored order of `replicas` when it is not name order.
    order: tuple[str, ...] = ()
    # What the placement lock records for this object (None: not scheduled by a policy).
    locked: Locked | None = None
    # The previous result from the lock (stored order), and why the object was scheduled
    # again from it (None: kept as it was, or no previous result).
    before: tuple[tuple[str, int], ...] | None = None
    why: str | None = None

    @property
    def weights(self) -> tuple[tuple[str, int], ...]:
        """The weights fed to Webster (static weights or available replicas), by name."""
        chosen = self.trace().chosen if self.trace is not None else None
        division = chosen.division if chosen is not None else None
        return division.weights if division is not None else ()


def _policy_index(policies: Sequence[Policy]) -> dict[tuple[str, str], list[int]]:
    """Policies by the (apiVersion, kind) pairs their selectors name: the only ones that can
    match an object of that type."""
    index: dict[tuple[str, str], list[int]] = {}
    for number, policy in enumerate(policies):
        selectors = policy.spec.get("resourceSelectors")
        for selector in selectors if isinstance(selectors, list) else []:
            if isinstance(selector, Mapping):
                key = (str(selector.get("apiVersion")), str(selector.get("kind")))
                numbers = index.setdefault(key, [])
                if not numbers or numbers[-1] != number:
                    numbers.append(number)
    return index


def _escape(token: str) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _policy_diagnostics(policy: Policy, spec: PlacementSpec) -> list[Diagnostic]:
    found = [
        (Diagnostic.error if issue.error else Diagnostic.warning)(
            f"{policy_label(policy)}: {issue.message}", policy.locate(issue.pointer)
        )
        for issue in spec.issues
    ]
    selectors = policy.spec.get("resourceSelectors")
    for i, selector in enumerate(selectors if isinstance(selectors, list) else []):
        label_selector = selector.get("labelSelector") if isinstance(selector, Mapping) else None
        if label_selector is None:
            continue
        # an invalid labelSelector would make the policy silently select nothing
        for pointer, message in label_selector_problems(
            label_selector, f"/spec/resourceSelectors/{i}/labelSelector"
        ):
            found.append(
                Diagnostic.error(f"{policy_label(policy)}: {message}", policy.locate(pointer))
            )
    if policy.kind == "PropagationPolicy":
        for i, selector in enumerate(selectors if isinstance(selectors, list) else []):
            ns = selector.get("namespace") if isinstance(selector, Mapping) else None
            if ns and ns != policy.namespace:
                found.append(
                    Diagnostic.error(
                        f"{policy_label(policy)}: namespace of resource selector ({ns}) must be "
                        f"the same as the namespace of the policy ({policy.namespace})",
                        policy.locate(f"/spec/resourceSelectors/{i}/namespace"),
                    )
                )
    return found


def _auto_propagated_namespace(resource: Resource) -> bool:
    """Karmada's namespace sync controller sends every Namespace to every cluster, except
    default, reserved and kube-* ones and those labelled to skip."""
    if resource.api_version != "v1" or resource.kind != "Namespace":
        return False
    name = resource.name
    if name == "default" or namespace_is_skipped(name):
        return False
    skip = resource.labels.get("namespace.karmada.io/skip-auto-propagation", "")
    return str(skip).lower() != "true"


def _job_completions(
    resource: Resource, replicas: Mapping[str, int | None], divided: bool, uid: str
) -> Mapping[str, int] | None:
    """`divideReplicasByJobCompletions`: completions split by Webster over parallelism."""
    if not divided or resource.api_version != "batch/v1" or resource.kind != "Job":
        return None
    spec = resource.data.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    completions = spec.get("completions")
    if completions is None and spec.get("parallelism") is None:
        completions = 1  # kube-apiserver defaults both to 1
    if not isinstance(completions, int) or isinstance(completions, bool):
        return None
    weights = {name: count for name, count in replicas.items() if count}
    if not weights:
        return None
    return dispense(completions, weights, descending=names_descending(uid))


_NAMESPACE_NOTE = (
    "namespace: Karmada's namespace sync controller propagates every Namespace (except "
    "default, kube-* and karmada-* ones, or those labelled "
    'namespace.karmada.io/skip-auto-propagation: "true") to every cluster, whatever the '
    "policies say"
)


class _Lazy:
    """What one placement needs to recompute its trace and explanation lines on demand.

    One slotted object per placement rather than closures: those would leave a dozen
    objects per placement (functions, cells) for the garbage collector to walk again and
    again while ten thousand placements pile up.
    """

    __slots__ = (
        "choice",
        "descending",
        "number",
        "previous",
        "resource",
        "scheduler",
        "spec",
        "why",
        "workload",
    )

    def __init__(
        self,
        scheduler: FleetScheduler,
        choice: PolicyChoice,
        resource: Resource,
        workload: Workload,
        spec: PlacementSpec,
        number: int,
        descending: bool,
    ) -> None:
        self.scheduler = scheduler
        self.choice = choice
        self.resource = resource
        self.workload = workload
        self.spec = spec
        self.number = number
        self.descending = descending
        self.previous: Rescheduling | None = None
        self.why: str | None = None

    def trace(self) -> Outcome:
        return self.scheduler.trace(
            self.number, self.spec, self.workload, self.descending, self.previous
        )

    def __call__(self) -> list[str]:
        """The explanation lines."""
        spec = self.spec
        head = [
            *policy_lines(self.choice),
            workload_line(self.resource.kind, self.workload),
            strategy_line(spec),
        ]
        if spec.errors:
            assert self.choice.winner is not None
            return [
                *head,
                f"error: {policy_label(self.choice.winner.policy)} is invalid; see its errors",
            ]
        previous = self.previous
        if previous is None and self.why is not None:
            return [*head, *self.why.splitlines()]
        if previous is not None:
            before = ", ".join(f"{name}={count}" for name, count in previous.clusters)
            mode = "Fresh" if previous.fresh else "Steady"
            head.append(
                f"previous result (placement lock): {before or '(none)'}; scheduled again "
                f"({mode} mode) because {self.why}"
            )
        return [*head, *outcome_lines(self.trace(), spec)]


class _Resolver:
    def __init__(self, fleet: Fleet, history: History | None = None) -> None:
        self.fleet = fleet
        self.history = history or History()
        self.cluster_names = frozenset(c.name for c in fleet.clusters)
        self.digests: dict[int, PlacementDigest] = {}
        self.stored: dict[int, Any] = {}
        self.scheduler = FleetScheduler(fleet.clusters)
        self.specs = [parse_placement(p.spec.get("placement")) for p in fleet.policies]
        # per policy number, read once (these are properties that compute)
        self.invalid = [bool(spec.errors) for spec in self.specs]
        self.strategies = [spec.strategy for spec in self.specs]
        self.divided = [spec.divided for spec in self.specs]
        self.compiled = [CompiledPolicy.of(p) for p in fleet.policies]
        self.index = _policy_index(fleet.policies)
        self.choosers: dict[tuple[str, str], PolicyChooser] = {}
        self.numbers = {id(p): n for n, p in enumerate(fleet.policies)}
        self.diagnostics: list[Diagnostic] = []
        self.everywhere = MappingProxyType({c.name: None for c in self.scheduler.clusters})
        for cluster, name, message in self.scheduler.capacity_problems:
            location = cluster.location or fleet.document.locate()
            pointer = f"{location.pointer}/capacity/{_escape(name)}"
            self.diagnostics.append(
                Diagnostic.error(
                    f"cluster {cluster.name}: capacity {name}: {message}",
                    fleet.document.locate(pointer)
                    if location.file == fleet.document.file and pointer in fleet.document.positions
                    else location.child(pointer),
                )
            )
        for policy, spec in zip(fleet.policies, self.specs, strict=True):
            self.diagnostics.extend(_policy_diagnostics(policy, spec))
            self.diagnostics.extend(live_only_warnings(policy))
        self.overrides = override_keys(fleet.extensions)
        self.held_back: set[int] = set()  # policies whose dependent overrides are missing
        # per policy number: the suspended clusters objects were kept from, and how many
        self.suspended: dict[int, tuple[set[str], list[str]]] = {}

    def place(self, resource: Resource) -> ResourcePlacement:
        if _auto_propagated_namespace(resource):
            choice = self._choose(resource)
            lines = (
                *(policy_lines(choice) if choice.winner is not None else ()),
                _NAMESPACE_NOTE,
                f"result: {result_text(self.everywhere)}",
            )
            owner = choice.winner.policy if choice.winner is not None else None
            return ResourcePlacement(resource, owner, self.everywhere, lines)
        if resource.namespace and namespace_is_skipped(resource.namespace):
            self.diagnostics.append(
                Diagnostic.warning(
                    f"{resource.key} is in namespace {resource.namespace!r}, which Karmada never "
                    "propagates (reserved or kube-* namespace); it is rendered nowhere",
                    resource.locate(),
                )
            )
            return ResourcePlacement(resource, None, _NOWHERE, ("namespace: skipped by Karmada",))
        choice = self._choose(resource)
        if choice.winner is None:
            self.diagnostics.append(
                Diagnostic.warning(
                    f"{resource.key} is selected by no propagation policy; it is rendered nowhere",
                    resource.locate(),
                )
            )
            return ResourcePlacement(resource, None, _NOWHERE, tuple(policy_lines(choice)))
        policy = choice.winner.policy
        number = self.numbers[id(policy)]
        spec = self.specs[number]
        ranked = choice.ranked
        competitors = tuple(policy_label(c.policy) for c in ranked[1:]) if len(ranked) > 1 else ()
        workload, problems = read_workload(resource.data)
        for problem in problems:
            self.diagnostics.append(
                Diagnostic.error(
                    f"{resource.key}: {problem.message}", resource.locate(problem.pointer)
                )
            )
        descending = names_descending(workload.uid)
        lazy = _Lazy(self.scheduler, choice, resource, workload, spec, number, descending)
        explanation = Explanation(lazy)
        if self.invalid[number]:
            return ResourcePlacement(
                resource, policy, _NOWHERE, explanation, competitors=competitors
            )
        missing = list(dependent_overrides_missing(policy, self.overrides))
        if missing:
            self._hold_back(policy, number, missing)
            absent = ", ".join(name for _, name in missing)
            lines = (*policy_lines(choice), f"held back: dependentOverrides {absent} missing")
            return ResourcePlacement(resource, policy, _NOWHERE, lines, competitors=competitors)
        digest = self.digests.get(number)
        if digest is None:
            digest = self.digests[number] = placement_digest(policy.spec.get("placement"))
        key = str(resource.key)
        locked = self.history.entries.get(key)
        why = None
        if locked is None:
            result = self.scheduler.schedule(number, spec, workload, descending)
        else:
            names = self.cluster_names
            why = why_again(key, locked, digest, spec, workload, names, self.history)
            if why is None:
                result = _kept(locked, spec)
                lazy.why = (
                    "previous result (placement lock) kept: neither the placement nor the "
                    "replicas changed, no reschedule was asked for and no cluster of it left "
                    f"the fleet\nresult: {result_text(result.replicas or {})}"
                )
            else:
                lazy.why = why
                lazy.previous = Rescheduling(locked.clusters, locked.term, self.history.asked(key))
                result = self.scheduler.reschedule(
                    number, spec, workload, descending, lazy.previous
                )
        trace = lazy.trace
        replicas = result.replicas
        if replicas is None:
            self.diagnostics.append(self._failure(resource, policy, result))
            return ResourcePlacement(
                resource, policy, _NOWHERE, explanation, competitors=competitors, trace=trace
            )
        if not replicas and workload.is_workload:
            self.diagnostics.append(
                Diagnostic.warning(
                    f"{resource.key} has 0 replicas but resource requirements, so Karmada "
                    "schedules it to no cluster (zero-replica clusters are dropped); it is "
                    "rendered nowhere",
                    resource.locate("/spec"),
                )
            )
        is_workload = workload.is_workload
        divided = self.divided[number] and is_workload
        suspended = suspended_clusters(policy, replicas) & replicas.keys()
        if suspended:
            clusters, keys = self.suspended.setdefault(number, (set(), []))
            clusters |= suspended
            keys.append(str(resource.key))
            replicas = MappingProxyType(
                {name: count for name, count in replicas.items() if name not in suspended}
            )
        return ResourcePlacement(
            resource,
            policy,
            replicas,
            explanation,
            strategy=self.strategies[number] if is_workload else "",
            divided=divided,
            competitors=competitors,
            job_completions=_job_completions(
                resource, replicas, divided and workload.replicas > 0, workload.uid
            ),
            affinity_term=result.term.name if result.term is not None else None,
            dropped=result.dropped,
            trace=trace,
            order=result.order,
            locked=_locked(result, workload, digest, self.stored),
            before=locked.clusters if locked is not None else None,
            why=why,
        )

    def _hold_back(self, policy: Policy, number: int, missing: list[tuple[int, str]]) -> None:
        """Once per policy: Karmada waits for its dependent overrides before propagating."""
        if number in self.held_back:
            return
        self.held_back.add(number)
        kind = "OverridePolicy" if policy.kind == "PropagationPolicy" else "ClusterOverridePolicy"
        for index, name in missing:
            self.diagnostics.append(
                Diagnostic.warning(
                    f"{policy_label(policy)}: dependentOverrides names {kind} {name!r}, which "
                    "is not among the inputs: Karmada holds every object the policy selects "
                    "back until it exists; they are rendered nowhere",
                    policy.locate(f"/spec/dependentOverrides/{index}"),
                )
            )

    def suspension_warnings(self) -> list[Diagnostic]:
        """Once per policy: the clusters its objects were kept from."""
        found = []
        for number, (clusters, keys) in sorted(self.suspended.items()):
            policy = self.fleet.policies[number]
            found.append(
                Diagnostic.warning(
                    f"{policy_label(policy)}: dispatching is suspended on "
                    f"{', '.join(sorted(clusters))}: Karmada neither creates nor updates "
                    f"{shorten(keys, 3)} there and leaves what already runs as it is; they "
                    "are not written to those clusters' folders, so a GitOps sync that "
                    "prunes would delete what runs there",
                    policy.locate("/spec/suspension"),
                )
            )
        return found

    def _choose(self, resource: Resource) -> PolicyChoice:
        kind = (resource.api_version, resource.kind)
        chooser = self.choosers.get(kind)
        if chooser is None:
            numbers = self.index.get(kind, [])
            chooser = self.choosers[kind] = PolicyChooser([self.compiled[n] for n in numbers])
        return chooser.choose(resource)

    def _failure(self, resource: Resource, policy: Policy, result: Result) -> Diagnostic:
        error = result.error or "no clusters available to schedule"
        if result.attempts > 1:
            error = "every clusterAffinities term failed; the first: " + error
        return Diagnostic.error(
            f"{resource.key} cannot be scheduled: {error} "
            f"(policy {policy_label(policy)} at {where(policy)})",
            resource.locate(),
        )


def _kept(locked: Locked, spec: PlacementSpec) -> Result:
    """The previous result, unchanged (Karmada had no reason to schedule again)."""
    clusters = [(name, count) for name, count in locked.clusters if count > 0]
    names = [name for name, _ in clusters]
    terms = {term.name: term for term in spec.cluster_affinities or ()}
    term = terms.get(locked.term) if locked.term is not None else None
    order = tuple(names) if names != sorted(names) else ()
    return Result(MappingProxyType(dict(sorted(clusters))), term, (), None, 1, order)


def _locked(
    result: Result, workload: Workload, digest: PlacementDigest, stored: dict[int, Any]
) -> Locked | None:
    """What the lock records: the result in stored order (non-workloads with 0, as Karmada
    stores them), the object's replica count and the placement it was computed from.
    `stored` keeps each result's pairs by identity: objects placed alike share them."""
    replicas = result.replicas
    if replicas is None:
        return None
    found = stored.get(id(replicas))
    if found is None or found[1] != result.order:
        names = result.order or tuple(sorted(replicas))
        pairs = tuple((name, replicas[name] or 0) for name in names)
        found = stored[id(replicas)] = (replicas, result.order, pairs)
    clusters = found[2]
    term = result.term.name if result.term is not None else None
    term_digest = digest.terms.get(term) if term is not None else None
    return Locked(clusters, workload.replicas, digest.rest, term, term_digest)


def replica_changes(placement: ResourcePlacement) -> list[tuple[str, int, int]]:
    """(cluster, replicas before, replicas now) for every cluster whose replica count the
    placement changed against the lock, by name; empty for non-workloads."""
    if placement.before is None or placement.locked is None:
        return []
    if placement.before == placement.locked.clusters:
        return []
    before, now = dict(placement.before), dict(placement.locked.clusters)
    if not any(now.values()) and not any(before.values()):
        return []  # a non-workload: copies, no replicas
    return [
        (name, before.get(name, 0), now.get(name, 0))
        for name in sorted(before.keys() | now.keys())
        if before.get(name, 0) != now.get(name, 0)
    ]


def moves(placement: ResourcePlacement) -> list[tuple[str, int, int]]:
    """`replica_changes` when replicas leave some clusters for others, else empty."""
    changes = replica_changes(placement)
    lost = any(new < old for _, old, new in changes)
    return changes if lost and any(new > old for _, old, new in changes) else []


def _unasked_moves(
    placements: Sequence[ResourcePlacement], history: History, clusters: frozenset[str]
) -> list[Diagnostic]:
    """Replicas that move although the object's own replicas and placement did not change
    and nobody asked for a reschedule: a cluster that left, or a copy that lost its cluster."""
    found = []
    for placement in placements:
        why = placement.why
        if why is None or own_inputs_changed(why) or history.asked(str(placement.resource.key)):
            continue
        changed = replica_changes(placement)
        lost = [name for name, old, new in changed if new < old]
        gained = [name for name, old, new in changed if new > old]
        if not lost or not (gained or any(name in clusters for name in lost)):
            continue
        text = ", ".join(f"{name} {old} -> {new}" for name, old, new in changed)
        found.append(
            Diagnostic.warning(
                f"{placement.resource.key}: replicas move although neither its replicas nor "
                f"its placement changed ({why}): {text}",
                placement.resource.locate(),
            )
        )
    return found


def resolve_placement(
    fleet: Fleet, history: History | None = None
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Place every input object of the fleet; objects no policy selects land nowhere.

    `history` holds the placement lock's previous results. Policy problems are reported
    once, at the policy; scheduling failures at the object, naming the policy and where it
    is written; replicas that move while the object's own inputs did not change, at the
    object.
    """
    with cycle_collection_paused():
        resolver = _Resolver(fleet, history)
        placements = [resolver.place(resource) for resource in fleet.resources]
    resolver.diagnostics.extend(resolver.suspension_warnings())
    if history is not None and history.entries:
        resolver.diagnostics.extend(
            _unasked_moves(placements, resolver.history, resolver.cluster_names)
        )
    return placements, resolver.diagnostics


def explain_placement(fleet: Fleet, placement: ResourcePlacement) -> list[str]:
    """The explanation lines of one placement (the same as `placement.explanation`)."""
    del fleet  # the explanation is computed with the placement; kept for the interface
    return list(placement.explanation)


_REPLICA_KINDS = {
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
}


def revise_replicas(
    data: dict[str, Any], placement: ResourcePlacement, cluster: str
) -> dict[str, Any]:
    """The object as `cluster` runs it: Karmada's ReviseReplica and Job completions.

    Returns a new dict; only the mappings on the changed path are copied.
    """
    replicas = placement.replicas.get(cluster)
    if replicas is None:
        return dict(data)
    kind = (data.get("apiVersion"), data.get("kind"))
    spec = data.get("spec")
    spec = dict(spec) if isinstance(spec, Mapping) else {}
    if kind in _REPLICA_KINDS:
        spec["replicas"] = replicas
    elif kind == ("batch/v1", "Job"):
        spec["parallelism"] = replicas
        completions = (placement.job_completions or {}).get(cluster)
        if completions is not None:
            spec["completions"] = completions
    else:
        third_party = THIRD_PARTY.get((str(kind[0]), str(kind[1])))
        if third_party is None or third_party.revise is None:
            return dict(data)
        spec = third_party.revise(spec, replicas)
    return {**data, "spec": spec}
