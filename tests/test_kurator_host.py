"""Kurator's host folder, its inventory (fleet.kurator.dev Fleet + AttachedClusters) and the
table entry that adapts a pure `compile_<kind>(inputs)` module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kurator_compile import stack
from kurator_compile.errors import Diagnostic
from kurator_compile.kurator.inventory import HOST, Generated, KuratorInputs, build_inventory
from kurator_compile.yamldoc import load_stream

from .conftest import DEPLOYMENT, POLICY_ALL, run_cli

HERE = Path(__file__).parent / "kurator"
UPSTREAM_FLEET = (HERE / "fleet.yaml").read_text(encoding="utf-8")
UPSTREAM_ATTACHED = (HERE / "attachedcluster.yaml").read_text(encoding="utf-8")
APPLICATION = (HERE / "gitrepo-kustomization-demo.yaml").read_text(encoding="utf-8")

HEADER = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  host: {name: kurator-host, kubeVersion: "1.30"}
  resources:
    - apps/*.yaml
"""


def compile_fake(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """A stand-in Kurator module: per Application, a ConfigMap on the host and one per member
    of its fleet naming the kubeconfig Secret (as Flux's kubeConfig.secretRef would)."""
    made: list[Generated] = []
    for doc in inputs.documents.get("Application", ()):
        name = doc.data["metadata"]["name"]
        fleet = inputs.fleet(doc.data["spec"]["syncPolicies"][0]["destination"]["fleet"])
        assert fleet is not None
        made.append(Generated(HOST, _config_map(name, {"fleet": fleet.name}), doc))
        for member in fleet.members:
            data = {"secret": member.secret_name, "key": member.secret_key}
            made.append(Generated(member.name, _config_map(f"{name}-{member.name}", data), doc))
    return made, []


def _config_map(name: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


@pytest.fixture
def fake_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = stack.kurator_kind(
        "fake-application", compile_fake, ("apps.kurator.dev", "Application")
    )
    # In place of the real Application compiler: this test is about the table entry itself.
    others = tuple(k for k in stack.STACK_KINDS if k.name not in ("application", "rollout"))
    monkeypatch.setattr(stack, "STACK_KINDS", (*others, entry))


@pytest.fixture
def kurator_repo(tmp_path: Path) -> Callable[..., Path]:
    def make(header: str = HEADER, **apps: str) -> Path:
        (tmp_path / ".git").mkdir(exist_ok=True)
        (tmp_path / "apps").mkdir(exist_ok=True)
        files = {
            "fleet.yaml": UPSTREAM_FLEET,
            "attachedcluster.yaml": UPSTREAM_ATTACHED,
            "web.yaml": DEPLOYMENT,
            **apps,
        }
        for name, text in files.items():
            (tmp_path / "apps" / name).write_text(text, encoding="utf-8")
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(header + "---\n" + POLICY_ALL, encoding="utf-8")
        return fleet

    return make


def test_inventory_from_upstream_examples() -> None:
    """Mirrors BuildFleetClusters (pkg/fleet-manager/fleet_cluster.go, commit b633941): each
    AttachedCluster the Fleet names becomes a member with its kubeconfig Secret."""
    docs = [*load_stream(UPSTREAM_FLEET, "fleet.yaml"), *load_stream(UPSTREAM_ATTACHED, "ac.yaml")]
    by_kind: dict[str, list] = {}
    for doc in docs:
        by_kind.setdefault(doc.data["kind"], []).append(doc)
    fleets, errors = build_inventory(by_kind)
    assert errors == []
    (fleet,) = fleets
    assert (fleet.name, fleet.namespace) == ("quickstart", "default")
    assert [(m.name, m.kind, m.secret_name, m.secret_key) for m in fleet.members] == [
        ("kurator-member1", "AttachedCluster", "kurator-member1", "kurator-member1.config"),
        ("kurator-member2", "AttachedCluster", "kurator-member2", "kurator-member2.config"),
    ]


def test_inventory_members_are_fleet_clusters(kurator_repo: Callable[..., Path]) -> None:
    result = run_cli("validate", kurator_repo())
    assert result.exit_code == 0, result.output
    assert "test: 2 clusters" in result.output


def test_compile_fleet_entry_wins_and_labels_merge(
    kurator_repo: Callable[..., Path], tmp_path: Path
) -> None:
    header = HEADER.replace(
        "  resources:",
        "  clusters:\n    - {name: kurator-member1, labels: {tier: gold}}\n  resources:",
    )
    attached = UPSTREAM_ATTACHED.replace(
        "  name: kurator-member1\n",
        "  name: kurator-member1\n  labels: {tier: bronze, env: prod}\n",
        1,
    )
    policy = POLICY_ALL.replace(
        "spec:\n",
        "spec:\n  placement:\n    clusterAffinity:\n      labelSelector:\n"
        "        matchLabels: {env: prod, tier: gold}\n",
        1,
    )
    fleet = kurator_repo(header, **{"attachedcluster.yaml": attached})
    fleet.write_text(header + "---\n" + policy, encoding="utf-8")
    result = run_cli("plan", fleet)
    assert result.exit_code == 0, result.output
    assert "kurator-member1=2" in result.output
    assert "kurator-member2" not in result.output


def test_missing_attached_cluster_is_an_error(kurator_repo: Callable[..., Path]) -> None:
    attached = UPSTREAM_ATTACHED.split("---")[0]
    result = run_cli("validate", kurator_repo(**{"attachedcluster.yaml": attached}))
    assert result.exit_code == 2, result.output
    assert (
        "apps/fleet.yaml:11:7: error: Fleet 'quickstart' names AttachedCluster 'kurator-member2'"
        in (result.output)
    )


def test_unknown_field_in_a_kurator_kind(kurator_repo: Callable[..., Path]) -> None:
    attached = UPSTREAM_ATTACHED.replace("    key: kurator-member1.config\n", "    keys: x\n", 1)
    result = run_cli("validate", kurator_repo(**{"attachedcluster.yaml": attached}))
    assert result.exit_code == 2, result.output
    assert "attachedcluster.yaml:10:5: error: unknown field 'keys'" in result.output


def test_kubeconfig_key_defaults_to_value(kurator_repo: Callable[..., Path]) -> None:
    attached = UPSTREAM_ATTACHED.replace("    key: kurator-member1.config\n", "", 1)
    docs = load_stream(attached, "ac.yaml")
    fleets, _ = build_inventory(
        {"Fleet": load_stream(UPSTREAM_FLEET, "f.yaml"), "AttachedCluster": docs}
    )
    assert fleets[0].members[0].secret_key == "value"
    assert run_cli("validate", kurator_repo(**{"attachedcluster.yaml": attached})).exit_code == 0


def test_kurator_kind_without_compiler_is_an_error(kurator_repo: Callable[..., Path]) -> None:
    other = "apiVersion: pipeline.kurator.dev/v1alpha1\nkind: Trigger\nmetadata: {name: ci}\n"
    result = run_cli("validate", kurator_repo(**{"trigger.yaml": other}))
    assert result.exit_code == 2, result.output
    assert "pipeline.kurator.dev/v1alpha1 Trigger is a Kurator kind" in result.output


def test_provisioning_kinds_are_reported_not_compiled(kurator_repo: Callable[..., Path]) -> None:
    custom = (
        "apiVersion: infrastructure.cluster.x-k8s.io/v1alpha1\nkind: CustomCluster\n"
        "metadata: {name: cc, namespace: default}\nspec: {}\n"
    )
    result = run_cli("validate", kurator_repo(**{"cc.yaml": custom}))
    assert result.exit_code == 0, result.output
    assert "cc.yaml:1:1: warning: not compiled: provisioning" in result.output
    plan = run_cli("plan", kurator_repo(**{"cc.yaml": custom}))
    assert "CustomCluster" not in plan.stdout


def test_host_name_colliding_with_a_cluster(kurator_repo: Callable[..., Path]) -> None:
    header = HEADER.replace("name: kurator-host", "name: kurator-member1")
    result = run_cli("validate", kurator_repo(header))
    assert result.exit_code == 2, result.output
    assert "fleet.yaml:6:10: error: the host is named 'kurator-member1', like a member" in (
        result.output
    )


@pytest.mark.usefixtures("fake_kind")
def test_missing_host_is_an_error(kurator_repo: Callable[..., Path]) -> None:
    header = HEADER.replace('  host: {name: kurator-host, kubeVersion: "1.30"}\n', "")
    result = run_cli("validate", kurator_repo(header, **{"app.yaml": APPLICATION}))
    assert result.exit_code == 2, result.output
    assert "app.yaml:2:1: error: Application 'gitrepo-kustomization-demo' makes ConfigMap" in (
        result.output
    )
    assert "add `spec.host: {name: kurator-host}`" in result.output


@pytest.mark.usefixtures("fake_kind")
def test_registered_kind_writes_host_and_members(
    kurator_repo: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = kurator_repo(**{"app.yaml": APPLICATION})
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in (out / "clusters").rglob("*.yaml"))
    assert files == [
        "clusters/kurator-host/configmap_default_gitrepo-kustomization-demo.yaml",
        "clusters/kurator-member1/configmap_default_gitrepo-kustomization-demo-kurator-member1.yaml",
        "clusters/kurator-member1/deployment.apps_shop_web.yaml",
        "clusters/kurator-member2/configmap_default_gitrepo-kustomization-demo-kurator-member2.yaml",
        "clusters/kurator-member2/deployment.apps_shop_web.yaml",
    ]
    member_file = "configmap_default_gitrepo-kustomization-demo-kurator-member1.yaml"
    member = yaml.safe_load((out / "clusters/kurator-member1" / member_file).read_text())
    assert member["data"] == {"secret": "kurator-member1", "key": "kurator-member1.config"}
    # The host is never a placement candidate: the Deployment stays on the members.
    assert not (out / "clusters/kurator-host/deployment.apps_shop_web.yaml").exists()

    validate = run_cli("validate", fleet)
    assert validate.exit_code == 0, validate.output
    assert "test: 2 clusters" in validate.output

    plan = run_cli("plan", fleet)
    host_rows = [line.split() for line in plan.stdout.splitlines() if "kurator-host" in line]
    assert host_rows == [
        ["ConfigMap", "default", "gitrepo-kustomization-demo", "-", "-", "kurator-host"]
    ]

    host = run_cli("render", fleet, "--cluster", "kurator-host")
    assert host.exit_code == 0, host.output
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(host.stdout)] == [
        "gitrepo-kustomization-demo"
    ]
    member_stream = run_cli("render", fleet, "--cluster", "kurator-member2")
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(member_stream.stdout)]
    assert names == ["gitrepo-kustomization-demo-kurator-member2", "web"]

    (tmp_path / "apps" / "app.yaml").write_text(
        APPLICATION.replace("gitrepo-kustomization-demo\n", "renamed-demo\n", 1)
    )
    diff = run_cli("diff", fleet, "--against", out)
    assert diff.exit_code == 1, diff.output
    assert "kurator-host: 1 added, 0 changed, 1 removed" in diff.stdout


