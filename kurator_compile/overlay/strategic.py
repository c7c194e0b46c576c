"""Strategic merge patch exactly as kustomize v5.5 applies one (kyaml `merge2` over `walk`).

kustomize does not use apimachinery's strategicpatch: it walks the resource and the patch
together with kyaml, taking merge keys from its built-in Kubernetes v1.21.2 OpenAPI and
prepending new list elements. Its results differ from `kubectl patch` in many corners (see
tests/overlay/cases), so this module ports that walk step by step rather than re-deriving
strategic merge from the API conventions. It runs on private deep copies of both inputs,
which it mutates in place as kyaml mutates its nodes: several results depend on that
aliasing (a merged list element is the very node that sits in the original list).
"""

from __future__ import annotations

import contextvars
import copy
import enum
import math
import re
import types
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..yamldoc import pointer_join
from .errors import PatchError
from .schema import Schema, schema_for_kind

__all__ = ["strategic_merge"]

DIRECTIVE: Final = "$patch"


class _Missing:
    """No node at all (a Go nil *RNode), as opposed to an explicit YAML null (None)."""

    def __repr__(self) -> str:
        return "<missing>"


class _KeptNull:
    """A null of the original resource that kyaml keeps (MakePersistentNullNode)."""

    def __repr__(self) -> str:
        return "<kept null>"


MISSING: Final = _Missing()
KEPT_NULL: Final = _KeptNull()

# The patch's comment schemas (schema_comments) by JSON pointer, for the merge under way.
_COMMENT_SCHEMAS: contextvars.ContextVar[Mapping[str, Schema]] = contextvars.ContextVar(
    "comment_schemas", default=types.MappingProxyType({})
)


class _Directive(enum.Enum):
    UNKNOWN = "unknown"
    REPLACE = "replace"
    DELETE = "delete"
    MERGE = "merge"


_KNOWN_DIRECTIVES: Final = {
    "replace": _Directive.REPLACE,
    "delete": _Directive.DELETE,
    "merge": _Directive.MERGE,
}


def strategic_merge(
    obj: dict[str, Any],
    patch: dict[str, Any],
    *,
    allow_name_change: bool = False,
    allow_kind_change: bool = False,
    schemas: Mapping[str, Schema] | None = None,
) -> dict[str, Any] | None:
    """`obj` with the strategic-merge `patch` applied; None when the patch deletes the object.

    Like kustomize's `Resource.ApplySmPatch`, the object keeps its kind, name and namespace
    whatever the patch says, unless the patch entry allows a name or kind change. `schemas`
    are the patch's comment schemas by JSON pointer, which win over the kind's own. Neither
    input is modified.
    """
    name = _meta_field(obj, "name")
    namespace = _meta_field(obj, "namespace")
    kind = obj.get("kind", MISSING)
    kind = kind if _nil_or_empty_text(kind) else ""
    token = _COMMENT_SCHEMAS.set(schemas or {})
    try:
        result = _walk([copy.deepcopy(obj), copy.deepcopy(patch)], None, "")
    finally:
        _COMMENT_SCHEMAS.reset(token)
    if not isinstance(result, dict) or not result:
        return None
    if not allow_kind_change:
        result["kind"] = kind
    if not allow_name_change:
        _metadata(result)["name"] = name
    if namespace != "":
        _metadata(result)["namespace"] = namespace
    elif isinstance(result.get("metadata"), dict):
        result["metadata"].pop("namespace", None)
    return result


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        obj["metadata"] = metadata
    return metadata


def _meta_field(obj: dict[str, Any], key: str) -> Any:
    """The value kyaml's GetMeta reads (empty string when absent or empty)."""
    metadata = obj.get("metadata")
    value = metadata.get(key, MISSING) if isinstance(metadata, dict) else MISSING
    return value if _nil_or_empty_text(value) else ""


# --- node helpers -----------------------------------------------------------------------------


def _is_missing_or_null(node: Any) -> bool:
    return node is MISSING or node is None or node is KEPT_NULL


def _is_tagged_null(node: Any) -> bool:
    return node is None or node is KEPT_NULL


def _is_empty_map(node: Any) -> bool:
    return _is_missing_or_null(node) or (isinstance(node, dict) and not node)


def _raw_text(node: Any) -> str:
    """A node's Value as yaml.v3 holds it: the scalar's text, "" for maps and lists."""
    if node is None or node is KEPT_NULL:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, str):
        return node
    if isinstance(node, int):
        return str(node)
    if isinstance(node, float):
        if math.isnan(node):
            return ".nan"
        if math.isinf(node):
            return ".inf" if node > 0 else "-.inf"
        return repr(node)
    return ""


def _nil_or_empty_text(node: Any) -> str:
    """The Value kyaml reads behind `IsNilOrEmpty`: "" for missing, null, {} and []."""
    if node is MISSING or _is_tagged_null(node) or node == {} or node == []:
        return ""
    return _raw_text(node)


