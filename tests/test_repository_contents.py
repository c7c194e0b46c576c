"""What real GitOps repositories hold besides manifests: kubectl Lists, kustomize and Helm
files, and the `!pattern` exclusions that leave them out. Built from the upstream files in
tests/upstream/ (each names its repository, path and commit)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kurator_compile.sources import excludes

from .conftest import POLICY_ALL, run_cli

UPSTREAM = Path(__file__).parent / "upstream"

FLEET = (
    """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata:
  name: repo
spec:
  clusters:
    - name: alpha
    - name: beta
  resources:
RESOURCES---
"""
    + POLICY_ALL
    + """    - apiVersion: v1
      kind: Namespace
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: HelmRepository
"""
)


def _repo(tmp_path: Path, resources: list[str], **folders: str) -> Path:
    """A repository with the named upstream folders copied under apps/, and its fleet."""
    (tmp_path / ".git").mkdir(exist_ok=True)
    for target, source in folders.items():
        shutil.copytree(UPSTREAM / source, tmp_path / "apps" / target)
    listed = "".join(f"    - {pattern!r}\n" for pattern in resources)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET.replace("RESOURCES", listed), encoding="utf-8")
    return fleet


def _files(out: Path, cluster: str) -> list[str]:
    return sorted(p.name for p in (out / "clusters" / cluster).glob("*.yaml"))


def _lock(tmp_path: Path) -> list[str]:
    return ["--lock", str(tmp_path / "lock.json")]


def _built(fleet: Path, *flags: str) -> Path:
    """The output folder of a build that must succeed."""
    out = fleet.parent / "out"
    result = run_cli("build", *flags, fleet, "-o", out, *_lock(fleet.parent))
    assert result.exit_code == 0, result.output
    return out


def test_a_kubectl_list_is_expanded_into_its_items(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], testdata="kubernetes/hack/testdata")
    out = _built(fleet, "--strict")
    assert _files(out, "alpha") == [
        "deployment.apps_default_list-deployment-test.yaml",
        "service_default_list-service-test.yaml",
    ]


def test_a_list_item_keeps_its_source_position(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], testdata="kubernetes/hack/testdata")
    listed = tmp_path / "apps/testdata/list.yaml"
    listed.write_text(listed.read_text().replace("name: list-deployment-test", "name: Web"))
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert (
        "apps/testdata/list.yaml:18:5: error: object name 'Web' cannot become a file name: use "
        "lowercase letters, digits, '-', '.' and ':' (a DNS-1123 subdomain) (at /metadata/name)"
    ) in result.stderr


TYPED_LIST = """\
apiVersion: v1
kind: ConfigMapList
items:
  - metadata: {name: first}
    data: {a: "1"}
  - apiVersion: v1
    kind: Secret
    metadata: {name: second}
  - apiVersion: v1
    kind: List
    items:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: nested}
