"""Sans-I/O hot-reload server: sessions, connections, updates, acks and timers.

:class:`ServerProtocol` is the whole server without sockets or clocks. The driver (for
example :mod:`lumora_fast.asyncio.server`) feeds it what happens and carries out what it
returns:

* :meth:`~ServerProtocol.open` when a WebSocket opens, :meth:`~ServerProtocol.receive`
  for each frame, :meth:`~ServerProtocol.connection_lost` when it ends;
* :meth:`~ServerProtocol.publish` when the schema of a session changes;
* :meth:`~ServerProtocol.tick` at :meth:`~ServerProtocol.next_deadline` (heartbeats,
  session expiry, coalesced updates).

Each call takes ``now``, the current time in Unix milliseconds, and returns a list of
outputs (:mod:`lumora_fast.sessions.events`). Bad peer input becomes an output (an
``error`` message, a close code), never an exception; exceptions are for API misuse.

On the wire this is the reference server (``hot-reload-server.ts``): path and session
checks, close codes 4400 / 4401 / 4404 / 4410 / 4426, ``INVALID_MESSAGE`` replies,
``connected`` carrying the current schema. Beyond it: every update carries the resulting
schema's checksum, incremental updates are sent only when exact and smaller, a device
that acks failure and sends ``reload`` gets one full update, a second ``connect`` on a
socket never registers the device twice, updates are coalesced (an isolated edit goes
out at once, at most one update per ``update_interval_ms``, latest wins, the last edit
always goes out), and connections are rate-limited and dropped after missed heartbeats.
"""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from lumora_fast.builders import (
    create_connected_message,
    create_error_message,
    create_full_update,
    create_incremental_update,
    create_pong_message,
    create_update_message,
)
from lumora_fast.checksum import ChecksumAlgorithm
from lumora_fast.codec import deserialize_message, serialize_message
from lumora_fast.constants import (
    HEARTBEAT_INTERVAL_MS,
    HEARTBEAT_MISSED_LIMIT,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_SECOND,
    MAX_UPDATES_PER_SECOND,
    SESSION_TIMEOUT_MS,
    CloseCode,
    ProtocolErrorCode,
)
from lumora_fast.delta import should_use_incremental_update
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import (
    AckMessage,
    ConnectMessage,
    ErrorMessage,
    PingMessage,
    ReloadMessage,
    Schema,
)
from lumora_fast.tracker import SchemaTracker
from lumora_fast.validation import validate_protocol_version, validate_session_id

from .events import (
    AckReceived,
    Close,
    DeviceConnected,
    DeviceDisconnected,
    ErrorEvent,
    Output,
    Resync,
    Send,
    SessionExpired,
    UpdateAcked,
    UpdateKind,
    UpdateSent,
)

__all__ = ["POLICY_VIOLATION", "Connection", "ConnectionState", "ServerProtocol", "Session"]

POLICY_VIOLATION = 1008
"""Standard WebSocket close code used for rate-limit abuse (the reference has none)."""

_Severity = Literal["warning", "error", "fatal"]
_MINOR_MISMATCH = "Protocol minor version mismatch"
_MAX_PENDING = 64
"""Unacked updates remembered per connection and per session (older ones are forgotten:
a device that never acks must not grow the server's memory)."""
_MAX_EXPIRED = 1024
"""Expired session ids remembered, so that late devices get 4410 rather than 4404."""


class ConnectionState(Enum):
    """Where a connection is in the connect flow."""

    OPEN = "open"
    """WebSocket open, no ``connect`` yet."""
    CONNECTED = "connected"
    """``connect`` accepted: the device is registered in its session."""
    CLOSED = "closed"


@dataclass(eq=False)
class _Inflight:
    """An update some devices have not acked yet."""

    edited_at: float
    waiting: set[str]
    acked: int = 0
    failed: int = 0


