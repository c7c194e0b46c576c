"""kurator_compile.yamlout: round trips through YAML 1.1 and 1.2 loaders, layout as kubectl's.

Differences from `kubectl kustomize` output, all deliberate (the kubectl tests below pin them):

- Floats keep their type: we write 1.0 and 1.0e+20; kustomize round-trips through JSON
  float64 and prints 1 and 1e+20 (which PyYAML reads back as an int and a string), and it
  also turns ints above 2**53 into floats.
- We quote strings that some loader would not read back as the same string, where go-yaml
  leaves them plain: "=" and "<<" (PyYAML and ruamel.yaml fail on them), other letter cases
  of bool/null words ("yEs", "nULL"), invalid dates ("2001-13-45": PyYAML fails), floats
  that overflow ("1e400": YAML 1.2 reads inf), and "-_", "+_", "._", "0x_", ".5_"
  (ruamel.yaml fails or reads a number).
- NEL, U+2028 and U+2029 are always double-quoted escapes (\\N, \\L, \\P); go-yaml writes
  the last two raw inside single quotes.
- A `|+` block that would end the document is double-quoted instead, so every document ends
  in exactly one newline (kustomize leaves the block's trailing blank lines).
- Key sets where go-yaml's comparison is not a total order (e.g. "k2", "k10", "k1z") come
  out in a different order from run to run in kustomize; ours is fixed.
- Control characters and U+FFFE/U+FFFF: kustomize refuses them; we write escapes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from kurator_compile.yamlout import dump_document, dump_stream

_PYYAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RUAMEL = YAML(typ="safe", pure=True)


def load_pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=_PYYAML_LOADER)


def load_ruamel(text: str) -> Any:
    return _RUAMEL.load(text)


def same(a: Any, b: Any) -> bool:
    """Equality that also requires equal types: True is not 1, 1.0 is not 1, -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def assert_round_trips(obj: Any) -> str:
    text = dump_document(obj)
    assert text.endswith("\n")
    assert not text.endswith("\n\n"), text
    for load in (load_pyyaml, load_ruamel):
        back = load(text)
        assert same(back, obj), f"{load.__name__} read back {back!r}\nfrom\n{text}"
    return text


# --- a table of strings that trip YAML emitters -----------------------------------------------

