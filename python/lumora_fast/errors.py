"""Exceptions raised by lumora_fast.

The tree is small on purpose::

    ValueError
     └── ProtocolError        bad input: invalid JSON, a message that fails validation,
                              a value that is not JSON, a schema the checksum cannot take

Both backends (the native core and :mod:`lumora_fast.pure`) raise this one class, so
``except ProtocolError`` works the same everywhere. Wrong argument *types* passed by the
caller (a programming error, not bad peer input) raise :class:`TypeError`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .constants import ProtocolErrorCode

__all__ = ["ProtocolError"]


class ProtocolError(ValueError):
    """Bad protocol input.

    Attributes:
        errors: The individual problems found, in the order they were found (for a
            validation failure, the reference implementation's error strings).
        code: The :class:`ProtocolErrorCode` this maps to on the wire, when one fits.
    """

    errors: list[str]
    code: ProtocolErrorCode | None

    def __init__(
        self,
        message: str,
        errors: Iterable[str] | None = None,
        code: ProtocolErrorCode | str | None = ProtocolErrorCode.INVALID_MESSAGE,
    ) -> None:
        super().__init__(message)
        self.errors = list(errors) if errors is not None else [message]
        self.code = ProtocolErrorCode(code) if code is not None else None

    def __reduce__(self) -> tuple[type[ProtocolError], tuple[str, list[str], str | None]]:
        return (type(self), (str(self), self.errors, self.code.value if self.code else None))