---
apiVersion: v1
kind: List
items: []
"""


def test_typed_list_items_take_the_lists_kind_and_lists_nest(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/*.yaml"])
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/lists.yaml").write_text(TYPED_LIST)
    out = _built(fleet)
    assert _files(out, "alpha") == [
        "configmap_default_first.yaml",
        "configmap_default_nested.yaml",
    ]
    first = yaml.safe_load((out / "clusters/alpha/configmap_default_first.yaml").read_text())
    assert (first["apiVersion"], first["kind"]) == ("v1", "ConfigMap")


def test_a_plain_list_item_without_kind_is_an_error_at_the_item(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/*.yaml"])
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/list.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n  - metadata: {name: lost}\n"
    )
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "apps/list.yaml:4:5: error: an item of a List needs its own apiVersion and kind "
        "(kubectl fills them in only for a typed list, such as a ConfigMapList's items) "
        "(at /items/0)\n"
    )


def test_a_list_whose_items_are_no_list_is_an_error(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/*.yaml"])
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/list.yaml").write_text("apiVersion: v1\nkind: List\nitems: {a: 1}\n")
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "apps/list.yaml:3:1: error: a list ('List') needs `items` to be a list of objects "
        "(at /items)\n"
    )


LEAVE_OUT = "kurator-compile reads plain Kubernetes manifests; leave it out with"


def test_a_kustomization_matched_by_a_glob_is_one_clear_error(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], podinfo="podinfo/kustomize")
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        "apps/podinfo/kustomization.yaml:1:1: error: apps/podinfo/kustomization.yaml is a "
        f"kustomize file (kustomization), not a Kubernetes object: {LEAVE_OUT} "
        "'!**/kustomization.yaml' in the Fleet's resources (or narrow the glob that matched "
        "apps/podinfo/kustomization.yaml)\n"
        "1 error; nothing was written\n"
    )


def test_a_kustomization_under_another_name_is_known_by_its_kind(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], podinfo="podinfo/kustomize")
    moved = tmp_path / "apps/podinfo/base.yaml"
    (tmp_path / "apps/podinfo/kustomization.yaml").rename(moved)
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.stderr == (
        "apps/podinfo/base.yaml:3:1: error: apps/podinfo/base.yaml is a kustomize file "
        "(kustomize.config.k8s.io/v1beta1 Kustomization), not a Kubernetes object: "
        f"{LEAVE_OUT} '!**/base.yaml' in the Fleet's resources (or narrow the glob that matched "
        "apps/podinfo/base.yaml) (at /kind)\n"
        "1 error; nothing was written\n"
    )


def test_excluding_kustomizations_builds_podinfo(tmp_path: Path) -> None:
    fleet = _repo(
        tmp_path, ["apps/**/*.yaml", "!**/kustomization.yaml"], podinfo="podinfo/kustomize"
    )
    out = _built(fleet)
    assert _files(out, "alpha") == [
        "deployment.apps_default_podinfo.yaml",
        "horizontalpodautoscaler.autoscaling_default_podinfo.yaml",
        "service_default_podinfo.yaml",
    ]


@pytest.mark.parametrize(
    ("folder", "position"),
    [("argocd-example-apps/kustomize-guestbook", "4:1"), ("istio-bookinfo/platform-kube", "2:1")],
)
def test_a_kustomization_without_kind_is_recognised(
    tmp_path: Path, folder: str, position: str
) -> None:
    """kustomize's apiVersion and kind are optional; Argo CD's and Istio's examples omit
    them. The file is named kustomization.yaml, so its name says it first."""
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], app=folder)
    (tmp_path / "apps/app/resources.yaml").write_text(
        (tmp_path / "apps/app/kustomization.yaml").read_text()
    )
    (tmp_path / "apps/app/kustomization.yaml").unlink()
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert f"apps/app/resources.yaml:{position}: error: " in result.stderr
    assert (
        "error: apps/app/resources.yaml is a kustomize file (no kind, and the kustomization "
        "field 'resources'), not a Kubernetes object: " + LEAVE_OUT
    ) in result.stderr


def test_a_kustomization_by_name(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], app="argocd-example-apps/kustomize-guestbook")
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.stderr == (
        "apps/app/kustomization.yaml:1:1: error: apps/app/kustomization.yaml is a kustomize "
        f"file (kustomization), not a Kubernetes object: {LEAVE_OUT} '!**/kustomization.yaml' "
        "in the Fleet's resources (or narrow the glob that matched apps/app/kustomization.yaml)\n"
        "1 error; nothing was written\n"
    )


def test_a_helm_chart_gets_one_error_per_file(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml"], chart="argocd-example-apps/helm-guestbook")
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        "apps/chart/Chart.yaml:1:1: error: apps/chart/Chart.yaml is a Helm chart's Chart.yaml, "
        f"not a Kubernetes object: {LEAVE_OUT} '!**/Chart.yaml' in the Fleet's resources (or "
        "narrow the glob that matched apps/chart/Chart.yaml)\n"
        "apps/chart/templates/service.yaml:7:10: error: apps/chart/templates/service.yaml is a "
        "Helm chart template ('{{ template \"'), not a Kubernetes manifest: render the chart "
        f"with Helm, or let Flux or Argo CD install it; {LEAVE_OUT} '!**/service.yaml' in the "
        "Fleet's resources (or narrow the glob that matched apps/chart/templates/service.yaml)\n"
        "apps/chart/values.yaml:6:1: error: apps/chart/values.yaml looks like a Helm chart's "
        f"values (no apiVersion, no kind), not a Kubernetes object: {LEAVE_OUT} "
        "'!**/values.yaml' in the Fleet's resources (or narrow the glob that matched "
        "apps/chart/values.yaml)\n"
        "3 errors; nothing was written\n"
    )


def test_a_flux_layout_builds_once_its_kustomizations_and_charts_are_left_out(
    tmp_path: Path,
) -> None:
    fleet = _repo(
        tmp_path,
        ["apps/**/*.yaml", "!**/kustomization.yaml", "!apps/chart"],
        podinfo="flux2-kustomize-helm-example/apps/base/podinfo",
        chart="argocd-example-apps/helm-guestbook",
    )
    out = _built(fleet, "--strict")
    assert _files(out, "beta") == [
        "helmrepository.source.toolkit.fluxcd.io_podinfo_podinfo.yaml",
        "namespace_podinfo.yaml",
    ]


def test_a_later_pattern_wins_over_an_exclusion(tmp_path: Path) -> None:
    fleet = _repo(
        tmp_path,
        ["apps/**/*.yaml", "!apps/podinfo", "apps/podinfo/deployment.yaml"],
        podinfo="podinfo/kustomize",
    )
    out = _built(fleet)
    assert _files(out, "alpha") == ["deployment.apps_default_podinfo.yaml"]


def test_an_exclusion_that_leaves_out_nothing_is_an_error(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/**/*.yaml", "!**/kustomisation.yaml"], app="podinfo/kustomize")
    (tmp_path / "apps/app/kustomization.yaml").unlink()
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        "fleet.yaml:11:7: error: '!**/kustomisation.yaml' leaves out no file that the "
        "resources globs match (at /spec/resources/1)\n"
        "1 error; nothing was written\n"
    )


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("!**/kustomization.yaml", "/r/apps/a/kustomization.yaml", True),
        ("!kustomization.yaml", "/r/apps/a/kustomization.yaml", True),
        ("!**/kustomization.yaml", "/r/apps/a/deployment.yaml", False),
        ("!../apps/legacy", "/r/apps/legacy/deep/x.yaml", True),
        ("!../apps/legacy/", "/r/apps/legacy/x.yaml", True),
        ("!../apps/legacy", "/r/apps/legacy-2/x.yaml", False),
        ("!../apps/*/values*.yaml", "/r/apps/chart/values-prod.yaml", True),
        ("!../apps/**/templates/**", "/r/apps/a/b/templates/svc.yaml", True),
        ("!../apps/**/templates/**", "/r/apps/a/templates.yaml", False),
    ],
)
def test_exclusion_patterns_read_as_gitignore_lines(
    pattern: str, path: str, expected: bool
) -> None:
    assert excludes(pattern, Path("/r/fleets"), Path(path)) is expected


def test_a_chart_template_outside_templates_is_known_when_yaml_cannot_read_it(
    tmp_path: Path,
) -> None:
    fleet = _repo(tmp_path, ["apps/*.yaml"])
    (tmp_path / "apps").mkdir()
    chart = UPSTREAM / "argocd-example-apps/helm-guestbook/templates/service.yaml"
    (tmp_path / "apps/service.yaml").write_text(chart.read_text())
    result = run_cli("validate", fleet, *_lock(tmp_path))
    assert result.stderr.startswith(
        "apps/service.yaml:7:10: error: apps/service.yaml is a Helm chart template "
        "('{{ template \"'), not a Kubernetes manifest"
    )


GO_TEMPLATES_IN_VALUES = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: alertmanager-templates}
data:
  slack.tmpl: |
    {{ define "slack.title" }}{{ .Values.unused }}{{ end }}
    {{ template "slack.title" . }}
"""


def test_go_templates_inside_a_manifests_values_are_no_chart(tmp_path: Path) -> None:
    fleet = _repo(tmp_path, ["apps/*.yaml"])
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/alertmanager.yaml").write_text(GO_TEMPLATES_IN_VALUES)
    out = _built(fleet, "--strict")
    assert _files(out, "alpha") == ["configmap_default_alertmanager-templates.yaml"]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl not installed: the kustomize oracle"
)
def test_podinfo_without_its_kustomization_is_what_kustomize_builds_from_it(
    tmp_path: Path,
) -> None:
    """Leaving out a kustomization that only lists resources loses nothing: the objects are
    those `kubectl kustomize` builds from it."""
    fleet = _repo(tmp_path, ["apps/**/*.yaml", "!**/kustomization.yaml"], app="podinfo/kustomize")
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "apps/app")],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = sorted(
        (doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(built.stdout)
    )
    result = run_cli("plan", "--format", "json", fleet, *_lock(tmp_path))
    assert result.exit_code == 0, result.output
    planned = sorted((row["kind"], row["name"]) for row in json.loads(result.stdout)["objects"])
    assert planned == expected
