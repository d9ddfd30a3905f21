"""Coalescer: the update rate limit with latest-wins, alone."""

from __future__ import annotations

import pytest

from lumora_fast.sessions._coalescer import Batch, Coalescer

from ._helpers import T0


def test_an_isolated_edit_goes_out_at_once() -> None:
    coalescer: Coalescer[str] = Coalescer(100)
    assert coalescer.offer("a", T0) == Batch("a", T0, 1)
    assert coalescer.deadline() is None  # nothing held until an update is recorded
    coalescer.sent(T0)
    assert coalescer.offer("b", T0 + 100) == Batch("b", T0 + 100, 1)


def test_edits_inside_the_interval_are_held_latest_wins() -> None:
    coalescer: Coalescer[str] = Coalescer(100)
    coalescer.sent(T0)
    assert coalescer.offer("a", T0 + 10) is None
    assert coalescer.offer("b", T0 + 60) is None
    assert coalescer.held == Batch("b", T0 + 60, 2)
    assert coalescer.deadline() == T0 + 100
    assert coalescer.due(T0 + 99) is None
    assert coalescer.due(T0 + 100) == Batch("b", T0 + 60, 2)
    assert coalescer.held is None
    assert coalescer.deadline() is None
    assert coalescer.due(T0 + 500) is None


def test_an_edit_after_the_interval_waits_behind_a_held_one() -> None:
    coalescer: Coalescer[str] = Coalescer(100)
    coalescer.sent(T0)
    coalescer.offer("a", T0 + 10)
    # The interval is over, but "a" is still held (the driver has not ticked): keep the
    # order, latest wins, and the tick sends it.
    assert coalescer.offer("b", T0 + 150) is None
    assert coalescer.due(T0 + 150) == Batch("b", T0 + 150, 2)


def test_an_edit_that_sends_nothing_starts_no_interval() -> None:
    coalescer: Coalescer[str] = Coalescer(100)
    coalescer.sent(T0)
    coalescer.offer("same", T0 + 10)
    assert coalescer.due(T0 + 100) is not None  # the caller found nothing changed
    assert coalescer.offer("next", T0 + 120) == Batch("next", T0 + 120, 1)


@pytest.mark.parametrize(
    ("last", "interval"),
    [(1_700_000_000_086.2122, 100 / 3), (158.38287025480557, 100.0)],
)
def test_ticking_at_the_deadline_always_finds_the_edit_due(last: float, interval: float) -> None:
    # At these, `now - last >= interval` is false at `now = last + interval` by one
    # rounding step: a driver ticking at the deadline would spin. Every comparison
    # uses the deadline's own sum.
    assert (last + interval) - last < interval
    coalescer: Coalescer[str] = Coalescer(interval)
    coalescer.sent(last)
    assert coalescer.offer("a", last) is None
    deadline = coalescer.deadline()
    assert deadline is not None
    assert coalescer.due(deadline) is not None
    coalescer.sent(deadline)
    assert coalescer.offer("b", deadline + interval) is not None
