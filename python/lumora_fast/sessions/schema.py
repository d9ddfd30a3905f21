"""Reading a schema from JSON text, refusing anything that is not a usable schema.

Schema files are parsed by the same parser as messages (the core's ``loads``:
``JSON.parse``'s grammar, ``json.loads``'s values), with the same limits: at most
:data:`~lumora_fast.constants.MAX_MESSAGE_BYTES` and nesting at most
:data:`~lumora_fast.constants.MAX_DEPTH` deep. Whatever the file holds, the result is a
schema or a :class:`~lumora_fast.errors.ProtocolError`, never another exception.
"""

from __future__ import annotations

import gc
from typing import Any

from lumora_fast import _backend
from lumora_fast.constants import MAX_MESSAGE_BYTES, ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema

__all__ = ["parse_json", "parse_schema"]


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text (UTF-8 bytes or ``str``) as ``JSON.parse`` would.

    The garbage collector is paused while the values are built: a parsed document has
    no reference cycles, and collecting during a 10 MB parse would cost several times
    the parse itself.

    Raises:
        ProtocolError: Invalid UTF-8 or JSON (``NaN`` / ``Infinity`` included), larger
            than ``MAX_MESSAGE_BYTES``, or nested deeper than ``MAX_DEPTH``; with code
            ``SCHEMA_VALIDATION_FAILED``.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _backend.core.loads(data, MAX_MESSAGE_BYTES)
    except ProtocolError as exc:
        raise ProtocolError(
            _describe(str(exc)), code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        ) from None
    finally:
        if paused:
            gc.enable()


def _describe(problem: str) -> str:
    if problem.startswith("invalid JSON: "):
        return "not valid JSON: " + problem.removeprefix("invalid JSON: ")
    if problem.startswith("invalid UTF-8"):
        return "not UTF-8 text: " + problem
    if problem.startswith("message is "):
        return "the file is " + problem.removeprefix("message is ")
    return problem


def parse_schema(data: bytes | str) -> Schema:
    """Parse a Lumora IR schema file's content and check its shape.

    A schema must be a JSON object with a ``metadata`` object (the checksum needs it) and
    a ``nodes`` array of objects (the delta needs it). Anything else, including a file
    caught half-written, is refused.

    Args:
        data: The file's bytes (UTF-8) or text.

    Returns:
        The schema as a plain dict.

    Raises:
        ProtocolError: Invalid UTF-8 or JSON, or not a schema (code
            ``SCHEMA_VALIDATION_FAILED``).
    """
    value = parse_json(data)
    problem = _shape_problem(value)
    if problem is not None:
        raise ProtocolError(
            f"not a Lumora schema: {problem}", code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        )
    schema: Schema = value
    return schema


def _shape_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"the top level is a JSON {_json_type(value)}, not an object"
    if not isinstance(value.get("metadata"), dict):
        return "'metadata' must be an object"
    nodes = value.get("nodes")
    if not isinstance(nodes, list):
        return "'nodes' must be an array"
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            return f"nodes[{index}] is a JSON {_json_type(node)}, not an object"
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
