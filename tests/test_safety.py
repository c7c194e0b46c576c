"""Everyday slips on the bundled demo fleet that must not delete a workload, clobber a fleet or
pass a check: each test makes the slip and asserts the outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kurator_compile.compile import nearest_first

from .conftest import POLICY_ALL, REPO, copy_demo, count_calls, run_cli, tree_of

WEB = "apps/web/web.yaml"
UNUSED_PATCH = """\
---
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: typo
spec:
  clusterSelector: {clusterNames: [cluster-tianjin]}
  patches:
    - target: {kind: Deployment, name: wbe}
      patch: |
        metadata:
          labels: {tier: front}
"""
UNUSED_WARNING = (
    "overlays/30-typo.yaml:10:7: warning: overlay typo: patch 0 matches no object on any "
    "cluster it selects (at /spec/patches/0/patch)"
)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "repo")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _build(demo: Path, *extra: str) -> tuple[int, str]:
    result = run_cli("build", "fleets/demo.yaml", *extra, cwd=demo)
    return result.exit_code, result.stderr


# -- 1. a typo in kind or apiVersion ----------------------------------------------------------


def test_kind_typo_is_an_error_with_a_suggestion(demo: Path) -> None:
    assert _build(demo)[0] == 0
    before = tree_of(demo / "rendered")
    _edit(demo / WEB, "kind: Deployment", "kind: Deploymnet")
    code, stderr = _build(demo)
    assert code == 2
    assert stderr.splitlines() == [
        "apps/web/web.yaml:2:1: error: Deploymnet.apps/shop/web: apps/v1 Deploymnet is not a "
        "Kubernetes kind, no CustomResourceDefinition among the inputs defines it and no CRD "
        "schema (shipped or --crd-schemas) covers it (did you mean apps/v1 Deployment?); "
        "--ignore-missing-schemas renders it unchecked (at /kind)",
        "1 error; nothing was written",
    ]
    assert tree_of(demo / "rendered") == before


def test_api_version_typo_is_an_error_at_the_api_version(demo: Path) -> None:
    _edit(demo / WEB, "apiVersion: apps/v1", "apiVersion: apps/v2")
    code, stderr = _build(demo)
    assert code == 2
    assert stderr.splitlines()[0] == (
        "apps/web/web.yaml:1:1: error: Deployment.apps/shop/web: apps/v2 Deployment is not a "
        "Kubernetes kind, no CustomResourceDefinition among the inputs defines it and no CRD "
        "schema (shipped or --crd-schemas) covers it (did you mean apps/v1 Deployment?); "
        "--ignore-missing-schemas renders it unchecked (at /apiVersion)"
    )


def test_kind_defined_by_a_crd_among_the_inputs_is_known(demo: Path) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object"}},
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": {"size": 1},
    }
    (demo / "apps/web/widget.yaml").write_text(yaml.safe_dump_all([crd, widget]))
    code, stderr = _build(demo)
    assert code == 0, stderr
    (demo / "apps/web/widget.yaml").write_text(yaml.safe_dump(widget))
    code, stderr = _build(demo)
    assert code == 2
    assert "example.com/v1 Widget is not a Kubernetes kind" in stderr


def test_ignore_missing_schemas_turns_the_error_into_a_warning(demo: Path) -> None:
    _edit(demo / WEB, "kind: Deployment", "kind: Deploymnet")
    code, stderr = _build(demo, "--ignore-missing-schemas", "--allow-removal")
    assert code == 0, stderr
    assert "apps/web/web.yaml:2:1: warning: Deploymnet.apps/shop/web: apps/v1 Deploymnet" in stderr


def test_an_object_placed_nowhere_any_more_needs_allow_removal(demo: Path) -> None:
    assert _build(demo)[0] == 0
    before = tree_of(demo / "rendered")
    _edit(demo / WEB, "  name: web\n", "  name: webapp\n")  # no policy selects it now
    code, stderr = _build(demo)
    assert code == 2
    assert stderr.splitlines()[-2] == (
        "error: 2 objects that the last build wrote would now be placed on no cluster, and "
        "Argo CD or Flux would delete them: deployment.apps_shop_web.yaml (from "
        "cluster-beijing, cluster-hangzhou, cluster-shanghai); service_shop_web.yaml (from "
        "cluster-beijing, cluster-hangzhou, cluster-shanghai). Check their kind, apiVersion "
        "and policy; pass --allow-removal if they really left the fleet."
    )
    assert tree_of(demo / "rendered") == before
    code, stderr = _build(demo, "--allow-removal")
    assert code == 0, stderr
    assert not list((demo / "rendered/clusters").glob("*/deployment.apps_shop_web.yaml"))


def test_moving_an_object_between_shards_is_no_removal(demo: Path) -> None:
    """Shard 1 (cluster-beijing) loses web, which stays on the other shards' clusters."""
    for shard in ("1/2", "2/2"):
        assert _build(demo, "--shard", shard)[0] == 0
    _edit(demo / "fleets/demo.yaml", "region: north-china, environment: production", "region: x")
    code, stderr = _build(demo, "--shard", "1/2")
    assert code == 0, stderr


