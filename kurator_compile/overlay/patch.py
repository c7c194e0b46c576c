"""kustomize `patches:` entries: telling the two patch kinds apart and applying one to objects."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..yamldoc import Document, load_stream
from .errors import PatchError
from .jsonpatch import json_patch
from .schema import Schema
from .schema_comments import comment_schemas
from .strategic import strategic_merge
from .target import compile_target, identity_matches, scalar_text, split_api_version

__all__ = [
    "JsonPatch",
    "Patch",
    "StrategicMergePatch",
    "apply_patch",
    "check_entry",
    "parse_patch",
    "patch_object",
    "read_entry",
]

# Build annotations kustomize puts on every object while a JSON patch runs (StorePreviousId)
# and strips from its output; a patch can see, test and remove them.
_PREVIOUS = "internal.config.kubernetes.io/previous"


@dataclass(frozen=True)
class StrategicMergePatch:
    """One or more strategic-merge documents, each naming its target by kind and name, with
    the field schemas its comments give (`schema_comments`; empty when it has none)."""

    documents: tuple[dict[str, Any], ...]
    schemas: tuple[Mapping[str, Schema], ...] = ()

    def schemas_of(self, index: int) -> Mapping[str, Schema]:
        return self.schemas[index] if self.schemas else {}


@dataclass(frozen=True)
class JsonPatch:
    """RFC 6902 operations; kustomize requires a `target` to apply them."""

    operations: tuple[dict[str, Any], ...]


Patch = StrategicMergePatch | JsonPatch


def parse_patch(source: str | Mapping[str, Any] | Sequence[Any], *, file: str = "<patch>") -> Patch:
    """Classify a patch as kustomize's PatchTransformer does.

    The text is read both ways: as strategic merge (every YAML document a map with `kind` and
    `metadata.name`, no null list items) and as a JSON patch (the first document a list of
    operation maps). Exactly one reading must succeed: `[]` or an empty text qualifies as both
    and is refused, as is text that is neither. Already-parsed input follows the same rule: a
    map is a strategic-merge document and a list is JSON patch operations. Invalid YAML raises
    the loader's CompileError.
    """
    stream: list[Document] = []
    if isinstance(source, str):
        stream = load_stream(source, file)
        documents = [d.data for d in stream]
        as_json = documents[0] if documents else None
    elif isinstance(source, Mapping):
        documents, as_json = [dict(source)], dict(source)
    else:
        documents, as_json = [list(source)], list(source)
    smp, smp_error = _as_strategic(documents)
    ops, json_error = _as_json(as_json)
    if smp is not None and ops is not None:
        raise PatchError("patch illegally qualifies as both an SM and JSON patch")
    if smp is not None:
        schemas = (
            _aligned(documents, comment_schemas(source, stream)) if isinstance(source, str) else ()
        )
        return StrategicMergePatch(tuple(smp), schemas)
    if ops is not None:
        return JsonPatch(tuple(ops))
    raise PatchError(f"unable to parse SM or JSON patch: {smp_error}; {json_error}")


def read_entry(
    source: str | Mapping[str, Any] | Sequence[Any],
    target: Mapping[str, Any] | None,
    *,
    file: str = "<patch>",
) -> Patch:
    """The patch of one `patches:` entry, checked as kustomize checks the entry.

    A map patch with a target needs no kind or name of its own (the target names the objects).
    PatchError for an entry kustomize refuses (`check_entry`).
    """
    try:
        patch = parse_patch(source, file=file)
    except PatchError:
        loaded: Any = source
        schemas: tuple[Mapping[str, Schema], ...] = ()
        if isinstance(source, str):
            stream = load_stream(source, file)
            loaded = stream[0].data if len(stream) == 1 else None
            schemas = tuple(comment_schemas(source, stream))
        if target is None or not isinstance(loaded, dict):
            raise
        patch = StrategicMergePatch((loaded,), schemas)
    check_entry(patch, target)
    return patch


def _aligned(
    documents: Sequence[Any], schemas: Sequence[Mapping[str, Schema]]
) -> tuple[Mapping[str, Schema], ...]:
    """The comment schemas of each strategic-merge document `_as_strategic` keeps."""
    if not any(schemas):
        return ()
    aligned: list[Mapping[str, Schema]] = []
    for document, found in zip(documents, schemas, strict=True):
        if document in (None, {}, []):
            continue
        items = document.get("items")
        if str(document.get("kind")).endswith("List") and isinstance(items, list):
            if found:
                raise PatchError("schema comments in a List patch are not modelled")
            aligned.extend({} for i in items if isinstance(i, dict))
            continue
        aligned.append(found)
    return tuple(aligned)


def _as_strategic(documents: list[Any]) -> tuple[list[dict[str, Any]] | None, str]:
    found: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document in (None, {}, []):
            continue
        if not isinstance(document, dict):
            return None, f"document {index} is not a map"
        kind = document.get("kind")
        if not isinstance(kind, str) or not kind:
            return None, f"missing kind in document {index}"
        items = document.get("items")
        if kind.endswith("List") and isinstance(items, list):
            found.extend(i for i in items if isinstance(i, dict))
            continue
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if name in (None, "", {}, []):
            return None, f"missing metadata.name in document {index}"
        if _has_null_item(document):
            return None, f"empty item in a list of document {index}"
        found.append(document)
    return found, ""


def _has_null_item(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_has_null_item(v) for v in node.values())
    if isinstance(node, list):
        return any(item is None or _has_null_item(item) for item in node)
    return False


def _as_json(document: Any) -> tuple[list[dict[str, Any]] | None, str]:
    if document is None:
        return [], ""  # an empty text reads as an empty JSON patch
    if not isinstance(document, list):
        return None, "a JSON patch is a list of operations"
    if not all(isinstance(op, dict) or op is None for op in document):
        return None, "every JSON patch operation must be a map"
    return [op or {} for op in document], ""


def check_entry(patch: Patch, target: Mapping[str, Any] | None) -> None:
    """PatchError for the `patches:` entries kustomize refuses whatever the objects: a JSON
    patch without a target, several strategic-merge documents with one."""
    if isinstance(patch, JsonPatch) and target is None:
        raise PatchError("must specify a target for a JSON patch")
    if isinstance(patch, StrategicMergePatch) and target is not None and len(patch.documents) > 1:
        raise PatchError(
            "multiple strategic-merge patches in one `patches` entry cannot set a target"
        )


def apply_patch(
    resources: Sequence[dict[str, Any]],
    patch: Patch,
    target: Mapping[str, Any] | None = None,
    *,
    allow_name_change: bool = False,
    allow_kind_change: bool = False,
) -> list[dict[str, Any]]:
    """The objects after one kustomize `patches:` entry, in their order; deleted ones dropped.

    A strategic-merge patch without `target` applies to the one object with its group,
    version, kind, name and namespace (PatchError if none or several match); with `target`,
    to every selected object, and then it may hold a single document. A JSON patch needs a
    target. Objects the entry does not select are returned as they are.
    """
    check_entry(patch, target)
    options = {"allow_name_change": allow_name_change, "allow_kind_change": allow_kind_change}
    if target is not None:
        selects = compile_target(target).matches
        found = [
            patch_object(r, patch, targeted=True, **options) if selects(r) else r for r in resources
        ]
        return [r for r in found if r is not None]
    assert isinstance(patch, StrategicMergePatch)
    result: list[dict[str, Any] | None] = list(resources)
    for index, document in enumerate(patch.documents):
        matches = [
            i for i, r in enumerate(result) if r is not None and identity_matches(r, document)
        ]
        if len(matches) != 1:
            found_text = "no resource matches" if not matches else "several resources match"
            raise PatchError(f"{found_text} strategic merge patch {_describe(document)}")
        found_obj = result[matches[0]]
        assert found_obj is not None
        result[matches[0]] = strategic_merge(
            found_obj, document, schemas=patch.schemas_of(index), **options
        )
    return [r for r in result if r is not None]


def patch_object(
    obj: dict[str, Any],
    patch: Patch,
    *,
    targeted: bool,
    allow_name_change: bool = False,
    allow_kind_change: bool = False,
) -> dict[str, Any] | None:
    """One object after an entry that reaches it: None when the patch deletes it.

    A targeted strategic-merge patch is first made into kustomize's copy for this object
    (`resWrangler.ApplySmPatch`): the object's apiVersion, the patch's own kind, labels and
    annotations written as strings. An untargeted one applies the documents that name the
    object, in turn. A JSON patch may change the object's kind, name and namespace.
    """
    options = {"allow_name_change": allow_name_change, "allow_kind_change": allow_kind_change}
    if isinstance(patch, JsonPatch):
        return _json_patch_object(obj, patch.operations)
    current: dict[str, Any] | None = obj
    for index, document in enumerate(patch.documents):
        if current is None:
            return None
        schemas = patch.schemas_of(index)
        if targeted:
            document = _targeted_copy(document, current)
        elif not identity_matches(current, document):
            continue
        current = strategic_merge(current, document, schemas=schemas, **options)
    return current


def _targeted_copy(document: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """The patch as kustomize merges it into one selected object. Its labels and annotations
    go through Go string maps: every value becomes its YAML text, except that a null stays a
    null (kustomize writes the text "null", an open bug listed in the README)."""
    copy_doc = dict(document)
    copy_doc["apiVersion"] = _api_version(obj)
    metadata = copy_doc.get("metadata")
    if isinstance(metadata, dict):
        metadata = dict(metadata)
        for field in ("labels", "annotations"):
            values = metadata.get(field)
            if isinstance(values, dict):
                metadata[field] = {
                    k: None if v is None else _annotation_text(v) for k, v in values.items()
                }
        copy_doc["metadata"] = metadata
    return copy_doc


def _api_version(obj: Mapping[str, Any]) -> str:
    value = obj.get("apiVersion")
    group, version = split_api_version(value if isinstance(value, str) else "")
    return f"{group}/{version}" if group else version


def _describe(document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    namespace = metadata.get("namespace")
    where = f"{namespace}/" if namespace else ""
    return f"{document.get('kind')} {where}{metadata.get('name')}"


def _json_patch_object(obj: dict[str, Any], operations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A JSON patch as kustomize runs it: over the object with its build annotations visible,
    with resource annotations read back as strings and an emptied annotation map dropped."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    annotations = metadata.get("annotations")
    internal = {
        _PREVIOUS + "Kinds": scalar_text(obj.get("kind")),
        _PREVIOUS + "Names": scalar_text(metadata.get("name")),
        _PREVIOUS + "Namespaces": scalar_text(metadata.get("namespace")) or "default",
    }
    visible = dict(annotations) if isinstance(annotations, dict) else {}
    visible.update(internal)
    doc = dict(obj)
    doc["metadata"] = {**metadata, "annotations": visible}
    patched = json_patch(doc, operations, dialect="kustomize")
    if not isinstance(patched, dict):
        raise PatchError("a JSON patch must leave an object, not an array")
    result = copy.copy(patched)
    meta = result.get("metadata")
    if isinstance(meta, dict):
        meta = dict(meta)
        result["metadata"] = meta
        kept = meta.get("annotations")
        if isinstance(kept, list):  # kustomize reads a scalar there as no annotations
            raise PatchError("a JSON patch must not leave metadata.annotations a list")
        kept = {k: _annotation_text(v) for k, v in kept.items()} if isinstance(kept, dict) else {}
        for key in internal:
            kept.pop(key, None)
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations", None)
    named = isinstance(meta, dict) and scalar_text(meta.get("name"))
    if not scalar_text(result.get("kind")) or not named:
        raise PatchError("a JSON patch must leave the object its kind and metadata.name")
    return result


def _annotation_text(value: Any) -> str:
    """An annotation value as kustomize writes it back: the YAML text, `null` included."""
    return "null" if value is None else scalar_text(value)
