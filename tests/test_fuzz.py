"""Property-based fuzzing of whole fleets: the compiler fails cleanly or builds reproducibly.

Hypothesis generates repositories (a Fleet with random clusters, Karmada policies, workloads,
ConfigMaps, custom resources, Overlays, override policies and templates, valid and invalid, and
sometimes raw-text damage on top) and `build` runs in-process through click's CliRunner:

- the exit code is 0 or 2, never 3 and never an uncaught exception;
- on 2 every error line is `path:line:col: error: ...`, except messages about the output
  directory, the error count matches the summary, and nothing was written;
- on 0 the output tree and its state exist, and a second build (with the local stat cache
  removed, so it really recompiles) rewrites 0 files and leaves the same bytes.

Reproducibility: the `kurator-fuzz-ci` profile (used when `CI` is set) is derandomized and keeps
no database; locally the `kurator-fuzz-dev` profile explores new inputs and remembers failures
in .hypothesis/. `KURATOR_FUZZ_PROFILE` picks a profile, `KURATOR_FUZZ_EXAMPLES` the number of
examples, and `KURATOR_FUZZ_LONG_EXAMPLES` that of the opt-in `-m long` run. Fixed inputs live
in `@example`s below and in tests/fuzz_seeds/*.yaml (replayed by `test_seed_corpus`); a failing
example is printed in that seed format, ready to be added.

Known bugs (each an xfail case in tests/corpus/) would make every run fail, so their triggers
are left out of the generators until they are fixed: see KNOWN_BUG_TRIGGERS, or run with
KURATOR_FUZZ_KNOWN_BUGS=1 to put them back.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import tempfile
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from kurator_compile.cli import main

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, tree_of

SEEDS = Path(__file__).resolve().parent / "fuzz_seeds"
INCLUDE_KNOWN_BUGS = os.environ.get("KURATOR_FUZZ_KNOWN_BUGS") == "1"
# A safety net, not an assertion: one build still running after this long is interrupted (by
# SIGALRM, in-process) so that a hang fails its example instead of stalling the run.
HANG_GUARD_SECONDS = 60

_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
]
_EXAMPLES = int(os.environ.get("KURATOR_FUZZ_EXAMPLES", "300"))
settings.register_profile(
    "kurator-fuzz-ci",
    max_examples=_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "kurator-fuzz-dev",
    max_examples=_EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=_HEALTH,
)
PROFILE = os.environ.get("KURATOR_FUZZ_PROFILE") or (
    "kurator-fuzz-ci" if os.environ.get("CI") else "kurator-fuzz-dev"
)

# Inputs that trigger a known, open bug, by the corpus case that pins it down.
KNOWN_BUG_TRIGGERS: dict[str, list[Any]] = {
    "name-trailing-newline / cluster-name-trailing-newline": ["web\n", "beta\n"],
    "yaml-control-character / tag-int-not-a-number / tag-float-not-a-number": [
        "\x07",
        "\x7f",
        "!!int ",
        "!!float ",
    ],
}


def _known(group: str) -> list[Any]:
    return KNOWN_BUG_TRIGGERS[group] if INCLUDE_KNOWN_BUGS else []


def _choice(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_ABSENT), strategy)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT = _Absent()


def _drop_absent(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_absent(v) for k, v in value.items() if v is not _ABSENT}
    if isinstance(value, list):
        return [_drop_absent(v) for v in value if v is not _ABSENT]
    return value


# --------------------------------------------------------------------------- building blocks
#
# A repository is generated mostly valid (so builds get past loading and validation into
# placement, overlays, templates and the writer) and then damaged: a few structural mutations
# of one document (a value replaced by junk, a key dropped or added) and sometimes raw-text
# edits. Rarely-valid values are also mixed into the valid generators with `mostly`.


def rarely(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in `one_in` draws (a middle value: Hypothesis favours the bounds)."""
    return st.integers(0, one_in - 1).map(lambda n: n == one_in // 2)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], one_in: int = 10) -> Any:
    """`good`, except about one draw in `one_in` comes from `bad`."""
    return rarely(one_in).flatmap(lambda odd: bad if odd else good)


CLUSTER_POOL = ("alpha", "beta", "gamma", "edge-1", "z9")
GOOD_NAMES = ("web", "api", "cache", "settings", "a", "x.y", "system:metrics", "job-1")
BAD_NAMES = (
    "Web",
    "a_b",
    "..",
    "../x",
    "-a",
    "a-",
    "",
    "w\u0435b",
    "web\uff11",
    "a b",
    "x/y",
    "web.",
    "a" * 254,
    "web:1",  # ':' is RBAC's alone
    "web\u00b2",  # a digit to str.isdigit(), not to Go
    "a\x1b[31mb",  # a terminal escape, printed escaped
    *_known("name-trailing-newline / cluster-name-trailing-newline"),
)
GOOD_QUANTITIES = ("64", "500m", "256Gi", "0", "110", "1e3", ".5", "1.5Gi", "+2", "10", "3")
BAD_QUANTITIES = (
    "lots",
    "-1",
    "2GB",
    "1e99",
    "0.0001m",
    "",
    "5e+2k",
    -1,
    1.5,
    True,
    None,
    "1e999999999",
    "1e-999999999",
    "\u00b2",
    "\u0665",
)
JUNK = st.one_of(
    st.text(alphabet="ab -:#{}[]'\"\n\t\u00a0", max_size=8),
    st.integers(-(10**6), 10**6),
    _choice(0, -1, 2**31, 2**63, 1.5, float("nan"), float("inf"), True, False, None),
    _choice(*BAD_NAMES),
    _choice([], {}, [None], {"x": 1}, ["alpha"], [{}]),
    _choice("Divided", "Exists", "In", "alpha", "nowhere", "Deployment", "v1", "apps/v1"),
    _choice(*BAD_QUANTITIES),
)
scalars = st.one_of(
    st.text(alphabet="ab -:#{}[]'\"\n\t\u00a0", max_size=8),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
)
quantities = mostly(_choice(*GOOD_QUANTITIES), _choice(*BAD_QUANTITIES), 20)
weights = mostly(st.integers(1, 10), _choice(0, -2, -50, "2", 1.5, None, 2**63, 10**400))
replica_counts = mostly(
    st.integers(0, 12), _choice(-1, "3", 2.5, None, True, 2**31, 12345678901234567890), 20
)
object_names = mostly(_choice(*GOOD_NAMES), _choice(*BAD_NAMES), 25)
label_keys = mostly(
    _choice("region", "env", "app", "example.com/team"), _choice("bad key", "", "a/b/c"), 20
)
label_values = mostly(
    _choice("north", "south", "prod", "staging", "web"), _choice("a b", "", 1, None), 20
)
texts = mostly(_choice("on", "off", "42", "a: b", "x\ny", ""), scalars, 8)


@st.composite
def cluster_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_choice(*CLUSTER_POOL), min_size=1, max_size=4, unique=True))
    result = []
    for name in names:
        cluster: dict[str, Any] = {
            "name": name,
            "labels": {
                "region": draw(_choice("north", "south")),
                "env": draw(_choice("prod", "staging")),
            },
            "region": draw(_maybe(_choice("r1", "r2", "r3"))),
            "zones": draw(_maybe(st.lists(_choice("z1", "z2", "z3"), max_size=2, unique=True))),
            "provider": draw(_maybe(_choice("aws", "huaweicloud"))),
            "taints": draw(
                mostly(
                    st.just(_ABSENT),
                    st.just([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
                    4,
                )
            ),
            "capacity": draw(
                _maybe(st.dictionaries(_choice("cpu", "memory", "pods"), quantities, max_size=3))
            ),
            "kubeVersion": draw(_maybe(_choice("1.29", "v1.30.1"))),
        }
        result.append(cluster)
    return result


@st.composite
def affinities(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    refs = st.lists(mostly(st.sampled_from(names), _choice("nowhere", "Alpha")), max_size=2)
    shape = draw(_choice("names", "labels", "fields", "exclude", "empty"))
    if shape == "names":
        return {"clusterNames": draw(refs)}
    if shape == "exclude":
        return {"exclude": draw(refs)}
    if shape == "labels":
        operator = draw(mostly(_choice("In", "NotIn", "Exists", "DoesNotExist"), _choice("Gt")))
        expression: dict[str, Any] = {"key": draw(label_keys), "operator": operator}
        if operator in ("In", "NotIn"):
            expression["values"] = draw(st.lists(label_values, min_size=1, max_size=2))
        selector = draw(
            _choice(
                {"matchLabels": {draw(label_keys): draw(label_values)}},
                {"matchExpressions": [expression]},
            )
        )
        return {"labelSelector": selector}
    if shape == "fields":
        return {
            "fieldSelector": {
                "matchExpressions": [
                    {
                        "key": draw(_choice("region", "zone", "provider")),
                        "operator": draw(_choice("In", "NotIn")),
                        "values": draw(st.lists(_choice("r1", "r2", "z1", "aws"), max_size=2)),
                    }
                ]
            }
        }
    return {}


@st.composite
def placements(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    placement: dict[str, Any] = {}
    if draw(st.booleans()):
        placement["clusterAffinity"] = draw(affinities(names))
    elif draw(rarely(4)):
        placement["clusterAffinities"] = [
            {"affinityName": "primary", **draw(affinities(names))},
            {"affinityName": "backup", **draw(affinities(names))},
        ]
    if draw(st.booleans()):
        placement["clusterTolerations"] = [
            {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
        ]
    spread = draw(_choice(None, None, "cluster", "region"))
    low, high = draw(st.integers(0, 3)), draw(st.integers(0, 4))
    if spread == "cluster":
        placement["spreadConstraints"] = [
            {"spreadByField": "cluster", "minGroups": low, "maxGroups": max(low, high)}
        ]
    elif spread == "region":
        placement["spreadConstraints"] = [
            {"spreadByField": "region", "minGroups": 1, "maxGroups": 2},
            {"spreadByField": "cluster", "minGroups": low, "maxGroups": max(low, high)},
        ]
    mode = draw(_choice(None, "Duplicated", "static", "dynamic", "Aggregated", "shorthand"))
    if mode == "Duplicated":
        placement["replicaScheduling"] = {"replicaSchedulingType": "Duplicated"}
    elif mode == "static":
        placement["replicaScheduling"] = {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {"targetCluster": {"clusterNames": [name]}, "weight": draw(weights)}
                    for name in draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
                ]
            },
        }
    elif mode == "dynamic":
        placement["replicaScheduling"] = {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"dynamicWeight": "AvailableReplicas"},
        }
    elif mode == "Aggregated":
        placement["replicaScheduling"] = {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Aggregated",
        }
    elif mode == "shorthand":
        placement["replicaScheduling"] = {
            "replicaSchedulingType": "Weighted",
            "weightList": [{"targetCluster": {"clusterNames": names[:1]}, "weight": 1}],
        }
    return placement


KINDS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "Pod": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Namespace": "v1",
    "Widget": "example.com/v1",
}


@st.composite
def policies(draw: st.DrawFn, names: list[str], kinds: list[str]) -> dict[str, Any]:
    cluster_scoped = draw(st.booleans())
    selectors = []
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3, unique=True)):
        selector: dict[str, Any] = {"apiVersion": KINDS[kind], "kind": kind}
        if draw(rarely(4)):
            selector["name"] = draw(object_names)
        if draw(rarely(6)):
            selector["labelSelector"] = {"matchLabels": {"app": draw(label_values)}}
        selectors.append(selector)
    metadata: dict[str, Any] = {"name": draw(mostly(_choice("everything", "web"), _choice("")))}
    if not cluster_scoped:
        metadata["namespace"] = "shop"
    spec: dict[str, Any] = {"resourceSelectors": selectors}
    if not draw(rarely(5)):
        spec["placement"] = draw(placements(names))
    if draw(rarely(5)):
        spec["priority"] = draw(st.integers(-1, 3))
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "ClusterPropagationPolicy" if cluster_scoped else "PropagationPolicy",
        "metadata": metadata,
        "spec": spec,
    }


