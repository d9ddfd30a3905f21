"""Per-connection rate limit: a fixed window of messages, and strikes for repeat offenders.

A :class:`RateWindow` counts one connection's messages. The first ``limit`` of a window
pass; the first one over the limit is answered with a warning, the rest are dropped. A
connection is closed when it sends twice the limit in one window, or when it has gone
over the limit in ``max_strikes`` consecutive windows. Windows start lazily, at the first
message after the previous one ended, so an idle connection costs no timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["RateVerdict", "RateWindow"]


class RateVerdict(Enum):
    """What to do with the message just counted."""

    PASS = "pass"
    """Within the limit: handle it."""
    WARN = "warn"
    """The first message over the limit in this window: drop it and warn the peer once."""
    DROP = "drop"
    """Over the limit again: drop it silently."""
    CLOSE = "close"
    """Abuse: close the connection."""


@dataclass(eq=False)
class RateWindow:
    """One connection's message count.

    Args:
        limit: Messages accepted per window.
        window_ms: The window's length.
        max_strikes: Consecutive windows over the limit after which the connection is
            closed (the window that reaches the count closes it at its first drop).
        start: When the first window starts (the connection's opening).
    """

    limit: int
    window_ms: float
    max_strikes: int
    start: float
    count: int = 0
    """Messages counted in the current window."""
    dropped: int = 0
    """Messages dropped in the current window."""
    strikes: int = 0
    """Consecutive past windows in which messages were dropped."""

    def check(self, now: float) -> RateVerdict:
        """Count a message arriving at ``now``; the verdict on it."""
        if now >= self.start + self.window_ms:
            self.strikes = self.strikes + 1 if self.dropped else 0
            self.start, self.count, self.dropped = now, 0, 0
        self.count += 1
        if self.count <= self.limit:
            return RateVerdict.PASS
        self.dropped += 1
        if self.dropped >= self.limit or self.strikes + 1 >= self.max_strikes:
            return RateVerdict.CLOSE
        return RateVerdict.WARN if self.dropped == 1 else RateVerdict.DROP
