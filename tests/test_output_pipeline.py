"""Emitted objects are checked against their cluster's schemas; errors point at the source."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli, tree_of

TYPO = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replicass: 3\n")
NO_SELECTOR = DEPLOYMENT.replace("  selector:\n    matchLabels: {app: web}\n", "")


def test_unknown_field_fails_at_its_source(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet(apps={"web.yaml": TYPO})
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 2, result.output
    assert "apps/web.yaml:8:3: error: clusters alpha and beta: Deployment.apps/shop/web:" in (
        result.stderr
    )
    assert "replicass" in result.stderr
    assert not out.exists()
    assert run_cli("build", "--loose", fleet, "-o", tmp_path / "loose").exit_code == 0
    assert run_cli("build", "--no-validate", fleet, "-o", tmp_path / "off").exit_code == 0


def test_missing_selector_is_reported(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet(apps={"web.yaml": NO_SELECTOR})
    result = run_cli("render", fleet, "--cluster", "alpha")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "apps/web.yaml:6:1: error: cluster alpha: Deployment.apps/shop/web:" in result.stderr
    assert "'selector' is a required property" in result.stderr


def test_custom_resources_need_a_schema(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n"
    policy = POLICY_ALL + "    - apiVersion: example.com/v1\n      kind: Widget\n"
    fleet = make_fleet("---\n" + policy, apps={"w.yaml": widget})
    failed = run_cli("build", fleet, "-o", tmp_path / "a")
    assert failed.exit_code == 2
    assert "error: Widget.example.com/shop/w: example.com/v1 Widget is not a Kubernetes kind" in (
        failed.stderr
    )
    warned = run_cli("build", "--ignore-missing-schemas", fleet, "-o", tmp_path / "a")
    assert warned.exit_code == 0
    assert "warning:" in warned.stderr
    assert "no schema" in warned.stderr
    strict = run_cli("build", "--strict", "--ignore-missing-schemas", fleet, "-o", tmp_path / "b")
    assert strict.exit_code == 2
    schemas = tmp_path / "schemas"
    (schemas / "example.com").mkdir(parents=True)
    (schemas / "example.com" / "widget_v1.json").write_text('{"type": "object"}')
    checked = run_cli("build", "--strict", "--crd-schemas", schemas, fleet, "-o", tmp_path / "c")
    assert checked.exit_code == 0, checked.output


def test_editing_a_crd_schema_makes_the_next_build_validate_again(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """The no-change check covers the schema files' bytes, not only the folder's name."""
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n"
    policy = POLICY_ALL + "    - apiVersion: example.com/v1\n      kind: Widget\n"
    fleet = make_fleet("---\n" + policy, apps={"w.yaml": widget})
    schemas = tmp_path / "schemas"
    (schemas / "example.com").mkdir(parents=True)
    schema = schemas / "example.com" / "widget_v1.json"
    schema.write_text('{"type": "object"}')
    out = tmp_path / "out"
    assert run_cli("build", "--crd-schemas", schemas, fleet, "-o", out).exit_code == 0
    again = run_cli("build", "--crd-schemas", schemas, fleet, "-o", out)
    assert "is up to date" in again.stderr
    schema.write_text('{"type": "object", "required": ["spec"]}')
    edited = run_cli("build", "--crd-schemas", schemas, fleet, "-o", out)
    assert edited.exit_code == 2, edited.output
    assert "apps/w.yaml:1:1: error: clusters alpha and beta: Widget.example.com/shop/w:" in (
        edited.stderr
    )
    assert "'spec' is a required property" in edited.stderr


WIDGET_SCHEMAS = {
    "redos": '{"type": "object", "properties": {"spec": {"type": "object", "properties": '
    '{"size": {"type": "string", "pattern": "^(a+)+$"}}}}}',
    "unknown-type": '{"type": "object", "properties": {"spec": {"type": "frob"}}}',
    "self-reference": '{"type": "object", "properties": {"spec": {"$ref": "#"}}}',
    "deep": '{"properties": {"a": ' * 100_000 + "{}" + "}}" * 100_000,
}


@pytest.mark.parametrize("case", sorted(WIDGET_SCHEMAS))
def test_hostile_crd_schemas_give_bounded_positioned_answers(
    make_fleet: Callable[..., Path], tmp_path: Path, case: str
) -> None:
    """A backtracking pattern runs in linear time (RE2, as the API server matches); an unknown
    type, a `$ref` or absurd nesting make the schema unusable, said at the object."""
    widget = (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n"
        "spec: {size: " + "a" * 40 + "b}\n"
    )
    policy = POLICY_ALL + "    - apiVersion: example.com/v1\n      kind: Widget\n"
    fleet = make_fleet("---\n" + policy, apps={"w.yaml": widget})
    schemas = tmp_path / "schemas"
    (schemas / "example.com").mkdir(parents=True)
    (schemas / "example.com" / "widget_v1.json").write_text(WIDGET_SCHEMAS[case])
    result = run_cli("build", "--strict", "--crd-schemas", schemas, fleet, "-o", tmp_path / "o")
    assert result.exit_code == 2, result.output
    expected = {
        "redos": f"'{'a' * 40}b' does not match '^(a+)+$'",
        "unknown-type": "unknown type 'frob'",
        "self-reference": "$ref '#': a CRD schema cannot refer to a schema",
        "deep": "nested too deeply",
    }[case]
    assert expected in result.stderr, result.stderr
    assert result.stderr.startswith("apps/w.yaml:"), result.stderr


def test_shipped_crd_schemas_check_custom_resources_with_no_flags(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    schedule = (
        "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: nightly, namespace: velero}\n"
        "spec: {schedule: '0 2 * * *', template: {includedNamespaces: [shop]}}\n"
    )
    policy = POLICY_ALL + "    - apiVersion: velero.io/v1\n      kind: Schedule\n"
    fleet = make_fleet("---\n" + policy, apps={"s.yaml": schedule})
    assert run_cli("build", "--strict", fleet, "-o", tmp_path / "a").exit_code == 0
    typo = schedule.replace("template:", "templat:")
    fleet = make_fleet("---\n" + policy, apps={"s.yaml": typo})
    failed = run_cli("build", "--strict", fleet, "-o", tmp_path / "b")
    assert failed.exit_code == 2
    assert "spec.templat: unknown field" in failed.stderr


SOPS_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
    name: token
    namespace: shop
type: Opaque
data:
    token: ENC[AES256_GCM,data:3q2+7w==,iv:abc=,tag:def=,type:str]
sops:
    age:
        - recipient: age1qqq
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdl
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2026-11-01T10:00:00Z"
    mac: ENC[AES256_GCM,data:zzz,iv:yyy,tag:xxx,type:str]
    version: 3.9.0
"""