# fmt: off
TRICKY = [
    # bool / null words in YAML 1.1 and 1.2, and letter-case variants
    "on", "off", "yes", "no", "y", "n", "true", "false", "null", "On", "ON", "Off", "OFF",
    "Yes", "YES", "No", "NO", "Y", "N", "True", "TRUE", "False", "FALSE", "Null", "NULL",
    "nULL", "tRUE", "yEs", "oN", "~", "",
    # numbers of every YAML form, timestamps, sexagesimal
    "1", "-1", "+1", "0", "-0", "1.0", "1.", "0.", ".5", "+.5", "-.5", "0755", "0o17", "0O17",
    "0x1F", "0X1F", "0b101", "0B101", "1e3", "1E3", "1e+3", "1.0e5", "1_000", "1__", "_1", "08",
    "09.5", "1e400", "-.inf", "+.inf", ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "1:20",
    "12:30:45", "190:20:30.15", "-_", "+_", "._", ".5_", "0x_", "0b", "0x", "0o",
    "2001-12-14",
    "2001-1-2",
    "2001-13-45",
    "2001-12-14T21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    # indicators
    "-", "?", ":", "-x", "?x", ":x", ",x", "[x", "]x", "{x", "}x", "#x", "&a", "*foo", "!tag",
    "|x", ">x", "'x", '"x', "%x", "@x", "`x",
    "- x",
    "? x",
    ": x",
    "--- x",
    "---",
    "...",
    "... x",
    "<<",
    "=",
    "a: b",
    "a:b",
    "x:",
    "a #b",
    "a#b",
    "#x",
    "http://example.com:8080/a?b=c#d",
    "*/5 * * * *",
    '{"a": 1}',
    "it's",
    'say "hi"',
    "back\\slash",
    # spaces
    " lead",
    "trail ",
    " ",
    "  ",
    "a  b",
    "\xa0nbsp\xa0",
    "a\xa0: b",
    # line breaks
    "multi\nline",
    "multi\nline\n",
    "multi\nline\n\n",
    "\n",
    "\n\n",
    "\nlead",
    "  indented\nfirst",
    " \nx",
    "trailing \nspace",
    "last line \n",
    "a\n\n\nb",
    "# not a comment\n- not a list\n---\n...\n",
    "\r\n",
    "a\rb",
    # other characters
    "tab\tin",
    "\t",
    "\u2028",
    "a\u2029b",
    "\x85",
    "é",
    "日本",
    "😀 emoji",
    "\x00",
    "\x07\x08\x0b\x0c\x1b",
    "\x7f\x80\x9f",
    "\ufeffbom",
    "bom\ufeff",
    "\ufffe\uffff",
    "\u200b zero width",
    # long: folded past column 80
    "word " * 30 + "end",
    "word " * 30,
    "x" * 100 + " y" * 40,
    "*" + "word " * 30 + "end",
    "tab\t" + "word " * 30 + "end  x",
    "x" * 78 + "  y z " + "w " * 40 + "end",
]
# fmt: on


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_tricky_string_round_trips_as_value_key_and_item(value: str) -> None:
    assert_round_trips(value)
    assert_round_trips({"v": value, "z": 1})
    assert_round_trips({"v": value})  # last in the document
    assert_round_trips([value, [value], {"k": [value]}])
    assert_round_trips({value: 1, "nested": {value: {value: [value]}}})
    assert_round_trips({"a" * 200 + value: value, value + "b" * 200: [value]})  # explicit `? key`


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("app.kubernetes.io/name", "app.kubernetes.io/name"),
        ("--port=8080", "--port=8080"),
        ("nginx:1.25", "nginx:1.25"),
        ("500m", "500m"),
        ("it's", "it's"),
        ("日本", "日本"),
        ("", '""'),
        ("on", '"on"'),
        ("y", '"y"'),
        ("NULL", '"NULL"'),
        ("yEs", '"yEs"'),
        ("~", '"~"'),
        ("0755", '"0755"'),
        ("1.0", '"1.0"'),
        ("0x1F", '"0x1F"'),
        ("1e3", '"1e3"'),
        ("1:20", '"1:20"'),
        ("2001-12-14", '"2001-12-14"'),
        (".NaN", '".NaN"'),
        ("=", '"="'),
        ("*foo", "'*foo'"),
        ("- x", "'- x'"),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        ("x:", "'x:'"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("---", "'---'"),
        ("'q'", "'''q'''"),
        ("tab\tin", '"tab\\tin"'),
        ('a"b\\c', 'a"b\\c'),
        ("%x\x01", '"%x\\x01"'),
        ("\u2028\x85\xa0\ufeff", '"\\L\\N\xa0\\uFEFF"'),
        ("😀", '"\\U0001F600"'),
        ("\ufeffab", '"\\uFEFF\\x61\\x62"'),
        ("multi\nline", "|-\n  multi\n  line"),
        ("multi\nline\n", "|\n  multi\n  line"),
        ("multi\nline\n\n", "|+\n  multi\n  line\n"),
        ("  indented\nfirst", "|2-\n    indented\n  first"),
        ("\n", "|2+\n"),
        ("a\n\nb", "|-\n  a\n\n  b"),
        ("trailing \nspace", '"trailing \\nspace"'),
        ("tab\n\t", '"tab\\n\\t"'),
        (
            "word " * 17 + "end",
            "word word word word word word word word word word word word word word word word\n"
            "  word end",
        ),
    ],
    ids=repr,
)
def test_string_styles(value: str, expected: str) -> None:
    """The style rules, one example each (the value sits at `v: `, column 3)."""
    assert dump_document({"v": value, "z": 0}) == f"v: {expected}\nz: 0\n"


