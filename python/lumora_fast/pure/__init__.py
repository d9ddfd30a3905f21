"""Pure-Python twin of the native core ``lumora_fast._core``.

Same names, same behaviour, same errors (see ``lumora_fast/_core.pyi``). It is the
differential-testing oracle, the benchmark baseline, and the fallback selected by
``LUMORA_FAST_PURE=1``. It is not tuned for speed.
"""

from __future__ import annotations

from .._version import __version__

__all__ = [
    "MAX_DEPTH",
    "__version__",
    "apply_schema_delta",
    "calculate_checksum",
    "calculate_schema_delta",
    "canonical_json",
    "dumps",
    "loads",
    "validate_message",
    "validate_protocol_version",
    "validate_session_id",
]
