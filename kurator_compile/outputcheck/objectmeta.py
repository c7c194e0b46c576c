"""ObjectMeta as the API server validates it for every object (apimachinery's
ValidateObjectMetaAccessor: label keys and values, annotation keys and total size) and, for
custom resources, with the name rule apiextensions-apiserver passes it (a DNS-1123 subdomain,
for `name` and the `generateName` prefix alike). The OpenAPI schemas check none of this: a
label key such as `team name` passes them and is refused when applied.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from ..placement.selectors import (
    _DNS1123_SUBDOMAIN,
    _DNS1123_SUBDOMAIN_MSG,
    label_value_errors,
    qualified_name_errors,
    quoted,
)
from ..yamldoc import pointer_join

# apimachinery's TotalAnnotationSizeLimitB: keys and values together, in bytes.
MAX_ANNOTATION_BYTES: Final = 256 * 1024


def _subdomain_errors(name: str) -> list[str]:
    """`validation.IsDNS1123Subdomain`."""
    errors = []
    if len(name) > 253:
        errors.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        errors.append(_DNS1123_SUBDOMAIN_MSG)
    return errors


def metadata_problems(obj: Mapping[str, Any], custom: bool) -> Iterator[tuple[str, str]]:
    """(JSON pointer, message) for each way `obj`'s metadata breaks the API server's rules;
    values of the wrong type are left to the schema check."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return
    if custom:
        for field in ("name", "generateName"):
            value = metadata.get(field)
            if not isinstance(value, str) or not value:
                continue
            # A generateName is a prefix: the random suffix follows a trailing "-".
            checked = value[:-1] + "a" if field == "generateName" and value[-1] == "-" else value
            for message in _subdomain_errors(checked):
                yield (
                    f"/metadata/{field}",
                    f"metadata.{field}: Invalid value: {quoted(value)}: {message}",
                )
    labels = metadata.get("labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            pointer = pointer_join("/metadata/labels", key)
            for message in qualified_name_errors(key):
                yield pointer, f"metadata.labels: Invalid value: {quoted(key)}: {message}"
            if isinstance(value, str):
                for message in label_value_errors(value):
                    yield pointer, f"metadata.labels: Invalid value: {quoted(value)}: {message}"
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        size = 0
        for key, value in annotations.items():
            # apimachinery checks annotation keys lowercased: "Example.com/Key" is allowed.
            for message in qualified_name_errors(key.lower()):
                pointer = pointer_join("/metadata/annotations", key)
                yield pointer, f"metadata.annotations: Invalid value: {quoted(key)}: {message}"
            size += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
        if size > MAX_ANNOTATION_BYTES:
            yield (
                "/metadata/annotations",
                f"metadata.annotations: Too long: must have at most {MAX_ANNOTATION_BYTES} bytes",
            )