def test_keep_block_at_end_of_document_is_double_quoted() -> None:
    assert dump_document({"a": "x\n\n", "b": "x\n\n"}) == 'a: |+\n  x\n\nb: "x\\n\\n"\n'
    assert dump_document(["x\n\n"]) == '- "x\\n\\n"\n'
    assert dump_document("\n") == '"\\n"\n'
    assert dump_document({"k": [{"x": "\n\n"}]}) == 'k:\n- x: "\\n\\n"\n'


# --- non-string scalars -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (2**70, "1180591620717411303424"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e20, "1.0e+20"),
        (1e16, "1.0e+16"),
        (1.5e-07, "1.5e-07"),
        (-2.5e300, "-2.5e+300"),
        (5e-324, "5.0e-324"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
    ],
    ids=repr,
)
def test_scalars(value: Any, text: str) -> None:
    assert dump_document({"v": value}) == f"v: {text}\n"
    assert_round_trips({"v": value})
    assert_round_trips([value])
    assert_round_trips(value)


def test_nan() -> None:
    text = dump_document({"v": math.nan, "w": [math.nan]})
    assert text == "v: .nan\nw:\n- .nan\n"
    for load in (load_pyyaml, load_ruamel):
        back = load(text)
        assert math.isnan(back["v"])
        assert math.isnan(back["w"][0])


def test_containers_and_layout() -> None:
    doc = {
        "spec": {"containers": [{"name": "x", "image": "nginx", "args": ["-a", "b"]}]},
        "empty": {"d": {}, "l": []},
        "nested": [[1, 2], [], {}, [{"a": 1, "b": [3]}], [[True]]],
    }
    assert dump_document(doc) == (
        "empty:\n"
        "  d: {}\n"
        "  l: []\n"
        "nested:\n"
        "- - 1\n"
        "  - 2\n"
        "- []\n"
        "- {}\n"
        "- - a: 1\n"
        "    b:\n"
        "    - 3\n"
        "- - - true\n"
        "spec:\n"
        "  containers:\n"
        "  - args:\n"
        "    - -a\n"
        "    - b\n"
        "    image: nginx\n"
        "    name: x\n"
    )
    assert dump_document({}) == "{}\n"
    assert dump_document([]) == "[]\n"
    assert dump_document("x") == "x\n"
    assert dump_document(None) == "null\n"


def test_long_and_multiline_keys_use_explicit_form() -> None:
    long_key = "k" * 129
    text = dump_document({long_key: {"a": 1, "b": [1]}, "m\nk": [1, 2], "k" * 128: 0})
    assert text == (
        f"{'k' * 128}: 0\n? {long_key}\n: a: 1\n  b:\n  - 1\n? |-\n  m\n  k\n: - 1\n  - 2\n"
    )
    assert_round_trips({"x" * 2000: 1, "é" * 100: 2, "é" * 64: 3})


def test_key_order_is_kustomize_order_and_ignores_insertion_order() -> None:
    keys = ["a10", "a9", "B", "a", "_x", "-y", "1", "10", "9", "APP_ENV", "APPS", "node1"]
    keys += ["node10", "node2", "é", "Z", "z", "a.b", "a/b", "a-b", "a_b", "x01", "x1"]
    keys += ["x001", "x0", "x00"]
    # as printed by `kubectl kustomize` (kustomize v5.5)
    expected = [
        *["-y", "_x", "1", "9", "10", "APP_ENV", "APPS", "B", "Z", "a", "a-b", "a.b", "a/b"],
        *["a_b", "a9", "a10", "node1", "node2", "node10", "x0", "x00", "x1", "x01", "x001"],
        *["z", "é"],
    ]
    forward = dump_document(dict.fromkeys(keys, 0))
    assert forward == dump_document(dict.fromkeys(reversed(keys), 0))
    assert [line.split(":")[0].strip('"') for line in forward.splitlines()] == expected


def test_output_does_not_depend_on_hash_seed() -> None:
    code = (
        "import sys; from kurator_compile.yamlout import dump_document; "
        "d = {k: {k: [k, 1.5, None]} for k in sys.argv[1:]}; print(dump_document(d), end='')"
    )
    keys = ["k2", "k10", "k1z", "APP_ENV", "APPS", "x_1", "x-1", "on", "é", "1", "a b"]
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code, *keys], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert outputs == {dump_document({k: {k: [k, 1.5, None]} for k in keys})}


