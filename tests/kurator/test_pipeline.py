"""Kurator Pipeline -> Tekton objects on the host, checked against every upstream golden file
of pkg/fleet-manager/pipeline/render/testdata (kurator-dev/kurator, commit
b6339412dc3b0a408a99b14531ae233e9de9d652), compared as YAML data."""

from __future__ import annotations

from typing import Any

import pytest
from documents_kit import documents, errors, inputs, upstream_data
from documents_kit import warnings as warnings_of

from kurator_compile.kurator.inventory import HOST
from kurator_compile.kurator.pipeline import (
    compile_pipeline,
    custom_task,
    pipeline_object,
    predefined_task,
    rbac_objects,
    trigger_objects,
)


def golden(relative: str) -> list[Any]:
    """Upstream golden objects without ownerReferences (an offline compile has no owner UID),
    and the ClusterRoleBinding without the namespace the API server drops."""
    objects = upstream_data(f"pipeline/{relative}")
    for obj in objects:
        obj["metadata"].pop("ownerReferences", None)
        if obj["kind"] == "ClusterRoleBinding":
            del obj["metadata"]["namespace"]
    return objects


# --- customTask_test.go TestRenderCustomTask ----------------------------------------------

CUSTOM_CASES = {
    "cat-readme": (
        "cat-readme",
        {
            "image": "zshusers/zsh:4.3.15",
            "command": ["/bin/sh", "-c"],
            "args": ["cat $(workspaces.source.path)/README.md"],
        },
    ),
    "minimal-task": ("minimal-task", {"image": "alpine:latest"}),
    "complete-task": (
        "complete-task",
        {
            "image": "python:3.8",
            "command": ["python", "-c"],
            "args": ["print('Hello World')"],
            "env": [{"name": "ENV_VAR", "value": "test"}],
            "resourceRequirements": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": "200m", "memory": "512Mi"},
            },
            "script": "print('This is a complete test')",
        },
    ),
    "env-task": (
        "env-task",
        {"image": "node:14", "env": [{"name": "NODE_ENV", "value": "production"}]},
    ),
    "resource-task": (
        "resource-task",
        {
            "image": "golang:1.16",
            "resourceRequirements": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
        },
    ),
    "cmd-args-task": (
        "cmd-args",
        {
            "image": "ubuntu:latest",
            "command": ["/bin/bash", "-c"],
            "args": ["echo 'Hello from command'"],
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CUSTOM_CASES))
def test_custom_task_golden(case: str) -> None:
    """customTask.go RenderCustomTask / customTask_test.go TestRenderCustomTask (b633941)."""
    task_name, spec = CUSTOM_CASES[case]
    assert [custom_task(task_name, "test-pipeline", "default", spec)] == golden(
        f"custom-task/{case}.yaml"
    )


# --- predefined_task_test.go TestRenderPredefinedTask ------------------------------------

PREDEFINED_CASES = {
    "git-clone": ("git-clone", "kurator-pipeline", {}),
    "go-test-default": ("go-test", "default", {}),
    "go-test-custom-value": (
        "go-test",
        "kurator-pipeline",
        {
            "packages": "./pkg/...",
            "version": "1.20",
            "GOOS": "linux",
            "GOARCH": "arm",
            "flags": "-race -cover -v",
        },
    ),
    "go-lint-custom-value": ("go-lint", "kurator-pipeline", {}),
    "go-lint-advanced-config": (
        "go-lint",
        "kurator-pipeline",
        {
            "package": "./cmd/...",
            "version": "1.25.0",
            "flags": "--enable=govet --enable=errcheck",
            "GOOS": "linux",
            "GOARCH": "arm",
        },
    ),
    "build-and-push-image-default": (
        "build-and-push-image",
        "kurator-pipeline",
        {"image": "ghcr.io/test-orz/test-image:0.3.1"},
    ),
    "build-and-push-image-custom": (
        "build-and-push-image",
        "kurator-pipeline",
        {
            "image": "ghcr.io/test-orz/test-image:0.3.2",
            "dockerfile": "./app/Dockerfile",
            "context": "./app/",
        },
    ),
}


@pytest.mark.parametrize("case", sorted(PREDEFINED_CASES))
def test_predefined_task_golden(case: str) -> None:
    """predefined_task.go RenderPredefinedTask / predefined_task_test.go
    TestRenderPredefinedTask (b633941)."""
    template, namespace, params = PREDEFINED_CASES[case]
    assert [predefined_task(template, "test-pipeline", namespace, params)] == golden(
        f"predefined-task/{case}.yaml"
    )


