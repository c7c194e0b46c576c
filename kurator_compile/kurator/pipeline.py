"""Kurator's `pipeline.kurator.dev/v1alpha1` Pipeline -> the Tekton objects Kurator's
fleet-manager creates on the host, in the Pipeline's namespace (upstream
`pkg/fleet-manager/pipeline/controller.go` and `render/`): a ServiceAccount with its RoleBinding
and ClusterRoleBinding, one Task per pipeline task, the Pipeline, and a GitHub push trigger
(TriggerTemplate, TriggerBinding, EventListener).

Upstream renders text templates and reads the text back as YAML. The fixed parts of those
objects (and the predefined Tekton tasks) are carried as upstream data in `pipeline_data/`;
the per-pipeline parts are built here. Deliberate differences:
- no ownerReferences (no UID offline);
- the ClusterRoleBinding has no `metadata.namespace` (it is cluster-scoped; upstream writes one
  the API server drops);
- the ServiceAccount lists the `chain-credentials` secret when a build-and-push-image task
  exists, as Kurator's docs describe (upstream compares the task name with the template's text,
  so it never does);
- a custom task without resources has no `resources` key (upstream writes `resources: null`);
- user values are kept as the strings they are; where upstream's unquoted or single-line
  template would read them back differently (or fail), the compile warns.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import Diagnostic
from ..fields import as_dict, as_list
from ..yamldoc import Document
from .inventory import HOST, Generated, KuratorInputs

GIT_CLONE = "git-clone"
BUILD_PUSH_IMAGE = "build-and-push-image"
SHARED_WORKSPACE = "kurator-pipeline-shared-data"
DOCKER_WORKSPACE = "docker-credentials"
DOCKER_TASK_WORKSPACE = "dockerconfig"
CHAIN_CREDENTIALS = "chain-credentials"
TEKTON_TRIGGERS = "triggers.tekton.dev/v1alpha1"
GIT_SECRET = "git-credentials"  # the Secret Kurator's trigger mounts for git-clone, always
STORAGE_REQUEST = re.compile(r"^[0-9]+(\.[0-9]+)?(Gi|Mi)$")  # the Pipeline CRD's pattern

# The user's `predefinedTask.params` keys each template reads, and the Task param whose
# default each one replaces (an empty value keeps the template's default).
TEMPLATE_PARAMS: Mapping[str, Mapping[str, str]] = {
    GIT_CLONE: {},
    "go-test": {
        key: key
        for key in (
            "package",
            "packages",
            "context",
            "version",
            "flags",
            "GOOS",
            "GOARCH",
            "GO111MODULE",
            "GOCACHE",
            "GOMODCACHE",
        )
    },
    "go-lint": {
        key: key
        for key in (
            "package",
            "context",
            "flags",
            "version",
            "GOOS",
            "GOARCH",
            "GO111MODULE",
            "GOCACHE",
            "GOMODCACHE",
            "GOLANGCI_LINT_CACHE",
        )
    },
    BUILD_PUSH_IMAGE: {
        "image": "IMAGE",
        "dockerfile": "DOCKERFILE",
        "context": "CONTEXT",
        "extra_args": "EXTRA_ARGS",
        "builder_image": "BUILDER_IMAGE",
    },
}
# Templates that write the user's value unquoted, so YAML reads it (`[a, b]` is a list).
UNQUOTED_TEMPLATES = frozenset({BUILD_PUSH_IMAGE})


@functools.cache
def _data(name: str) -> Any:
    text = resources.files(__package__).joinpath("pipeline_data", f"{name}.yaml").read_text()
    return YAML(typ="safe").load(text)


def _fresh(name: str, key: str = "") -> dict[str, Any]:
    """A private copy of a data file (or one of its top-level entries)."""
    data = as_dict(_data(name))
    return copy.deepcopy(as_dict(data[key]) if key else data)


def _reread(text: str) -> Any:
    """What YAML makes of `text` written unquoted after a key, as upstream's templates do;
    the text itself when that is not valid YAML (upstream would fail to render)."""
    try:
        return as_dict(YAML(typ="safe").load(f"v: {text}\n")).get("v", text)
    except YAMLError:
        return text


def _meta(name: str, namespace: str | None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace} if namespace is not None else {"name": name}


def task_object_name(task: str, pipeline: str) -> str:
    """Upstream `generatePipelineTaskName`: Tasks of two pipelines never share a name."""
    return f"{task}-{pipeline}"


def rbac_objects(pipeline: str, namespace: str, chain_credentials: bool) -> list[dict[str, Any]]:
    """Upstream `RenderRBAC`: the ServiceAccount the trigger runs pipelines as, bound to the
    roles Tekton Triggers ships for event listeners."""
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(pipeline, namespace),
    }
    if chain_credentials:
        account["secrets"] = [{"name": CHAIN_CREDENTIALS, "namespace": namespace}]
    subjects = [{"kind": "ServiceAccount", "name": pipeline, "namespace": namespace}]
    bindings = [
        ("RoleBinding", namespace, "tekton-triggers-eventlistener-roles"),
        ("ClusterRoleBinding", None, "tekton-triggers-eventlistener-clusterroles"),
    ]
    return [account] + [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": _meta(pipeline, binding_namespace),
            "subjects": copy.deepcopy(subjects),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
        }
        for kind, binding_namespace, role in bindings
    ]


def predefined_task(
    template: str, pipeline: str, namespace: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """Upstream `RenderPredefinedTask`: the template's Task, named after the template, with
    the user's params as the defaults of the Task params they set."""
    task = _fresh(template)
    task["metadata"] = {
        "name": task_object_name(template, pipeline),
        "namespace": namespace,
        **task.get("metadata", {}),  # the template's labels and annotations
    }
    by_name = {param["name"]: param for param in task["spec"].get("params", [])}
    for key, target in TEMPLATE_PARAMS[template].items():
        given = params.get(key)
        if given:
            by_name[target]["default"] = _reread(given) if template in UNQUOTED_TEMPLATES else given
    return task