@st.composite
def pod_specs(draw: st.DrawFn) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": draw(_choice("nginx:1.27", "busybox"))}
    if draw(st.booleans()):
        container["resources"] = {
            "requests": draw(
                st.dictionaries(_choice("cpu", "memory", "nvidia.com/gpu"), quantities, max_size=2)
            )
        }
    pod: dict[str, Any] = {"containers": [container]}
    if draw(rarely(5)):
        pod["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    return pod


@st.composite
def objects(draw: st.DrawFn, kind: str, name: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if kind != "Namespace":
        metadata["namespace"] = draw(
            mostly(_choice("shop", "shop", "default"), _choice("kube-system", "Shop", "../x"), 25)
        )
    if draw(st.booleans()):
        metadata["labels"] = {"app": draw(label_values)}
    if draw(rarely(5)):
        metadata["uid"] = draw(_choice("1234", "abcd"))
    obj: dict[str, Any] = {"apiVersion": KINDS[kind], "kind": kind, "metadata": metadata}
    if kind in ("Deployment", "StatefulSet"):
        obj["spec"] = {
            "replicas": draw(replica_counts),
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": draw(pod_specs())},
        }
    elif kind == "Job":
        obj["spec"] = {
            "parallelism": draw(replica_counts),
            "completions": draw(_maybe(replica_counts)),
            "template": {"spec": draw(pod_specs())},
        }
    elif kind == "Pod":
        obj["spec"] = draw(pod_specs())
    elif kind in ("ConfigMap", "Secret"):
        obj["data"] = draw(st.dictionaries(_choice("mode", "x", "key.txt"), texts, max_size=2))
    elif kind == "Widget":
        obj["spec"] = draw(st.dictionaries(_choice("size", "colour"), scalars, max_size=2))
    cleaned: dict[str, Any] = _drop_absent(obj)
    return cleaned


JSON_PATHS = (
    "/spec/replicas",
    "/metadata/labels",
    "/metadata/labels/x",
    "/data/mode",
    "/spec/template/spec/containers/0/image",
    "/spec/template/spec/containers/-",
    "/spec/nothing/here",
    "/metadata/name",
    "",
    "spec",
    "/a~2b",
)
json_paths = mostly(_choice(*JSON_PATHS[:6]), _choice(*JSON_PATHS[6:]), 4)
patch_values = st.one_of(scalars, st.dictionaries(_choice("a", "name"), scalars, max_size=2))
json_patches = st.lists(
    st.fixed_dictionaries(
        {
            "op": mostly(_choice("add", "remove", "replace", "test"), _choice("move", "frob")),
            "path": json_paths,
        },
        optional={"value": patch_values, "from": json_paths},
    ),
    min_size=1,
    max_size=2,
)
smp_patches = st.one_of(
    st.builds(lambda n: {"spec": {"replicas": n}}, replica_counts),
    st.builds(lambda v: {"metadata": {"labels": {"tuned": v}}}, label_values),
    st.builds(lambda d: {"data": d}, st.dictionaries(_choice("mode", "y"), scalars, max_size=2)),
    st.just({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}),
    st.builds(lambda d: {"spec": {"$patch": d}}, _choice("replace", "delete", "explode")),
    st.just({"$patch": "delete"}),
)
string_patches = _choice(
    "",
    "[]",
    "spec: {replicas: 2}",
    "- {op: replace, path: /spec/replicas, value: 1}",
    "just words",
    "a: [b",
    "\tspec: {}",
)
targets = st.one_of(
    st.builds(lambda kind: {"kind": kind}, st.sampled_from(sorted(KINDS))),
    st.builds(lambda name: {"name": name}, _choice(*GOOD_NAMES)),
    _choice(
        {"group": "apps", "version": "v1", "kind": "Deployment|StatefulSet"},
        {"labelSelector": "app=web"},
        {"labelSelector": "app in (web, x),!tier"},
        {"annotationSelector": "x!=y"},
        {"name": ".*"},
        {"namespace": "shop"},
        {"bogus": "field"},
        {"labelSelector": "app in (web"},
        {"name": "(["},
        {"name": "(a+)+"},
    ),
)


@st.composite
def overlays(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    patches = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(
            mostly(_choice("smp", "smp", "smp", "json", "json"), _choice("string", "number"))
        )
        patch = {
            "smp": smp_patches,
            "json": json_patches,
            "string": string_patches,
            "number": st.integers(),
        }[kind]
        patches.append({"target": draw(targets), "patch": draw(patch)})
    spec: dict[str, Any] = {"patches": patches}
    if draw(st.booleans()):
        spec["clusterSelector"] = draw(affinities(names))
    if draw(st.booleans()):
        spec["values"] = {"greeting": draw(_choice("hello", "bonjour", 3))}
    return {
        "apiVersion": "compile.kurator.dev/v1alpha1",
        "kind": "Overlay",
        "metadata": {"name": draw(_choice("tune", "east", "west"))},
        "spec": spec,
    }


@st.composite
def overrides(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    overriders = draw(
        _choice(
            {"plaintext": [{"path": "/spec/replicas", "operator": "replace", "value": 1}]},
            {"plaintext": [{"path": "/metadata/labels/x", "operator": "add", "value": "y"}]},
            {"plaintext": [{"path": "/spec/nothing", "operator": "remove"}]},
            {"imageOverrider": [{"component": "Tag", "operator": "replace", "value": "v2"}]},
            {"imageOverrider": [{"component": "Registry", "operator": "add", "value": "m.io"}]},
            {"labelsOverrider": [{"operator": "add", "value": {"mirrored": "true"}}]},
            {"commandOverrider": [{"containerName": "main", "operator": "add", "value": ["-v"]}]},
        )
    )
    rule: dict[str, Any] = {"overriders": overriders}
    if draw(st.booleans()):
        rule["targetCluster"] = draw(affinities(names))
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "ClusterOverridePolicy",
        "metadata": {"name": "tweak"},
        "spec": {
            "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
            "overrideRules": [rule],
        },
    }


TEMPLATES = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n  namespace: shop\ndata:\n"
    "  cluster: {{ cluster.name }}\n  greeting: {{ values.greeting | default('hi') }}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: zones\n  namespace: shop\ndata:\n"
    "  count: '{{ cluster.zones | length }}'\n{% for z in cluster.zones %}  {{ z }}: x\n"
    "{% endfor %}",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\ndata:\n  x: {{ owner }}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\n{% if %}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ ''.__class__ }}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info-{{ cluster.name }}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: info\ndata: {{ cluster.labels }}\n",
    "{{ 'x' * 10**9 }}\n",
    "apiVersion: policy.karmada.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: t}\n"
    "spec: {resourceSelectors: [{apiVersion: v1, kind: ConfigMap}]}\n",
)
templates = mostly(_choice(*TEMPLATES[:2]), _choice(*TEMPLATES[2:]), 3)

