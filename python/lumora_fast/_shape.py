"""Whether a parsed JSON value is a usable Lumora schema.

Shared by :mod:`lumora_fast.sessions.schema` (dicts) and ``lumora_fast.pure`` (its
``schema_problem`` on documents); the native core's ``schema_problem`` gives the same
texts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["value_problem"]


def value_problem(value: Any) -> str | None:
    """Why a parsed JSON value is not a usable Lumora schema, or ``None``.

    A schema is a JSON object with a ``metadata`` object (the checksum needs it) and a
    ``nodes`` array of objects (the delta needs it).
    """
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
