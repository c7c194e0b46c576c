"""Argo CD and Flux: emitted objects valid against the real CRDs, and each tool's contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator

from kurator_compile.outputcheck.store import BUNDLED_CRDS

from .conftest import FLEET_HEADER, POLICY_ALL, REPO, copy_demo, run_cli

needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl not installed: kustomize builds of the output cannot run",
)


def _canonical(objects: list[Any]) -> list[str]:
    return sorted(json.dumps(o, sort_keys=True) for o in objects if o)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "rendered"
    result = run_cli(
        "build",
        REPO / "fleets" / "demo.yaml",
        "-o",
        out,
        "--root",
        REPO,
        "--lock",
        out.parent / "demo.lock.json",
    )
    assert result.exit_code == 0, result.output
    return out


def _docs(folder: Path) -> list[Any]:
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.rglob("*.yaml"))]


def test_argocd_and_flux_objects_are_valid(demo_out: Path) -> None:
    objects = _docs(demo_out / "argocd") + _docs(demo_out / "flux")
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["ApplicationSet", "GitRepository", "Kustomization"]
    for obj in objects:
        group, version = obj["apiVersion"].split("/")
        schema = json.loads(
            (BUNDLED_CRDS / group / f"{obj['kind'].lower()}_{version}.json").read_text()
        )
        errors = sorted(Draft4Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: {errors[0].message}"


def test_applicationset_lists_every_cluster_sorted(demo_out: Path) -> None:
    (appset,) = _docs(demo_out / "argocd")
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert [e["cluster"] for e in elements] == sorted(
        ["cluster-beijing", "cluster-tianjin", "cluster-shanghai", "cluster-hangzhou"]
    )
    source = appset["spec"]["template"]["spec"]["source"]
    assert source["path"] == "rendered/clusters/{{.cluster}}"


def test_applications_mode_and_plugin_source(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    header = FLEET_HEADER.replace(
        "      labels: {region: south}\n",
        "      labels: {region: south}\n      argocd: {name: beta-in-argocd}\n",
    ) + (
        "  gitops:\n    repoURL: https://git.example.com/x.git\n"
        "    argocd: {kind: Application, source: plugin}\n"
    )
    fleet = make_fleet("---\n" + POLICY_ALL, header=header)
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    apps = {a["metadata"]["name"]: a for a in _docs(out / "argocd")}
    assert sorted(apps) == ["test-alpha", "test-beta"]
    assert apps["test-beta"]["spec"]["destination"] == {
        "name": "beta-in-argocd",
        "namespace": "default",
    }
    plugin = apps["test-alpha"]["spec"]["source"]["plugin"]
    assert plugin["name"] == "kurator-compile-v1"
    assert plugin["env"] == [
        {"name": "CLUSTER", "value": "alpha"},
        {"name": "FLEET", "value": "fleet.yaml"},
    ]


def test_mixed_destinations_are_an_error(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    header = (
        FLEET_HEADER.replace(
            "      labels: {region: south}\n",
            "      labels: {region: south}\n      argocd: {server: 'https://beta.example.com'}\n",
        )
        + "  gitops:\n    repoURL: https://git.example.com/x.git\n    argocd: {}\n"
    )
    fleet = make_fleet("---\n" + POLICY_ALL, header=header)
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "either every cluster sets argocd.server or none does" in result.stderr


@needs_kubectl
@pytest.mark.parametrize("cluster", ["cluster-beijing", "cluster-tianjin"])
def test_flux_generated_kustomization_yields_the_objects(
    demo_out: Path, tmp_path: Path, cluster: str
) -> None:
    """kustomize-controller, finding no kustomization.yaml, generates one over every manifest."""
    folder = tmp_path / cluster
    shutil.copytree(demo_out / "clusters" / cluster, folder)
    (folder / "flux-system").mkdir()  # what `flux bootstrap` leaves; it is not ours to read
    manifests = sorted(p.name for p in folder.glob("*.yaml"))
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": manifests,
            }
        )
    )
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    assert _canonical(list(yaml.safe_load_all(built))) == _canonical(
        _docs(demo_out / "clusters" / cluster)
    )


@needs_kubectl
@pytest.mark.parametrize("fleet", ["demo.yaml", "kurator/rollout-canary-nginx.yaml"])
def test_build_with_kustomization_is_buildable(tmp_path: Path, fleet: str) -> None:
    """Kurator's example includes the host's folder, whose Flux Kustomizations are objects."""
    out = tmp_path / "out"
    lock = tmp_path / "fleet.lock.json"
    result = run_cli(
        "build",
        "--kustomization",
        REPO / "fleets" / fleet,
        "-o",
        out,
        "--root",
        REPO,
        "--lock",
        lock,
    )
    assert result.exit_code == 0, result.output
    for folder in sorted((out / "clusters").iterdir()):
        built = subprocess.run(
            ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
        ).stdout
        emitted = [
            d for d in _docs(folder) if d.get("apiVersion") != "kustomize.config.k8s.io/v1beta1"
        ]
        assert _canonical(list(yaml.safe_load_all(built))) == _canonical(emitted)


def _plugin() -> dict[str, Any]:
    plugin: dict[str, Any] = yaml.safe_load((REPO / "deploy/argocd-cmp/plugin.yaml").read_text())
    return plugin


def _repo_copy(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "repo")


def _argocd_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    env.update(
        ARGOCD_APP_NAME="demo-cluster-beijing",
        ARGOCD_APP_NAMESPACE="argocd",
        ARGOCD_APP_REVISION="0123456789abcdef0123456789abcdef01234567",
        ARGOCD_APP_SOURCE_PATH=".",
        ARGOCD_APP_SOURCE_REPO_URL="https://git.example.com/platform/fleet.git",
        ARGOCD_APP_SOURCE_TARGET_REVISION="main",
        KUBE_VERSION="1.29.4",
        KUBE_API_VERSIONS="v1,apps/v1,batch/v1,networking.k8s.io/v1",
    )
    env.update(extra)
    return env


def _generate(repo: Path, cluster: str) -> subprocess.CompletedProcess[str]:
    """The plugin's generate command, run as the sidecar runs it for one Application."""
    generate = _plugin()["spec"]["generate"]
    argv = [*generate["command"], *generate.get("args", [])]
    env = _argocd_env(ARGOCD_ENV_CLUSTER=cluster)
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)


