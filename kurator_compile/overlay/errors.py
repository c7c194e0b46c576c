"""The one error every overlay operation raises, carrying where in the patch it went wrong."""

from __future__ import annotations

from ..errors import Diagnostic, SourceLocation


class PatchError(Exception):
    """A patch, selector or overrider that cannot be applied.

    `pointer` is a JSON pointer into the object being patched (or into the patch, for a patch
    that cannot be read) and `op_index` the 0-based index of the failing JSON patch operation,
    when there is one; callers map both to a source position with `Document.locate`.
    """

    def __init__(self, message: str, pointer: str = "", op_index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.op_index = op_index

    def __str__(self) -> str:
        where = f" (at {self.pointer})" if self.pointer else ""
        op = f" in operation {self.op_index}" if self.op_index is not None else ""
        return f"{self.message}{op}{where}"

    def diagnostic(self, location: SourceLocation | None = None) -> Diagnostic:
        """This error as a project diagnostic, positioned at `location` if the caller has one."""
        return Diagnostic.error(str(self), location)
