"""Sans-I/O device: connect, apply and verify updates, ack, reload, ping, back off.

:class:`DeviceSession` is what a phone or browser runs, without the socket. The driver
(:mod:`lumora_fast.asyncio.device`) calls :meth:`~DeviceSession.connect` when a WebSocket
opens, :meth:`~DeviceSession.receive` for each frame, :meth:`~DeviceSession.tick` at
:meth:`~DeviceSession.next_deadline` (pings), and :meth:`~DeviceSession.connection_lost`
when it ends, which says how long to wait before reconnecting.

A device is never left silently on a wrong schema. Every update is applied (a full one
replaces the schema, an incremental one goes through
:func:`~lumora_fast.apply_schema_delta`, a patch through
:func:`~lumora_fast.apply_schema_patch`) and, when it carries a checksum, verified with
the algorithm that checksum names. Incremental and patch updates must follow each
other's sequence numbers. A failure is acked (``success: false``) and followed by
``reload`` (reason ``"error"``); until the server's full update arrives, incremental and
patch updates are ignored.

Extensions (docs/architecture.md, "Extensions"): the device lists the update types it applies
in ``connect`` (patches by default), and after a reconnect it asks to resume from the
last update it verified, so a server that still has the missed updates sends them as
patches instead of the whole schema.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from enum import Enum

from msgspec import UNSET

from lumora_fast.builders import (
    create_ack_message,
    create_connect_message,
    create_ping_message,
    create_reload_message,
)
from lumora_fast.checksum import ChecksumAlgorithm, calculate_checksum
from lumora_fast.codec import deserialize_message, serialize_message
from lumora_fast.constants import (
    HEARTBEAT_INTERVAL_MS,
    RECONNECT_INITIAL_MS,
    RECONNECT_MAX_MS,
    CloseCode,
    ProtocolErrorCode,
)
from lumora_fast.delta import apply_schema_delta
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import (
    ConnectedMessage,
    ErrorMessage,
    ErrorPayload,
    Schema,
    SchemaUpdate,
    UpdateMessage,
)
from lumora_fast.patch import apply_schema_patch

from .events import Connected, ErrorEvent, Output, Send, UpdateApplied, sequence_text

__all__ = ["FATAL_CLOSE_CODES", "DeviceSession", "DeviceState"]

FATAL_CLOSE_CODES = frozenset(
    {
        CloseCode.SESSION_REQUIRED,
        CloseCode.NOT_CONNECTED,
        CloseCode.SESSION_NOT_FOUND,
        CloseCode.SESSION_EXPIRED,
        CloseCode.UNSUPPORTED_VERSION,
    }
)
"""Close codes after which reconnecting cannot help: the device stops."""


class DeviceState(Enum):
    """Where the device is in its connection's life."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    """``connect`` sent, waiting for ``connected``."""
    CONNECTED = "connected"
    STOPPED = "stopped"
    """Closed with a code in :data:`FATAL_CLOSE_CODES`: no reconnecting."""


def _algorithm_of(checksum: str) -> ChecksumAlgorithm:
    return "xxh3" if checksum.startswith("xxh3:") else "sha256"