@pytest.mark.usefixtures("fake_kind")
def test_host_gets_gitops_objects(kurator_repo: Callable[..., Path], tmp_path: Path) -> None:
    header = HEADER.replace(
        "  resources:",
        "  gitops:\n    repoURL: https://git.example.com/platform.git\n    revision: main\n"
        "    flux: {}\n  resources:",
    )
    out = tmp_path / "out"
    result = run_cli("build", kurator_repo(header, **{"app.yaml": APPLICATION}), "-o", out)
    assert result.exit_code == 0, result.output
    kustomization = yaml.safe_load(
        (
            out
            / "flux/kurator-host/kustomization.kustomize.toolkit.fluxcd.io_flux-system_test.yaml"
        ).read_text()
    )
    assert kustomization["spec"]["path"] == "./rendered/clusters/kurator-host"


def test_a_fleet_without_clusters_or_inventory(kurator_repo: Callable[..., Path]) -> None:
    fleet = kurator_repo()
    for name in ("fleet.yaml", "attachedcluster.yaml"):
        (fleet.parent / "apps" / name).unlink()
    result = run_cli("validate", fleet)
    assert result.exit_code == 2
    assert "fleet.yaml:5:1: error: the fleet has no clusters" in result.output


def test_an_unsupported_member_kind(kurator_repo: Callable[..., Path]) -> None:
    fleet_doc = UPSTREAM_FLEET.replace("kind: AttachedCluster", "kind: Machine", 1)
    result = run_cli("validate", kurator_repo(**{"fleet.yaml": fleet_doc}))
    assert result.exit_code == 2
    assert "apps/fleet.yaml:10:7: error: Fleet 'quickstart': a member is an AttachedCluster" in (
        result.output
    )


