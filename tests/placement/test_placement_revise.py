"""revise_replicas: Karmada's ReviseReplica and Job completions, without mutating input."""

from __future__ import annotations

import copy
from typing import Any

from placement_kit import cluster, configmap, deployment, place, policy

from kurator_compile.placement import revise_replicas

TWO = [cluster("a"), cluster("b")]
DIVIDED = {"replicaScheduling": {"replicaSchedulingType": "Divided"}}
ODD_UID = "d43fdeeb-d750-4e2b-bee3-64eb94534f4c"
JOBS = [{"apiVersion": "batch/v1", "kind": "Job"}]


def job(parallelism: int | None, completions: int | None, uid: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"name": "x"}]}}}
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if completions is not None:
        spec["completions"] = completions
    metadata: dict[str, Any] = {"name": "batch", "namespace": "shop"}
    if uid:
        metadata["uid"] = uid
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def test_deployment_replicas_are_written_without_touching_the_input() -> None:
    data = deployment(replicas=5)
    before = copy.deepcopy(data)
    [placed], _ = place(TWO, [data], [policy("p", DIVIDED)])
    revised = {c: revise_replicas(data, placed, c) for c in ("a", "b")}
    assert {c: r["spec"]["replicas"] for c, r in revised.items()} == {"a": 3, "b": 2}
    assert data == before
    assert revised["a"] is not data
    assert revised["a"]["spec"] is not data["spec"]
    # Only the changed path is copied: the pod template is shared, not deep-copied.
    assert revised["a"]["spec"]["template"] is data["spec"]["template"]


def test_missing_replicas_are_written_as_the_defaulted_count() -> None:
    data = deployment(replicas=None)
    [placed], _ = place(TWO, [data], [policy("p", {})])
    assert revise_replicas(data, placed, "a")["spec"]["replicas"] == 1
    assert "replicas" not in data["spec"]


def test_non_workloads_and_unplaced_clusters_are_unchanged() -> None:
    cm = configmap()
    cm_policy = policy("cm", {}, selectors=[{"apiVersion": "v1", "kind": "ConfigMap"}])
    [placed], _ = place(TWO, [cm], [cm_policy])
    assert revise_replicas(cm, placed, "a") == cm
    data = deployment(replicas=0)
    [placed], _ = place(TWO, [data], [policy("p", DIVIDED)])
    assert placed.replicas == {"a": None, "b": None}
    assert revise_replicas(data, placed, "a")["spec"]["replicas"] == 0


def test_job_divides_parallelism_and_completions() -> None:
    data = job(parallelism=3, completions=7)
    [placed], _ = place(TWO, [data], [policy("p", DIVIDED, selectors=JOBS)])
    assert dict(placed.replicas) == {"a": 2, "b": 1}
    specs = {c: revise_replicas(data, placed, c)["spec"] for c in ("a", "b")}
    assert {c: (s["parallelism"], s["completions"]) for c, s in specs.items()} == {
        "a": (2, 5),
        "b": (1, 2),
    }


def test_job_ties_follow_the_uid() -> None:
    data = job(parallelism=3, completions=7, uid=ODD_UID)
    [placed], _ = place(TWO, [data], [policy("p", DIVIDED, selectors=JOBS)])
    assert dict(placed.replicas) == {"a": 1, "b": 2}
    specs = {c: revise_replicas(data, placed, c)["spec"] for c in ("a", "b")}
    assert {c: (s["parallelism"], s["completions"]) for c, s in specs.items()} == {
        "a": (1, 2),
        "b": (2, 5),
    }


def test_job_without_completions_keeps_none_and_duplicated_keeps_completions() -> None:
    work_queue = job(parallelism=4, completions=None)
    [placed], _ = place(TWO, [work_queue], [policy("p", DIVIDED, selectors=JOBS)])
    spec = revise_replicas(work_queue, placed, "a")["spec"]
    assert spec["parallelism"] == 2
    assert "completions" not in spec
    fixed = job(parallelism=2, completions=10)
    [placed], _ = place(TWO, [fixed], [policy("p", {}, selectors=JOBS)])
    spec = revise_replicas(fixed, placed, "b")["spec"]
    assert (spec["parallelism"], spec["completions"]) == (2, 10)


def test_job_with_neither_field_runs_one_of_one() -> None:
    data = job(parallelism=None, completions=None)
    [placed], _ = place(TWO, [data], [policy("p", DIVIDED, selectors=JOBS)])
    assert dict(placed.replicas) == {"a": 1}
    spec = revise_replicas(data, placed, "a")["spec"]
    assert (spec["parallelism"], spec["completions"]) == (1, 1)


def test_pods_are_never_revised() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": [{"name": "x"}]},
    }
    [placed], _ = place(
        TWO, [pod], [policy("p", {}, selectors=[{"apiVersion": "v1", "kind": "Pod"}])]
    )
    assert dict(placed.replicas) == {"a": 1, "b": 1}
    assert revise_replicas(pod, placed, "a") == pod
