"""The package version: Cargo.toml's ``version``, compiled into the native module.

It is read from ``lumora_fast._core`` (``env!("CARGO_PKG_VERSION")``), the same number
maturin gives the wheel, so importing the package never loads ``importlib.metadata``
(tens of milliseconds). Only where the native module cannot be imported at all (a
pure-Python run without it) is the installed distribution's metadata asked instead.
"""

from __future__ import annotations

__all__ = ["__version__"]


def _read() -> str:
    try:
        from ._core import __version__ as native  # noqa: PLC0415 - may be absent
    except ImportError:  # pragma: no cover - only without a native module
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("lumora-fast")
        except PackageNotFoundError:
            return "0+unknown"  # an uninstalled tree
    return native


__version__ = _read()