def test_sops_documents_pass_through_unchanged(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    policy = POLICY_ALL + "    - apiVersion: v1\n      kind: Secret\n"
    fleet = make_fleet("---\n" + policy, apps={"web.yaml": DEPLOYMENT, "token.yaml": SOPS_SECRET})
    out = tmp_path / "out"
    result = run_cli("build", "--strict", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "clusters/alpha/secret_shop_token.yaml").read_text() == SOPS_SECRET
    streamed = run_cli("render", fleet, "--cluster", "beta").stdout
    assert SOPS_SECRET in streamed


def test_plain_secret_warns(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    plain = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: shop}\n"
    plain += "stringData:\n  password: hunter2\n"
    policy = POLICY_ALL + "    - apiVersion: v1\n      kind: Secret\n"
    fleet = make_fleet("---\n" + policy, apps={"web.yaml": DEPLOYMENT, "token.yaml": plain})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert "apps/token.yaml:4:1: warning: Secret holds literal values" in result.stderr
    assert "SOPS" in result.stderr


def test_clusters_alike_in_all_but_placement_get_their_own_objects(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Clusters with the same overlays share computed contents only when the same objects
    are placed on them: a ConfigMap (placed, with no replica count) goes to alpha alone."""
    policy = POLICY_ALL.replace("    - apiVersion: v1\n      kind: ConfigMap\n", "")
    only_alpha = """\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: settings-on-alpha
spec:
  resourceSelectors:
    - apiVersion: v1
      kind: ConfigMap
  placement:
    clusterAffinity:
      clusterNames: [alpha]
"""
    settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n"
    fleet = make_fleet(
        "---\n" + policy + "---\n" + only_alpha,
        apps={"web.yaml": DEPLOYMENT, "settings.yaml": settings},
        header=FLEET_HEADER.replace("region: south", "region: north"),
    )
    out = tmp_path / "rendered"
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    files = sorted(p for p in tree_of(out) if p.startswith("clusters/"))
    assert files == [
        "clusters/alpha/configmap_shop_settings.yaml",
        "clusters/alpha/deployment.apps_shop_web.yaml",
        "clusters/beta/deployment.apps_shop_web.yaml",
    ]


def test_builds_leave_the_garbage_collector_enabled(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """The cyclic collector is paused while a fleet compiles, and back on afterwards, also
    when the compile fails."""
    fleet = make_fleet()
    assert run_cli("build", fleet, "-o", tmp_path / "ok").exit_code == 0
    assert gc.isenabled()
    (tmp_path / "apps" / "broken.yaml").write_text("kind: [unclosed\n")
    assert run_cli("build", fleet, "-o", tmp_path / "failed").exit_code == 2
    assert gc.isenabled()


def test_containers_that_are_not_a_list_fail_validation_not_placement(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """Placement reads pod requests before output validation runs: a wrong type there must
    reach validation, which names it, rather than crash placement."""
    broken = DEPLOYMENT.replace("      containers:\n", "      containers: 1\n      unused:\n")
    fleet = make_fleet(apps={"web.yaml": broken})
    result = run_cli("build", fleet, "-o", tmp_path / "rendered")
    assert result.exit_code == 2, result.output
    assert "spec.template.spec.containers: 1 is not of type 'array'" in result.stderr
    assert "(at /spec/template/spec/containers)" in result.stderr
    assert not (tmp_path / "rendered").exists()