TEXT_TOKENS = (
    " ",
    "\t",
    "\u00a0",
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!",
    "!x ",
    "\n",
    "'",
    '"',
    "#",
    "|",
    ">",
    "? ",
    "<<: ",
    "%",
    "@",
    "`",
    "---\n",
    "...\n",
    "\ufeff",
    "\\",
    "~",
    *_known("yaml-control-character / tag-int-not-a-number / tag-float-not-a-number"),
)


def dump(documents: list[Any]) -> str:
    return yaml.safe_dump_all(
        [_drop_absent(d) for d in documents],
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )


def _slots(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every key of every mapping and every item of every list in `value`."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from _slots(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*path, index)
            yield from _slots(child, (*path, index))


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """`document` with one value replaced by junk, one key dropped, or one key added."""
    document = copy.deepcopy(_drop_absent(document))
    slots = list(_slots(document))
    if not slots:
        return draw(JUNK)
    path = draw(st.sampled_from(slots))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    edit = draw(_choice("replace", "replace", "delete", "add"))
    if edit == "replace":
        parent[last] = draw(JUNK)
    elif edit == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(_choice("x-unknown", "clusterAffinty", "replica", "namespace"))] = draw(JUNK)
    else:
        parent.insert(last, draw(JUNK))
    return document


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    """A few raw-text edits: what hand-editing and copy-paste do to YAML."""
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(_choice("insert", "delete", "duplicate-line", "join-lines"))
        lines = text.splitlines(keepends=True)
        if edit == "insert" or not text:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(TEXT_TOKENS)) + text[at:]
        elif edit == "delete":
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + draw(st.integers(1, 4)) :]
        elif edit == "duplicate-line":
            at = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: at + 1] + lines[at:])
        else:
            at = draw(st.integers(0, len(lines) - 1))
            lines[at] = lines[at].rstrip("\n")
            text = "".join(lines)
    return text


