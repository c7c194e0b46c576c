"""Istio traffic across clusters: VirtualService subsets that stand for member clusters.

A subset that a DestinationRule among the inputs defines is what Istio makes of it: the pods
its labels select (bookinfo's `v1`, `v2`, `v3` are `version` labels), on whichever clusters
run them, unless its labels include `topology.istio.io/cluster: <cluster>`, which makes it
that cluster's pods. Only a subset that no DestinationRule for the host defines stands for a
cluster by name: the subset is a cluster's name, else `cluster-<subset>` is (listing 05's
`beijing` is `cluster-beijing`). For those hosts the compiler generates the DestinationRule,
one subset per name used, and places it wherever the VirtualServices that use it are placed.

Checks: the weights of a route add up to 100; a subset that maps to no cluster, or that the
host's DestinationRule does not define; traffic sent to a cluster subset where no workload of
the destination Service (with the subset's other labels) runs; traffic sent to a set of pods
that no workload of the fleet runs (a warning: Istio answers 503), or on a cluster where the
DestinationRule that defines the subset is not placed. With the annotation
`compile.kurator.dev/weights: fromPlacement` the weights are computed from the replicas each
subset's cluster received, by largest remainder, so that they add up to exactly 100 (ties go
to the smaller cluster name).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic, shorten
from ..fields import as_dict, as_list
from ..model import Fleet, Resource
from ..placement import ResourcePlacement
from ..placement.explain import Explanation
from ..yamldoc import Document, pointer_join
from .kind import StackKind
from .kubeedge import edge_application_replicas
from .workloads import WORKLOAD_KINDS, pod_labels, service_selects

GROUP = "networking.istio.io"
CLUSTER_LABEL = "topology.istio.io/cluster"
WEIGHTS = "compile.kurator.dev/weights"
FROM_PLACEMENT = "fromPlacement"
PROTOCOLS = ("http", "tcp", "tls")
CLUSTER_DOMAIN = "svc.cluster.local"

ServiceKey = tuple[str, str]  # (namespace, name)


def is_virtual_service(resource: Resource) -> bool:
    return resource.group == GROUP and resource.kind == "VirtualService"


def is_destination_rule(resource: Resource) -> bool:
    return resource.group == GROUP and resource.kind == "DestinationRule"


def service_of_host(host: Any, namespace: str) -> ServiceKey | None:
    """The Kubernetes Service an Istio host names: a short name lives in the namespace of the
    rule that uses it; `<name>.<namespace>.svc.cluster.local` names its namespace."""
    if not isinstance(host, str) or not host or "*" in host:
        return None
    if "." not in host:
        return (namespace, host)
    name, _, rest = host.partition(".")
    ns, _, domain = rest.partition(".")
    if ns and domain == CLUSTER_DOMAIN:
        return (ns, name)
    return None


def routed_services(resource: Resource) -> set[ServiceKey]:
    """The Services a VirtualService routes to or a DestinationRule configures."""
    spec = as_dict(resource.data.get("spec"))
    if is_destination_rule(resource):
        key = service_of_host(spec.get("host"), resource.namespace)
        return {key} if key else set()
    found = set()
    for protocol in PROTOCOLS:
        for rule in as_list(spec.get(protocol)):
            for route in as_list(as_dict(rule).get("route")):
                host = as_dict(as_dict(route).get("destination")).get("host")
                key = service_of_host(host, resource.namespace)
                if key is not None:
                    found.add(key)
    return found


@dataclass(frozen=True)
class Destination:
    pointer: str  # of the route destination entry: /spec/http/0/route/1
    host: str
    service: ServiceKey | None
    subset: str | None
    weight: int | None  # as written


@dataclass(frozen=True)
class Route:
    pointer: str  # /spec/http/0/route
    label: str  # http[0]
    destinations: tuple[Destination, ...]


def routes(resource: Resource) -> list[Route]:
    spec = as_dict(resource.data.get("spec"))
    found = []
    for protocol in PROTOCOLS:
        for i, rule in enumerate(as_list(spec.get(protocol))):
            pointer = f"/spec/{protocol}/{i}/route"
            destinations = []
            for j, entry in enumerate(as_list(as_dict(rule).get("route"))):
                entry = as_dict(entry)
                dest = as_dict(entry.get("destination"))
                host = str(dest.get("host") or "")
                subset = dest.get("subset")
                weight = entry.get("weight")
                destinations.append(
                    Destination(
                        f"{pointer}/{j}",
                        host,
                        service_of_host(host, resource.namespace),
                        str(subset) if subset else None,
                        weight
                        if isinstance(weight, int) and not isinstance(weight, bool)
                        else None,
                    )
                )
            if destinations:
                found.append(Route(pointer, f"{protocol}[{i}]", tuple(destinations)))
    return found


def alias_cluster(subset: str, clusters: Sequence[str]) -> str | None:
    """The cluster a subset name stands for: the cluster of that name, else `cluster-<subset>`."""
    for candidate in (subset, f"cluster-{subset}"):
        if candidate in clusters:
            return candidate
    return None


def largest_remainder(counts: Sequence[tuple[str, int]], total: int = 100) -> list[int]:
    """Integer shares of `total` proportional to the counts, adding up to exactly `total`:
    each share rounded down, then one more to the largest remainders; equal remainders go to
    the smaller cluster name first (then to the earlier entry)."""
    whole = sum(count for _, count in counts)
    if whole <= 0:
        raise ValueError("nothing to share out")
    exact = [Fraction(total * count, whole) for _, count in counts]
    shares = [int(e) for e in exact]
    order = sorted(range(len(counts)), key=lambda i: (shares[i] - exact[i], counts[i][0], i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class _Mesh:
    """What the checks need to know about the fleet's Services, rules and workloads."""

    clusters: list[str]
    placements: Sequence[ResourcePlacement]
    services: dict[ServiceKey, ResourcePlacement] = field(default_factory=dict)
    rules: dict[ServiceKey, list[ResourcePlacement]] = field(default_factory=dict)

    @classmethod
    def of(cls, fleet: Fleet, placements: Sequence[ResourcePlacement]) -> _Mesh:
        mesh = cls(sorted(c.name for c in fleet.clusters), placements)
        for p in placements:
            r = p.resource
            if r.api_version == "v1" and r.kind == "Service":
                mesh.services.setdefault((r.namespace, r.name), p)
            elif is_destination_rule(r):
                for key in routed_services(r):
                    mesh.rules.setdefault(key, []).append(p)
        return mesh

    def subset_cluster(
        self, resource: Resource, dest: Destination
    ) -> tuple[str | None, Diagnostic | None]:
        """The cluster a destination's subset stands for, or why it cannot be known."""
        cluster, _, problem = self.subset(resource, dest)
        return cluster, problem

    def subset(
        self, resource: Resource, dest: Destination
    ) -> tuple[str | None, Subset | None, Diagnostic | None]:
        """The cluster a destination's subset stands for (None for a set of pods), the written
        subset that defines it, or why it cannot be known."""
        if dest.subset is None or dest.service is None:
            return None, None, None
        where = resource.locate(f"{dest.pointer}/destination/subset")
        rules = self.rules.get(dest.service)
        if rules:
            for rule in rules:
                for index, subset in enumerate(
                    as_list(as_dict(rule.resource.data.get("spec")).get("subsets"))
                ):
                    if as_dict(subset).get("name") != dest.subset:
                        continue
                    labels = as_dict(as_dict(subset).get("labels"))
                    cluster = labels.get(CLUSTER_LABEL)
                    pods = {str(k): str(v) for k, v in labels.items() if k != CLUSTER_LABEL}
                    written = Subset(rule, pods)
                    if cluster is None or cluster in self.clusters:
                        return cluster, written, None
                    label = pointer_join(f"/spec/subsets/{index}/labels", CLUSTER_LABEL)
                    return (
                        None,
                        None,
                        Diagnostic.error(
                            f"{rule.resource.key}: subset {dest.subset!r} selects "
                            f"{CLUSTER_LABEL}={cluster}, which is not a cluster of the fleet "
                            f"(clusters: {', '.join(self.clusters)})",
                            rule.resource.locate(label),
                        ),
                    )
            names = sorted(
                str(as_dict(s).get("name"))
                for rule in rules
                for s in as_list(as_dict(rule.resource.data.get("spec")).get("subsets"))
            )
            return (
                None,
                None,
                Diagnostic.error(
                    f"{resource.key} routes to subset {dest.subset!r} of {dest.host}, which "
                    f"{rules[0].resource.key} does not define (its subsets: "
                    f"{', '.join(names) or 'none'}); Istio answers such requests with 503",
                    where,
                ),
            )
        if dest.service not in self.services:
            return (
                None,
                None,
                Diagnostic.warning(
                    f"{resource.key} routes to subset {dest.subset!r} of {dest.host}, which is no "
                    "Service of the fleet and has no DestinationRule here; the subset is not "
                    "checked",
                    where,
                ),
            )
        cluster = alias_cluster(dest.subset, self.clusters)
        if cluster is None:
            return (
                None,
                None,
                Diagnostic.error(
                    f"{resource.key}: subset {dest.subset!r} stands for no cluster: there is no "
                    f"cluster {dest.subset!r} or 'cluster-{dest.subset}' (clusters: "
                    f"{', '.join(self.clusters)}); name a cluster, or write a DestinationRule for "
                    f"{dest.host} whose subset selects {CLUSTER_LABEL} (or, when {dest.subset!r} "
                    "is a set of pods such as a version, the DestinationRule that defines it by "
                    "their labels, which Istio needs anyway)",
                    where,
                ),
            )
        return cluster, None, None

    def serving(
        self, service: ServiceKey, cluster: str | None, labels: Mapping[str, str] | None = None
    ) -> int:
        """Replicas of the workloads the Service selects whose pods carry `labels` too (a
        subset's), on `cluster`, or on every cluster when it is None."""
        placement = self.services.get(service)
        if placement is None:
            return 0
        total = 0
        for p in self.placements:
            r = p.resource
            if (r.group, r.kind) not in WORKLOAD_KINDS or r.namespace != service[0]:
                continue
            pods = pod_labels(r.data)
            if not service_selects(placement.resource.data, pods):
                continue
            if any(pods.get(key) != value for key, value in (labels or {}).items()):
                continue
            for where, count in p.replicas.items():
                if cluster is None or where == cluster:
                    total += _declared_replicas(r.data) if count is None else count
        return total


