"""A CustomResourceDefinition among the inputs gives its kind's scope and schema (Karmada's
guestbook sample: its CRD, a Guestbook and the sample's policies)."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from karmada_kit import UPSTREAM, build, repository, stderr_lines

GUESTBOOK = (UPSTREAM / "samples/guestbook-guestbook.yaml").read_text()
CRD = (UPSTREAM / "samples/guestbook-guestbooks-crd.yaml").read_text()
POLICIES = {
    "pp.yaml": "samples/guestbook-guestbooks-propagationpolicy.yaml",
    "cpp.yaml": "samples/guestbook-guestbooks-clusterpropagationpolicy.yaml",
}
CPP_FOR_GUESTBOOKS = """\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: guestbooks
spec:
  resourceSelectors:
    - apiVersion: webapp.my.domain/v1
      kind: Guestbook
"""


def test_objects_are_checked_against_the_schema_of_an_input_crd(tmp_path: Path) -> None:
    guestbook = GUESTBOOK.replace("size: 2", "size: 11").replace("alias: Name", "alias: Nick")
    files = {"crd.yaml": CRD, "guestbook.yaml": guestbook, **POLICIES}
    result = build(repository(tmp_path, ("member1",), files))
    assert result.exit_code == 2
    label = "cluster member1: Guestbook.webapp.my.domain/default/guestbook-sample"
    assert stderr_lines(result, "error") == [
        f"apps/guestbook.yaml:7:3: error: {label}: spec.size: 11 is greater than the maximum "
        "of 10 (at /spec/size)",
        f"apps/guestbook.yaml:9:3: error: {label}: spec.alias: 'Nick' is not one of 'Phone', "
        "'Address', 'Name' (at /spec/alias)",
    ]


def test_a_namespaced_policy_does_not_place_a_cluster_scoped_custom_resource(
    tmp_path: Path,
) -> None:
    """Karmada's detector looks for a PropagationPolicy only for an object with a namespace."""
    crd = CRD.replace("scope: Namespaced", "scope: Cluster")
    files = {"crd.yaml": crd, "guestbook.yaml": GUESTBOOK, **POLICIES}
    result = build(repository(tmp_path, ("member1",), files))
    assert result.exit_code == 0, result.output
    assert stderr_lines(result, "warning") == [
        "apps/guestbook.yaml:2:1: warning: Guestbook.webapp.my.domain/guestbook-sample is "
        "selected by no propagation policy; it is rendered nowhere"
    ]
    folder = tmp_path / "rendered/clusters/member1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "customresourcedefinition.apiextensions.k8s.io_guestbooks.webapp.my.domain.yaml"
    ]


def test_a_cluster_scoped_custom_resource_gets_no_default_namespace(tmp_path: Path) -> None:
    crd = CRD.replace("scope: Namespaced", "scope: Cluster")
    files = {"crd.yaml": crd, "guestbook.yaml": GUESTBOOK, "cpp.yaml": CPP_FOR_GUESTBOOKS}
    result = build(repository(tmp_path, ("member1",), files))
    assert result.exit_code == 0, result.output
    written = (
        tmp_path / "rendered/clusters/member1/guestbook.webapp.my.domain_guestbook-sample.yaml"
    )
    assert "namespace" not in written.read_text()


def test_a_templated_cluster_scoped_custom_resource_gets_no_default_namespace(
    tmp_path: Path,
) -> None:
    crd = CRD.replace("scope: Namespaced", "scope: Cluster")
    files = {"crd.yaml": crd, "cpp.yaml": CPP_FOR_GUESTBOOKS}
    fleet = repository(tmp_path, ("member1",), files)
    (tmp_path / "apps/guestbook.yaml.j2").write_text(
        GUESTBOOK.replace("test", "{{ cluster.name }}")
    )
    fleet.write_text(fleet.read_text() + "    - apps/*.yaml.j2\n")
    result = build(fleet)
    assert result.exit_code == 0, result.output
    written = (
        tmp_path / "rendered/clusters/member1/guestbook.webapp.my.domain_guestbook-sample.yaml"
    )
    assert "configMapName: member1" in written.read_text()


def test_a_cluster_scoped_custom_resource_is_named_without_a_namespace_in_errors(
    tmp_path: Path,
) -> None:
    crd = CRD.replace("scope: Namespaced", "scope: Cluster")
    guestbook = GUESTBOOK.replace("size: 2", "size: 11")
    files = {"crd.yaml": crd, "guestbook.yaml": guestbook, "cpp.yaml": CPP_FOR_GUESTBOOKS}
    result = build(repository(tmp_path, ("member1",), files))
    assert result.exit_code == 2
    assert stderr_lines(result, "error") == [
        "apps/guestbook.yaml:7:3: error: cluster member1: "
        "Guestbook.webapp.my.domain/guestbook-sample: spec.size: 11 is greater than the maximum "
        "of 10 (at /spec/size)",
    ]


PATCH_IN_DEFAULT = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Overlay
metadata:
  name: bigger
spec:
  clusterSelector: {}
  patches:
    - target: {kind: Guestbook, namespace: default}
      patch: |
        spec:
          size: 3
    - target: {kind: Guestbook}
      patch: |
        spec:
          alias: Phone
"""


def _build_with_overlay(root: Path, crd: str) -> tuple[Result, list[str]]:
    """The Guestbook, placed on member1, patched by PATCH_IN_DEFAULT: the result and its
    overlay warnings."""
    files = {"crd.yaml": crd, "guestbook.yaml": GUESTBOOK, "cpp.yaml": CPP_FOR_GUESTBOOKS}
    fleet = repository(root, ("member1",), files)
    (root / "overlays").mkdir()
    (root / "overlays/bigger.yaml").write_text(PATCH_IN_DEFAULT)
    fleet.write_text(fleet.read_text() + "  overlays:\n    - overlays\n")
    result = build(fleet)
    assert result.exit_code == 0, result.output
    return result, [w for w in stderr_lines(result, "warning") if "overlay" in w]


def test_a_patch_target_namespace_does_not_match_a_cluster_scoped_custom_resource(
    tmp_path: Path,
) -> None:
    """kustomize knows scope only from its OpenAPI data; the compiler follows the scope the
    object has on the cluster, which the input CRD gives it."""
    _, warnings = _build_with_overlay(tmp_path, CRD.replace("scope: Namespaced", "scope: Cluster"))
    assert warnings == [
        "overlays/bigger.yaml:9:7: warning: overlay bigger: patch 0 matches no object on any "
        "cluster it selects (at /spec/patches/0/patch)"
    ]
    written = (
        tmp_path / "rendered/clusters/member1/guestbook.webapp.my.domain_guestbook-sample.yaml"
    ).read_text()
    assert "size: 2" in written
    assert "alias: Phone" in written


def test_a_patch_target_namespace_matches_a_namespaced_custom_resource_in_default(
    tmp_path: Path,
) -> None:
    _, warnings = _build_with_overlay(tmp_path, CRD)
    assert warnings == []
    written = (
        tmp_path
        / "rendered/clusters/member1"
        / "guestbook.webapp.my.domain_default_guestbook-sample.yaml"
    ).read_text()
    assert "size: 3" in written
