"""The compiled output as data: relative POSIX path -> file bytes."""

from __future__ import annotations

FileTree = dict[str, bytes]

CLUSTERS_DIR = "clusters"

# How a cluster's objects are laid out in its folder: one file each (the default), or one
# multi-document file that Argo CD's directory source and Flux read from the same folder.
PER_OBJECT = "per-object"
PER_CLUSTER = "per-cluster"
LAYOUTS = (PER_OBJECT, PER_CLUSTER)
# The per-cluster layout's file: no `_`, so it never collides with an object's file name.
CLUSTER_FILE = "all.yaml"
