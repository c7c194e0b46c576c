"""Kurator Backup / Restore / Migrate -> Velero objects per member, checked against upstream's
golden files and examples (kurator-dev/kurator, pkg/fleet-manager/backup and examples/backup,
commit b6339412dc3b0a408a99b14531ae233e9de9d652)."""

from __future__ import annotations

from typing import Any

import pytest
from documents_kit import documents, errors, fleet, inputs, upstream_data, upstream_documents
from documents_kit import warnings as warnings_of

from kurator_compile.cron import CronError, parse_standard
from kurator_compile.duration import (
    DurationError,
    format_go_duration,
    normalize_go_duration,
    parse_go_duration,
)
from kurator_compile.kurator.backup import (
    MIGRATE,
    RESTORE,
    backup_spec,
    compile_backup,
    compile_migrate,
    compile_restore,
    restore_spec,
    velero_labels,
    velero_name,
    velero_object,
)

ALL_EXAMPLES = (
    "backup/examples/backup-minimal.yaml",
    "backup/examples/backup-schedule.yaml",
    "backup/examples/backup-select-labels.yaml",
    "backup/examples/restore-minimal.yaml",
    "backup/examples/restore-schedule.yaml",
    "backup/examples/migrate-select-labels.yaml",
)


def golden(relative: str) -> Any:
    """An upstream golden object without what only the API server writes (creationTimestamp:
    null and status: {} come from marshalling a Go struct that was never stored)."""
    (data,) = upstream_data(relative)
    del data["metadata"]["creationTimestamp"]
    del data["status"]
    return data


def policy_doc(text: str) -> Any:
    (doc,) = documents(text)
    return doc


def by_cluster(generated: list[Any]) -> dict[str, Any]:
    return {g.cluster: g.data for g in generated}


# --- upstream shared_test.go: TestBuildVeleroBackupInstance / Schedule / Restore ----------


INCLUDE_NS_BACKUP = """\
apiVersion: backup.kurator.dev/v1alpha1
kind: Backup
metadata: {{name: {name}, namespace: default}}
spec:
  {schedule}
  destination:
    fleet: quickstart
    clusters: [{{kind: AttachedCluster, name: kurator-member1}}]
  policy:
    resourceFilter: {{includedNamespaces: [kurator-backup]}}
    ttl: 720h
"""


@pytest.mark.parametrize(
    ("case", "schedule"), [("include-ns", 'schedule: ""'), ("schedule", 'schedule: "0 0 * * *"')]
)
def test_backup_and_schedule_golden(case: str, schedule: str) -> None:
    """shared_test.go TestBuildVeleroBackupInstance case include-ns and
    TestBuildVeleroScheduleInstance case schedule (b633941), end to end."""
    text = INCLUDE_NS_BACKUP.format(name=case, schedule=schedule)
    generated, diagnostics = compile_backup(inputs(documents(text)))
    assert diagnostics == []
    assert by_cluster(generated) == {
        "kurator-member1": golden(f"backup/testdata/backup/{case}.yaml")
    }


def test_backup_label_selector_golden_created_by_migrate() -> None:
    """shared_test.go TestBuildVeleroBackupInstance case label-selector (b633941): a Velero
    Backup built for a Migrate creator with a 240h TTL (upstream builds it from a BackupSpec
    directly, so this calls the same builders)."""
    doc = policy_doc(
        "policy:\n  resourceFilter: {labelSelector: {matchLabels: {app: busybox2}}}\n  ttl: 240h\n"
    )
    spec, diagnostics = backup_spec(doc, doc.data["policy"], "/policy")
    obj = velero_object(
        "Backup",
        velero_name("kurator-member2", MIGRATE, "default", "label-selector"),
        velero_labels(MIGRATE, "label-selector", "quickstart"),
        spec,
    )
    assert diagnostics == []
    assert obj == golden("backup/testdata/backup/label-selector.yaml")


