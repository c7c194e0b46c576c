"""Label selectors, cluster affinity terms and resource selectors, matched as Karmada does.

Karmada builds these with apimachinery (`LabelSelectorAsSelector`, `labels.NewRequirement`): an
invalid selector (bad key, bad value, wrong number of values, unknown operator) is an error,
and every caller then treats the cluster or object as not matching. We keep that: `compile_*`
returns None for an invalid selector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..fields import is_digits
from ..model import Cluster

__all__ = [
    "ClusterAffinity",
    "Requirement",
    "ResourceSelector",
    "cluster_matches",
    "compile_affinity",
    "compile_label_selector",
    "compile_resource_selector",
    "label_selector_matches",
    "label_selector_problems",
    "selector_priority",
]

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

ZONE_FIELD = "zone"
PROVIDER_FIELD = "provider"
REGION_FIELD = "region"

PRIORITY_MISMATCH = 0
PRIORITY_MATCH_ALL = 1
PRIORITY_LABEL_SELECTOR = 2
PRIORITY_NAME = 3


def is_qualified_name(key: object) -> bool:
    """A label key: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters."""
    if not isinstance(key, str):
        return False
    parts = key.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return False
    elif len(parts) == 1:
        name = parts[0]
    else:
        return False
    return 0 < len(name) <= 63 and _NAME.fullmatch(name) is not None


def is_label_value(value: object) -> bool:
    return isinstance(value, str) and (
        value == "" or (len(value) <= 63 and _NAME.fullmatch(value) is not None)
    )


# apimachinery's wording (k8s.io/apimachinery/pkg/util/validation), for error messages.
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{_QUALIFIED_NAME_FMT}')"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    f"'({_QUALIFIED_NAME_FMT})?')"
)


def qualified_name_errors(key: object) -> list[str]:
    """`validation.IsQualifiedName`: why `key` is not a label key ([] when it is one)."""
    if not isinstance(key, str):
        return ["must be a string"]
    errors: list[str] = []
    parts = key.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errors.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
                errors.append(f"prefix part {_DNS1123_SUBDOMAIN_MSG}")
    elif len(parts) == 1:
        name = parts[0]
    else:
        return [
            f"a qualified name {_QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _NAME.fullmatch(name):
        errors.append(f"name part {_QUALIFIED_NAME_MSG}")
    return errors


def label_value_errors(value: object) -> list[str]:
    """`validation.IsValidLabelValue`: why `value` is not a label value."""
    if not isinstance(value, str):
        return ["must be a string"]
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if value and not _NAME.fullmatch(value):
        errors.append(_LABEL_VALUE_MSG)
    return errors


def quoted(value: object) -> str:
    """A value as Go's %q shows it in an apimachinery error (shortened past 100 chars)."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else f"{text[:60]}...{text[-20:]} ({len(text)} characters)"


def field_path(pointer: str) -> str:
    """A JSON pointer as a Kubernetes field path: /spec/a/0/b -> spec.a[0].b."""
    path = ""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        path += f"[{token}]" if is_digits(token) else (f".{token}" if path else token)
    return path


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def label_selector_problems(selector: object, pointer: str) -> list[tuple[str, str]]:
    """`ValidateLabelSelector`: (JSON pointer, message) for each reason kube-apiserver would
    reject the LabelSelector at `pointer`, in its words; [] for a valid selector.

    Exactly the selectors `compile_label_selector` turns into None have problems.
    """
    path = field_path(pointer)
    if not isinstance(selector, Mapping):
        return [(pointer, f"{path}: Invalid value: {quoted(selector)}: must be a mapping")]
    problems: list[tuple[str, str]] = []
    match_labels = selector.get("matchLabels") or {}
    if isinstance(match_labels, Mapping):
        where = f"{path}.matchLabels"
        for key, value in match_labels.items():
            at = f"{pointer}/matchLabels/{_escape(str(key))}"
            for msg in qualified_name_errors(key):
                problems.append((at, f"{where}: Invalid value: {quoted(key)}: {msg}"))
            for msg in label_value_errors(value):
                problems.append((at, f"{where}: Invalid value: {quoted(value)}: {msg}"))
    else:
        problems.append(
            (
                f"{pointer}/matchLabels",
                f"{path}.matchLabels: Invalid value: {quoted(match_labels)}: must be a mapping",
            )
        )
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        problems.append(
            (
                f"{pointer}/matchExpressions",
                f"{path}.matchExpressions: Invalid value: {quoted(expressions)}: must be a list",
            )
        )
        expressions = []
    for i, expr in enumerate(expressions):
        at, where = f"{pointer}/matchExpressions/{i}", f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, Mapping):
            problems.append((at, f"{where}: Invalid value: {quoted(expr)}: must be a mapping"))
            continue
        problems.extend(_requirement_problems(expr, at, where))
    return problems