# -- 2. validate runs every check build runs ---------------------------------------------------


def test_validate_rejects_what_build_rejects(demo: Path) -> None:
    _edit(demo / WEB, "  replicas: 2", "  replicass: 2")
    built = run_cli("build", "fleets/demo.yaml", cwd=demo)
    validated = run_cli("validate", "fleets/demo.yaml", cwd=demo)
    assert built.exit_code == validated.exit_code == 2
    assert "spec.replicass: unknown field (did you mean 'replicas'?)" in validated.stderr
    assert validated.stderr.replace("nothing was written", "") == built.stderr.replace(
        "nothing was written", ""
    )
    assert not (demo / "rendered").exists()


# -- 3. files nobody wrote in a cluster folder --------------------------------------------------


def test_check_fails_and_build_warns_on_a_file_it_did_not_write(demo: Path) -> None:
    assert _build(demo)[0] == 0
    extra = demo / "rendered/clusters/cluster-beijing/configmap_shop_extra.yaml"
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    checked = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert checked.exit_code == 1
    assert checked.stdout == (
        "not written by kurator-compile: "
        "rendered/clusters/cluster-beijing/configmap_shop_extra.yaml\n"
    )
    code, stderr = _build(demo)
    assert code == 0
    assert (
        "warning: 1 file in cluster folders of rendered that kurator-compile did not write "
        "(Argo CD and Flux apply them too; they are never deleted): "
        "clusters/cluster-beijing/configmap_shop_extra.yaml"
    ) in stderr
    assert extra.exists()
    # The no-change path sees it too.
    assert "configmap_shop_extra.yaml" in _build(demo)[1]


def test_flux_bootstrap_folder_is_not_foreign(demo: Path) -> None:
    assert _build(demo)[0] == 0
    flux = demo / "rendered/clusters/cluster-beijing/flux-system"
    flux.mkdir()
    (flux / "gotk-sync.yaml").write_text("x: 1\n")
    assert run_cli("check", "fleets/demo.yaml", cwd=demo).exit_code == 0


# -- 4. one output directory, one fleet ----------------------------------------------------------


def test_a_second_fleet_cannot_build_into_the_first_fleets_output(demo: Path) -> None:
    assert _build(demo)[0] == 0
    state = json.loads((demo / "rendered/.kurator/state.json").read_text())
    assert state["fleet"] == {"file": "fleets/demo.yaml", "name": "demo"}
    other = demo / "fleets/other.yaml"
    other.write_text((demo / "fleets/demo.yaml").read_text().replace("name: demo", "name: other"))
    before = tree_of(demo / "rendered")
    result = run_cli("build", "fleets/other.yaml", cwd=demo)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: rendered holds the output of fleet 'demo' (fleets/demo.yaml), not of fleet "
        "'other' (fleets/other.yaml); building into it would delete that fleet's files. Give "
        "each fleet its own output directory (-o), or remove this one if the fleet replaces it.",
        "1 error; nothing was written",
    ]
    assert tree_of(demo / "rendered") == before


def test_default_output_is_at_the_repository_root(demo: Path) -> None:
    result = run_cli("build", "demo.yaml", cwd=demo / "fleets")
    assert result.exit_code == 0, result.output
    summary = result.stderr.splitlines()[-1]
    assert re.fullmatch(
        r"35 files for 4 clusters in /.*/repo/rendered: 35 written, 0 removed, 0 unchanged; "
        r"0 warnings, \d+\.\d s",
        summary,
    ), summary
    assert (demo / "rendered/clusters/cluster-beijing").is_dir()
    assert not (demo / "fleets/rendered").exists()
    assert run_cli("check", "demo.yaml", cwd=demo / "fleets").exit_code == 0


# -- 5. the Argo CD plugin ----------------------------------------------------------------------


def _plugin_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    env.pop("KUBE_VERSION", None)
    env.pop("KUBE_API_VERSIONS", None)
    env.update(extra)
    return env


