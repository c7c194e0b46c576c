"""Karmada's overriders (one `Overriders` block of an (Cluster)OverridePolicy rule).

Written from Karmada's overridemanager: each overrider becomes a JSON patch run with
json-patch v5 on the object as it stands after the previous one, in Karmada's order: every
imageOverrider, then commandOverrider, argsOverrider, labelsOverrider, annotationsOverrider,
fieldOverrider, and last all plaintext operations as one patch. A failure anywhere aborts
the block with PatchError, as Karmada refuses to propagate the object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..fields import is_digits
from .encoding import dump_go_json, dump_go_yaml, load_go_json, load_go_yaml
from .errors import PatchError
from .image import override_image
from .jsonpatch import decode_pointer, json_patch

__all__ = ["apply_overriders"]

# Kinds whose containers image, command and args overriders reach, and where they live.
_POD_PATH: Final = ("spec", "containers")
_TEMPLATE_PATH: Final = ("spec", "template", "spec", "containers")
_CONTAINER_PATHS: Final = {
    "Pod": _POD_PATH,
    "ReplicaSet": _TEMPLATE_PATH,
    "Deployment": _TEMPLATE_PATH,
    "DaemonSet": _TEMPLATE_PATH,
    "StatefulSet": _TEMPLATE_PATH,
    "Job": _TEMPLATE_PATH,
}


def apply_overriders(obj: dict[str, Any], overriders: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` with one Overriders block applied; `obj` itself is not modified."""
    for index, overrider in enumerate(_list(overriders, "imageOverrider")):
        obj = _patch(obj, _image_ops(obj, overrider), f"imageOverrider[{index}]")
    for field, target in (("commandOverrider", "command"), ("argsOverrider", "args")):
        for index, overrider in enumerate(_list(overriders, field)):
            obj = _patch(obj, _command_args_ops(obj, overrider, target), f"{field}[{index}]")
    for field, target in (("labelsOverrider", "labels"), ("annotationsOverrider", "annotations")):
        for index, overrider in enumerate(_list(overriders, field)):
            obj, ops = _label_annotation_ops(obj, overrider, target)
            if ops:
                obj = _patch(obj, ops, f"{field}[{index}]")
    for index, overrider in enumerate(_list(overriders, "fieldOverrider")):
        obj = _apply_field_overrider(obj, overrider, f"fieldOverrider[{index}]")
    plaintext = [
        {"op": p.get("operator"), "path": p.get("path"), "value": p.get("value")}
        for p in _list(overriders, "plaintext")
    ]
    return _patch(obj, plaintext, "plaintext")


