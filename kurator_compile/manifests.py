"""What a GitOps repository holds besides manifests, read as kubectl would read it: List
documents flattened into their items, and kustomize and Helm files told apart from
Kubernetes objects, so that each gets one error naming what it is instead of a schema error.

Lists follow kubectl's resource builder (cli-runtime's FlattenListVisitor over
apimachinery's unstructured list decoding): a document with a non-null `items` is a list;
lists nest; an empty list yields nothing; an item with neither apiVersion nor kind takes the
list's apiVersion and its kind without the `List` suffix (a ConfigMapList's items are
ConfigMaps; a plain `List` gives them no kind, which is an error).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence

from .errors import Diagnostic, SourceLocation
from .yamldoc import Document

# Top-level fields of a kustomization file (kustomize's types.Kustomization), the most
# telling first, that no Kubernetes object has at its top level: a document without kind
# that sets one is a kustomize file written without its optional apiVersion and kind.
KUSTOMIZE_FIELDS = (
    "resources",
    "bases",
    "components",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "commonAnnotations",
    "images",
    "replicas",
    "helmCharts",
    "generators",
    "transformers",
)
# Those kustomize reads as lists: `resources: {}` (a Helm values file's) is no kustomization.
_LIST_FIELDS = frozenset({"resources", "bases", "components", "patches", "images", "replicas"})
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
# Helm's built-in template objects and functions: a file that uses them is a chart template,
# not a manifest (a Prometheus rule's `{{ $labels.instance }}` is neither).
_HELM_TEMPLATE = re.compile(
    r"\{\{-?\s*(?:[^}]*\.(?:Values|Release|Chart|Capabilities|Files|Template)\b"
    r"|(?:include|template)\s+\")"
)


def _leave_out(path: str) -> str:
    name = posixpath.basename(path)
    return (
        f"kurator-compile reads plain Kubernetes manifests; leave it out with "
        f"'!**/{name}' in the Fleet's resources (or narrow the glob that matched {path})"
    )


def tool_file(path: str, text: str) -> Diagnostic | None:
    """A kustomize or Helm file recognised by its name, or a chart template by its folder and
    text, before it is parsed."""
    name = posixpath.basename(path)
    if name in KUSTOMIZATION_NAMES:
        what = "a kustomize file (kustomization), not a Kubernetes object"
    elif name in ("Chart.yaml", "Chart.yml"):
        what = "a Helm chart's Chart.yaml, not a Kubernetes object"
    elif "templates" in path.split("/")[:-1]:
        return helm_template(path, text)
    else:
        return None
    return Diagnostic.error(f"{path} is {what}: {_leave_out(path)}", SourceLocation(path, 1, 1))


def helm_template(path: str, text: str) -> Diagnostic | None:
    """A Helm chart template, told by Helm's own objects (`.Values`, `.Release`, `include`):
    asked of files in a `templates/` folder and of files YAML cannot read. A manifest that
    reads as YAML elsewhere may carry Go templates in its values (an Alertmanager
    configuration's `{{ template "slack.title" . }}`) and is no chart."""
    match = _HELM_TEMPLATE.search(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start()) + 1
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return Diagnostic.error(
        f"{path} is a Helm chart template ({match.group(0)!r}), not a Kubernetes "
        f"manifest: render the chart with Helm, or let Flux or Argo CD install it; "
        + _leave_out(path),
        SourceLocation(path, line, column),
    )


def document_diagnostic(doc: Document) -> Diagnostic | None:
    """A parsed document that is a kustomize file or Helm values, not an object."""
    data = doc.data
    if not isinstance(data, dict):
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if isinstance(api_version, str) and api_version.startswith(KUSTOMIZE_GROUP + "/"):
        return Diagnostic.error(
            f"{doc.file} is a kustomize file ({api_version} {kind}), not a Kubernetes "
            f"object: {_leave_out(doc.file)}",
            doc.locate("/kind" if "kind" in data else "/apiVersion"),
        )
    if kind is not None or api_version is not None:
        return None
    name = posixpath.basename(doc.file)
    if name.startswith("values") and name.endswith((".yaml", ".yml")):
        return Diagnostic.error(
            f"{doc.file} looks like a Helm chart's values (no apiVersion, no kind), not a "
            f"Kubernetes object: {_leave_out(doc.file)}",
            doc.locate(""),
        )
    fields = [
        field
        for field in KUSTOMIZE_FIELDS
        if field in data and (field not in _LIST_FIELDS or isinstance(data[field], list))
    ]
    if fields and "metadata" not in data:
        return Diagnostic.error(
            f"{doc.file} is a kustomize file (no kind, and the kustomization field "
            f"{fields[0]!r}), not a Kubernetes object: {_leave_out(doc.file)}",
            doc.locate(f"/{fields[0]}"),
        )
    return None


def _item(doc: Document, pointer: str, data: object) -> Document:
    """An item of a list as a document of its own, each node keeping its source position."""
    positions = {
        key[len(pointer) :]: position
        for key, position in doc.positions.items()
        if key == pointer or key.startswith(pointer + "/")
    }
    return Document(doc.file, doc.index, data, positions)


def _flatten(doc: Document) -> Iterator[Document | Diagnostic]:
    data = doc.data
    items = data.get("items")
    if not isinstance(items, list):
        yield Diagnostic.error(
            f"a list ({data.get('kind')!r}) needs `items` to be a list of objects",
            doc.locate("/items"),
        )
        return
    kind = data.get("kind")
    list_version = data.get("apiVersion")
    item_kind = kind.removesuffix("List") if isinstance(kind, str) else ""
    for index, item in enumerate(items):
        pointer = f"/items/{index}"
        if isinstance(item, dict) and "kind" not in item and "apiVersion" not in item:
            if not item_kind:
                yield Diagnostic.error(
                    f"an item of a {kind} needs its own apiVersion and kind (kubectl fills "
                    "them in only for a typed list, such as a ConfigMapList's items)",
                    doc.locate(pointer),
                )
                continue
            item = {"apiVersion": list_version, "kind": item_kind, **item}
        child = _item(doc, pointer, item)
        if is_list(child):
            yield from _flatten(child)
        else:
            yield child


def is_list(doc: Document) -> bool:
    """kubectl's test: an object whose `items` is set is a list."""
    return isinstance(doc.data, dict) and doc.data.get("items") is not None


def expand_lists(docs: Sequence[Document]) -> tuple[list[Document], list[Diagnostic]]:
    """Every list replaced by its items, in order."""
    found: list[Document] = []
    errors: list[Diagnostic] = []
    for doc in docs:
        if not is_list(doc):
            found.append(doc)
            continue
        for part in _flatten(doc):
            if isinstance(part, Diagnostic):
                errors.append(part)
            else:
                found.append(part)
    return found, errors


def file_objects(loaded: Sequence[Document]) -> tuple[list[Document], list[Diagnostic]]:
    """The objects of one parsed file (or one template's render), as kubectl reads them: its
    lists expanded, or one error when it is a kustomize file or Helm values."""
    wrong = next(filter(None, map(document_diagnostic, loaded)), None)
    if wrong is not None:
        return [], [wrong]
    return expand_lists(loaded)