def custom_task(
    task_name: str, pipeline: str, namespace: str, spec: Mapping[str, Any]
) -> dict[str, Any]:
    """Upstream `RenderCustomTask`: a one-step Task on the shared `source` workspace."""
    name = task_object_name(task_name, pipeline)
    step: dict[str, Any] = {"name": name, "image": spec.get("image")}
    env = [
        {"name": e.get("name"), **({"value": e["value"]} if e.get("value") else {})}
        for e in (as_dict(item) for item in as_list(spec.get("env")))
    ]
    if env:
        step["env"] = env
    for field in ("command", "args"):
        if as_list(spec.get(field)):
            step[field] = list(spec[field])
    script = spec.get("script")
    if isinstance(script, str) and script:
        step["script"] = script.rstrip("\n") + "\n"  # a `|` block keeps one final newline
    requirements = _resources(as_dict(spec.get("resourceRequirements")))
    if requirements:
        step["resources"] = requirements
    task = _fresh("skeletons", "customTask")
    task["metadata"] = {"name": name, "namespace": namespace}
    task["spec"]["steps"] = [step]
    return task


def _resources(requirements: Mapping[str, Any]) -> dict[str, Any]:
    """Upstream renders only cpu and memory, and a missing one of the two as 0."""
    rendered: dict[str, Any] = {}
    for part in ("requests", "limits"):
        given = as_dict(requirements.get(part))
        if given:
            rendered[part] = {name: _reread(str(given.get(name, 0))) for name in ("cpu", "memory")}
    return rendered


def pipeline_object(pipeline: str, namespace: str, tasks: list[tuple[str, int]]) -> dict[str, Any]:
    """Upstream `RenderPipelineWithPipeline`: git-clone first, then every other task in the
    order written, each after the one before, all on one shared workspace."""
    obj = _fresh("skeletons", "pipeline")
    obj["metadata"] = {"name": pipeline, "namespace": namespace}
    spec = obj["spec"]
    spec["tasks"][0]["taskRef"]["name"] = task_object_name(GIT_CLONE, pipeline)
    last = GIT_CLONE
    for name, retries in tasks:
        if name == GIT_CLONE:
            continue
        workspaces = [{"name": "source", "workspace": SHARED_WORKSPACE}]
        if name == BUILD_PUSH_IMAGE:
            workspaces.append({"name": DOCKER_TASK_WORKSPACE, "workspace": DOCKER_WORKSPACE})
            if len(spec["workspaces"]) == 2:
                spec["workspaces"].append(_fresh("skeletons", "dockerCredentialsWorkspace"))
        entry: dict[str, Any] = {
            "name": name,
            "taskRef": {"name": task_object_name(name, pipeline)},
            "runAfter": [last],
            "workspaces": workspaces,
        }
        if retries > 0:
            entry["retries"] = retries
        spec["tasks"].append(entry)
        last = name
    return obj


