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
    make_fleet: Callable[..., Path], tmp_path: Path, overlay: str, extra: str = ""
) -> tuple[int, str]:
    fleet = make_fleet("---\n" + POLICY_ALL + extra, header=HEADER)
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


def test_a_json_patch_may_not_rename_the_object(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    overlay = (
        "    - target: {kind: Deployment}\n"
        "      patch: [{op: replace, path: /metadata/name, value: other}]\n"
    )
    code, stderr = _build(make_fleet, tmp_path, overlay)
    assert code == 2, stderr
    assert (
        "overlays/tune.yaml:8:7: error: overlays and overrides may not change an object's kind, "
        "namespace or name; this changes metadata.name from 'web' to 'other'"
    ) in stderr


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