def _get_value(node: Any) -> str:
    return "" if _is_missing_or_null(node) else _raw_text(node)


_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def _resolve_scalar(text: str) -> Any:
    """A plain scalar written as `text` read back (kyaml writes new key fields untagged)."""
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~", ""):
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _kind_name(node: Any) -> str:
    if isinstance(node, dict):
        return "MappingNode"
    if isinstance(node, list):
        return "SequenceNode"
    return "ScalarNode"


def _wrong_kind(expected: str, node: Any, pointer: str) -> PatchError:
    return PatchError(f"wrong node kind: expected {expected} but got {_kind_name(node)}", pointer)


def _set_field(node: Any, name: str, value: Any, pointer: str) -> None:
    """kyaml FieldSetter: a missing or plain null value removes the field."""
    if not isinstance(node, dict):
        raise _wrong_kind("MappingNode", node, pointer)
    if value is MISSING or value is None:
        node.pop(name, None)
    elif value is KEPT_NULL:
        node[name] = None
    else:
        node[name] = value


# --- the walk (kyaml yaml/walk) ---------------------------------------------------------------


def _get_schema(sources: list[Any], schema: Schema | None) -> Schema | None:
    """The given schema, else that of the first source naming a built-in apiVersion and kind."""
    if schema is not None:
        return schema
    for source in sources:
        if _is_missing_or_null(source) or not isinstance(source, dict):
            continue
        api_version = _nil_or_empty_text(source.get("apiVersion", MISSING))
        kind = _nil_or_empty_text(source.get("kind", MISSING))
        if api_version and kind:
            found = schema_for_kind(api_version, kind)
            if found is not None:
                return found
    return None


def _walk(sources: list[Any], schema: Schema | None, pointer: str) -> Any:
    schema = _get_schema(sources, schema)
    first = next((s for s in sources if not _is_missing_or_null(s)), MISSING)
    if first is MISSING:
        return _walk_map(sources, schema, pointer)
    for source in sources:
        if (
            not _is_missing_or_null(source)
            and type(source) is not type(first)
            and (isinstance(first, (dict, list)) or isinstance(source, (dict, list)))
        ):
            raise _wrong_kind(_kind_name(first), source, pointer)
    if isinstance(first, dict):
        return _walk_map(sources, schema, pointer)
    if isinstance(first, list):
        if schema is not None and schema.is_merge_list:
            return _walk_associative(sources, schema, pointer)
        return _visit_list(sources, associative=False, pointer=pointer)
    return _visit_scalar(sources)


def _walk_map(sources: list[Any], schema: Schema | None, pointer: str) -> Any:
    dest = _visit_map(sources, pointer)
    sources[0] = dest
    if dest is MISSING:
        return MISSING
    names: set[str] = set()
    for source in sources:
        if isinstance(source, dict):
            names.update(source)
    comments = _COMMENT_SCHEMAS.get()
    for name in sorted(names):
        child = pointer_join(pointer, name)
        field_schema = comments.get(child)
        if field_schema is None and schema is not None:
            field_schema = schema.field(name)
        values = [s.get(name, MISSING) if isinstance(s, dict) else MISSING for s in sources]
        _set_field(dest, name, _walk(values, field_schema, child), child)
    return dest


def _visit_map(sources: list[Any], pointer: str) -> Any:
    dest, origin = sources
    if _is_missing_or_null(dest):
        try:
            directive = _directive(origin, pointer)
        except PatchError:
            directive = _Directive.UNKNOWN
        if directive is _Directive.DELETE:
            return MISSING
        if origin is MISSING and dest is not MISSING:
            return KEPT_NULL  # a null of the resource survives a patch that does not name it
        return origin
    return _directed(dest, origin, pointer)


def _directed(dest: Any, origin: Any, pointer: str) -> Any:
    """An existing map or associative list under the patch's own directives: removed by a
    tagged null or `$patch: delete`, replaced by `$patch: replace`, else merged (`dest`)."""
    if _is_tagged_null(origin):
        return MISSING
    directive = _directive(origin, pointer)
    if directive is _Directive.DELETE:
        return MISSING
    if directive is _Directive.REPLACE:
        return origin
    return dest


def _visit_scalar(sources: list[Any]) -> Any:
    dest, origin = sources
    return origin if origin is not MISSING else dest


def _visit_list(sources: list[Any], *, associative: bool, pointer: str) -> Any:
    dest, origin = sources
    if not associative:
        return origin if origin is not MISSING else dest
    if _is_missing_or_null(dest):
        return origin  # a new list is taken as written, directives and all
    return _directed(dest, origin, pointer)


# --- $patch directives (kyaml merge2/smpdirective.go) -----------------------------------------