def trigger_objects(
    pipeline: str, namespace: str, workspace: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Upstream `RenderTrigger`: a GitHub push starts a PipelineRun on a fresh PVC."""
    claim: dict[str, Any] = {
        "accessModes": [workspace.get("accessMode") or "ReadWriteOnce"],
        "resources": {"requests": {"storage": workspace.get("storageRequest") or "1Gi"}},
    }
    if workspace.get("volumeMode"):
        claim["volumeMode"] = workspace["volumeMode"]
    if workspace.get("storageClassName"):
        claim["storageClassName"] = workspace["storageClassName"]
    run = {
        "apiVersion": "tekton.dev/v1beta1",
        "kind": "PipelineRun",
        "metadata": {"generateName": f"{pipeline}-run-", "namespace": "$(tt.params.namespace)"},
        "spec": {
            "serviceAccountName": pipeline,
            "pipelineRef": {"name": pipeline},
            "params": [
                {"name": "revision", "value": "$(tt.params.gitrevision)"},
                {"name": "repo-url", "value": "$(tt.params.gitrepositoryurl)"},
            ],
            "workspaces": [
                {"name": SHARED_WORKSPACE, "volumeClaimTemplate": {"spec": claim}},
                {"name": "git-credentials", "secret": {"secretName": GIT_SECRET}},
                {"name": DOCKER_WORKSPACE, "secret": {"secretName": DOCKER_WORKSPACE}},
            ],
        },
    }
    template = {
        "apiVersion": TEKTON_TRIGGERS,
        "kind": "TriggerTemplate",
        "metadata": _meta(f"{pipeline}-triggertemplate", namespace),
        "spec": {
            "params": [
                {"name": "gitrevision", "description": "The git revision"},
                {"name": "gitrepositoryurl", "description": "The git repository url"},
                {"name": "namespace", "description": "The namespace to create the resources"},
            ],
            "resourceTemplates": [run],
        },
    }
    binding = {
        "apiVersion": TEKTON_TRIGGERS,
        "kind": "TriggerBinding",
        "metadata": _meta(f"{pipeline}-triggerbinding", namespace),
        "spec": {
            "params": [
                {"name": "gitrevision", "value": "$(body.head_commit.id)"},
                {"name": "namespace", "value": namespace},
                {
                    "name": "gitrepositoryurl",
                    "value": "https://github.com/$(body.repository.full_name)",
                },
            ]
        },
    }
    listener = {
        "apiVersion": TEKTON_TRIGGERS,
        "kind": "EventListener",
        "metadata": _meta(f"{pipeline}-listener", namespace),
        "spec": {
            "serviceAccountName": pipeline,
            "triggers": [
                {
                    "bindings": [{"ref": f"{pipeline}-triggerbinding"}],
                    "template": {"ref": f"{pipeline}-triggertemplate"},
                }
            ],
        },
    }
    return [template, binding, listener]


def compile_pipeline(inputs: KuratorInputs) -> tuple[list[Generated], list[Diagnostic]]:
    """Upstream `PipelineManager.reconcile`: RBAC, Tasks, Pipeline and trigger, in that order,
    on the host in the Pipeline's namespace."""
    generated: list[Generated] = []
    diagnostics: list[Diagnostic] = []
    for doc in inputs.documents.get("Pipeline", ()):
        objects, found = _compile_one(doc)
        diagnostics.extend(found)
        if not any(d.is_error for d in found):
            generated.extend(Generated(HOST, obj, doc) for obj in objects)
    return generated, diagnostics


def _compile_one(doc: Document) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    metadata = as_dict(as_dict(doc.data).get("metadata"))
    name = str(metadata.get("name") or "")
    namespace = str(metadata.get("namespace") or "default")
    spec = as_dict(as_dict(doc.data).get("spec"))
    diagnostics: list[Diagnostic] = []
    tasks: list[dict[str, Any]] = []
    order: list[tuple[str, int]] = []
    seen: set[str] = set()
    has_clone = build_push = False
    for index, raw in enumerate(as_list(spec.get("tasks"))):
        where = f"/spec/tasks/{index}"
        task = as_dict(raw)
        task_name = task.get("name")
        if not isinstance(task_name, str) or not task_name:
            diagnostics.append(Diagnostic.error("a task needs a name", doc.locate(where)))
            continue
        if task_name in seen:
            diagnostics.append(
                Diagnostic.error(
                    f"task name {task_name!r} is used twice; Kurator names each Task "
                    f"{task_object_name(task_name, name)!r} after it",
                    doc.locate(f"{where}/name"),
                )
            )
            continue
        seen.add(task_name)
        retries = task.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            diagnostics.append(
                Diagnostic.error("retries must be a whole number", doc.locate(f"{where}/retries"))
            )
            continue
        predefined, custom = task.get("predefinedTask"), task.get("customTask")
        if (predefined is None) == (custom is None):
            diagnostics.append(
                Diagnostic.error(
                    f"task {task_name!r} must set exactly one of predefinedTask and customTask",
                    doc.locate(where),
                )
            )
            continue
        if predefined is not None:
            made, found = _predefined(doc, where, task_name, as_dict(predefined), name, namespace)
            has_clone = has_clone or task_name == GIT_CLONE
            build_push = build_push or task_name == BUILD_PUSH_IMAGE
        else:
            made, found = _custom(doc, where, task_name, as_dict(custom), name, namespace)
        diagnostics.extend(found)
        if made is not None:
            tasks.append(made)
            order.append((task_name, retries))
    if not has_clone:
        diagnostics.append(
            Diagnostic.error(
                "the Pipeline needs a `git-clone` task (predefinedTask git-clone): Kurator's "
                f"pipeline always starts with it and refers to Task "
                f"{task_object_name(GIT_CLONE, name)!r}",
                doc.locate("/spec/tasks"),
            )
        )
    workspace = as_dict(spec.get("sharedWorkspace"))
    request = workspace.get("storageRequest")
    if request is not None and not (isinstance(request, str) and STORAGE_REQUEST.match(request)):
        diagnostics.append(
            Diagnostic.error(
                f"storageRequest must be a number of Gi or Mi, such as 1Gi (got {request!r})",
                doc.locate("/spec/sharedWorkspace/storageRequest"),
            )
        )
    objects = [
        *rbac_objects(name, namespace, build_push),
        *tasks,
        pipeline_object(name, namespace, order),
        *trigger_objects(name, namespace, workspace),
    ]
    return objects, diagnostics


def _predefined(
    doc: Document,
    where: str,
    task_name: str,
    predefined: dict[str, Any],
    pipeline: str,
    namespace: str,
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    template = predefined.get("name")
    if not isinstance(template, str) or template not in TEMPLATE_PARAMS:
        known = ", ".join(TEMPLATE_PARAMS)
        return None, [
            Diagnostic.error(
                f"unknown predefined task {template!r} (known: {known})",
                doc.locate(f"{where}/predefinedTask/name"),
            )
        ]
    if template != task_name:
        return None, [
            Diagnostic.error(
                f"task {task_name!r} uses predefined task {template!r}: Kurator names the Task "
                f"{task_object_name(template, pipeline)!r} but its Pipeline refers to "
                f"{task_object_name(task_name, pipeline)!r}; name the task {template!r}",
                doc.locate(f"{where}/name"),
            )
        ]
    diagnostics: list[Diagnostic] = []
    params: dict[str, str] = {}
    read = TEMPLATE_PARAMS[template]
    for key, value in as_dict(predefined.get("params")).items():
        at = doc.locate(f"{where}/predefinedTask/params/{key}")
        if not isinstance(value, str):
            diagnostics.append(
                Diagnostic.error(f"param {key!r} must be a string (quote it): {value!r}", at)
            )
            continue
        if template == "git-clone" and key == "git-secret-name":
            # Documented (apis/pipeline/v1alpha1 type.go GitClone), but render/trigger.go always
            # mounts the Secret git-credentials: only another name is lost.
            if value != GIT_SECRET:
                diagnostics.append(
                    Diagnostic.warning(
                        f"Kurator's API documents git-clone's param git-secret-name, but its "
                        f"trigger always mounts the Secret {GIT_SECRET!r} (render/trigger.go); "
                        f"{value!r} is ignored: name the Secret {GIT_SECRET}",
                        at,
                    )
                )
            continue
        if key not in read:
            readable = ", ".join(read) or "none"
            diagnostics.append(
                Diagnostic.warning(
                    f"Kurator's {template} template does not read param {key!r}; it is "
                    f"ignored (params it reads: {readable})",
                    at,
                )
            )
            continue
        if template not in UNQUOTED_TEMPLATES and ('"' in value or "\\" in value):
            diagnostics.append(
                Diagnostic.warning(
                    f"Kurator writes param {key!r} between double quotes without escaping; "
                    "a quote or backslash in it breaks or changes the rendered Task",
                    at,
                )
            )
        params[key] = value
    return predefined_task(template, pipeline, namespace, params), diagnostics


def _custom(
    doc: Document,
    where: str,
    task_name: str,
    custom: dict[str, Any],
    pipeline: str,
    namespace: str,
) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    at = f"{where}/customTask"
    if task_name == GIT_CLONE:
        return None, [
            Diagnostic.error(
                "the git-clone task must be the predefined git-clone task: the Pipeline "
                "passes it the repository url, revision and git credentials",
                doc.locate(at),
            )
        ]
    image = custom.get("image")
    if not isinstance(image, str) or not image:
        return None, [Diagnostic.error("a customTask needs an image", doc.locate(at))]
    diagnostics: list[Diagnostic] = []
    texts: list[tuple[str, object]] = [("/image", image)]
    for field in ("command", "args"):
        texts.extend((f"/{field}/{i}", v) for i, v in enumerate(as_list(custom.get(field))))
    for i, env in enumerate(as_list(custom.get("env"))):
        texts.append((f"/env/{i}/value", as_dict(env).get("value")))
        if as_dict(env).get("valueFrom") is not None:
            diagnostics.append(
                Diagnostic.warning(
                    "Kurator's custom task renders only an env var's name and value; "
                    "valueFrom is dropped",
                    doc.locate(f"{at}/env/{i}/valueFrom"),
                )
            )
    for pointer, text in texts:
        if isinstance(text, str) and text and _reread(text) != text:
            diagnostics.append(
                Diagnostic.warning(
                    f"Kurator writes {text!r} unquoted into its Task template, where YAML "
                    "does not read it back as this string (the Task would be refused or "
                    "differ); compiled as the string",
                    doc.locate(at + pointer),
                )
            )
    script = custom.get("script")
    if isinstance(script, str) and "\n" in script.strip("\n"):
        diagnostics.append(
            Diagnostic.warning(
                "Kurator's template indents only the first line of a script, so its "
                "controller cannot render a multi-line script; compiled as written",
                doc.locate(f"{at}/script"),
            )
        )
    requirements = as_dict(custom.get("resourceRequirements"))
    for part in ("requests", "limits"):
        given = as_dict(requirements.get(part))
        dropped = sorted(set(given) - {"cpu", "memory"})
        missing = [n for n in ("cpu", "memory") if given and n not in given]
        if dropped or missing:
            diagnostics.append(
                Diagnostic.warning(
                    f"Kurator renders only cpu and memory {part}"
                    + (f"; dropped: {', '.join(dropped)}" if dropped else "")
                    + (f"; set to 0: {', '.join(missing)}" if missing else ""),
                    doc.locate(f"{at}/resourceRequirements/{part}"),
                )
            )
    return custom_task(task_name, pipeline, namespace, custom), diagnostics