def test_unquoted_template_reads_a_list() -> None:
    """build-and-push-image writes its params unquoted: extra_args text becomes a list."""
    task = predefined_task(
        "build-and-push-image", "p", "ns", {"extra_args": "[--cache=true, --verbosity=debug]"}
    )
    (extra,) = [p for p in task["spec"]["params"] if p["name"] == "EXTRA_ARGS"]
    assert extra["default"] == ["--cache=true", "--verbosity=debug"]


# --- pipeline_test.go, rbac_test.go, trigger_test.go --------------------------------------


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("readme-test", ["git-clone", "cat-readme", "go-test"]),
        (
            "comprehensive",
            ["git-clone", "cat-readme", "go-test", "go-lint", "build-and-push-image"],
        ),
    ],
)
def test_pipeline_golden(case: str, names: list[str]) -> None:
    """pipeline.go RenderPipelineWithPipeline / pipeline_test.go TestRenderPipelineWithPipeline
    (b633941)."""
    tasks = [(name, 0) for name in names]
    assert [pipeline_object("test-pipeline", "kurator-pipeline", tasks)] == golden(
        f"pipeline/{case}.yaml"
    )


@pytest.mark.parametrize(
    ("case", "name", "chain"),
    [("default-example", "example", False), ("with-owner", "example-with-owner", True)],
)
def test_rbac_golden(case: str, name: str, chain: bool) -> None:
    """rbac.go RenderRBAC / rbac_test.go TestRenderRBAC (b633941)."""
    assert rbac_objects(name, "default", chain) == golden(f"rbac/{case}.yaml")


@pytest.mark.parametrize(
    ("case", "workspace"),
    [
        ("default", {}),
        (
            "with-volume-claim",
            {
                "accessMode": "ReadWriteOnce",
                "storageRequest": "500Mi",
                "storageClassName": "manual",
                "volumeMode": "Filesystem",
            },
        ),
    ],
)
def test_trigger_golden(case: str, workspace: dict[str, str]) -> None:
    """trigger.go RenderTrigger / trigger_test.go TestRenderTrigger (b633941)."""
    assert trigger_objects("test-pipeline", "kurator-pipeline", workspace) == golden(
        f"trigger/{case}.yaml"
    )


# --- compile_pipeline end to end ----------------------------------------------------------

COMPREHENSIVE = """\
apiVersion: pipeline.kurator.dev/v1alpha1
kind: Pipeline
metadata: {name: test-pipeline, namespace: kurator-pipeline}
spec:
  tasks:
    - name: git-clone
      predefinedTask: {name: git-clone}
    - name: cat-readme
      customTask:
        image: zshusers/zsh:4.3.15
        command: [/bin/sh, -c]
        args: ["cat $(workspaces.source.path)/README.md"]
    - name: go-test
      predefinedTask: {name: go-test}
    - name: go-lint
      predefinedTask: {name: go-lint}
    - name: build-and-push-image
      predefinedTask:
        name: build-and-push-image
        params: {image: "ghcr.io/test-orz/test-image:0.3.1"}
"""


def compiled(text: str) -> tuple[list[Any], list[Any]]:
    generated, diagnostics = compile_pipeline(inputs(documents(text)))
    assert {g.cluster for g in generated} <= {HOST}
    return [g.data for g in generated], diagnostics


def test_compile_pipeline_objects_in_controller_order() -> None:
    """controller.go PipelineManager.reconcile (b633941): RBAC, Tasks, Pipeline, trigger."""
    objects, diagnostics = compiled(COMPREHENSIVE)
    assert diagnostics == []
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ServiceAccount", "test-pipeline"),
        ("RoleBinding", "test-pipeline"),
        ("ClusterRoleBinding", "test-pipeline"),
        ("Task", "git-clone-test-pipeline"),
        ("Task", "cat-readme-test-pipeline"),
        ("Task", "go-test-test-pipeline"),
        ("Task", "go-lint-test-pipeline"),
        ("Task", "build-and-push-image-test-pipeline"),
        ("Pipeline", "test-pipeline"),
        ("TriggerTemplate", "test-pipeline-triggertemplate"),
        ("TriggerBinding", "test-pipeline-triggerbinding"),
        ("EventListener", "test-pipeline-listener"),
    ]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert [by_name[("Pipeline", "test-pipeline")]] == golden("pipeline/comprehensive.yaml")
    assert [by_name[("Task", "git-clone-test-pipeline")]] == golden(
        "predefined-task/git-clone.yaml"
    )
    assert [by_name[("Task", "go-lint-test-pipeline")]] == golden(
        "predefined-task/go-lint-custom-value.yaml"
    )
    assert [by_name[("Task", "build-and-push-image-test-pipeline")]] == golden(
        "predefined-task/build-and-push-image-default.yaml"
    )
    assert objects[-3:] == golden("trigger/default.yaml")
    assert objects[0]["secrets"] == [{"name": "chain-credentials", "namespace": "kurator-pipeline"}]


