"""The compiled output as data: relative POSIX path -> file bytes."""

from __future__ import annotations

FileTree = dict[str, bytes]

CLUSTERS_DIR = "clusters"
