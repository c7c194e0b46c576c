"""A policy's `spec.placement` as typed values, after Karmada's webhook and CRD defaults.

Validation follows Karmada's admission webhook (`pkg/util/validation`): a placement Karmada
would reject is reported as an error at the offending field. Defaults are the ones a live
control plane applies before the scheduler sees the placement: `replicaSchedulingType` ->
Divided (CRD), Divided without a preference -> Weighted (webhook), an empty spread constraint
-> `spreadByField: cluster`, `minGroups: 0` -> 1 (webhook; `maxGroups` is never defaulted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .selectors import (
    ClusterAffinity,
    compile_affinity,
    field_path,
    is_qualified_name,
    label_selector_problems,
    label_value_errors,
    quoted,
)
from .yamltext import to_yaml

__all__ = [
    "AffinityTerm",
    "Issue",
    "PlacementSpec",
    "SpreadConstraint",
    "StaticWeight",
    "parse_placement",
]

DUPLICATED = "Duplicated"
STATIC_WEIGHT = "StaticWeight"
DYNAMIC_WEIGHT = "DynamicWeight"
AGGREGATED = "Aggregated"

SPREAD_FIELDS = ("cluster", "region", "zone", "provider")
BASE = "/spec/placement"
RS = f"{BASE}/replicaScheduling"


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem with the placement, at a JSON pointer inside the policy document."""

    error: bool
    pointer: str
    message: str


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """One `clusterAffinities` entry; `overflow` is None when overflowAffinities is unset."""

    index: int
    name: str
    affinity: ClusterAffinity
    overflow: tuple[tuple[str, ClusterAffinity], ...] | None


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    index: int
    by_field: str
    by_label: str
    min_groups: int
    max_groups: int  # 0 when unset: Karmada does not default it


@dataclass(frozen=True, slots=True)
class StaticWeight:
    target: ClusterAffinity
    weight: int


@dataclass(frozen=True)
class PlacementSpec:
    """Everything the scheduler reads from a placement, defaults applied."""

    cluster_affinity: ClusterAffinity | None = None
    cluster_affinities: tuple[AffinityTerm, ...] | None = None
    tolerations: tuple[Mapping[str, Any], ...] = ()
    spread: tuple[SpreadConstraint, ...] = ()
    # True when `replicaScheduling` is present at all (absent means Duplicated).
    has_replica_scheduling: bool = False
    scheduling_type: str = DUPLICATED  # "Duplicated", "Divided" or an unsupported value
    division_preference: str = ""  # "Weighted", "Aggregated", or "" (only when Duplicated)
    has_weight_preference: bool = False
    static_weights: tuple[StaticWeight, ...] = ()
    dynamic_weight: str = ""
    issues: tuple[Issue, ...] = field(default=(), compare=False)

    @property
    def strategy(self) -> str:
        """`newAssignState`: Duplicated, Aggregated, DynamicWeight, StaticWeight or ""."""
        if self.scheduling_type == DUPLICATED:
            return DUPLICATED
        if self.scheduling_type != "Divided":
            return ""
        if self.division_preference == "Aggregated":
            return AGGREGATED
        if self.division_preference == "Weighted":
            return DYNAMIC_WEIGHT if self.dynamic_weight else STATIC_WEIGHT
        return ""

    @property
    def divided(self) -> bool:
        return self.has_replica_scheduling and self.scheduling_type == "Divided"

    @property
    def ignore_spread(self) -> bool:
        """`shouldIgnoreSpreadConstraint`: static weighting disregards min/maxGroups."""
        return (
            self.divided
            and self.division_preference == "Weighted"
            and (
                not self.has_weight_preference
                or (bool(self.static_weights) and not self.dynamic_weight)
            )
        )

    @property
    def ignore_capacity(self) -> bool:
        """`shouldIgnoreAvailableResource`: Duplicated spreads without checking capacity."""
        return not self.has_replica_scheduling or self.scheduling_type == DUPLICATED

    def spread_by(self, by_field: str) -> SpreadConstraint | None:
        for constraint in self.spread:
            if constraint.by_field == by_field:
                return constraint
        return None

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.error)


INT64_MAX = 2**63 - 1


def _shown(value: object) -> str:
    """repr(value), shortened in the middle past 80 characters."""
    text = repr(value)
    if len(text) <= 80:
        return text
    return f"{text[:40]}...{text[-20:]} ({len(text)} characters)"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


