"""YAML scalars -> the values kubectl's reader makes of them.

kubectl (`apply/create -f`) and Argo CD read manifests with sigs.k8s.io/yaml: its go-yaml v2
fork types every plain scalar (YAML 1.1's words such as `yes`/`on`/`y`, Go's number syntax
such as `0644` = 420, `0x1F`, `1_000`), the result is written out as JSON (map keys made
strings, infinities refused), and that JSON is read into the object, where a number without a
fraction that fits int64 becomes an integer (`2.0` -> 2, `1e3` -> 1000) and any other number a
float. Timestamps stay the text as written; sexagesimal `1:20` is a string.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from datetime import date
from decimal import Decimal
from typing import Any, Final

# What the first character says a plain scalar may be (go-yaml v2's resolve table).
_WORD, _DIGIT, _SIGN, _DOT = 1, 2, 3, 4
_HINT: Final = {
    **dict.fromkeys("yYnNtTfFoO~", _WORD),
    **dict.fromkeys("0123456789", _DIGIT),
    "+": _SIGN,
    "-": _SIGN,
    ".": _DOT,
}
_INF: Final = math.inf
_WORDS: Final[dict[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), _INF),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -_INF),
}
# Go's strconv.ParseInt(s, 0, 64) syntax once "_" is removed: sign, then 0x / 0o / 0b / a
# leading 0 (octal) / decimal.
_GO_INT: Final = re.compile(
    r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*))"
)
# go-yaml's yamlStyleFloat, and the floats strconv.ParseFloat reads from a leading ".".
_GO_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
# go-yaml's "0b" fallback: a binary number with its sign after the prefix.
_SIGNED_BINARY: Final = re.compile(r"(-?)0b([-+]?[01]+)")
# The formats go-yaml v2 tries for a timestamp (with Go's one-or-two digit fields).
_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"|[ ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
_INT64: Final = 1 << 63
_UINT64: Final = 1 << 64
_EXACT: Final = 1 << 53  # below it, a whole float's shortest digits are exact
_BOOL, _INT, _FLOAT, _NULL, _STR = "bool", "int", "float", "null", "str"


class ScalarError(ValueError):
    """A scalar kubectl's reader refuses; the message says why, for a positioned error."""


def _go_number(text: str) -> int | float | None:
    """go-yaml v2's reading of a plain scalar that starts with a digit or a sign."""
    plain = text.replace("_", "") if "_" in text else text
    match = _GO_INT.fullmatch(plain)
    if match is not None:
        sign, hexa, octal, binary, zero_octal, decimal = match.groups()
        base, digits = next(
            (base, digits)
            for base, digits in (
                (16, hexa),
                (8, octal),
                (2, binary),
                (8, zero_octal),
                (10, decimal),
            )
            if digits is not None
        )
        digits = digits.lstrip("0") or "0"
        # 64 digits hold any 64-bit number in any base; longer is out of range (and Python
        # refuses to convert thousands of digits).
        value = int(digits, base) if len(digits) <= 64 else _UINT64
        if sign == "-":
            value = -value
        if -_INT64 <= value < _INT64 or (not sign and value < _UINT64):
            return value
    if _GO_FLOAT.fullmatch(plain) is not None:
        number = float(plain)
        return None if math.isinf(number) else number
    match = _SIGNED_BINARY.fullmatch(plain)
    if match is not None and not (match.group(1) and match.group(2)[0] in "+-"):
        value = int(match.group(2), 2) * (-1 if match.group(1) else 1)
        if -_INT64 <= value < _INT64 or (value >= 0 and value < _UINT64):
            return value
    return None


def resolve_plain(text: str) -> Any:
    """What go-yaml v2 makes of an untagged plain scalar: str, bool, None, int or float."""
    hint = _HINT.get(text[:1], 0) if text else _WORD
    if not hint:
        return text
    if text in _WORDS:
        return _WORDS[text]
    if hint == _WORD:
        return text
    if hint == _DOT:
        if _DOT_FLOAT.fullmatch(text) is not None:
            fraction = float(text)
            if not math.isinf(fraction):
                return fraction
        return text
    number = _go_number(text)
    return text if number is None else number


def json_value(value: Any) -> Any:
    """A resolved scalar as it is after the trip through JSON into the object."""
    if type(value) is int:
        return value if -_INT64 <= value < _INT64 else float(value)
    if type(value) is float:
        if math.isinf(value) or math.isnan(value):
            raise ScalarError(
                f"kubectl reads it as {_float_word(value)}, which JSON cannot carry (kubectl "
                "refuses the file); quote it if a string is meant"
            )
        # Go writes a whole float below 1e21 as its shortest digits padded with zeros
        # ("1000", "9223372036854776000"), read back as an integer when that fits int64.
        if value.is_integer() and abs(value) < 1e21:
            whole = int(value) if abs(value) < _EXACT else int(Decimal(repr(value)))
            if -_INT64 <= whole < _INT64:
                return whole
    return value


def _float_word(value: float) -> str:
    if math.isnan(value):
        return "not-a-number"
    return "infinity" if value > 0 else "minus infinity"


def json_key(value: Any) -> str:
    """A resolved mapping key as sigs.k8s.io/yaml makes it a JSON object's key."""
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        raise ScalarError("kubectl reads it as null, and a null cannot be a key; quote it")
    if type(value) is int:
        if value >= _INT64:
            raise ScalarError(
                "kubectl reads it as an unsigned 64-bit integer, which it refuses as a key; "
                "quote it"
            )
        return str(value)
    return _go_float32_text(value)


def _go_float32_text(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's names for the specials."""
    if math.isnan(value):
        return ".nan"
    try:
        single = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        single = math.copysign(_INF, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    for digits in range(1, 10):
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    exponent = int(text[text.index("e") + 1 :])
    if exponent < -4 or exponent >= 6:  # %e, as Go's shortest 'g' decides
        return text
    return f"{float(text):.{max(digits - 1 - exponent, 0)}f}"


def _kind(value: Any) -> str:
    if value is None:
        return _NULL
    if value is True or value is False:
        return _BOOL
    if type(value) is int:
        return _INT
    if type(value) is float:
        return _FLOAT
    return _STR


def resolve_tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit `!!int`, `!!float`, `!!bool`, `!!null`, `!!timestamp` or
    `!!binary` tag, as go-yaml v2 decodes it (quoted or not); `tag` is the short name."""
    if tag == "binary":
        try:
            data = base64.b64decode(re.sub(r"[\r\n]", "", text), validate=True)
        except binascii.Error:
            raise ScalarError("!!binary value contains invalid base64 data") from None
        return data.decode("utf-8", "replace")
    if tag == "timestamp":
        if not _is_timestamp(text):
            raise ScalarError(
                f"kubectl cannot decode !!{_kind(resolve_plain(text))} as a !!timestamp"
            )
        return text
    value = resolve_plain(text)
    kind = _kind(value)
    if kind == tag:
        return value
    if tag == _FLOAT and kind == _INT:
        return float(value)
    raise ScalarError(f"kubectl cannot decode !!{kind} as a !!{tag}")


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    try:
        date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return False
    return True