@dataclass(frozen=True)
class Subset:
    """A subset a written DestinationRule defines, with the pod labels it selects besides
    the cluster label: a subset without the cluster label is a set of pods (a version)."""

    rule: ResourcePlacement
    pods: Mapping[str, str]

    def labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.pods.items()))


def _declared_replicas(data: Mapping[str, Any]) -> int:
    """The pods a non-divided object runs on each of its clusters."""
    if data.get("kind") == "EdgeApplication":
        return edge_application_replicas(data)
    replicas = as_dict(data.get("spec")).get("replicas")
    return replicas if isinstance(replicas, int) else 1


def _weights_mode(resource: Resource) -> tuple[bool, Diagnostic | None]:
    value = as_dict(resource.metadata.get("annotations")).get(WEIGHTS)
    if value is None:
        return False, None
    if value == FROM_PLACEMENT:
        return True, None
    return False, Diagnostic.error(
        f"{resource.key}: annotation {WEIGHTS} is {value!r}; the only value is {FROM_PLACEMENT!r}",
        resource.locate(pointer_join("/metadata/annotations", WEIGHTS)),
    )


def _check_virtual_service(
    placement: ResourcePlacement, mesh: _Mesh
) -> tuple[ResourcePlacement, list[Diagnostic]]:
    resource = placement.resource
    from_placement, problem = _weights_mode(resource)
    diagnostics = [problem] if problem else []
    if from_placement and resource.templated:
        where = resource.locate(pointer_join("/metadata/annotations", WEIGHTS))
        message = f"{resource.key}: {WEIGHTS}: {FROM_PLACEMENT} is not supported in templates"
        return placement, [Diagnostic.error(message, where)]
    computed: dict[str, int] = {}  # destination pointer -> weight
    notes: list[str] = []
    for route in routes(resource):
        clusters: list[str | None] = []
        subsets: list[Subset | None] = []
        for dest in route.destinations:
            cluster, written, found = mesh.subset(resource, dest)
            clusters.append(cluster)
            subsets.append(written)
            if found is not None:
                diagnostics.append(found)
        if len(route.destinations) < 2:
            weights = [100]
        elif from_placement:
            weights_or_error = _from_placement(resource, route, clusters, subsets, mesh)
            if isinstance(weights_or_error, Diagnostic):
                diagnostics.append(weights_or_error)
                continue
            weights = weights_or_error
            computed.update(
                (d.pointer, w) for d, w in zip(route.destinations, weights, strict=True)
            )
            notes.append(
                f"weights: {route.label} from the replicas each subset's cluster received: "
                + ", ".join(
                    _weight_note(d, c, s, mesh, w)
                    for d, c, s, w in zip(
                        route.destinations, clusters, subsets, weights, strict=True
                    )
                )
                + " (largest remainder; equal remainders to the smaller cluster name)"
            )
        else:
            weights = [d.weight or 0 for d in route.destinations]
            negative = [d for d in route.destinations if (d.weight or 0) < 0]
            if negative:
                # Istio refuses a negative weight even when the route's weights add up to 100.
                diagnostics.extend(
                    Diagnostic.error(
                        f"{resource.key}: a route weight must be between 0 and 100, not {d.weight}",
                        resource.locate(f"{d.pointer}/weight"),
                    )
                    for d in negative
                )
                continue
            if sum(weights) != 100:
                diagnostics.append(
                    Diagnostic.error(
                        f"{resource.key}: the weights of {route.label} add up to {sum(weights)} "
                        f"({' + '.join(str(w) for w in weights)}), not 100",
                        resource.locate(route.pointer),
                    )
                )
                continue
        for dest, cluster, written, weight in zip(
            route.destinations, clusters, subsets, weights, strict=True
        ):
            if dest.service is None or weight <= 0:
                continue
            if cluster is None:
                if written is not None:
                    diagnostics.extend(_pod_subset(placement, route, dest, written, weight, mesh))
                continue
            if mesh.serving(dest.service, cluster, written.pods if written else None) == 0:
                service = "/".join(dest.service)
                pods = f" with {written.labels()}" if written and written.pods else ""
                diagnostics.append(
                    Diagnostic.error(
                        f"{resource.key} sends {weight}% of {route.label} to subset "
                        f"{dest.subset!r} ({cluster}), but no workload selected by Service "
                        f"{service}{pods} runs on {cluster}: that traffic would fail "
                        "(no healthy upstream)",
                        resource.locate(f"{dest.pointer}/destination"),
                    )
                )
    if not computed:
        return placement, diagnostics
    return _with_weights(placement, computed, notes), diagnostics


