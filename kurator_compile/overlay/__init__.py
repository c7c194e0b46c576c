"""Overlays: kustomize patches and Karmada overriders applied to plain JSON-like objects.

Everything here is pure: functions take dicts and lists, return new values, never modify
their inputs, and report problems as PatchError.
"""

from __future__ import annotations

from .errors import PatchError
from .image import ImageRef, override_image, parse_image
from .jsonpatch import json_patch
from .overriders import apply_overriders
from .patch import JsonPatch, Patch, StrategicMergePatch, apply_patch, parse_patch
from .policies import (
    OverrideStep,
    apply_override_policies,
    order_override_policies,
    override_steps,
)
from .selector_string import Selector, parse_selector
from .strategic import strategic_merge
from .target import identity_matches, target_matches

__all__ = [
    "ImageRef",
    "JsonPatch",
    "OverrideStep",
    "Patch",
    "PatchError",
    "Selector",
    "StrategicMergePatch",
    "apply_override_policies",
    "apply_overriders",
    "apply_patch",
    "identity_matches",
    "json_patch",
    "order_override_policies",
    "override_image",
    "override_steps",
    "parse_image",
    "parse_patch",
    "parse_selector",
    "strategic_merge",
    "target_matches",
]
