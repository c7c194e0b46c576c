"""Output-validation throughput: `python benchmarks/validation_bench.py [--clusters N]`.

The workload is what a 1,000-cluster build emits: 20 apps of Deployment + Service + ConfigMap
per cluster (60,000 documents), each object in 3 variants (one per region, as overlays make
them) shared by identity across the clusters of its region, as the renderer shares them.
Clusters run Kubernetes 1.30, every tenth 1.29; one Deployment variant carries a typo so the
run also reports (333 clusters, one grouped diagnostic).

Prints, against a build of the same fleet taking about 3 s:
* cold: a new SchemaStore (schemas read and compiled) validating every document;
* warm: the same store, a new OutputValidator (what a second run in one process costs);
* the raw rate without deduplication (distinct copies of the Deployment), through the
  compiled schema check and through jsonschema.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kurator_compile.outputcheck import (  # noqa: E402
    OutputValidator,
    SchemaStore,
    object_findings,
    resolve_target,
)
from kurator_compile.yamldoc import Document, load_stream  # noqa: E402
from tests.synthetic import REGION_REPLICAS, REGION_TAGS, REGIONS, app_documents  # noqa: E402

APPS = 20

Variant = tuple[dict[str, Any], Document]


def _variant(doc: Document, region: str, typo: bool) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(doc.data)
    data["metadata"].setdefault("labels", {})["region"] = region
    if data["kind"] == "Deployment":
        data["spec"]["replicas"] = REGION_REPLICAS[region]
        container = data["spec"]["template"]["spec"]["containers"][0]
        container["image"] = container["image"].rsplit(":", 1)[0] + ":" + REGION_TAGS[region]
        if typo:
            data["spec"]["replicass"] = data["spec"].pop("replicas")
    return data


def workload() -> dict[str, list[Variant]]:
    """Per region, the 60 emitted objects (with the document each came from)."""
    docs = [
        doc for i in range(APPS) for doc in load_stream(app_documents(i), f"apps/app-{i:02d}.yaml")
    ]
    return {
        region: [
            (_variant(doc, region, typo=(r == 0 and n == 0)), doc) for n, doc in enumerate(docs)
        ]
        for r, region in enumerate(REGIONS)
    }


def run(store: SchemaStore, objects: dict[str, list[Variant]], clusters: int) -> tuple[float, int]:
    checker = OutputValidator(store)
    checked = 0
    start = time.perf_counter()
    for index in range(clusters):
        name = f"cluster-{index:04d}"
        version = "1.29" if index % 10 == 0 else "1.30"
        for data, doc in objects[REGIONS[index % len(REGIONS)]]:
            checker.check(data, version, name, doc.locate)
            checked += 1
    diagnostics = checker.diagnostics
    seconds = time.perf_counter() - start
    assert len(diagnostics) == 1, [d.render() for d in diagnostics]
    return seconds, checked


def raw_rates(objects: dict[str, list[Variant]], copies: int = 500) -> tuple[float, float]:
    """Validations per second of one valid Deployment with no deduplication: through the
    compiled schema check (what a run does), and through jsonschema (what explains a
    rejected object)."""
    store = SchemaStore()
    target = resolve_target(store, "1.30")
    deployment = objects[REGIONS[1]][0][0]
    object_findings(store, deployment, target)  # compile the schema outside the timing
    distinct = [copy.deepcopy(deployment) for _ in range(copies)]
    start = time.perf_counter()
    for data in distinct:
        object_findings(store, data, target)
    compiled = copies / (time.perf_counter() - start)
    assert target.schemas is not None
    schema = store.builtin(target.schemas, "apps/v1", "Deployment")
    assert schema is not None
    list(schema.errors(deployment))  # build the jsonschema validator outside the timing
    start = time.perf_counter()
    for data in distinct:
        assert not list(schema.errors(data))
    return compiled, copies / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args()
    objects = workload()
    store = SchemaStore()  # the custom resource schemas shipped in the package
    cold, checked = run(store, objects, args.clusters)
    validated = store.validations
    warm, _ = run(store, objects, args.clusters)

    print(f"{checked:,} documents ({args.clusters:,} clusters x {APPS} apps x 3 kinds)")
    print(f"distinct (object, kubeVersion) pairs validated: {validated}")
    print(f"cold (schemas loaded and compiled): {cold:.3f} s, {checked / cold:,.0f} docs/s")
    print(f"warm (schemas cached):              {warm:.3f} s, {checked / warm:,.0f} docs/s")
    compiled, reference = raw_rates(objects)
    print(f"one Deployment, no dedupe, compiled check: {compiled:,.0f} docs/s")
    print(f"one Deployment, no dedupe, jsonschema:     {reference:,.0f} docs/s")


if __name__ == "__main__":
    main()