def _pod_subset(
    placement: ResourcePlacement,
    route: Route,
    dest: Destination,
    written: Subset,
    weight: int,
    mesh: _Mesh,
) -> Iterator[Diagnostic]:
    """A subset that is a set of pods (bookinfo's v1, v2, v3): Istio reaches its pods on any
    cluster of the mesh, but only where its DestinationRule is applied, and only if some
    workload runs them."""
    assert dest.service is not None
    resource, rule = placement.resource, written.rule.resource
    where = resource.locate(f"{dest.pointer}/destination")
    service = "/".join(dest.service)
    if mesh.serving(dest.service, None) and not mesh.serving(dest.service, None, written.pods):
        yield Diagnostic.warning(
            f"{resource.key} sends {weight}% of {route.label} to subset {dest.subset!r}, the "
            f"pods with {written.labels()} that {rule.key} defines, but no workload of the "
            f"fleet behind Service {service} runs such pods; Istio answers those requests "
            "with 503 (no healthy upstream)",
            where,
        )
    missing = sorted(set(placement.replicas) - set(written.rule.replicas))
    if missing:
        yield Diagnostic.warning(
            f"{resource.key} routes to subset {dest.subset!r} on {shorten(missing)}, where "
            f"{rule.key}, which defines it, is not placed; Istio there answers those requests "
            "with 503",
            where,
        )


