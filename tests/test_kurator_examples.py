"""Kurator's own examples (fleets/kurator/) through every command: validate, plan, plan
--explain on an Application, render for a member and for the host, and diff."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import yaml

from .conftest import REPO, run_cli

KURATOR = REPO / "fleets/kurator"
NGINX = KURATOR / "rollout-canary-nginx.yaml"
SELECTOR = KURATOR / "application-cluster-selector.yaml"
MEMBER_OBJECTS = [
    ("Canary", "backend"),
    ("Deployment", "backend-testloader"),
    ("Ingress", "nginx"),
    ("MetricTemplate", "nginx-request-success-rate"),
    ("Service", "backend-testloader"),
]


def test_validate() -> None:
    result = run_cli("validate", "--strict", NGINX, "--root", REPO)
    assert result.exit_code == 0, result.output
    assert "rollout-canary-nginx: 2 clusters, 22 objects, 0 policies: valid" in result.stderr


def test_plan_lists_host_and_member_objects() -> None:
    result = run_cli("plan", NGINX, "--root", REPO)
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:3]): line.split()[5:] for line in result.stdout.splitlines()[1:]}
    assert rows[("Canary.flagger.app", "webapp", "backend")] == [
        "kurator-member1",
        "kurator-member2",
    ]
    assert rows[("GitRepository.source.toolkit.fluxcd.io", "default", "rollout-nginx-demo")] == [
        "kurator-host"
    ]
    assert len(rows) == 22


def test_explain_an_application_names_each_policys_clusters() -> None:
    result = run_cli(
        "plan",
        SELECTOR,
        "--root",
        REPO,
        "--explain",
        "Application.apps.kurator.dev/default/gitrepo-kustomization-demo",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Application.apps.kurator.dev/default/gitrepo-kustomization-demo "
        "(fleets/kurator/application/cluster-selector-demo.yaml:2)",
        "  Application default/gitrepo-kustomization-demo sync policy "
        "gitrepo-kustomization-demo-0 (Kustomization) -> fleet default/quickstart, "
        "clusterSelector env=test",
        "    AttachedCluster kurator-member1: selected (labels match env=test) -> Kustomization "
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member1",
        "    AttachedCluster kurator-member2: not selected (has env=dev (wants env=test))",
        "  Application default/gitrepo-kustomization-demo sync policy "
        "gitrepo-kustomization-demo-1 (Kustomization) -> fleet default/quickstart, "
        "clusterSelector env=dev",
        "    AttachedCluster kurator-member1: not selected (has env=test (wants env=dev))",
        "    AttachedCluster kurator-member2: selected (labels match env=dev) -> Kustomization "
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2",
        "  Kurator makes from it:",
        "    GitRepository.source.toolkit.fluxcd.io/default/gitrepo-kustomization-demo "
        "-> kurator-host",
        "    Kustomization.kustomize.toolkit.fluxcd.io/default/"
        "gitrepo-kustomization-demo-0-attachedcluster-kurator-member1 -> kurator-host",
        "    Kustomization.kustomize.toolkit.fluxcd.io/default/"
        "gitrepo-kustomization-demo-1-attachedcluster-kurator-member2 -> kurator-host",
    ]


def test_explain_a_rollout_application_and_what_it_makes() -> None:
    result = run_cli(
        "plan", NGINX, "--root", REPO, "--explain", "Application/default/rollout-nginx-demo"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        "    AttachedCluster kurator-member2: selected (no cluster selector: every fleet member)"
        " -> Kustomization rollout-nginx-demo-0-attachedcluster-kurator-member2"
    ) in lines
    assert "    Canary.flagger.app/webapp/backend -> kurator-member1, kurator-member2" in lines


def test_explain_a_generated_object_names_its_origin() -> None:
    result = run_cli("plan", NGINX, "--root", REPO, "--explain", "Canary/webapp/backend")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "  placement: made by Kurator's rollout from Application rollout-nginx-demo "
        "(fleets/kurator/rollout/canaryNginx.yaml:2) on members kurator-member1, "
        "kurator-member2",
        "  result: kurator-member1, kurator-member2",
    ]


def test_explain_an_unknown_kurator_object() -> None:
    result = run_cli("plan", NGINX, "--root", REPO, "--explain", "Application/default/nope")
    assert result.exit_code == 2
    assert "no input object 'Application/default/nope'" in result.stderr


def test_render_a_member() -> None:
    result = run_cli("render", "--strict", NGINX, "--root", REPO, "--cluster", "kurator-member1")
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == MEMBER_OBJECTS
    canary = next(d for d in docs if d["kind"] == "Canary")
    assert canary["spec"]["service"]["targetPort"] == "http"  # read from podinfo's Service


def test_render_the_host() -> None:
    result = run_cli("render", "--strict", NGINX, "--root", REPO, "--cluster", "kurator-host")
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    assert len(docs) == 17
    assert {d["kind"] for d in docs} == {
        "GitRepository",
        "HelmRelease",
        "HelmRepository",
        "Kustomization",
    }
    # Kurator's host reaches each member through the AttachedCluster's kubeconfig Secret.
    secrets = {
        d["metadata"]["name"]: d["spec"]["kubeConfig"]["secretRef"]
        for d in docs
        if d["kind"] == "Kustomization"
    }
    assert secrets["rollout-nginx-demo-1-attachedcluster-kurator-member2"] == {
        "name": "kurator-member2",
        "key": "kurator-member2.config",
    }


def test_diff_shows_a_rollout_change_on_every_member(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = tmp_path / "fleet.lock.json"
    assert run_cli("build", NGINX, "-o", out, "--root", REPO, "--lock", lock).exit_code == 0
    same = run_cli("diff", NGINX, "--root", REPO, "--against", out)
    assert same.exit_code == 0, same.output
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copytree(KURATOR, repo / "kurator")
    app = repo / "kurator/rollout/canaryNginx.yaml"
    app.write_text(app.read_text().replace("maxWeight: 50", "maxWeight: 30"))
    changed = run_cli("diff", repo / "kurator/rollout-canary-nginx.yaml", "--against", out)
    assert changed.exit_code == 1, changed.output
    assert changed.stdout.splitlines() == [
        "kurator-member1: 0 added, 1 changed, 0 removed",
        "  ~ Canary.flagger.app webapp/backend",
        "kurator-member2: 0 added, 1 changed, 0 removed",
        "  ~ Canary.flagger.app webapp/backend",
    ]


def test_public_testloader_canary_differs_per_member(tmp_path: Path) -> None:
    """Without a private tester, each member's Canary calls the flagger plugin's public one,
    named after that member (rollout_helper.go renderCanaryAnalysis)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shutil.copytree(KURATOR, repo / "kurator")
    app = repo / "kurator/rollout/canary.yaml"
    app.write_text(app.read_text().replace("testLoader: true", "testLoader: false"))
    fleet = repo / "kurator/rollout-canary.yaml"
    for member in ("kurator-member1", "kurator-member2"):
        result = run_cli("render", "--strict", fleet, "--cluster", member)
        assert result.exit_code == 0, result.output
        docs = list(yaml.safe_load_all(result.stdout))
        (canary,) = [d for d in docs if d["kind"] == "Canary"]
        assert canary["spec"]["analysis"]["webhooks"][0]["url"] == (
            f"http://istio-system-testloader-{member}-loadtester.istio-system/"
        )
        assert "Deployment" not in {d["kind"] for d in docs}


def test_readme_kurator_commands_run() -> None:
    """Every command the README's "Kurator's API" section shows works as shown."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Kurator's API\n", 1)[1].split("\n## ", 1)[0]
    commands = sorted(set(re.findall(r"`kurator-compile ([^`]+)`", section)))
    assert len(commands) >= 8
    for command in commands:
        result = run_cli(*shlex.split(command), cwd=REPO)
        assert result.exit_code == 0, (command, result.output)
        assert result.stdout or result.stderr, command


def test_explain_an_input_kurator_only_reads() -> None:
    result = run_cli("plan", NGINX, "--root", REPO, "--explain", "Service/webapp/backend")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Service/webapp/backend (fleets/kurator/rollout/podinfo-backend-service.yaml)\n"
        "  read by Kurator from a live cluster (a rollout's Service or Namespace, a plugin's "
        "Secret): needed to compile, never placed\n"
    )
