"""Volcano Jobs: gangs placed whole, with their queue, minAvailable and task checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kurator_compile.stack.volcano import read_gang, show_amount

from .conftest import REPO, run_cli

CLUSTERS = {
    "alpha": '{cpu: "4", memory: 16Gi}',  # 0 jobs of cpu 5
    "beta": '{cpu: "16", memory: 64Gi}',  # 3 jobs
    "gamma": '{cpu: "16", memory: 64Gi}',  # 3 jobs
    "delta": None,  # capacity unknown: counts as 1 job
}


def header(clusters: dict[str, str | None] = CLUSTERS, extra: str = "") -> str:
    lines = [
        "apiVersion: compile.kurator.dev/v1alpha1",
        "kind: Fleet",
        "metadata: {name: batch}",
        "spec:",
        "  clusters:",
    ]
    for name, capacity in clusters.items():
        lines.append(f"    - name: {name}")
        if capacity:
            lines.append(f"      capacity: {capacity}")
        if name == "alpha" and extra:
            lines.append(extra)
    lines.append("  resources: [apps/*.yaml]")
    return "\n".join(lines) + "\n"


LISTING = (REPO / "fleets/seed/listings/04-volcano-job.yaml").read_text()


def policy(replica_scheduling: str = "", clusters: str = "") -> str:
    text = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\n"
        "metadata: {name: jobs}\nspec:\n"
        "  resourceSelectors: [{apiVersion: batch.volcano.sh/v1alpha1, kind: Job}]\n"
        "  placement:\n"
    )
    if clusters:
        text += f"    clusterAffinity: {{clusterNames: [{clusters}]}}\n"
    if replica_scheduling:
        text += f"    replicaScheduling: {replica_scheduling}\n"
    return text


DIVIDED = "{replicaSchedulingType: Divided, replicaDivisionPreference: Aggregated}"


def build(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    job: str = LISTING,
    placement: str = policy(DIVIDED),
    fleet_header: str | None = None,
    extra: str = "",
) -> tuple[int, str, dict[str, list[str]]]:
    apps = {"job.yaml": job}
    if extra:
        apps["extra.yaml"] = extra
    fleet = make_fleet(placement, apps=apps, header=fleet_header or header())
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    files = {p.name: sorted(f.name for f in p.iterdir()) for p in out.glob("clusters/*")}
    return result.exit_code, result.stderr, files


def test_gang_size_sums_tasks_with_limits_as_requests() -> None:
    gang, problems = read_gang(yaml.safe_load(LISTING))
    assert problems == []
    assert gang.pods == 3
    # ps: 1 x (1 cpu, 4Gi); worker: 2 x (2 cpu, 8Gi)
    assert dict(gang.requests) == {"cpu": 5000, "memory": 20 * 2**30, "pods": 3}
    assert [t.node_selector for t in gang.tasks] == [(), ()]  # the null nodeSelector
    assert show_amount("memory", 20 * 2**30) == "20Gi"
    assert show_amount("cpu", 1500) == "1500m"


def test_divided_sends_the_whole_job_to_one_cluster(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    code, stderr, files = build(make_fleet, tmp_path)
    assert code == 0, stderr
    # beta and gamma both fit 3 jobs; the name breaks the tie.
    assert files == {"beta": ["job.batch.volcano.sh_default_tensorflow-training.yaml"]}
    explained = run_cli(
        "plan",
        tmp_path / "fleet.yaml",
        "--explain",
        "Job.batch.volcano.sh/default/tensorflow-training",
    ).stdout
    assert (
        "gang: a Volcano Job of 3 pod(s) (minAvailable 3) is never divided between clusters; "
        "the whole job requests cpu 5, memory 20Gi, pods 3"
    ) in explained
    assert (
        "gang: candidates (available jobs desc, then name): beta=3, gamma=3, delta=1 (capacity "
        "unknown), alpha=0"
    ) in explained
    assert explained.rstrip().endswith("result: beta")


def test_divided_unknown_capacity_counts_as_one_job(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    clusters = {"alpha": '{cpu: "4"}', "delta": None, "beta": '{cpu: "4"}'}
    code, stderr, files = build(make_fleet, tmp_path, fleet_header=header(clusters))
    assert code == 0, stderr
    assert list(files) == ["delta"]


def test_divided_with_no_room_anywhere_is_an_error(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    clusters = {"alpha": '{cpu: "4"}', "beta": "{memory: 16Gi}"}
    code, stderr, _ = build(make_fleet, tmp_path, fleet_header=header(clusters))
    assert code == 2
    assert (
        "apps/job.yaml:1:1: error: Job.batch.volcano.sh/default/tensorflow-training cannot be "
        "scheduled: no selected cluster has room for the whole job (it requests cpu 5, memory "
        "20Gi, pods 3; alpha fits 0, beta fits 0)"
    ) in stderr


def test_duplicated_runs_a_copy_everywhere(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    code, stderr, files = build(make_fleet, tmp_path, placement=policy(clusters="beta, delta"))
    assert code == 0, stderr
    assert sorted(files) == ["beta", "delta"]
    code, stderr, _ = build(make_fleet, tmp_path / "full", placement=policy(clusters="alpha, beta"))
    assert code == 2
    assert (
        "error: Job.batch.volcano.sh/default/tensorflow-training: cluster alpha has room for no "
        "whole copy of the job (it requests cpu 5, memory 20Gi, pods 3)"
    ) in stderr


@pytest.mark.parametrize(("minimum", "ok"), [("3", True), ("4", False)])
def test_min_available_within_the_replicas(
    make_fleet: Callable[..., Path], tmp_path: Path, minimum: str, ok: bool
) -> None:
    job = LISTING.replace("minAvailable: 3", f"minAvailable: {minimum}")
    code, stderr, _ = build(make_fleet, tmp_path, job)
    if ok:
        assert code == 0, stderr
    else:
        assert code == 2
        assert (
            "apps/job.yaml:6:3: error: Job.batch.volcano.sh/default/tensorflow-training: "
            "minAvailable 4 is above the 3 pod(s) its tasks run ('ps' 1 + 'worker' 2)"
        ) in stderr


def test_task_min_available_within_its_replicas(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    job = LISTING.replace("    - replicas: 2\n", "    - replicas: 2\n      minAvailable: 3\n")
    code, stderr, _ = build(make_fleet, tmp_path, job)
    assert code == 2
    assert "task 'worker' has minAvailable 3 above its 2 replica(s)" in stderr


@pytest.mark.parametrize(("scheduler", "warned"), [("volcano", False), ("default-scheduler", True)])
def test_scheduler_name(
    make_fleet: Callable[..., Path], tmp_path: Path, scheduler: str, warned: bool
) -> None:
    job = LISTING.replace("schedulerName: volcano", f"schedulerName: {scheduler}")
    code, stderr, _ = build(make_fleet, tmp_path, job)
    assert code == 0, stderr
    message = (
        "apps/job.yaml:7:3: warning: Job.batch.volcano.sh/default/tensorflow-training: "
        "schedulerName 'default-scheduler' is not 'volcano': that scheduler places the pods one "
        "by one, so the gang (minAvailable) and the queue are not honoured"
    )
    assert (message in stderr) is warned


QUEUE = """\
apiVersion: scheduling.volcano.sh/v1beta1
kind: Queue
metadata: {name: research}
spec: {weight: 1}
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: queue}
spec:
  resourceSelectors: [{apiVersion: scheduling.volcano.sh/v1beta1, kind: Queue}]
  placement: {clusterAffinity: {clusterNames: [QUEUE_CLUSTERS]}}