@pytest.mark.parametrize(
    ("case", "kind", "policy", "backup_name"),
    [
        ("minimal", RESTORE, None, "kurator-member1-backup-include-ns"),
        (
            "custom-policy",
            MIGRATE,
            {"resourceFilter": {"labelSelector": {"matchLabels": {"env": "test"}}}},
            "kurator-member1-migrate-include-ns",
        ),
    ],
)
def test_restore_golden(case: str, kind: str, policy: Any, backup_name: str) -> None:
    """shared_test.go TestBuildVeleroRestoreInstance cases minimal and custom-policy (b633941);
    upstream passes the Velero backup name in, so this calls the same builders."""
    obj = velero_object(
        "Restore",
        velero_name("kurator-member1", kind, "default", case),
        velero_labels(kind, case, "quickstart"),
        restore_spec(backup_name, policy),
    )
    assert obj == golden(f"backup/testdata/restore/{case}.yaml")


def test_backup_from_migrate_keeps_filter_and_order() -> None:
    """shared_test.go TestBuildVeleroBackupFromMigrate (b633941)."""
    text = """\
apiVersion: backup.kurator.dev/v1alpha1
kind: Migrate
metadata: {name: m, namespace: default}
spec:
  sourceCluster: {fleet: quickstart, clusters: [{kind: AttachedCluster, name: kurator-member1}]}
  targetCluster: {fleet: quickstart, clusters: [{kind: AttachedCluster, name: kurator-member2}]}
  policy:
    resourceFilter: {includedNamespaces: [ns1, ns2], excludedResources: [pods]}
    orderedResources: {pods: "ns1/pod1, ns1/pod2, ns1/pod3", persistentvolumes: "pv4, pv8"}
    namespaceMapping: {src: dst}
    migrateStatus: {includedResources: [deployments, services], excludedResources: [pods]}
    preserveNodePorts: true
"""
    generated, diagnostics = compile_migrate(inputs(documents(text)))
    assert errors(diagnostics) == []
    out = by_cluster(generated)
    assert out["kurator-member1"]["spec"] == {
        "csiSnapshotTimeout": "0s",
        "excludedResources": ["pods"],
        "hooks": {},
        "includedNamespaces": ["ns1", "ns2"],
        "itemOperationTimeout": "0s",
        "metadata": {},
        "orderedResources": {
            "pods": "ns1/pod1, ns1/pod2, ns1/pod3",
            "persistentvolumes": "pv4, pv8",
        },
        "ttl": "0s",
    }
    # shared_test.go TestBuildVeleroRestoreFromMigrate (b633941): only the mapping, node ports
    # and status policy reach the Restore; the resource filter stays on the Backup.
    assert out["kurator-member2"]["spec"] == {
        "backupName": "kurator-member1-migrate-default-m",
        "hooks": {},
        "itemOperationTimeout": "0s",
        "namespaceMapping": {"src": "dst"},
        "preserveNodePorts": True,
        "restoreStatus": {
            "excludedResources": ["pods"],
            "includedResources": ["deployments", "services"],
        },
    }


@pytest.mark.parametrize(
    ("expression", "valid"),
    [("invalid", False), ("* * * * *", True), ("*/5 * * * *", True), ("0 * * * *", True)],
)
def test_cron_like_upstream(expression: str, valid: bool) -> None:
    """shared_test.go TestGetCronInterval (b633941): which expressions robfig/cron parses."""
    try:
        parse_standard(expression)
    except CronError:
        assert not valid
    else:
        assert valid


# --- the upstream examples, end to end ------------------------------------------------------


def compiled_examples() -> dict[tuple[str, str], Any]:
    given = inputs(upstream_documents(*ALL_EXAMPLES))
    out: dict[tuple[str, str], Any] = {}
    for compile_kind in (compile_backup, compile_restore, compile_migrate):
        generated, diagnostics = compile_kind(given)
        assert errors(diagnostics) == []
        for g in generated:
            key = (g.cluster, g.data["metadata"]["name"])
            assert key not in out
            out[key] = g.data
    return out


