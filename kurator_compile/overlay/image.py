"""Container image references as Karmada's imageOverrider reads and rewrites them.

Parsing is distribution/reference v0.6 `Parse` (the full grammar, digest checks included) with
no docker.io normalisation; Karmada then splits the host off by its own rule: the first path
segment is a host when it contains `.` or `:` or is `localhost`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final

from .errors import PatchError

__all__ = ["ImageRef", "override_image", "parse_image"]

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = f"(?:{_DOMAIN_COMPONENT}(?:\\.{_DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?"
_REMOTE = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"

_REFERENCE: Final = re.compile(
    f"((?:{_DOMAIN}/)?{_REMOTE})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII
)
_NAME: Final = re.compile(f"(?:({_DOMAIN})/)?({_REMOTE})", re.ASCII)
_ANCHORED_TAG: Final = re.compile(_TAG, re.ASCII)
_ANCHORED_DIGEST: Final = re.compile(_DIGEST, re.ASCII)
# go-digest algorithms Karmada links in (crypto/sha256, crypto/sha512) and their hex lengths.
_DIGEST_SIZES: Final = {"sha256": 64, "sha384": 96, "sha512": 128}
_NAME_MAX: Final = 255


@dataclass(frozen=True)
class ImageRef:
    hostname: str
    repository: str
    tag: str = ""
    digest: str = ""

    def __str__(self) -> str:
        """host/repository:tag, or @digest when there is no tag (a tag hides the digest)."""
        name = f"{self.hostname}/{self.repository}" if self.hostname else self.repository
        if self.tag:
            return f"{name}:{self.tag}"
        if self.digest:
            return f"{name}@{self.digest}"
        return name


def parse_image(image: str) -> ImageRef:
    match = _REFERENCE.fullmatch(image)
    if match is None:
        if image == "":
            raise PatchError("invalid image '': repository name must have at least one component")
        if _REFERENCE.fullmatch(image.lower()):
            raise PatchError(f"invalid image {image!r}: repository name must be lowercase")
        raise PatchError(f"invalid image {image!r}: invalid reference format")
    name_match = _NAME.fullmatch(match.group(1))
    assert name_match is not None
    if len(name_match.group(2)) > _NAME_MAX:
        raise PatchError(
            f"invalid image {image!r}: repository name must not be more than {_NAME_MAX} characters"
        )
    digest = match.group(3) or ""
    if digest:
        _validate_digest(image, digest)
    hostname, repository = _split_hostname(match.group(1))
    tag = match.group(2) or ""
    return ImageRef(hostname, repository, tag, "" if tag else digest)


def _validate_digest(image: str, digest: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_SIZES.get(algorithm)
    if size is None:
        raise PatchError(f"invalid image {image!r}: unsupported digest algorithm")
    if len(encoded) != size:
        raise PatchError(f"invalid image {image!r}: invalid checksum digest length")
    if not re.fullmatch(f"[a-f0-9]{{{size}}}", encoded):
        raise PatchError(f"invalid image {image!r}: invalid checksum digest format")


def _split_hostname(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost"):
        return "", name
    return first, rest


@lru_cache(maxsize=4096)
def override_image(image: str, component: str, operator: str, value: str) -> str:
    """The image after one imageOverrider: `component` is Registry, Repository or Tag.
    Remembered: a policy changes the same images on every cluster it targets."""
    ref = parse_image(image)
    if component == "Registry":
        if operator == "add":
            ref = replace(ref, hostname=ref.hostname + value)
        elif operator == "replace":
            ref = replace(ref, hostname=value)
        elif operator == "remove":
            ref = replace(ref, hostname="")
    elif component == "Repository":
        if operator == "add":
            ref = replace(ref, repository=ref.repository + value)
        elif operator == "replace":
            ref = replace(ref, repository=value)
        elif operator == "remove":
            ref = replace(ref, repository="")
    elif component == "Tag":
        if operator == "add":
            ref = _set_tag_or_digest(ref, (ref.tag or ref.digest) + value)
        elif operator == "replace":
            ref = _set_tag_or_digest(ref, value)
        elif operator == "remove":
            ref = replace(ref, tag="") if ref.tag else replace(ref, digest="")
    else:
        raise PatchError(f"unsupported image component {component!r}")
    return str(ref)


def _set_tag_or_digest(ref: ImageRef, text: str) -> ImageRef:
    """A value that looks like a tag becomes the tag, one like a digest the digest; any other
    value changes nothing."""
    if _ANCHORED_TAG.fullmatch(text):
        return replace(ref, tag=text, digest="")
    if _ANCHORED_DIGEST.fullmatch(text):
        return replace(ref, digest=text, tag="")
    return ref
