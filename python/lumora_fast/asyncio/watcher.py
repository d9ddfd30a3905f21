"""Watch a schema file and yield each new valid version of it, as soon as it is saved.

The file is read on the first filesystem event, with no quiet period: the operating
system's own notifications wake the watcher, so an idle watcher uses no CPU and a save
is seen within a fraction of a millisecond. On Linux the inotify descriptor is read by
the event loop itself (:mod:`._inotify`: no thread between the save and the read);
elsewhere ``watchdog`` delivers FSEvents (macOS) or ReadDirectoryChangesW (Windows).
Events that arrive while the file is being read and parsed coalesce into one more read:
a burst of saves yields the versions the watcher got to, and always the final one.

A file caught half-written fails to parse; the watcher waits for the next event. Only a
file still invalid once writes have stopped for ``settle_ms`` is reported, as an
:class:`~lumora_fast.sessions.events.ErrorEvent` (once per invalid content), so an
ordinary save never flashes an error. Invalid content is never yielded as a schema, and
saving identical content yields nothing.

The parent directory is watched rather than the file itself, so editors that save by
writing a temporary file and renaming it over the original keep working, and so does
deleting the file and creating it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeAlias

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from lumora_fast.constants import ProtocolErrorCode
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema
from lumora_fast.sessions.events import ErrorEvent
from lumora_fast.sessions.schema import parse_document, parse_schema

from . import _inotify

if TYPE_CHECKING:
    from lumora_fast._core import SchemaDocument

__all__ = ["SETTLE_MS", "SchemaWatcher", "read_schema", "watch_schema"]

SETTLE_MS = 250
"""How long an invalid file must stay unchanged before it is reported."""

# The events that can change the file's content. Opening and reading it (which the
# watcher itself does) are not among them, so its own reads wake nothing.
_EVENTS = [FileModifiedEvent, FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileMovedEvent]

Notifier: TypeAlias = Literal["auto", "inotify", "watchdog"]


def read_schema(path: str | Path) -> Schema:
    """Read and check a schema file.

    Raises:
        OSError: The file cannot be read.
        ProtocolError: It is not a valid schema (see
            :func:`~lumora_fast.sessions.schema.parse_schema`).
    """
    return parse_schema(Path(path).read_bytes())


class _Handler(FileSystemEventHandler):
    """Runs in the observer's thread: wakes the watcher when the file may have changed."""

    def __init__(self, target: str, wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        self.target = os.path.normcase(target)
        self.wake = wake
        self.loop = loop

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = (event.src_path, getattr(event, "dest_path", ""))
        if event.is_directory or not any(
            path and os.path.normcase(os.fsdecode(path)) == self.target for path in paths
        ):
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(self.wake.set)


class SchemaWatcher:
    """Watches one schema file; iterate over it for each new valid version.

    Use ``async with SchemaWatcher(path) as watcher: async for item in watcher: ...``.
    Watching starts in :meth:`start` (called by ``async with``), so a save made right
    after it returns is seen.

    Args:
        path: The schema JSON file.
        settle_ms: How long invalid content must stay unchanged before it is reported.
        initial: The content already loaded, so that saving it again yields nothing.
        freeze: Parse with ``freeze=True`` (see
            :func:`~lumora_fast.sessions.schema.parse_json`): for a program that holds
            each schema dict for long, so that the garbage collector does not walk it.
            Ignored with ``documents``.
        documents: Yield :class:`~lumora_fast.SchemaDocument` objects (parsed by
            :func:`~lumora_fast.sessions.schema.parse_document`) instead of dicts:
            what a server wants, since it keeps documents (no Python object per
            value). The same content is valid or invalid either way.
        notifier: Where events come from: ``"inotify"`` read on the event loop (Linux),
            ``"watchdog"`` (its observer threads; every system), or ``"auto"``: inotify
            where available.

    Yields:
        A schema (a new valid version), or an :class:`ErrorEvent` saying why the current
        content was not used.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        settle_ms: float = SETTLE_MS,
        initial: bytes | None = None,
        freeze: bool = False,
        notifier: Notifier = "auto",
        documents: bool = False,
    ) -> None:
        if settle_ms < 0:
            raise ValueError("settle_ms must be >= 0")
        if notifier not in ("auto", "inotify", "watchdog"):
            raise ValueError(f"unknown notifier {notifier!r}")
        if notifier == "inotify" and not _inotify.available():
            raise ValueError("inotify is not available on this system")
        self.notifier: Notifier = notifier
        self.path = Path(path).resolve()
        self.settle_ms = settle_ms
        self.freeze = freeze
        self.documents = documents
        self._last = initial
        # The last document parsed: the next parse copies what it built for the text that
        # did not change (see SchemaDocument.parse's ``previous``).
        self._document: SchemaDocument | None = None
        self._reported: bytes | object | None = None  # content (or _UNREADABLE) reported
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._observer: BaseObserver | None = None
        self._inotify: _inotify.DirectoryWatch | None = None

    def start(self) -> SchemaWatcher:
        """Start watching (idempotent).

        Raises:
            OSError: The file's directory cannot be watched (it does not exist, say).
        """
        if self._observer is not None or self._inotify is not None:
            return self
        loop = asyncio.get_running_loop()
        if self.notifier == "inotify" or (self.notifier == "auto" and _inotify.available()):
            self._inotify = _inotify.DirectoryWatch(
                self.path.parent, self.path.name, self._wake.set, loop
            )
        else:
            handler = _Handler(str(self.path), self._wake, loop)
            observer = Observer()
            observer.schedule(handler, str(self.path.parent), recursive=False, event_filter=_EVENTS)
            observer.daemon = True
            observer.start()
            self._observer = observer
        return self

    def stop(self) -> None:
        """End a running iteration (the events it waits for stop in :meth:`close`)."""
        self._stopped.set()

    async def close(self) -> None:
        """Stop watching; a running iteration ends."""
        self._stopped.set()
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 5.0)

    async def __aenter__(self) -> SchemaWatcher:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def __aiter__(self) -> AsyncIterator[Schema | SchemaDocument | ErrorEvent]:
        self.start()
        loop = asyncio.get_running_loop()
        stopped = asyncio.ensure_future(self._stopped.wait())
        pending: _Invalid | None = None  # the current content is unusable, not yet reported
        settle_at = 0.0
        try:
            while not self._stopped.is_set():
                if not self._wake.is_set():
                    timeout = None if pending is None else max(0.0, settle_at - loop.time())
                    woken = asyncio.ensure_future(self._wake.wait())
                    done, _ = await asyncio.wait(
                        {woken, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                    )
                    woken.cancel()
                    if stopped in done:
                        return
                    if not done:  # quiet for settle_ms and still invalid: report it
                        assert pending is not None
                        self._reported = _UNREADABLE if pending.data is None else pending.data
                        yield ErrorEvent(
                            message=f"{self.path}: {pending.problem}",
                            code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
                        )
                        pending = None
                        continue
                self._wake.clear()
                outcome = self._read()
                if isinstance(outcome, _Invalid):
                    pending = outcome
                    settle_at = loop.time() + self.settle_ms / 1000.0
                    continue
                pending = None
                if outcome is not None:
                    yield outcome
        finally:
            stopped.cancel()

    def _read(self) -> Schema | SchemaDocument | _Invalid | None:
        """The new schema, why the content is unusable, or ``None`` (nothing new)."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            if self._reported is _UNREADABLE:
                return None
            return _Invalid(f"cannot read it ({exc.strerror or exc}); waiting for a change")
        if data == self._last:
            self._reported = None  # back to what devices have: nothing to push or report
            return None
        if data == self._reported:
            return None
        schema: Schema | SchemaDocument
        try:
            if self.documents:
                schema = self._document = parse_document(data, previous=self._document)
            else:
                schema = parse_schema(data, freeze=self.freeze)
        except ProtocolError as exc:
            return _Invalid(f"{exc}; not pushed, waiting for the next change", data)
        self._last = data
        self._reported = None
        return schema


_UNREADABLE = object()
"""``_reported`` when what was reported is that the file could not be read."""


@dataclass(frozen=True)
class _Invalid:
    problem: str
    data: bytes | None = None
    """The unusable content (``None``: the file could not be read)."""


async def watch_schema(
    path: str | Path,
    *,
    settle_ms: float = SETTLE_MS,
    stop_event: asyncio.Event | None = None,
    initial: bytes | None = None,
    freeze: bool = False,
    documents: bool = False,
) -> AsyncIterator[Schema | SchemaDocument | ErrorEvent]:
    """Yield the schema in ``path`` each time it is saved as a new valid one.

    A convenience over :class:`SchemaWatcher` (see it for the arguments); watching
    starts at the first ``__anext__``.

    Args:
        path: The schema JSON file.
        settle_ms: How long invalid content must stay unchanged before it is reported.
        stop_event: Set it to end the iteration.
        initial: The content already loaded, so that saving it again yields nothing.
        freeze: See :class:`SchemaWatcher`.
        documents: See :class:`SchemaWatcher`.
    """
    async with SchemaWatcher(
        path, settle_ms=settle_ms, initial=initial, freeze=freeze, documents=documents
    ) as w:
        stopper = None
        if stop_event is not None:
            stopper = asyncio.ensure_future(_stop_when(stop_event, w))
        try:
            async for item in w:
                yield item
        finally:
            if stopper is not None:
                stopper.cancel()


async def _stop_when(event: asyncio.Event, watcher: SchemaWatcher) -> None:
    await event.wait()
    watcher.stop()
