"""Same inputs, same bytes: whatever the file order, document order, key order or hash seed."""

from __future__ import annotations

import os
import random
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


def test_output_does_not_depend_on_input_order_or_hash_seed(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    copy_demo(plain)
    scrambled = tmp_path / "scrambled"
    copy_demo(scrambled)
    _scramble(scrambled, seed=7)
    reference = _build(plain, "1")
    assert reference, "the demo fleet rendered nothing"
    assert _build(scrambled, "2") == reference
    again = tmp_path / "again"
    copy_demo(again)
    _scramble(again, seed=8)
    assert _build(again, "12345") == reference