class DeviceSession:
    """A hot-reload device as a state machine.

    Args:
        session_id: The session to join (the ``session`` query parameter).
        device_id: This device's id.
        platform: ``"ios"``, ``"android"`` or ``"web"``.
        device_name: Optional human-readable name.
        ping_interval_ms: Heartbeat interval once connected.
        reconnect_initial_ms: First reconnect delay; it doubles per failed attempt...
        reconnect_max_ms: ...up to this.
        jitter: Each delay is shortened by up to this fraction, at random, so that many
            devices do not reconnect in lockstep (0 disables it).
        random: Source of the jitter, in [0, 1).
        timer: Monotonic seconds, used only to measure apply time for acks.
        max_reloads: Consecutive failed updates answered with ``reload``; beyond that
            the device reports an error instead of asking again.
        update_types: The update types listed in ``connect`` (``None``: list none, as a
            reference device does, and get full and incremental updates).
        resume: After a reconnect, ask to resume from the last verified update.
    """

    def __init__(
        self,
        session_id: str,
        device_id: str,
        platform: str = "web",
        device_name: str | None = None,
        *,
        ping_interval_ms: float = HEARTBEAT_INTERVAL_MS,
        reconnect_initial_ms: float = RECONNECT_INITIAL_MS,
        reconnect_max_ms: float = RECONNECT_MAX_MS,
        jitter: float = 0.0,
        random: Callable[[], float] = random.random,
        timer: Callable[[], float] = time.perf_counter,
        max_reloads: int = 3,
        update_types: Sequence[str] | None = ("full", "incremental", "patch"),
        resume: bool = True,
    ) -> None:
        self.session_id = session_id
        self.device_id = device_id
        self.platform = platform
        self.device_name = device_name
        self.ping_interval_ms = ping_interval_ms
        self.reconnect_initial_ms = reconnect_initial_ms
        self.reconnect_max_ms = reconnect_max_ms
        self.jitter = jitter
        self.max_reloads = max_reloads
        self.update_types = None if update_types is None else tuple(update_types)
        self.resume = resume
        self._random = random
        self._timer = timer

        self.state = DeviceState.DISCONNECTED
        self.connection_id: str | None = None
        self.sequence: int | float | None = None
        """Sequence number of the last update applied; ``None`` right after
        ``connected`` (which carries none), so the next update is checked by checksum
        only."""
        self.awaiting_full = False
        """True after a failure, until a full update arrives."""
        self.algorithm: ChecksumAlgorithm = "sha256"
        self.server_error: ErrorPayload | None = None
        """The server's last schema error (``SCHEMA_VALIDATION_FAILED``: the source file
        is invalid), until an update says it is resolved."""
        self._verified: tuple[int | float, str] | None = None
        """``(sequence, checksum)`` of the last update applied and verified: where a
        reconnect resumes."""
        self._resume_sent = False
        """A ``connect`` on this connection asked to resume."""
        self._schema: Schema | None = None
        self._checksum: str | None = None
        self._attempts = 0
        self._failures = 0
        self._next_ping: float | None = None

    # ----------------------------------------------------------------- state

    @property
    def schema(self) -> Schema | None:
        """The schema the device shows."""
        return self._schema

    @property
    def checksum(self) -> str | None:
        """Checksum of :attr:`schema` with :attr:`algorithm` (``None`` without one)."""
        if self._checksum is None and self._schema is not None:
            try:
                self._checksum = calculate_checksum(self._schema, algorithm=self.algorithm)
            except ProtocolError:
                return None
        return self._checksum

    # -------------------------------------------------------------- lifecycle

    def connect(self, now: float) -> list[Output]:
        """The WebSocket is open: say who we are."""
        self.state = DeviceState.CONNECTING
        resume = self._verified if self.resume and self._schema is not None else None
        if self.update_types is None or "patch" not in self.update_types:
            resume = None  # the server replays missed updates as patches only
        self._resume_sent = self._resume_sent or resume is not None
        message = create_connect_message(
            self.session_id,
            self.device_id,
            self.platform,
            self.device_name,
            timestamp=int(now),
            update_types=self.update_types,
            resume=resume,
        )
        return [Send(data=serialize_message(message))]

    def connection_lost(self, now: float, code: int | None = None) -> float | None:
        """The WebSocket ended (``code`` is the close code received, if any).

        Returns:
            Milliseconds to wait before reconnecting: ``reconnect_initial_ms`` doubled
            per consecutive failed attempt, capped at ``reconnect_max_ms``, minus jitter.
            ``None`` when the close code says reconnecting cannot help.
        """
        self._next_ping = None
        self.connection_id = None
        self._resume_sent = False
        if code in FATAL_CLOSE_CODES:
            self.state = DeviceState.STOPPED
            return None
        self.state = DeviceState.DISCONNECTED
        delay = min(self.reconnect_max_ms, self.reconnect_initial_ms * 2.0**self._attempts)
        self._attempts += 1
        return delay * (1.0 - self.jitter * self._random())

    def request_reload(self, now: float) -> list[Output]:
        """Ask the server for a full update of the current schema (reason ``"manual"``)."""
        if self.state is not DeviceState.CONNECTED:
            return []
        message = create_reload_message(self.session_id, "manual", timestamp=int(now))
        return [Send(data=serialize_message(message))]

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has a ping to send (``None`` when not connected)."""
        return self._next_ping

    def tick(self, now: float) -> list[Output]:
        """Send the heartbeat ping when it is due."""
        if self._next_ping is None or now < self._next_ping:
            return []
        self._next_ping = now + self.ping_interval_ms
        ping = create_ping_message(
            self.session_id, "updating" if self.awaiting_full else "idle", timestamp=int(now)
        )
        return [Send(data=serialize_message(ping))]

    # ---------------------------------------------------------------- receive

    def receive(self, data: bytes | str, now: float) -> list[Output]:
        """A frame arrived from the server."""
        try:
            message = deserialize_message(data, validate=True)
        except ProtocolError as exc:
            # It may have been an update: ask for the whole schema rather than guess.
            return [
                ErrorEvent(message=f"unreadable message from the server: {exc}", code=exc.code),
                *self._reload(now, f"unreadable message: {exc}"),
            ]
        if message.session_id != self.session_id:
            return [
                ErrorEvent(
                    message=f"message for session {message.session_id!r} ignored",
                    code=ProtocolErrorCode.SESSION_NOT_FOUND,
                )
            ]
        if isinstance(message, ConnectedMessage):
            return self._on_connected(message, now)
        if isinstance(message, UpdateMessage):
            if self.state is not DeviceState.CONNECTED:
                return [ErrorEvent(message="update received before connected: ignored")]
            return self._on_update(message, len(data), now)
        if isinstance(message, ErrorMessage):
            payload = message.payload
            if payload.code == ProtocolErrorCode.SCHEMA_VALIDATION_FAILED:
                self.server_error = payload
            return [
                ErrorEvent(
                    message=f"server error ({payload.severity}): {payload.message}"
                    + ("" if payload.details is UNSET else f" ({payload.details})"),
                    code=payload.code,
                    session_id=message.session_id,
                )
            ]
        return []  # pong, or a message a device has no use for

    def _on_connected(self, message: ConnectedMessage, now: float) -> list[Output]:
        payload = message.payload
        self.state = DeviceState.CONNECTED
        self.connection_id = payload.connection_id
        self._attempts = 0
        self._failures = 0
        self.server_error = None  # the server repeats a pending one after `connected`
        algorithms = payload.capabilities.checksum_algorithms
        if algorithms is not UNSET and algorithms and algorithms[0] in ("sha256", "xxh3"):
            self.algorithm = "xxh3" if algorithms[0] == "xxh3" else "sha256"
        resumed = payload.resumed is True and self._resume_sent and self._schema is not None
        if not resumed:
            schema = payload.initial_schema
            self._schema = None if schema is UNSET else schema
            self._checksum = None
            self.sequence = None
            self._verified = None
            self.awaiting_full = False
        # Resumed: the schema stays, at `sequence` (at or past the update we resumed
        # from: updates may have landed since we asked). The missed updates follow, and
        # those we already have are skipped by their sequence numbers.
        self._next_ping = now + self.ping_interval_ms
        outputs: list[Output] = [
            Connected(
                session_id=self.session_id,
                connection_id=payload.connection_id,
                checksum=self.checksum,
                resumed=resumed,
            )
        ]
        if resumed and self.awaiting_full:
            # An update failed before the reconnect; its reload may be lost with the
            # old connection. Ask again: the patches that follow build on it.
            outputs += self._reload(now, "resumed while waiting for a full update")
        return outputs

    def _on_update(self, message: UpdateMessage, size: int, now: float) -> list[Output]:
        update = message.payload
        sequence = update.sequence_number
        started = self._timer()
        if update.type != "full":
            if self.awaiting_full:
                return []  # built on a schema we no longer trust; the full one is coming
            if self.sequence is not None and sequence <= self.sequence:
                return []  # already applied (a resync overtook it)
        result, error = self._apply(update)
        checksum: str | None = None
        verified = False
        if result is not None and isinstance(update.checksum, str):
            self.algorithm = _algorithm_of(update.checksum)
            try:
                checksum = calculate_checksum(result, algorithm=self.algorithm)
            except ProtocolError as exc:
                error = f"cannot checksum the result: {exc}"
            else:
                verified = checksum == update.checksum
                if not verified:
                    error = f"Checksum mismatch: expected {update.checksum}, got {checksum}"
        apply_ms = (self._timer() - started) * 1000.0
        latency = now + apply_ms - message.timestamp
        if error is not None or result is None:
            reason = error or "update could not be applied"
            return [
                self._ack(sequence, False, reason, apply_ms, now),
                UpdateApplied(
                    sequence=sequence,
                    kind=update.type,
                    success=False,
                    error=reason,
                    apply_time_ms=apply_ms,
                    latency_ms=latency,
                    size=size,
                ),
                *self._reload(now, reason),
            ]
        self._schema = result
        self._checksum = checksum
        self.sequence = sequence
        self.awaiting_full = False
        self._failures = 0
        if verified and checksum is not None:
            self._verified = (sequence, checksum)
        cleared = update.error_cleared is True
        if cleared:
            self.server_error = None
        return [
            self._ack(sequence, True, None, apply_ms, now),
            UpdateApplied(
                sequence=sequence,
                kind=update.type,
                success=True,
                checksum=checksum,
                verified=verified,
                apply_time_ms=apply_ms,
                latency_ms=latency,
                size=size,
                error_cleared=cleared,
            ),
        ]

    def _apply(self, update: SchemaUpdate) -> tuple[Schema | None, str | None]:
        """The schema after ``update``, or why there is none."""
        if update.type == "full":
            if update.schema is UNSET:
                return None, "full update without a schema"
            return update.schema, None
        if update.type == "patch":
            if update.patch is UNSET:
                return None, "patch update without a patch"
        elif update.delta is UNSET:
            return None, "incremental update without a delta"
        if self._schema is None:
            return None, f"{update.type} update but no schema to apply it to"
        if self.sequence is not None and update.sequence_number != self.sequence + 1:
            expected = self.sequence + 1
            got = sequence_text(update.sequence_number)
            return None, f"Sequence gap: expected {sequence_text(expected)}, got {got}"
        try:
            if update.patch is not UNSET and update.type == "patch":
                return apply_schema_patch(self._schema, update.patch), None
            assert update.delta is not UNSET
            return apply_schema_delta(self._schema, update.delta), None
        except ProtocolError as exc:
            return None, f"cannot apply the {update.type}: {exc}"

    def _ack(
        self, sequence: int | float, success: bool, error: str | None, apply_ms: float, now: float
    ) -> Send:
        ack = create_ack_message(
            self.session_id, sequence, success, error, round(apply_ms, 3), timestamp=int(now)
        )
        return Send(data=serialize_message(ack))

    def _reload(self, now: float, error: str) -> list[Output]:
        """Ask for a full update after a failure, unless that keeps failing."""
        self.awaiting_full = True
        self._failures += 1
        if self.state is not DeviceState.CONNECTED:
            return []
        if self._failures > self.max_reloads:
            return [
                ErrorEvent(
                    message=f"{self._failures} updates failed in a row: not asking again",
                    code=ProtocolErrorCode.UPDATE_FAILED,
                )
            ]
        message = create_reload_message(self.session_id, "error", error, timestamp=int(now))
        return [Send(data=serialize_message(message))]
