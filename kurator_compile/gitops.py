"""Fleet -> the Argo CD and Flux objects that sync each cluster's folder from git."""

from __future__ import annotations

import re
from typing import Any

from .errors import CompileError, Diagnostic
from .model import Fleet, ObjectKey
from .options import Options
from .render import folder_names, object_filename
from .tree import CLUSTERS_DIR, FileTree
from .yamlout import dump_document

ARGOCD_DIR = "argocd"
FLUX_DIR = "flux"
PLUGIN_NAME = "kurator-compile-v1"  # metadata.name + "-" + spec.version of the shipped plugin


def _gitops(fleet: Fleet) -> dict[str, Any]:
    spec = fleet.document.data["spec"]
    value: dict[str, Any] = spec.get("gitops") or {}
    return value


def _cluster_entries(fleet: Fleet) -> list[dict[str, Any]]:
    """Every folder's entry: the member clusters and the host, each synced like the others."""
    spec = fleet.document.data["spec"]
    entries = [*(spec.get("clusters") or ()), *member_entries(fleet)]
    if "host" in spec:
        entries.append(spec["host"])
    return sorted(entries, key=lambda e: e["name"])


def member_entries(fleet: Fleet) -> list[dict[str, Any]]:
    """Entries for the members only the Kurator inventory lists (named, with no argocd)."""
    listed = {e["name"] for e in fleet.document.data["spec"].get("clusters") or ()}
    return [{"name": c.name} for c in fleet.clusters if c.name not in listed]


def _destination_field(fleet: Fleet) -> str:
    """`server` when every cluster gives a URL, else `name`; mixing both cannot be templated."""
    with_server = [
        e["name"] for e in _cluster_entries(fleet) if (e.get("argocd") or {}).get("server")
    ]
    if not with_server:
        return "name"
    without = [e["name"] for e in _cluster_entries(fleet) if e["name"] not in with_server]
    if without:
        raise CompileError(
            [
                Diagnostic.error(
                    "spec.gitops.argocd: either every cluster sets argocd.server or none does "
                    f"(set: {', '.join(with_server)}; unset: {', '.join(without)})",
                    fleet.document.locate("/spec/clusters"),
                )
            ]
        )
    return "server"


def _destination(entry: dict[str, Any], field: str) -> str:
    argocd = entry.get("argocd") or {}
    return str(argocd.get(field) or entry["name"])


def _source(fleet: Fleet, fleet_path: str, cluster: str) -> dict[str, Any]:
    gitops = _gitops(fleet)
    argocd = gitops.get("argocd") or {}
    source: dict[str, Any] = {
        "repoURL": gitops["repoURL"],
        "targetRevision": gitops.get("revision", "HEAD"),
    }
    if argocd.get("source", "directory") == "plugin":
        source["path"] = "."
        source["plugin"] = {
            "name": PLUGIN_NAME,
            "env": [
                {"name": "CLUSTER", "value": cluster},
                {"name": "FLEET", "value": fleet_path},
            ],
        }
    else:
        source["path"] = f"{gitops.get('path', 'rendered').rstrip('/')}/{CLUSTERS_DIR}/{cluster}"
    return source


def _sync_policy(argocd: dict[str, Any]) -> dict[str, Any] | None:
    policy: dict[str, Any] = {}
    if "automated" in argocd:
        policy["automated"] = dict(argocd["automated"])
    if argocd.get("syncOptions"):
        policy["syncOptions"] = list(argocd["syncOptions"])
    return policy or None


def _app_spec(
    fleet: Fleet, fleet_path: str, cluster: str, destination: dict[str, str]
) -> dict[str, Any]:
    argocd = _gitops(fleet).get("argocd") or {}
    spec: dict[str, Any] = {
        "project": argocd.get("project", "default"),
        "source": _source(fleet, fleet_path, cluster),
        "destination": {**destination, "namespace": "default"},
    }
    sync = _sync_policy(argocd)
    if sync:
        spec["syncPolicy"] = sync
    return spec


def _labels(fleet: Fleet) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "kurator-compile",
        "compile.kurator.dev/fleet": fleet.name,
    }


