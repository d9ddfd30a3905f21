"""Linux inotify read on the event loop itself: a save wakes the watcher with no thread hop.

``watchdog`` delivers an event through three threads (the inotify reader, its emitter and
the observer's dispatcher), each a GIL hand-off: ~1.5 ms from a rename to the callback
on an idle 2-core machine, and more while the loop is parsing, since those threads then
compete with it for the GIL. An inotify descriptor is an ordinary file descriptor, so on
Linux the watcher registers it with the event loop (``add_reader``) and reads the events
in the loop's own thread. Other systems keep ``watchdog``.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["DirectoryWatch", "available"]

_IN_MODIFY = 0x002
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000

_MASK = (
    _IN_MODIFY
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
"""What can change the file's content (or the directory's existence). Opening and
reading the file, which the watcher itself does, are not among them."""
_ALWAYS = _IN_Q_OVERFLOW | _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF
"""Events that wake the watcher whatever they name: lost events, or the directory gone."""
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then name


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def available() -> bool:
    """True where inotify can be used (Linux with a C library that has it)."""
    return _LIBC is not None


class DirectoryWatch:
    """Calls ``wake`` (in the loop's thread) when an entry called ``name`` in
    ``directory`` may have changed, or when events were lost.

    Raises:
        OSError: inotify is unavailable, or the directory cannot be watched (it does not
            exist, or the per-user limit of watches is reached).
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        wake: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if _LIBC is None:
            raise OSError("inotify is not available")
        self._name = os.fsencode(name)
        self._wake = wake
        self._loop = loop
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"inotify_init1: {os.strerror(error)}")
        self._fd: int | None = fd
        if _LIBC.inotify_add_watch(fd, os.fsencode(directory), _MASK) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            self._fd = None
            raise OSError(error, os.strerror(error), str(directory))
        loop.add_reader(fd, self._readable)

    def close(self) -> None:
        """Stop watching (idempotent); the descriptor is closed."""
        fd, self._fd = self._fd, None
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    def _readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, 64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # Nothing more will come from this descriptor: wake the watcher, whose read
            # reports what is wrong with the file, and stop listening.
            self.close()
            self._wake()
            return
        offset, size = 0, len(data)
        while offset + _HEADER.size <= size:
            _, mask, _, length = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            offset = start + length
            if mask & _ALWAYS or data[start:offset].rstrip(b"\0") == self._name:
                self._wake()
                return