def _directive(patch: Any, pointer: str) -> _Directive:
    """The `$patch` directive of a patch node, removed from it once read."""
    if patch is MISSING:
        return _Directive.MERGE
    if isinstance(patch, list):
        return _sequence_directive(patch, pointer)
    if isinstance(patch, dict):
        if DIRECTIVE not in patch:
            return _Directive.MERGE
        value = _raw_text(patch[DIRECTIVE])
        if value in _KNOWN_DIRECTIVES:
            del patch[DIRECTIVE]
            return _KNOWN_DIRECTIVES[value]
        raise PatchError(f"unknown patch strategy '{value}'", pointer)
    raise PatchError(
        f"no implemented strategic merge patch strategy for {_raw_text(patch)!r}", pointer
    )


def _sequence_directive(patch: list[Any], pointer: str) -> _Directive:
    element = next((e for e in patch if isinstance(e, dict) and DIRECTIVE in e), None)
    if element is None or len(element) > 1:
        return _Directive.MERGE  # a `$patch` beside other keys is about that element
    value = _raw_text(element[DIRECTIVE])
    if value not in _KNOWN_DIRECTIVES:
        raise PatchError(f"unknown patch strategy '{value}'", pointer)
    _element_setter(patch, MISSING, [DIRECTIVE], [value], pointer)
    return _KNOWN_DIRECTIVES[value]


# --- associative lists (kyaml walk/associative_sequence.go) -----------------------------------


def _walk_associative(sources: list[Any], schema: Schema, pointer: str) -> Any:
    _check_merge_keys(sources[1], list(schema.keys), pointer)
    dest = _visit_list(sources, associative=True, pointer=pointer)
    sources[0] = dest
    if dest is MISSING:
        return MISSING
    keys = list(schema.keys)
    values = _element_values(sources, keys)
    if values or keys:
        return _set_elements(sources, values, keys, dest, schema, pointer)
    return _set_elements(sources, _element_primitive_values(sources), [""], dest, schema, pointer)


def _check_merge_keys(patch: Any, keys: list[str], pointer: str) -> None:
    """A patch element that sets none of the list's merge keys (a bare scalar, a map without
    `name`, `name: null`) matches nothing: kustomize then drops every element of the list,
    which leaves e.g. a pod with no containers. Refused instead."""
    if not keys or not isinstance(patch, list):
        return
    for index, element in enumerate(patch):
        if isinstance(element, dict) and DIRECTIVE in element:
            continue
        if isinstance(element, dict) and any(
            _nil_or_empty_text(element.get(key, MISSING)) for key in keys
        ):
            continue
        field = pointer.rpartition("/")[2] or "the list"
        raise PatchError(
            f"list element sets no merge key ({', '.join(keys)}): kustomize would drop every "
            f"element of {field}; name the element it patches",
            pointer_join(pointer, str(index)),
        )


def _element_values(sources: list[Any], keys: list[str]) -> list[list[str]]:
    """Each element's merge-key values, patch elements first (kustomize prepends)."""
    found: list[list[str]] = []
    for source in (sources[1], sources[0]):
        if not isinstance(source, list):
            continue
        for element in source:
            values = [
                _nil_or_empty_text(
                    element.get(k, MISSING) if isinstance(element, dict) else MISSING
                )
                for k in keys
            ]
            if values and values not in found:
                found.append(values)
    return found


def _element_primitive_values(sources: list[Any]) -> list[list[str]]:
    found: list[list[str]] = []
    seen: set[str] = set()
    for source in (sources[1], sources[0]):
        if not isinstance(source, list):
            continue
        for item in source:
            text = _raw_text(item)
            if text not in seen:
                seen.add(text)
                found.append([text])
    return found


def _merge_values(values_list: list[list[str]]) -> list[list[str]]:
    """Unify key tuples that agree where both are set ("80", "") ~ ("80", "TCP"), as kyaml does.

    Go ranges over a copy of the outer element, so the left side is the tuple as it was when
    its turn came, while the right side is read afresh.
    """
    for i in range(len(values_list)):
        left = values_list[i]
        for j in range(len(values_list)):
            matched, merged = _match(left, values_list[j])
            if matched:
                values_list[i] = merged
                values_list[j] = merged
    return values_list


def _match(left: list[str], right: list[str]) -> tuple[bool, list[str]]:
    if len(left) != len(right):
        return False, []
    common = False
    merged: list[str] = []
    for a, b in zip(left, right, strict=True):
        if a == b:
            common = True
            merged.append(a)
            continue
        if a and b:
            return False, []
        merged.append(a or b)
    return common, merged


