"""The placement lock on the command line: written by build, read by every command."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kurator_compile.lock import read_lock

from .conftest import REPO, copy_demo, run_cli

GUANGZHOU = """\
    - name: cluster-guangzhou
      labels: {region: south-china, environment: production}
      provider: huaweicloud
      region: cn-south-1
      zones: [cn-south-1a]
      capacity: {cpu: "128", memory: 512Gi, pods: "110"}
  defaults:
"""


def _demo(tmp_path: Path) -> Path:
    """A copy of the demo repository with its committed lock; returns the fleet file."""
    return copy_demo(tmp_path / "repo") / "fleets" / "demo.yaml"


def _add_guangzhou(fleet: Path) -> None:
    fleet.write_text(fleet.read_text().replace("  defaults:\n", GUANGZHOU, 1))


def test_the_committed_demo_lock_is_what_build_writes(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = fleet.with_name("demo.lock.json")
    assert lock.read_bytes() == (REPO / "fleets/demo.lock.json").read_bytes()
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "placement lock written" not in result.stderr  # untouched: already these bytes
    assert lock.read_bytes() == (REPO / "fleets/demo.lock.json").read_bytes()
    check = run_cli("check", fleet, "-o", tmp_path / "out")
    assert check.exit_code == 0, check.output


def test_build_writes_the_lock_next_to_the_fleet(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = fleet.with_name("demo.lock.json")
    lock.unlink()
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "placement lock written:" in result.stderr
    data = json.loads(lock.read_text())
    assert (data["kind"], data["fleet"]) == ("PlacementLock", "demo")
    reports = data["objects"]["Deployment.apps/shop/reports"]
    assert reports["clusters"] == [["cluster-beijing", 13], ["cluster-shanghai", 7]]
    assert reports["replicas"] == 20
    assert lock.read_bytes() == (REPO / "fleets/demo.lock.json").read_bytes()


def test_adding_a_cluster_moves_nothing_until_asked(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    _add_guangzhou(fleet)
    out = tmp_path / "out"
    plan = run_cli("plan", fleet)
    assert plan.exit_code == 0, plan.output
    assert "cluster-beijing=13 cluster-shanghai=7" in plan.stdout
    assert "move between clusters" not in plan.stdout
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    reports = out / "clusters/cluster-shanghai/deployment.apps_shop_reports.yaml"
    assert "replicas: 7" in reports.read_text()
    lock = fleet.with_name("demo.lock.json")
    written = lock.read_bytes()
    render = run_cli("render", fleet, "--cluster", "cluster-shanghai")
    assert "name: reports" in render.stdout
    assert lock.read_bytes() == written  # render, as the Argo CD plugin, only reads it
    asked = run_cli("plan", fleet, "--reschedule-object", "Deployment/shop/reports")
    assert asked.exit_code == 0, asked.output
    assert (
        "  Deployment.apps/shop/reports: cluster-beijing 13 -> 0, cluster-guangzhou 0 -> 20, "
        "cluster-shanghai 7 -> 0 (a reschedule was asked for)"
    ) in asked.stdout
    markdown = run_cli("plan", fleet, "--format", "markdown", "--reschedule")
    assert markdown.stdout.endswith(
        "#### Replicas that move between clusters (against the placement lock)\n\n"
        "- `Deployment.apps/shop/reports`: cluster-beijing 13 -> 0, cluster-guangzhou 0 -> 20, "
        "cluster-shanghai 7 -> 0 (a reschedule was asked for)\n"
    )
    as_json = run_cli("plan", fleet, "--format", "json", "--reschedule")
    [entry] = [o for o in json.loads(as_json.stdout)["objects"] if o["name"] == "reports"]
    assert entry["moves"] == {
        "clusters": {
            "cluster-beijing": [13, 0],
            "cluster-guangzhou": [0, 20],
            "cluster-shanghai": [7, 0],
        },
        "why": "a reschedule was asked for",
    }
    moved = run_cli("build", fleet, "-o", out, "--reschedule-object", "deployment/shop/reports")
    assert moved.exit_code == 0, moved.output
    assert not reports.exists()
    assert "placement lock written" in moved.stderr


def test_diff_shows_moves(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    out = tmp_path / "before"
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    _add_guangzhou(fleet)
    result = run_cli("diff", fleet, "--against", out, "--reschedule-object", "x/y")
    assert result.exit_code == 2  # diff has no --reschedule-object
    shown = run_cli("plan", fleet, "--reschedule")
    assert "(a reschedule was asked for)" in shown.stdout
    assert run_cli("build", fleet, "-o", tmp_path / "after", "--reschedule").exit_code == 0
    diff = run_cli("diff", fleet, "--against", out)
    assert diff.exit_code == 1
    assert diff.stdout.endswith(
        "replicas that move between clusters:\n"
        "  Deployment.apps shop/reports: cluster-beijing 13 -> 0, cluster-guangzhou 0 -> 20, "
        "cluster-shanghai 7 -> 0\n"
    )


def test_check_fails_on_a_stale_lock(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    out = tmp_path / "out"
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    lock = fleet.with_name("demo.lock.json")
    lock.write_text(lock.read_text().replace('"fleet": "demo"', '"fleet": "other"'))
    check = run_cli("check", fleet, "-o", out)
    shown = os.path.relpath(lock)
    assert check.exit_code == 1
    assert check.stdout == f"changed: {shown}\n"
    assert check.stderr == (
        "fleets/demo.lock.json:1:48: warning: placement lock: written for fleet 'other', not "
        "'demo'; every object is scheduled afresh (at /fleet)\n"
        f"placement lock {shown} is not what `kurator-compile build` would write; run it and "
        "commit the lock\n"
    )
    lock.unlink()
    missing = run_cli("check", fleet, "-o", out)
    assert missing.exit_code == 1
    assert missing.stdout == f"added: {shown}\n"


def test_a_malformed_lock_is_reported_with_its_position_and_rewritten(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = fleet.with_name("demo.lock.json")
    lock.write_text('{"apiVersion": "compile.kurator.dev/v1alpha1",\n  "objects": [1,,]}\n')
    result = run_cli("build", "--strict", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (
        "fleets/demo.lock.json:2:17: warning: placement lock: not valid JSON (Expecting value); "
        "every object is scheduled afresh"
    ) in result.stderr
    assert lock.read_bytes() == (REPO / "fleets/demo.lock.json").read_bytes()


def test_a_lock_of_another_fleet_is_ignored(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = fleet.with_name("demo.lock.json")
    lock.write_text(lock.read_text().replace('"fleet": "demo"', '"fleet": "other"'))
    result = run_cli("plan", fleet)
    assert result.exit_code == 0, result.output
    assert (
        "fleets/demo.lock.json:1:48: warning: placement lock: written for fleet 'other', not "
        "'demo'; every object is scheduled afresh (at /fleet)"
    ) in result.stderr


def test_a_hand_edited_entry_is_scheduled_afresh(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    _add_guangzhou(fleet)
    lock = fleet.with_name("demo.lock.json")
    text = lock.read_text()
    lock.write_text(text.replace('["cluster-shanghai", 7]]', '["cluster-shanghai", 8]]', 1))
    result = run_cli("plan", fleet)
    assert result.exit_code == 0, result.output
    assert (
        "fleets/demo.lock.json:5:3: warning: placement lock: Deployment.apps/shop/reports was "
        "edited by hand (its digest does not match); it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1reports)"
    ) in result.stderr
    assert "cluster-guangzhou=20" in result.stdout  # a fresh schedule picks the new cluster


def test_an_unknown_object_to_reschedule_is_an_error(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    result = run_cli("build", fleet, "-o", tmp_path / "out", "--reschedule-object", "Job/x/y")
    assert result.exit_code == 2
    assert result.stderr == "error: --reschedule-object: no input object 'Job/x/y'\n"
    bad = run_cli("plan", fleet, "--reschedule-object", "reports")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "error: --reschedule-object takes KIND/NAMESPACE/NAME or KIND/NAME, not 'reports'\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_failed_build_writes_no_lock(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = fleet.with_name("demo.lock.json")
    lock.unlink()
    fleet.write_text(fleet.read_text().replace("name: demo", "name: Demo", 1))
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert not lock.exists()


def test_tests_leave_no_lock_in_the_repository() -> None:
    assert sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("fleets/**/*.lock.json")) == [
        "fleets/demo.lock.json"
    ]


def _read(text: str) -> list[str]:
    _, warnings = read_lock(text, "fleets/demo.lock.json", "demo")
    return [w.render() for w in warnings]


DEMO_LOCK = (REPO / "fleets/demo.lock.json").read_text()
WEB = '"Deployment.apps/shop/web": {"copies": "e15362f603008989"'


def test_the_demo_lock_reads_without_warnings() -> None:
    entries, warnings = read_lock(DEMO_LOCK, "fleets/demo.lock.json", "demo")
    assert not warnings
    assert entries["Deployment.apps/shop/web"].clusters == (
        ("cluster-beijing", 2),
        ("cluster-hangzhou", 2),
        ("cluster-shanghai", 2),
    )


def test_a_lock_that_is_not_a_placement_lock() -> None:
    assert _read('{"kind": "Fleet"}\n') == [
        "fleets/demo.lock.json:1:1: warning: placement lock: not a PlacementLock with an "
        "objects map; every object is scheduled afresh"
    ]


def test_a_lock_of_another_format_version() -> None:
    text = DEMO_LOCK.replace("compile.kurator.dev/v1alpha1", "compile.kurator.dev/v9", 1)
    assert _read(text) == [
        "fleets/demo.lock.json:1:2: warning: placement lock: apiVersion "
        "'compile.kurator.dev/v9' is not compile.kurator.dev/v1alpha1; every object is "
        "scheduled afresh (at /apiVersion)"
    ]


def test_an_entry_that_is_not_an_object() -> None:
    text = DEMO_LOCK.replace(WEB, '"Deployment.apps/shop/web": [1], "x": {"copies": "1"', 1)
    assert _read(text)[0] == (
        "fleets/demo.lock.json:6:3: warning: placement lock: entry for "
        "Deployment.apps/shop/web is not an object; it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1web)"
    )


def test_clusters_that_are_not_pairs() -> None:
    text = DEMO_LOCK.replace('[["cluster-beijing", 7], ', '[["cluster-beijing"], ', 1)
    assert _read(text) == [
        "fleets/demo.lock.json:4:32: warning: placement lock: Deployment.apps/shop/api: "
        "clusters must be a list of [cluster, replicas] pairs; it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1api/clusters)"
    ]


def test_a_cluster_named_twice() -> None:
    text = DEMO_LOCK.replace('[["cluster-beijing", 7], ', '[["cluster-shanghai", 7], ', 1)
    assert _read(text) == [
        "fleets/demo.lock.json:4:32: warning: placement lock: Deployment.apps/shop/api names "
        "a cluster twice; it is scheduled afresh (at /objects/Deployment.apps~1shop~1api/clusters)"
    ]


def test_a_mistyped_entry() -> None:
    text = DEMO_LOCK.replace('"replicas": 10}', '"replicas": "10"}', 1)
    assert _read(text) == [
        "fleets/demo.lock.json:4:3: warning: placement lock: Deployment.apps/shop/api: "
        "replicas, placement or term is missing or mistyped; it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1api)"
    ]


def test_copies_of_an_unknown_cluster_set() -> None:
    text = DEMO_LOCK.replace(WEB, '"Deployment.apps/shop/web": {"copies": "0000000000000000"', 1)
    assert _read(text) == [
        "fleets/demo.lock.json:6:3: warning: placement lock: Deployment.apps/shop/web: copies "
        "must name a cluster set, each a count; it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1web)"
    ]


def test_a_cluster_set_edited_by_hand() -> None:
    text = DEMO_LOCK.replace(
        '["cluster-beijing", "cluster-hangzhou", "cluster-shanghai"]', '["cluster-beijing"]', 1
    )
    assert _read(text) == [
        "fleets/demo.lock.json:10:3: warning: placement lock: cluster set e15362f603008989 "
        "was edited by hand; its objects are scheduled afresh (at /clusterSets/e15362f603008989)",
        "fleets/demo.lock.json:6:3: warning: placement lock: Deployment.apps/shop/web: copies "
        "must name a cluster set, each a count; it is scheduled afresh "
        "(at /objects/Deployment.apps~1shop~1web)",
    ]


def test_a_lock_that_cannot_be_written_is_an_error(tmp_path: Path) -> None:
    fleet = _demo(tmp_path)
    lock = tmp_path / "missing-folder" / "demo.lock.json"
    result = run_cli("build", fleet, "-o", tmp_path / "out", "--lock", lock)
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"error: cannot write the placement lock {os.path.relpath(lock)}: No such file or "
        "directory; the output tree was written, the lock was not\n"
    )
