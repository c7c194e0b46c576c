"""Documents libyaml (the bundled C parser) refuses but YAML, kubectl's Go reader and ruamel's
own parser accept still load, with their positions; documents every parser refuses are still
positioned errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml as pyyaml

from kurator_compile.errors import CompileError
from kurator_compile.yamldoc import load_stream

from .conftest import REPO

README_LINE = re.compile(r"^ *(argocd: \{server: https://\S+\}) ", flags=re.M)
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: endpoints}
data: {server: https://beijing.example.com:6443, other: a:b}
"""


def test_the_readme_argocd_example_loads() -> None:
    match = README_LINE.search((REPO / "README.md").read_text("utf-8"))
    assert match is not None
    text = f"spec:\n  clusters:\n    - name: beijing\n      {match.group(1)}\n"
    (doc,) = load_stream(text, "fleet.yaml")
    assert doc.data == pyyaml.safe_load(text)
    assert doc.data["spec"]["clusters"][0]["argocd"]["server"].endswith(":6443")
    where = doc.locate("/spec/clusters/0/argocd/server")
    assert (where.line, where.column) == (4, 16)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_the_fallback_reads_as_kubectl_reads(tmp_path: Path) -> None:
    """`kubectl kustomize` reads the file with Go's YAML reader and needs no cluster."""
    (tmp_path / "cm.yaml").write_text(CONFIG_MAP)
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    read = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    )
    (doc,) = load_stream(CONFIG_MAP, "cm.yaml")
    assert doc.data["data"] == pyyaml.safe_load(read.stdout)["data"]


def test_what_every_parser_refuses_is_a_positioned_error() -> None:
    with pytest.raises(CompileError) as error:
        load_stream("a: {b: [c}\n", "bad.yaml")
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.location is not None
    assert diagnostic.location.file == "bad.yaml"
    assert diagnostic.location.line == 1
