"""Kurator's `backup.kurator.dev/v1alpha1` Backup, Restore and Migrate -> the Velero objects
Kurator's fleet-manager writes into each destination member's `velero` namespace
(upstream `pkg/fleet-manager/backup/`).

Every Velero object is named `<cluster>-<backup|restore|migrate>-<creator ns>-<creator name>`:
the backup plugin points every member at the same bucket, and Velero syncs each backup into
every cluster that reads that bucket, so a name without the cluster would collide there.

The specs are written as Kurator's Go client sends them, zero-valued fields included
(`ttl: 0s`, `hooks: {}`, `metadata: {}`, `csiSnapshotTimeout: 0s`, `itemOperationTimeout: 0s`),
so the output equals the objects Kurator creates. Deliberate differences:
- no ownerReferences, `creationTimestamp` or `status` (the API server owns them);
- a Restore of a scheduled Backup names Velero's `scheduleName` (Velero then picks the latest
  completed backup of the schedule) instead of the backup Kurator finds at reconcile time;
- a `policy` without `resourceFilter`, which upstream dereferences and panics on, means "every
  resource", as the API documents;
- a Migrate's Restores are emitted with its Backup; Kurator waits for the backup to complete
  first. No GitOps tool orders objects across clusters, so each such Restore carries the
  annotation `compile.kurator.dev/restore-after: <source cluster>/velero/<backup>` and the
  compile warns that it must be synced only after that backup is Completed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from ..cron import CronError, parse_standard
from ..duration import DurationError, normalize_go_duration
from ..errors import Diagnostic
from ..fields import as_dict, as_list
from ..yamldoc import Document, pointer_join
from .inventory import Generated, KuratorFleet, KuratorInputs, Member

VELERO_API_VERSION = "velero.io/v1"
VELERO_NAMESPACE = "velero"
BACKUP, RESTORE, MIGRATE = "backup", "restore", "migrate"
NAME_LABELS = {
    BACKUP: "kurator.dev/backup-name",
    RESTORE: "kurator.dev/restore-name",
    MIGRATE: "kurator.dev/migrate-name",
}
FLEET_LABEL = "fleet.kurator.dev/fleet-name"
PLUGIN_LABEL = "fleet.kurator.dev/plugin"
RESTORE_AFTER = "compile.kurator.dev/restore-after"
MAX_NAME = 253

# Kurator's ResourceFilter fields that a Velero BackupSpec carries under the same names.
BACKUP_FILTER_FIELDS = (
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "includeClusterResources",
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
    "labelSelector",
    "orLabelSelectors",
)
# A Velero RestoreSpec has no cluster/namespace-scoped resource filters.
RESTORE_FILTER_FIELDS = (
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "includeClusterResources",
    "labelSelector",
    "orLabelSelectors",
)


def velero_name(cluster: str, creator_kind: str, namespace: str, name: str) -> str:
    """Unique across a shared bucket (upstream `generateVeleroResourceName`)."""
    return f"{cluster}-{creator_kind}-{namespace}-{name}"


def velero_labels(creator_kind: str, creator: str, fleet: str) -> dict[str, str]:
    """Upstream `generateVeleroInstanceLabel`: how Kurator finds (and deletes) its objects."""
    return {FLEET_LABEL: fleet, PLUGIN_LABEL: "backup", NAME_LABELS[creator_kind]: creator}


def velero_object(
    kind: str,
    name: str,
    labels: dict[str, str],
    spec: dict[str, Any],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Upstream `generateVeleroResourceObjectMeta` around a spec."""
    metadata: dict[str, Any] = {"annotations": annotations} if annotations else {}
    metadata.update(labels=dict(sorted(labels.items())), name=name, namespace=VELERO_NAMESPACE)
    return {"apiVersion": VELERO_API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _metadata(doc: Document) -> tuple[str, str]:
    """(namespace, name); a namespaced object without a namespace lands in `default`."""
    metadata = as_dict(as_dict(doc.data).get("metadata"))
    return str(metadata.get("namespace") or "default"), str(metadata.get("name") or "")


def _copy_fields(source: dict[str, Any], fields: Iterable[str], target: dict[str, Any]) -> None:
    """Go's `omitempty`: nil pointers and empty slices and maps are left out; a set pointer
    (`false`, `{}` as a label selector) is kept."""
    for field in fields:
        value = source.get(field)
        if value is None or (isinstance(value, list) and not value):
            continue
        if isinstance(value, dict) and not value and field != "labelSelector":
            continue
        target[field] = copy.deepcopy(value)


def _destination(
    inputs: KuratorInputs, doc: Document, value: object, pointer: str, what: str
) -> tuple[KuratorFleet | None, list[Member], list[Diagnostic]]:
    """Upstream `fetchDestinationClusters`: the fleet (in the creator's namespace) and every
    member, or the listed ones, each matched by name *and* kind."""
    namespace, _ = _metadata(doc)
    destination = as_dict(value)
    fleet_name = destination.get("fleet")
    if not isinstance(fleet_name, str) or not fleet_name:
        message = f"{what} must name a fleet (`fleet`)"
        return None, [], [Diagnostic.error(message, doc.locate(pointer_join(pointer, "fleet")))]
    fleet = inputs.fleet(fleet_name, namespace)
    if fleet is None:
        known = ", ".join(sorted(f"{f.namespace}/{f.name}" for f in inputs.fleets)) or "none"
        message = (
            f"{what} names fleet {fleet_name!r}, which is not in namespace {namespace!r} "
            f"(Kurator looks in the namespace of the object that names it; fleets: {known})"
        )
        return None, [], [Diagnostic.error(message, doc.locate(pointer_join(pointer, "fleet")))]
    refs = as_list(destination.get("clusters"))
    if not refs:
        return fleet, sorted(fleet.members, key=lambda m: (m.name, m.kind)), []
    chosen: dict[tuple[str, str], Member] = {}
    errors: list[Diagnostic] = []
    members = ", ".join(f"{m.name} ({m.kind})" for m in fleet.members) or "none"
    for index, ref in enumerate(refs):
        name, kind = as_dict(ref).get("name"), as_dict(ref).get("kind")
        member = (
            fleet.member(name, kind) if isinstance(name, str) and isinstance(kind, str) else None
        )
        if member is not None:
            chosen[(member.name, member.kind)] = member
            continue
        errors.append(
            Diagnostic.error(
                f"{what} names cluster {name!r} of kind {kind!r}, which is not a member of "
                f"fleet {fleet.name!r} (members, matched by name and kind: {members})",
                doc.locate(f"{pointer}/clusters/{index}"),
            )
        )
    return fleet, [chosen[key] for key in sorted(chosen)], errors


def _panic_warning(doc: Document, pointer: str, policy: dict[str, Any]) -> list[Diagnostic]:
    if "resourceFilter" in policy:
        return []
    return [
        Diagnostic.warning(
            "a policy without resourceFilter makes Kurator's controller panic (upstream "
            "buildVeleroBackupSpec reads it unchecked); compiled as the API documents it: "
            "every resource is backed up",
            doc.locate(pointer),
        )
    ]


def backup_spec(
    doc: Document, policy: dict[str, Any] | None, pointer: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Upstream `buildVeleroBackupSpec`, with the Go zero values Kurator's client sends."""
    spec: dict[str, Any] = {
        "csiSnapshotTimeout": "0s",
        "hooks": {},
        "itemOperationTimeout": "0s",
        "metadata": {},
        "ttl": "0s",
    }
    if policy is None:
        return spec, []
    diagnostics = _panic_warning(doc, pointer, policy)
    _copy_fields(as_dict(policy.get("resourceFilter")), BACKUP_FILTER_FIELDS, spec)
    _copy_fields(policy, ("orderedResources",), spec)
    ttl = policy.get("ttl")
    if ttl is not None:
        try:
            if not isinstance(ttl, str):
                raise DurationError(f"{ttl!r} is not a string")
            spec["ttl"] = normalize_go_duration(ttl)
        except DurationError as error:
            diagnostics.append(
                Diagnostic.error(
                    f"ttl must be a Go duration such as 720h: {error}",
                    doc.locate(f"{pointer}/ttl"),
                )
            )
    return dict(sorted(spec.items())), diagnostics


def restore_spec(
    backup_name: str, policy: dict[str, Any] | None, schedule_name: str = ""
) -> dict[str, Any]:
    """Upstream `buildVeleroRestoreInstance`; `scheduleName` is the offline stand-in for "the
    most recent completed backup of that schedule"."""
    spec: dict[str, Any] = {"backupName": backup_name, "hooks": {}, "itemOperationTimeout": "0s"}
    if schedule_name:
        spec["scheduleName"] = schedule_name
    if policy is not None:
        _copy_fields(policy, ("namespaceMapping", "preserveNodePorts"), spec)
        _copy_fields(as_dict(policy.get("resourceFilter")), RESTORE_FILTER_FIELDS, spec)
        preserve = policy.get("preserveStatus")
        if preserve is not None:
            status: dict[str, Any] = {}
            _copy_fields(as_dict(preserve), ("includedResources", "excludedResources"), status)
            spec["restoreStatus"] = status
    return dict(sorted(spec.items()))


def _name_errors(doc: Document, names: Iterable[str]) -> list[Diagnostic]:
    return [
        Diagnostic.error(
            f"the Velero object name {name!r} is longer than {MAX_NAME} characters; "
            "shorten the cluster, namespace or object name",
            doc.locate("/metadata/name"),
        )
        for name in names
        if len(name) > MAX_NAME
    ]


def _policy(spec: dict[str, Any]) -> dict[str, Any] | None:
    policy = spec.get("policy")
    return None if policy is None else as_dict(policy)


def _creators(
    inputs: KuratorInputs, kind: str
) -> Iterator[tuple[Document, str, str, dict[str, Any]]]:
    """Each Kurator object of `kind` with its namespace, name and spec."""
    for doc in inputs.documents.get(kind, ()):
        namespace, name = _metadata(doc)
        yield doc, namespace, name, as_dict(as_dict(doc.data).get("spec"))


def compile_backup(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Upstream `BackupManager.reconcileBackupResources`: a Velero Backup (one-off) or Schedule
    (with `spec.schedule`, the BackupSpec under `template`) in each destination member."""
    generated: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    for doc, namespace, name, spec in _creators(inputs, "Backup"):
        fleet, members, errors = _destination(
            inputs, doc, spec.get("destination"), "/spec/destination", f"Backup {name!r}"
        )
        schedule = spec.get("schedule")
        if schedule is not None and schedule != "":
            errors.extend(_schedule_diagnostics(doc, schedule))
        body, policy_diagnostics = backup_spec(doc, _policy(spec), "/spec/policy")
        errors.extend(policy_diagnostics)
        names = {m.name: velero_name(m.name, BACKUP, namespace, name) for m in members}
        errors.extend(_name_errors(doc, names.values()))
        diagnostics.extend(errors)
        if fleet is None or any(d.is_error for d in errors):
            continue
        labels = velero_labels(BACKUP, name, fleet.name)
        for member in members:
            if schedule:
                obj = velero_object(
                    "Schedule",
                    names[member.name],
                    labels,
                    {"schedule": schedule, "template": copy.deepcopy(body)},
                )
            else:
                obj = velero_object("Backup", names[member.name], labels, copy.deepcopy(body))
            generated.append(Generated(member.name, obj, doc))
    return generated, diagnostics


def _schedule_diagnostics(doc: Document, schedule: object) -> list[Diagnostic]:
    where = doc.locate("/spec/schedule")
    if not isinstance(schedule, str):
        return [Diagnostic.error(f"schedule must be a cron expression, not {schedule!r}", where)]
    try:
        parsed = parse_standard(schedule)
    except CronError as error:
        return [
            Diagnostic.error(
                f"invalid schedule {schedule!r}: {error}; Velero would mark the "
                "Schedule FailedValidation and never run it",
                where,
            )
        ]
    if parsed.descriptor:
        return [
            Diagnostic.warning(
                f"Velero runs {schedule!r}, but Kurator's controller reads only five-field "
                "cron expressions (upstream GetCronInterval) and fails to track this "
                "Backup's status; prefer a five-field expression",
                where,
            )
        ]
    return []


def compile_restore(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Upstream `RestoreManager.reconcileRestoreResources` with
    `fetchRestoreDestinationClusters`: a Velero Restore on the Restore's destination (a subset
    of its Backup's) or, without one, on the Backup's destination."""
    backups = {_metadata(doc): doc for doc in inputs.documents.get("Backup", ())}
    generated: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    for doc, namespace, name, spec in _creators(inputs, "Restore"):
        backup_name = spec.get("backupName")
        backup = backups.get((namespace, str(backup_name)))
        if not isinstance(backup_name, str) or backup is None:
            known = ", ".join(sorted(n for ns, n in backups if ns == namespace)) or "none"
            diagnostics.append(
                Diagnostic.error(
                    f"Restore {name!r} refers to Backup {backup_name!r}, which is not in "
                    f"namespace {namespace!r} (Backups there: {known})",
                    doc.locate("/spec/backupName"),
                )
            )
            continue
        backup_spec = as_dict(as_dict(backup.data).get("spec"))
        base_fleet, base, errors = _destination(
            inputs, backup, backup_spec.get("destination"), "/spec/destination", "Backup"
        )
        if base_fleet is None or errors:
            diagnostics.append(
                Diagnostic.error(
                    f"Restore {name!r}: the destination of Backup {backup_name!r} does not "
                    "resolve (see the errors reported at that Backup)",
                    doc.locate("/spec/backupName"),
                )
            )
            continue
        fleet, members = base_fleet, base
        if spec.get("destination") is not None:
            found = _restore_destination(inputs, doc, spec, base_fleet, base, backup_name)
            if isinstance(found, list):
                diagnostics.extend(found)
                continue
            fleet, members = found
        scheduled = bool(backup_spec.get("schedule"))
        labels = velero_labels(RESTORE, name, fleet.name)
        names = {m.name: velero_name(m.name, RESTORE, namespace, name) for m in members}
        name_errors = _name_errors(doc, names.values())
        diagnostics.extend(name_errors)
        if name_errors:
            continue
        for member in members:
            source = velero_name(member.name, BACKUP, namespace, backup_name)
            body = (
                restore_spec("", _policy(spec), schedule_name=source)
                if scheduled
                else restore_spec(source, _policy(spec))
            )
            obj = velero_object("Restore", names[member.name], labels, body)
            generated.append(Generated(member.name, obj, doc))
        if members:
            diagnostics.append(
                Diagnostic.warning(
                    f"Restore {name!r}: Velero refuses a Restore whose backup has not completed "
                    f"and does not retry it; sync it once Backup {backup_name!r} is Completed "
                    f"in {', '.join(m.name for m in members)}",
                    doc.locate("/spec/backupName"),
                )
            )
    return generated, diagnostics


def _restore_destination(
    inputs: KuratorInputs,
    doc: Document,
    spec: dict[str, Any],
    base_fleet: KuratorFleet,
    base: list[Member],
    backup_name: str,
) -> tuple[KuratorFleet, list[Member]] | list[Diagnostic]:
    """The Restore's own destination: the Backup's fleet, and only clusters it backed up."""
    fleet, members, errors = _destination(
        inputs, doc, spec.get("destination"), "/spec/destination", "Restore"
    )
    if fleet is None or errors:
        return errors
    if fleet.name != base_fleet.name:
        return [
            Diagnostic.error(
                f"the restore destination fleet {fleet.name!r} must be the fleet of Backup "
                f"{backup_name!r}, {base_fleet.name!r}",
                doc.locate("/spec/destination/fleet"),
            )
        ]
    backed_up = {(m.name, m.kind) for m in base}
    outside = [m for m in members if (m.name, m.kind) not in backed_up]
    if outside:
        listed = ", ".join(f"{m.name} ({m.kind})" for m in outside)
        return [
            Diagnostic.error(
                f"the restore clusters must be a subset of the destination of Backup "
                f"{backup_name!r}; not backed up there: {listed}",
                doc.locate("/spec/destination"),
            )
        ]
    return fleet, members


def compile_migrate(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Upstream `MigrateManager.reconcileMigrateBackup` and `reconcileMigrateRestore`: a Velero
    Backup on the one source cluster and a Velero Restore of it on each target cluster."""
    generated: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    for doc, namespace, name, spec in _creators(inputs, "Migrate"):
        source_fleet, sources, errors = _destination(
            inputs, doc, spec.get("sourceCluster"), "/spec/sourceCluster", "sourceCluster"
        )
        if source_fleet is not None and not errors:
            listed = as_list(as_dict(spec.get("sourceCluster")).get("clusters"))
            if not listed or len(sources) != 1:
                errors.append(
                    Diagnostic.error(
                        f"Migrate {name!r}: sourceCluster must list exactly one cluster "
                        f"(it resolves to {len(sources)})",
                        doc.locate("/spec/sourceCluster"),
                    )
                )
        target_fleet, targets, target_errors = _destination(
            inputs, doc, spec.get("targetCluster"), "/spec/targetCluster", "targetCluster"
        )
        errors.extend(target_errors)
        policy = _policy(spec)
        backup_policy: dict[str, Any] | None = None
        restore_policy: dict[str, Any] | None = None
        if policy is not None:
            backup_policy = {
                k: policy[k] for k in ("resourceFilter", "orderedResources") if k in policy
            }
            restore_policy = {
                "namespaceMapping": policy.get("namespaceMapping"),
                "preserveNodePorts": policy.get("preserveNodePorts"),
                "preserveStatus": policy.get("migrateStatus"),
            }
        backup_body, policy_diagnostics = backup_spec(doc, backup_policy, "/spec/policy")
        errors.extend(policy_diagnostics)
        if source_fleet is None or target_fleet is None or any(d.is_error for d in errors):
            diagnostics.extend(errors)
            continue
        source = sources[0]
        backup_name = velero_name(source.name, MIGRATE, namespace, name)
        names = {m.name: velero_name(m.name, MIGRATE, namespace, name) for m in targets}
        errors.extend(_name_errors(doc, [backup_name, *names.values()]))
        diagnostics.extend(errors)
        if any(d.is_error for d in errors):
            continue
        backup = velero_object(
            "Backup", backup_name, velero_labels(MIGRATE, name, source_fleet.name), backup_body
        )
        generated.append(Generated(source.name, backup, doc))
        labels = velero_labels(MIGRATE, name, target_fleet.name)
        for member in targets:
            restore = velero_object(
                "Restore",
                names[member.name],
                labels,
                restore_spec(backup_name, restore_policy),
                {RESTORE_AFTER: f"{source.name}/{VELERO_NAMESPACE}/{backup_name}"},
            )
            generated.append(Generated(member.name, restore, doc))
        if targets:
            diagnostics.append(
                Diagnostic.warning(
                    f"Migrate {name!r}: the Restores in {', '.join(m.name for m in targets)} "
                    f"must be synced only after Backup {VELERO_NAMESPACE}/{backup_name} is "
                    f"Completed in {source.name} and listed by Velero in each target "
                    "(Kurator's controller waits for both; no GitOps tool orders objects "
                    "across clusters, and Velero does not retry a Restore of a missing backup)",
                    doc.locate("/spec/targetCluster"),
                )
            )
    return generated, diagnostics
