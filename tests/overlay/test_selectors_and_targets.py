"""Label selector strings and kustomize patch targets."""

from __future__ import annotations

from typing import Any

import pytest

from kurator_compile.overlay import PatchError, identity_matches, parse_selector, target_matches


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "api"}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (a,b)", {"tier": "b"}, True),
        ("tier in (a,b)", {}, False),
        ("tier notin (a,b)", {}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": ""}, False),
        ("!app", {"other": "x"}, True),
        ("app=web,tier in (a,b),!legacy", {"app": "web", "tier": "a"}, True),
        ("app=web,tier in (a,b),!legacy", {"app": "web", "tier": "a", "legacy": "1"}, False),
        (" app = web , team ", {"app": "web", "team": "x"}, True),
        ("app=", {"app": ""}, True),
        ("tier in (a,)", {"tier": ""}, True),
        ("replicas>3", {"replicas": "4"}, True),
        ("replicas>3", {"replicas": "3"}, False),
        ("replicas<3", {"replicas": "x"}, False),
        ("example.com/role=db", {"example.com/role": "db"}, True),
        ("in in (in)", {"in": "in"}, True),
    ],
)
def test_selector_matching(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(text).matches(labels) is matches


@pytest.mark.parametrize(
    "text",
    [
        "a b",
        "a in x",
        "a=(b)",
        "!a=b",
        "a,",
        ",a",
        "a in ()x",
        "x<a",
        "-a=b",
        "a/b/c=d",
        "a=b=c",
        "a===b",
        "a~b",
        "a=" + "v" * 64,
        "Example.com/a=b",
    ],
)
def test_selector_errors(text: str) -> None:
    with pytest.raises(PatchError):
        parse_selector(text)


def deployment(name: str = "web", namespace: str | None = None, **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata}


@pytest.mark.parametrize(
    ("target", "obj", "matches"),
    [
        ({}, deployment(), True),
        ({"kind": "Deployment"}, deployment(), True),
        ({"kind": "Deploy"}, deployment(), False),  # anchored
        ({"kind": "Deploy.*"}, deployment(), True),
        ({"kind": "StatefulSet|Deployment"}, deployment(), True),
        ({"group": "apps", "version": "v1"}, deployment(), True),
        ({"group": "apps", "version": "v1beta1"}, deployment(), False),
        ({"group": ""}, deployment(), True),  # empty means any
        ({"name": "web"}, deployment("web-2"), False),
        ({"name": "web.*"}, deployment("web-2"), True),
        ({"namespace": "default"}, deployment(), True),
        ({"namespace": "default"}, deployment(namespace="default"), True),
        ({"namespace": "prod"}, deployment(), False),
        ({"namespace": "prod|dev"}, deployment(namespace="dev"), True),
        ({"labelSelector": "app=web"}, deployment(app="web"), True),
        ({"labelSelector": "app=web"}, deployment(app="api"), False),
        ({"annotationSelector": "a=b"}, deployment(), False),
    ],
)
def test_target_matches(target: dict[str, Any], obj: dict[str, Any], matches: bool) -> None:
    assert target_matches(obj, target) is matches


def test_cluster_scoped_objects_have_no_namespace() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r"},
    }
    assert not target_matches(role, {"namespace": "default"})
    assert target_matches(role, {"kind": "ClusterRole"})
    # A custom kind is namespaced as far as kustomize knows.
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert target_matches(widget, {"namespace": "default"})


def test_annotation_selector_reads_values_as_text() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"n": 1, "b": True}}}
    assert target_matches(obj, {"annotationSelector": "n=1,b=true"})


def test_target_errors() -> None:
    with pytest.raises(PatchError, match="unknown field"):
        target_matches(deployment(), {"apiVersion": "apps/v1"})
    with pytest.raises(PatchError, match="invalid name pattern"):
        target_matches(deployment(), {"name": "("})
    with pytest.raises(PatchError):
        target_matches(deployment(), {"labelSelector": "a in"})


@pytest.mark.parametrize(
    ("patch", "matches"),
    [
        (deployment(), True),
        (deployment(namespace="default"), True),  # "" and default are the same namespace
        (deployment(namespace="prod"), False),
        (deployment("api"), False),
        ({**deployment(), "apiVersion": "apps/v1beta2"}, False),
        ({**deployment(), "kind": "StatefulSet"}, False),
    ],
)
def test_identity_matches(patch: dict[str, Any], matches: bool) -> None:
    assert identity_matches(deployment(), patch) is matches