def test_pipeline_without_image_task_has_no_chain_credentials() -> None:
    text = COMPREHENSIVE.split("    - name: go-lint")[0]
    objects, diagnostics = compiled(text)
    assert diagnostics == []
    assert "secrets" not in objects[0]
    assert len(objects[-4]["spec"]["workspaces"]) == 2


def test_retries_and_shared_workspace() -> None:
    text = (
        COMPREHENSIVE.replace(
            "predefinedTask: {name: go-test}", "predefinedTask: {name: go-test}\n      retries: 2"
        )
        + "  sharedWorkspace: {storageRequest: 500Mi, storageClassName: manual}\n"
    )
    objects, _ = compiled(text)
    pipeline = next(o for o in objects if o["kind"] == "Pipeline")
    (go_test,) = [t for t in pipeline["spec"]["tasks"] if t["name"] == "go-test"]
    assert go_test["retries"] == 2
    claim = objects[-3]["spec"]["resourceTemplates"][0]["spec"]["workspaces"][0]
    assert claim["volumeClaimTemplate"]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "500Mi"}},
        "storageClassName": "manual",
    }


# --- error and warning paths --------------------------------------------------------------

HEAD = "apiVersion: pipeline.kurator.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
CLONE = "  tasks:\n    - name: git-clone\n      predefinedTask: {name: git-clone}\n"


def only_error(text: str) -> Any:
    objects, diagnostics = compiled(text)
    assert objects == []
    (error,) = errors(diagnostics)
    return error


def test_missing_git_clone_is_an_error() -> None:
    error = only_error(
        HEAD + "  tasks:\n    - name: go-test\n      predefinedTask: {name: go-test}\n"
    )
    assert "needs a `git-clone` task" in error.message
    assert error.location.pointer == "/spec/tasks"


def test_git_clone_as_custom_task_is_an_error() -> None:
    text = HEAD + "  tasks:\n    - name: git-clone\n      customTask: {image: alpine}\n"
    objects, diagnostics = compiled(text)
    assert objects == []
    assert any("must be the predefined git-clone task" in d.message for d in diagnostics)


def test_predefined_task_named_otherwise_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "    - name: unit\n      predefinedTask: {name: go-test}\n")
    assert "name the task 'go-test'" in error.message
    assert error.location.pointer == "/spec/tasks/1/name"


def test_unknown_template_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "    - name: x\n      predefinedTask: {name: rust-test}\n")
    assert "unknown predefined task 'rust-test'" in error.message


def test_both_or_neither_task_kind_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "    - name: x\n")
    assert "exactly one of predefinedTask and customTask" in error.message


def test_duplicate_task_name_is_an_error() -> None:
    error = only_error(
        HEAD + CLONE + "    - name: git-clone\n      predefinedTask: {name: git-clone}\n"
    )
    assert "used twice" in error.message


def test_task_without_name_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "    - customTask: {image: alpine}\n")
    assert "needs a name" in error.message


def test_custom_task_without_image_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "    - name: x\n      customTask: {command: [ls]}\n")
    assert "needs an image" in error.message


def test_negative_retries_is_an_error() -> None:
    error = only_error(
        HEAD + CLONE + "    - name: x\n      retries: -1\n      customTask: {image: a}\n"
    )
    assert error.location.pointer == "/spec/tasks/1/retries"


def test_non_string_param_is_an_error() -> None:
    text = (
        HEAD
        + CLONE
        + "    - name: go-test\n      predefinedTask: {name: go-test, params: {version: 1.20}}\n"
    )
    error = only_error(text)
    assert "must be a string" in error.message
    assert error.location.pointer == "/spec/tasks/1/predefinedTask/params/version"


def test_bad_storage_request_is_an_error() -> None:
    error = only_error(HEAD + CLONE + "  sharedWorkspace: {storageRequest: 1G}\n")
    assert error.location.pointer == "/spec/sharedWorkspace/storageRequest"


