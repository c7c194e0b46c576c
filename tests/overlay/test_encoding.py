"""Go-compatible text for fieldOverrider: go-yaml v2 in and out, encoding/json out."""

from __future__ import annotations

from typing import Any

import pytest

from kurator_compile.errors import CompileError
from kurator_compile.overlay import PatchError
from kurator_compile.overlay.encoding import (
    dump_go_json,
    dump_go_yaml,
    go_json_float,
    load_go_json,
    load_go_yaml,
)
from kurator_compile.yamldoc import load_stream


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (1e21, "1e+21"),
        (123456789012345678.0, "123456789012345680"),
        (-2.5e-9, "-2.5e-9"),
    ],
)
def test_go_json_float(value: float, text: str) -> None:
    assert go_json_float(value) == text


def test_json_round_trip_keeps_order_and_number_text() -> None:
    text = '{"z": 1.50, "a": [1e3, 7, "x<y"], "n": null}'
    assert dump_go_json(load_go_json(text)) == '{"z":1.50,"a":[1e3,7,"x\\u003cy"],"n":null}'
    with pytest.raises(PatchError):
        load_go_json("{")


def test_yaml_reads_as_yaml_1_1() -> None:
    data = load_go_yaml("a: yes\nb: 'yes'\nc: 0777\nd: 1_000\ne: y\nf: ~\n7: x\n")
    assert data == {"a": True, "b": "yes", "c": 511, "d": 1000, "e": True, "f": None, "7": "x"}
    with pytest.raises(PatchError):
        load_go_yaml("a: [1,\n")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            {"b": 1, "a": {"y": [1, "x"], "x": None}},
            'a:\n  x: null\n  "y":\n  - 1\n  - x\nb: 1\n',
        ),  # y is a boolean to go-yaml v2
        ({"k10": 1, "k8": 2, "2": 3, "10": 4}, '"2": 3\n"10": 4\nk8: 2\nk10: 1\n'),
        (
            {"s": "true", "n": "123", "e": "", "o": "on", "t": "2001-12-14"},
            'e: ""\n"n": "123"\no: "on"\ns: "true"\nt: "2001-12-14"\n',
        ),
        ({"m": "line1\nline2\n", "c": "a: b"}, "c: 'a: b'\nm: |\n  line1\n  line2\n"),
        ({"empty": {}, "none": []}, "empty: {}\nnone: []\n"),
    ],
)
def test_yaml_out_like_go_yaml_v2(value: Any, text: str) -> None:
    assert dump_go_yaml(value) == text


def test_go_yaml_text_orders_keys_as_the_emitter_does() -> None:
    """One go-yaml v2 key order for the emitter and the overriders' text; a digit that is not
    a decimal digit (`²`) is no number to it."""
    text = dump_go_yaml({"a10": 1, "a2": 1, "B": 1, "x²": 1, "x1": 1})
    assert [line.split(":")[0] for line in text.splitlines()] == ["B", "a2", "a10", "x²", "x1"]


def test_field_overrider_json_nested_too_deep_is_an_error() -> None:
    """100,000 levels (json's own recursion limit) and 101 (every later step recurses)."""
    for depth in (100_000, 101):
        with pytest.raises(PatchError) as raised:
            load_go_json("[" * depth + "]" * depth)
        assert raised.value.message == "invalid JSON: nested deeper than 100 levels"
    assert load_go_json("[" * 100 + "]" * 100) is not None


@pytest.mark.parametrize(
    "text",
    [
        "&a [*a]",  # a recursive alias
        "&a {x: *a}",
        "[" * 101 + "]" * 101,
        "- " * 101 + "x",
    ],
)
def test_field_overrider_yaml_is_bounded_like_the_main_loader(text: str) -> None:
    with pytest.raises(PatchError) as raised:
        load_go_yaml(text)
    assert raised.value.message == "invalid YAML: nested deeper than 100 levels"


def test_field_overrider_yaml_alias_bomb_is_an_error() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(PatchError) as raised:
        load_go_yaml("\n".join(lines) + "\n")
    assert raised.value.message == "invalid YAML: aliases expand past 100000 nodes"


def test_overlay_values_nested_400_deep_are_a_positioned_error() -> None:
    text = "values: " + "{a: " * 400 + "1" + "}" * 400 + "\n"
    with pytest.raises(CompileError) as raised:
        load_stream(text, "overlays/v.yaml")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.render().startswith(
        "overlays/v.yaml:1:405: error: YAML nesting is deeper than 100 levels; no Kubernetes "
        "object needs that many (at /values/a/a/"
    )
