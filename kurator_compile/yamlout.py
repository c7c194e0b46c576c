"""Fast, deterministic YAML emitter for JSON-like data, laid out like `kubectl kustomize` output."""

# Layout and scalar styles follow go-yaml (what `kubectl kustomize` prints), so output can be
# diffed against kustomize's; where go-yaml's choice would be misread by PyYAML (YAML 1.1) or
# ruamel.yaml (YAML 1.2) we quote more. The rules, in the order they are tried for a string:
#
#  1. A character outside YAML's printable set, or tab, CR, NEL, U+2028, U+2029, BOM, any
#     astral character -> double-quoted, escaped as go-yaml does (\t \n \x01 \u2028->\L ...).
#  2. Contains "\n" -> literal block `|`, `|-` or `|+`, with indentation indicator `|2` when
#     the first line starts with a space or is empty; double-quoted instead if a line ends in a
#     space, or if a `|+` block would be the very last thing in the document (so that every
#     document ends in exactly one newline).
#  3. Any YAML 1.1, YAML 1.2 or go-yaml loader could read it as non-string (null, bool in any
#     letter case incl. y/n/on/off, int/float in any form incl. 0o17, 0x1F, 1_000, 1e3, .5,
#     1:20, .inf, .NaN, timestamps, `<<`, `=`, empty) -> double-quoted.
#  4. Plain style impossible (starts with an indicator `#,[]{}&*!|>'"%@` or backtick, with
#     `-`/`?`/`:` followed by a space or alone, with `---` or `...`; contains ": " or " #";
#     ends with ":"; leading or trailing space) -> single-quoted.
#  5. Otherwise plain.
#
# Like go-yaml, plain and quoted values are folded at single spaces once past column 80,
# keys longer than 128 UTF-8 bytes or containing a line break use the explicit `? key` form,
# and map keys are ordered by go-yaml's "natural" comparison (digit runs compare as numbers:
# "a9" < "a10"; symbols before letters: "APP_ENV" < "APPS").

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cmp_to_key
from typing import Any, Final, TypeAlias

__all__ = ["dump_document", "dump_stream"]

_WIDTH: Final = 80  # go-yaml's best_width: a space past this column may become a line break
_SIMPLE_KEY_MAX_BYTES: Final = 128  # go-yaml (libyaml) writes longer keys as `? key`
_CACHE_MAX: Final = 32768  # entries per cache; a full cache is emptied, never grown
_CACHE_STR_MAX: Final = 200  # longer strings are rendered on every use, never cached

# A literal block scalar: header (`|`, `|2-`, ...) and its lines, indented when emitted.
_Block: TypeAlias = tuple[str, tuple[str, ...]]
_Rendered: TypeAlias = str | _Block

# --- scalar styles ---------------------------------------------------------------------------

