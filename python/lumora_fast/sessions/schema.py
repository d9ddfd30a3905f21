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
from lumora_fast._shape import value_problem
from lumora_fast.constants import MAX_MESSAGE_BYTES, ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lumora_fast._core import SchemaDocument

__all__ = ["MAX_FILE_BYTES", "parse_document", "parse_json", "parse_schema"]

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


def parse_document(data: bytes | str, *, previous: SchemaDocument | None = None) -> SchemaDocument:
    """Parse a Lumora IR schema file's content into a :class:`~lumora_fast.SchemaDocument`.

    What a server does with every save: the document is owned by the native core (no
    Python object per value, nothing for the garbage collector to walk), and the
    checksum, delta, patch and serialization read it in place. Same checks and errors
    as :func:`parse_schema`.

    Args:
        data: The file's bytes (UTF-8) or text.
        previous: The document of the file's previous version, if there is one: what was
            built for the array items whose text did not change is copied instead of
            parsed (the same document results, in a fraction of the time for a small
            edit of a large file).

    Raises:
        ProtocolError: Invalid UTF-8 or JSON, larger than :data:`MAX_FILE_BYTES`, nested
            deeper than ``MAX_DEPTH``, or not a schema (code
            ``SCHEMA_VALIDATION_FAILED``).
    """
    core = _backend.core
    try:
        document = core.SchemaDocument.parse(data, MAX_FILE_BYTES, previous=previous)
    except ProtocolError as exc:
        raise ProtocolError(
            _describe(str(exc)), code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        ) from None
    problem = core.schema_problem(document)
    if problem is not None:
        raise ProtocolError(
            f"not a Lumora schema: {problem}", code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        )
    return document


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
    problem = value_problem(value)
    if problem is not None:
        raise ProtocolError(
            f"not a Lumora schema: {problem}", code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED
        )
    schema: Schema = value
    return schema
