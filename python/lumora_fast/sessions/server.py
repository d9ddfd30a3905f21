"""Sans-I/O hot-reload server: sessions, connections, updates, acks and timers.

:class:`ServerProtocol` is the whole server without sockets or clocks. The driver (for
example :mod:`lumora_fast.asyncio.server`) feeds it what happens and carries out what it
returns:

* :meth:`~ServerProtocol.open` when a WebSocket opens, :meth:`~ServerProtocol.receive`
  for each frame, :meth:`~ServerProtocol.connection_lost` when it ends;
* :meth:`~ServerProtocol.publish` when the schema of a session changes;
* :meth:`~ServerProtocol.tick` at :meth:`~ServerProtocol.next_deadline` (connect and
  heartbeat timeouts, session expiry, coalesced updates).

Each call takes ``now``, the current time in Unix milliseconds, and returns a list of
outputs (:mod:`lumora_fast.sessions.events`). Bad peer input becomes an output (an
``error`` message, a close code), never an exception; exceptions are for API misuse.
Nothing is ever addressed to a connection after its :class:`~.events.Close`, or after
:meth:`~ServerProtocol.connection_lost`.

On the wire this is the reference server (``hot-reload-server.ts``): path and session
checks, close codes 4400 / 4401 / 4404 / 4410 / 4426, ``INVALID_MESSAGE`` replies,
``connected`` carrying the current schema. Beyond it:

* every update carries the resulting schema's checksum, and incremental updates are sent
  only when exact and smaller;
* a device that acks failure and sends ``reload`` gets one full update;
* a second ``connect`` on a socket never registers the device twice;
* updates are coalesced (an isolated edit goes out at once, at most one update per
  ``update_interval_ms``, latest wins, the last edit always goes out);
* connections are rate-limited (1008 on abuse) and dropped after missed heartbeats
  (1000 "Connection timeout", as the reference does);
* a connection that sends no ``connect`` within ``connect_timeout_ms`` is closed with
  1000 "Connection timeout" too: a normal close, so a slow device reconnects, where 4401
  would stop it;
* a frame over ``max_inbound_bytes`` is refused unparsed: ``INVALID_MESSAGE``, then 1009.

The parts live in private modules, each tested alone: the rate window
(:mod:`._rate`), the update coalescer (:mod:`._coalescer`) and the ack ledger
(:mod:`._ledger`, the one record of which device owes which ack).
"""

from __future__ import annotations

import secrets
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import msgspec
from msgspec import UNSET

from lumora_fast import _backend
from lumora_fast.builders import (
    create_connected_message,
    create_error_message,
    create_incremental_update,
    create_patch_update,
    create_pong_message,
    create_update_message,
)
from lumora_fast.checksum import ChecksumAlgorithm
from lumora_fast.codec import deserialize_message, serialize_message
from lumora_fast.constants import (
    CONNECT_TIMEOUT_MS,
    HEARTBEAT_INTERVAL_MS,
    HEARTBEAT_MISSED_LIMIT,
    INCREMENTAL_THRESHOLD,
    MAX_INBOUND_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_SECOND,
    MAX_UPDATES_PER_SECOND,
    SESSION_TIMEOUT_MS,
    CloseCode,
    ProtocolErrorCode,
)
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import (
    AckMessage,
    ConnectMessage,
    ErrorMessage,
    PingMessage,
    ReloadMessage,
    Schema,
    SchemaDelta,
    SchemaUpdate,
)
from lumora_fast.tracker import SchemaTracker
from lumora_fast.validation import validate_protocol_version, validate_session_id

from ._coalescer import Coalescer
from ._history import MAX_HISTORY_BYTES, MAX_HISTORY_UPDATES, UpdateHistory
from ._ledger import AckLedger
from ._rate import RateVerdict, RateWindow
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
    UpdateKind,
    UpdateSent,
)

if TYPE_CHECKING:
    from lumora_fast._core import SchemaDocument

__all__ = ["POLICY_VIOLATION", "Connection", "ConnectionState", "ServerProtocol", "Session"]

POLICY_VIOLATION = int(CloseCode.POLICY_VIOLATION)
"""Standard WebSocket close code used for rate-limit abuse (the reference has none)."""

_Severity = Literal["warning", "error", "fatal"]
_MINOR_MISMATCH = "Protocol minor version mismatch"
_MAX_EXPIRED = 1024
"""Expired session ids remembered, so that late devices get 4410 rather than 4404."""
_ORDER: tuple[UpdateKind, ...] = ("full", "incremental", "patch")
"""Update types, in the order of preference between variants of the same size."""
REFERENCE_UPDATE_TYPES: frozenset[UpdateKind] = frozenset({"full", "incremental"})
"""What a device that lists no ``capabilities.updateTypes`` is sent: the reference's."""


