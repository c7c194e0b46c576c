"""Throughput of kurator_compile.yamlout against PyYAML's C dumper and json.dumps.

Prints documents per second (median of several rounds) for ~5,000 realistic Kubernetes
documents (Deployment, Service, ConfigMap), one call per document:

    python benchmarks/yamlout_bench.py [--docs 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kurator_compile import yamlout


def deployment(i: int) -> dict[str, Any]:
    name = f"app-{i:04d}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop", "tier": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "apps",
            "labels": {**labels, "cluster": f"cluster-{i % 100:03d}"},
            "annotations": {"kurator.dev/revision": str(i % 7), "prometheus.io/scrape": "true"},
        },
        "spec": {
            "replicas": 1 + i % 5,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": f"registry.example.com/apps/{name}:1.{i % 9}.0",
                            "args": ["--port=8080", "--log-level=info"],
                            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                            "env": [
                                {"name": "APP_NAME", "value": name},
                                {"name": "WORKERS", "value": str(2 + i % 3)},
                            ],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "periodSeconds": 10,
                            },
                            "volumeMounts": [{"mountPath": "/etc/app", "name": "config"}],
                        }
                    ],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "tolerations": [
                        {
                            "effect": "NoSchedule",
                            "key": "dedicated",
                            "operator": "Equal",
                            "value": "apps",
                        }
                    ],
                    "volumes": [{"configMap": {"name": f"{name}-config"}, "name": "config"}],
                },
            },
        },
    }


def service(i: int) -> dict[str, Any]:
    name = f"app-{i:04d}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "type": "ClusterIP",
        },
    }


def configmap(i: int) -> dict[str, Any]:
    name = f"app-{i:04d}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-config", "namespace": "apps"},
        "data": {
            "LOG_LEVEL": "info",
            "FEATURE_X": "on",
            "MAX_CONNECTIONS": str(100 + i),
            "app.properties": f"server.port=8080\nserver.name={name}\ncache.ttl=300\n",
        },
    }


def corpus(n: int) -> list[dict[str, Any]]:
    makers = (deployment, service, configmap)
    return [makers[i % 3](i // 3) for i in range(n)]


def pyyaml_c(doc: Any) -> str:
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=True, allow_unicode=True)


def json_compact(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def docs_per_second(fn: Callable[[Any], str], docs: list[Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for doc in docs:
            fn(doc)
        times.append(time.perf_counter() - start)
    return len(docs) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    docs = corpus(args.docs)
    for doc in docs:  # what is measured must also be right
        assert yaml.load(yamlout.dump_document(doc), Loader=yaml.CSafeLoader) == doc
    size = sum(len(json_compact(d)) for d in docs) / len(docs)
    print(f"{len(docs)} documents, {size:.0f} bytes each as compact JSON")

    yamlout._STR_CACHE.clear()
    yamlout._KEY_CACHE.clear()
    yamlout._ORDER_CACHE.clear()
    cold = docs_per_second(yamlout.dump_document, docs, 1)
    rows = [
        ("yamlout.dump_document (first pass, empty caches)", cold),
        ("yamlout.dump_document", docs_per_second(yamlout.dump_document, docs, args.rounds)),
        ("PyYAML dump, CSafeDumper", docs_per_second(pyyaml_c, docs, max(1, args.rounds // 2))),
        ("json.dumps (compact)", docs_per_second(json_compact, docs, args.rounds)),
    ]
    base = rows[2][1]
    for label, rate in rows:
        print(f"{label:<52} {rate:>10,.0f} docs/s  {rate / base:5.1f}x PyYAML C")


if __name__ == "__main__":
    main()
