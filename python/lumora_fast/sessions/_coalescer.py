"""Update coalescing: at most one update per interval, the first edit at once, latest wins.

A :class:`Coalescer` sits between edits and the updates they cause. An edit arriving when
nothing is held and the interval since the last update has passed goes out at once. An
edit inside the interval is held; a later one replaces it (latest wins) and the held edit
is due when the interval ends, so the last edit of a burst always goes out.

The interval runs from the last update actually sent (:meth:`Coalescer.sent`): an edit
that changes nothing, or is refused, does not start one. Every comparison is written as
``now >= last + interval``, the same sum :meth:`Coalescer.deadline` returns, so a driver
that ticks at the deadline always finds the held edit due (``now - last >= interval``
can be false there by one rounding step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Batch", "Coalescer"]

T = TypeVar("T")


@dataclass(frozen=True)
class Batch(Generic[T]):
    """The edit to send now, and how many edits it stands for."""

    item: T
    """The latest edit."""
    edited_at: float
    """When the latest edit arrived."""
    edits: int
    """Edits it replaces (itself included): more than one when coalesced."""


class Coalescer(Generic[T]):
    """Holds edits so that updates go out at most once per ``interval_ms``.

    Args:
        interval_ms: Minimum time between two updates.
    """

    def __init__(self, interval_ms: float) -> None:
        self.interval_ms = interval_ms
        self.last_sent_at: float | None = None
        """When the last update went out (``None`` before the first)."""
        self._held: Batch[T] | None = None

    @property
    def held(self) -> Batch[T] | None:
        """The edit waiting for the interval to end, if any."""
        return self._held

    def offer(self, item: T, now: float) -> Batch[T] | None:
        """An edit arrived: the batch to send now, or ``None`` when it is held."""
        if self._held is None and (
            self.last_sent_at is None or now >= self.last_sent_at + self.interval_ms
        ):
            return Batch(item, now, 1)
        edits = 1 if self._held is None else self._held.edits + 1
        self._held = Batch(item, now, edits)
        return None

    def deadline(self) -> float | None:
        """When the held edit is due (``None``: nothing held)."""
        if self._held is None:
            return None
        if self.last_sent_at is None:
            return self._held.edited_at
        return self.last_sent_at + self.interval_ms

    def due(self, now: float) -> Batch[T] | None:
        """Take the held edit if it is due at ``now``."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        batch, self._held = self._held, None
        return batch

    def sent(self, now: float) -> None:
        """An update went out at ``now``: the next interval starts."""
        self.last_sent_at = now
