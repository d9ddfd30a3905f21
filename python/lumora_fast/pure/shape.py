"""``schema_problem``: whether a document is a usable Lumora schema (the native core's texts)."""

from __future__ import annotations

from typing import Any

from lumora_fast._shape import value_problem

__all__ = ["schema_problem"]


def schema_problem(document: Any, /) -> str | None:
    """Why a ``SchemaDocument`` is not a usable Lumora schema, or ``None``.

    Raises:
        TypeError: ``document`` is not a ``SchemaDocument``.
    """
    from .document import SchemaDocument  # noqa: PLC0415 - the module imports this one's users

    if not isinstance(document, SchemaDocument):
        raise TypeError(
            f"schema_problem() argument must be a SchemaDocument, not {type(document).__name__}"
        )
    return value_problem(document.to_python())
