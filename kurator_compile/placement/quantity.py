"""Kubernetes resource.Quantity strings -> exact Fractions (no floats anywhere)."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

__all__ = ["QuantityError", "milli_value", "parse_quantity", "value", "values"]

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# <sign>? <digits>[.<digits>] | .<digits>, then a suffix: binary SI, decimal SI or e/E exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)",
    re.ASCII,  # digits as Go reads them
)


class QuantityError(ValueError):
    """A string that kube-apiserver would reject as a resource quantity."""


# Kubernetes' documented range (resource.Quantity): no quantity is larger than 2^63-1 in
# magnitude, and nothing is finer than 1n (10^-9). kube-apiserver caps the one and rounds the
# other up; we reject both, before any big power of ten is computed, so that '1e999999999'
# is an error rather than a billion-digit integer.
MAX_QUANTITY = 2**63 - 1
_MAX_DIGITS = len(str(MAX_QUANTITY))  # 19: a value with more integer digits is too large
_NANO = 9  # the smallest unit is 10^-9


def parse_quantity(text: object) -> Fraction:
    """The exact value of a quantity ("500m", "256Gi", "1e3", 2); raises QuantityError.

    Values are Kubernetes' range: at most 2^63-1 in magnitude and, unless 0, at least 1n;
    digits finer than 1n are rounded up (away from zero) to 1n, as kube-apiserver does.
    """
    if isinstance(text, bool):
        raise QuantityError(f"quantity must be a string or a number, not {text!r}")
    if isinstance(text, int):
        if abs(text) > MAX_QUANTITY:
            raise QuantityError(_too_large(text))
        return Fraction(text)
    if isinstance(text, float):
        # YAML read an unquoted decimal; its shortest repr is what the author wrote.
        text = repr(text)
    if not isinstance(text, str):
        raise QuantityError(f"quantity must be a string or a number, not {text!r}")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(
            f"invalid quantity {_shown(text)}: expected a number with an optional suffix "
            "(m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei) or exponent (e.g. 1e3)"
        )
    whole, _, fraction = match["number"].lstrip("+").partition(".")
    negative = whole.startswith("-")
    # value = digits * 10^exponent * 2^shift, with `digits` free of leading/trailing zeros
    digits = (whole.lstrip("-") + fraction).lstrip("0")
    exponent = -len(fraction)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    if not digits:
        return Fraction(0)
    shift = 0
    suffix = match["suffix"] or ""
    if match["exp"] is not None:
        written = match["exp"][1:].lstrip("+")
        if len(written.lstrip("-").lstrip("0")) > _MAX_DIGITS + 1:
            # far beyond either end; int() of it could be slow or refused
            raise QuantityError(_too_small(text) if written.startswith("-") else _too_large(text))
        exponent += int(written)
    elif suffix in _BINARY:
        shift = 10 * _BINARY[suffix]
    else:
        exponent += _DECIMAL[suffix]
    # 10^(order-1) <= |value| / 2^shift < 10^order, and 2^shift >= 10^(3*shift//10)
    order = len(digits) + exponent
    if order - 1 + 3 * shift // 10 >= _MAX_DIGITS:
        raise QuantityError(_too_large(text))
    if order <= -_NANO:
        raise QuantityError(_too_small(text))
    if exponent < -_NANO:
        # round up to 1n: keep the digits down to 10^-9, add one if anything else is dropped
        keep = len(digits) + exponent + _NANO
        rest = digits[keep:]
        digits, exponent = digits[:keep], -_NANO
        number = int(digits or "0") + (1 if rest.strip("0") else 0)
    else:
        number = int(digits)
    result = Fraction(-number if negative else number) * _pow10(exponent) * (1 << shift)
    if abs(result) > MAX_QUANTITY:
        raise QuantityError(_too_large(text))
    return result


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else f"{shown[:60]}...{shown[-15:]} ({len(shown)} characters)"


def _too_large(text: object) -> str:
    if (isinstance(text, int) and text < 0) or (isinstance(text, str) and text[:1] == "-"):
        bound = f"smaller than -{MAX_QUANTITY} (-(2^63-1)), the smallest"
    else:
        bound = f"larger than {MAX_QUANTITY} (2^63-1), the largest"
    return f"invalid quantity {_shown(text)}: {bound} quantity Kubernetes represents"


def _too_small(text: object) -> str:
    return (
        f"invalid quantity {_shown(text)}: not 0 but closer to 0 than 1n (10^-9), the finest "
        "quantity Kubernetes represents"
    )


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


# Plain digits with an SI suffix or none (most quantities as written), computed in ints:
# the exact value is digits * factor (or digits / 1000 for "m").
_SIMPLE = re.compile(r"([0-9]{1,19})(m|[kMGTPE]|[KMGTPE]i)?")
_FACTORS = {
    **{suffix: 10**exponent for suffix, exponent in _DECIMAL.items() if exponent >= 0},
    **{suffix: 2 ** (10 * power) for suffix, power in _BINARY.items()},
}


def _values(text: object) -> tuple[int, int]:
    if type(text) is str and (match := _SIMPLE.fullmatch(text)) is not None:
        digits, suffix = int(match[1]), match[2] or ""
        if suffix == "m":
            return -(-digits // 1000), digits  # Value() rounds 1m..999m up to 1
        units = digits * _FACTORS[suffix]
        if units <= MAX_QUANTITY:
            return units, units * 1000
    qty = parse_quantity(text)  # everything else, and the errors
    return value(qty), milli_value(qty)


# Fleets repeat a handful of quantity strings ("100m", "256Mi", "64"): parse each once.
_cached_values = lru_cache(maxsize=4096, typed=True)(_values)
_HASHABLE = (str, int, float)  # bool is an error, and is not cached


def values(text: object) -> tuple[int, int]:
    """(Value(), MilliValue()) of a quantity, memoised; raises QuantityError."""
    if type(text) in _HASHABLE:
        return _cached_values(text)
    return _values(text)