def test_examples_objects_and_places() -> None:
    out = compiled_examples()
    assert sorted(out) == [
        ("kurator-member1", "kurator-member1-backup-default-minimal"),
        ("kurator-member1", "kurator-member1-backup-default-select-labels"),
        ("kurator-member1", "kurator-member1-migrate-default-select-labels"),
        ("kurator-member1", "kurator-member1-restore-default-minimal"),
        ("kurator-member2", "kurator-member2-backup-default-minimal"),
        ("kurator-member2", "kurator-member2-backup-default-schedule"),
        ("kurator-member2", "kurator-member2-backup-default-select-labels"),
        ("kurator-member2", "kurator-member2-migrate-default-select-labels"),
        ("kurator-member2", "kurator-member2-restore-default-minimal"),
        ("kurator-member2", "kurator-member2-restore-default-schedule"),
    ]
    assert {data["metadata"]["namespace"] for data in out.values()} == {"velero"}


def test_clusters_sharing_a_bucket_get_distinct_names() -> None:
    """The backup plugin gives every member one bucket; Velero syncs every backup it finds
    there into each cluster, so the same Kurator Backup must yield one name per cluster."""
    out = compiled_examples()
    minimal = [key for key in out if key[1].endswith("-backup-default-minimal")]
    assert [name for _, name in minimal] == [
        "kurator-member1-backup-default-minimal",
        "kurator-member2-backup-default-minimal",
    ]


def test_example_backup_minimal_without_policy() -> None:
    out = compiled_examples()
    assert out[("kurator-member1", "kurator-member1-backup-default-minimal")] == {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {
            "labels": {
                "fleet.kurator.dev/fleet-name": "quickstart",
                "fleet.kurator.dev/plugin": "backup",
                "kurator.dev/backup-name": "minimal",
            },
            "name": "kurator-member1-backup-default-minimal",
            "namespace": "velero",
        },
        "spec": {
            "csiSnapshotTimeout": "0s",
            "hooks": {},
            "itemOperationTimeout": "0s",
            "metadata": {},
            "ttl": "0s",
        },
    }


def test_example_schedule_and_its_restore() -> None:
    out = compiled_examples()
    schedule = out[("kurator-member2", "kurator-member2-backup-default-schedule")]
    assert schedule["kind"] == "Schedule"
    assert schedule["spec"]["schedule"] == "*/5 * * * *"
    assert schedule["spec"]["template"]["ttl"] == "0s"
    restore = out[("kurator-member2", "kurator-member2-restore-default-schedule")]
    assert restore["metadata"]["labels"]["kurator.dev/restore-name"] == "schedule"
    assert restore["spec"] == {
        "backupName": "",
        "hooks": {},
        "itemOperationTimeout": "0s",
        "labelSelector": {"matchLabels": {"app": "busybox"}},
        "scheduleName": "kurator-member2-backup-default-schedule",
    }


def test_example_restore_minimal_follows_backup_destination() -> None:
    out = compiled_examples()
    for member in ("kurator-member1", "kurator-member2"):
        restore = out[(member, f"{member}-restore-default-minimal")]
        assert restore["spec"]["backupName"] == f"{member}-backup-default-select-labels"
    backup = out[("kurator-member1", "kurator-member1-backup-default-select-labels")]
    assert backup["spec"]["ttl"] == "720h0m0s"
    assert backup["spec"]["labelSelector"] == {"matchLabels": {"app": "busybox"}}


def test_example_migrate_backup_then_restore() -> None:
    out = compiled_examples()
    backup = out[("kurator-member1", "kurator-member1-migrate-default-select-labels")]
    restore = out[("kurator-member2", "kurator-member2-migrate-default-select-labels")]
    assert backup["kind"] == "Backup"
    assert backup["metadata"]["labels"]["kurator.dev/migrate-name"] == "select-labels"
    assert restore["kind"] == "Restore"
    assert restore["spec"]["backupName"] == "kurator-member1-migrate-default-select-labels"
    assert "labelSelector" not in restore["spec"]
    assert restore["metadata"]["annotations"] == {
        "compile.kurator.dev/restore-after": (
            "kurator-member1/velero/kurator-member1-migrate-default-select-labels"
        )
    }
    _, diagnostics = compile_migrate(inputs(upstream_documents(ALL_EXAMPLES[-1])))
    (warning,) = warnings_of(diagnostics)
    assert "must be synced only after Backup velero/kurator-member1-migrate" in warning.message
    assert warning.location is not None
    assert warning.location.pointer == "/spec/targetCluster"


