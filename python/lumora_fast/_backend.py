"""Selects the backend: the native core ``lumora_fast._core`` or ``lumora_fast.pure``.

This is the only module that imports ``_core``. ``LUMORA_FAST_PURE=1`` forces the
pure-Python implementation; otherwise a missing or mismatched native module is an
``ImportError`` that says what to do, never a silent slowdown.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

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
    from ._version import __version__  # noqa: PLC0415

    if _core.__version__ != __version__:
        raise ImportError(
            f"lumora_fast._core is version {_core.__version__} but the Python package "
            f"is {__version__}: a stale build is on the path. Rebuild the extension "
            "(`pip install .` or `maturin develop`)."
        )
    return "native", _core


if TYPE_CHECKING:
    # Both backends have the API of the stubs, so type-check callers against them.
    from . import _core as core

    BACKEND: str
else:
    BACKEND, core = _load()
    """``"native"`` or ``"pure"``, and the module implementing it."""
