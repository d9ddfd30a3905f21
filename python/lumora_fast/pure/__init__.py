"""Pure-Python twin of the native core ``lumora_fast._core``.

Same names, same behaviour, same errors (see ``lumora_fast/_core.pyi``). It is the
differential-testing oracle, the benchmark baseline, and the fallback selected by
``LUMORA_FAST_PURE=1``. It is not tuned for speed.
"""

from __future__ import annotations

from lumora_fast._version import __version__
from lumora_fast.constants import MAX_DEPTH

from .canonical import canonical_json, dumps
from .checksum import calculate_checksum
from .delta import apply_schema_delta, calculate_schema_delta
from .document import SchemaDocument
from .parse import loads
from .patch import apply_schema_patch, calculate_schema_patch
from .shape import schema_problem
from .tracker import SchemaTracker
from .validate import validate_message, validate_protocol_version, validate_session_id

__all__ = [
    "MAX_DEPTH",
    "SchemaDocument",
    "SchemaTracker",
    "__version__",
    "apply_schema_delta",
    "apply_schema_patch",
    "calculate_checksum",
    "calculate_schema_delta",
    "calculate_schema_patch",
    "canonical_json",
    "dumps",
    "loads",
    "schema_problem",
    "validate_message",
    "validate_protocol_version",
    "validate_session_id",
]
