"""What the status page and ``/status.json`` show: a record kept from the server's events.

The sans-I/O server keeps what it needs to run the protocol (devices, sequence numbers,
the ack ledger); :class:`StatusBoard` keeps what a person wants to see besides, from the
events the driver already receives: each update's fan-out (sent to how many devices,
acked by how many, the edit-to-ack latency), each device's last latency and the update
type it gets, and the errors (refused saves, devices' reports) as they happen. It holds
a bounded history and is read by :meth:`StatusBoard.snapshot`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from lumora_fast._version import __version__
from lumora_fast.sessions.events import (
    AckReceived,
    DeviceConnected,
    DeviceDisconnected,
    ErrorEvent,
    Event,
    Resync,
    SessionExpired,
    UpdateAcked,
    UpdateSent,
)

if TYPE_CHECKING:
    from lumora_fast.sessions.server import Connection, Session

    from .server import Server

__all__ = ["StatusBoard", "UpdateRecord", "qr_svg"]

UpdateReason = Literal["edit", "push", "push-reset"]

_REFUSED = "SCHEMA_VALIDATION_FAILED"
"""The code of a refused save: the next update sent resolves it."""


@lru_cache(maxsize=8)
def qr_svg(text: str) -> str:
    """An ``<svg>`` element holding ``text`` as a QR code (black on white, 4-module border).

    Raises:
        ImportError: segno is not installed (it is a dependency of lumora_fast).
    """
    import segno  # noqa: PLC0415 (only the page and the terminal need it)

    code = segno.make(text, error="m", micro=False)
    svg: str = code.svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr")
    return svg


def _type_order(kind: str) -> tuple[int, str]:
    known = ("full", "incremental", "patch")
    return (known.index(kind) if kind in known else len(known), kind)


def _now() -> float:
    return time.time() * 1000.0


@dataclass(eq=False)
class UpdateRecord:
    """One update's fan-out: an edit's update, or a full update pushed by hand."""

    session_id: str
    sequence: int
    kind: str
    size: int
    sent_at: float
    """Unix ms when it was handed out."""
    sent_to: int
    reason: UpdateReason = "edit"
    edits: int = 1
    waiting: set[str] = field(default_factory=set)
    """Connection ids that have neither acked nor left."""
    acked: int = 0
    failed: int = 0
    latency_ms: float | None = None
    """From the edit (or the push) to the last device's ack; ``None`` until settled."""
    first_ack_ms: float | None = None
    reported: bool = False
    """True once :attr:`StatusBoard.on_settled` was called with it."""

    @property
    def settled(self) -> bool:
        """True once every device it went to acked it or left."""
        return not self.waiting

    def to_json(self) -> dict[str, Any]:
        """The row ``/status.json`` shows."""
        return {
            "sequence": self.sequence,
            "type": self.kind,
            "reason": self.reason,
            "bytes": self.size,
            "time": self.sent_at,
            "sent_to": self.sent_to,
            "acked": self.acked,
            "failed": self.failed,
            "waiting": len(self.waiting),
            "latency_ms": self.latency_ms,
            "first_ack_ms": self.first_ack_ms,
            "edits": self.edits,
        }


@dataclass(eq=False)
class _DeviceRecord:
    connected_at: float
    latency_ms: float | None = None
    update_type: str | None = None
    """The type of the last update it was sent."""


