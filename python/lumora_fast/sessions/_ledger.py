"""Ack accounting for one session: which device owes an ack for which update, since when.

An :class:`AckLedger` is the only record of unacked updates. Each entry is a debt: a
device (a connection id) owes an ack for an update sequence number, since a time (the
edit, for an update fanned out to every device; the resend, for a full update sent to
one device alone). A debt from a fan-out *counts*: when no counted debt of an update is
left, the update is settled and reported once as :class:`UpdateAcked`.

A debt ends when the device acks success, when it is superseded (the device was resent a
newer full update), or when the device leaves or starts over (a second ``connect``). A
failure ack does not end it: the device is expected to reload, and the full update's ack
settles the current update; the failure is counted for the report.

Memory is bounded: at most ``limit`` updates are remembered, so a device that never acks
cannot grow the server. The oldest update is forgotten first, without a report.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .events import UpdateAcked

__all__ = ["AckLedger"]


@dataclass(eq=False)
class _Debt:
    since: float
    counts: bool
    """True when the device was sent the update in its fan-out."""


@dataclass(eq=False)
class _Update:
    edited_at: float
    debts: dict[str, _Debt] = field(default_factory=dict)
    waiting: int = 0
    """Debts that count, still open."""
    reporting: bool = False
    """True until :class:`UpdateAcked` has been reported (fanned-out updates only)."""
    acked: int = 0
    failed: int = 0


class AckLedger:
    """The unacked updates of one session.

    Args:
        session_id: The session (named in the :class:`UpdateAcked` reports).
        limit: Updates remembered at most.
    """

    def __init__(self, session_id: str, *, limit: int = 64) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.session_id = session_id
        self.limit = limit
        self._updates: OrderedDict[int, _Update] = OrderedDict()

    def __len__(self) -> int:
        """Updates remembered."""
        return len(self._updates)

    # ------------------------------------------------------------------ queries

    def owed(self, device: str) -> dict[int, float]:
        """What ``device`` owes: sequence number -> since when, oldest first."""
        return {
            sequence: debt.since
            for sequence, update in self._updates.items()
            if (debt := update.debts.get(device)) is not None
        }

    def waiting(self) -> dict[int, frozenset[str]]:
        """Each remembered update -> the devices that owe an ack for it."""
        return {sequence: frozenset(update.debts) for sequence, update in self._updates.items()}

    # ---------------------------------------------------------------- recording

    def sent(self, sequence: int, devices: Iterable[str], edited_at: float) -> None:
        """Update ``sequence`` was sent to ``devices``; each owes an ack that counts."""
        update = _Update(edited_at=edited_at, reporting=True)
        for device in devices:
            update.debts[device] = _Debt(since=edited_at, counts=True)
        update.waiting = len(update.debts)
        if not update.debts:
            return  # nobody to wait for, nothing to report
        self._remember(sequence, update)

    def resent(self, device: str, sequence: int, now: float) -> list[UpdateAcked]:
        """A full update of ``sequence`` was sent to ``device`` alone.

        Its debts for older updates are superseded; it owes ``sequence`` (since ``now``,
        unless it already did: then the debt, and whether it counts, stay).
        """
        reports: list[UpdateAcked] = []
        for old in [s for s, u in self._updates.items() if s < sequence and device in u.debts]:
            reports += self._settle(old, device, now)
        update = self._updates.get(sequence)
        if update is None:
            update = _Update(edited_at=now)
            self._remember(sequence, update)
        update.debts.setdefault(device, _Debt(since=now, counts=False))
        return reports

    def acked(
        self, device: str, sequence: int, success: bool, now: float
    ) -> tuple[float | None, list[UpdateAcked]]:
        """``device`` acked ``sequence``.

        Returns:
            Since when it owed that ack (``None`` if it owed none), and the report if
            this ack settled the update.
        """
        update = self._updates.get(sequence)
        debt = None if update is None else update.debts.get(device)
        if update is None or debt is None:
            return None, []
        if not success:
            if debt.counts:
                update.failed += 1
            return debt.since, []
        if debt.counts:
            update.acked += 1
        return debt.since, self._settle(sequence, device, now)

    def forget(self, device: str, now: float) -> list[UpdateAcked]:
        """``device`` left, or started over: it owes nothing any more."""
        reports: list[UpdateAcked] = []
        for sequence in [s for s, u in self._updates.items() if device in u.debts]:
            reports += self._settle(sequence, device, now)
        return reports

    # ---------------------------------------------------------------- internals

    def _remember(self, sequence: int, update: _Update) -> None:
        self._updates[sequence] = update
        while len(self._updates) > self.limit:
            self._updates.popitem(last=False)

    def _settle(self, sequence: int, device: str, now: float) -> list[UpdateAcked]:
        """End ``device``'s debt for ``sequence``; report the update if it is settled."""
        update = self._updates[sequence]
        debt = update.debts.pop(device)
        reports: list[UpdateAcked] = []
        if debt.counts:
            update.waiting -= 1
            if update.waiting == 0 and update.reporting:
                update.reporting = False
                reports.append(
                    UpdateAcked(
                        session_id=self.session_id,
                        sequence=sequence,
                        acked=update.acked,
                        failed=update.failed,
                        latency_ms=now - update.edited_at,
                    )
                )
        if not update.debts:
            del self._updates[sequence]
        return reports