def test_restore_warns_to_wait_for_the_backup() -> None:
    given = inputs(upstream_documents(ALL_EXAMPLES[2], ALL_EXAMPLES[3]))
    _, diagnostics = compile_restore(given)
    (warning,) = diagnostics
    assert not warning.is_error
    assert "sync it once Backup 'select-labels' is Completed" in (warning.message)


# --- error and warning paths ----------------------------------------------------------------

BACKUP_HEAD = "apiVersion: backup.kurator.dev/v1alpha1\nkind: Backup\nmetadata: {name: b}\n"


def only_error(diagnostics: list[Any]) -> Any:
    (error,) = errors(diagnostics)
    return error


def test_unknown_destination_cluster_is_an_error_with_position() -> None:
    text = BACKUP_HEAD + (
        "spec:\n  destination:\n    fleet: quickstart\n    clusters:\n"
        "      - {kind: AttachedCluster, name: kurator-member1}\n"
        "      - {kind: AttachedCluster, name: nowhere}\n"
    )
    generated, diagnostics = compile_backup(inputs(documents(text)))
    error = only_error(diagnostics)
    assert generated == []
    assert "'nowhere' of kind 'AttachedCluster'" in error.message
    assert (error.location.line, error.location.pointer) == (9, "/spec/destination/clusters/1")


def test_destination_cluster_matches_kind_too() -> None:
    text = BACKUP_HEAD + (
        "spec:\n  destination:\n    fleet: quickstart\n"
        "    clusters: [{kind: Cluster, name: kurator-member1}]\n"
    )
    error = only_error(compile_backup(inputs(documents(text)))[1])
    assert "matched by name and kind" in error.message


def test_unknown_fleet_is_an_error() -> None:
    text = BACKUP_HEAD + "spec:\n  destination: {fleet: other}\n"
    error = only_error(compile_backup(inputs(documents(text)))[1])
    assert "fleet 'other'" in error.message
    assert error.location.pointer == "/spec/destination/fleet"


def test_fleet_is_looked_up_in_the_creators_namespace() -> None:
    text = BACKUP_HEAD.replace("{name: b}", "{name: b, namespace: team}") + (
        "spec:\n  destination: {fleet: quickstart}\n"
    )
    error = only_error(compile_backup(inputs(documents(text)))[1])
    assert "not in namespace 'team'" in error.message


def test_missing_fleet_is_an_error() -> None:
    text = BACKUP_HEAD + "spec:\n  destination: {}\n"
    error = only_error(compile_backup(inputs(documents(text)))[1])
    assert "must name a fleet" in error.message


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ("0 0 * * 7", "day of week: end of range (7) above maximum (6)"),
        ("61 * * * *", "minute: end of range (61) above maximum (59)"),
        ("0 0 * *", "expected exactly 5 fields"),
        ("*/0 * * * *", "step of range should be a positive number"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
        ("0 0 1-2-3 * *", "too many hyphens"),
        ("0 0 * * mon/2/3", "too many slashes"),
        ("x * * * *", "failed to parse int"),
        ("@fortnightly", "unrecognized descriptor"),
        ("TZ=Nowhere/Else 0 0 * * *", "unknown time zone"),
        ("@every 1x", "failed to parse duration"),
    ],
)
def test_invalid_schedule_is_an_error(schedule: str, fragment: str) -> None:
    text = BACKUP_HEAD + f'spec:\n  schedule: "{schedule}"\n  destination: {{fleet: quickstart}}\n'
    generated, diagnostics = compile_backup(inputs(documents(text)))
    error = only_error(diagnostics)
    assert generated == []
    assert fragment in error.message
    assert error.location.pointer == "/spec/schedule"


def test_schedule_that_is_not_text_is_an_error() -> None:
    text = BACKUP_HEAD + "spec:\n  schedule: 5\n  destination: {fleet: quickstart}\n"
    assert (
        "must be a cron expression"
        in only_error(compile_backup(inputs(documents(text)))[1]).message
    )


