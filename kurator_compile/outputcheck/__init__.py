"""Output validation: every emitted object against its cluster's Kubernetes and CRD schemas.

    store = SchemaStore(crd_dirs=[Path("crd-schemas")])   # one per run; caches schemas
    checker = OutputValidator(store)                        # dedupes identical objects
    checker.check(obj, cluster.kube_version, cluster.name, resource.document.locate)
    diagnostics = checker.diagnostics

A cluster without a kubeVersion (None) is checked against the newest Kubernetes version the
installed kubernetes-validate ships (`store.default_version`).
"""

from __future__ import annotations

from .check import (
    Finding,
    OutputValidator,
    Target,
    object_findings,
    resolve_target,
    validate_object,
)
from .store import Schema, SchemaStore
from .versions import REMOVALS, ApiRemoval, api_lifecycle, parse_kube_version

__all__ = [
    "REMOVALS",
    "ApiRemoval",
    "Finding",
    "OutputValidator",
    "Schema",
    "SchemaStore",
    "Target",
    "api_lifecycle",
    "object_findings",
    "parse_kube_version",
    "resolve_target",
    "validate_object",
]