def _list(overriders: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    value = overriders.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise PatchError(f"{field} must be a list of maps")
    return value


def _patch(obj: dict[str, Any], ops: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not ops:
        return obj  # nothing to apply (most blocks have no plaintext), nothing to count
    try:
        result = json_patch(obj, ops, dialect="karmada")
    except PatchError as error:
        raise PatchError(f"{what}: {error.message}", error.pointer, error.op_index) from None
    if not isinstance(result, dict):
        raise PatchError(f"{what}: the object must stay a map")
    return result


# --- imageOverrider --------------------------------------------------------------------------


def _image_ops(obj: Mapping[str, Any], overrider: Mapping[str, Any]) -> list[dict[str, Any]]:
    component = overrider.get("component")
    operator = overrider.get("operator")
    value = overrider.get("value") or ""
    if not isinstance(value, str):
        raise PatchError("imageOverrider value must be a string")
    predicate = overrider.get("predicate")
    if predicate is not None:
        path = predicate.get("path") if isinstance(predicate, Mapping) else None
        if not isinstance(path, str):
            raise PatchError("imageOverrider predicate needs a path")
        image = _predicate_image(obj, path)
        return [_image_op(path, image, component, operator, value)]
    prefix = _CONTAINER_PATHS.get(str(obj.get("kind")))
    if prefix is None:
        return []
    containers = _nested(obj, prefix, "imageOverrider")
    ops = []
    for index, container in enumerate(containers or []):
        if not isinstance(container, Mapping):
            raise PatchError(f"imageOverrider: container {index} is not a map")
        image = container.get("image", "")
        if not isinstance(image, str):
            raise PatchError(f"imageOverrider: container {index} image is not a string")
        path = "/" + "/".join(prefix) + f"/{index}/image"
        ops.append(_image_op(path, image, component, operator, value))
    return ops


def _image_op(path: str, image: str, component: Any, operator: Any, value: str) -> dict[str, Any]:
    if not path.startswith("/"):
        raise PatchError("imageOverrider: imagePath should start with /")
    try:
        new = override_image(image, str(component), str(operator), value)
    except PatchError as error:
        raise PatchError(f"imageOverrider: {error.message}", path) from None
    return {"op": "replace", "path": path, "value": new}


def _predicate_image(obj: Mapping[str, Any], path: str) -> str:
    """The string at a predicate path, walked as Karmada walks it: split on `/` with no
    pointer unescaping, a list consuming the next segment as its index."""
    segments = path.strip("/").split("/")
    node: Any = obj
    index = 0
    while index < len(segments) - 1:
        child = node.get(segments[index]) if isinstance(node, Mapping) else None
        if isinstance(child, Mapping):
            node = child
        elif isinstance(child, list):
            position = _int32(segments[index + 1])
            if position is None:
                raise PatchError(f"imageOverrider: path({segments[index + 1]}) is not a number")
            if not 0 <= position < len(child) or not isinstance(child[position], Mapping):
                raise PatchError(f"imageOverrider: no map at index {position} of {path}")
            node = child[position]
            index += 1
        else:
            raise PatchError(f"imageOverrider: path({segments[index]}) is neither a map nor a list")
        index += 1
    image = node.get(segments[-1]) if isinstance(node, Mapping) else None
    if not isinstance(image, str):
        raise PatchError(f"imageOverrider: failed to convert path({segments[-1]}) to string")
    return image


def _int32(text: str) -> int | None:
    try:
        value = int(text, 10)
    except ValueError:
        return None
    return value if -(2**31) <= value < 2**31 and text.strip() == text and "_" not in text else None


def _nested(obj: Mapping[str, Any], path: Sequence[str], what: str) -> list[Any] | None:
    """unstructured.NestedSlice: None when absent, PatchError when of the wrong type."""
    node: Any = obj
    for i, key in enumerate(path):
        if not isinstance(node, Mapping):
            raise PatchError(f"{what}: {'.'.join(path[:i])} is not a map")
        if key not in node:
            return None
        node = node[key]
    if not isinstance(node, list):
        raise PatchError(f"{what}: {'.'.join(path)} is not a list")
    return node


# --- commandOverrider / argsOverrider --------------------------------------------------------


def _command_args_ops(
    obj: Mapping[str, Any], overrider: Mapping[str, Any], target: str
) -> list[dict[str, Any]]:
    prefix = _CONTAINER_PATHS.get(str(obj.get("kind")))
    if prefix is None:
        return []
    what = f"{target}Overrider"
    containers = _nested(obj, prefix, what)
    values = overrider.get("value") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PatchError(f"{what} value must be a list of strings")
    operator = overrider.get("operator")
    ops = []
    for index, container in enumerate(containers or []):
        if not isinstance(container, Mapping):
            raise PatchError(f"{what}: container {index} is not a map")
        if container.get("name") != overrider.get("containerName"):
            continue
        path = "/" + "/".join(prefix) + f"/{index}/{target}"
        current = container.get(target)
        if current is None:
            ops.append({"op": "add", "path": path, "value": _override_list([], operator, values)})
            continue
        if not isinstance(current, list):
            raise PatchError(f"{what}: container {index} {target} is not a list")
        strings = [_go_sprint(v) for v in current]
        ops.append(
            {"op": "replace", "path": path, "value": _override_list(strings, operator, values)}
        )
    return ops


def _override_list(current: list[str], operator: Any, values: list[str]) -> list[str]:
    """add appends; remove drops every occurrence of each value; other operators keep it."""
    if operator == "add":
        return [*current, *values]
    if operator == "remove":
        return [v for v in current if v not in set(values)]
    return current


def _go_sprint(value: Any) -> str:
    """Go's fmt %s of a decoded JSON value: strings as they are, anything else flagged."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return f"%!s(bool={'true' if value else 'false'})"
    if isinstance(value, int):
        return f"%!s(int64={value})"
    if isinstance(value, float):
        return f"%!s(float64={value:g})"
    if isinstance(value, list):
        return "[" + " ".join(_go_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_sprint(value[k])}" for k in sorted(value)) + "]"
    return str(value)


# --- labelsOverrider / annotationsOverrider --------------------------------------------------


def _label_annotation_ops(
    obj: dict[str, Any], overrider: Mapping[str, Any], target: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Karmada's rules: add creates the map when it is not a map of strings (replacing what
    was there) and sets each key; replace and remove touch only keys that exist."""
    operator = overrider.get("operator")
    values = overrider.get("value") or {}
    if not isinstance(values, Mapping):
        raise PatchError(f"{target}Overrider value must be a map")
    ops = []
    for key, value in values.items():
        strings = _string_map(obj, target)
        if operator in ("remove", "replace"):
            if strings is None or key not in strings:
                continue
        elif operator == "add" and strings is None:
            metadata = obj.get("metadata", {})
            if not isinstance(metadata, Mapping):
                continue  # SetNestedStringMap fails and Karmada skips the key
            obj = {**obj, "metadata": {**metadata, target: {}}}
        ops.append(
            {
                "op": operator,
                "path": f"/metadata/{target}/" + str(key).replace("/", "~1"),
                "value": value,
            }
        )
    return obj, ops


def _string_map(obj: Mapping[str, Any], target: str) -> dict[str, str] | None:
    """unstructured.NestedStringMap: None unless metadata.<target> is a map of strings."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    found = metadata.get(target)
    if not isinstance(found, Mapping) or not all(isinstance(v, str) for v in found.values()):
        return None
    return dict(found)


# --- fieldOverrider --------------------------------------------------------------------------


def _apply_field_overrider(
    obj: dict[str, Any], overrider: Mapping[str, Any], what: str
) -> dict[str, Any]:
    path = overrider.get("fieldPath")
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f'{what}: fieldPath must be empty or start with a "/"')
    yaml_ops, json_ops = overrider.get("yaml") or [], overrider.get("json") or []
    if bool(yaml_ops) == bool(json_ops):
        raise PatchError(f"{what}: exactly one of yaml and json must be set")
    tokens = [decode_pointer(t) for t in path.split("/")[1:]] if path else []
    text = _pointer_get(obj, tokens, path, what)
    ops = [
        {"op": o.get("operator"), "path": o.get("subPath"), "value": o.get("value")}
        for o in (yaml_ops or json_ops)
    ]
    try:
        if yaml_ops:
            data = json_patch(load_go_yaml(text), ops, dialect="karmada")
            result = dump_go_yaml(data)
        else:
            result = dump_go_json(json_patch(load_go_json(text), ops, dialect="karmada"))
    except PatchError as error:
        raise PatchError(f"{what}: {error.message}", path, error.op_index) from None
    patched: dict[str, Any] = _pointer_set(obj, tokens, result)
    return patched


def _pointer_get(obj: Any, tokens: list[str], path: str, what: str) -> str:
    node = obj
    for token in tokens:
        if isinstance(node, Mapping):
            if token not in node:
                raise PatchError(f"{what}: object has no key {token!r}", path)
            node = node[token]
        elif isinstance(node, list):
            if not is_digits(token) or int(token) >= len(node):
                raise PatchError(f"{what}: index {token!r} out of bounds", path)
            node = node[int(token)]
        else:
            raise PatchError(f"{what}: invalid token reference {token!r}", path)
    if not isinstance(node, str):
        raise PatchError(f"{what}: the value at fieldPath({path}) is not a string", path)
    return node


def _pointer_set(node: Any, tokens: list[str], value: str) -> Any:
    if not tokens:
        return value
    head, rest = tokens[0], tokens[1:]
    if isinstance(node, dict):
        return {**node, head: _pointer_set(node[head], rest, value)}
    copied = list(node)
    copied[int(head)] = _pointer_set(copied[int(head)], rest, value)
    return copied
