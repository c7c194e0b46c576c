"""Patch-target patterns read and matched as kustomize reads them: with RE2.

kustomize compiles each target field as Go's `regexp.Compile("^(?:" + pattern + ")$")`, and
Go's regexp is RE2: its syntax (POSIX classes such as `[[:alpha:]]`, `a{,3}` as a literal, `$`
only at the very end), its refusals (backreferences, lookaround, possessive quantifiers,
repetition counts above 1000) and its linear-time matching, so no pattern can hang a build.
The RE2 library itself (the `google-re2` binding) does the work; its parse errors are RE2's
own words, which are Go's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

__all__ = ["Matcher", "PatternError", "compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported as PatternError, not on stderr


class PatternError(ValueError):
    """A pattern RE2 refuses; the message is RE2's, without the pattern repeated."""


@dataclass(frozen=True)
class Matcher:
    """A compiled, anchored pattern."""

    compiled: Any  # re2._Regexp: the binding ships no type information
    # Answers by text: a patch target is asked about the same few kinds and names for every
    # cluster, and a call into RE2 costs as much as a hundred dictionary lookups.
    _answers: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def fullmatch(self, text: str) -> bool:
        answer = self._answers.get(text)
        if answer is None:
            answer = self._answers[text] = self.compiled.search(text) is not None
        return answer


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Matcher:
    """`pattern` as kustomize anchors it, ready to match; PatternError when RE2 refuses it."""
    try:
        compiled = re2.compile(f"^(?:{pattern})$", _OPTIONS)
    except re2.error as error:
        raise PatternError(_message(error)) from None
    return Matcher(compiled)


def _message(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"RE2 (kustomize's regular expressions) refuses it: {text}"
