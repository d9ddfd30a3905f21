"""Watch a schema file and yield each new valid version of it.

Changes are debounced: the file is read once it has been quiet for ``debounce_ms``
(100 ms by default), so a burst of writes yields only the final content (latest wins).
A file that is half-written, is not JSON or is not a schema is never yielded as a
schema: an :class:`~lumora_fast.sessions.events.ErrorEvent` is yielded instead and the
watcher waits for the next change. Saving identical content yields nothing.

The parent directory is watched rather than the file itself, so editors that save by
writing a temporary file and renaming it over the original keep working.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import Change, awatch

from lumora_fast.constants import ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema
from lumora_fast.sessions.events import ErrorEvent
from lumora_fast.sessions.schema import parse_schema

__all__ = ["DEBOUNCE_MS", "read_schema", "watch_schema"]

DEBOUNCE_MS = 100


def read_schema(path: str | Path) -> Schema:
    """Read and check a schema file.

    Raises:
        OSError: The file cannot be read.
        ProtocolError: It is not a valid schema (see
            :func:`~lumora_fast.sessions.schema.parse_schema`).
    """
    return parse_schema(Path(path).read_bytes())


async def watch_schema(
    path: str | Path,
    *,
    debounce_ms: int = DEBOUNCE_MS,
    stop_event: asyncio.Event | None = None,
    initial: bytes | None = None,
) -> AsyncIterator[Schema | ErrorEvent]:
    """Yield the schema in ``path`` each time it changes to a new valid one.

    Args:
        path: The schema JSON file.
        debounce_ms: Quiet time after the last change before the file is read.
        stop_event: Set it to end the iteration.
        initial: The content already loaded, so that re-saving it yields nothing.

    Yields:
        A schema (a new valid version), or an :class:`ErrorEvent` saying why the current
        content was not used.
    """
    target = Path(path).resolve()
    last = initial

    def mine(change: Change, changed: str) -> bool:
        return Path(changed) == target

    async for _ in awatch(
        target.parent,
        watch_filter=mine,
        step=debounce_ms,
        stop_event=stop_event,
        recursive=False,
    ):
        try:
            data = target.read_bytes()
        except OSError as exc:
            yield ErrorEvent(
                message=f"{target}: cannot read it ({exc.strerror or exc}); waiting for a change",
                code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
            )
            continue
        if data == last:
            continue
        try:
            schema = parse_schema(data)
        except ProtocolError as exc:
            yield ErrorEvent(
                message=f"{target}: {exc}; not pushed, waiting for the next change",
                code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
            )
            continue
        last = data
        yield schema
