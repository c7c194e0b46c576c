"""Strategic merge and patch parsing: the contracts the corpus does not show one by one."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kurator_compile.errors import CompileError
from kurator_compile.overlay import (
    JsonPatch,
    PatchError,
    StrategicMergePatch,
    apply_patch,
    parse_patch,
    strategic_merge,
)
from kurator_compile.overlay.k8s_schema import KINDS, TYPES
from kurator_compile.overlay.schema import schema_for_kind

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
}


def test_inputs_are_not_modified() -> None:
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "$patch": "replace", "image": "a:2"},
                        {"name": "b", "image": "b:1"},
                    ]
                }
            }
        },
    }
    obj_before, patch_before = copy.deepcopy(DEPLOY), copy.deepcopy(patch)
    result = strategic_merge(DEPLOY, patch)
    assert obj_before == DEPLOY
    assert patch == patch_before
    assert result is not None
    # kyaml puts the base element back over a replaced one (see the corpus).
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:1"},
    ]


def test_top_level_delete_returns_none() -> None:
    assert strategic_merge(DEPLOY, {**DEPLOY, "$patch": "delete"}) is None


def test_kind_name_namespace_are_kept_unless_allowed() -> None:
    patch = {"kind": "StatefulSet", "metadata": {"name": "other", "namespace": "x"}}
    kept = strategic_merge(DEPLOY, patch)
    assert kept is not None
    assert (kept["kind"], kept["metadata"]) == ("Deployment", {"name": "web"})
    renamed = strategic_merge(DEPLOY, patch, allow_name_change=True, allow_kind_change=True)
    assert renamed is not None
    assert (renamed["kind"], renamed["metadata"]) == ("StatefulSet", {"name": "other"})


def test_errors_carry_a_pointer() -> None:
    with pytest.raises(PatchError) as caught:
        strategic_merge(DEPLOY, {"spec": {"template": {"spec": {"containers": {"a": 1}}}}})
    assert caught.value.pointer == "/spec/template/spec/containers"
    with pytest.raises(PatchError, match="unknown patch strategy"):
        strategic_merge(DEPLOY, {"spec": {"$patch": "frob"}})


@pytest.mark.parametrize(
    "containers",
    [[{"image": "x"}], ["nginx", "sidecar"], [{"name": None, "image": "x"}], [{"name": ""}]],
    ids=["no-name", "scalars", "null-name", "empty-name"],
)
def test_patch_element_without_merge_key_is_refused(containers: list[Any]) -> None:
    """kustomize matches such an element to nothing and yields `containers: []`."""
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    with pytest.raises(PatchError) as caught:
        strategic_merge(DEPLOY, patch)
    assert caught.value.message == (
        "list element sets no merge key (name): kustomize would drop every element of "
        "containers; name the element it patches"
    )
    assert caught.value.pointer == "/spec/template/spec/containers/0"


def test_named_elements_and_list_directives_still_merge() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "a"}]}}}}
    merged = strategic_merge(DEPLOY, patch)
    assert merged is not None
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "a"}]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["a", "b", "", "80"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "image", "env", "x", "$patch"]), children, max_size=3
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(spec=json_values, patch_spec=json_values)
def test_never_mutates_and_never_crashes(spec: Any, patch_spec: Any) -> None:
    obj = {**copy.deepcopy(DEPLOY), "spec": {"template": {"spec": {"containers": spec}}}}
    patch = {"spec": {"template": {"spec": {"containers": patch_spec}}}}
    before = copy.deepcopy((obj, patch))
    with contextlib.suppress(PatchError):
        strategic_merge(obj, patch)
    assert (obj, patch) == before


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", StrategicMergePatch),
        ("kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n", StrategicMergePatch),
        ('[{"op": "add", "path": "/a", "value": 1}]', JsonPatch),
        ("- op: remove\n  path: /a\n", JsonPatch),
        ({"kind": "ConfigMap", "metadata": {"name": "c"}}, StrategicMergePatch),
        ([{"op": "remove", "path": "/a"}], JsonPatch),
    ],
)
def test_parse_patch_kinds(source: Any, expected: type) -> None:
    assert isinstance(parse_patch(source), expected)


@pytest.mark.parametrize(
    "source",
    [
        "[]",
        "",
        "# only a comment\n",
        "kind: ConfigMap\n",
        "metadata: {name: c}\n",
        "kind: A\nmetadata: {name: a}\nlist: [1, null]\n",
        "- 1\n- 2\n",
        "just text",
    ],
)
def test_parse_patch_refusals(source: str) -> None:
    with pytest.raises(PatchError):
        parse_patch(source)


def test_parse_patch_invalid_yaml_is_a_compile_error() -> None:
    with pytest.raises(CompileError):
        parse_patch("a: [1,\n", file="overlays/p.yaml")


def test_apply_patch_rules() -> None:
    json_ops = parse_patch([{"op": "add", "path": "/data", "value": {"a": "1"}}])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    with pytest.raises(PatchError, match="target"):
        apply_patch([cm], json_ops)
    assert apply_patch([cm], json_ops, {"kind": "Secret"}) == [cm]
    two = parse_patch(
        "kind: ConfigMap\nmetadata: {name: c}\n---\nkind: ConfigMap\nmetadata: {name: d}\n"
    )
    with pytest.raises(PatchError, match="multiple"):
        apply_patch([cm], two, {"kind": "ConfigMap"})
    with pytest.raises(PatchError, match="no resource matches"):
        apply_patch([cm], two)


def test_schema_table_covers_the_merge_keys() -> None:
    """The generated table holds the patch merge keys of the built-in API (k8s v1.21.2)."""

    def field(type_name: str, name: str) -> Any:
        return TYPES[type_name][name]

    assert field("core.v1.PodSpec", "containers") == ("core.v1.Container", "merge", ("name",))
    assert field("core.v1.PodSpec", "volumes")[1:] == ("merge,retainKeys", ("name",))
    assert field("core.v1.PodSpec", "hostAliases")[2] == ("ip",)
    assert field("core.v1.PodSpec", "topologySpreadConstraints")[2] == (
        "topologyKey",
        "whenUnsatisfiable",
    )
    assert field("core.v1.Container", "ports")[2] == ("containerPort", "protocol")
    assert field("core.v1.Container", "volumeMounts")[2] == ("mountPath",)
    assert field("core.v1.Container", "volumeDevices")[2] == ("devicePath",)
    assert field("core.v1.ServiceSpec", "ports")[2] == ("port", "protocol")
    assert field("meta.v1.ObjectMeta", "finalizers") == (None, "merge", ())
    assert field("meta.v1.ObjectMeta", "ownerReferences")[2] == ("uid",)
    assert "tolerations" not in TYPES["core.v1.PodSpec"]  # atomic: merged like unknown lists
    assert "envFrom" not in TYPES["core.v1.Container"]
    assert KINDS[("batch/v1", "CronJob")] == "batch.v1.CronJob"
    assert schema_for_kind("apps/v1beta2", "Deployment") is None
    assert schema_for_kind("example.com/v1", "Widget") is None