def _weight_note(
    dest: Destination, cluster: str | None, written: Subset | None, mesh: _Mesh, weight: int
) -> str:
    where = dest.subset if dest.subset == cluster else f"{dest.subset} ({cluster})"
    pods = written.pods if written else None
    count = mesh.serving(dest.service, cluster, pods) if dest.service and cluster else 0
    return f"{where} {count} -> {weight}"


def _from_placement(
    resource: Resource,
    route: Route,
    clusters: Sequence[str | None],
    subsets: Sequence[Subset | None],
    mesh: _Mesh,
) -> list[int] | Diagnostic:
    counts: list[tuple[str, int]] = []
    for dest, cluster, written in zip(route.destinations, clusters, subsets, strict=True):
        if cluster is None or dest.service is None or dest.service not in mesh.services:
            return Diagnostic.error(
                f"{resource.key}: {WEIGHTS}: {FROM_PLACEMENT} needs every destination of "
                f"{route.label} to be a Service of the fleet with a subset that stands for a "
                f"cluster; {dest.host} subset {dest.subset!r} is not",
                resource.locate(f"{dest.pointer}/destination"),
            )
        counts.append(
            (cluster, mesh.serving(dest.service, cluster, written.pods if written else None))
        )
    if sum(count for _, count in counts) == 0:
        return Diagnostic.error(
            f"{resource.key}: {WEIGHTS}: {FROM_PLACEMENT}: the subsets' clusters run no replicas "
            f"of the destination workloads, so there is nothing to weigh {route.label} by",
            resource.locate(route.pointer),
        )
    return largest_remainder(counts)


