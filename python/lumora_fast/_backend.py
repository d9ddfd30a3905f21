"""Selects the backend: the native core ``lumora_fast._core`` or ``lumora_fast.pure``.

This is the only module that imports ``_core``. ``LUMORA_FAST_PURE=1`` forces the
pure-Python implementation; otherwise a native module that cannot be imported is an
``ImportError`` that says what to do, never a silent slowdown. Importing this module
costs little more than loading ``_core``: ``lumora_fast`` imports it eagerly.
"""

from __future__ import annotations

import os

# ``typing`` and ``types`` cost more to import than everything else this module does;
# type checkers treat any name ``TYPE_CHECKING`` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["BACKEND", "core"]

_ENV = "LUMORA_FAST_PURE"


def _load() -> tuple[str, ModuleType]:
    if os.environ.get(_ENV, "") not in ("", "0"):
        from . import pure  # noqa: PLC0415 - imported only when selected

        return "pure", pure
    try:
        from . import _core  # noqa: PLC0415 - imported only when selected
    except ImportError as exc:
        raise ImportError(
            "lumora_fast could not import its native extension lumora_fast._core "
            f"({exc}). Install a wheel built for this platform (or build one with "
            "`pip install .` from a source checkout), or set LUMORA_FAST_PURE=1 to use "
            "the much slower pure-Python implementation."
        ) from exc
    return "native", _core


if TYPE_CHECKING:
    # Both backends have the API of the stubs, so type-check callers against them.
    from . import _core as core

    BACKEND: str
else:
    BACKEND, core = _load()
    """``"native"`` or ``"pure"``, and the module implementing it."""
