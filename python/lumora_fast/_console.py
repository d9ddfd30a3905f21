"""``lumora-fast serve`` in a terminal: keys, the QR code, and lines that stay readable.

* :class:`Keys` reads single keys from an interactive terminal (cbreak mode through
  ``termios``, on the event loop's ``add_reader``) and restores the terminal on close.
* :func:`terminal_qr` draws a QR code with Unicode half blocks (two modules a line).
* :class:`DeviceLines` coalesces devices coming and going: a hundred phones joining at
  once make one line, not a hundred.
* :class:`UpdateLines` writes one line per update once its devices have acked it (or
  after a short wait): sent to N, acked by M in X ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Callable
from typing import Any, TextIO

from lumora_fast.asyncio.demo import format_bytes
from lumora_fast.asyncio.status import UpdateRecord
from lumora_fast.sessions.events import (
    AckReceived,
    DeviceConnected,
    DeviceDisconnected,
    Event,
    Resync,
    sequence_text,
)

__all__ = ["DeviceLines", "Keys", "UpdateLines", "is_interactive", "terminal_qr"]

KEYS_HELP = "keys: r push a full update · R full update, reset state · c clear · q quit"

CLEAR = "\x1b[H\x1b[2J\x1b[3J"
"""Cursor home, clear the screen and its scrollback."""


def is_interactive(stdin: TextIO, stdout: TextIO) -> bool:
    """True when a person types into ``stdin`` and reads ``stdout`` (both terminals)."""
    try:
        return stdin.isatty() and stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def terminal_qr(text: str) -> str:
    """``text`` as a QR code drawn with half blocks, light on dark (lines end with \\n).

    The quiet zone is drawn too, so the code scans on a dark terminal as on a light one.
    """
    import segno  # noqa: PLC0415 (only a terminal needs it)

    out = io.StringIO()
    segno.make(text, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class Keys:
    """Single-key commands from an interactive terminal.

    Args:
        fd: The terminal's file descriptor (standard input).
        handlers: Key -> what to do; other keys are ignored.

    :meth:`start` switches the terminal to cbreak mode (keys arrive one at a time,
    without echo; Ctrl+C still interrupts) and :meth:`close` restores it, also when
    the server stops on an error.
    """

    def __init__(self, fd: int, handlers: dict[str, Callable[[], None]]) -> None:
        self.fd = fd
        self.handlers = handlers
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> bool:
        """Read keys from now on; False when the terminal cannot be put in cbreak mode."""
        try:
            import termios  # noqa: PLC0415 (POSIX only)
            import tty  # noqa: PLC0415
        except ImportError:
            return False
        try:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
        except (OSError, termios.error):
            self._saved = None
            return False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._read)
        return True

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 64)
        except OSError:
            data = b""
        if not data:  # the terminal went away
            self._stop_reading()
            return
        for key in data.decode("utf-8", "ignore"):
            handler = self.handlers.get(key)
            if handler is not None:
                handler()

    def _stop_reading(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            self._loop = None

    def close(self) -> None:
        """Stop reading keys and give the terminal back as it was."""
        self._stop_reading()
        if self._saved is not None:
            import termios  # noqa: PLC0415

            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None


class DeviceLines:
    """Coalesces device events into few lines.

    Events of one kind that arrive within ``window`` seconds of the first make one
    line: the device itself when alone, a count otherwise ("12 devices connected
    (total 100)").

    Args:
        write: Writes one human line.
        window: Seconds to gather events before writing.
    """

    def __init__(self, write: Callable[[str], None], window: float = 0.25) -> None:
        self.write = write
        self.window = window
        self._pending: list[Event] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, event: Event) -> None:
        """Take a :class:`DeviceConnected`, :class:`DeviceDisconnected`, :class:`Resync`
        or failed :class:`AckReceived`."""
        self._pending.append(event)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self.flush)

    def flush(self) -> None:
        """Write what was gathered now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        for kind in (DeviceConnected, DeviceDisconnected, Resync, AckReceived):
            events = [e for e in pending if isinstance(e, kind)]
            if events:
                self.write(self._line(events))

    @staticmethod
    def _line(events: list[Any]) -> str:
        last = events[-1]
        count = len(events)
        if isinstance(last, DeviceConnected):
            if count == 1:
                name = f' "{last.device_name}"' if last.device_name else ""
                return (
                    f"device {last.device_id}{name} connected ({last.platform}), "
                    f"{_plural(last.devices, 'device')} now"
                )
            return f"{count} devices connected (total {last.devices})"
        if isinstance(last, DeviceDisconnected):
            reasons = sorted({e.reason for e in events})
            if count == 1:
                return (
                    f"device {last.device_id} left ({last.reason}), "
                    f"{_plural(last.devices, 'device')} now"
                )
            return f"{count} devices left ({', '.join(reasons)}), total {last.devices}"
        if isinstance(last, Resync):
            target = f"device {last.device_id}" if count == 1 else f"{count} devices"
            return f"resync: full update #{last.sequence} to {target} ({last.reason})"
        # failed acks
        target = f"{last.device_id}" if count == 1 else f"{count} devices"
        return (
            f"ack #{sequence_text(last.sequence)} FAILED on {target}: {last.error} "
            "(reload requested)"
        )


class UpdateLines:
    """One line per update: "update #3 incremental 1.2 KB: sent to 100, acked by 100 in
    34.2 ms", written when the last device acks, or after ``wait`` seconds with what
    came so far (and a second line if the rest arrive later).

    Args:
        write: Writes one human line.
        wait: Seconds to wait for every ack before writing.
    """

    def __init__(self, write: Callable[[str], None], wait: float = 2.0) -> None:
        self.write = write
        self.wait = wait
        self._early: set[int] = set()
        """Updates whose line went out before they settled (by id)."""

    def sent(self, row: UpdateRecord) -> None:
        """An update went out (the status board's ``on_sent``)."""
        if not row.settled:
            asyncio.get_running_loop().call_later(self.wait, self._overdue, row)

    def _overdue(self, row: UpdateRecord) -> None:
        if row.reported:
            return
        self._early.add(id(row))
        waiting = len(row.waiting)
        self.write(
            f"{self._head(row)}: sent to {row.sent_to}, acked by {row.acked} so far"
            f"{self._failed(row)}, {waiting} still waiting after {self.wait:g} s"
        )

    def settled(self, row: UpdateRecord) -> None:
        """Every device acked it or left (the status board's ``on_settled``)."""
        latency = "" if row.latency_ms is None else f" in {row.latency_ms:.1f} ms"
        if id(row) in self._early:
            self._early.discard(id(row))
            self.write(f"update #{row.sequence}: acked by {row.acked}/{row.sent_to}{latency}")
            return
        if row.sent_to == 0:
            self.write(f"{self._head(row)}: no device connected")
            return
        self.write(
            f"{self._head(row)}: sent to {row.sent_to}, acked by {row.acked}{latency}"
            f"{self._failed(row)}"
        )

    @staticmethod
    def _head(row: UpdateRecord) -> str:
        what = {"edit": "", "push": " (pushed)", "push-reset": " (pushed, state reset)"}
        coalesced = f", {row.edits} edits" if row.edits > 1 else ""
        return (
            f"update #{row.sequence} {row.kind} {format_bytes(row.size)}"
            f"{what[row.reason]}{coalesced}"
        )

    @staticmethod
    def _failed(row: UpdateRecord) -> str:
        return f", failed on {row.failed}" if row.failed else ""
