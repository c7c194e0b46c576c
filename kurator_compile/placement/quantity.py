"""Kubernetes resource.Quantity strings -> exact Fractions (no floats anywhere)."""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["QuantityError", "milli_value", "parse_quantity", "value"]

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# <sign>? <digits>[.<digits>] | .<digits>, then a suffix: binary SI, decimal SI or e/E exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)


class QuantityError(ValueError):
    """A string that kube-apiserver would reject as a resource quantity."""


def parse_quantity(text: object) -> Fraction:
    """The exact value of a quantity ("500m", "256Gi", "1e3", 2); raises QuantityError."""
    if isinstance(text, bool):
        raise QuantityError(f"quantity must be a string or a number, not {text!r}")
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        # YAML read an unquoted decimal; its shortest repr is what the author wrote.
        text = repr(text)
    if not isinstance(text, str):
        raise QuantityError(f"quantity must be a string or a number, not {text!r}")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(
            f"invalid quantity {text!r}: expected a number with an optional suffix "
            "(m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei) or exponent (e.g. 1e3)"
        )
    whole, _, fraction = match["number"].lstrip("+").partition(".")
    negative = whole.startswith("-")
    digits = int((whole.lstrip("-") or "0") + fraction)
    number = Fraction(-digits if negative else digits, 10 ** len(fraction))
    if match["exp"] is not None:
        return number * _pow10(int(match["exp"][1:]))
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (1 << (10 * _BINARY[suffix]))
    return number * _pow10(_DECIMAL[suffix])


def _pow10(exponent: int) -> Fraction:
    return Fraction(10**exponent) if exponent >= 0 else Fraction(1, 10**-exponent)


def _round_away(value: Fraction) -> int:
    """Quantity.Value(): round up, away from zero."""
    whole = value.numerator // value.denominator
    if whole == value:
        return whole
    return whole + 1 if value > 0 else whole


def value(quantity: Fraction) -> int:
    """Quantity.Value(): the integer value rounded away from zero (1.5 -> 2, 500m -> 1)."""
    return _round_away(quantity)


def milli_value(quantity: Fraction) -> int:
    """Quantity.MilliValue(): thousandths, rounded away from zero (cpu is compared in these)."""
    return _round_away(quantity * 1000)
