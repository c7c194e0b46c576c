"""Schema comments in strategic-merge patch texts: where they are read and where refused."""

from __future__ import annotations

import pytest

from kurator_compile.overlay import PatchError, StrategicMergePatch, parse_patch
from kurator_compile.overlay.schema_comments import CommentSchema

HEAD = "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: f\n"
MERGE = '{"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}'
UNPLACED = (
    "line {} of the patch text has a comment kustomize reads as a field's OpenAPI schema, in a "
    "place kurator-compile does not model (only on a key whose map or list value starts on the "
    "next line, or just above a key, outside lists); move or remove the comment"
)


def test_line_and_head_comments_name_their_fields() -> None:
    text = HEAD + f"spec: # {MERGE}\n  # {MERGE}\n  containers:\n  - name: a\n"
    patch = parse_patch(text)
    assert isinstance(patch, StrategicMergePatch)
    schemas = patch.schemas_of(0)
    assert sorted(schemas) == ["/spec", "/spec/containers"]
    containers = schemas["/spec/containers"]
    assert isinstance(containers, CommentSchema)
    assert containers.keys == ("name",)
    assert containers.is_merge_list


def test_plain_comments_are_only_comments() -> None:
    patch = parse_patch(HEAD + 'spec: # {not json}\n  x: 1 # {"a": 1}\n')
    assert isinstance(patch, StrategicMergePatch)
    assert patch.schemas == ()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HEAD + f"spec:\n  replicas: 3 # {MERGE}\n", 6),  # after a scalar
        (HEAD + f"spec:\n  containers: [{{name: a}}] # {MERGE}\n", 6),  # after a flow list
        (HEAD + f"spec:\n  containers:\n  - name: a # {MERGE}\n", 7),  # on a list item
        (HEAD + f"spec:\n  containers:\n  - name: a\n    # {MERGE}\n    ports:\n    - x\n", 8),
        (HEAD + f"spec:\n  # {MERGE}\n\n  containers:\n  - name: a\n", 6),  # a blank line after
    ],
)
def test_comments_we_cannot_place_are_refused(text: str, line: int) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert str(caught.value) == UNPLACED.format(line)


def test_schema_comments_in_a_list_patch_are_refused() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: a}}}}\n"
        f"metadata: # {MERGE}\n  name: x\n"
    )
    with pytest.raises(PatchError) as caught:
        parse_patch(text)
    assert str(caught.value) == "schema comments in a List patch are not modelled"