def test_plugin_generate_prints_the_cluster_stream(demo_out: Path, tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    result = _generate(repo, "cluster-beijing")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    streamed = list(yaml.safe_load_all(result.stdout))
    assert _canonical(streamed) == _canonical(_docs(demo_out / "clusters" / "cluster-beijing"))


def test_plugin_generate_fails_loudly(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    unknown = _generate(repo, "cluster-nowhere")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert "no cluster 'cluster-nowhere'" in unknown.stderr
    (repo / "apps/web/web.yaml").write_text("kind: [broken\n")
    broken = _generate(repo, "cluster-beijing")
    assert broken.returncode == 2
    assert broken.stdout == ""
    assert "apps/web/web.yaml:2:1: error: invalid YAML" in broken.stderr


def test_plugin_discover_matches_fleet_repos_only(tmp_path: Path) -> None:
    find = _plugin()["spec"]["discover"]["find"]["command"]
    repo = _repo_copy(tmp_path)
    found = subprocess.run(find, cwd=repo, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "fleets/demo.yaml"
    other = tmp_path / "other"
    other.mkdir()
    (other / "deployment.yaml").write_text("kind: Deployment\n")
    nothing = subprocess.run(find, cwd=other, capture_output=True, text=True, check=True)
    assert nothing.stdout == ""


# Flux's GitRepository reference, as source-controller documents it (fluxcd/source-controller
# docs/spec/v1/gitrepositories.md, "Reference", at 0085ea0d54b542db27bc9ad7d56bf0c050dba727):
# `.branch`, `.tag`, `.semver`, `.name`, `.commit`, later fields winning; no ref means the
# `master` branch. Argo CD's targetRevision takes any of branch, tag or commit, and HEAD.
GITOPS = """\
  gitops:
    repoURL: https://git.example.com/platform/fleet.git
{extra}    flux: {{namespace: flux-system{flux}}}
"""


def _flux_ref(make_fleet: Callable[..., Path], tmp_path: Path, extra: str, flux: str = "") -> Any:
    header = FLEET_HEADER + GITOPS.format(extra=extra, flux=flux)
    out = tmp_path / "out"
    result = run_cli("build", make_fleet(header=header), "-o", out)
    if result.exit_code != 0:
        return result.stderr
    (repository,) = [d for d in _docs(out / "flux") if d["kind"] == "GitRepository"][:1]
    return repository["spec"]["ref"]


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("release/2026-12", {"branch": "release/2026-12"}),
        ("0123456789" * 4, {"commit": "0123456789" * 4}),
        ("a" * 64, {"commit": "a" * 64}),  # a SHA-256 repository's object name
        ("refs/tags/v1.2.3", {"name": "refs/tags/v1.2.3"}),
        ("refs/pull/420/head", {"name": "refs/pull/420/head"}),
    ],
)  # fmt: skip
def test_an_unambiguous_revision_becomes_its_flux_ref(
    make_fleet: Callable[..., Path], tmp_path: Path, revision: str, ref: dict[str, str]
) -> None:
    assert _flux_ref(make_fleet, tmp_path, f"    revision: '{revision}'\n") == ref


@pytest.mark.parametrize(
    "ref",
    [{"tag": "v1.2.3"}, {"semver": ">=1.0.0 <2.0.0"}, {"branch": "main", "commit": "abc1234"}],
)
def test_an_explicit_flux_ref_is_used_as_written(
    make_fleet: Callable[..., Path], tmp_path: Path, ref: dict[str, str]
) -> None:
    flux = ", ref: {" + ", ".join(f"{k}: '{v}'" for k, v in ref.items()) + "}"
    assert _flux_ref(make_fleet, tmp_path, "    revision: v1.2.3\n", flux) == ref


def test_a_version_like_revision_needs_an_explicit_flux_ref(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    stderr = _flux_ref(make_fleet, tmp_path, "    revision: v1.2.3\n")
    assert (
        "fleet.yaml:15:5: error: gitops revision 'v1.2.3' looks like a tag, and Flux would "
        "look for a branch of that name: set spec.gitops.flux.ref: {tag: v1.2.3} (or "
        "{branch: v1.2.3}) (at /spec/gitops/revision)"
    ) in stderr


def test_the_default_revision_head_needs_a_branch_for_flux(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    stderr = _flux_ref(make_fleet, tmp_path, "")
    assert (
        "error: gitops revision 'HEAD' (the default) means the default branch to Argo CD; Flux "
        "has no such reference: set spec.gitops.revision to the branch, or "
        "spec.gitops.flux.ref: {branch: main} (at /spec/gitops)"
    ) in stderr


def test_an_empty_flux_ref_is_refused(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    stderr = _flux_ref(make_fleet, tmp_path, "    revision: main\n", ", ref: {}")
    assert stderr == (
        "fleet.yaml:16:36: error: {} should be non-empty (at /spec/gitops/flux/ref)\n"
        "1 error; nothing was written\n"
    )


@pytest.mark.parametrize(
    ("variable", "fleet"),
    [
        ("ARGOCD_ENV_FLEET", "../other/fleets/demo.yaml"),
        ("PARAM_FLEET", "../other/fleets/demo.yaml"),
        ("ARGOCD_ENV_FLEET", "{other}/fleets/demo.yaml"),
        ("ARGOCD_ENV_FLEET", "fleets/linked.yaml"),
        ("ARGOCD_ENV_FLEET", "linked-dir/demo.yaml"),
    ],
)
def test_plugin_reads_only_the_applications_repository(
    tmp_path: Path, variable: str, fleet: str
) -> None:
    """FLEET from Argo CD must resolve inside the source directory, links followed."""
    repo = _repo_copy(tmp_path)
    other = copy_demo(tmp_path / "other")
    (repo / "fleets/linked.yaml").symlink_to(other / "fleets/demo.yaml")
    (repo / "linked-dir").symlink_to(other / "fleets")
    fleet = fleet.format(other=other)
    generate = _plugin()["spec"]["generate"]
    argv = [*generate["command"], *generate.get("args", [])]
    env = _argocd_env(ARGOCD_ENV_CLUSTER="cluster-beijing", **{variable: fleet})
    result = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    resolved = (repo / fleet).resolve()
    assert result.stderr == (
        f"error: FLEET {fleet!r} resolves to {resolved}, outside the application's source "
        f"directory {repo.resolve()}; the plugin reads only the application's own repository\n"
    )


def test_plugin_without_fleet_refuses_a_linked_fleet(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    other = copy_demo(tmp_path / "other")
    (repo / "fleets/demo.yaml").unlink()
    (repo / "fleets/demo.yaml").symlink_to(other / "fleets/demo.yaml")
    result = _generate(repo, "cluster-beijing")
    assert result.returncode == 2, result.stderr
    assert "outside the application's source directory" in result.stderr
