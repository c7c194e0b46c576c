"""Where schemas come from: kubernetes-validate's per-version files and CRD schema directories.

Built-in kinds use the JSON schemas that the `kubernetes-validate` package ships, read straight
from its package data: `kubernetes_validate/kubernetes-json-schema/v1.30.0-local-strict/` holds
one file per kind, `{kind}-{group prefix}-{version}.json` (`deployment-apps-v1.json`,
`configmap-v1.json`, `flowschema-flowcontrol-v1.json`), whose `$ref`s point into that
directory's `_definitions.json`; the `-strict` flavour forbids unknown fields, the plain one
allows them. Custom resources use `{group}/{kind}_{version}.json` files (kubeconform's layout,
kind lowercased) from the directories the caller names, in order.

Everything is read and compiled on first use and kept by the SchemaStore instance, never in
module globals, so separate runs (and tests) cannot see each other's state.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kinds import split_api_version
from ..schemacheck import SchemaSet
from .crd import prepare_crd_schema
from .versions import KubeVersion, show_version

if TYPE_CHECKING:  # jsonschema is imported only to explain an object found invalid
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator
    from referencing import Registry

SCHEMA_PACKAGE = "kubernetes_validate"
SCHEMA_ROOT = "kubernetes-json-schema"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local(-strict)?$")
# The oldest Kubernetes checked: older package releases ship older schemas too, which are
# ignored so that results do not depend on which release is installed.
OLDEST_SUPPORTED: KubeVersion = (1, 25)
# Groups whose kinds only Kubernetes itself serves: the legacy unqualified groups and *.k8s.io
# (where CRDs such as the Gateway API also live, so a miss there still tries the CRD files).
_LEGACY_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})


def is_builtin_group(group: str) -> bool:
    return group in _LEGACY_GROUPS or group.endswith(".k8s.io")


def builtin_filename(group: str, version: str, kind: str) -> str:
    """kubernetes-validate's name: the group's first label only (`rbac`, `flowcontrol`)."""
    prefix = group.split(".", 1)[0]
    parts = [kind.lower(), prefix, version] if prefix else [kind.lower(), version]
    return "-".join(parts) + ".json"


def _package_dir(package: str) -> Traversable:
    """The package's data without running its `__init__` (kubernetes-validate's imports
    jsonschema and PyYAML, which a run with valid output never needs)."""
    spec = importlib.util.find_spec(package)
    locations = spec.submodule_search_locations if spec is not None else None
    if locations:
        return Path(next(iter(locations)))
    return resources.files(package)


@dataclass(frozen=True, eq=False)
class Schema:
    """A usable schema, or why the file meant for the kind could not be used.

    `is_valid` answers yes, no or cannot tell (None) from a compiled predicate; the jsonschema
    `validator`, slow to build and to run, is made only for objects that need explaining.
    """

    source: str  # "Kubernetes 1.30" or the CRD schema file
    build: Callable[[], Validator] | None = None
    problem: str = ""
    is_valid: Callable[[Any], bool | None] | None = None

    @cached_property
    def _validator(self) -> Validator | None:
        return None if self.build is None else self.build()

    def errors(self, obj: Any) -> Iterator[ValidationError]:
        """Everything jsonschema finds wrong with `obj` (nothing for an unusable schema)."""
        if self._validator is not None:
            yield from self._validator.iter_errors(obj)


class SchemaStore:
    """Loads each schema once and compiles it once; one instance per run (or per test).

    `loose` allows unknown fields (the non-strict Kubernetes schemas, and CRD schemas without
    `additionalProperties: false`); `strict` makes a kind without any schema an error rather
    than a warning.
    """

    def __init__(
        self, crd_dirs: Sequence[Path] = (), loose: bool = False, strict: bool = False
    ) -> None:
        self.crd_dirs = tuple(Path(d) for d in crd_dirs)
        self.loose = loose
        self.strict = strict
        self.validations = 0  # objects actually run through a validator (dedupe shows here)
        self._dirs: dict[KubeVersion, Traversable] | None = None
        self._registries: dict[KubeVersion, Registry] = {}
        self._definitions: dict[KubeVersion, dict[str, Any]] = {}
        self._compiled: dict[KubeVersion, SchemaSet] = {}
        self._builtin: dict[tuple[KubeVersion, str], Schema | None] = {}
        self._crd: dict[tuple[str, str, str], Schema | None] = {}
        self._listings: dict[KubeVersion, frozenset[str]] = {}

    # -- versions ---------------------------------------------------------------------------

    def _version_dirs(self) -> dict[KubeVersion, Traversable]:
        if self._dirs is None:
            root = _package_dir(SCHEMA_PACKAGE).joinpath(SCHEMA_ROOT)
            found: dict[KubeVersion, Traversable] = {}
            for entry in root.iterdir():
                match = _VERSION_DIR.match(entry.name)
                if match is None or bool(match.group(4)) == self.loose:
                    continue
                version = (int(match.group(1)), int(match.group(2)))
                if version >= OLDEST_SUPPORTED:
                    found[version] = entry
            self._dirs = dict(sorted(found.items()))
        return self._dirs

    @property
    def versions(self) -> tuple[KubeVersion, ...]:
        """The Kubernetes minors with schemas, oldest first."""
        return tuple(self._version_dirs())

    @property
    def default_version(self) -> str:
        """For clusters that name no kubeVersion: the newest version the package ships."""
        return show_version(self.versions[-1])

    def schema_version(self, target: KubeVersion) -> KubeVersion | None:
        """The newest schema set not newer than `target`; None when `target` predates them."""
        usable = [v for v in self.versions if v <= target]
        return usable[-1] if usable else None

    # -- built-in kinds ---------------------------------------------------------------------

    def _definitions_of(self, version: KubeVersion) -> dict[str, Any]:
        definitions = self._definitions.get(version)
        if definitions is None:
            text = self._version_dirs()[version].joinpath("_definitions.json").read_text("utf-8")
            definitions = self._definitions[version] = json.loads(text)
        return definitions

    def _registry(self, version: KubeVersion) -> Registry:
        from referencing import Registry, Resource

        registry = self._registries.get(version)
        if registry is None:
            definitions = self._definitions_of(version)
            resource: Resource[Any] = Resource.from_contents(definitions)
            registry = Registry().with_resource(definitions["$id"], resource).crawl()
            self._registries[version] = registry
        return registry

    def _schema_set(self, version: KubeVersion) -> SchemaSet:
        """Every kind's schema of one version compiles into one set: they share definitions."""
        compiled = self._compiled.get(version)
        if compiled is None:
            compiled = self._compiled[version] = SchemaSet([self._definitions_of(version)])
        return compiled

    def builtin(self, version: KubeVersion, api_version: str, kind: str) -> Schema | None:
        """The Kubernetes schema of this kind at `version`, or None when it does not serve it."""
        group, api = split_api_version(api_version)
        if not is_builtin_group(group):
            return None
        name = builtin_filename(group, api, kind)
        key = (version, name)
        if key in self._builtin:
            return self._builtin[key]
        schema: Schema | None = None
        if name in self.listing(version):
            text = self._version_dirs()[version].joinpath(name).read_text("utf-8")
            document = json.loads(text)
            served = {
                (gvk.get("group"), gvk.get("version"), gvk.get("kind"))
                for gvk in document.get("x-kubernetes-group-version-kind") or ()
            }
            # The file name keeps only the group's first label: make sure it is this group.
            if (group, api, kind) in served:
                schema = self._builtin_schema(version, document)
        self._builtin[key] = schema
        return schema

    def _builtin_schema(self, version: KubeVersion, document: dict[str, Any]) -> Schema:
        compiled = self._schema_set(version)
        compiled.add(document)
        uri = str(document["$id"])

        def build() -> Validator:
            from jsonschema import Draft202012Validator

            return Draft202012Validator(document, registry=self._registry(version))

        return Schema(
            f"Kubernetes {show_version(version)}",
            build,
            is_valid=lambda obj: compiled.is_valid(uri, obj),
        )

    def listing(self, version: KubeVersion) -> frozenset[str]:
        """File names of one version's schemas (to tell 'removed' from 'unknown')."""
        names = self._listings.get(version)
        if names is None:
            names = frozenset(e.name for e in self._version_dirs()[version].iterdir())
            self._listings[version] = names
        return names

    def served_in(self, api_version: str, kind: str) -> list[KubeVersion]:
        """The shipped versions that have a schema file for this built-in kind."""
        group, api = split_api_version(api_version)
        name = builtin_filename(group, api, kind)
        return [v for v in self.versions if name in self.listing(v)]

    # -- custom resources -------------------------------------------------------------------

    def crd(self, api_version: str, kind: str) -> Schema | None:
        """The first `{group}/{kind}_{version}.json` found in the CRD directories."""
        group, api = split_api_version(api_version)
        key = (group, api, kind)
        if key in self._crd:
            return self._crd[key]
        schema: Schema | None = None
        if group:
            relative = Path(group) / f"{kind.lower()}_{api}.json"
            for directory in self.crd_dirs:
                path = directory / relative
                if path.is_file():
                    schema = self._load_crd(path)
                    break
        self._crd[key] = schema
        return schema

    def _load_crd(self, path: Path) -> Schema:
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return Schema(str(path), problem=f"cannot read CRD schema {path}: {error}")
        if not isinstance(document, dict):
            return Schema(str(path), problem=f"CRD schema {path} is not a JSON object")
        prepared = prepare_crd_schema(document, self.loose)

        def build() -> Validator:
            from jsonschema import Draft4Validator

            return Draft4Validator(prepared)

        return Schema(str(path), build)