class _Parser:
    def __init__(self, webhook: bool) -> None:
        self.issues: list[Issue] = []
        self.webhook = webhook

    def error(self, pointer: str, message: str) -> None:
        self.issues.append(Issue(True, pointer, message))

    def warn(self, pointer: str, message: str) -> None:
        self.issues.append(Issue(False, pointer, message))

    def selectors(self, affinity: Mapping[str, Any], pointer: str) -> None:
        """The labelSelector and fieldSelector of the ClusterAffinity at `pointer`."""
        self.field_selector(affinity, pointer)
        selector = affinity.get("labelSelector")
        if selector is not None:
            for at, message in label_selector_problems(selector, f"{pointer}/labelSelector"):
                self.error(at, message)

    def field_selector(self, affinity: Mapping[str, Any], pointer: str) -> None:
        """`ValidatePolicyFieldSelector`: keys provider/region/zone, operators In/NotIn; then
        what makes the requirement invalid (so it could never match): In/NotIn without
        values, and provider/region values that are not label values."""
        selector = _mapping(affinity.get("fieldSelector"))
        if selector is None:
            return
        expressions = selector.get("matchExpressions") or []
        for i, expr in enumerate(expressions if isinstance(expressions, list) else []):
            where = f"{pointer}/fieldSelector/matchExpressions/{i}"
            expr = _mapping(expr) or {}
            if expr.get("key") not in ("provider", "region", "zone"):
                self.error(
                    f"{where}/key",
                    f"unsupported fieldSelector key {expr.get('key')!r}, "
                    "must be provider, region, or zone",
                )
                continue
            if expr.get("operator") not in ("In", "NotIn"):
                self.error(
                    f"{where}/operator",
                    f"unsupported fieldSelector operator {expr.get('operator')!r}, "
                    "must be In or NotIn",
                )
                continue
            values = expr.get("values")
            path = field_path(where)
            if not isinstance(values, list):
                values = []
            # Karmada matches zones itself (`zone NotIn []` selects every cluster); other keys
            # become label requirements, which need values
            if not values and (expr.get("key") != "zone" or expr.get("operator") == "In"):
                self.error(
                    f"{where}/values",
                    f"{path}.values: Required value: must be specified when `operator` is "
                    "'In' or 'NotIn'",
                )
            elif expr.get("key") != "zone":  # zones are compared as plain strings
                for j, value in enumerate(values):
                    for msg in label_value_errors(value):
                        self.error(
                            f"{where}/values/{j}",
                            f"{path}.values[{j}]: Invalid value: {quoted(value)}: {msg}",
                        )

    def affinities(self, raw: object, allow_overflow: bool) -> tuple[AffinityTerm, ...] | None:
        if not isinstance(raw, list) or not raw:
            return None  # an empty list is dropped by the API server (omitempty)
        terms: list[AffinityTerm] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"{BASE}/clusterAffinities/{index}"
            term = _mapping(item) or {}
            name = term.get("affinityName")
            if not is_qualified_name(name):
                self.error(
                    f"{where}/affinityName",
                    f"affinityName {name!r} must be a valid label key (e.g. 'primary')",
                )
            name = str(name or "")
            if name in seen:
                self.error(
                    f"{where}/affinityName",
                    f"each affinity term in a policy must have a unique name; {name!r} repeats",
                )
            seen.add(name)
            affinity = {
                k: v for k, v in term.items() if k not in ("affinityName", "overflowAffinities")
            }
            self.selectors(affinity, where)
            overflow = self.overflow(term, name, affinity, where, allow_overflow)
            terms.append(AffinityTerm(index, name, compile_affinity(affinity), overflow))
        return tuple(terms)

    def overflow(
        self,
        term: Mapping[str, Any],
        name: str,
        affinity: Mapping[str, Any],
        where: str,
        allow: bool,
    ) -> tuple[tuple[str, ClusterAffinity], ...] | None:
        raw = term.get("overflowAffinities")
        if not isinstance(raw, list) or not raw:
            return None
        pointer = f"{where}/overflowAffinities"
        if not allow:
            self.error(
                pointer,
                "overflowAffinities can only be used together with dynamic weight or "
                "aggregated scheduling",
            )
        inline = (
            affinity.get("labelSelector") is not None
            or affinity.get("fieldSelector") is not None
            or affinity.get("clusterNames")
            or affinity.get("exclude")
        )
        if not inline:
            self.error(
                pointer,
                "overflowAffinities can only be used together with the inline ClusterAffinity",
            )
        names = {name}
        result: list[tuple[str, ClusterAffinity]] = []
        for i, item in enumerate(raw):
            entry = _mapping(item) or {}
            oname = entry.get("affinityName")
            if not is_qualified_name(oname):
                self.error(
                    f"{pointer}/{i}/affinityName",
                    f"affinityName {oname!r} must be a valid label key",
                )
            oname = str(oname or "")
            if oname in names:
                self.error(
                    f"{pointer}/{i}/affinityName",
                    "overflow affinity name must be unique and must not duplicate the "
                    "primary group's affinityName",
                )
            names.add(oname)
            inline = {k: v for k, v in entry.items() if k != "affinityName"}
            self.selectors(inline, f"{pointer}/{i}")
            result.append((oname, compile_affinity(inline)))
        return tuple(result)

    def tolerations(self, raw: object) -> tuple[Mapping[str, Any], ...]:
        if not isinstance(raw, list):
            return ()
        result = []
        for i, item in enumerate(raw):
            tol = _mapping(item) or {}
            if tol.get("operator") in ("Lt", "Gt"):
                self.error(
                    f"{BASE}/clusterTolerations/{i}/operator",
                    f"clusterTolerations operator {tol.get('operator')!r} is not supported: "
                    "use '', Exists or Equal",
                )
            result.append(tol)
        return tuple(result)

    def spread(self, raw: object) -> tuple[SpreadConstraint, ...]:
        """Webhook defaults then `ValidateSpreadConstraint`."""
        if not isinstance(raw, list):
            return ()
        result: list[SpreadConstraint] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            where = f"{BASE}/spreadConstraints/{index}"
            sc = _mapping(item) or {}
            by_field = sc.get("spreadByField") or ""
            by_label = sc.get("spreadByLabel") or ""
            min_groups = _int(sc.get("minGroups")) or 0
            max_groups = _int(sc.get("maxGroups")) or 0
            if not by_field and not by_label and self.webhook:
                by_field = "cluster"
            if by_field and by_field not in SPREAD_FIELDS:
                self.error(
                    f"{where}/spreadByField",
                    f"spreadByField {by_field!r} must be one of cluster, region, zone, provider",
                )
            if by_field and by_label:
                self.error(where, "spreadByLabel should not co-exist with spreadByField")
            if min_groups < 0:
                self.error(f"{where}/minGroups", "minGroups lower than 0 is not allowed")
            if max_groups < 0:
                self.error(f"{where}/maxGroups", "maxGroups lower than 0 is not allowed")
            if min_groups == 0 and self.webhook:
                min_groups = 1
            if 0 < max_groups < min_groups:
                self.error(
                    f"{where}/maxGroups",
                    f"maxGroups ({max_groups}) lower than minGroups ({min_groups}) is not allowed",
                )
            if by_field in SPREAD_FIELDS:
                if by_field in seen:
                    self.error(
                        f"{where}/spreadByField",
                        f"multiple {by_field} spread constraints are not allowed",
                    )
                seen.setdefault(by_field, index)
            result.append(
                SpreadConstraint(index, str(by_field), str(by_label), min_groups, max_groups)
            )
        if seen and "cluster" not in seen:
            self.error(
                f"{BASE}/spreadConstraints",
                "the cluster spread constraint must be enabled in one of the constraints "
                "in case of SpreadByField is enabled (add `- spreadByField: cluster`)",
            )
        return tuple(result)

    def static_weights(self, raw: object, pointer: str) -> tuple[StaticWeight, ...]:
        if not isinstance(raw, list):
            return ()
        result = []
        for i, item in enumerate(raw):
            rule = _mapping(item) or {}
            weight = _int(rule.get("weight"))
            if weight is None or weight < 0:
                self.error(
                    f"{pointer}/{i}/weight",
                    f"weight must be a non-negative integer, not {_shown(rule.get('weight'))}",
                )
                weight = 0
            elif weight > INT64_MAX:
                self.error(
                    f"{pointer}/{i}/weight",
                    f"weight {_shown(weight)} is larger than {INT64_MAX}: Karmada weights are "
                    "int64",
                )
                weight = 0
            target = _mapping(rule.get("targetCluster")) or {}
            self.selectors(target, f"{pointer}/{i}/targetCluster")
            result.append(StaticWeight(compile_affinity(target), weight))
        return tuple(result)