def _generate(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    plugin = yaml.safe_load((REPO / "deploy/argocd-cmp/plugin.yaml").read_text())
    argv = plugin["spec"]["generate"]["command"]
    return subprocess.run(
        argv, cwd=repo, env=_plugin_env(**env), capture_output=True, text=True, check=False
    )


def test_plugin_reads_the_cluster_parameter(demo: Path) -> None:
    by_param = _generate(demo, PARAM_CLUSTER="cluster-beijing", PARAM_FLEET="fleets/demo.yaml")
    by_env = _generate(demo, ARGOCD_ENV_CLUSTER="cluster-beijing")
    assert by_param.returncode == 0, by_param.stderr
    assert by_param.stdout == by_env.stdout != ""


def test_plugin_without_a_cluster_names_both_variables(demo: Path) -> None:
    missing = _generate(demo)
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: no cluster to render: pass --cluster NAME (in Argo CD, the plugin parameter "
        "`cluster` (PARAM_CLUSTER) or the Application's env CLUSTER (ARGOCD_ENV_CLUSTER))\n"
    )


def test_kube_version_forms_argo_cd_sets() -> None:
    from kurator_compile.cli import destination_minor

    assert [destination_minor(v) for v in ("1.29.4", "v1.30.2+k3s1", "1.28+", "")] == [
        "1.29",
        "1.30",
        "1.28",
        None,
    ]


def test_plugin_validates_against_the_destination_versions(demo: Path) -> None:
    old = _generate(demo, PARAM_CLUSTER="cluster-beijing", KUBE_VERSION="1.20.3")
    assert old.returncode == 0, old.stderr
    assert old.stderr == (
        "warning: cluster cluster-beijing: Kubernetes 1.20 is older than the oldest schemas "
        "installed (1.25); objects for it are not validated\n"
    )
    unserved = _generate(demo, PARAM_CLUSTER="cluster-beijing", KUBE_API_VERSIONS="v1,batch/v1")
    assert unserved.returncode == 2
    assert (
        "cluster cluster-beijing: Deployment.apps/shop/web: the destination does not serve "
        "apps/v1 (not in KUBE_API_VERSIONS, which Argo CD reads from the cluster)"
    ) in unserved.stderr


def test_plugin_shows_warnings(demo: Path) -> None:
    (demo / "overlays/30-typo.yaml").write_text(UNUSED_PATCH)
    shown = _generate(demo, PARAM_CLUSTER="cluster-beijing")
    assert shown.returncode == 0
    assert shown.stderr == UNUSED_WARNING + "\n"


def test_plugin_allow_empty_is_a_parameter(make_fleet: Callable[..., Path]) -> None:
    policy = POLICY_ALL + "  placement:\n    clusterAffinity:\n      clusterNames: [alpha]\n"
    fleet = make_fleet("---\n" + policy)
    repo = fleet.parent
    empty = _generate(repo, PARAM_CLUSTER="beta", PARAM_FLEET=fleet.name)
    assert empty.returncode == 2
    assert "pass --allow-empty, or the plugin parameter allow-empty" in empty.stderr
    allowed = _generate(
        repo, PARAM_CLUSTER="beta", PARAM_FLEET=fleet.name, PARAM_ALLOW_EMPTY="true"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == ""


# -- 6. and 7. render and shards decide fleet-wide warnings on the whole fleet -------------------


def test_render_reports_and_fails_like_build(demo: Path) -> None:
    (demo / "overlays/30-typo.yaml").write_text(UNUSED_PATCH)
    built = run_cli("build", "fleets/demo.yaml", "--strict", cwd=demo)
    rendered = run_cli(
        "render", "fleets/demo.yaml", "--cluster=cluster-beijing", "--strict", cwd=demo
    )
    assert built.exit_code == rendered.exit_code == 2
    assert rendered.stderr == built.stderr
    assert UNUSED_WARNING.replace("warning", "error") in rendered.stderr
    loose = run_cli("render", "fleets/demo.yaml", "--cluster=cluster-beijing", cwd=demo)
    assert loose.exit_code == 0
    assert loose.stderr == UNUSED_WARNING + "\n"


def test_render_of_a_cluster_no_patch_selects_reports_nothing(demo: Path) -> None:
    """The east-china patch is used on other clusters: not unused for cluster-beijing."""
    result = run_cli(
        "render", "fleets/demo.yaml", "--cluster=cluster-beijing", "--strict", cwd=demo
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_strict_shards_pass_when_the_full_build_passes(demo: Path) -> None:
    assert _build(demo, "--strict", "-o", "full")[0] == 0
    for index in range(1, 5):
        code, stderr = _build(demo, "--strict", "--shard", f"{index}/4")
        assert code == 0, stderr
        assert f"for 1 of 4 clusters (shard {index}/4)" in stderr


def test_strict_shards_all_fail_on_an_unused_patch(demo: Path) -> None:
    (demo / "overlays/30-typo.yaml").write_text(UNUSED_PATCH)
    for index in range(1, 5):
        code, stderr = _build(demo, "--strict", "--shard", f"{index}/4")
        assert code == 2
        assert UNUSED_WARNING.replace("warning", "error") in stderr


# -- 8. a wrong cluster name on a big fleet -----------------------------------------------------


def test_unknown_cluster_lists_the_nearest_names_first() -> None:
    names = [f"cluster-{i:04d}" for i in range(1000)]
    text = nearest_first("cluster-0420x", names)
    assert text.startswith("cluster-0420, ")
    assert text.endswith(" and 990 more")
    assert len(text) < 200


def test_unknown_cluster_message_is_short(demo: Path) -> None:
    fleet = demo / "fleets/demo.yaml"
    entries = "".join(f"    - name: member-{i:04d}\n      labels: {{}}\n" for i in range(1000))
    _edit(fleet, "  clusters:\n", "  clusters:\n" + entries)
    result = run_cli("render", "fleets/demo.yaml", "--cluster=member-0007x", cwd=demo)
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert "(clusters: member-0007, " in first
    assert first.endswith(" and 994 more) (at /spec/clusters)")
    assert len(first) < 300


# -- the no-change check ------------------------------------------------------------------------


def test_check_on_an_unchanged_repository_parses_no_yaml(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _build(demo)[0] == 0
    import kurator_compile.yamldoc as yamldoc

    calls = 0
    real = yamldoc.load_stream

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(yamldoc, "load_stream", counting)
    result = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert result.exit_code == 0, result.output
    assert calls == 0
    _edit(demo / WEB, "  replicas: 2", "  replicas: 3")
    stale = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert stale.exit_code == 1
    assert calls > 0


def test_an_unchanged_rebuild_and_check_read_no_state_file(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat cache records the layout the state file holds, and the cluster folders'
    entries are counted while their files are stat-ed: neither parses the state file."""
    assert _build(demo)[0] == 0
    import kurator_compile.emit as emit

    loads = count_calls(monkeypatch, emit, "_load_state_file")
    listings = count_calls(monkeypatch, emit, "foreign_files")
    code, stderr = _build(demo)
    assert (code, stderr) == (0, "rendered is up to date: 0 written, 0 removed\n")
    checked = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert checked.exit_code == 0, checked.output
    assert checked.stderr == "rendered is up to date (35 files)\n"
    assert loads[0] == listings[0] == 0


@pytest.mark.parametrize(
    ("stray", "shown"),
    [
        ("clusters/cluster-beijing/notes.txt", "clusters/cluster-beijing/notes.txt"),
        ("clusters/cluster-new/configmap.yaml", "clusters/cluster-new/configmap.yaml"),
        ("clusters/cluster-beijing/extra/configmap.yaml", "clusters/cluster-beijing/extra/"),
    ],
)
def test_a_stray_entry_is_found_by_an_unchanged_check(demo: Path, stray: str, shown: str) -> None:
    assert _build(demo)[0] == 0
    target = demo / "rendered" / stray
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x: 1\n")
    checked = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert checked.exit_code == 1
    assert checked.stdout == f"not written by kurator-compile: rendered/{shown.rstrip('/')}\n"
    code, stderr = _build(demo)
    assert code == 0
    assert f"(Argo CD and Flux apply them too; they are never deleted): {shown}\n" in stderr
    assert stderr.endswith("rendered is up to date: 0 written, 0 removed\n")


def test_an_unchanged_check_ignores_flux_bootstrap_and_temporaries(demo: Path) -> None:
    assert _build(demo)[0] == 0
    assert _build(demo)[0] == 0  # the stat cache is in place
    folder = demo / "rendered/clusters/cluster-beijing"
    (folder / "flux-system").mkdir()
    (folder / "flux-system/gotk-sync.yaml").write_text("x: 1\n")
    (folder / "configmap_shop_x.yaml.kurator-tmp").write_text("x: 1\n")
    checked = run_cli("check", "fleets/demo.yaml", cwd=demo)
    assert checked.exit_code == 0, checked.output
    assert checked.stderr == "rendered is up to date (35 files)\n"


# -- progress ------------------------------------------------------------------------------------


def test_progress_shows_each_phase_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from kurator_compile.cli import _Progress

    quiet = _Progress(False)
    quiet(0, 1000)
    quiet.finish()
    assert capsys.readouterr().err == ""
    shown = _Progress(True)
    shown.finish()  # the ticker stops; drawing is then driven by hand
    shown.start -= 2.0
    shown(41, 1000)
    shown.draw()
    shown.phase("writing 60000 files")
    shown.draw()
    shown.finish()
    err = capsys.readouterr().err  # click drops the erase-line code off a terminal
    assert err.startswith("\rrendering clusters 42/1000 (2.")
    assert "\rwriting 60000 files (2." in err
    assert err.endswith("\r")