class _Level(IntEnum):
    HIGH = 3


class _Name(str):
    pass


def test_subclasses_are_written_as_their_base_type() -> None:
    doc: OrderedDict[str, Any] = OrderedDict(
        b=OrderedDict(x=[_Name("yes"), _Level.HIGH]), a=[OrderedDict(k=_Name("v"))]
    )
    doc["c"] = _Level.HIGH
    doc[_Name("e")] = _Name("a\nb")
    text = dump_document(doc)
    assert text == 'a:\n- k: v\nb:\n  x:\n  - "yes"\n  - 3\nc: 3\ne: |-\n  a\n  b\n'
    assert load_pyyaml(text) == {"a": [{"k": "v"}], "b": {"x": ["yes", 3]}, "c": 3, "e": "a\nb"}


@pytest.mark.parametrize(
    "bad",
    [{1: "x"}, {"a": 1, 2: "b"}, {None: 1}, {"a": (1, 2)}, {"a": b"x"}, [{1, 2}], object()],
    ids=lambda bad: "object()" if type(bad) is object else repr(bad),  # stable across workers
)
def test_rejects_non_json_data(bad: Any) -> None:
    with pytest.raises(TypeError):
        dump_document(bad)


def test_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        dump_document({"v": "a\ud800"})


def test_stream() -> None:
    docs: list[Any] = [{"a": 1}, [1, "x\n"], "---", {"b": "x\n\n"}, {}, None, "...", {"c": []}]
    text = dump_stream(docs)
    assert text.startswith("a: 1\n---\n- 1\n- |\n  x\n---\n'---'\n---\n")
    assert text.splitlines().count("---") == len(docs) - 1
    for back in (
        list(yaml.load_all(text, Loader=_PYYAML_LOADER)),
        list(_RUAMEL.load_all(text)),
    ):
        assert same(back, docs)
    assert dump_stream([]) == ""
    assert dump_stream(iter([{"a": 1}])) == "a: 1\n"


# --- property tests -------------------------------------------------------------------------