class ConnectionState(Enum):
    """Where a connection is in the connect flow."""

    OPEN = "open"
    """WebSocket open, no ``connect`` yet."""
    CONNECTED = "connected"
    """``connect`` accepted: the device is registered in its session."""
    CLOSED = "closed"


@dataclass(eq=False)
class Session:
    """One hot-reload session: its schema, sequence numbers and devices.

    Read it, don't write it: :class:`ServerProtocol` owns the state.
    """

    id: str
    tracker: SchemaTracker
    created_at: float
    last_activity: float
    updates: Coalescer[Schema | SchemaDocument]
    """Holds the schemas published inside the coalescing window."""
    acks: AckLedger
    """Which device owes an ack for which update."""
    sequence: int = 0
    """Sequence number of the last update (0 before the first)."""
    devices: dict[str, Connection] = field(default_factory=dict)
    """Connected devices by connection id."""
    full_update: tuple[int, bytes] | None = None
    """The serialized full update for ``(sequence, bytes)``, reused for every resync."""
    schema_json: tuple[int, bytes | memoryview] | None = None
    """The current schema serialized, for ``(sequence, bytes)``: written once per
    version, and embedded in every ``connected`` and full update of that version. Once
    the full update is built, a view of the schema inside it (one copy kept, not two)."""
    history: UpdateHistory = field(default_factory=UpdateHistory)
    """The last updates as patch frames, for devices that resume."""
    schema_error: bytes | None = None
    """The ``error`` message of the last refused save, until a schema is accepted: every
    device that connects meanwhile is sent it after ``connected``."""

    @property
    def schema(self) -> SchemaDocument | None:
        """The current schema (what ``connected`` and a resync carry), as the
        :class:`~lumora_fast.SchemaDocument` the server keeps (``to_python()`` gives its
        value)."""
        schema = self.tracker.schema
        assert not isinstance(schema, dict)  # the server tracks documents only
        return schema

    @property
    def checksum(self) -> str | None:
        """The current schema's checksum."""
        return self.tracker.checksum

    @property
    def pending(self) -> Schema | SchemaDocument | None:
        """Latest schema published inside the coalescing window, not sent yet."""
        held = self.updates.held
        return None if held is None else held.item

    @property
    def last_update_at(self) -> float | None:
        """When the last update went out (``None`` before the first)."""
        return self.updates.last_sent_at

    @property
    def inflight(self) -> Mapping[int, frozenset[str]]:
        """Unacked updates: sequence number -> connection ids that owe an ack."""
        return self.acks.waiting()


