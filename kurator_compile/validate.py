"""Documents -> diagnostics: JSON Schema (shipped in the package), then checks across documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic, by_closeness
from .kinds import KINDS, Role, kind_spec
from .kurator.schemas import input_schema
from .model import Fleet, Policy, Resource
from .schemacheck import SchemaSet
from .yamldoc import Document, pointer_join

if TYPE_CHECKING:  # jsonschema is imported only to explain a document found invalid
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Object names become file names: lowercase so they cannot collide on case-insensitive file
# systems, no `/` or `..`; `:` is allowed because RBAC objects use it (system:aggregate-...).
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$")


def _schema_text(name: str) -> str:
    return resources.files("kurator_compile").joinpath("schemas", name).read_text("utf-8")


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Every shipped schema by file name (they refer to each other by `$id`)."""
    names = {spec.schema for spec in KINDS} | {"resource.json"}
    return {name: json.loads(_schema_text(name)) for name in sorted(names)}


@cache
def _registry() -> Registry:
    from referencing import Registry
    from referencing import Resource as SchemaResource

    pairs = [(s["$id"], SchemaResource.from_contents(s)) for s in _schemas().values()]
    return Registry().with_resources(pairs)


@cache
def _compiled() -> SchemaSet:
    return SchemaSet(list(_schemas().values()), search=lambda p: _ecma_pattern(p).search)


@cache
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    """JSON Schema patterns are ECMA-262, where `$` matches only at the very end; in Python it
    also matches before a final newline, which would let "web\n" through a name pattern."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    checker: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str) and not _ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """One jsonschema validator per schema for the life of the process (schemas never change);
    it explains what is wrong with a document the compiled check rejected."""
    from jsonschema import Draft202012Validator, validators

    extended = validators.extend(  # type: ignore[no-untyped-call]  # jsonschema has no hints
        Draft202012Validator, {"pattern": _pattern}
    )
    compiled: Draft202012Validator = extended(_schemas()[schema_name], registry=_registry())
    return compiled


def _pointer(path: Iterable[Any]) -> str:
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For `anyOf`/`oneOf` failures report the branch errors, which say what is wrong."""
    if error.context:
        for sub in error.context:
            yield from _leaf_errors(sub)
    else:
        yield error


def _describe(error: ValidationError, doc: Document) -> list[Diagnostic]:
    base = _pointer(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        hint = ", ".join(sorted(allowed))
        return [
            Diagnostic.error(
                f"unknown field {key!r} (expected one of: {hint})",
                doc.locate(pointer_join(base, key)),
            )
            for key in extra
        ]
    if error.validator == "required":
        return [Diagnostic.error(f"missing required field: {error.message}", doc.locate(base))]
    if error.validator == "const":
        return [
            Diagnostic.error(
                f"{error.instance!r} is not allowed here; expected {error.validator_value!r}",
                doc.locate(base),
            )
        ]
    if error.validator == "enum":
        values = error.validator_value if isinstance(error.validator_value, list) else []
        choices = ", ".join(repr(v) for v in values)
        return [
            Diagnostic.error(
                f"{error.instance!r} is not one of {choices}",
                doc.locate(base),
            )
        ]
    return [Diagnostic.error(error.message, doc.locate(base))]


def schema_diagnostics(doc: Document) -> list[Diagnostic]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            Diagnostic.error(
                "a document must be a mapping with apiVersion, kind and metadata",
                doc.locate(""),
            )
        ]
    spec = kind_spec(data.get("apiVersion"), data.get("kind"))
    if spec.crd:
        checked = _crd_diagnostics(doc, spec.group, spec.kind)
        if checked is not None:
            return checked
    if _compiled().is_valid(_schemas()[spec.schema]["$id"], data):
        return []
    found: list[Diagnostic] = []
    for error in validator(spec.schema).iter_errors(data):
        for leaf in _leaf_errors(error):
            found.extend(_describe(leaf, doc))
    return found


def _crd_diagnostics(doc: Document, group: str, kind: str) -> list[Diagnostic] | None:
    """A Kurator document against its CRD schema; None when no schema is shipped for it."""
    from jsonschema import Draft4Validator

    version = str(doc.data.get("apiVersion", "")).rpartition("/")[2]
    schema = input_schema(group, kind, version)
    if schema is None:
        return None
    found: list[Diagnostic] = []
    for error in Draft4Validator(schema).iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            found.extend(_describe(leaf, doc))
    return found


def _duplicates(items: Iterable[tuple[object, Document, str]], what: str) -> Iterator[Diagnostic]:
    first: dict[object, tuple[Document, str]] = {}
    for key, doc, pointer in items:
        if key in first:
            prev_doc, prev_pointer = first[key]
            prev = prev_doc.locate(prev_pointer)
            yield Diagnostic.error(
                f"duplicate {what} {key} (first defined at {prev.file}:{prev.line}:{prev.column})",
                doc.locate(pointer),
            )
        else:
            first[key] = (doc, pointer)


