"""What the user asked for, as one frozen value: no click context below the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    strict: bool = False  # warnings become errors
    only_cluster: str | None = None  # render one cluster and do no other cluster's work
    kustomization: bool = False  # also write clusters/<c>/kustomization.yaml
    allow_outside: bool = False  # globs may leave the repository root
    root: Path | None = None  # repository root; found from the fleet file when None
    shard: tuple[int, int] | None = None  # (I, N): only the clusters of shard I of N
    validate_output: bool = True  # check every emitted object against its cluster's schemas
    loose: bool = False  # unknown fields in emitted objects are allowed
    crd_schemas: tuple[Path, ...] = ()  # kubeconform-layout folders of custom resource schemas
    ignore_missing_schemas: bool = False  # a kind nothing defines warns instead of failing
    reschedule: bool = False  # every object in Fresh mode, as Karmada's WorkloadRebalancer
    reschedule_objects: tuple[str, ...] = ()  # KIND/NAMESPACE/NAME: only these, Fresh mode
    layout: str = "per-object"  # or "per-cluster": one multi-document file per cluster folder

    def wants(self, cluster: str, position: int) -> bool:
        """Whether this run renders `cluster`, the `position`-th in name order (from 0)."""
        if self.only_cluster is not None and cluster != self.only_cluster:
            return False
        return self.shard is None or position % self.shard[1] == self.shard[0] - 1