@dataclass(eq=False)
class Connection:
    """One WebSocket connection to a session (read-only for callers)."""

    id: str
    session_id: str
    opened_at: float
    last_seen: float
    rate: RateWindow
    """This connection's message count."""
    ledger: AckLedger = field(repr=False)
    """Its session's ack ledger (what :attr:`pending` reads)."""
    state: ConnectionState = ConnectionState.OPEN
    device_id: str = ""
    platform: str = ""
    device_name: str | None = None
    last_ack: int | float | None = None
    """Sequence number of the last ack received."""
    update_types: frozenset[UpdateKind] = REFERENCE_UPDATE_TYPES
    """The update types this device applies (what it listed in ``connect``, and always
    ``"full"``)."""
    last_update_type: UpdateKind | None = None
    """The type of the last update sent to it."""

    @property
    def pending(self) -> Mapping[int, float]:
        """Sent, unacked updates: sequence number -> since when (a read-only copy)."""
        return MappingProxyType(self.ledger.owed(self.id))


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
        connect_timeout_ms: A connection that has not sent ``connect`` this long after
            opening is closed (1000 "Connection timeout").
        update_interval_ms: Minimum time between two updates of a session (100 ms = at
            most 10 updates/s). Edits inside it coalesce, latest wins.
        max_messages: Messages accepted per connection per ``rate_window_ms``.
        rate_window_ms: The rate-limit window.
        rate_limit_strikes: Close a connection after this many consecutive windows
            over the limit (it is also closed when it sends twice the limit in one).
        max_message_bytes: Largest full update sent: a schema whose full update is
            larger is refused.
        max_inbound_bytes: Largest frame accepted from a device; a larger one is refused
            without parsing and the connection closed (1009). A driver should also give
            it to its WebSocket library as the maximum message size.
        max_unacked: Unacked updates remembered per session (the oldest are forgotten:
            a device that never acks must not grow the server's memory).
        history_updates: Updates kept per session for devices that resume...
        history_bytes: ...within this many bytes of patch frames. A device that was
            away longer gets the whole schema.
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
        connect_timeout_ms: float = CONNECT_TIMEOUT_MS,
        update_interval_ms: float = 1000 / MAX_UPDATES_PER_SECOND,
        max_messages: int = MAX_MESSAGES_PER_SECOND,
        rate_window_ms: float = 1000,
        rate_limit_strikes: int = 3,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_inbound_bytes: int = MAX_INBOUND_BYTES,
        max_unacked: int = 64,
        history_updates: int = MAX_HISTORY_UPDATES,
        history_bytes: int = MAX_HISTORY_BYTES,
        session_id_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.algorithm: ChecksumAlgorithm = algorithm
        self.preserve_state = preserve_state
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeat_missed_limit = heartbeat_missed_limit
        self.heartbeat_timeout_ms = heartbeat_interval_ms * heartbeat_missed_limit
        self.connect_timeout_ms = connect_timeout_ms
        self.update_interval_ms = update_interval_ms
        self.max_messages = max_messages
        self.rate_window_ms = rate_window_ms
        self.rate_limit_strikes = rate_limit_strikes
        self.max_message_bytes = max_message_bytes
        self.max_inbound_bytes = max_inbound_bytes
        self.max_unacked = max_unacked
        self.history_updates = history_updates
        self.history_bytes = history_bytes
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
        self,
        now: float,
        schema: Schema | SchemaDocument | None = None,
        *,
        session_id: str | None = None,
    ) -> Session:
        """Start a session, optionally with an initial schema (sent in ``connected``).

        The server keeps schemas as :class:`~lumora_fast.SchemaDocument` objects: a dict
        given here or to :meth:`publish` is converted (and may be changed afterwards).

        Raises:
            ProtocolError: ``schema`` is not JSON or cannot be checksummed, or its full
                update would exceed ``max_message_bytes``.
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
            tracker=SchemaTracker(algorithm=self.algorithm),
            created_at=now,
            last_activity=now,
            updates=Coalescer(self.update_interval_ms),
            acks=AckLedger(session_id, limit=self.max_unacked),
            history=UpdateHistory(max_updates=self.history_updates, max_bytes=self.history_bytes),
        )
        if schema is not None:
            change = session.tracker.update_encoded(_as_document(schema), delta=False)
            # Sized from the checksum's walk when it can be: the schema is written when
            # the first device connects (an idle session holds no copy of it).
            if change.json_len is None:
                size = len(self._full_update(session, now))
            else:
                size = len(self._full_envelope(session, now)) + len(_SCHEMA_MEMBER)
                size += change.json_len
            if size > self.max_message_bytes:
                raise ProtocolError(self._too_large(size), code=ProtocolErrorCode.UPDATE_FAILED)
            session.history.start(session.sequence, change.checksum)
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
            outputs += self._close(
                conn, code=CloseCode.NORMAL, reason="Session closed", why="session closed", now=now
            )
        del self._sessions[session_id]
        return outputs

    def publish(self, session_id: str, schema: Schema | SchemaDocument, now: float) -> list[Output]:
        """Make ``schema`` the session's schema and update its devices.

        An isolated edit goes out at once. Within ``update_interval_ms`` of the last
        update, the schema is held and sent when the interval ends (a later publish
        replaces it: latest wins). A schema the tracker refuses, or whose full update is
        too large, becomes an :class:`ErrorEvent` and the previous schema stays.
        A :class:`~lumora_fast.SchemaDocument` (what
        :func:`~lumora_fast.sessions.schema.parse_document` makes of a file) is used as
        it is; a dict is converted when the update is sent, so do not change it while
        it is held.

        Raises:
            KeyError: No such live session.
        """
        session = self._sessions[session_id]
        session.last_activity = now
        batch = session.updates.offer(schema, now)
        if batch is None:
            return []
        return self._broadcast(session, batch.item, batch.edited_at, now, batch.edits)

    def report_schema_error(
        self,
        session_id: str,
        message: str,
        now: float,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> list[Output]:
        """A save was refused before :meth:`publish` (the file is not a valid schema).

        Every device of the session is sent an ``error`` message (code
        ``SCHEMA_VALIDATION_FAILED``, severity ``error``, recoverable), and so is every
        device that connects until a schema is accepted. The next update sent says the
        error is resolved (``errorCleared: true``). :meth:`publish` reports the saves it
        refuses itself (too large, not checksummable).

        Args:
            message: What is wrong, for a person.
            line: Where (1-based), when known; sent in ``details`` with ``column``.

        Raises:
            KeyError: No such live session.
        """
        session = self._sessions[session_id]
        session.last_activity = now
        details = None
        if line is not None:
            details = f"line {line}" if column is None else f"line {line}, column {column}"
        return self._schema_error(session, message, details, now)

    # --------------------------------------------------------------- connections

    def open(self, session_id: str | None, now: float) -> tuple[str, list[Output]]:
        """A WebSocket opened with ``?session=<session_id>``.

        Returns:
            The new connection's id, and the outputs. A refused connection (no session
            id: 4400; unknown: 4404; expired: 4410) gets a :class:`Close` and is not
            kept; the others wait for ``connect`` (for ``connect_timeout_ms`` at most).
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
                self._error(
                    session_id=session_id,
                    to=connection_id,
                    code=code,
                    message=reason,
                    severity="fatal",
                    recoverable=False,
                    now=now,
                )
            )
            outputs.append(Close(code=close_code, reason=reason, to=connection_id))
            return connection_id, outputs
        self._connections[connection_id] = Connection(
            id=connection_id,
            session_id=session_id,
            opened_at=now,
            last_seen=now,
            rate=RateWindow(
                limit=self.max_messages,
                window_ms=self.rate_window_ms,
                max_strikes=self.rate_limit_strikes,
                start=now,
            ),
            ledger=session.acks,
        )
        session.last_activity = now
        return connection_id, outputs

    def receive(self, connection_id: str, data: bytes | str, now: float) -> list[Output]:
        """A frame arrived on a connection (unknown or closed connections are ignored)."""
        conn = self._connections.get(connection_id)
        if conn is None:
            return []
        size = _oversize(data, self.max_inbound_bytes)
        if size is not None:
            # Refused unread: parsing it is the cost a hostile peer wants us to pay.
            text = f"message is {size} bytes, over the limit of {self.max_inbound_bytes}"
            return [
                *self._fail(
                    conn,
                    code=ProtocolErrorCode.INVALID_MESSAGE,
                    message=f"Failed to deserialize message: {text}",
                    severity="fatal",
                    close_code=CloseCode.MESSAGE_TOO_BIG,
                    reason="Message too big",
                    why="message too big",
                    now=now,
                ),
                ErrorEvent(
                    message=f"invalid message: {text}",
                    code=ProtocolErrorCode.INVALID_MESSAGE,
                    session_id=conn.session_id,
                    connection_id=conn.id,
                ),
            ]
        session = self._sessions[conn.session_id]
        conn.last_seen = now
        session.last_activity = now

        verdict = conn.rate.check(now)
        if verdict is not RateVerdict.PASS:
            return self._rate_limited(conn, verdict, now)

        try:
            message = deserialize_message(data, validate=True)
        except ProtocolError as exc:
            # The reference answers with the parser's message and keeps the connection.
            return [
                self._error(
                    session_id=conn.session_id,
                    to=conn.id,
                    code=ProtocolErrorCode.INVALID_MESSAGE,
                    message=str(exc),
                    severity="error",
                    recoverable=True,
                    now=now,
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
            return self._fail(
                conn,
                code=ProtocolErrorCode.SESSION_NOT_FOUND,
                message="Session ID mismatch",
                severity="error",
                close_code=CloseCode.SESSION_REQUIRED,
                reason="Session ID mismatch",
                why="session id mismatch",
                now=now,
            )
        if isinstance(message, ConnectMessage):
            return self._on_connect(conn, session, message, now)
        if conn.state is not ConnectionState.CONNECTED:
            return self._fail(
                conn,
                code=ProtocolErrorCode.AUTHENTICATION_FAILED,
                message="Must send connect message first",
                severity="error",
                close_code=CloseCode.NOT_CONNECTED,
                reason="Not authenticated",
                why="not connected",
                now=now,
            )
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
        return [
            Send(data=self._full_update(session, now), to=conn.id, update=sequence),
            *session.acks.resent(conn.id, sequence, now),
            Resync(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                sequence=sequence,
                reason=reason,
            ),
        ]

    # --------------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`tick` has something to do (``None``: nothing).

        Ticking at (or after) it always does that thing, so the next deadline is later.
        """
        deadlines: list[float] = []
        for session in self._sessions.values():
            deadlines.append(session.last_activity + self.session_timeout_ms)
            held = session.updates.deadline()
            if held is not None:
                deadlines.append(held)
        for conn in self._connections.values():
            deadlines.append(self._timeout(conn)[0])
        return min(deadlines, default=None)

    def tick(self, now: float) -> list[Output]:
        """Do what is due: drop silent connections, expire sessions, send coalesced updates.

        Closing first means no update is handed to a connection about to be closed.
        """
        outputs: list[Output] = []
        for conn in list(self._connections.values()):
            deadline, why = self._timeout(conn)
            if now >= deadline:
                # The reference closes a silent device with 1000 "Connection timeout".
                outputs += self._close(
                    conn, code=CloseCode.NORMAL, reason="Connection timeout", why=why, now=now
                )
        for session in list(self._sessions.values()):
            if now >= session.last_activity + self.session_timeout_ms:
                outputs += self._expire(session, now)
        for session in self._sessions.values():
            batch = session.updates.due(now)
            if batch is not None:
                outputs += self._broadcast(session, batch.item, batch.edited_at, now, batch.edits)
        return outputs

    def _timeout(self, conn: Connection) -> tuple[float, str]:
        """When ``conn`` times out, and why: no ``connect``, or no heartbeat."""
        heartbeat = conn.last_seen + self.heartbeat_timeout_ms
        if conn.state is ConnectionState.CONNECTED:
            return heartbeat, "heartbeat timeout"
        connect = conn.opened_at + self.connect_timeout_ms
        if connect <= heartbeat:
            return connect, "connect timeout"
        return heartbeat, "heartbeat timeout"

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
                return self._fail(
                    conn,
                    code=ProtocolErrorCode.UNSUPPORTED_VERSION,
                    message=text,
                    severity="fatal",
                    close_code=CloseCode.UNSUPPORTED_VERSION,
                    reason="Unsupported protocol version",
                    why="unsupported version",
                    now=now,
                )
            # Same major version: the message itself says "may have limited features".
            # Warn and carry on rather than refuse a compatible device.
            outputs.append(
                self._error(
                    session_id=conn.session_id,
                    to=conn.id,
                    code=ProtocolErrorCode.UNSUPPORTED_VERSION,
                    message=text,
                    severity="warning",
                    recoverable=True,
                    now=now,
                )
            )
        first = conn.state is not ConnectionState.CONNECTED
        conn.device_id = payload.device_id
        conn.platform = payload.platform
        conn.device_name = _opt_str(payload.device_name)
        advertised: list[UpdateKind] | None = None
        capabilities = payload.capabilities
        if capabilities is not UNSET and capabilities.update_types is not UNSET:
            # A device that lists its types gets them, and "full" whatever it says: a
            # resync is always a full update.
            listed = set(capabilities.update_types)
            advertised = [kind for kind in _ORDER if kind == "full" or kind in listed]
            conn.update_types = frozenset(advertised)
        else:
            conn.update_types = REFERENCE_UPDATE_TYPES
        replay: list[tuple[int, bytes]] | None = None
        resume = payload.resume
        if resume is not UNSET and "patch" in conn.update_types and session.schema is not None:
            replay = session.history.since(resume.sequence_number, resume.checksum)
        if first:
            conn.state = ConnectionState.CONNECTED
            session.devices[conn.id] = conn
        else:
            # A second connect on the same socket: same registration, fresh state. The
            # device resets to the schema in `connected`, so older updates are moot.
            outputs += session.acks.forget(conn.id, now)
        connected = serialize_message(
            create_connected_message(
                conn.session_id,
                conn.id,
                None,
                timestamp=int(now),
                checksum_algorithms=self._algorithms,
                update_types=advertised,
                resumed=replay is not None,
            )
        )
        if replay is None and session.schema is not None:
            # The schema's bytes are written once per version, not once per device.
            connected = _with_initial_schema(connected, self._schema_json(session))
        outputs.insert(0, Send(data=connected, to=conn.id))
        if replay:
            # The missed updates, in order, as they were sent; the device owes the last.
            outputs += [Send(data=frame, to=conn.id, update=seq) for seq, frame in replay]
            outputs += session.acks.resent(conn.id, replay[-1][0], now)
            conn.last_update_type = "patch"
        if session.schema_error is not None:
            outputs.append(Send(data=session.schema_error, to=conn.id))
        if first:
            outputs.append(
                DeviceConnected(
                    session_id=session.id,
                    connection_id=conn.id,
                    device_id=conn.device_id,
                    platform=conn.platform,
                    device_name=conn.device_name,
                    devices=len(session.devices),
                    update_types=sorted(conn.update_types, key=_ORDER.index),
                    resumed=None if replay is None else len(replay),
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
        since: float | None = None
        settled: list[Output] = []
        if key is not None:
            since, reports = session.acks.acked(conn.id, key, payload.success, now)
            settled += reports
        apply_time = payload.apply_time
        return [
            AckReceived(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                sequence=sequence,
                success=payload.success,
                latency_ms=None if since is None else now - since,
                apply_time_ms=float(apply_time) if isinstance(apply_time, int | float) else None,
                error=_opt_str(payload.error),
            ),
            *settled,
        ]

    def _broadcast(
        self,
        session: Session,
        schema: Schema | SchemaDocument,
        edited_at: float,
        now: float,
        edits: int,
    ) -> list[Output]:
        """Diff, serialize each variant once, and give every device the smallest it takes."""
        previous, previous_checksum = session.tracker.schema, session.tracker.checksum
        try:
            document = _as_document(schema)
            # The delta's JSON is written only for a device that would take it: one
            # that takes incremental updates and not patches (a patch is the smaller
            # of the two almost always, and devices that take patches get the smallest).
            # With no device, for the record (UpdateSent) of what the reference sends.
            change = session.tracker.update_encoded(
                document,
                delta=not session.devices
                or any(
                    "incremental" in conn.update_types and "patch" not in conn.update_types
                    for conn in session.devices.values()
                ),
            )
        except ProtocolError as exc:
            return self._refuse(
                session,
                f"schema refused, devices keep the previous one: {exc}",
                str(exc),
                ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
                now,
            )
        clears_error = session.schema_error is not None
        if previous is not None and change.checksum == previous_checksum and not clears_error:
            return []  # nothing a device could see changed
        sequence = session.sequence + 1
        timestamp = int(now)

        def frame(update: SchemaUpdate) -> bytes:
            if clears_error:
                update = msgspec.structs.replace(update, error_cleared=True)
            message = create_update_message(session.id, update, timestamp=timestamp)
            return serialize_message(message)

        full_envelope = frame(
            SchemaUpdate(
                type="full",
                preserve_state=self.preserve_state,
                sequence_number=sequence,
                checksum=change.checksum,
            )
        )
        full: bytes | None = None

        def full_frame() -> bytes:
            """The full update: the schema is written (once) only if a device needs it
            now or its size is not known without writing it."""
            nonlocal full
            if full is None:
                schema_json = document.dumps()
                full = _with_schema(full_envelope, schema_json)
                session.full_update = (sequence, full)
                session.schema_json = (sequence, _schema_of(full, len(schema_json)))
            return full

        if change.json_len is None:
            full_size = len(full_frame())
        else:
            full_size = len(full_envelope) + len(_SCHEMA_MEMBER) + change.json_len
        if full_size > self.max_message_bytes:
            session.full_update = session.schema_json = None
            session.tracker = SchemaTracker(previous, algorithm=self.algorithm)
            text = self._too_large(full_size)
            return self._refuse(session, text, text, ProtocolErrorCode.UPDATE_FAILED, now)
        session.sequence = sequence
        if full is None:
            # Built when a device needs it (this update's, a connect, a resync).
            session.full_update = session.schema_json = None
        session.updates.sent(now)
        session.schema_error = None
        frames: dict[UpdateKind, bytes] = {}
        # The delta and the patch come as JSON from the tracker (no Python object per
        # value): each goes into its update where serialize_message writes it.
        if (
            change.incremental
            and change.delta is not None
            and 0 < change.delta_changes < INCREMENTAL_THRESHOLD
        ):
            frames["incremental"] = _with_delta(
                frame(
                    create_incremental_update(
                        _EMPTY_DELTA, sequence, self.preserve_state, checksum=change.checksum
                    )
                ),
                change.delta,
            )
        if change.patch is None:
            session.history.start(sequence, change.checksum)
        else:
            frames["patch"] = _with_patch(
                frame(
                    create_patch_update([], sequence, self.preserve_state, checksum=change.checksum)
                ),
                change.patch,
            )
            session.history.add(sequence, change.checksum, frames["patch"])
        sizes: dict[UpdateKind, int] = {"full": full_size}
        sizes.update((k, len(v)) for k, v in frames.items())
        # Smallest first; on a tie the simpler type (full before a patch of equal size).
        ranked = sorted(sizes, key=lambda k: (sizes[k], _ORDER.index(k)))
        sends: list[Output] = []
        counts: dict[str, int] = {}
        devices = list(session.devices.values())
        for conn in devices:
            kind = next(kind for kind in ranked if kind in conn.update_types)
            conn.last_update_type = kind
            counts[kind] = counts.get(kind, 0) + 1
            data = full_frame() if kind == "full" else frames[kind]
            sends.append(Send(data=data, to=conn.id, update=sequence))
        session.acks.sent(sequence, [conn.id for conn in devices], edited_at)
        # What most devices got; with none, what a reference device would get.
        got = [k for k in ranked if k in counts] or [
            next(k for k in ranked if k in REFERENCE_UPDATE_TYPES)
        ]
        kind = min(got, key=lambda k: (-counts.get(k, 0), sizes[k]))
        sends.append(
            UpdateSent(
                session_id=session.id,
                sequence=sequence,
                kind=kind,
                size=sizes[kind],
                full_size=full_size,
                devices=len(devices),
                edits=edits,
                sizes={str(k): v for k, v in sizes.items()},
                counts=dict(counts),
            )
        )
        return sends

    def _refuse(
        self, session: Session, event: str, message: str, code: ProtocolErrorCode, now: float
    ) -> list[Output]:
        """A published schema was refused: tell the application and every device."""
        return [
            *self._schema_error(session, message, None, now),
            ErrorEvent(message=event, code=code, session_id=session.id),
        ]

    def _schema_error(
        self, session: Session, message: str, details: str | None, now: float
    ) -> list[Output]:
        """Remember the refused save's ``error`` message and send it to every device."""
        error = create_error_message(
            session.id,
            ProtocolErrorCode.SCHEMA_VALIDATION_FAILED,
            message,
            "error",
            True,
            details,
            timestamp=int(now),
        )
        data = serialize_message(error)
        session.schema_error = data
        return [Send(data=data, to=conn) for conn in session.devices]

    def full_update(
        self, session_id: str, now: float, *, preserve_state: bool | None = None
    ) -> bytes | None:
        """The session's current schema as a serialized full ``update`` message.

        It carries the current sequence number and checksum (a device that applies it
        acks what it already owes or has acked); ``preserve_state`` defaults to the
        server's. Built from the schema bytes serialized once per version.

        Returns:
            The message, or ``None`` when the session has no schema yet.

        Raises:
            KeyError: No such live session.
        """
        session = self._sessions[session_id]
        if session.schema is None:
            return None
        return self._full_update(session, now, preserve_state)

    def _full_update(
        self, session: Session, now: float, preserve_state: bool | None = None
    ) -> bytes:
        keep = preserve_state is None or preserve_state == self.preserve_state
        cached = session.full_update
        if keep and cached is not None and cached[0] == session.sequence:
            return cached[1]
        envelope = self._full_envelope(session, now, preserve_state)
        schema_json = self._schema_json(session)
        data = _with_schema(envelope, schema_json)
        if keep:
            session.full_update = (session.sequence, data)
            session.schema_json = (session.sequence, _schema_of(data, len(schema_json)))
        return data

    def _full_envelope(
        self, session: Session, now: float, preserve_state: bool | None = None
    ) -> bytes:
        """The current full update without its schema (see :func:`_with_schema`)."""
        checksum = session.tracker.checksum
        assert checksum is not None
        update = SchemaUpdate(
            type="full",
            preserve_state=self.preserve_state if preserve_state is None else preserve_state,
            sequence_number=session.sequence,
            checksum=checksum,
        )
        return serialize_message(create_update_message(session.id, update, timestamp=int(now)))

    @staticmethod
    def _schema_json(session: Session) -> bytes | memoryview:
        """The current schema, serialized once per version."""
        cached = session.schema_json
        if cached is not None and cached[0] == session.sequence:
            return cached[1]
        schema = session.schema
        assert schema is not None
        data = schema.dumps()
        session.schema_json = (session.sequence, data)
        return data

    def _rate_limited(self, conn: Connection, verdict: RateVerdict, now: float) -> list[Output]:
        """Answer a message the rate window did not let through."""
        if verdict is RateVerdict.CLOSE:
            return self._fail(
                conn,
                code=ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                message="Rate limit exceeded, closing the connection",
                severity="fatal",
                close_code=CloseCode.POLICY_VIOLATION,
                reason="Rate limit exceeded",
                why="rate limit",
                now=now,
            )
        if verdict is RateVerdict.DROP:
            return []
        limit = f"{self.max_messages} messages per {self.rate_window_ms:g} ms"
        return [
            self._error(
                session_id=conn.session_id,
                to=conn.id,
                code=ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                message=f"Rate limit exceeded ({limit}): messages are dropped",
                severity="warning",
                recoverable=True,
                now=now,
            ),
            ErrorEvent(
                message=f"rate limit exceeded by connection {conn.id}",
                code=ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
                session_id=conn.session_id,
                connection_id=conn.id,
            ),
        ]

    def _expire(self, session: Session, now: float) -> list[Output]:
        outputs: list[Output] = []
        for conn in [c for c in self._connections.values() if c.session_id == session.id]:
            outputs += self._fail(
                conn,
                code=ProtocolErrorCode.SESSION_EXPIRED,
                message="Session expired",
                severity="fatal",
                close_code=CloseCode.SESSION_EXPIRED,
                reason="Session expired",
                why="session expired",
                now=now,
            )
        del self._sessions[session.id]
        self._expired[session.id] = None
        if len(self._expired) > _MAX_EXPIRED:
            self._expired.popitem(last=False)
        outputs.append(SessionExpired(session_id=session.id))
        return outputs

    def _fail(
        self,
        conn: Connection,
        *,
        code: ProtocolErrorCode,
        message: str,
        severity: _Severity,
        close_code: int,
        reason: str,
        why: str,
        now: float,
    ) -> list[Output]:
        """An unrecoverable ``error`` message, then the close: the connection is gone."""
        return [
            self._error(
                session_id=conn.session_id,
                to=conn.id,
                code=code,
                message=message,
                severity=severity,
                recoverable=False,
                now=now,
            ),
            *self._close(conn, code=close_code, reason=reason, why=why, now=now),
        ]

    def _close(
        self, conn: Connection, *, code: int, reason: str, why: str, now: float
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
        return [
            *session.acks.forget(conn.id, now),
            DeviceDisconnected(
                session_id=session.id,
                connection_id=conn.id,
                device_id=conn.device_id,
                reason=why,
                devices=len(session.devices),
            ),
        ]

    def _error(
        self,
        *,
        session_id: str,
        to: str,
        code: ProtocolErrorCode,
        message: str,
        severity: _Severity,
        recoverable: bool,
        now: float,
    ) -> Send:
        """An ``error`` message for connection ``to``."""
        error = create_error_message(
            session_id, code, message, severity, recoverable, timestamp=int(now)
        )
        return Send(data=serialize_message(error), to=to)

    def _too_large(self, size: int) -> str:
        return (
            f"schema refused: its full update is {size} bytes, over the "
            f"{self.max_message_bytes}-byte message limit"
        )


_FULL_PAYLOAD = b'"payload":{"type":"full",'
_EMPTY_DELTA = SchemaDelta(added=[], modified=[], removed=[])
_SCHEMA_MEMBER = b'"schema":,'
"""What :func:`_with_schema` adds to a full update besides the schema itself."""
_DELTA_MARK = b'"delta":'
_EMPTY_DELTA_JSON = b'{"added":[],"modified":[],"removed":[]}'
_PATCH_MARK = b'"payload":{"type":"patch","patch":'
_CAPABILITIES = b',"capabilities":'


def _as_document(schema: Schema | SchemaDocument) -> SchemaDocument:
    """``schema`` as a document (a dict is converted: the server keeps no Python tree).

    Raises:
        ProtocolError: ``schema`` is not JSON.
    """
    core = _backend.core
    if isinstance(schema, core.SchemaDocument):
        return schema
    document: SchemaDocument = core.SchemaDocument.from_python(schema)
    return document


def _schema_of(full: bytes, size: int) -> memoryview:
    """The schema inside a full update made by :func:`_with_schema` (``size`` bytes)."""
    at = full.index(_FULL_PAYLOAD) + len(_FULL_PAYLOAD) + len(b'"schema":')
    return memoryview(full)[at : at + size]


def _with_schema(update: bytes, schema: bytes | memoryview) -> bytes:
    """A serialized full update without its schema, with ``schema`` (JSON) put where
    ``serialize_message`` writes it: first in the payload after ``type``.

    The marker cannot occur earlier: the session id before it is a JSON string, in which
    a quote is escaped.
    """
    at = update.index(_FULL_PAYLOAD) + len(_FULL_PAYLOAD)
    return b"".join((update[:at], b'"schema":', schema, b",", update[at:]))


def _with_delta(update: bytes, delta: bytes) -> bytes:
    """A serialized incremental update of an empty delta, with ``delta`` (JSON) in its
    place. The delta is the first member of the payload after ``type``: no earlier
    ``"delta":`` can occur (the session id is a JSON string, in which a quote is
    escaped)."""
    at = update.index(_DELTA_MARK) + len(_DELTA_MARK)
    assert update.startswith(_EMPTY_DELTA_JSON, at)
    return b"".join((update[:at], delta, update[at + len(_EMPTY_DELTA_JSON) :]))


def _with_patch(update: bytes, patch: bytes) -> bytes:
    """A serialized patch update of no ops, with ``patch`` (a JSON array) in their place."""
    at = update.index(_PATCH_MARK) + len(_PATCH_MARK)
    assert update.startswith(b"[]", at)
    return b"".join((update[:at], patch, update[at + 2 :]))


def _with_initial_schema(connected: bytes, schema: bytes | memoryview) -> bytes:
    """A serialized ``connected`` without ``initialSchema``, with ``schema`` put where
    ``serialize_message`` writes it: after ``connectionId``, before ``capabilities``."""
    at = connected.index(_CAPABILITIES)
    return b"".join((connected[:at], b',"initialSchema":', schema, connected[at:]))


def _oversize(data: bytes | str, limit: int) -> int | None:
    """The frame's size in UTF-8 bytes when it is over ``limit``, else ``None``."""
    if isinstance(data, str):
        if len(data) * 4 <= limit:
            return None  # a code point takes 4 bytes at most: no need to encode
        size = len(data.encode("utf-8", "surrogatepass"))
    else:
        size = len(data)
    return size if size > limit else None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