def _shorthand_warning(rs: Mapping[str, Any], preference: str, canonical: Mapping[str, Any]) -> str:
    """The warning for the `replicaSchedulingType: Weighted` / `weightList` shorthand."""
    written = []
    if rs.get("replicaSchedulingType") == "Weighted":
        written.append("replicaSchedulingType: Weighted")
    if "weightList" in rs:
        written.append("weightList")
    text = (
        f"replicaScheduling uses {' and '.join(written)}, which Karmada does not have "
        "(its fields are replicaSchedulingType: Duplicated|Divided, "
        "replicaDivisionPreference: Aggregated|Weighted and "
        "weightPreference.staticWeightList); it is compiled as if you wrote:\n"
        + to_yaml({"replicaScheduling": canonical}, indent=2)
    )
    if preference == "Aggregated" and "weightList" in rs:
        text += (
            "\nreplicaDivisionPreference: Aggregated wins: Karmada picks the Aggregated "
            "strategy before it looks at weightPreference (newAssignState), so the weights "
            "have no effect; remove weightPreference, or set replicaDivisionPreference: "
            "Weighted to divide by them"
        )
    return text.rstrip("\n")


def _replica_scheduling(p: _Parser, rs: Mapping[str, Any], spec: dict[str, Any]) -> None:
    """Fill the replica-scheduling fields of `spec`, mapping the non-Karmada shorthand."""
    stype = rs.get("replicaSchedulingType") or "Divided"  # +kubebuilder:default=Divided
    preference = rs.get("replicaDivisionPreference") or ""
    weight_pref = _mapping(rs.get("weightPreference"))
    shorthand = stype == "Weighted" or "weightList" in rs
    static_pointer = f"{RS}/weightPreference/staticWeightList"
    if shorthand:
        stype = "Divided"
        if "weightList" in rs:
            if weight_pref is not None and weight_pref.get("staticWeightList"):
                p.error(
                    f"{RS}/weightList",
                    "weightList and weightPreference.staticWeightList are both set; "
                    "keep only weightPreference.staticWeightList",
                )
                shorthand = False  # the error says what to write; no second message
            else:
                weight_pref = {**(weight_pref or {}), "staticWeightList": rs["weightList"]}
                static_pointer = f"{RS}/weightList"
    if stype == "Divided" and not preference and p.webhook:
        preference = "Weighted"  # webhook: SetReplicaDivisionPreferenceWeighted
    if shorthand:
        canonical: dict[str, Any] = {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": preference,
        }
        if weight_pref is not None:
            canonical["weightPreference"] = weight_pref
        pointer = f"{RS}/weightList" if "weightList" in rs else f"{RS}/replicaSchedulingType"
        p.warn(pointer, _shorthand_warning(rs, preference, canonical))
    if stype not in ("Duplicated", "Divided"):
        p.error(
            f"{RS}/replicaSchedulingType",
            f"unsupported replica scheduling strategy, replicaSchedulingType: {stype}; "
            "must be Duplicated or Divided",
        )
    elif stype == "Divided" and preference not in ("Weighted", "Aggregated"):
        p.error(
            f"{RS}/replicaDivisionPreference",
            f"unsupported replica scheduling strategy, replicaDivisionPreference: "
            f"{preference}; must be Aggregated or Weighted",
        )
    dynamic = str(weight_pref.get("dynamicWeight") or "") if weight_pref else ""
    if dynamic and dynamic != "AvailableReplicas":
        p.error(
            f"{RS}/weightPreference/dynamicWeight",
            f"dynamicWeight {dynamic!r} is not supported; the only value is AvailableReplicas",
        )
    spec.update(
        has_replica_scheduling=True,
        scheduling_type=str(stype),
        division_preference=str(preference) if stype == "Divided" else "",
        has_weight_preference=weight_pref is not None,
        static_weights=p.static_weights(
            weight_pref.get("staticWeightList") if weight_pref else None, static_pointer
        ),
        dynamic_weight=dynamic,
    )