def _affinity_cluster_names(affinity: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if not isinstance(affinity, dict):
        return
    for field in ("clusterNames", "exclude"):
        for index, name in enumerate(affinity.get(field) or []):
            yield name, f"{pointer}/{field}/{index}"


def _policy_cluster_references(policy: Policy) -> Iterator[tuple[str, str]]:
    placement = policy.spec.get("placement") or {}
    yield from _affinity_cluster_names(
        placement.get("clusterAffinity"), "/spec/placement/clusterAffinity"
    )
    for index, term in enumerate(placement.get("clusterAffinities") or []):
        term_pointer = f"/spec/placement/clusterAffinities/{index}"
        yield from _affinity_cluster_names(term, term_pointer)
        for o_index, overflow in enumerate(term.get("overflowAffinities") or []):
            yield from _affinity_cluster_names(
                overflow, f"{term_pointer}/overflowAffinities/{o_index}"
            )
    scheduling = placement.get("replicaScheduling") or {}
    weights = (scheduling.get("weightPreference") or {}).get("staticWeightList")
    for field, rules in (
        ("weightPreference/staticWeightList", weights),
        ("weightList", scheduling.get("weightList")),
    ):
        for index, rule in enumerate(rules or []):
            yield from _affinity_cluster_names(
                rule.get("targetCluster"),
                f"/spec/placement/replicaScheduling/{field}/{index}/targetCluster",
            )


# Most file systems allow 255 bytes per file name.
MAX_FILE_NAME_BYTES = 255


def _file_name_diagnostics(fleet: Fleet) -> Iterator[Diagnostic]:
    """Every object's file name must fit the file system and differ from every other's, even
    on case-insensitive file systems (kinds are lowercased in file names)."""
    from .render import object_filename

    taken: dict[str, Resource] = {}
    for resource in fleet.resources:
        name = object_filename(resource.key)
        if len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
            yield Diagnostic.error(
                f"{resource.key} would be written as a file name of {len(name.encode())} bytes "
                f"({name[:40]}...), over the {MAX_FILE_NAME_BYTES} most file systems allow; "
                "shorten its name or namespace",
                resource.locate("/metadata/name"),
            )
        first = taken.setdefault(name.lower(), resource)
        if first is not resource and first.key != resource.key:
            where = first.locate()
            yield Diagnostic.error(
                f"{resource.key} and {first.key} (at {where.file}:{where.line}:{where.column}) "
                f"would share the file name {name}: their kinds or names differ only in case",
                resource.locate(""),
            )


def _extension_cluster_references(fleet: Fleet) -> Iterator[tuple[Document, str, str]]:
    """(document, cluster name, pointer) for every cluster an override policy names."""
    for kind in ("OverridePolicy", "ClusterOverridePolicy"):
        for doc in fleet.extensions.get(kind, ()):
            spec = doc.data.get("spec") or {}
            for index, rule in enumerate(spec.get("overrideRules") or []):
                pointer = f"/spec/overrideRules/{index}/targetCluster"
                for name, where in _affinity_cluster_names(rule.get("targetCluster"), pointer):
                    yield doc, name, where
            for name, where in _affinity_cluster_names(
                spec.get("targetCluster"), "/spec/targetCluster"
            ):
                yield doc, name, where


def _overlay_cluster_references(fleet: Fleet) -> Iterator[tuple[Document, str, str]]:
    for doc in fleet.extensions.get("Overlay", ()):
        selector = (doc.data.get("spec") or {}).get("clusterSelector")
        for name, where in _affinity_cluster_names(selector, "/spec/clusterSelector"):
            yield doc, name, where


def _unknown_cluster_warning(
    what: str, name: str, known: set[str], doc: Document, pointer: str
) -> Diagnostic:
    """Karmada matches a cluster name it does not know against no cluster, and one policy set
    is commonly shared by fleets with different clusters: a warning, an error under --strict."""
    nearest = by_closeness(name, known)
    hint = f" (did you mean {nearest[0]!r}?)" if nearest else ""
    return Diagnostic.warning(
        f"{what} names cluster {name!r}, which the fleet does not have{hint}; Karmada matches "
        "no cluster by that name",
        doc.locate(pointer),
    )


def _override_keys(fleet: Fleet) -> Iterator[tuple[object, Document, str]]:
    """Override policies by kind, namespace and name: Karmada keeps one object per key, so a
    second document with the same key would otherwise be applied twice."""
    for kind in ("ClusterOverridePolicy", "OverridePolicy"):
        for doc in fleet.extensions.get(kind, ()):
            metadata = doc.data.get("metadata")
            meta = metadata if isinstance(metadata, dict) else {}
            namespace = "-" if kind.startswith("Cluster") else meta.get("namespace") or "default"
            yield f"{kind}/{namespace}/{meta.get('name')}", doc, ""


def fleet_diagnostics(fleet: Fleet) -> list[Diagnostic]:
    """Checks that need more than one document: duplicates and references to clusters."""
    found: list[Diagnostic] = list(
        _duplicates(
            (
                (c.name, fleet.document, f"/spec/clusters/{i}/name")
                for i, c in enumerate(fleet.clusters)
            ),
            "cluster",
        )
    )
    found.extend(_duplicates(((str(r.key), r.document, "") for r in fleet.resources), "object"))
    found.extend(
        _duplicates(
            ((f"{p.kind}/{p.namespace or '-'}/{p.name}", p.document, "") for p in fleet.policies),
            "policy",
        )
    )
    found.extend(_duplicates(_override_keys(fleet), "policy"))
    found.extend(_file_name_diagnostics(fleet))
    host = fleet.host
    member = fleet.cluster(host.name) if host is not None else None
    if host is not None and member is not None and member.location is not None:
        where = member.location
        found.append(
            Diagnostic.error(
                f"the host is named {host.name!r}, like a member cluster (at {where.file}:"
                f"{where.line}:{where.column}); the host's folder must differ from every "
                "cluster's",
                fleet.document.locate("/spec/host/name"),
            )
        )
    known = {cluster.name for cluster in fleet.clusters}
    for doc, name, pointer in _overlay_cluster_references(fleet):
        if name not in known:
            found.append(
                Diagnostic.error(
                    f"{doc.data['kind']} {doc.data['metadata']['name']!r} names cluster "
                    f"{name!r}, which the fleet does not have (clusters: "
                    f"{', '.join(sorted(known))})",
                    doc.locate(pointer),
                )
            )
    for doc, name, pointer in _extension_cluster_references(fleet):
        if name not in known:
            what = f"{doc.data['kind']} {doc.data['metadata']['name']!r}"
            found.append(_unknown_cluster_warning(what, name, known, doc, pointer))
    for policy in fleet.policies:
        for name, pointer in _policy_cluster_references(policy):
            if name not in known:
                what = f"{policy.kind} {policy.name!r}"
                found.append(_unknown_cluster_warning(what, name, known, policy.document, pointer))
    return found


def _is_rbac(api_version: object) -> bool:
    return isinstance(api_version, str) and api_version.startswith("rbac.authorization.k8s.io/")


def name_diagnostics(doc: Document) -> list[Diagnostic]:
    """Object names and namespaces become path segments, so they must be safe ones."""
    if role_of(doc) is not Role.RESOURCE:
        return []
    metadata = doc.data.get("metadata")
    if not isinstance(metadata, dict):
        return []
    found: list[Diagnostic] = []
    name = metadata.get("name")
    if isinstance(name, str) and (not OBJECT_NAME.fullmatch(name) or len(name) > 253):
        found.append(
            Diagnostic.error(
                f"object name {name!r} cannot become a file name: use lowercase "
                "letters, digits, '-', '.' and ':' (a DNS-1123 subdomain)",
                doc.locate("/metadata/name"),
            )
        )
    elif isinstance(name, str) and ":" in name and not _is_rbac(doc.data.get("apiVersion")):
        found.append(
            Diagnostic.error(
                f"object name {name!r} contains ':', which only RBAC objects' names may; the "
                f"API server refuses it for a {doc.data.get('kind')}",
                doc.locate("/metadata/name"),
            )
        )
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and (
        not DNS1123_LABEL.fullmatch(namespace) or len(namespace) > 63
    ):
        found.append(
            Diagnostic.error(
                f"namespace {namespace!r} is not a valid DNS-1123 label (at most 63 characters)",
                doc.locate("/metadata/namespace"),
            )
        )
    return found


def secret_diagnostics(doc: Document) -> list[Diagnostic]:
    """A Secret with literal data in git is a leak waiting to happen; SOPS ones are fine."""
    data = doc.data
    if data.get("kind") != "Secret" or data.get("apiVersion") != "v1" or "sops" in data:
        return []
    if not (data.get("data") or data.get("stringData")):
        return []
    field = "data" if data.get("data") else "stringData"
    return [
        Diagnostic.warning(
            "Secret holds literal values in the repository; encrypt it with SOPS (documents "
            "with a `sops:` key pass through unchanged) or use sealed-secrets",
            doc.locate(f"/{field}"),
        )
    ]


def validate_documents(docs: Sequence[Document]) -> list[Diagnostic]:
    """Schema and name errors of every document, all at once."""
    found: list[Diagnostic] = []
    for doc in docs:
        found.extend(schema_diagnostics(doc))
        if isinstance(doc.data, dict):
            found.extend(name_diagnostics(doc))
    return found


def input_warnings(docs: Sequence[Document]) -> list[Diagnostic]:
    return [d for doc in docs if isinstance(doc.data, dict) for d in secret_diagnostics(doc)]


def role_of(doc: Document) -> Role:
    data = doc.data if isinstance(doc.data, dict) else {}
    return kind_spec(data.get("apiVersion"), data.get("kind")).role
