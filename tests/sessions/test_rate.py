"""RateWindow: the per-connection message count, alone."""

from __future__ import annotations

from lumora_fast.sessions._rate import RateVerdict, RateWindow

from ._helpers import T0

PASS, WARN, DROP, CLOSE = RateVerdict.PASS, RateVerdict.WARN, RateVerdict.DROP, RateVerdict.CLOSE


def _window(limit: int = 3, strikes: int = 3) -> RateWindow:
    return RateWindow(limit=limit, window_ms=1000, max_strikes=strikes, start=T0)


def test_the_limit_passes_then_one_warning_then_silence_then_close() -> None:
    window = _window(limit=3)
    verdicts = [window.check(T0 + i) for i in range(6)]
    assert verdicts == [PASS, PASS, PASS, WARN, DROP, CLOSE]  # 3 dropped = twice the limit


def test_a_new_window_starts_at_the_first_message_after_the_last_one_ended() -> None:
    window = _window(limit=2)
    assert [window.check(T0), window.check(T0 + 999)] == [PASS, PASS]
    assert window.check(T0 + 999.5) is WARN
    assert window.check(T0 + 1000) is PASS  # exactly one window later
    assert window.start == T0 + 1000
    assert (window.count, window.dropped, window.strikes) == (1, 0, 1)


def test_a_quiet_window_clears_the_strikes() -> None:
    window = _window(limit=2)
    window.check(T0)
    window.check(T0)
    assert window.check(T0) is WARN
    window.check(T0 + 1000)
    assert window.strikes == 1
    window.check(T0 + 2000)
    assert window.strikes == 0


def test_consecutive_windows_over_the_limit_close() -> None:
    window = _window(limit=5, strikes=3)
    for second in range(2):
        verdicts = [window.check(T0 + 1000 * second) for _ in range(6)]
        assert verdicts[-1] is WARN
    verdicts = [window.check(T0 + 2000) for _ in range(6)]
    assert verdicts == [PASS] * 5 + [CLOSE]


def test_one_strike_closes_at_the_first_drop() -> None:
    window = _window(limit=2, strikes=1)
    assert [window.check(T0) for _ in range(3)] == [PASS, PASS, CLOSE]
