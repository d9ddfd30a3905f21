"""Reading a schema from JSON text, refusing anything that is not a usable schema."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from lumora_fast.constants import ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema

__all__ = ["parse_json", "parse_schema"]


def _reject_constant(name: str) -> NoReturn:
    # JSON.parse has no NaN / Infinity literals; json.loads would accept them.
    raise ValueError(f"invalid literal {name}")


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text (UTF-8 bytes or ``str``) as ``JSON.parse`` would.

    Raises:
        ProtocolError: Invalid UTF-8 or JSON (``NaN`` / ``Infinity`` included), with code
            ``SCHEMA_VALIDATION_FAILED``.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"not UTF-8 text: {exc}", code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        ) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ProtocolError(
            f"not valid JSON: {exc}", code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        ) from None


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
