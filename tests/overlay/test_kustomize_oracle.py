"""The patch corpus in tests/overlay/cases, checked against `kubectl kustomize` and a snapshot.

Each case file holds `base` (one object, a list, or YAML text when its spelling matters),
`patch` (a map or list, written to a patch file, or a string used as the patch text), an
optional `target` and `options`, `inline: true` to put the text in `patches[].patch` instead
of a file, and what kustomize produced: `expected` (the objects) or `error: true`. Cases taken
from kustomize's own tests say where in `upstream`. A deliberate difference (README, "Overlays")
records our result as `expected`/`error` and kustomize's under `differs` with the reason.
`test_matches_kustomize` runs kustomize itself; `test_matches_snapshot` holds our result to
the recorded output, so the corpus keeps its meaning where kubectl is missing. Re-record
(after checking the diff) with:

    python tests/overlay/test_kustomize_oracle.py --record
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from kurator_compile.errors import CompileError
from kurator_compile.overlay import PatchError, apply_patch
from kurator_compile.overlay.patch import read_entry

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(CASES_DIR.glob("*.yaml"))
KUBECTL = shutil.which("kubectl")
NO_KUBECTL = "kubectl not installed: the kustomize oracle cannot run"


def load_case(path: Path) -> dict[str, Any]:
    with path.open() as stream:
        case: dict[str, Any] = yaml.safe_load(stream)
    return case


def bases(case: dict[str, Any]) -> list[dict[str, Any]]:
    base = case["base"]
    if isinstance(base, str):
        return [d for d in yaml.safe_load_all(base) if d is not None]
    return base if isinstance(base, list) else [base]


def base_text(case: dict[str, Any]) -> str:
    base = case["base"]
    return base if isinstance(base, str) else yaml.safe_dump_all(bases(case), sort_keys=False)


def patch_text(case: dict[str, Any]) -> str:
    patch = case["patch"]
    return patch if isinstance(patch, str) else yaml.safe_dump(patch, sort_keys=False)


def ours(case: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Our result for the case, or None when we refuse it."""
    options = case.get("options") or {}
    try:
        patch = read_entry(case["patch"], case.get("target"))
        result = apply_patch(
            bases(case),
            patch,
            case.get("target"),
            allow_name_change=bool(options.get("allowNameChange")),
            allow_kind_change=bool(options.get("allowKindChange")),
        )
    except (PatchError, CompileError):
        return None
    return normalize(result)


def kustomize(case: dict[str, Any], directory: Path) -> list[dict[str, Any]] | None:
    """What `kubectl kustomize` outputs for the case, or None when it fails."""
    assert KUBECTL is not None
    (directory / "base.yaml").write_text(base_text(case))
    entry: dict[str, Any] = {}
    if case.get("inline"):
        entry["patch"] = patch_text(case)
    else:
        (directory / "patch.yaml").write_text(patch_text(case))
        entry["path"] = "patch.yaml"
    if "target" in case:
        entry["target"] = case["target"]
    if case.get("options"):
        entry["options"] = case["options"]
    kustomization = {"resources": ["base.yaml"], "patches": [entry]}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    run = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        return None
    return [d for d in yaml.safe_load_all(run.stdout) if d is not None]


def normalize(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """kustomize sorts its output by kind and name, writes every object's annotations as
    strings and drops an empty annotation map, patch or no patch; compare past those output
    conventions."""
    result = []
    for obj in objects:
        metadata = obj.get("metadata")
        if isinstance(metadata, dict) and "annotations" in metadata:
            annotations = metadata["annotations"]
            metadata = dict(metadata)
            if isinstance(annotations, dict) and annotations:
                metadata["annotations"] = {k: _text(v) for k, v in annotations.items()}
            else:
                del metadata["annotations"]
            obj = {**obj, "metadata": metadata}
        result.append(obj)
    return sorted(result, key=lambda o: json.dumps(o, sort_keys=True))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


@functools.cache
def kustomize_all() -> dict[Path, list[dict[str, Any]] | None]:
    """Run kustomize on every case at once: one process each, several at a time."""

    def run(path: Path) -> list[dict[str, Any]] | None:
        with tempfile.TemporaryDirectory() as directory:
            return kustomize(load_case(path), Path(directory))

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
@pytest.mark.skipif(KUBECTL is None, reason=NO_KUBECTL)
def test_matches_kustomize(path: Path) -> None:
    case = load_case(path)
    expected = kustomize_all()[path]
    actual = ours(case)
    differs = case.get("differs")
    if differs is not None:
        # A deliberate difference: kustomize still does what was recorded, and we do not.
        recorded = None if differs.get("error") else normalize(differs["kustomize"])
        assert (None if expected is None else normalize(expected)) == recorded
        assert actual != recorded
        return
    if expected is None:
        assert actual is None, "kustomize refuses this patch but we applied it"
    else:
        assert actual == normalize(expected)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_matches_snapshot(path: Path) -> None:
    case = load_case(path)
    assert ("expected" in case) != bool(case.get("error")), "record the case first"
    actual = ours(case)
    if case.get("error"):
        assert actual is None
    else:
        assert actual == normalize(case["expected"])


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150


def _record(names: list[str]) -> None:
    """Write kustomize's output into each case file (or those named), saying where we disagree
    with it."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    for path in CASES:
        if names and path.stem not in names:
            continue
        case = load_case(path)
        with tempfile.TemporaryDirectory() as directory:
            expected = kustomize(case, Path(directory))
        agree = (ours(case) is None) if expected is None else ours(case) == normalize(expected)
        differs = case.get("differs")
        case.pop("expected", None)
        case.pop("error", None)
        if differs is not None:
            differs.pop("kustomize", None)
            differs.pop("error", None)
            if expected is None:
                differs["error"] = True
            else:
                differs["kustomize"] = expected
            result = ours(case)
            if result is None:
                case["error"] = True
            else:
                case["expected"] = result
            print(f"{'SAME' if agree else 'ok  '} {path.stem} (deliberate difference)")
        else:
            if expected is None:
                case["error"] = True
            else:
                case["expected"] = expected
            print(f"{'ok  ' if agree else 'DIFF'} {path.stem}")
        with path.open("w") as stream:
            yaml.dump(case, stream, Dumper=Dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        _record(sys.argv[2:])