@pytest.mark.parametrize(
    "schedule",
    ["0 0 * * sun", "CRON_TZ=Asia/Tokyo 0 3 * * 1-5", "? 0 1,15 jan-jun *", "5/15 * * * *"],
)
def test_valid_schedules(schedule: str) -> None:
    parse_standard(schedule)  # no CronError


@pytest.mark.parametrize("schedule", ["@daily", "@every 1h30m"])
def test_descriptor_schedule_warns(schedule: str) -> None:
    text = BACKUP_HEAD + f'spec:\n  schedule: "{schedule}"\n  destination: {{fleet: quickstart}}\n'
    generated, diagnostics = compile_backup(inputs(documents(text)))
    (warning,) = diagnostics
    assert len(generated) == 2
    assert not warning.is_error
    assert "GetCronInterval" in warning.message


def test_policy_without_resource_filter_warns_and_backs_up_everything() -> None:
    text = BACKUP_HEAD + "spec:\n  destination: {fleet: quickstart}\n  policy: {ttl: 1h}\n"
    generated, diagnostics = compile_backup(inputs(documents(text)))
    (warning,) = diagnostics
    assert not warning.is_error
    assert "panic" in warning.message
    assert warning.location.pointer == "/spec/policy"
    assert generated[0].data["spec"]["ttl"] == "1h0m0s"
    assert "includedNamespaces" not in generated[0].data["spec"]


@pytest.mark.parametrize("ttl", ["30days", "1", "5"])
def test_bad_ttl_is_an_error(ttl: str) -> None:
    text = BACKUP_HEAD + (
        f"spec:\n  destination: {{fleet: quickstart}}\n"
        f"  policy: {{resourceFilter: {{}}, ttl: {ttl}}}\n"
    )
    error = only_error(compile_backup(inputs(documents(text)))[1])
    assert "Go duration" in error.message
    assert error.location.pointer == "/spec/policy/ttl"


def test_too_long_name_is_an_error() -> None:
    text = BACKUP_HEAD.replace("{name: b}", "{name: " + "b" * 240 + "}") + (
        "spec:\n  destination: {fleet: quickstart}\n"
    )
    error = only_error(compile_backup(inputs(documents(text)))[1][:1])
    assert "longer than 253" in error.message


RESTORE_HEAD = "---\napiVersion: backup.kurator.dev/v1alpha1\nkind: Restore\nmetadata: {name: r}\n"
ONE_CLUSTER_BACKUP = BACKUP_HEAD + (
    "spec:\n  destination:\n    fleet: quickstart\n"
    "    clusters: [{kind: AttachedCluster, name: kurator-member1}]\n"
)


def test_restore_of_missing_backup_is_an_error() -> None:
    text = RESTORE_HEAD + "spec: {backupName: gone}\n"
    error = only_error(compile_restore(inputs(documents(text)))[1])
    assert "Backup 'gone'" in error.message
    assert error.location.pointer == "/spec/backupName"


def test_restore_of_backup_with_bad_destination_is_an_error() -> None:
    text = (
        BACKUP_HEAD
        + "spec:\n  destination: {fleet: other}\n"
        + RESTORE_HEAD
        + ("spec: {backupName: b}\n")
    )
    error = only_error(compile_restore(inputs(documents(text)))[1])
    assert "does not resolve" in error.message


def test_restore_destination_must_be_a_subset() -> None:
    """shared.go isFleetClusterSubset / shared_test.go TestIsFleetClusterSubset (b633941)."""
    text = (
        ONE_CLUSTER_BACKUP
        + RESTORE_HEAD
        + (
            "spec:\n  backupName: b\n  destination:\n    fleet: quickstart\n"
            "    clusters: [{kind: AttachedCluster, name: kurator-member2}]\n"
        )
    )
    generated, diagnostics = compile_restore(inputs(documents(text)))
    error = only_error(diagnostics)
    assert generated == []
    assert "subset" in error.message
    assert "kurator-member2" in error.message