def argocd_objects(fleet: Fleet, fleet_path: str) -> list[dict[str, Any]]:
    argocd = _gitops(fleet).get("argocd")
    if argocd is None:
        return []
    namespace = argocd.get("namespace", "argocd")
    field = _destination_field(fleet)
    entries = _cluster_entries(fleet)
    if argocd.get("kind", "ApplicationSet") == "Application":
        return [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": f"{fleet.name}-{entry['name']}",
                    "namespace": namespace,
                    "labels": {**_labels(fleet), "compile.kurator.dev/cluster": entry["name"]},
                },
                "spec": _app_spec(
                    fleet, fleet_path, entry["name"], {field: _destination(entry, field)}
                ),
            }
            for entry in entries
        ]
    elements = [{"cluster": e["name"], "destination": _destination(e, field)} for e in entries]
    template_spec = _app_spec(fleet, fleet_path, "{{.cluster}}", {field: "{{.destination}}"})
    return [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": fleet.name, "namespace": namespace, "labels": _labels(fleet)},
            "spec": {
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [{"list": {"elements": elements}}],
                "template": {
                    "metadata": {
                        "name": f"{fleet.name}-{{{{.cluster}}}}",
                        "labels": {**_labels(fleet), "compile.kurator.dev/cluster": "{{.cluster}}"},
                    },
                    "spec": template_spec,
                },
            },
        }
    ]


_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names
# A revision that names a release: a tag in most repositories, which Flux must be told.
_VERSION_LIKE = re.compile(r"v?[0-9]+(\.[0-9]+)+([-+.][0-9A-Za-z.-]*)?")


def flux_ref(gitops: dict[str, Any]) -> dict[str, str]:
    """The GitRepository's `spec.ref`: `gitops.flux.ref` as written, else what the revision
    unambiguously is (a commit, a full ref name, or a branch)."""
    explicit = (gitops.get("flux") or {}).get("ref")
    if explicit:
        return dict(explicit)
    revision = str(gitops.get("revision", "HEAD"))
    if _COMMIT.fullmatch(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    return {"branch": revision}


def gitops_diagnostics(fleet: Fleet) -> list[Diagnostic]:
    """A revision Flux would read differently from Argo CD: Argo CD resolves a name as a
    branch, tag or commit, Flux checks out `ref.branch` only, and without any ref `master`."""
    gitops = _gitops(fleet)
    flux = gitops.get("flux")
    if flux is None or "ref" in flux:
        return []
    revision = str(gitops.get("revision", "HEAD"))
    pointer = "/spec/gitops/revision" if "revision" in gitops else "/spec/gitops"
    if revision == "HEAD":
        why = "'HEAD' (the default) means the default branch to Argo CD; Flux has no such reference"
        fix = "set spec.gitops.revision to the branch, or spec.gitops.flux.ref: {branch: main}"
    elif _VERSION_LIKE.fullmatch(revision):
        why = f"{revision!r} looks like a tag, and Flux would look for a branch of that name"
        fix = f"set spec.gitops.flux.ref: {{tag: {revision}}} (or {{branch: {revision}}})"
    else:
        return []
    return [Diagnostic.error(f"gitops revision {why}: {fix}", fleet.document.locate(pointer))]


def flux_objects(fleet: Fleet, cluster: str) -> list[dict[str, Any]]:
    """A GitRepository and a Kustomization for the cluster's own Flux to apply."""
    gitops = _gitops(fleet)
    flux = gitops.get("flux")
    if flux is None:
        return []
    namespace = flux.get("namespace", "flux-system")
    ref = flux_ref(gitops)
    kustomization: dict[str, Any] = {
        "interval": flux.get("interval", "10m"),
        "path": f"./{gitops.get('path', 'rendered').strip('/')}/{CLUSTERS_DIR}/{cluster}",
        "prune": flux.get("prune", True),
        "wait": flux.get("wait", False),
        "sourceRef": {"kind": "GitRepository", "name": fleet.name},
    }
    if "timeout" in flux:
        kustomization["timeout"] = flux["timeout"]
    labels = {**_labels(fleet), "compile.kurator.dev/cluster": cluster}
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": fleet.name, "namespace": namespace, "labels": labels},
            "spec": {"interval": flux.get("interval", "10m"), "url": gitops["repoURL"], "ref": ref},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": fleet.name, "namespace": namespace, "labels": labels},
            "spec": kustomization,
        },
    ]


def _key(obj: dict[str, Any]) -> ObjectKey:
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return ObjectKey(group, obj["kind"], meta.get("namespace", ""), meta["name"])


def gitops_tree(fleet: Fleet, fleet_path: str, options: Options) -> FileTree:
    """OUT/argocd/ (written by an unsharded run or shard 1) and OUT/flux/<cluster>/."""
    tree: FileTree = {}
    if options.only_cluster is None and (options.shard is None or options.shard[0] == 1):
        for obj in argocd_objects(fleet, fleet_path):
            tree[f"{ARGOCD_DIR}/{object_filename(_key(obj))}"] = dump_document(obj).encode()
    for cluster in folder_names(fleet, options):
        for obj in flux_objects(fleet, cluster):
            path = f"{FLUX_DIR}/{cluster}/{object_filename(_key(obj))}"
            tree[path] = dump_document(obj).encode()
    return tree