def single_warning(text: str) -> Any:
    objects, diagnostics = compiled(text)
    assert objects
    (warning,) = warnings_of(diagnostics)
    assert errors(diagnostics) == []
    return warning


def test_param_the_template_ignores_warns() -> None:
    """The docs name build-and-push-image's params IMAGE, ...; its template reads `image`."""
    text = (
        HEAD
        + CLONE
        + (
            "    - name: build-and-push-image\n      predefinedTask:\n"
            '        name: build-and-push-image\n        params: {IMAGE: "ghcr.io/a/b:1"}\n'
        )
    )
    warning = single_warning(text)
    assert "does not read param 'IMAGE'" in warning.message


def git_clone_with(params: str) -> str:
    return HEAD + (
        "  tasks:\n    - name: git-clone\n      predefinedTask:\n        name: git-clone\n"
        f"        params: {params}\n"
    )


def test_git_clone_secret_param_naming_the_mounted_secret_is_silent() -> None:
    """Kurator's pipeline guide passes `git-secret-name: git-credentials`: the API documents
    the param (apis/pipeline/v1alpha1 type.go GitClone) and render/trigger.go always mounts
    the Secret git-credentials, so nothing is lost."""
    objects, diagnostics = compiled(git_clone_with("{git-secret-name: git-credentials}"))
    assert objects
    assert diagnostics == []


def test_git_clone_secret_param_naming_another_secret_warns() -> None:
    warning = single_warning(git_clone_with("{git-secret-name: my-git}"))
    assert warning.message == (
        "Kurator's API documents git-clone's param git-secret-name, but its trigger always "
        "mounts the Secret 'git-credentials' (render/trigger.go); 'my-git' is ignored: name "
        "the Secret git-credentials"
    )
    assert warning.location.pointer == "/spec/tasks/0/predefinedTask/params/git-secret-name"
    assert (warning.location.line, warning.location.column) == (9, 18)


def test_git_clone_other_params_are_ignored_with_a_warning() -> None:
    warning = single_warning(git_clone_with("{depth: '1'}"))
    assert warning.message == (
        "Kurator's git-clone template does not read param 'depth'; it is ignored (params it "
        "reads: none)"
    )


def test_quote_in_quoted_param_warns() -> None:
    text = (
        HEAD
        + CLONE
        + (
            "    - name: go-test\n"
            "      predefinedTask: {name: go-test, params: {flags: '-run \"X\"'}}\n"
        )
    )
    assert "double quotes" in single_warning(text).message


def test_value_that_rereads_differently_warns() -> None:
    text = (
        HEAD
        + CLONE
        + "    - name: x\n      customTask: {image: a, env: [{name: DEBUG, value: 'true'}]}\n"
    )
    warning = single_warning(text)
    assert "unquoted" in warning.message
    assert warning.location.pointer == "/spec/tasks/1/customTask/env/0/value"


def test_env_value_from_warns() -> None:
    text = (
        HEAD
        + CLONE
        + (
            "    - name: x\n      customTask:\n        image: a\n"
            "        env: [{name: T, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n"
        )
    )
    assert "valueFrom is dropped" in single_warning(text).message


def test_multi_line_script_warns() -> None:
    text = (
        HEAD
        + CLONE
        + (
            "    - name: x\n      customTask:\n        image: a\n"
            "        script: |\n          echo a\n          echo b\n"
        )
    )
    objects, diagnostics = compiled(text)
    (warning,) = diagnostics
    assert "multi-line" in warning.message
    (task,) = [o for o in objects if o["metadata"]["name"] == "x-p"]
    assert task["spec"]["steps"][0]["script"] == "echo a\necho b\n"


def test_partial_resources_warn_and_fill_zero() -> None:
    text = (
        HEAD
        + CLONE
        + (
            "    - name: x\n      customTask:\n        image: a\n"
            "        resourceRequirements: {limits: {memory: 1Gi, nvidia.com/gpu: 1}}\n"
        )
    )
    objects, diagnostics = compiled(text)
    (warning,) = diagnostics
    assert "dropped: nvidia.com/gpu" in warning.message
    assert "set to 0: cpu" in warning.message
    (task,) = [o for o in objects if o["metadata"]["name"] == "x-p"]
    assert task["spec"]["steps"][0]["resources"] == {"limits": {"cpu": 0, "memory": "1Gi"}}
