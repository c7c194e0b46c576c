"""Digits are read as Go reads them, ASCII only: `str.isdigit` accepts superscript and
Arabic-Indic digits, which `int()` then refuses (a crash) or reads as no Kubernetes component
would."""

from __future__ import annotations

from pathlib import Path

import pytest

from kurator_compile.cron import CronError, parse_standard
from kurator_compile.fields import is_digits
from kurator_compile.overlay.errors import PatchError
from kurator_compile.overlay.overriders import _pointer_get
from kurator_compile.placement.selectors import field_path
from kurator_compile.stack.checks import _count
from kurator_compile.stack.kubeedge import parse_group_replicas

from .conftest import REPO, run_cli

UNICODE_DIGITS = ["\u00b2", "\u0665", "\uff11", "\u0b67"]  # superscript 2, Arabic-Indic 5, ...


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_are_not_digits(digit: str) -> None:
    assert digit.isdigit()
    assert not is_digits(digit)
    assert not is_digits(f"1{digit}")
    assert is_digits("0123456789")


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_cron_fields(digit: str) -> None:
    with pytest.raises(CronError, match=rf"minute: failed to parse int from {digit}"):
        parse_standard(f"{digit} * * * *")
    with pytest.raises(CronError, match=rf"minute: failed to parse int from {digit}"):
        parse_standard(f"*/{digit} * * * *")


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_percentages_replicas_and_field_paths(digit: str) -> None:
    assert _count(f"{digit}%", 4) is None
    assert _count("50%", 4) == 2
    assert field_path(f"/spec/containers/{digit}/image") == f"spec.containers.{digit}.image"
    groups, problem = parse_group_replicas(f"edge-a={digit}")
    assert groups == []
    assert problem == (
        f"'edge-a={digit}' is not <node group>=<replicas> (a DNS-1123 label, '=', a whole number)"
    )


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_shard(digit: str, tmp_path: Path) -> None:
    result = run_cli(
        "build", REPO / "fleets/demo.yaml", "--root", REPO, "-o", tmp_path, "--shard", f"{digit}/2"
    )
    assert result.exit_code == 2
    assert result.stderr == f"error: --shard takes I/N with 1 <= I <= N, not '{digit}/2'\n"


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_overrider_paths(digit: str) -> None:
    with pytest.raises(PatchError) as raised:
        _pointer_get({"a": ["x"]}, ["a", digit], f"/a/{digit}", "imageOverrider")
    assert raised.value.message == f"imageOverrider: index '{digit}' out of bounds"