def _requirement_problems(expr: Mapping[str, Any], at: str, where: str) -> list[tuple[str, str]]:
    """`ValidateLabelSelectorRequirement`."""
    problems: list[tuple[str, str]] = []
    operator = expr.get("operator")
    values = expr.get("values") or []
    if not isinstance(values, list | tuple):
        problems.append(
            (f"{at}/values", f"{where}.values: Invalid value: {quoted(values)}: must be a list")
        )
        values = []
    if operator in ("In", "NotIn"):
        if not values:
            problems.append(
                (
                    f"{at}/values",
                    f"{where}.values: Required value: must be specified when `operator` is "
                    "'In' or 'NotIn'",
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            problems.append(
                (
                    f"{at}/values",
                    f"{where}.values: Forbidden: may not be specified when `operator` is "
                    "'Exists' or 'DoesNotExist'",
                )
            )
    else:
        problems.append(
            (
                f"{at}/operator",
                f"{where}.operator: Invalid value: {quoted(operator)}: not a valid selector "
                "operator",
            )
        )
    key = expr.get("key")
    for msg in qualified_name_errors(key):
        problems.append((f"{at}/key", f"{where}.key: Invalid value: {quoted(key)}: {msg}"))
    for j, value in enumerate(values):
        for msg in label_value_errors(value):
            problems.append(
                (
                    f"{at}/values/{j}",
                    f"{where}.values[{j}]: Invalid value: {quoted(value)}: {msg}",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class Requirement:
    """One `key op values` test; operators as apimachinery's selection package names them."""

    key: str
    operator: str  # "=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.operator == "gt" else have < want


def _requirement(key: object, operator: str, values: object) -> Requirement | None:
    """`labels.NewRequirement`: None where apimachinery returns an error."""
    if not is_qualified_name(key) or not isinstance(values, list | tuple):
        return None
    vals = tuple(values)
    if operator in ("in", "notin") and not vals:
        return None
    if operator == "=" and len(vals) != 1:
        return None
    if operator in ("exists", "!") and vals:
        return None
    if operator in ("gt", "lt"):
        if len(vals) != 1 or not isinstance(vals[0], str):
            return None
        try:
            int(vals[0])
        except ValueError:
            return None
    if not all(is_label_value(v) for v in vals):
        return None
    assert isinstance(key, str)
    return Requirement(key, operator, tuple(str(v) for v in vals))


_LABEL_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
_NODE_OPS = {**_LABEL_OPS, "Gt": "gt", "Lt": "lt"}


def compile_label_selector(selector: object) -> tuple[Requirement, ...] | None:
    """`metav1.LabelSelectorAsSelector`; `{}` selects everything, an invalid selector is None."""
    if not isinstance(selector, Mapping):
        return None
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        return None
    requirements: list[Requirement] = []
    for key, value in match_labels.items():
        req = _requirement(key, "=", [value])
        if req is None:
            return None
        requirements.append(req)
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return None
        op = _LABEL_OPS.get(expr.get("operator"))  # type: ignore[arg-type]
        if op is None:
            return None
        req = _requirement(expr.get("key"), op, expr.get("values") or [])
        if req is None:
            return None
        requirements.append(req)
    return tuple(requirements)


def label_selector_matches(selector: object, labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector (as written in YAML) selects `labels`; invalid -> False."""
    compiled = compile_label_selector(selector)
    return compiled is not None and all(r.matches(labels) for r in compiled)


def _match_zones(operator: object, values: Sequence[object], zones: Sequence[str]) -> bool:
    """Karmada's matchZones: a cluster has a list of zones, not one value."""
    if operator == "In":
        return any(zone in values for zone in zones)
    if operator == "NotIn":
        return not any(zone in values for zone in zones)
    if operator == "Exists":
        return bool(zones)
    if operator == "DoesNotExist":
        return not zones
    return False


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """`fieldSelector.matchExpressions`: zone against spec.zones, the rest as labels.

    provider/region are matched like labels over {provider, region} with empty fields left
    out, so `region NotIn [x]` selects a cluster that has no region; other keys never match In.
    An invalid expression makes the whole selector match nothing, as in Karmada.
    """

    zones: tuple[tuple[object, tuple[object, ...]], ...]
    others: tuple[Requirement, ...]
    valid: bool

    def matches(self, cluster: Cluster) -> bool:
        if not self.valid:
            return False
        if not all(_match_zones(op, values, cluster.zones) for op, values in self.zones):
            return False
        if not self.others:
            return True
        fields = {}
        if cluster.provider:
            fields[PROVIDER_FIELD] = cluster.provider
        if cluster.region:
            fields[REGION_FIELD] = cluster.region
        return all(r.matches(fields) for r in self.others)


_INVALID_FIELDS = FieldSelector((), (), False)


def compile_field_selector(field_selector: object) -> FieldSelector:
    if not isinstance(field_selector, Mapping):
        return _INVALID_FIELDS
    expressions = field_selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return _INVALID_FIELDS
    zones: list[tuple[object, tuple[object, ...]]] = []
    others: list[Requirement] = []
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return _INVALID_FIELDS
        values = expr.get("values") or []
        if not isinstance(values, list):
            return _INVALID_FIELDS
        if expr.get("key") == ZONE_FIELD:
            zones.append((expr.get("operator"), tuple(values)))
            continue
        op = _NODE_OPS.get(expr.get("operator"))  # type: ignore[arg-type]
        req = None if op is None else _requirement(expr.get("key"), op, values)
        if req is None:
            return _INVALID_FIELDS
        others.append(req)
    return FieldSelector(tuple(zones), tuple(others), True)


def field_selector_matches(field_selector: object, cluster: Cluster) -> bool:
    return compile_field_selector(field_selector).matches(cluster)


def _names(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


@dataclass(frozen=True, slots=True)
class ClusterAffinity:
    """A compiled ClusterAffinity; `matches` is Karmada's ClusterMatches."""

    exclude: frozenset[str]
    # None: no labelSelector; () with labels_valid False: an invalid one (matches nothing).
    labels: tuple[Requirement, ...] | None
    labels_valid: bool
    fields: FieldSelector | None
    names: frozenset[str]

    @property
    def names_only(self) -> bool:
        """Only clusterNames (and exclude): the matching clusters can be looked up by name."""
        return bool(self.names) and self.labels is None and self.fields is None

    def matches(self, cluster: Cluster) -> bool:
        """exclude first, then labelSelector, fieldSelector and clusterNames."""
        if cluster.name in self.exclude:
            return False
        if self.labels is not None and not (
            self.labels_valid and all(r.matches(cluster.labels) for r in self.labels)
        ):
            return False
        if self.fields is not None and not self.fields.matches(cluster):
            return False
        return not self.names or cluster.name in self.names


def compile_affinity(affinity: Mapping[str, Any]) -> ClusterAffinity:
    selector = affinity.get("labelSelector")
    labels = None if selector is None else compile_label_selector(selector)
    field_selector = affinity.get("fieldSelector")
    return ClusterAffinity(
        exclude=_names(affinity.get("exclude")),
        labels=None if selector is None else (labels or ()),
        labels_valid=labels is not None,
        fields=None if field_selector is None else compile_field_selector(field_selector),
        names=_names(affinity.get("clusterNames")),
    )


def cluster_matches(affinity: Mapping[str, Any], cluster: Cluster) -> bool:
    """Karmada's ClusterMatches on an affinity as written in YAML."""
    return compile_affinity(affinity).matches(cluster)


@dataclass(frozen=True, slots=True)
class ResourceSelector:
    """A compiled resourceSelectors entry; `priority` is Karmada's ResourceSelectorPriority."""

    api_version: object
    kind: object
    namespace: object
    name: object
    labels: tuple[Requirement, ...] | None  # None: no labelSelector
    labels_valid: bool

    def priority(
        self, api_version: str, kind: str, namespace: str, name: str, labels: Mapping[str, str]
    ) -> int:
        """3 name, 2 labelSelector, 1 match-all, 0 mismatch."""
        if self.api_version != api_version or self.kind != kind:
            return PRIORITY_MISMATCH
        if self.namespace and self.namespace != namespace:
            return PRIORITY_MISMATCH
        if self.name:
            return PRIORITY_NAME if self.name == name else PRIORITY_MISMATCH
        if self.labels is None:
            return PRIORITY_MATCH_ALL
        if self.labels_valid and all(r.matches(labels) for r in self.labels):
            return PRIORITY_LABEL_SELECTOR
        return PRIORITY_MISMATCH


def compile_resource_selector(
    selector: Mapping[str, Any], default_namespace: str = ""
) -> ResourceSelector:
    """`default_namespace` is what the PropagationPolicy webhook fills into an empty one."""
    label_selector = selector.get("labelSelector")
    labels = None if label_selector is None else compile_label_selector(label_selector)
    return ResourceSelector(
        selector.get("apiVersion"),
        selector.get("kind"),
        selector.get("namespace") or default_namespace,
        selector.get("name"),
        None if label_selector is None else (labels or ()),
        labels is not None,
    )


def selector_priority(
    selector: Mapping[str, Any],
    api_version: str,
    kind: str,
    namespace: str,
    name: str,
    labels: Mapping[str, str],
) -> int:
    """Karmada's ResourceSelectorPriority on a selector as written in YAML."""
    return compile_resource_selector(selector).priority(api_version, kind, namespace, name, labels)
