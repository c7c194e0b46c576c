"""Real samples pass `--strict`: advice (replicas that may share a node, an HPA that will scale
up) is shown by `plan` and counted as a warning by no command. Built from the upstream files
in tests/upstream/ (podinfo's kustomize folder, Karmada's samples/nginx)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import run_cli

UPSTREAM = Path(__file__).parent / "upstream"

FLEET = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: sample
spec:
  clusters:
    - name: member1
    - name: member2
  resources:
    - apps/*.yaml
"""
PODINFO_POLICY = """\
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: podinfo
spec:
  resourceSelectors:
    - {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  placement:
    clusterAffinity: {clusterNames: [member1, member2]}
"""


def _sample(tmp_path: Path, folder: str, files: list[str], policy: str = "") -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps").mkdir()
    for name in files:
        shutil.copy(UPSTREAM / folder / name, tmp_path / "apps" / name)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET + policy, encoding="utf-8")
    return fleet


def _strict_build_and_check(fleet: Path) -> str:
    """A strict build and a strict check of its output both pass; the build's stderr."""
    out, lock = fleet.parent / "out", fleet.parent / "lock.json"
    built = run_cli("build", "--strict", fleet, "-o", out, "--lock", lock)
    assert built.exit_code == 0, built.output
    checked = run_cli("check", "--strict", fleet, "-o", out, "--lock", lock)
    assert checked.exit_code == 0, checked.output
    assert "warning" not in built.stderr.replace("0 warnings", "")
    assert "advice" not in built.stderr
    return built.stderr


def test_podinfo_builds_strictly_and_plan_gives_the_advice(tmp_path: Path) -> None:
    fleet = _sample(
        tmp_path,
        "podinfo/kustomize",
        ["deployment.yaml", "service.yaml", "hpa.yaml"],
        PODINFO_POLICY,
    )
    _strict_build_and_check(fleet)
    plan = run_cli("plan", "--strict", fleet, "--lock", tmp_path / "lock.json")
    assert plan.exit_code == 0, plan.output
    assert plan.stderr == "".join(
        f"apps/hpa.yaml:11:3: advice: HorizontalPodAutoscaler.autoscaling/default/podinfo on "
        f"{cluster}: minReplicas 2 exceeds the 1 replica(s) of Deployment.apps/default/podinfo "
        "placed there; the autoscaler will scale it up (at /spec/minReplicas)\n"
        for cluster in ("member1", "member2")
    )


def test_karmada_nginx_sample_builds_strictly(tmp_path: Path) -> None:
    fleet = _sample(
        tmp_path,
        "karmada/samples/nginx",
        ["deployment.yaml", "propagationpolicy.yaml", "overridepolicy.yaml"],
    )
    _strict_build_and_check(fleet)
    member2 = tmp_path / "out/clusters/member2/deployment.apps_default_nginx.yaml"
    assert "env: skoala-dev" in member2.read_text()  # the OverridePolicy ran
    plan = run_cli("plan", "--strict", fleet, "--lock", tmp_path / "lock.json")
    assert plan.exit_code == 0, plan.output
    assert plan.stderr == ""


def test_a_duplicated_nginx_gets_advice_not_a_warning(tmp_path: Path) -> None:
    fleet = _sample(tmp_path, "karmada/samples/nginx", ["deployment.yaml"], PODINFO_POLICY)
    fleet.write_text(fleet.read_text().replace("podinfo", "nginx"))
    _strict_build_and_check(fleet)
    plan = run_cli("plan", fleet, "--lock", tmp_path / "lock.json")
    assert plan.stderr == (
        "apps/deployment.yaml:17:5: advice: Deployment.apps/default/nginx runs more than one "
        "replica per cluster (member1=2, member2=2) with neither pod anti-affinity nor topology "
        "spread constraints; one node can take them all down (at /spec/template/spec)\n"
    )