def _with_weights(
    placement: ResourcePlacement, computed: Mapping[str, int], notes: Sequence[str]
) -> ResourcePlacement:
    resource = placement.resource
    data = _set_weights(resource.data, computed)
    doc = resource.document
    changed = Resource(Document(doc.file, doc.index, data, doc.positions), resource.templated)
    before = placement.explanation

    def render() -> list[str]:
        head = list(before)
        tail = [head.pop()] if head and head[-1].startswith("result:") else []
        return [*head, *notes, *tail]

    return replace(placement, resource=changed, explanation=Explanation(render))


def _set_weights(data: Mapping[str, Any], computed: Mapping[str, int]) -> dict[str, Any]:
    result = dict(data)
    spec = dict(as_dict(result.get("spec")))
    for protocol in PROTOCOLS:
        rules = as_list(spec.get(protocol))
        new_rules = []
        for i, rule in enumerate(rules):
            rule = dict(as_dict(rule))
            entries = []
            for j, entry in enumerate(as_list(rule.get("route"))):
                weight = computed.get(f"/spec/{protocol}/{i}/route/{j}")
                entries.append(entry if weight is None else {**as_dict(entry), "weight": weight})
            if "route" in rule:
                rule["route"] = entries
            new_rules.append(rule)
        if protocol in spec:
            spec[protocol] = new_rules
    result["spec"] = spec
    return result