@st.composite
def repos(draw: st.DrawFn) -> dict[str, str]:
    """path -> text of a generated repository; `fleet.yaml` is the fleet file."""
    cluster_list = draw(cluster_specs())
    names = [c["name"] for c in cluster_list]
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=4))
    object_docs = []
    for kind in kinds:
        name = draw(object_names)
        object_docs.append(draw(objects(kind, name)))
    policy_docs = draw(st.lists(policies(names, sorted(set(kinds))), min_size=0, max_size=3))
    for number, policy in enumerate(policy_docs):
        if policy["metadata"]["name"] and not draw(rarely(10)):
            policy["metadata"]["name"] += f"-{number}"  # unique, but sometimes a duplicate
    override_docs = draw(st.lists(overrides(names), max_size=1))
    overlay_docs = draw(st.lists(overlays(names), max_size=2))
    template = draw(st.one_of(st.none(), st.none(), templates))
    fleet: dict[str, Any] = {
        "apiVersion": "compile.kurator.dev/v1alpha1",
        "kind": "Fleet",
        "metadata": {"name": "fuzz"},
        "spec": {
            "clusters": cluster_list,
            "resources": ["apps/*.yaml", *(["apps/*.yaml.j2"] if template else [])],
        },
    }
    if overlay_docs:
        fleet["spec"]["overlays"] = ["overlays"]
    groups: dict[str, list[Any]] = {
        "fleet.yaml": [fleet, *policy_docs, *override_docs],
        "apps/a.yaml": object_docs[: len(object_docs) // 2 + 1],
        "apps/b.yaml": object_docs[len(object_docs) // 2 + 1 :],
        "overlays/tune.yaml": overlay_docs,
    }
    for _ in range(draw(_choice(0, 0, 0, 1, 1, 2))):
        path = draw(st.sampled_from([p for p, docs in groups.items() if docs]))
        index = draw(st.integers(0, len(groups[path]) - 1))
        groups[path][index] = draw(mutated(groups[path][index]))
    if draw(rarely(25)):
        groups["fleet.yaml"].reverse()  # the Fleet is not the first document
    files = {path: dump(docs) for path, docs in groups.items() if docs}
    if template:
        files["apps/info.yaml.j2"] = template
    if draw(rarely(6)):
        path = draw(st.sampled_from(sorted(files)))
        files[path] = draw(damaged(files[path]))
    return files


# --------------------------------------------------------------------------- the property


class BuildHung(BaseException):
    """Raised by SIGALRM inside a build; not an Exception, so nothing in the CLI catches it."""


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise BuildHung(f"a build ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def build(fleet: Path, out: Path, strict: bool) -> Result:
    argv = ["build", str(fleet), "-o", str(out), *(["--strict"] if strict else [])]
    with hang_guard(HANG_GUARD_SECONDS):
        return CliRunner().invoke(main, argv, catch_exceptions=True)


POSITIONED_ERROR = re.compile(r"^[^:\s]+:\d+:\d+: error: ")
ERROR_LINE = re.compile(r"^(?:[^:\s]+:\d+:\d+: )?error: ")
SUMMARY = re.compile(r"^(\d+) errors?; nothing was written$", re.MULTILINE)
WRITTEN = re.compile(r"(\d+) written, (\d+) removed")


def _crash_text(result: Result) -> str:
    if result.exc_info is None:
        return repr(result.exception)
    return "".join(traceback.format_exception(*result.exc_info))


class _SeedDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so a seed file reads like the files it holds."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SeedDumper.add_representer(str, _represent_text)


def seed_text(files: dict[str, str], strict: bool) -> str:
    """An input in the tests/fuzz_seeds/ format (printed for every failing example)."""
    seed = {"description": "found by test_fuzz", "strict": strict, "files": files}
    return yaml.dump(seed, Dumper=_SeedDumper, sort_keys=False, allow_unicode=True, width=100)


def check_repository(files: dict[str, str], strict: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="kurator-fuzz-") as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        out = root / "out"
        first = build(root / "fleet.yaml", out, strict)
        output = first.stdout + first.stderr
        assert first.exception is None or isinstance(first.exception, SystemExit), _crash_text(
            first
        )
        assert "Traceback" not in output, output
        assert first.exit_code in (0, 2), f"exit {first.exit_code}:\n{output}"
        if first.exit_code == 2:
            _assert_clean_failure(first.stderr, out)
        else:
            _assert_reproducible(root / "fleet.yaml", out, strict)


def _assert_clean_failure(stderr: str, out: Path) -> None:
    errors = [line for line in stderr.splitlines() if ERROR_LINE.match(line)]
    assert errors, stderr
    for line in errors:
        if not POSITIONED_ERROR.match(line):
            # Only problems with the output directory itself may lack a position.
            assert line.startswith("error: "), f"no position: {line!r}"
            assert str(out) in line, f"no position: {line!r}"
    summary = SUMMARY.search(stderr)
    assert summary is not None, stderr
    assert int(summary.group(1)) == len(errors), stderr
    assert not (out / ".kurator" / "state.json").exists(), "a failed first build wrote state"
    assert not (out / "clusters").exists() or not any((out / "clusters").iterdir())


def _assert_reproducible(fleet: Path, out: Path, strict: bool) -> None:
    assert (out / ".kurator" / "state.json").is_file()
    before = tree_of(out)
    (out / ".kurator" / "cache.json").unlink(missing_ok=True)  # make the second build compile
    second = build(fleet, out, strict)
    assert second.exit_code == 0, second.output
    counts = WRITTEN.search(second.stderr)
    assert counts is not None, second.stderr
    assert counts.groups() == ("0", "0"), second.stderr
    assert tree_of(out) == before


VALID = {
    "fleet.yaml": FLEET_HEADER + "  overlays:\n    - overlays\n---\n" + POLICY_ALL,
    "apps/web.yaml": DEPLOYMENT,
    "overlays/tune.yaml": "apiVersion: compile.kurator.dev/v1alpha1\nkind: Overlay\n"
    "metadata: {name: tune}\nspec:\n  clusterSelector: {clusterNames: [beta]}\n  patches:\n"
    "    - target: {kind: Deployment, name: web}\n      patch: {spec: {replicas: 5}}\n",
}


# Reporting a failure imports libcst, which warns about mypy_extensions; with
# `filterwarnings = error` that would hide the falsifying example behind an INTERNALERROR.
@pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
@settings(settings.get_profile(PROFILE))
@given(files=repos(), strict=rarely(4))
@example(files=VALID, strict=False)
@example(
    files={**VALID, "apps/web.yaml": DEPLOYMENT.replace("  replicas: 2\n", "\treplicas: 2\n")},
    strict=False,
)
@example(
    files={
        **VALID,
        "fleet.yaml": VALID["fleet.yaml"]
        + "  placement:\n    clusterAffinity: {clusterNames: [alpha]}\n"
        + "    clusterAffinities: [{affinityName: a, clusterNames: [beta]}]\n",
    },
    strict=False,
)
@example(
    files={
        "fleet.yaml": FLEET_HEADER.replace("apps/*.yaml", "apps/*.yaml.j2") + "---\n" + POLICY_ALL,
        "apps/t.yaml.j2": TEMPLATES[2],
    },
    strict=False,
)
def test_fuzzed_fleets_fail_cleanly_or_build_reproducibly(
    files: dict[str, str], strict: bool
) -> None:
    note(seed_text(files, strict))
    check_repository(files, strict)


LONG_EXAMPLES = int(os.environ.get("KURATOR_FUZZ_LONG_EXAMPLES", "3000"))


@pytest.mark.long
@pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
@settings(settings.get_profile(PROFILE), max_examples=LONG_EXAMPLES)
@given(files=repos(), strict=rarely(4))
def test_fuzzed_fleets_at_length(files: dict[str, str], strict: bool) -> None:
    """The same property over many more inputs: opt in with `-m long` (CI runs it)."""
    note(seed_text(files, strict))
    check_repository(files, strict)


SEED_FILES = sorted(SEEDS.glob("*.yaml"))


@pytest.mark.parametrize("seed", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_seed_corpus(seed: Path) -> None:
    """Fixed interesting inputs (and past fuzz findings), replayed on every run."""
    data = yaml.safe_load(seed.read_text("utf-8"))
    check_repository(data["files"], bool(data.get("strict")))


def test_seed_corpus_is_present() -> None:
    assert len(SEED_FILES) >= 8, SEED_FILES


def test_generated_repositories_are_varied() -> None:
    """The generator reaches the interesting parts: policies, overlays and templates."""
    seen: dict[str, int] = {"fleet": 0, "overlay": 0, "template": 0, "policy": 0}

    @settings(max_examples=60, derandomize=True, database=None, suppress_health_check=_HEALTH)
    @given(files=repos())
    def collect(files: dict[str, str]) -> None:
        seen["fleet"] += "fleet.yaml" in files
        seen["overlay"] += "overlays/tune.yaml" in files
        seen["template"] += "apps/info.yaml.j2" in files
        seen["policy"] += "PropagationPolicy" in files["fleet.yaml"]

    collect()
    assert seen["fleet"] >= 60
    assert min(seen["overlay"], seen["template"], seen["policy"]) > 0, seen
