"""AckLedger: who owes which ack since when, alone."""

from __future__ import annotations

import pytest

from lumora_fast.sessions import UpdateAcked
from lumora_fast.sessions._ledger import AckLedger

from ._helpers import T0

SESSION = "session-under-test"


def _acked(sequence: int, acked: int, failed: int, latency: float) -> UpdateAcked:
    return UpdateAcked(
        session_id=SESSION, sequence=sequence, acked=acked, failed=failed, latency_ms=latency
    )


@pytest.fixture
def ledger() -> AckLedger:
    return AckLedger(SESSION)


def test_an_update_settles_when_every_device_acked(ledger: AckLedger) -> None:
    ledger.sent(1, ["a", "b"], T0)
    assert ledger.owed("a") == {1: T0}
    assert ledger.waiting() == {1: frozenset({"a", "b"})}
    assert ledger.acked("a", 1, True, T0 + 10) == (T0, [])
    assert ledger.acked("b", 1, True, T0 + 30) == (T0, [_acked(1, 2, 0, 30)])
    assert ledger.waiting() == {}
    assert len(ledger) == 0
    assert ledger.acked("b", 1, True, T0 + 40) == (None, [])  # a duplicate owes nothing


def test_nothing_is_recorded_without_devices(ledger: AckLedger) -> None:
    ledger.sent(1, [], T0)
    assert len(ledger) == 0


def test_a_failure_ack_is_counted_and_leaves_the_debt(ledger: AckLedger) -> None:
    ledger.sent(1, ["a"], T0)
    assert ledger.acked("a", 1, False, T0 + 5) == (T0, [])
    assert ledger.owed("a") == {1: T0}
    assert ledger.resent("a", 1, T0 + 6) == []  # the reload: same debt, still counts
    assert ledger.owed("a") == {1: T0}
    assert ledger.acked("a", 1, True, T0 + 20) == (T0, [_acked(1, 1, 1, 20)])


def test_a_resend_supersedes_older_debts(ledger: AckLedger) -> None:
    for sequence in (1, 2, 3):
        ledger.sent(sequence, ["a", "b"], T0 + sequence)
    ledger.acked("b", 1, True, T0 + 5)
    reports = ledger.resent("a", 3, T0 + 10)
    assert reports == [_acked(1, 1, 0, 9)]  # 2 still waits for b
    assert ledger.owed("a") == {3: T0 + 3}
    assert ledger.owed("b") == {2: T0 + 2, 3: T0 + 3}


def test_a_resend_of_an_update_not_fanned_out_to_the_device_does_not_count(
    ledger: AckLedger,
) -> None:
    ledger.sent(1, ["a"], T0)
    ledger.resent("late", 1, T0 + 50)  # joined after update 1 went out, then reloaded
    assert ledger.owed("late") == {1: T0 + 50}
    assert ledger.acked("a", 1, True, T0 + 60) == (T0, [_acked(1, 1, 0, 60)])
    assert ledger.waiting() == {1: frozenset({"late"})}  # reported once, still owed
    assert ledger.acked("late", 1, False, T0 + 70) == (T0 + 50, [])
    assert ledger.acked("late", 1, True, T0 + 80) == (T0 + 50, [])
    assert len(ledger) == 0


def test_a_resend_without_any_record_is_remembered(ledger: AckLedger) -> None:
    assert ledger.resent("a", 0, T0) == []
    assert ledger.owed("a") == {0: T0}
    assert ledger.acked("a", 0, True, T0 + 3) == (T0, [])
    assert len(ledger) == 0


def test_forget_settles_what_the_device_owed(ledger: AckLedger) -> None:
    ledger.sent(1, ["a", "b"], T0)
    ledger.sent(2, ["a"], T0 + 1)
    ledger.acked("b", 1, True, T0 + 2)
    assert ledger.forget("a", T0 + 9) == [_acked(1, 1, 0, 9), _acked(2, 0, 0, 8)]
    assert ledger.owed("a") == {}
    assert len(ledger) == 0
    assert ledger.forget("a", T0 + 10) == []


def test_memory_is_bounded_oldest_first() -> None:
    ledger = AckLedger(SESSION, limit=3)
    for sequence in range(1, 11):
        ledger.sent(sequence, ["a"], T0 + sequence)
    assert list(ledger.owed("a")) == [8, 9, 10]
    assert len(ledger) == 3
    assert ledger.acked("a", 1, True, T0 + 20) == (None, [])  # forgotten, unreported
    ledger.resent("b", 10, T0 + 30)
    assert len(ledger) == 3


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AckLedger(SESSION, limit=0)
