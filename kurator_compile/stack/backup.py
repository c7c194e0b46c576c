"""BackupPolicy (backup.kurator.dev/v1alpha1) -> Velero Schedule + BackupStorageLocation.

Rendered on each cluster the policy selects (`clusterSelector`; by default every cluster
that hosts an object in the listed namespaces). Each cluster's BackupStorageLocation gets its
own prefix, `<fleet>/<cluster>`, so clusters never overwrite each other's backups.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from ..cron import CronError, parse_standard
from ..duration import DurationError, parse_go_duration
from ..errors import Diagnostic
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from ..placement.selectors import cluster_matches
from ..yamldoc import Document
from .kind import StackKind, generated_resource

VELERO_NAMESPACE = "velero"
KINDS = ("BackupPolicy",)


# Velero's ttl is a Go time.Duration: at most 2^63 - 1 nanoseconds, 2562047 whole hours.
MAX_TTL_HOURS = (2**63 - 1) // (3600 * 10**9)


def _ttl_problem(doc: Document, retention: dict[str, Any], period: int) -> Diagnostic | None:
    """A ttl Velero could not read: an explicit one Go's ParseDuration refuses, or a computed
    one past the largest Duration (Velero would reject the Schedule and never back up)."""
    if "ttl" in retention:
        try:
            parse_go_duration(str(retention["ttl"]))
        except DurationError as error:
            return Diagnostic.error(
                f"retentionPolicy.ttl: {error}", doc.locate("/spec/retentionPolicy/ttl")
            )
        return None
    hours = ttl_hours(retention.get("keepLast", 1), period)
    if hours <= MAX_TTL_HOURS:
        return None
    return Diagnostic.error(
        f"keepLast {retention.get('keepLast', 1)} x the schedule's longest gap is {hours}h, past "
        f"the largest ttl Velero reads ({MAX_TTL_HOURS}h, Go's largest Duration)",
        doc.locate("/spec/retentionPolicy/keepLast" if "keepLast" in retention else "/spec"),
    )


def ttl_hours(keep_last: int, period_minutes: int) -> int:
    """Backups live long enough that `keep_last` of them exist: keepLast x the longest gap
    between two runs of the schedule, in whole hours (rounded up)."""
    return -(-(keep_last * period_minutes) // 60)


def _targets(doc: Document, fleet: Fleet, placements: Sequence[ResourcePlacement]) -> list[str]:
    spec = doc.data["spec"]
    if "clusterSelector" in spec:
        return sorted(c.name for c in fleet.clusters if cluster_matches(spec["clusterSelector"], c))
    namespaces = set(spec["backupContent"]["namespaces"])
    hosting: set[str] = set()
    for placement in placements:
        # Objects in the namespaces count; the Namespace object itself goes everywhere.
        if placement.resource.namespace in namespaces:
            hosting.update(placement.replicas)
    return sorted(hosting)


def expand(
    doc: Document, fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    spec = doc.data["spec"]
    name = doc.data["metadata"]["name"]
    try:
        period = parse_standard(spec["schedule"]).longest_gap_minutes()
    except CronError as error:
        return [], [
            Diagnostic.error(f"invalid cron schedule: {error}", doc.locate("/spec/schedule"))
        ]
    retention = spec.get("retentionPolicy") or {}
    problem = _ttl_problem(doc, retention, period)
    if problem is not None:
        return [], [problem]
    ttl = retention.get("ttl") or f"{ttl_hours(retention.get('keepLast', 1), period)}h0m0s"
    location = spec["storageLocation"]
    schedule = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {"name": name, "namespace": VELERO_NAMESPACE},
        "spec": {
            "schedule": spec["schedule"],
            "template": {
                "includedNamespaces": list(spec["backupContent"]["namespaces"]),
                "storageLocation": name,
                "ttl": ttl,
                **(
                    {"excludedResources": spec["backupContent"]["excludedResources"]}
                    if spec["backupContent"].get("excludedResources")
                    else {}
                ),
                **(
                    {"includedResources": spec["backupContent"]["includedResources"]}
                    if spec["backupContent"].get("includedResources")
                    else {}
                ),
            },
        },
    }
    storage: dict[str, Any] = {
        "provider": location["provider"],
        "objectStorage": {"bucket": location["bucket"], "prefix": location.get("prefix", "")},
    }
    config = dict(location.get("config") or {})
    if location.get("region"):
        config["region"] = location["region"]
    if config:
        storage["config"] = config
    if location.get("credential"):
        storage["credential"] = dict(location["credential"])
    bsl = {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": name, "namespace": VELERO_NAMESPACE},
        "spec": storage,
    }
    targets = _targets(doc, fleet, placements)
    diagnostics = [
        Diagnostic.warning(
            "BackupPolicy is not an upstream Kurator kind; it is compiled to Velero Schedules "
            "and BackupStorageLocations. Kurator's own form is backup.kurator.dev/v1alpha1 "
            "Backup (spec.schedule, spec.destination, spec.policy.resourceFilter."
            "includedNamespaces, spec.policy.ttl)",
            doc.locate(""),
        )
    ]
    if not targets:
        diagnostics.append(
            Diagnostic.warning(
                f"BackupPolicy {name!r} selects no cluster: nothing is backed up",
                doc.locate("/spec"),
            )
        )
    replicas = MappingProxyType(dict.fromkeys(targets))
    loc = doc.locate("")
    explanation = (
        f"placement: BackupPolicy {name} ({loc.file}:{loc.line}) on the clusters "
        + ("its clusterSelector picks" if "clusterSelector" in spec else "hosting its namespaces"),
        f"ttl: {ttl} (keepLast {retention.get('keepLast', 1)} x the longest gap of "
        f"{period} min between runs of {spec['schedule']!r})",
        "result: " + (", ".join(targets) or "(none)"),
    )
    return [
        ResourcePlacement(generated_resource(doc, schedule), None, replicas, explanation),
        ResourcePlacement(generated_resource(doc, bsl), None, replicas, explanation),
    ], diagnostics


def per_cluster(
    data: dict[str, Any], cluster: Cluster, fleet_name: str, resource: Resource
) -> dict[str, Any]:
    """Each cluster writes below its own prefix in the shared bucket."""
    if data.get("apiVersion") != "velero.io/v1" or data.get("kind") != "BackupStorageLocation":
        return data
    spec = dict(data["spec"])
    storage = dict(spec["objectStorage"])
    base = str(storage.get("prefix") or "").strip("/")
    storage["prefix"] = "/".join(p for p in (base, fleet_name, cluster.name) if p)
    spec["objectStorage"] = storage
    return {**data, "spec": spec}


def _after(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    added: list[ResourcePlacement] = []
    diagnostics: list[Diagnostic] = []
    for doc in fleet.extensions.get("BackupPolicy", ()):
        generated, found = expand(doc, fleet, placements)
        added.extend(generated)
        diagnostics.extend(found)
    return added, diagnostics


def _is_storage_location(resource: Resource) -> bool:
    data = resource.data
    return data.get("apiVersion") == "velero.io/v1" and data.get("kind") == "BackupStorageLocation"


STACK = StackKind(
    "backup",
    kinds=(("backup.kurator.dev", "BackupPolicy"),),
    after=_after,
    varies=_is_storage_location,
    per_cluster=per_cluster,
)
