"""Same inputs, same bytes: whatever the file order, document order, key order or hash seed."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .conftest import copy_demo, tree_of


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _scramble(repo: Path, seed: int) -> None:
    """Move every app document to a random new file, in a random order, keys shuffled; and
    shuffle the policy documents of the fleet file."""
    rng = random.Random(seed)
    docs = []
    for path in sorted((repo / "apps").rglob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
        path.unlink()
    rng.shuffle(docs)
    for index, doc in enumerate(docs):
        folder = repo / "apps" / f"g{rng.randrange(3)}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{rng.randrange(10**6):06d}-{index}.yaml").write_text(
            yaml.safe_dump(_shuffled(doc, rng), sort_keys=False)
        )
    fleet = repo / "fleets" / "demo.yaml"
    fleet_docs = list(yaml.safe_load_all(fleet.read_text()))
    head, policies = fleet_docs[0], fleet_docs[1:]
    rng.shuffle(policies)
    fleet.write_text(
        yaml.safe_dump_all([head, *(_shuffled(p, rng) for p in policies)], sort_keys=False)
    )


def _build(repo: Path, seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run(
        [sys.executable, "-m", "kurator_compile", "-q", "build", "fleets/demo.yaml", "-o", "out"],
        cwd=repo,
        env=env,
        check=True,
    )
    return tree_of(repo / "out")


def _without_inputs(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The state's digest of the inputs differs with them (scrambled files are other files)."""
    state = ".kurator/state.json"
    return {**tree, state: re.sub(rb'"inputs": "[0-9a-f]{64}"', b"", tree[state])}


def test_output_does_not_depend_on_input_order_or_hash_seed(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    copy_demo(plain)
    scrambled = tmp_path / "scrambled"
    copy_demo(scrambled)
    _scramble(scrambled, seed=7)
    reference = _without_inputs(_build(plain, "1"))
    assert reference, "the demo fleet rendered nothing"
    assert _without_inputs(_build(scrambled, "2")) == reference
    again = tmp_path / "again"
    copy_demo(again)
    _scramble(again, seed=8)
    assert _without_inputs(_build(again, "12345")) == reference


def test_the_inputs_digest_does_not_depend_on_path_file_order_or_hash_seed(
    tmp_path: Path,
) -> None:
    """What the state records of the inputs is the same in every clone: another checkout
    path, files created in another order (another directory order), another hash seed."""
    first = copy_demo(tmp_path / "first")
    second = tmp_path / "elsewhere" / "second"
    copy_demo(second)
    apps = sorted((second / "apps").rglob("*.yaml"), reverse=True)
    texts = {path: path.read_bytes() for path in apps}
    for path in apps:
        path.unlink()
    for path in apps:
        path.write_bytes(texts[path])
    reference = _build(first, "1")
    assert b'"inputs": "' in reference[".kurator/state.json"]
    assert _build(second, "4242") == reference