def _validate_keys(
    values_list: Sequence[list[str]], values: list[str], keys: list[str]
) -> tuple[list[str], list[str]]:
    """Keep only the keys some element sets; with none set, all keys stay."""
    valid = {keys[i] for vs in values_list for i, v in enumerate(vs) if v != ""}
    if not valid:
        return keys, values
    return (
        [k for k in keys if k in valid],
        [v for i, v in enumerate(values) if v != "" or keys[i] in valid],
    )


def _set_elements(
    sources: list[Any],
    values_list: list[list[str]],
    keys: list[str],
    dest: Any,
    schema: Schema,
    pointer: str,
) -> Any:
    items: list[Any] = []
    element_schema = schema.elements()
    if len(keys) > 1:
        values_list = _merge_values(values_list)
    valid_keys: list[str] = keys
    for values in values_list:
        if not values:
            continue
        valid_keys, valid_values = _validate_keys(values_list, values, keys)
        val = _walk(_element_value_list(sources, valid_keys, valid_values), element_schema, pointer)
        deleted = False
        for i, key in enumerate(valid_keys):
            if _is_empty_map(val):
                _element_setter(dest, MISSING, valid_keys, valid_values, pointer)
                deleted = True
            elif key == "":
                # A primitive element: kyaml rewrites the scalar with its own text, a no-op.
                if isinstance(val, (dict, list)):
                    raise _wrong_kind("ScalarNode", val, pointer)
            elif (not isinstance(val, dict) or key not in val) and valid_values[i] != "":
                _set_field(val, key, _resolve_scalar(valid_values[i]), pointer)
        if deleted:
            continue
        _element_setter(items, val, valid_keys, valid_values, pointer)
    if values_list:
        dest = _append_list_node(items, dest, valid_keys, pointer)
    if _is_missing_or_null(dest):
        return MISSING
    return dest


def _element_value_list(sources: list[Any], keys: list[str], values: list[str]) -> list[Any]:
    keys, values = _validate_keys([values], values, keys)
    return [MISSING if s is MISSING else _element_list(s, keys, values) for s in sources]


def _element_list(node: Any, keys: list[str], values: list[str]) -> Any:
    """kyaml ElementMatcher: the first element whose key fields have exactly these texts."""
    if not isinstance(node, list):
        return MISSING
    keys = keys or [""]
    values = values or [""]
    if keys[0] == "":
        return next((item for item in node if _raw_text(item) == values[0]), MISSING)
    for element in node:
        if not isinstance(element, dict):
            continue
        if all(k in element and _raw_text(element[k]) == values[i] for i, k in enumerate(keys)):
            return element
    return MISSING


def _field_matches(element: Any, name: str, text: str, pointer: str) -> bool:
    """kyaml FieldMatcher{Name, StringValue}: an empty text matches any value."""
    if _is_missing_or_null(element):
        return False
    if name == "":
        if isinstance(element, (dict, list)):
            raise _wrong_kind("ScalarNode", element, pointer)
        return _get_value(element) == text
    if not isinstance(element, dict):
        raise _wrong_kind("MappingNode", element, pointer)
    return name in element and (text == "" or _raw_text(element[name]) == text)


def _element_setter(
    node: Any, element: Any, keys: list[str], values: list[str], pointer: str
) -> None:
    """kyaml ElementSetter: replace (or, with no element, delete) the matching elements in place,
    append when none matched. It also drops every null or empty-map element it passes."""
    if not isinstance(node, list):
        raise _wrong_kind("SequenceNode", node, pointer)
    keys = keys or [""]
    mapping_setter = keys[0] != "" and bool(values) and values[0] != ""
    kept: list[Any] = []
    matched = False
    for item in node:
        if _is_empty_map(item):
            continue
        if not isinstance(item, dict) and mapping_setter:
            kept.append(item)
            continue
        found = True
        last = False
        for j, key in enumerate(keys):
            if j < len(values):
                last = _field_matches(item, key, values[j], pointer)
            if not last:
                found = False
                break
        if not found:
            if values:
                kept.append(item)
            continue
        matched = True
        if element is not MISSING:
            kept.append(element)
    node[:] = kept
    if _is_missing_or_null(element):
        return
    if not matched:
        node.append(element)


def _append_list_node(dst: list[Any], src: Any, keys: list[str], pointer: str) -> list[Any]:
    """Put the resource's elements after the patch's, each replacing its match by key."""
    for element in list(src) if isinstance(src, list) else []:
        if keys[0] == "":
            _element_setter(dst, element, [""], [_raw_text(element)], pointer)
            continue
        values: list[str] = []
        for key in keys:
            if _is_missing_or_null(element):
                dst.append(element)
                continue
            if not isinstance(element, dict):
                raise _wrong_kind("MappingNode", element, pointer)
            if key not in element:
                dst.append(element)
                continue
            values.append(_raw_text(element[key]))
        if len(keys) > 1:
            _element_setter(dst, MISSING, keys, values, pointer)
        _element_setter(dst, element, keys, values, pointer)
    return dst