_ALPHABET_YAMLISH = "abyYnN01289._-+:eExXoO #'\"\\!&*?|>%@`,[]{}~= \t\n\r\x85\u2028\xa0\ufeffé"
strings = (
    st.text(max_size=12)
    | st.text(alphabet=_ALPHABET_YAMLISH, max_size=8)
    | st.sampled_from(TRICKY)
    | st.text(alphabet="ab ", min_size=70, max_size=200)  # folded past column 80
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | strings
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_every_document_loads_back_exactly(doc: Any) -> None:
    assert_round_trips(doc)


@settings(max_examples=100, deadline=None)
@given(st.lists(documents, min_size=1, max_size=4))
def test_every_stream_loads_back_exactly(docs: list[Any]) -> None:
    text = dump_stream(docs)
    assert same(list(yaml.load_all(text, Loader=_PYYAML_LOADER)), docs)
    assert same(list(_RUAMEL.load_all(text)), docs)


def _reversed_order(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _reversed_order(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [_reversed_order(x) for x in obj]
    return obj


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(strings, documents, max_size=6))
def test_output_ignores_dict_insertion_order(doc: dict[str, Any]) -> None:
    assert dump_document(_reversed_order(doc)) == dump_document(doc)


# --- against kubectl ------------------------------------------------------------------------

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")

_JSON_UNSAFE_FOR_GO = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")


def _to_json(obj: Any) -> str:
    """JSON that go-yaml reads back unchanged (it folds raw NEL/LS/PS inside quotes)."""
    text = json.dumps(obj, ensure_ascii=False)
    return _JSON_UNSAFE_FOR_GO.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def kustomize(docs: list[Any], tmp_path: Path) -> list[str]:
    """`kubectl kustomize` output for `docs` (given to it as JSON), one string per document."""
    (tmp_path / "resources.yaml").write_text("\n---\n".join(_to_json(d) for d in docs))
    (tmp_path / "kustomization.yaml").write_text("resources:\n- resources.yaml\n")
    done = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    )
    return re.split(r"(?m)^---\n", done.stdout)


REALISTIC = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/version": "1.25.3"},
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "prometheus.io/scrape": "true",
                "kurator.dev/description": "The storefront web tier; it serves the catalogue "
                "and the checkout pages behind the shop ingress.",
                "kurator.dev/last-applied": '{"replicas": 3, "image": "nginx:1.25.3"}',
            },
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": "web"},
                    "annotations": {"checksum/config": "9f2c1e0d"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25.3",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "-c"],
                            "args": [
                                "envsubst < /etc/nginx/templates/default.conf.template > "
                                "/etc/nginx/conf.d/default.conf && exec nginx -g 'daemon off;'"
                            ],
                            "env": [
                                {"name": "PORT", "value": "8080"},
                                {"name": "ENABLE_GZIP", "value": "yes"},
                                {"name": "EMPTY", "value": ""},
                                {"name": "VERSION", "value": "1.0"},
                                {
                                    "name": "POD_IP",
                                    "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                                },
                            ],
                            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "initialDelaySeconds": 10,
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"mountPath": "/etc/nginx/templates", "name": "templates"}
                            ],
                        }
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {
                            "key": "dedicated",
                            "operator": "Equal",
                            "value": "web",
                            "effect": "NoSchedule",
                        }
                    ],
                    "volumes": [{"name": "templates", "configMap": {"name": "web-templates"}}],
                },
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/name": "web"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 9113, "targetPort": 9113},
            ],
        },
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-templates", "namespace": "shop"},
        "data": {
            "default.conf.template": "server {\n    listen ${PORT};\n    gzip on;\n"
            "    location / {\n        root /usr/share/nginx/html;\n    }\n}\n",
            "APP_ENV": "production",
            "APPS": "catalogue,checkout",
            "FEATURE_CHECKOUT": "on",
            "MAX_BODY": "10m",
            "RETRIES": "3",
            "SCHEDULE": "*/5 * * * *",
            "banner.txt": "  Welcome\n",
            "motd": "line one\nline two",
            "notes.md": "# Title\n\n- item: one\n- item: two\n\n",
            "node1": "a",
            "node10": "b",
            "node2": "c",
        },
    },
]


@needs_kubectl
def test_realistic_documents_match_kubectl_kustomize_byte_for_byte(tmp_path: Path) -> None:
    theirs = {load_pyyaml(text)["kind"]: text for text in kustomize(REALISTIC, tmp_path)}
    for doc in REALISTIC:
        assert dump_document(doc) == theirs[doc["kind"]]
    assert_round_trips(REALISTIC)


# Strings we write differently from kustomize, each for a reason in the module docstring.
# fmt: off
KUBECTL_DIFFERENCES = {
    "yEs", "oN", "nULL", "tRUE", "=", "<<", "2001-13-45", "1e400", "-_", "+_", "._", ".5_", "0x_",
    "\u2028", "a\u2029b",
}
# fmt: on


@needs_kubectl
def test_tricky_strings_match_kubectl_kustomize_except_known_differences(tmp_path: Path) -> None:
    refused = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")  # kustomize rejects these
    values = [v for v in TRICKY if not refused.search(v)]
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "example.com/v1",
            "kind": "Thing",
            "metadata": {"name": f"t{i:04d}"},
            "value": v,
            "list": [v, {"k": v}],
            "keys": {v: 1, f"{v} {i}": 2},
            "zz": "last",
        }
        for i, v in enumerate(values)
    ]
    # (not parsed with PyYAML: kustomize writes e.g. "0x_" plain, which PyYAML fails on)
    theirs = {
        re.search(r"(?m)^  name: (t\d+)$", text).group(1): text  # type: ignore[union-attr]
        for text in kustomize(docs, tmp_path)
    }
    differ = {
        v
        for v, doc in zip(values, docs, strict=True)
        if dump_document(doc) != theirs[doc["metadata"]["name"]]
    }
    assert differ == KUBECTL_DIFFERENCES