def parse_placement(raw: object, *, webhook_defaults: bool = True) -> PlacementSpec:
    """A typed, defaulted, validated placement; problems are listed in `.issues`.

    `webhook_defaults=False` skips the admission webhook's defaults, as Karmada's unit tests
    do when they hand a placement straight to the scheduler.
    """
    p = _Parser(webhook_defaults)
    placement = _mapping(raw) or {}
    spec: dict[str, Any] = {}
    rs = _mapping(placement.get("replicaScheduling"))
    if rs is not None:
        _replica_scheduling(p, rs, spec)
    strategy = PlacementSpec(**spec).strategy
    affinity = placement.get("clusterAffinity")
    if affinity is not None:
        affinity = _mapping(affinity) or {}
        p.selectors(affinity, f"{BASE}/clusterAffinity")
    terms = p.affinities(
        placement.get("clusterAffinities"), strategy in (DYNAMIC_WEIGHT, AGGREGATED)
    )
    if affinity is not None and terms is not None:
        p.error(
            f"{BASE}/clusterAffinities",
            "clusterAffinities cannot co-exist with clusterAffinity; keep one of them",
        )
    return PlacementSpec(
        cluster_affinity=None if affinity is None else compile_affinity(affinity),
        cluster_affinities=terms,
        tolerations=p.tolerations(placement.get("clusterTolerations")),
        spread=p.spread(placement.get("spreadConstraints")),
        issues=tuple(p.issues),
        **spec,
    )