def adjust(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """VirtualServices checked, and their weights computed where they ask for it."""
    if not any(is_virtual_service(p.resource) for p in placements):
        return list(placements), []
    mesh = _Mesh.of(fleet, placements)
    result = list(placements)
    diagnostics: list[Diagnostic] = []
    for index, placement in enumerate(placements):
        if is_virtual_service(placement.resource):
            result[index], found = _check_virtual_service(placement, mesh)
            diagnostics.extend(found)
    return result, diagnostics


@dataclass
class _Generated:
    api_version: str
    subsets: dict[str, str] = field(default_factory=dict)  # subset -> cluster
    clusters: set[str] = field(default_factory=set)
    sources: list[Resource] = field(default_factory=list)


def _generated_rules(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> Iterator[tuple[ServiceKey, _Generated]]:
    mesh = _Mesh.of(fleet, placements)
    wanted: dict[ServiceKey, _Generated] = {}
    for placement in placements:
        resource = placement.resource
        if not is_virtual_service(resource) or not placement.replicas:
            continue
        for route in routes(resource):
            for dest in route.destinations:
                if dest.service is None or dest.service in mesh.rules:
                    continue
                cluster, problem = mesh.subset_cluster(resource, dest)
                if cluster is None or problem is not None or dest.subset is None:
                    continue
                rule = wanted.setdefault(dest.service, _Generated(resource.api_version))
                rule.subsets[dest.subset] = cluster
                rule.clusters.update(placement.replicas)
                if all(source is not resource for source in rule.sources):
                    rule.sources.append(resource)
    yield from sorted(wanted.items())


def destination_rules(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """A DestinationRule for each Service whose cluster subsets no written rule defines, on
    the clusters of the VirtualServices that use them."""
    if not any(is_virtual_service(p.resource) for p in placements):
        return [], []
    taken = {p.resource.key for p in placements}
    added: list[ResourcePlacement] = []
    diagnostics: list[Diagnostic] = []
    for (namespace, name), rule in _generated_rules(fleet, placements):
        first = rule.sources[0]
        used = ", ".join(sorted(rule.subsets))
        data = {
            "apiVersion": rule.api_version,
            "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "host": f"{name}.{namespace}.{CLUSTER_DOMAIN}",
                "subsets": [
                    {"name": subset, "labels": {CLUSTER_LABEL: cluster}}
                    for subset, cluster in sorted(rule.subsets.items())
                ],
            },
        }
        position = first.document.positions.get("", (1, 1))
        generated = Resource(
            Document(first.document.file, first.document.index, data, {"": position})
        )
        if generated.key in taken:
            diagnostics.append(
                Diagnostic.error(
                    f"{first.key} needs a DestinationRule for its cluster subsets ({used}), "
                    f"but {generated.key} already exists for another host; define the subsets "
                    f"in a DestinationRule for {name}.{namespace}.{CLUSTER_DOMAIN} yourself",
                    first.locate(),
                )
            )
            continue
        for source in rule.sources:
            diagnostics.append(
                Diagnostic.warning(
                    f"{source.key} routes to subsets ({used}) of {name} that no DestinationRule "
                    f"defines, which Istio requires; generated {generated.key} with one subset "
                    f"per cluster (the upstream form: a {GROUP} DestinationRule for host "
                    f"{name}.{namespace}.{CLUSTER_DOMAIN} whose subsets select the label "
                    f"{CLUSTER_LABEL}: <cluster>)",
                    source.locate(),
                )
            )
        clusters = sorted(rule.clusters)
        sources = ", ".join(f"{s.key} ({s.locate().file}:{s.locate().line})" for s in rule.sources)
        explanation = (
            f"placement: generated for the cluster subsets of {sources}; it goes wherever they "
            "are placed",
            "subsets: "
            + ", ".join(f"{s} -> {c}" for s, c in sorted(rule.subsets.items()))
            + " (a subset is a cluster's name, else cluster-<subset>)",
            "result: " + ", ".join(clusters),
        )
        added.append(
            ResourcePlacement(
                generated, None, MappingProxyType(dict.fromkeys(clusters)), explanation
            )
        )
    return added, diagnostics


STACK = StackKind("istio", adjust=adjust, after=destination_rules)
