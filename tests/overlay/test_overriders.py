"""Karmada overriders: every overrider, operator and error, pinned to Karmada's source."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kurator_compile.overlay import PatchError, apply_overriders, override_image, parse_image

DIGEST = "sha256:" + "a" * 64


def deployment(*containers: dict[str, Any], kind: str = "Deployment") -> dict[str, Any]:
    pod = {"containers": list(containers), "initContainers": [{"name": "init", "image": "i:1"}]}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": pod}},
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    result: list[dict[str, Any]] = spec["containers"]
    return result


# --- image references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "host", "repository", "tag", "digest"),
    [
        ("nginx", "", "nginx", "", ""),
        ("nginx:1.25", "", "nginx", "1.25", ""),
        ("library/nginx", "", "library/nginx", "", ""),
        ("myregistry/app:v1", "", "myregistry/app", "v1", ""),  # no dot, colon or localhost
        ("docker.io/library/nginx:1.0", "docker.io", "library/nginx", "1.0", ""),
        ("localhost/app", "localhost", "app", "", ""),
        ("localhost:5000/team/app:v2", "localhost:5000", "team/app", "v2", ""),
        ("[::1]:5000/app", "[::1]:5000", "app", "", ""),
        (f"ghcr.io/org/app@{DIGEST}", "ghcr.io", "org/app", "", DIGEST),
        (f"ghcr.io/org/app:v1@{DIGEST}", "ghcr.io", "org/app", "v1", ""),  # tag hides digest
    ],
)
def test_parse_image(image: str, host: str, repository: str, tag: str, digest: str) -> None:
    ref = parse_image(image)
    assert (ref.hostname, ref.repository, ref.tag, ref.digest) == (host, repository, tag, digest)


@pytest.mark.parametrize(
    "image",
    [
        "",
        "Nginx",
        "nginx:",
        "nginx@sha256:abc",
        "nginx@md5:" + "a" * 32,
        "a//b",
        "nginx@sha256:" + "A" * 64,
        "x" * 256,
    ],
)
def test_parse_image_errors(image: str) -> None:
    with pytest.raises(PatchError):
        parse_image(image)


@pytest.mark.parametrize(
    ("image", "component", "operator", "value", "expected"),
    [
        ("myapp:1.0.0", "Registry", "add", "test-repo", "test-repo/myapp:1.0.0"),
        ("registry.k8s.io/pause:3.9", "Registry", "add", ".cn", "registry.k8s.io.cn/pause:3.9"),
        (
            "docker.io/library/nginx:1.0",
            "Registry",
            "replace",
            "fictional.registry.us",
            "fictional.registry.us/library/nginx:1.0",
        ),
        ("docker.io/library/nginx:1.0", "Registry", "remove", "", "library/nginx:1.0"),
        (
            "docker.io/library/nginx:1.0",
            "Repository",
            "add",
            "-debug",
            "docker.io/library/nginx-debug:1.0",
        ),
        (
            "docker.io/library/nginx:1.0",
            "Repository",
            "replace",
            "busybox",
            "docker.io/busybox:1.0",
        ),
        ("docker.io/library/nginx:1.0", "Repository", "remove", "", "docker.io/:1.0"),
        ("nginx:1.0", "Tag", "add", "-alpine", "nginx:1.0-alpine"),
        ("nginx", "Tag", "add", "v2", "nginx:v2"),
        ("nginx:1.0", "Tag", "replace", "1.2", "nginx:1.2"),
        ("nginx:1.0", "Tag", "replace", DIGEST, f"nginx@{DIGEST}"),
        (f"nginx@{DIGEST}", "Tag", "replace", "1.2", "nginx:1.2"),
        ("nginx:1.0", "Tag", "replace", "not a tag!", "nginx:1.0"),  # neither: unchanged
        ("nginx:1.0", "Tag", "remove", "", "nginx"),
        (f"nginx@{DIGEST}", "Tag", "remove", "", "nginx"),
        (f"nginx:1.0@{DIGEST}", "Registry", "add", "r.io", "r.io/nginx:1.0"),  # digest lost
        ("nginx:1.0", "Tag", "unknown-operator", "x", "nginx:1.0"),
    ],
)
def test_override_image(
    image: str, component: str, operator: str, value: str, expected: str
) -> None:
    assert override_image(image, component, operator, value) == expected


def test_override_image_unknown_component() -> None:
    with pytest.raises(PatchError, match="component"):
        override_image("nginx", "Host", "add", "x")


# --- imageOverrider ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "Pod"]
)
def test_image_overrider_rewrites_every_container_not_init(kind: str) -> None:
    obj = deployment(
        {"name": "a", "image": "nginx:1"}, {"name": "b", "image": "r.io/b:2"}, kind=kind
    )
    before = copy.deepcopy(obj)
    out = apply_overriders(
        obj,
        {
            "imageOverrider": [
                {"component": "Registry", "operator": "replace", "value": "mirror.io"}
            ]
        },
    )
    assert [c["image"] for c in containers(out)] == ["mirror.io/nginx:1", "mirror.io/b:2"]
    spec = out["spec"] if kind == "Pod" else out["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "i:1"
    assert obj == before


def test_image_overrider_ignores_other_kinds() -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}
            }
        },
    }
    out = apply_overriders(
        cron, {"imageOverrider": [{"component": "Tag", "operator": "replace", "value": "2"}]}
    )
    assert out == cron


def test_image_overriders_apply_in_sequence() -> None:
    obj = deployment({"name": "a", "image": "nginx:1"})
    out = apply_overriders(
        obj,
        {
            "imageOverrider": [
                {"component": "Registry", "operator": "add", "value": "r.io"},
                {"component": "Tag", "operator": "add", "value": "-slim"},
            ]
        },
    )
    assert containers(out)[0]["image"] == "r.io/nginx:1-slim"


def test_image_overrider_with_predicate() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Workload",
        "metadata": {"name": "w"},
        "spec": {"components": [{"image": "a:1"}, {"image": "b:1"}]},
    }
    out = apply_overriders(
        obj,
        {
            "imageOverrider": [
                {
                    "predicate": {"path": "/spec/components/1/image"},
                    "component": "Tag",
                    "operator": "replace",
                    "value": "2",
                }
            ]
        },
    )
    assert out["spec"]["components"] == [{"image": "a:1"}, {"image": "b:2"}]


@pytest.mark.parametrize(
    ("overrider", "obj"),
    [
        (
            {
                "predicate": {"path": "/spec/missing/image"},
                "component": "Tag",
                "operator": "add",
                "value": "x",
            },
            deployment({"name": "a", "image": "a:1"}),
        ),
        (
            {
                "predicate": {"path": "/metadata/name"},
                "component": "Tag",
                "operator": "replace",
                "value": "x",
            },
            {"kind": "X", "metadata": {"name": 5}},
        ),
        (
            {
                "predicate": {"path": "spec/x"},
                "component": "Tag",
                "operator": "replace",
                "value": "x",
            },
            {"kind": "X", "spec": {"x": "a:1"}},
        ),  # must start with /
        (
            {"component": "Tag", "operator": "replace", "value": "2"},
            deployment({"name": "a"}),
        ),  # no image: an empty reference
        (
            {"component": "Tag", "operator": "replace", "value": "2"},
            deployment({"name": "a", "image": "Bad"}),
        ),
    ],
)
def test_image_overrider_errors(overrider: dict[str, Any], obj: dict[str, Any]) -> None:
    with pytest.raises(PatchError, match="imageOverrider"):
        apply_overriders(obj, {"imageOverrider": [overrider]})


# --- commandOverrider / argsOverrider ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "current", "operator", "value", "expected"),
    [
        ("command", ["run"], "add", ["--fast"], ["run", "--fast"]),
        ("args", ["--x", "--y", "--x"], "remove", ["--x", "--z"], ["--y"]),
        ("args", None, "add", ["--a"], ["--a"]),  # absent: added
        ("command", None, "remove", ["--a"], []),  # absent: added, empty
        ("args", ["a", 5, True], "add", [], ["a", "%!s(int64=5)", "%!s(bool=true)"]),
        ("args", ["a"], "replace", ["b"], ["a"]),  # not an operator here: list kept
    ],
)
def test_command_and_args(
    field: str, current: list[Any] | None, operator: str, value: list[str], expected: list[str]
) -> None:
    app: dict[str, Any] = {"name": "app", "image": "a:1"}
    if current is not None:
        app[field] = current
    other = {"name": "other", "image": "o:1", field: ["keep"]}
    obj = deployment(app, other)
    out = apply_overriders(
        obj, {f"{field}Overrider": [{"containerName": "app", "operator": operator, "value": value}]}
    )
    assert containers(out)[0][field] == expected
    assert containers(out)[1][field] == ["keep"]


def test_command_overrider_reaches_pods_only_by_kind() -> None:
    pod = deployment({"name": "app", "image": "a:1"}, kind="Pod")
    out = apply_overriders(
        pod, {"commandOverrider": [{"containerName": "app", "operator": "add", "value": ["x"]}]}
    )
    assert containers(out)[0]["command"] == ["x"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert (
        apply_overriders(
            cm, {"argsOverrider": [{"containerName": "app", "operator": "add", "value": ["x"]}]}
        )
        == cm
    )


def test_command_overrider_errors() -> None:
    bad = deployment({"name": "app", "image": "a:1", "args": "not-a-list"})
    with pytest.raises(PatchError, match="argsOverrider"):
        apply_overriders(
            bad, {"argsOverrider": [{"containerName": "app", "operator": "add", "value": ["x"]}]}
        )
    broken = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": {"a": 1}}}}}
    with pytest.raises(PatchError, match="not a list"):
        apply_overriders(
            broken,
            {"commandOverrider": [{"containerName": "app", "operator": "add", "value": ["x"]}]},
        )


# --- labelsOverrider / annotationsOverrider ---------------------------------------------------


@pytest.mark.parametrize("target", ["labels", "annotations"])
def test_label_annotation_operators(target: str) -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", target: {"a": "1", "b": "2"}}}
    field = f"{target}Overrider"
    add = apply_overriders(obj, {field: [{"operator": "add", "value": {"a": "10", "c": "3"}}]})
    assert add["metadata"][target] == {"a": "10", "b": "2", "c": "3"}
    replace = apply_overriders(
        obj, {field: [{"operator": "replace", "value": {"a": "x", "z": "y"}}]}
    )
    assert replace["metadata"][target] == {"a": "x", "b": "2"}  # z skipped, not added
    remove = apply_overriders(obj, {field: [{"operator": "remove", "value": {"b": "", "z": ""}}]})
    assert remove["metadata"][target] == {"a": "1"}
    assert obj["metadata"][target] == {"a": "1", "b": "2"}


def test_labels_add_creates_the_map_and_escapes_slashes() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}}
    out = apply_overriders(
        obj, {"labelsOverrider": [{"operator": "add", "value": {"example.com/team": "core"}}]}
    )
    assert out["metadata"]["labels"] == {"example.com/team": "core"}


def test_labels_add_replaces_a_map_that_is_not_all_strings() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"n": 1, "s": "x"}}}
    out = apply_overriders(obj, {"labelsOverrider": [{"operator": "add", "value": {"a": "1"}}]})
    assert out["metadata"]["labels"] == {"a": "1"}
    same = apply_overriders(obj, {"labelsOverrider": [{"operator": "remove", "value": {"s": ""}}]})
    assert same == obj


def test_labels_unknown_operator_fails() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}}
    with pytest.raises(PatchError, match="labelsOverrider"):
        apply_overriders(obj, {"labelsOverrider": [{"operator": "upsert", "value": {"a": "2"}}]})


# --- fieldOverrider ----------------------------------------------------------------------------


CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c"},
    "data": {
        "app.yaml": "server:\n  port: 80\n  debug: no\nname: app\n",
        "app.json": '{"z": 1.50, "server": {"port": 80}, "tags": ["a"]}',
    },
}


def test_field_overrider_yaml() -> None:
    out = apply_overriders(
        CONFIG,
        {
            "fieldOverrider": [
                {
                    "fieldPath": "/data/app.yaml",
                    "yaml": [
                        {"subPath": "/server/port", "operator": "replace", "value": 8080},
                        {"subPath": "/server/tls", "operator": "add", "value": {"enabled": True}},
                        {"subPath": "/name", "operator": "remove"},
                    ],
                }
            ]
        },
    )
    # YAML 1.1 read (`no` is false), keys sorted, block style.
    assert out["data"]["app.yaml"] == (
        "server:\n  debug: false\n  port: 8080\n  tls:\n    enabled: true\n"
    )
    assert out["data"]["app.json"] == CONFIG["data"]["app.json"]


def test_field_overrider_json_keeps_order_and_number_text() -> None:
    out = apply_overriders(
        CONFIG,
        {
            "fieldOverrider": [
                {
                    "fieldPath": "/data/app.json",
                    "json": [
                        {"subPath": "/server/host", "operator": "add", "value": "<a&b>"},
                        {"subPath": "/tags/-", "operator": "add", "value": "b"},
                    ],
                }
            ]
        },
    )
    assert out["data"]["app.json"] == (
        '{"z":1.50,"server":{"port":80,"host":"\\u003ca\\u0026b\\u003e"},"tags":["a","b"]}'
    )


@pytest.mark.parametrize(
    "overrider",
    [
        {"fieldPath": "/data/missing", "json": [{"subPath": "/a", "operator": "add", "value": 1}]},
        {"fieldPath": "/metadata", "json": [{"subPath": "/a", "operator": "add", "value": 1}]},
        {"fieldPath": "data/app.json", "json": [{"subPath": "/a", "operator": "add", "value": 1}]},
        {"fieldPath": "/data/app.json"},
        {
            "fieldPath": "/data/app.json",
            "json": [{"subPath": "/a", "operator": "add"}],
            "yaml": [{"subPath": "/a", "operator": "add"}],
        },
        {
            "fieldPath": "/data/app.json",
            "json": [{"subPath": "/no/such", "operator": "add", "value": 1}],
        },
        {
            "fieldPath": "/data/app.yaml",
            "json": [{"subPath": "/a", "operator": "add", "value": 1}],
        },  # not JSON
    ],
)
def test_field_overrider_errors(overrider: dict[str, Any]) -> None:
    with pytest.raises(PatchError, match="fieldOverrider"):
        apply_overriders(CONFIG, {"fieldOverrider": [overrider]})


# --- plaintext and order ---------------------------------------------------------------------


def test_plaintext_operators() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    out = apply_overriders(
        obj,
        {
            "plaintext": [
                {"path": "/data/c", "operator": "add", "value": "3"},
                {"path": "/data/a", "operator": "replace", "value": "10"},
                {"path": "/data/b", "operator": "remove"},
            ]
        },
    )
    assert out["data"] == {"a": "10", "c": "3"}


@pytest.mark.parametrize(
    "op",
    [
        {"path": "/data/zz", "operator": "replace", "value": "1"},  # replace needs the path
        {"path": "/data/zz", "operator": "remove"},
        {"path": "/spec/x", "operator": "add", "value": 1},  # add needs the parent
        {"path": "/data/a", "operator": "upsert", "value": 1},
    ],
)
def test_plaintext_errors(op: dict[str, Any]) -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    with pytest.raises(PatchError, match="plaintext"):
        apply_overriders(obj, {"plaintext": [op]})


def test_order_inside_a_block() -> None:
    """image, command, args, labels, annotations, field, then plaintext, whatever the keys'
    order in the block."""
    obj = deployment({"name": "app", "image": "nginx:1"})
    obj["metadata"]["annotations"] = {"cfg": '{"v": 1}'}
    block = {
        "plaintext": [
            {"path": "/metadata/labels/seen", "operator": "add", "value": "plaintext"},
            {
                "path": "/spec/template/spec/containers/0/image",
                "operator": "replace",
                "value": "final:1",
            },
        ],
        "fieldOverrider": [
            {
                "fieldPath": "/metadata/annotations/cfg",
                "json": [{"subPath": "/label", "operator": "add", "value": "set"}],
            }
        ],
        "annotationsOverrider": [{"operator": "replace", "value": {"cfg": '{"v": 2}'}}],
        "labelsOverrider": [{"operator": "add", "value": {"seen": "labels"}}],
        "argsOverrider": [{"containerName": "app", "operator": "add", "value": ["b"]}],
        "commandOverrider": [{"containerName": "app", "operator": "add", "value": ["a"]}],
        "imageOverrider": [{"component": "Tag", "operator": "replace", "value": "2"}],
    }
    out = apply_overriders(obj, block)
    app = containers(out)[0]
    assert app == {"name": "app", "image": "final:1", "command": ["a"], "args": ["b"]}
    assert out["metadata"]["labels"] == {"seen": "plaintext"}
    assert out["metadata"]["annotations"] == {"cfg": '{"v":2,"label":"set"}'}


def test_empty_block_is_identity() -> None:
    obj = deployment({"name": "app", "image": "nginx:1"})
    assert apply_overriders(obj, {}) == obj


def test_malformed_block() -> None:
    with pytest.raises(PatchError):
        apply_overriders({"kind": "X"}, {"plaintext": {"path": "/a"}})