"""


@pytest.mark.parametrize(
    ("volcano_queues", "queue_clusters", "missing"),
    [
        ("", "", ["beta", "delta"]),
        ("", "beta", ["delta"]),
        ("      volcanoQueues: [research]", "beta", []),  # delta already has it
        ("", "beta, delta", []),
    ],
)
def test_queue_exists_on_each_target_cluster(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    volcano_queues: str,
    queue_clusters: str,
    missing: list[str],
) -> None:
    job = LISTING.replace(
        "  schedulerName: volcano\n", "  schedulerName: volcano\n  queue: research\n"
    )
    clusters = {"delta": None, "beta": '{cpu: "16", memory: 64Gi}'}
    fleet_header = header(clusters)
    if volcano_queues:
        fleet_header = fleet_header.replace(
            "    - name: delta\n", "    - name: delta\n" + volcano_queues + "\n"
        )
    extra = QUEUE.replace("QUEUE_CLUSTERS", queue_clusters) if queue_clusters else ""
    code, stderr, _ = build(
        make_fleet,
        tmp_path,
        job,
        policy(clusters="beta, delta"),
        fleet_header=fleet_header,
        extra=extra,
    )
    for cluster in ("beta", "delta"):
        message = (
            f"apps/job.yaml:8:3: error: Job.batch.volcano.sh/default/tensorflow-training uses "
            f"Volcano queue 'research', which cluster {cluster} does not have"
        )
        assert (message in stderr) is (cluster in missing), stderr
    assert code == (2 if missing else 0)


def test_default_queue_needs_nothing(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    job = LISTING.replace(
        "  schedulerName: volcano\n", "  schedulerName: volcano\n  queue: default\n"
    )
    code, stderr, _ = build(make_fleet, tmp_path, job, policy(clusters="beta, delta"))
    assert code == 0, stderr


GPU_WORKER = LISTING.replace(
    "          nodeSelector:\n", "          nodeSelector:\n            node-type: gpu\n"
)


@pytest.mark.parametrize(
    ("labels", "ok"),
    [
        ("      nodeLabels: {node-type: [cpu]}", False),
        ("      labels: {node-type: cpu}", False),
        ("      nodeLabels: {node-type: [cpu, gpu]}", True),
        ("      labels: {region: north}", True),  # node-type not declared: not checked
    ],
)
def test_task_node_selector_against_declared_labels(
    make_fleet: Callable[..., Path], tmp_path: Path, labels: str, ok: bool
) -> None:
    clusters = {"alpha": '{cpu: "16", memory: 64Gi}'}
    code, stderr, _ = build(make_fleet, tmp_path, GPU_WORKER, fleet_header=header(clusters, labels))
    if ok:
        assert code == 0, stderr
    else:
        assert code == 2
        assert (
            "apps/job.yaml:21:7: error: Job.batch.volcano.sh/default/tensorflow-training: task "
            "'worker' can run on none of the selected clusters: alpha lacks node label "
            "node-type=gpu (its nodes have node-type=cpu)"
        ) in stderr


def test_task_resources_against_declared_capacity(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    gpu = LISTING.replace(
        '                  memory: "8Gi"\n',
        '                  memory: "8Gi"\n                  nvidia.com/gpu: "1"\n',
    )
    clusters = {
        "alpha": '{cpu: "16", memory: 64Gi, nvidia.com/gpu: "0"}',
        "beta": '{cpu: "16", memory: 64Gi, nvidia.com/gpu: "4"}',
    }
    code, stderr, files = build(make_fleet, tmp_path, gpu, fleet_header=header(clusters))
    assert code == 0, stderr
    assert list(files) == ["beta"]  # alpha is dropped: it has no GPU free
    explained = run_cli(
        "plan",
        tmp_path / "fleet.yaml",
        "--explain",
        "Job.batch.volcano.sh/default/tensorflow-training",
    ).stdout
    assert (
        "gang: alpha dropped: task 'worker' needs 1 nvidia.com/gpu per pod (0 nvidia.com/gpu free)"
        in explained
    )
    # No selected cluster has a GPU: an error naming the task and the resource.
    code, stderr, _ = build(
        make_fleet, tmp_path / "none", gpu, policy(DIVIDED, "alpha"), fleet_header=header(clusters)
    )
    assert code == 2
    assert (
        "error: Job.batch.volcano.sh/default/tensorflow-training: task 'worker' can run on none "
        "of the selected clusters: alpha lacks 1 nvidia.com/gpu per pod (0 nvidia.com/gpu free)"
    ) in stderr
    # Duplicated: the copy on alpha could never start.
    code, stderr, _ = build(
        make_fleet,
        tmp_path / "dup",
        gpu,
        policy(clusters="alpha, beta"),
        fleet_header=header(clusters),
    )
    assert code == 2
    assert (
        "task 'worker' needs 1 nvidia.com/gpu per pod (0 nvidia.com/gpu free), which cluster "
        "alpha does not have: its copy there never starts"
    ) in stderr
