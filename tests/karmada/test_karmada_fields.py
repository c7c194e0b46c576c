"""Karmada v1.16+ policy fields: accepted as Karmada's CRD has them, and given Karmada's effect
or a warning saying what Karmada would do (Karmada's nginx sample, with the field added)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from karmada_kit import UPSTREAM, build, repository, stderr_lines

from kurator_compile.cli import main

SAMPLE = (UPSTREAM / "samples/nginx-propagationpolicy.yaml").read_text()
FOLDERS = "rendered/clusters"


def _fleet(tmp_path: Path, extra: str, **files: str) -> Path:
    policy = SAMPLE.replace("spec:\n", "spec:\n" + extra, 1)
    return repository(
        tmp_path,
        ("member1", "member2"),
        {"deployment.yaml": "samples/nginx-deployment.yaml", "policy.yaml": policy, **files},
    )


def _placed(tmp_path: Path) -> dict[str, bool]:
    return {
        cluster: (tmp_path / FOLDERS / cluster / "deployment.apps_default_nginx.yaml").exists()
        for cluster in ("member1", "member2")
    }


def _karmada_warnings(result_stderr: list[str]) -> list[str]:
    return [line for line in result_stderr if "PropagationPolicy/default/nginx-propagation" in line]


def test_schedule_priority_is_accepted_with_what_karmada_would_do(tmp_path: Path) -> None:
    extra = (
        "  schedulePriority:\n    priorityClassSource: KubePriorityClass\n"
        "    priorityClassName: high\n"
    )
    result = build(_fleet(tmp_path, extra))
    assert result.exit_code == 0, result.output
    assert _karmada_warnings(stderr_lines(result, "warning")) == [
        "apps/policy.yaml:7:3: warning: PropagationPolicy/default/nginx-propagation: "
        "schedulePriority: Karmada schedules the objects of this policy before those of lower "
        "priority (PriorityClass 'high') and, with priority-based preemption enabled, may "
        "evict lower-priority ones from the clusters; each object is scheduled alone here, so "
        "it changes no placement (at /spec/schedulePriority)"
    ]
    assert _placed(tmp_path) == {"member1": True, "member2": True}


def test_workload_priority_is_no_karmada_field(tmp_path: Path) -> None:
    result = build(_fleet(tmp_path, "  workloadPriority: {}\n"))
    assert result.exit_code == 2
    assert stderr_lines(result, "error")[0].startswith(
        "apps/policy.yaml:7:3: error: unknown field 'workloadPriority' (expected one of: "
        "activationPreference, association, conflictResolution, dependentOverrides, failover, "
        "placement, preemption, preserveResourcesOnDeletion, priority, propagateDeps, "
        "resourceSelectors, schedulePriority, schedulerName, suspension) "
        "(at /spec/workloadPriority)"
    )


def test_workload_affinity_is_accepted_with_what_karmada_would_do(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path, "")
    policy = fleet.parent / "apps/policy.yaml"
    policy.write_text(
        policy.read_text().replace(
            "  placement:\n",
            "  placement:\n    workloadAffinity:\n      antiAffinity: {groupByLabelKey: app}\n",
        )
    )
    result = build(fleet)
    assert result.exit_code == 0, result.output
    assert _karmada_warnings(stderr_lines(result, "warning")) == [
        "apps/policy.yaml:12:5: warning: PropagationPolicy/default/nginx-propagation: "
        "workloadAffinity: Karmada keeps workloads that share the affinity label's value on "
        "the same clusters (affinity) or apart (antiAffinity) as the group's workloads "
        "already running there; this compile does not model it, so the placement ignores it "
        "(at /spec/placement/workloadAffinity)"
    ]


def test_dispatching_suspended_on_a_cluster_keeps_the_object_from_it(tmp_path: Path) -> None:
    extra = "  suspension:\n    dispatchingOnClusters:\n      clusterNames: [member2]\n"
    result = build(_fleet(tmp_path, extra))
    assert result.exit_code == 0, result.output
    assert _placed(tmp_path) == {"member1": True, "member2": False}
    assert _karmada_warnings(stderr_lines(result, "warning")) == [
        "apps/policy.yaml:7:3: warning: PropagationPolicy/default/nginx-propagation: "
        "dispatching is suspended on member2: Karmada neither creates nor updates "
        "Deployment.apps/default/nginx there and leaves what already runs as it is; they are "
        "not written to those clusters' folders, so a GitOps sync that prunes would delete "
        "what runs there (at /spec/suspension)"
    ]
    # the schedule itself is Karmada's: member1 keeps its share (1 of 2), not all of it
    written = (tmp_path / FOLDERS / "member1/deployment.apps_default_nginx.yaml").read_text()
    assert "replicas: 1\n" in written


def test_dispatching_suspended_everywhere_places_nowhere(tmp_path: Path) -> None:
    result = build(_fleet(tmp_path, "  suspension: {dispatching: true}\n"))
    assert result.exit_code == 0, result.output
    assert _placed(tmp_path) == {"member1": False, "member2": False}
    assert "dispatching is suspended on member1, member2" in result.stderr


def test_missing_dependent_override_holds_the_objects_back(tmp_path: Path) -> None:
    result = build(_fleet(tmp_path, "  dependentOverrides: [nginx-op]\n"))
    assert result.exit_code == 0, result.output
    assert _placed(tmp_path) == {"member1": False, "member2": False}
    assert _karmada_warnings(stderr_lines(result, "warning")) == [
        "apps/policy.yaml:7:24: warning: PropagationPolicy/default/nginx-propagation: "
        "dependentOverrides names OverridePolicy 'nginx-op', which is not among the inputs: "
        "Karmada holds every object the policy selects back until it exists; they are "
        "rendered nowhere (at /spec/dependentOverrides/0)"
    ]
    fleet = tmp_path / "fleet.yaml"
    argv = ["plan", str(fleet), "--lock", str(tmp_path / "lock.json")]
    explained = CliRunner().invoke(main, [*argv, "--explain", "Deployment.apps/default/nginx"])
    assert "  held back: dependentOverrides nginx-op missing\n" in explained.output


def test_present_dependent_override_lets_the_objects_through(tmp_path: Path) -> None:
    fleet = _fleet(
        tmp_path,
        "  dependentOverrides: [nginx-op]\n",
        **{"overridepolicy.yaml": "samples/nginx-overridepolicy.yaml"},
    )
    result = build(fleet)
    assert result.exit_code == 0, result.output
    assert _placed(tmp_path) == {"member1": True, "member2": True}
    assert "dependentOverrides" not in result.stderr