def compile_kurator_cr(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    (doc,) = inputs.documents["Application"]
    data = {"apiVersion": "fleet.kurator.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": "x"}}
    return [Generated("kurator-member1", data, doc)], []


def test_a_kurator_cr_is_never_written(
    kurator_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = stack.kurator_kind("bad", compile_kurator_cr, ("apps.kurator.dev", "Application"))
    # In place of the real Application compiler: this test is about the table entry itself.
    others = tuple(k for k in stack.STACK_KINDS if k.name not in ("application", "rollout"))
    monkeypatch.setattr(stack, "STACK_KINDS", (*others, entry))
    result = run_cli("validate", kurator_repo(**{"app.yaml": APPLICATION}))
    assert result.exit_code == 2
    assert "app.yaml:2:1: error: bad would write Kurator's own Fleet 'x'" in result.output


@pytest.mark.usefixtures("fake_kind")
def test_the_host_is_written_by_shard_one(
    kurator_repo: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = kurator_repo(**{"app.yaml": APPLICATION})
    for shard, expected in (("1/2", True), ("2/2", False)):
        out = tmp_path / f"out{shard[0]}"
        assert run_cli("build", fleet, "-o", out, "--shard", shard).exit_code == 0
        assert (out / "clusters/kurator-host").is_dir() is expected


def test_render_names_the_host_among_the_choices(kurator_repo: Callable[..., Path]) -> None:
    result = run_cli("render", kurator_repo(), "--cluster", "nowhere")
    assert result.exit_code == 2
    assert "(clusters: kurator-host, kurator-member1, kurator-member2)" in result.output


def test_a_cluster_member_reads_its_credential_secret() -> None:
    """Mirrors getFleetClusterInterface (pkg/fleet-manager/fleet_cluster.go, commit b633941):
    an empty reference kind is a Cluster, whose Secret is spec.credential.secretRef, key
    `value`."""
    fleet = "apiVersion: fleet.kurator.dev/v1alpha1\nkind: Fleet\nmetadata: {name: f}\n"
    fleet += "spec:\n  clusters: [{name: aws}]\n"
    cluster = "apiVersion: cluster.kurator.dev/v1alpha1\nkind: Cluster\n"
    cluster += (
        "metadata: {name: aws, labels: {env: dev}}\nspec: {credential: {secretRef: aws-kc}}\n"
    )
    fleets, errors = build_inventory(
        {"Fleet": load_stream(fleet, "f.yaml"), "Cluster": load_stream(cluster, "c.yaml")}
    )
    assert errors == []
    (member,) = fleets[0].members
    assert (member.kind, member.secret_name, member.secret_key) == ("Cluster", "aws-kc", "value")
    assert member.labels == {"env": "dev"}


def compile_same_name(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Kurator writes objects of one name into every member (a rollout's Canary): here one
    ConfigMap alike in both, one whose data names the member, and a read of an input Secret."""
    (doc,) = inputs.documents["Application"]
    fleet = inputs.fleet("quickstart")
    assert fleet is not None
    assert inputs.find("Secret", "default", "read-me") is not None
    made: list[Generated] = []
    for member in fleet.members:
        made.append(Generated(member.name, _config_map("alike", {"a": "b"}), doc))
        made.append(Generated(member.name, _config_map("own", {"member": member.name}), doc))
    return made, []


SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: read-me, namespace: default}\n"


def test_one_object_in_several_members(
    kurator_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same kind, namespace and name in each member is one object placed on all of them,
    with each member's own copy when they differ; an input a module reads is not placed."""
    entry = stack.kurator_kind("same", compile_same_name, ("apps.kurator.dev", "Application"))
    others = tuple(k for k in stack.STACK_KINDS if k.name not in ("application", "rollout"))
    monkeypatch.setattr(stack, "STACK_KINDS", (*others, entry))
    fleet = kurator_repo(**{"app.yaml": APPLICATION, "secret.yaml": SECRET})
    out = tmp_path / "out"
    result = run_cli("build", "--strict", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    for member in ("kurator-member1", "kurator-member2"):
        folder = out / "clusters" / member
        assert sorted(p.name for p in folder.iterdir()) == [
            "configmap_default_alike.yaml",
            "configmap_default_own.yaml",
            "deployment.apps_shop_web.yaml",
        ]
        own = yaml.safe_load((folder / "configmap_default_own.yaml").read_text())
        assert own["data"] == {"member": member}
    plan = run_cli("plan", fleet)
    rows = [line.split() for line in plan.stdout.splitlines() if "ConfigMap" in line]
    assert rows == [
        ["ConfigMap", "default", "alike", "-", "-", "kurator-member1", "kurator-member2"],
        ["ConfigMap", "default", "own", "-", "-", "kurator-member1", "kurator-member2"],
    ]
    render = run_cli("render", fleet, "--cluster", "kurator-member2")
    own = [d for d in yaml.safe_load_all(render.stdout) if d["metadata"]["name"] == "own"]
    assert own[0]["data"] == {"member": "kurator-member2"}
