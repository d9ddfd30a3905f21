"""Reading a schema from JSON text, refusing anything that is not a usable schema.

Schema files are parsed by the same parser as messages (the core's ``loads``:
``JSON.parse``'s grammar, ``json.loads``'s values) and the same nesting limit
(:data:`~lumora_fast.constants.MAX_DEPTH`). A file may be up to :data:`MAX_FILE_BYTES`
(4 x :data:`~lumora_fast.constants.MAX_MESSAGE_BYTES`): it may be indented, and the
update it becomes is written compactly, whose own limit the server checks. Whatever the
file holds, the result is a schema or a :class:`~lumora_fast.errors.ProtocolError`,
never another exception.
"""

from __future__ import annotations

import gc
from typing import Any

from lumora_fast import _backend
from lumora_fast.constants import MAX_MESSAGE_BYTES, ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema

__all__ = ["MAX_FILE_BYTES", "parse_json", "parse_schema"]

MAX_FILE_BYTES = 4 * MAX_MESSAGE_BYTES
"""Largest schema file read (40 MiB): room for indentation around a schema whose
compact update stays within ``MAX_MESSAGE_BYTES``."""


def parse_json(data: bytes | str, *, freeze: bool = False) -> Any:
    """Parse JSON text (UTF-8 bytes or ``str``) as ``JSON.parse`` would.

    The garbage collector is paused while the values are built: a parsed document has
    no reference cycles, and collecting during a 10 MB parse would cost several times
    the parse itself.

    Args:
        data: The text.
        freeze: Also move the new values out of the collector's reach
            (:func:`gc.freeze`) before it resumes, for a server that holds a schema for
            long: otherwise the first collections after the parse walk every value
            (hundreds of ms for a 10 MB schema), and every full collection after that
            walks them again. The values are still freed as usual once unreferenced.
            Everything else alive at that moment is frozen too, so the young
            generations are collected first; an object frozen while alive that later
            becomes part of a reference cycle is not reclaimed.

    Raises:
        ProtocolError: Invalid UTF-8 or JSON (``NaN`` / ``Infinity`` included), larger
            than :data:`MAX_FILE_BYTES`, or nested deeper than ``MAX_DEPTH``; with code
            ``SCHEMA_VALIDATION_FAILED``.
    """
    paused = gc.isenabled()
    if freeze and paused:
        gc.collect(1)
    gc.disable()
    try:
        value = _backend.core.loads(data, MAX_FILE_BYTES)
        if freeze:
            gc.freeze()
        return value
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


def parse_schema(data: bytes | str, *, freeze: bool = False) -> Schema:
    """Parse a Lumora IR schema file's content and check its shape.

    A schema must be a JSON object with a ``metadata`` object (the checksum needs it) and
    a ``nodes`` array of objects (the delta needs it). Anything else, including a file
    caught half-written, is refused.

    Args:
        data: The file's bytes (UTF-8) or text.
        freeze: Keep the collector from walking the schema (see :func:`parse_json`).

    Returns:
        The schema as a plain dict.

    Raises:
        ProtocolError: Invalid UTF-8 or JSON, or not a schema (code
            ``SCHEMA_VALIDATION_FAILED``).
    """
    value = parse_json(data, freeze=freeze)
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
