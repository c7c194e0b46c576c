"""kurator-compile: an offline compiler from one fleet spec to per-cluster GitOps trees."""

__version__ = "0.2.0"