class StatusBoard:
    """The status record of one :class:`~lumora_fast.asyncio.server.Server`.

    Args:
        server: The server whose protocol state and URLs the snapshot reads.
        history: Updates and errors remembered (the newest).
    """

    def __init__(self, server: Server, *, history: int = 20) -> None:
        self.server = server
        self.updates: deque[UpdateRecord] = deque(maxlen=history)
        self.errors: deque[dict[str, Any]] = deque(maxlen=history)
        self.version = 0
        """Counts the changes; the live view sends a snapshot when it moves."""
        self.on_sent: list[Callable[[UpdateRecord], None]] = []
        """Called with each update as it is handed out (an edit's, or a push)."""
        self.on_settled: list[Callable[[UpdateRecord], None]] = []
        """Called once with each update when its last device acks it or leaves."""
        self._devices: dict[str, _DeviceRecord] = {}
        self._changed = asyncio.Event()
        self._sizes: dict[str, int] = {}

    # ---------------------------------------------------------------- recording

    def record(self, event: Event) -> None:
        """Take in an event of the server's protocol."""
        now = _now()
        if isinstance(event, DeviceConnected):
            self._devices[event.connection_id] = _DeviceRecord(connected_at=now)
        elif isinstance(event, DeviceDisconnected):
            self._devices.pop(event.connection_id, None)
            for row in self.updates:
                if event.connection_id in row.waiting:
                    row.waiting.discard(event.connection_id)
                    self._settle_if_done(row)
        elif isinstance(event, UpdateSent):
            for error in self.errors:  # an accepted save resolves the refused ones
                if error["resolved_by"] is None and error["code"] == _REFUSED:
                    error["resolved_by"] = event.sequence
            session = self.server.protocol.sessions.get(event.session_id)
            devices = set(session.devices) if session is not None else set()
            for connection_id in devices:
                # Each device got the smallest variant it takes (full, incremental, patch).
                conn = session.devices[connection_id] if session is not None else None
                kind = conn.last_update_type if conn is not None else None
                self._device(connection_id).update_type = kind or event.kind
            self._add(
                UpdateRecord(
                    session_id=event.session_id,
                    sequence=event.sequence,
                    kind=event.kind,
                    size=event.size,
                    sent_at=now,
                    sent_to=event.devices,
                    edits=event.edits,
                    waiting=devices,
                ),
            )
        elif isinstance(event, AckReceived):
            self._on_ack(event, now)
        elif isinstance(event, UpdateAcked):
            for row in reversed(self.updates):
                if row.reason == "edit" and (row.session_id, row.sequence) == (
                    event.session_id,
                    event.sequence,
                ):
                    row.latency_ms = event.latency_ms
                    break
        elif isinstance(event, Resync):
            self._device(event.connection_id).update_type = "full"
        elif isinstance(event, ErrorEvent):
            self.report(event)
            return
        elif not isinstance(event, SessionExpired):
            return
        self._touch()

    def report(self, error: ErrorEvent) -> None:
        """Show an error (the server's own, or one from elsewhere, such as the watcher)."""
        self.errors.append(
            {
                "time": _now(),
                "message": error.message,
                "code": error.code,
                "session": error.session_id,
                "resolved_by": None,
            }
        )
        self._touch()

    def pushed(
        self,
        session_id: str,
        sequence: int,
        size: int,
        devices: set[str],
        *,
        preserve_state: bool,
    ) -> UpdateRecord:
        """A full update was pushed by hand to ``devices`` (see :meth:`Server.push_full`)."""
        now = _now()
        for connection_id in devices:
            self._device(connection_id).update_type = "full"
        row = UpdateRecord(
            session_id=session_id,
            sequence=sequence,
            kind="full",
            size=size,
            sent_at=now,
            sent_to=len(devices),
            reason="push" if preserve_state else "push-reset",
            waiting=set(devices),
        )
        self._add(row)
        self._touch()
        return row

    def touch(self) -> None:
        """Something the snapshot shows changed outside the events (a new session)."""
        self._touch()

    def _device(self, connection_id: str) -> _DeviceRecord:
        record = self._devices.get(connection_id)
        if record is None:
            record = self._devices[connection_id] = _DeviceRecord(connected_at=_now())
        return record

    def _add(self, row: UpdateRecord) -> None:
        self.updates.append(row)
        for callback in self.on_sent:
            callback(row)
        self._settle_if_done(row)

    def _on_ack(self, event: AckReceived, now: float) -> None:
        sequence = event.sequence
        for row in reversed(self.updates):
            if (
                row.session_id == event.session_id
                and row.sequence == sequence
                and event.connection_id in row.waiting
            ):
                break
        else:
            return
        row.waiting.discard(event.connection_id)
        if not event.success:
            row.failed += 1
        else:
            row.acked += 1
            # An edit's latency runs from the edit (the protocol measures it); a push's
            # from the push.
            latency = (
                event.latency_ms
                if row.reason == "edit" and event.latency_ms is not None
                else now - row.sent_at
            )
            device = self._devices.get(event.connection_id)
            if device is not None:
                device.latency_ms = latency
            if row.first_ack_ms is None:
                row.first_ack_ms = latency
            if not row.waiting and row.latency_ms is None:
                row.latency_ms = latency
        self._settle_if_done(row)

    def _settle_if_done(self, row: UpdateRecord) -> None:
        if row.waiting or row.reported:
            return
        row.reported = True
        for callback in self.on_settled:
            callback(row)

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()

    async def changed(self, version: int) -> None:
        """Return once :attr:`version` differs from ``version``."""
        while self.version == version:
            self._changed.clear()
            await self._changed.wait()

    # ----------------------------------------------------------------- snapshot

    def session(self, session_id: str | None = None) -> Session | None:
        """The session the status shows: ``session_id`` if live, else the newest one."""
        sessions = self.server.protocol.sessions
        if session_id is not None and session_id in sessions:
            return sessions[session_id]
        return next(reversed(list(sessions.values())), None)

    def _schema_bytes(self, session: Session) -> int | None:
        checksum, schema = session.checksum, session.schema
        if checksum is None or schema is None:
            return None
        size = self._sizes.get(checksum)
        if size is None:
            size = len(schema.dumps())
            self._sizes = {checksum: size}  # the current schema's only
        return size

    def _device_json(self, conn: Connection) -> dict[str, Any]:
        record = self._devices.get(conn.id)
        return {
            "connection_id": conn.id,
            "device_id": conn.device_id,
            "name": conn.device_name,
            "platform": conn.platform,
            "connected_since": conn.opened_at,
            "last_seen": conn.last_seen,
            "last_ack": conn.last_ack,
            "last_latency_ms": None if record is None else record.latency_ms,
            "pending": sorted(conn.pending),
            "update_type": None if record is None else record.update_type,
            "update_types": sorted(conn.update_types, key=_type_order),
        }

    def snapshot(self, session_id: str | None = None, *, qr: bool = False) -> dict[str, Any]:
        """The status as JSON-ready data (``qr``: add the device URL's QR code as SVG)."""
        server = self.server
        session = self.session(session_id)
        data: dict[str, Any] = {"version": __version__, "session": None, "devices": []}
        if session is not None:
            urls = server.urls(session.id)
            protocol = server.protocol
            data["session"] = {
                "id": session.id,
                "url": urls[0],
                "urls": urls,
                "status_url": server.status_url(),
                "created_at": session.created_at,
                "last_activity": session.last_activity,
                "expires_at": session.last_activity + protocol.session_timeout_ms,
                "sequence": session.sequence,
                "checksum": session.checksum,
                "schema_bytes": self._schema_bytes(session),
                "edit_pending": session.pending is not None,
            }
            devices = sorted(session.devices.values(), key=lambda c: (c.opened_at, c.id))
            data["devices"] = [self._device_json(conn) for conn in devices]
            if qr:
                data["qr_svg"] = qr_svg(urls[0])
        sid = None if session is None else session.id
        data["updates"] = [
            row.to_json() for row in reversed(self.updates) if sid is None or row.session_id == sid
        ]
        data["errors"] = list(reversed(self.errors))
        return data
