"""The recent updates of one session, as patch frames, so a device can resume.

A device that reconnects says which update it applied last and the checksum it was
given with it (``connect.payload.resume``). When every update since then is still here,
the server sends those patches instead of the whole schema; otherwise the device gets
``initialSchema`` as usual. The history is bounded by count and by bytes: a busy
session never grows the server's memory past the bounds, it only resumes fewer devices.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["MAX_HISTORY_BYTES", "MAX_HISTORY_UPDATES", "UpdateHistory"]

MAX_HISTORY_UPDATES = 64
"""Updates remembered per session."""
MAX_HISTORY_BYTES = 8 * 1024 * 1024
"""Bytes of patch frames remembered per session."""


@dataclass(frozen=True, slots=True)
class _Entry:
    sequence: int
    checksum: str
    """Checksum of the schema after this update."""
    frame: bytes
    """The serialized ``update`` message of type ``patch`` from ``sequence - 1``."""


class UpdateHistory:
    """The last updates of a session, oldest first, within both bounds.

    Args:
        max_updates: Updates remembered at most.
        max_bytes: Total size of the frames remembered at most. A frame larger than
            this alone is not kept (and the history before it is dropped: resuming
            across it is impossible).
    """

    def __init__(
        self, *, max_updates: int = MAX_HISTORY_UPDATES, max_bytes: int = MAX_HISTORY_BYTES
    ) -> None:
        self.max_updates = max_updates
        self.max_bytes = max_bytes
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self._base: tuple[int, str] | None = None
        """``(sequence, checksum)`` the oldest entry applies to: a device there can
        resume with every entry."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes of frames held."""
        return self._bytes

    def start(self, sequence: int, checksum: str) -> None:
        """Forget everything: the schema at ``sequence`` (with ``checksum``) is the base."""
        self._entries.clear()
        self._bytes = 0
        self._base = (sequence, checksum)

    def add(self, sequence: int, checksum: str, frame: bytes) -> None:
        """Update ``sequence`` (the one after the last) turned the schema into ``checksum``.

        A gap in the sequence numbers, or a frame too large to keep, restarts the
        history at this update.
        """
        if self._base is None or len(frame) > self.max_bytes:
            self.start(sequence, checksum)
            return
        last = self._entries[-1].sequence if self._entries else self._base[0]
        if sequence != last + 1:
            self.start(sequence, checksum)
            return
        self._entries.append(_Entry(sequence, checksum, frame))
        self._bytes += len(frame)
        while len(self._entries) > self.max_updates or self._bytes > self.max_bytes:
            oldest = self._entries.popleft()
            self._bytes -= len(oldest.frame)
            self._base = (oldest.sequence, oldest.checksum)

    def since(self, sequence: object, checksum: object) -> list[tuple[int, bytes]] | None:
        """The frames a device at ``sequence`` with ``checksum`` needs, oldest first.

        Returns:
            ``[]`` when the device is up to date, the ``(sequence, frame)`` pairs after
            its update when all of them are held, and ``None`` when it cannot resume
            (unknown update, a checksum that is not the one sent with it, or updates
            already forgotten): it needs the whole schema.
        """
        if isinstance(sequence, float) and sequence.is_integer():
            sequence = int(sequence)
        if type(sequence) is not int or not isinstance(checksum, str) or self._base is None:
            return None
        if (sequence, checksum) == self._base:
            return [(entry.sequence, entry.frame) for entry in self._entries]
        for index, entry in enumerate(self._entries):
            if entry.sequence == sequence:
                if entry.checksum != checksum:
                    return None
                return [(later.sequence, later.frame) for later in list(self._entries)[index + 1 :]]
        return None