def test_restore_destination_subset_is_kept() -> None:
    text = (
        BACKUP_HEAD
        + "spec:\n  destination: {fleet: quickstart}\n"
        + RESTORE_HEAD
        + (
            "spec:\n  backupName: b\n  destination:\n    fleet: quickstart\n"
            "    clusters: [{kind: AttachedCluster, name: kurator-member2}]\n"
        )
    )
    generated, diagnostics = compile_restore(inputs(documents(text)))
    assert errors(diagnostics) == []
    assert [(g.cluster, g.data["metadata"]["name"]) for g in generated] == [
        ("kurator-member2", "kurator-member2-restore-default-r")
    ]


def test_restore_destination_fleet_must_match() -> None:
    other = fleet("second")
    text = (
        ONE_CLUSTER_BACKUP
        + RESTORE_HEAD
        + "spec:\n  backupName: b\n  destination: {fleet: second}\n"
    )
    error = only_error(compile_restore(inputs(documents(text), fleet(), other))[1])
    assert "must be the fleet of Backup" in error.message


def test_restore_destination_with_unknown_cluster_is_an_error() -> None:
    text = (
        ONE_CLUSTER_BACKUP
        + RESTORE_HEAD
        + (
            "spec:\n  backupName: b\n  destination:\n    fleet: quickstart\n"
            "    clusters: [{kind: AttachedCluster, name: x}]\n"
        )
    )
    error = only_error(compile_restore(inputs(documents(text)))[1])
    assert error.location.pointer == "/spec/destination/clusters/0"


MIGRATE_HEAD = "apiVersion: backup.kurator.dev/v1alpha1\nkind: Migrate\nmetadata: {name: m}\n"


@pytest.mark.parametrize(
    "source",
    [
        "{fleet: quickstart}",
        "{fleet: quickstart, clusters: [{kind: AttachedCluster, name: kurator-member1},"
        " {kind: AttachedCluster, name: kurator-member2}]}",
    ],
)
def test_migrate_needs_exactly_one_source(source: str) -> None:
    text = (
        MIGRATE_HEAD + f"spec:\n  sourceCluster: {source}\n  targetCluster: {{fleet: quickstart}}\n"
    )
    generated, diagnostics = compile_migrate(inputs(documents(text)))
    error = only_error(diagnostics)
    assert generated == []
    assert "exactly one cluster" in error.message


def test_migrate_unknown_target_is_an_error() -> None:
    text = MIGRATE_HEAD + (
        "spec:\n  sourceCluster: {fleet: quickstart, clusters: [{kind: AttachedCluster, "
        "name: kurator-member1}]}\n  targetCluster: {fleet: elsewhere}\n"
    )
    error = only_error(compile_migrate(inputs(documents(text)))[1])
    assert error.location.pointer == "/spec/targetCluster/fleet"


def test_migrate_policy_without_filter_warns() -> None:
    text = MIGRATE_HEAD + (
        "spec:\n  sourceCluster: {fleet: quickstart, clusters: [{kind: AttachedCluster, "
        "name: kurator-member1}]}\n  targetCluster: {fleet: quickstart, clusters: "
        "[{kind: AttachedCluster, name: kurator-member2}]}\n  policy: {preserveNodePorts: false}\n"
    )
    generated, diagnostics = compile_migrate(inputs(documents(text)))
    assert any("panic" in w.message for w in warnings_of(diagnostics))
    assert by_cluster(generated)["kurator-member2"]["spec"]["preserveNodePorts"] is False


# --- Go durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("720h", "720h0m0s"),
        ("0", "0s"),
        ("1.5h", "1h30m0s"),
        ("90m", "1h30m0s"),
        ("300ms", "300ms"),
        ("1.5s", "1.5s"),
        ("2us", "2\u00b5s"),
        ("1h0.5s", "1h0m0.5s"),
        ("-5m", "-5m0s"),
        ("7ns", "7ns"),
    ],
)
def test_go_duration_round_trip(text: str, expected: str) -> None:
    assert normalize_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "1", "1d", ".h", "99999999999h", "+"])
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_go_duration(text)


def test_go_duration_format_of_exact_hours() -> None:
    assert format_go_duration(3600 * 10**9) == "1h0m0s"
