"""Every scalar is read as kubectl reads it, and what is emitted kubectl reads back unchanged.

The expected answers in tests/kubectl_yaml/*.expected.json are kubectl's own output, written by
`python scripts/kubectl_yaml_oracle.py` (the command and kubectl version are recorded in each
file); the live tests below re-run kubectl when it is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kurator_compile import yamldoc
from kurator_compile.errors import CompileError
from kurator_compile.yamldoc import load_stream
from kurator_compile.yamlout import dump_document

from .conftest import REPO

CORPUS = REPO / "tests" / "kubectl_yaml"
SCALARS = (CORPUS / "scalars.yaml").read_text("utf-8")
REFUSED = (CORPUS / "refused.yaml").read_text("utf-8").split("---\n")
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def _as_unstructured(text: str) -> Any:
    """JSON as the object kubectl holds it: a whole number outside int64 is a float."""
    return json.loads(text, parse_int=lambda s: int(s) if -(2**63) <= int(s) < 2**63 else float(s))


def _typed(value: Any) -> str:
    """Equal only when types are equal too (1, 1.0 and True differ)."""
    return json.dumps(value, sort_keys=True)


def _expected(name: str) -> Any:
    return _as_unstructured((CORPUS / name).read_text("utf-8"))


def test_the_corpus_is_read_as_kubectl_read_it() -> None:
    (doc,) = load_stream(SCALARS, "scalars.yaml")
    assert _typed(doc.data) == _typed(_expected("scalars.expected.json")["object"])


def test_the_pure_parser_reads_the_corpus_as_the_c_parser() -> None:
    (c_doc,) = yamldoc._compose(yamldoc._reader(pure=False), SCALARS, "scalars.yaml")
    (pure_doc,) = yamldoc._compose(yamldoc._reader(pure=True), SCALARS, "scalars.yaml")
    assert _typed(pure_doc.data) == _typed(c_doc.data)
    assert pure_doc.positions == c_doc.positions


def test_what_kubectl_and_kustomize_read_differently_is_recorded() -> None:
    """The readings differ in YAML 1.1's words, timestamps and keys that are not strings; the
    loader follows kubectl (see the README's Validation section)."""
    differ = _expected("scalars.expected.json")["kustomize_then_kubectl"]
    assert differ["/values/yes-lower"] == [True, "yes"]
    assert differ["/values/date"] == ["2001-12-14", "2001-12-14T00:00:00Z"]
    assert "/values/mode-octal" not in differ  # both read 0644 as 420


def test_emitted_values_read_back_unchanged() -> None:
    (doc,) = load_stream(SCALARS, "scalars.yaml")
    text = dump_document(doc.data)
    (again,) = load_stream(text, "emitted.yaml")
    assert _typed(again.data) == _typed(doc.data)
    for line in ('  octal: "0644"', '  yes-word: "yes"', '  equals: "="', '  y-word: "y"'):
        assert line in text.splitlines()


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (
            0,
            "refused.yaml:6:8: error: '.inf': kubectl reads it as infinity, which JSON cannot "
            "carry (kubectl refuses the file); quote it if a string is meant (at /value)",
        ),
        (
            1,
            "refused.yaml:4:8: error: '-.Inf': kubectl reads it as minus infinity, which JSON "
            "cannot carry (kubectl refuses the file); quote it if a string is meant (at /value)",
        ),
        (
            2,
            "refused.yaml:4:8: error: '.NaN': kubectl reads it as not-a-number, which JSON "
            "cannot carry (kubectl refuses the file); quote it if a string is meant (at /value)",
        ),
        (
            3,
            "refused.yaml:4:9: error: mapping key '~': kubectl reads it as null, and a null "
            "cannot be a key; quote it (at /value)",
        ),
        (
            4,
            "refused.yaml:4:9: error: mapping key '18446744073709551615': kubectl reads it as "
            "an unsigned 64-bit integer, which it refuses as a key; quote it (at /value)",
        ),
        (5, "refused.yaml:4:8: error: 'abc': kubectl cannot decode !!str as a !!int (at /value)"),
        (6, "refused.yaml:4:8: error: '1.5': kubectl cannot decode !!float as a !!int (at /value)"),
        (
            7,
            "refused.yaml:4:8: error: 'abc': kubectl cannot decode !!str as a !!timestamp "
            "(at /value)",
        ),
        (
            8,
            "refused.yaml:4:8: error: 'a*b': !!binary value contains invalid base64 data "
            "(at /value)",
        ),
        (
            9,
            "refused.yaml:4:13: error: a merge key (<<) takes a mapping or a list of mappings "
            "(at /value)",
        ),
    ],
    ids=[
        "infinity",
        "minus-infinity",
        "nan",
        "null-key",
        "unsigned-key",
        "tagged-int",
        "tagged-int-float",
        "tagged-timestamp",
        "tagged-binary",
        "merge-scalar",
    ],
)
def test_what_kubectl_refuses_is_a_positioned_error(index: int, message: str) -> None:
    assert "error" in _expected("refused.expected.json")["documents"][index]
    with pytest.raises(CompileError) as error:
        load_stream(REFUSED[index], "refused.yaml")
    assert [d.render() for d in error.value.diagnostics] == [message]


def test_every_refused_document_is_tested() -> None:
    assert len(REFUSED) == len(_expected("refused.expected.json")["documents"]) == 10


@needs_kubectl
def test_kubectl_still_reads_the_corpus_as_recorded() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "kubectl_yaml_oracle.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@needs_kubectl
def test_kubectl_reads_the_emitted_corpus_as_the_loader_read_the_input(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import kubectl_yaml_oracle as oracle
    finally:
        sys.path.remove(str(REPO / "scripts"))
    (doc,) = load_stream(SCALARS, "scalars.yaml")
    (tmp_path / "emitted.yaml").write_text(dump_document(doc.data), "utf-8")
    (tmp_path / "config").write_text(oracle.KUBECONFIG, "utf-8")
    env = {
        "PATH": str(Path(str(shutil.which("kubectl"))).parent),
        "KUBECONFIG": str(tmp_path / "config"),
    }
    read = oracle._read(tmp_path / "emitted.yaml", env)
    assert _typed(_as_unstructured(json.dumps(read))) == _typed(doc.data)


@pytest.mark.parametrize("pure", [False, True], ids=["c", "pure"])
def test_the_non_specific_tag_keeps_a_string_after_a_byte_order_mark(pure: bool) -> None:
    """libyaml's positions leave the mark out; the `!` is still found where the node starts."""
    text = "\ufeffa: ! 12\nb: &n ! 010\nc: [! 1, 2]\nd: |\n  if ! 12; then\ne: 12\n"
    (doc,) = yamldoc._compose(yamldoc._reader(pure=pure), text, "f.yaml")
    expected = {"a": "12", "b": "010", "c": ["1", 2], "d": "if ! 12; then\n", "e": 12}
    assert _typed(doc.data) == _typed(expected)
    assert doc.positions["/c/0"] == (3, 5)


@pytest.mark.parametrize("pure", [False, True], ids=["c", "pure"])
def test_the_non_specific_tag_after_an_anchor_holds_for_its_aliases(pure: bool) -> None:
    text = "a: &x\n  ! 5 # ! 1\nb: *x\nc: &y 5 # ! 6\nd: *y\n&k ! 0644 : e\n"
    (doc,) = yamldoc._compose(yamldoc._reader(pure=pure), text, "f.yaml")
    expected = {"a": "5", "b": "5", "c": 5, "d": 5, "0644": "e"}
    assert _typed(doc.data) == _typed(expected)