@dataclass(eq=False)
class Session:
    """One hot-reload session: its schema, sequence numbers and devices.

    Read it, don't write it: :class:`ServerProtocol` owns the state.
    """

    id: str
    tracker: SchemaTracker
    created_at: float
    last_activity: float
    sequence: int = 0
    """Sequence number of the last update (0 before the first)."""
    devices: dict[str, Connection] = field(default_factory=dict)
    """Connected devices by connection id."""
    last_update_at: float | None = None
    pending: Schema | None = None
    """Latest schema published inside the coalescing window, not sent yet."""
    pending_at: float = 0.0
    pending_edits: int = 0
    full_update: tuple[int, bytes] | None = None
    """The serialized full update for ``(sequence, bytes)``, reused for every resync."""
    inflight: OrderedDict[int, _Inflight] = field(default_factory=OrderedDict)

    @property
    def schema(self) -> Schema | None:
        """The current schema (what ``connected`` and a resync carry)."""
        return self.tracker.schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum."""
        return self.tracker.checksum


@dataclass(eq=False)
class Connection:
    """One WebSocket connection to a session (read-only for callers)."""

    id: str
    session_id: str
    opened_at: float
    last_seen: float
    state: ConnectionState = ConnectionState.OPEN
    device_id: str = ""
    platform: str = ""
    device_name: str | None = None
    last_ack: int | float | None = None
    """Sequence number of the last ack received."""
    pending: dict[int, float] = field(default_factory=dict)
    """Sent, unacked updates: sequence number -> edit time."""
    window_start: float = 0.0
    window_count: int = 0
    window_dropped: int = 0
    strikes: int = 0
    """Consecutive rate windows in which messages were dropped."""


class ServerProtocol:
    """The hot-reload server as a state machine.

    Args:
        algorithm: Checksum algorithm for update checksums. ``"sha256"`` is the
            reference's; ``"xxh3"`` is advertised in ``connected`` capabilities.
        preserve_state: ``preserveState`` of the updates sent.
        session_timeout_ms: A session with no activity (no publish, no device message)
            for this long expires.
        heartbeat_interval_ms: The devices' ping interval.
        heartbeat_missed_limit: A connection silent for this many intervals is dropped.
        update_interval_ms: Minimum time between two updates of a session (100 ms = at
            most 10 updates/s). Edits inside it coalesce, latest wins.
        max_messages: Messages accepted per connection per ``rate_window_ms``.
        rate_window_ms: The rate-limit window.
        rate_limit_strikes: Close a connection after this many consecutive windows
            over the limit (it is also closed when it sends twice the limit in one).
        max_message_bytes: Largest message accepted, and largest full update sent.
        session_id_factory: Makes session ids (UUID v4 strings by default).
    """

    def __init__(
        self,
        *,
        algorithm: ChecksumAlgorithm = "sha256",
        preserve_state: bool = True,
        session_timeout_ms: float = SESSION_TIMEOUT_MS,
        heartbeat_interval_ms: float = HEARTBEAT_INTERVAL_MS,
        heartbeat_missed_limit: int = HEARTBEAT_MISSED_LIMIT,
        update_interval_ms: float = 1000 / MAX_UPDATES_PER_SECOND,
        max_messages: int = MAX_MESSAGES_PER_SECOND,
        rate_window_ms: float = 1000,
        rate_limit_strikes: int = 3,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        session_id_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.algorithm: ChecksumAlgorithm = algorithm
        self.preserve_state = preserve_state
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_timeout_ms = heartbeat_interval_ms * heartbeat_missed_limit
        self.update_interval_ms = update_interval_ms
        self.max_messages = max_messages
        self.rate_window_ms = rate_window_ms
        self.rate_limit_strikes = rate_limit_strikes
        self.max_message_bytes = max_message_bytes
        self._new_session_id = session_id_factory
        self._sessions: dict[str, Session] = {}
        self._connections: dict[str, Connection] = {}
        self._expired: OrderedDict[str, None] = OrderedDict()
        # The reference advertises no algorithms; say something only when it differs.
        self._algorithms = None if algorithm == "sha256" else [algorithm]

    # ------------------------------------------------------------------ sessions

    @property
    def sessions(self) -> Mapping[str, Session]:
        """Live sessions by id."""
        return self._sessions

    @property
    def connections(self) -> Mapping[str, Connection]:
        """Open connections by id."""
        return self._connections

    def create_session(
        self, now: float, schema: Schema | None = None, *, session_id: str | None = None
    ) -> Session:
        """Start a session, optionally with an initial schema (sent in ``connected``).

        Raises:
            ProtocolError: ``schema`` cannot be checksummed, or its full update would
                exceed ``max_message_bytes``.
            ValueError: ``session_id`` is not a valid session id or is already in use.
        """
        if session_id is None:
            session_id = self._new_session_id()
        check = validate_session_id(session_id)
        if not check.valid:
            raise ValueError(f"invalid session id {session_id!r}: {', '.join(check.errors)}")
        if session_id in self._sessions:
            raise ValueError(f"session {session_id!r} already exists")
        session = Session(
            id=session_id,
            tracker=SchemaTracker(schema, algorithm=self.algorithm),
            created_at=now,
            last_activity=now,
        )
        if schema is not None:
            size = len(self._full_update(session, now))
            if size > self.max_message_bytes:
                raise ProtocolError(self._too_large(size), code=ProtocolErrorCode.UPDATE_FAILED)
        self._sessions[session_id] = session
        self._expired.pop(session_id, None)
        return session

    def close_session(self, session_id: str, now: float) -> list[Output]:
        """End a session: its devices are closed with 1000 "Session closed".

        Raises:
            KeyError: No such live session.
        """
        self._sessions[session_id]
        outputs: list[Output] = []
        for conn in [c for c in self._connections.values() if c.session_id == session_id]:
            outputs += self._close(conn, CloseCode.NORMAL, "Session closed", "session closed", now)
        del self._sessions[session_id]
        return outputs

    def publish(self, session_id: str, schema: Schema, now: float) -> list[Output]:
        """Make ``schema`` the session's schema and update its devices.

        An isolated edit goes out at once. Within ``update_interval_ms`` of the last
        update, the schema is held and sent when the interval ends (a later publish
        replaces it: latest wins). A schema the tracker refuses, or whose full update is
        too large, becomes an :class:`ErrorEvent` and the previous schema stays.
        The schema dict is kept by reference: do not mutate it afterwards.

        Raises:
            KeyError: No such live session.
        """
        session = self._sessions[session_id]
        session.last_activity = now
        if session.pending is None and (
            session.last_update_at is None
            or now - session.last_update_at >= self.update_interval_ms
        ):
            return self._broadcast(session, schema, now, now, 1)
        session.pending = schema
        session.pending_at = now
        session.pending_edits += 1
        return []

    # --------------------------------------------------------------- connections

    def open(self, session_id: str | None, now: float) -> tuple[str, list[Output]]:
        """A WebSocket opened with ``?session=<session_id>``.

        Returns:
            The new connection's id, and the outputs. A refused connection (no session
            id: 4400; unknown: 4404; expired: 4410) gets a :class:`Close` and is not
            kept; the others wait for ``connect``.
        """
        connection_id = secrets.token_hex(8)
        if not session_id:
            return connection_id, [
                Close(
                    code=CloseCode.SESSION_REQUIRED, reason="Session ID required", to=connection_id
                )
            ]
        outputs: list[Output] = []
        session = self._sessions.get(session_id)
        if session is not None and now >= session.last_activity + self.session_timeout_ms:
            outputs += self._expire(session, now)  # due, even if tick() has not run yet
            session = None
        if session is None:
            if session_id in self._expired:
                code, close_code, reason = (
                    ProtocolErrorCode.SESSION_EXPIRED,
                    CloseCode.SESSION_EXPIRED,
                    "Session expired",
                )
            else:
                code, close_code, reason = (
                    ProtocolErrorCode.SESSION_NOT_FOUND,
                    CloseCode.SESSION_NOT_FOUND,
                    "Session not found",
                )
            outputs.append(
                self._error(session_id, connection_id, code, reason, "fatal", False, now)
            )
            outputs.append(Close(code=close_code, reason=reason, to=connection_id))
            return connection_id, outputs
        self._connections[connection_id] = Connection(
            id=connection_id,
            session_id=session_id,
            opened_at=now,
            last_seen=now,
            window_start=now,
        )
        session.last_activity = now
        return connection_id, outputs

    def receive(self, connection_id: str, data: bytes | str, now: float) -> list[Output]:
        """A frame arrived on a connection (unknown or closed connections are ignored)."""
        conn = self._connections.get(connection_id)
        if conn is None:
            return []
        session = self._sessions[conn.session_id]
        conn.last_seen = now
        session.last_activity = now

        limited = self._rate_limit(conn, now)
        if limited is not None:
            return limited

        try:
            message = deserialize_message(data, validate=True)
        except ProtocolError as exc:
            # The reference answers with the parser's message and keeps the connection.
            return [
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.INVALID_MESSAGE,
                    str(exc),
                    "error",
                    True,
                    now,
                ),
                ErrorEvent(
                    message=f"invalid message: {exc}",
                    code=ProtocolErrorCode.INVALID_MESSAGE,
                    session_id=conn.session_id,
                    connection_id=conn.id,
                ),
            ]

        if message.session_id != conn.session_id:
            # A connection belongs to one session; it can neither see nor touch another.
            return [
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.SESSION_NOT_FOUND,
                    "Session ID mismatch",
                    "error",
                    False,
                    now,
                ),
                *self._close(
                    conn,
                    CloseCode.SESSION_REQUIRED,
                    "Session ID mismatch",
                    "session id mismatch",
                    now,
                ),
            ]
        if isinstance(message, ConnectMessage):
            return self._on_connect(conn, session, message, now)
        if conn.state is not ConnectionState.CONNECTED:
            return [
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.AUTHENTICATION_FAILED,
                    "Must send connect message first",
                    "error",
                    False,
                    now,
                ),
                *self._close(
                    conn, CloseCode.NOT_CONNECTED, "Not authenticated", "not connected", now
                ),
            ]
        if isinstance(message, PingMessage):
            pong = create_pong_message(conn.session_id, timestamp=int(now))
            return [Send(data=serialize_message(pong), to=conn.id)]
        if isinstance(message, AckMessage):
            return self._on_ack(conn, session, message, now)
        if isinstance(message, ReloadMessage):
            return self.resync(conn.id, now, reason="reload")
        if isinstance(message, ErrorMessage):
            payload = message.payload
            return [
                ErrorEvent(
                    message=f"device {conn.device_id} reported {payload.code}: {payload.message}",
                    code=payload.code,
                    session_id=conn.session_id,
                    connection_id=conn.id,
                )
            ]
        # connected / update / pong from a device mean nothing here (the reference
        # ignores them too).
        return []

    def connection_lost(
        self, connection_id: str, now: float, reason: str = "closed"
    ) -> list[Output]:
        """The WebSocket ended (either side). Unknown ids are ignored."""
        conn = self._connections.get(connection_id)
        if conn is None:
            return []
        return self._drop(conn, reason, now)

    def resync(
        self, connection_id: str, now: float, *, reason: Literal["reload", "behind"] = "behind"
    ) -> list[Output]:
        """Send one device a full update of the current schema.

        Called on a device's ``reload`` and by a driver whose send buffer for a device
        overflowed (it drops the queued updates first). Older unacked updates of that
        device are superseded; the full update's ack settles the current one.
        """
        conn = self._connections.get(connection_id)
        if conn is None or conn.state is not ConnectionState.CONNECTED:
            return []
        session = self._sessions[conn.session_id]
        if session.schema is None:
            return [
                ErrorEvent(
                    message=f"device {conn.device_id} asked for a reload; there is no schema yet",
                    session_id=session.id,
                    connection_id=conn.id,
                )
            ]
        sequence = session.sequence
        outputs: list[Output] = []
        for old in [seq for seq in conn.pending if seq < sequence]:
            del conn.pending[old]
            outputs += self._settle(session, conn.id, old, None, now)
        conn.pending.setdefault(sequence, now)
        outputs.insert(0, Send(data=self._full_update(session, now), to=conn.id, update=sequence))
        outputs.append(
            Resync(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                sequence=sequence,
                reason=reason,
            )
        )
        return outputs

    # --------------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`tick` has something to do (``None``: nothing)."""
        deadlines: list[float] = []
        for session in self._sessions.values():
            deadlines.append(session.last_activity + self.session_timeout_ms)
            if session.pending is not None and session.last_update_at is not None:
                deadlines.append(session.last_update_at + self.update_interval_ms)
        if self._connections:
            deadlines.append(
                min(c.last_seen for c in self._connections.values()) + self.heartbeat_timeout_ms
            )
        return min(deadlines, default=None)

    def tick(self, now: float) -> list[Output]:
        """Do what is due: send coalesced updates, drop silent devices, expire sessions."""
        outputs: list[Output] = []
        for session in list(self._sessions.values()):
            if (
                session.pending is not None
                and session.last_update_at is not None
                and now >= session.last_update_at + self.update_interval_ms
            ):
                schema, edited_at, edits = (
                    session.pending,
                    session.pending_at,
                    session.pending_edits,
                )
                session.pending, session.pending_edits = None, 0
                outputs += self._broadcast(session, schema, edited_at, now, edits)
        for conn in list(self._connections.values()):
            if now >= conn.last_seen + self.heartbeat_timeout_ms:
                # The reference closes a silent device with 1000 "Connection timeout".
                outputs += self._close(
                    conn, CloseCode.NORMAL, "Connection timeout", "heartbeat timeout", now
                )
        for session in list(self._sessions.values()):
            if now >= session.last_activity + self.session_timeout_ms:
                outputs += self._expire(session, now)
        return outputs

    # ------------------------------------------------------------------- internals

    def _on_connect(
        self, conn: Connection, session: Session, message: ConnectMessage, now: float
    ) -> list[Output]:
        payload = message.payload
        outputs: list[Output] = []
        check = validate_protocol_version(payload.client_version)
        if not check.valid:
            text = ", ".join(check.errors)
            if not all(error.startswith(_MINOR_MISMATCH) for error in check.errors):
                return [
                    self._error(
                        conn.session_id,
                        conn.id,
                        ProtocolErrorCode.UNSUPPORTED_VERSION,
                        text,
                        "fatal",
                        False,
                        now,
                    ),
                    *self._close(
                        conn,
                        CloseCode.UNSUPPORTED_VERSION,
                        "Unsupported protocol version",
                        "unsupported version",
                        now,
                    ),
                ]
            # Same major version: the message itself says "may have limited features".
            # Warn and carry on rather than refuse a compatible device.
            outputs.append(
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.UNSUPPORTED_VERSION,
                    text,
                    "warning",
                    True,
                    now,
                )
            )
        first = conn.state is not ConnectionState.CONNECTED
        conn.device_id = payload.device_id
        conn.platform = payload.platform
        conn.device_name = _opt_str(payload.device_name)
        if first:
            conn.state = ConnectionState.CONNECTED
            session.devices[conn.id] = conn
        else:
            # A second connect on the same socket: same registration, fresh state. The
            # device resets to the schema in `connected`, so older updates are moot.
            for old in list(conn.pending):
                del conn.pending[old]
                outputs += self._settle(session, conn.id, old, None, now)
        connected = create_connected_message(
            conn.session_id,
            conn.id,
            session.schema,
            timestamp=int(now),
            checksum_algorithms=self._algorithms,
        )
        outputs.insert(0, Send(data=serialize_message(connected), to=conn.id))
        if first:
            outputs.append(
                DeviceConnected(
                    session_id=session.id,
                    connection_id=conn.id,
                    device_id=conn.device_id,
                    platform=conn.platform,
                    device_name=conn.device_name,
                    devices=len(session.devices),
                )
            )
        return outputs

    def _on_ack(
        self, conn: Connection, session: Session, message: AckMessage, now: float
    ) -> list[Output]:
        payload = message.payload
        sequence = payload.sequence_number
        # Any JSON number may arrive; only whole ones name an update (and ints stay ints:
        # float() of a huge one would overflow).
        key = sequence if isinstance(sequence, int) else None
        if isinstance(sequence, float) and sequence.is_integer():
            key = int(sequence)
        conn.last_ack = sequence
        apply_time = payload.apply_time
        edited_at = None if key is None else conn.pending.get(key)
        if payload.success and key is not None:
            conn.pending.pop(key, None)
        outputs: list[Output] = [
            AckReceived(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                sequence=sequence,
                success=payload.success,
                latency_ms=None if edited_at is None else now - edited_at,
                apply_time_ms=float(apply_time) if isinstance(apply_time, int | float) else None,
                error=_opt_str(payload.error),
            )
        ]
        if key is not None:
            outputs += self._settle(session, conn.id, key, payload.success, now)
        return outputs

    def _settle(
        self, session: Session, connection_id: str, sequence: int, success: bool | None, now: float
    ) -> list[Output]:
        """Record one device's outcome for an update; report when nobody is left.

        ``success`` is ``None`` when the device left or moved past the update. A failure
        ack does not settle: the device is expected to reload, and the full update's ack
        settles the current update.
        """
        record = session.inflight.get(sequence)
        if record is None or connection_id not in record.waiting:
            return []
        if success is False:
            record.failed += 1
            return []
        record.waiting.discard(connection_id)
        if success:
            record.acked += 1
        if record.waiting:
            return []
        del session.inflight[sequence]
        return [
            UpdateAcked(
                session_id=session.id,
                sequence=sequence,
                acked=record.acked,
                failed=record.failed,
                latency_ms=now - record.edited_at,
            )
        ]

    def _broadcast(
        self, session: Session, schema: Schema, edited_at: float, now: float, edits: int
    ) -> list[Output]:
        """Diff, serialize once, and hand the same bytes to every device."""
        previous, previous_checksum = session.tracker.schema, session.tracker.checksum
        try:
            change = session.tracker.update(schema)
        except ProtocolError as exc:
            return [
                ErrorEvent(
                    message=f"schema refused, devices keep the previous one: {exc}",
                    code=ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
                    session_id=session.id,
                )
            ]
        if previous is not None and change.checksum == previous_checksum:
            return []  # nothing a device could see changed
        sequence = session.sequence + 1
        timestamp = int(now)
        full = serialize_message(
            create_update_message(
                session.id,
                create_full_update(schema, sequence, self.preserve_state, checksum=change.checksum),
                timestamp=timestamp,
            )
        )
        if len(full) > self.max_message_bytes:
            session.tracker = SchemaTracker(previous, algorithm=self.algorithm)
            return [
                ErrorEvent(
                    message=self._too_large(len(full)),
                    code=ProtocolErrorCode.UPDATE_FAILED,
                    session_id=session.id,
                )
            ]
        session.sequence = sequence
        session.full_update = (sequence, full)
        session.last_update_at = now
        data = full
        kind: UpdateKind = "full"
        delta = change.delta
        if change.incremental and delta is not None and should_use_incremental_update(delta):
            incremental = serialize_message(
                create_update_message(
                    session.id,
                    create_incremental_update(
                        delta, sequence, self.preserve_state, checksum=change.checksum
                    ),
                    timestamp=timestamp,
                )
            )
            if len(incremental) < len(full):
                data, kind = incremental, "incremental"
        return self._fan_out(session, sequence, data, kind, len(full), edited_at, edits)

    def _fan_out(
        self,
        session: Session,
        sequence: int,
        data: bytes,
        kind: UpdateKind,
        full_size: int,
        edited_at: float,
        edits: int,
    ) -> list[Output]:
        devices = list(session.devices.values())
        outputs: list[Output] = [Send(data=data, to=conn.id, update=sequence) for conn in devices]
        for conn in devices:
            conn.pending[sequence] = edited_at
            if len(conn.pending) > _MAX_PENDING:
                del conn.pending[next(iter(conn.pending))]
        if devices:
            session.inflight[sequence] = _Inflight(
                edited_at=edited_at, waiting={c.id for c in devices}
            )
            if len(session.inflight) > _MAX_PENDING:
                session.inflight.popitem(last=False)
        outputs.append(
            UpdateSent(
                session_id=session.id,
                sequence=sequence,
                kind=kind,
                size=len(data),
                full_size=full_size,
                devices=len(devices),
                edits=edits,
            )
        )
        return outputs

    def _full_update(self, session: Session, now: float) -> bytes:
        cached = session.full_update
        if cached is not None and cached[0] == session.sequence:
            return cached[1]
        schema, checksum = session.tracker.schema, session.tracker.checksum
        assert schema is not None
        assert checksum is not None
        update = create_full_update(
            schema, session.sequence, self.preserve_state, checksum=checksum
        )
        data = serialize_message(create_update_message(session.id, update, timestamp=int(now)))
        session.full_update = (session.sequence, data)
        return data

    def _rate_limit(self, conn: Connection, now: float) -> list[Output] | None:
        """Count a message; ``None`` lets it through, a list answers it instead."""
        if now - conn.window_start >= self.rate_window_ms:
            conn.strikes = conn.strikes + 1 if conn.window_dropped else 0
            conn.window_start, conn.window_count, conn.window_dropped = now, 0, 0
        conn.window_count += 1
        if conn.window_count <= self.max_messages:
            return None
        conn.window_dropped += 1
        if conn.window_dropped >= self.max_messages or conn.strikes + 1 >= self.rate_limit_strikes:
            return [
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                    "Rate limit exceeded, closing the connection",
                    "fatal",
                    False,
                    now,
                ),
                *self._close(conn, POLICY_VIOLATION, "Rate limit exceeded", "rate limit", now),
            ]
        if conn.window_dropped == 1:
            limit = f"{self.max_messages} messages per {self.rate_window_ms:g} ms"
            return [
                self._error(
                    conn.session_id,
                    conn.id,
                    ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                    f"Rate limit exceeded ({limit}): messages are dropped",
                    "warning",
                    True,
                    now,
                ),
                ErrorEvent(
                    message=f"rate limit exceeded by connection {conn.id}",
                    code=ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                    session_id=conn.session_id,
                    connection_id=conn.id,
                ),
            ]
        return []

    def _expire(self, session: Session, now: float) -> list[Output]:
        outputs: list[Output] = []
        for conn in list(self._connections.values()):
            if conn.session_id == session.id:
                outputs.append(
                    self._error(
                        session.id,
                        conn.id,
                        ProtocolErrorCode.SESSION_EXPIRED,
                        "Session expired",
                        "fatal",
                        False,
                        now,
                    )
                )
                outputs += self._close(
                    conn, CloseCode.SESSION_EXPIRED, "Session expired", "session expired", now
                )
        del self._sessions[session.id]
        self._expired[session.id] = None
        if len(self._expired) > _MAX_EXPIRED:
            self._expired.popitem(last=False)
        outputs.append(SessionExpired(session_id=session.id))
        return outputs

    def _close(
        self, conn: Connection, code: int, reason: str, why: str, now: float
    ) -> list[Output]:
        return [Close(code=code, reason=reason, to=conn.id), *self._drop(conn, why, now)]

    def _drop(self, conn: Connection, why: str, now: float) -> list[Output]:
        """Forget a connection; its device leaves the session."""
        del self._connections[conn.id]
        was_connected = conn.state is ConnectionState.CONNECTED
        conn.state = ConnectionState.CLOSED
        session = self._sessions.get(conn.session_id)
        if session is None or not was_connected:
            return []
        del session.devices[conn.id]
        outputs: list[Output] = []
        for sequence in list(session.inflight):
            outputs += self._settle(session, conn.id, sequence, None, now)
        conn.pending.clear()
        outputs.append(
            DeviceDisconnected(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                reason=why,
                devices=len(session.devices),
            )
        )
        return outputs

    def _error(
        self,
        session_id: str,
        connection_id: str,
        code: ProtocolErrorCode,
        message: str,
        severity: _Severity,
        recoverable: bool,
        now: float,
    ) -> Send:
        error = create_error_message(
            session_id, code, message, severity, recoverable, timestamp=int(now)
        )
        return Send(data=serialize_message(error), to=connection_id)

    def _too_large(self, size: int) -> str:
        return (
            f"schema refused: its full update is {size} bytes, over the "
            f"{self.max_message_bytes}-byte message limit"
        )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
