"""Overlay, override and template inputs from the hardening corpus, through the pipeline:
each fails fast with a positioned error (or, for safe patterns, simply works)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kurator_compile import templates
from kurator_compile.errors import CompileError
from kurator_compile.model import Cluster
from kurator_compile.sources import SourceFile
from kurator_compile.templates import render_template

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli

HEADER = FLEET_HEADER + "  overlays:\n    - overlays\n"
OVERLAY_HEAD = (
    "apiVersion: compile.kurator.dev/v1alpha1\nkind: Overlay\nmetadata:\n  name: tune\n"
    "spec:\n  patches:\n"
)


def _build(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    overlay: str,
    extra: str = "",
    apps: dict[str, str] | None = None,
) -> tuple[int, str]:
    fleet = make_fleet("---\n" + POLICY_ALL + extra, apps=apps, header=HEADER)
    (tmp_path / "overlays").mkdir(exist_ok=True)
    (tmp_path / "overlays" / "tune.yaml").write_text(OVERLAY_HEAD + overlay, encoding="utf-8")
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert not (tmp_path / "out").exists()
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("target", "where", "message"),
    [
        ("{kind: Deployment, name: '(['}", "7:34", "invalid name pattern '(['"),
        ("{kind: Deployment, labelSelector: 'app in (web'}", "7:34", "invalid selector"),
        ("{kind: Deployment, name: 'w(?=e)eb'}", "7:34", "refuses it: invalid perl operator: (?="),
        ("{kind: Deployment, namespace: '(s)\\1'}", "7:34", "refuses it: invalid escape sequence"),
        ("{kind: Deployment, nmae: web}", "7:34", "unknown field 'nmae'"),
    ],
)
def test_bad_targets_are_errors_at_the_target(
    make_fleet: Callable[..., Path], tmp_path: Path, target: str, where: str, message: str
) -> None:
    overlay = f"    - target: {target}\n      patch: {{spec: {{replicas: 3}}}}\n"
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert f"overlays/tune.yaml:{where}: error: " in stderr
    assert message in stderr


def test_a_catastrophic_pattern_matches_in_linear_time(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = (
        "    - target: {kind: Deployment, name: '(w+e*b*)+'}\n      patch: {spec: {replicas: 3}}\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 0, stderr
    deployment = (tmp_path / "out/clusters/alpha/deployment.apps_shop_web.yaml").read_text()
    assert "replicas: 3" in deployment


def test_invalid_yaml_in_a_patch_text_is_reported_at_the_patch(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = (
        "    - target: {group: apps, version: v1, kind: Deployment, name: web}\n"
        "      patch: |\n        spec:\n          replicas: [3\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert "overlays/tune.yaml:8:7: error: invalid YAML in the patch text (line " in stderr


def test_a_json_patch_may_rename_and_the_file_follows(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """kustomize lets a JSON patch change kind, name and namespace; the object keeps its
    placement and its file is named after what it now is."""
    overlay = (
        "    - target: {kind: Deployment}\n"
        "      patch: [{op: replace, path: /metadata/name, value: other},\n"
        "              {op: replace, path: /kind, value: StatefulSet},\n"
        "              {op: replace, path: /metadata/namespace, value: store},\n"
        # a StatefulSet needs serviceName before Kubernetes 1.32
        "              {op: add, path: /spec/serviceName, value: other}]\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 0, stderr
    for cluster in ("alpha", "beta"):
        folder = tmp_path / "out/clusters" / cluster
        assert not (folder / "deployment.apps_shop_web.yaml").exists()
        text = (folder / "statefulset.apps_store_other.yaml").read_text()
        assert "kind: StatefulSet" in text
        assert "name: other" in text
        assert "replicas: 2" in text  # the placement made for web


def test_a_json_patch_may_not_rename_onto_another_object(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    config = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n"
    overlay = (
        "    - target: {kind: Deployment}\n"
        "      patch: [{op: replace, path: /metadata/name, value: a},\n"
        "              {op: replace, path: /kind, value: ConfigMap},\n"
        "              {op: replace, path: /apiVersion, value: v1}]\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay, apps={"web.yaml": DEPLOYMENT + config})
    assert code == 2, stderr
    assert (
        "apps/web.yaml:1:1: error: on cluster alpha, an overlay's JSON patch makes "
        "Deployment.apps/shop/web into ConfigMap/shop/a, which ConfigMap/shop/a already is"
    ) in stderr


def test_a_json_patch_without_target_is_an_error_at_the_patch(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = "    - patch: [{op: add, path: /spec/paused, value: true}]\n"
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert (
        "overlays/tune.yaml:7:7: error: must specify a target for a JSON patch "
        "(at /spec/patches/0/patch)\n" in stderr
    )


def test_several_strategic_merge_documents_may_not_set_a_target(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = (
        "    - target: {kind: Deployment}\n      patch: |\n"
        "        {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}}\n"
        "        ---\n"
        "        {apiVersion: apps/v1, kind: Deployment, metadata: {name: api}}\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert (
        "overlays/tune.yaml:8:7: error: multiple strategic-merge patches in one `patches` "
        "entry cannot set a target (at /spec/patches/0/patch)\n"
    ) in stderr


def test_a_schema_comment_in_a_patch_sets_the_merge(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """kyaml reads a JSON comment as the field's schema: here containers are replaced, not
    merged by name."""
    overlay = (
        "    - target: {kind: Deployment}\n      patch: |\n"
        "        spec:\n          template:\n            spec:\n"
        '              containers: # {"type": "array"}\n'
        "                - {name: sidecar, image: envoy:1}\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 0, stderr
    text = (tmp_path / "out/clusters/alpha/deployment.apps_shop_web.yaml").read_text()
    assert "envoy:1" in text
    assert "nginx" not in text


def test_a_schema_comment_we_cannot_place_is_refused_at_the_patch(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = (
        "    - target: {kind: Deployment}\n      patch: |\n"
        "        spec:\n          template:\n            spec:\n"
        "              containers:\n"
        '                - name: nginx # {"x-kubernetes-patch-strategy": "merge"}\n'
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert (
        "overlays/tune.yaml:8:7: error: line 5 of the patch text has a comment kustomize reads "
        "as a field's OpenAPI schema, in a place kurator-compile does not model (only on a key "
        "whose map or list value starts on the next line, or just above a key, outside lists); "
        "move or remove the comment (at /spec/patches/0/patch)\n"
    ) in stderr


def test_a_targeted_patch_reaches_every_kind_its_target_selects(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """The target picks the objects, not the patch's own kind (kustomize extendedpatch)."""
    config = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\n"
    overlay = (
        "    - target: {name: web}\n      patch: |\n"
        "        {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, "
        "annotations: {team: 7}}}\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay, apps={"web.yaml": DEPLOYMENT + config})
    assert code == 0, stderr
    folder = tmp_path / "out/clusters/alpha"
    for name in ("configmap_shop_web.yaml", "deployment.apps_shop_web.yaml"):
        assert (
            "team: '7'" in (folder / name).read_text() or 'team: "7"' in (folder / name).read_text()
        )


def test_an_override_may_not_move_the_object(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    override = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: ClusterOverridePolicy\n"
        "metadata:\n  name: tweak\nspec:\n  resourceSelectors:\n"
        "    - {apiVersion: apps/v1, kind: Deployment}\n  overrideRules:\n"
        "    - targetCluster: {clusterNames: [beta]}\n      overriders:\n        plaintext:\n"
        "          - {path: /metadata/namespace, operator: replace, value: elsewhere}\n"
    )
    overlay = "    - target: {kind: ConfigMap}\n      patch: {data: {a: b}}\n"
    code, stderr = _build(make_fleet, tmp_path, overlay, override)
    assert code == 2, stderr
    assert "metadata.namespace from 'shop' to 'elsewhere'" in stderr
    assert "on cluster beta" in stderr
    assert "on cluster alpha" not in stderr


def test_overrides_that_keep_the_identity_still_apply(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    override = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: ClusterOverridePolicy\n"
        "metadata:\n  name: tweak\nspec:\n  resourceSelectors:\n"
        "    - {apiVersion: apps/v1, kind: Deployment}\n  overriders:\n    plaintext:\n"
        "      - {path: /metadata/namespace, operator: replace, value: shop}\n"
        "      - {path: /metadata/labels, operator: add, value: {tier: web}}\n"
    )
    fleet = make_fleet("---\n" + POLICY_ALL + override, apps={"web.yaml": DEPLOYMENT})
    result = run_cli("build", fleet, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "out/clusters/alpha/deployment.apps_shop_web.yaml").read_text()
    assert "tier: web" in text


# --------------------------------------------------------------------------- templates


def _render(text: str) -> list[object]:
    docs = render_template(SourceFile("t.yaml.j2", text), Cluster(name="alpha"), "f", {})
    return [d.data for d in docs]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: {{ ((10**1000)**1000)**1000 }}\n", "the result of the power would be too large"),
        (
            "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
            "{% endfor %}a: 1\n",
            "the result of the multiplication would be too large",
        ),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
            "the template runs more than 1000000 loop iterations and calls",
        ),
        (
            "{% macro a() %}x{% endmacro %}"
            + "".join(
                f"{{% macro m{i}() %}}{{{{ {'a' if i == 0 else f'm{i - 1}'}() }}}}"
                f"{{{{ {'a' if i == 0 else f'm{i - 1}'}() }}}}{{% endmacro %}}"
                for i in range(30)
            )
            + "v: {{ m29() }}\n",
            "loop iterations and calls",
        ),
    ],
)
def test_template_work_is_bounded(text: str, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        _render(text)


def test_a_slow_render_runs_into_the_deadline_and_the_timer_is_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("the deadline needs the main thread")
    if signal.getitimer(signal.ITIMER_REAL)[0]:
        pytest.skip("another interval timer is running")
    monkeypatch.setattr(templates, "RENDER_SECONDS", 0.5)
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(CompileError, match=r"template took longer than 0.5 s to render"):
        _render("a: {% for i in range(100000) %}{{ range(100000)|sum }}{% endfor %}\n")
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_ordinary_templates_are_unaffected() -> None:
    text = (
        "a: {{ 2 ** 100 }}\n"
        "b: {% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{% endfor %}\n"
        "c: {{ range(5000) | sum }}\n"
    )
    assert _render(text) == [{"a": 2**100, "b": "1/32/33/3", "c": sum(range(5000))}]