# Characters that force double quotes: not YAML-printable, or line breaks other than "\n",
# tab, BOM, and astral characters (go-yaml escapes those; libyaml treats them as unprintable).
# Both classes list the excluded characters: the negated class of the printable ones, the
# same set, takes ten times longer to compile, a cost every run paid at start-up.
_SPECIAL = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe-\U0010ffff]"
)
# Characters escaped inside double quotes: the above, plus `"`, `\` and "\n".
_DQ_ESCAPE = re.compile(
    r"[\x00-\x1f\x22\x5c\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe-\U0010ffff]"
)
_NAMED_ESCAPES: Final = {
    "\x00": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")

# Words some loader reads as null or bool, compared in lower case (YAML 1.1 bools include
# y/n/yes/no/on/off), plus the YAML 1.1 merge key and value indicator.
_NON_STRING_WORDS: Final = frozenset(
    {"", "~", "null", "true", "false", "y", "n", "yes", "no", "on", "off", "<<", "="}
)
# Numbers and timestamps: the union of PyYAML's (1.1) and ruamel.yaml's (1.1 and 1.2)
# implicit resolvers, applied to the string as written, with dates of any month/day value
# (PyYAML fails on "2001-13-45" rather than reading a string).
_NUMBER_LIKE = re.compile(
    r"""[-+]?(?:
        0b[0-1_]+ | 0o?[0-7_]+ | [0-9_]+ | 0x[0-9a-fA-F_]+
      | (?:[0-9][0-9_]*(?:\.[0-9_]*)? | \.[0-9_]+)(?:[eE][-+]?[0-9]+)?
      | [0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
      | \.(?:inf|nan)
    )
    | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}
      (?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?
         (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
# go-yaml's numbers, applied to the string with every "_" removed (as go-yaml does):
# strconv.ParseInt/ParseUint with base prefixes, "0b" with a sign, and its float pattern
# (a float that overflows to infinity stays a string).
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)|-?0b[-+]?[01]+")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NUMBER_FIRST: Final = frozenset("-+.0123456789")
# Where plain style is impossible in block context (libyaml's analysis, minus the characters
# that _SPECIAL and "\n" already route elsewhere).
_PLAIN_UNSAFE = re.compile(
    r"""^(?:[-?:](?:\ |$)|[\#,\[\]{}&*!|>'"%@`\ ]|---|\.\.\.)|:\ |:$|\ \#|\ $"""
)


def _is_non_string(s: str) -> bool:
    """Whether some YAML 1.1, YAML 1.2 or go-yaml loader would read plain `s` as non-string."""
    if s.lower() in _NON_STRING_WORDS:
        return True
    if s[0] not in _NUMBER_FIRST:
        return False
    if _NUMBER_LIKE.fullmatch(s):
        return True
    if s[0] == ".":
        return False
    plain = s.replace("_", "")
    if _GO_INT.fullmatch(plain) is not None:
        return True
    return _GO_FLOAT.fullmatch(plain) is not None and float(plain) != float("inf")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"string has a lone surrogate U+{code:04X}: not valid Unicode text")
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


_ANY_CHAR = re.compile(".", re.DOTALL)


def _double_quoted(s: str) -> str:
    if s[:1] == "\ufeff":  # go-yaml escapes every character of a string that starts with a BOM
        return '"' + _ANY_CHAR.sub(_escape, s) + '"'
    return '"' + _DQ_ESCAPE.sub(_escape, s) + '"'


def _literal(s: str) -> _Block:
    if s[-1] != "\n":
        chomp = "-"
    elif len(s) == 1 or s[-2] == "\n":
        chomp = "+"
    else:
        chomp = ""
    header = ("|2" if s[0] in " \n" else "|") + chomp
    return header, tuple((s[:-1] if s[-1] == "\n" else s).split("\n"))


def _render(s: str) -> _Rendered:
    """The style-chosen text of `s`: one line, or a literal block to indent."""
    if _SPECIAL.search(s) is not None:
        return _double_quoted(s)
    if "\n" in s:
        if s[-1] == " " or " \n" in s:
            return _double_quoted(s)
        return _literal(s)
    if _is_non_string(s):
        return _double_quoted(s)
    if _PLAIN_UNSAFE.search(s) is not None:
        return "'" + s.replace("'", "''") + "'"
    return s


_STR_CACHE: dict[str, _Rendered] = {}


def _render_cached(s: str) -> _Rendered:
    if type(s) is not str:  # a str subclass: render its plain value, don't cache the object
        return _render(str.__str__(s))
    r = _render(s)
    if len(s) <= _CACHE_STR_MAX:
        if len(_STR_CACHE) >= _CACHE_MAX:
            _STR_CACHE.clear()
        _STR_CACHE[s] = r
    return r


def _fold(text: str, column: int, cont: str) -> str:
    """Break a one-line scalar at spaces past column 80, as go-yaml does.

    `text` starts at `column`; continuation lines start with `cont`. A space is a break point
    when the character before it is not a space and (except in double quotes, where a
    following space is kept with a `\\` escape) neither is the one after it; quoted scalars
    never break at their first or last character.
    """
    quote = text[0]
    double = quote == '"'
    n = len(text)
    lo, hi = (2, n - 2) if quote in "'\"" else (1, n - 1)
    parts: list[str] = []
    start = 0
    lead = ""
    base = column
    j = text.find(" ", lo)
    while 0 <= j < hi:
        if text[j - 1] != " " and base + j - start > _WIDTH:
            next_space = text[j + 1] == " "
            if double or not next_space:
                parts.append(lead + text[start:j])
                start = j + 1
                lead = cont + "\\" if next_space else cont
                base = len(lead)
        j = text.find(" ", j + 1)
    if not parts:
        return text
    parts.append(lead + text[start:])
    return "\n".join(parts)


def _float_text(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = float.__repr__(value)
    if "e" in text:  # PyYAML's YAML 1.1 resolver needs a "." and a signed exponent
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}"
    return text


def _scalar_text(value: Any) -> str | None:
    """Text of a non-string scalar, None for containers and strings; TypeError otherwise."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (str, dict, list)):
        return None
    raise TypeError(f"cannot emit {type(value).__name__} as YAML: {value!r:.60}")


# --- keys ------------------------------------------------------------------------------------

# key -> "rendered:" for a simple key, "" for a key written in the explicit `? key` form.
_KEY_CACHE: dict[str, str] = {}


def _key_text(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be str, not {type(key).__name__}: {key!r:.60}")
    text = str.__str__(key)
    if (
        len(text) > _SIMPLE_KEY_MAX_BYTES // 4
        and len(text.encode("utf-8", "surrogatepass")) > _SIMPLE_KEY_MAX_BYTES
    ) or _BREAKS.search(text) is not None:
        rendered = ""
    else:
        r = _render(text)
        assert isinstance(r, str)  # no line break, so never a block
        rendered = r + ":"
    if len(text) <= _CACHE_STR_MAX:
        if len(_KEY_CACHE) >= _CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[text] = rendered
    return rendered


_INT64: Final = 1 << 64
_INT64_HALF: Final = 1 << 63  # added then subtracted: maps to Go's int64 wrap-around


def _go_key_less(a: str, b: str) -> bool:
    """gopkg.in/yaml.v2's keyList.Less for two strings (kustomize output sorts keys with it)."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdecimal():
            an = (an * 10 + ord(a[ai]) - 48 + _INT64_HALF) % _INT64 - _INT64_HALF  # int64 wraps
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdecimal():
            bn = (bn * 10 + ord(b[bi]) - 48 + _INT64_HALF) % _INT64 - _INT64_HALF
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _go_key_cmp(a: str, b: str) -> int:
    return -1 if _go_key_less(a, b) else 1 if _go_key_less(b, a) else 0


# gopkg.in/yaml.v2's key order, as a sort key (also for the overriders' go-yaml text).
GO_KEY_ORDER: Final = cmp_to_key(_go_key_cmp)
# Keys made only of these characters sort the same by code point as by go-yaml's comparison:
# letters, and ASCII symbols below "A" other than digits.
_CODEPOINT_ORDER_SAFE = re.compile(r"[\x20-\x2f\x3a-\x40A-Za-z]*")
_ORDER_CACHE: dict[tuple[str, ...], list[str]] = {}


def _sorted_keys(mapping: dict[Any, Any]) -> list[str]:
    try:
        keys: list[str] = sorted(mapping)
        if _CODEPOINT_ORDER_SAFE.fullmatch("".join(keys)) is not None:
            return keys
    except TypeError:
        for key in mapping:
            _key_text(key)  # raises for the first non-str key
        raise
    signature = tuple(keys)
    order = _ORDER_CACHE.get(signature)
    if order is None:
        for key in keys:
            _key_text(key)  # non-str keys sorted fine among themselves: reject them here
        order = sorted(keys, key=GO_KEY_ORDER)  # stable: ties keep code-point order
        if len(_ORDER_CACHE) >= _CACHE_MAX // 8:
            _ORDER_CACHE.clear()
        _ORDER_CACHE[signature] = order
    return order


# --- emission --------------------------------------------------------------------------------


def _block_text(block: _Block, cont: str) -> str:
    header, lines = block
    return header + "\n" + "\n".join([cont + line if line else "" for line in lines])


def _emit_node(value: Any, prefix: str, sub: str, out: list[str]) -> None:
    """One node whose first line starts with `prefix` (`- `, `? `, `: `); nested lines at `sub`."""
    if isinstance(value, str):
        r = _STR_CACHE.get(value) or _render_cached(value)
        if isinstance(r, str):
            if len(prefix) + len(r) > _WIDTH + 1 and " " in r:
                r = _fold(r, len(prefix), sub)
            out.append(prefix + r)
        else:
            out.append(prefix + _block_text(r, sub))
    elif isinstance(value, dict):
        if value:
            _emit_map(value, sub, prefix, out)
        else:
            out.append(prefix + "{}")
    elif isinstance(value, list):
        if value:
            _emit_seq(value, sub, prefix, out)
        else:
            out.append(prefix + "[]")
    else:
        out.append(prefix + str(_scalar_text(value)))


def _emit_map(mapping: dict[Any, Any], ind: str, first: str, out: list[str]) -> None:
    """Entries at indentation `ind`, the first line starting with `first` instead."""
    sub = ind + "  "
    lead = first
    str_cache = _STR_CACHE
    key_cache = _KEY_CACHE
    for key in _sorted_keys(mapping):
        value = mapping[key]
        kt = key_cache.get(key)
        if kt is None:
            kt = _key_text(key)
        if not kt:
            _emit_node(key, lead + "? ", sub, out)
            _emit_node(value, ind + ": ", sub, out)
        else:
            t = type(value)
            if t is str:
                r = str_cache.get(value) or _render_cached(value)
                if isinstance(r, str):
                    line = f"{lead}{kt} {r}"
                    if len(line) > _WIDTH + 1 and " " in r:
                        line = f"{lead}{kt} " + _fold(r, len(line) - len(r), sub)
                    out.append(line)
                else:
                    out.append(f"{lead}{kt} " + _block_text(r, sub))
            elif t is dict:
                if value:
                    out.append(lead + kt)
                    _emit_map(value, sub, sub, out)
                else:
                    out.append(lead + kt + " {}")
            elif t is list:
                if value:
                    out.append(lead + kt)
                    _emit_seq(value, ind, ind, out)
                else:
                    out.append(lead + kt + " []")
            elif t is int:
                out.append(f"{lead}{kt} {value}")
            elif t is bool:
                out.append(lead + kt + (" true" if value else " false"))
            elif value is None:
                out.append(lead + kt + " null")
            elif t is float:
                out.append(f"{lead}{kt} {_float_text(value)}")
            elif isinstance(value, dict):  # subclasses: re-enter as the plain type
                _emit_map({key: dict(value)}, ind, lead, out)
            elif isinstance(value, list):
                _emit_map({key: list(value)}, ind, lead, out)
            else:  # str, int and float subclasses; TypeError for anything else
                _emit_node(value, f"{lead}{kt} ", sub, out)
        lead = ind


def _emit_seq(items: list[Any], ind: str, first: str, out: list[str]) -> None:
    """Items `- ` at indentation `ind`, the first line starting with `first` instead."""
    sub = ind + "  "
    lead = first
    str_cache = _STR_CACHE
    for value in items:
        t = type(value)
        if t is dict:
            if value:
                _emit_map(value, sub, lead + "- ", out)
            else:
                out.append(lead + "- {}")
        elif t is str:
            r = str_cache.get(value) or _render_cached(value)
            if isinstance(r, str):
                line = f"{lead}- {r}"
                if len(line) > _WIDTH + 1 and " " in r:
                    line = f"{lead}- " + _fold(r, len(lead) + 2, sub)
                out.append(line)
            else:
                out.append(f"{lead}- " + _block_text(r, sub))
        elif t is int:
            out.append(f"{lead}- {value}")
        else:
            _emit_node(value, lead + "- ", sub, out)
        lead = ind


def _last_leaf(obj: Any) -> tuple[str, int]:
    """The last string written for `obj` and the indentation of its continuation lines."""
    depth = 0
    while True:
        if isinstance(obj, dict):
            obj = obj[_sorted_keys(obj)[-1]]
            if isinstance(obj, dict):
                depth += 2
            elif not isinstance(obj, list):
                return obj, depth + 2
        elif isinstance(obj, list):
            obj = obj[-1]
            if isinstance(obj, (dict, list)):
                depth += 2
            else:
                return obj, depth + 2
        else:
            return obj, 2


def dump_document(obj: Any) -> str:
    """One YAML document (no `---`) for JSON-like `obj`, ending in exactly one newline.

    Accepts dict (str keys), list, str, int, float, bool and None, including subclasses;
    anything else raises TypeError. Output depends only on the data, never on dict order.
    """
    out: list[str] = []
    if isinstance(obj, dict):
        if not obj:
            return "{}\n"
        _emit_map(obj, "", "", out)
    elif isinstance(obj, list):
        if not obj:
            return "[]\n"
        _emit_seq(obj, "", "", out)
    elif isinstance(obj, str):
        r = _render_cached(obj)
        out.append(r if isinstance(r, str) else _block_text(r, "  "))
    else:
        out.append(str(_scalar_text(obj)))
    last = out[-1]
    if last[-1] == "\n":
        # A `|+` block ends the document; its trailing empty lines would leave the text
        # ending in "\n\n". Write that one string double-quoted instead.
        value, cont = _last_leaf(obj)
        head = last.split("\n", 1)[0]
        prefix = head[: head.rfind(" ") + 1]
        text = _double_quoted(str.__str__(value))
        if prefix and len(prefix) + len(text) > _WIDTH + 1 and " " in text:
            text = _fold(text, len(prefix), " " * cont)
        out[-1] = prefix + text
    out.append("")
    return "\n".join(out)


def dump_stream(objs: Iterable[Any]) -> str:
    """Documents from `objs`, each after the first preceded by a `---` line (kubectl style)."""
    return "---\n".join([dump_document(obj) for obj in objs])
