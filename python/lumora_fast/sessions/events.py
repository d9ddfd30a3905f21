"""What the sans-I/O machines return: data to send, connections to close, and events.

The machines in :mod:`lumora_fast.sessions.server` and :mod:`lumora_fast.sessions.device`
never touch a socket. Every call returns a list of outputs for the driver:

* :class:`Send` and :class:`Close` are instructions: write these bytes, close with this
  code. On the server side ``to`` names the connection; on the device side it is ``None``
  (there is one peer).
* Every other output is an :class:`Event`: a fact for the application (a device
  connected, an update went out, an ack arrived, an update was applied). Events are
  tagged msgspec Structs, so ``msgspec.json.encode(event)`` gives one JSON object with an
  ``"event"`` key (the CLI's ``--json`` lines).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from msgspec import Struct, field

__all__ = [
    "AckReceived",
    "Close",
    "Connected",
    "DeviceConnected",
    "DeviceDisconnected",
    "Disconnected",
    "ErrorEvent",
    "Event",
    "Output",
    "Resync",
    "Send",
    "SessionExpired",
    "UpdateAcked",
    "UpdateApplied",
    "UpdateKind",
    "UpdateSent",
    "sequence_text",
]

UpdateKind: TypeAlias = Literal["full", "incremental", "patch"]


def sequence_text(sequence: int | float) -> str:
    """A sequence number as text: ``3`` for ``3`` and ``3.0`` (JSON has one number type).

    Peers may send any JSON number, including ones too large for a float, so this never
    converts an int to a float.
    """
    if isinstance(sequence, float) and sequence.is_integer():
        return str(int(sequence))
    return str(sequence)


class Send(Struct, frozen=True, kw_only=True):
    """Write ``data`` (one JSON text frame) to a peer."""

    data: bytes
    to: str | None = None
    """Connection id (server side); ``None`` on the device side."""
    update: int | None = None
    """The sequence number when ``data`` is an ``update`` message. A driver that cannot
    keep up with a slow peer may drop queued updates and ask for one full update instead
    (:meth:`~lumora_fast.sessions.server.ServerProtocol.resync`); other messages must
    be delivered in order."""


class Close(Struct, frozen=True, kw_only=True):
    """Close the WebSocket connection with this code and reason, after pending sends."""

    code: int
    reason: str
    to: str | None = None


class Event(Struct, frozen=True, kw_only=True, tag_field="event"):
    """Base class of the events the machines report."""


# ------------------------------------------------------------------------ server side


class DeviceConnected(Event, frozen=True, kw_only=True, tag="device_connected"):
    """A device sent ``connect`` and was registered in its session."""

    session_id: str
    connection_id: str
    device_id: str
    platform: str
    device_name: str | None = None
    devices: int
    """Devices now connected to the session."""
    update_types: list[str] = field(default_factory=lambda: ["full", "incremental"])
    """The update types this device is sent."""
    resumed: int | None = None
    """Updates replayed to it as patches when it resumed (``0``: it was up to date);
    ``None`` when it got the whole schema in ``connected``."""


class DeviceDisconnected(Event, frozen=True, kw_only=True, tag="device_disconnected"):
    """A registered device left its session (closed, dropped or refused)."""

    session_id: str
    connection_id: str
    device_id: str
    reason: str
    devices: int
    """Devices still connected to the session."""


class UpdateSent(Event, frozen=True, kw_only=True, tag="update_sent"):
    """An update was handed out to every device of a session.

    Each variant (full, incremental, patch) is serialized at most once; every device
    gets the smallest one it supports.
    """

    session_id: str
    sequence: int
    kind: UpdateKind = field(name="type")
    """The variant most devices got (the smallest of those, on a tie)."""
    size: int = field(name="bytes")
    """Size of that variant's message."""
    full_size: int = field(name="full_bytes")
    """Size the full update would have had (equal to ``size`` for a full update)."""
    devices: int
    edits: int = 1
    """Edits (``publish`` calls) this update carries; more than one when coalesced."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes of each variant built, by type."""
    counts: dict[str, int] = field(default_factory=dict)
    """Devices sent each variant, by type (only the variants someone got)."""


class AckReceived(Event, frozen=True, kw_only=True, tag="ack"):
    """A device acknowledged an update."""

    session_id: str
    connection_id: str
    device_id: str
    sequence: int | float
    success: bool
    latency_ms: float | None = None
    """From the edit (the ``publish`` call) to this ack; ``None`` for an ack of an update
    the server has no record of."""
    apply_time_ms: float | None = None
    """The device's own apply time, as it reported it."""
    error: str | None = None


class UpdateAcked(Event, frozen=True, kw_only=True, tag="update_acked"):
    """Every device that was sent an update has acked it (or left, or moved past it)."""

    session_id: str
    sequence: int
    acked: int
    """Devices that acked the update successfully (directly or after a resync)."""
    failed: int
    """Failure acks received for it (each is followed by a resync of that device)."""
    latency_ms: float
    """From the edit to the last of these acks."""


class Resync(Event, frozen=True, kw_only=True, tag="resync"):
    """One device is being sent a full update of the current schema."""

    session_id: str
    connection_id: str
    device_id: str
    sequence: int
    reason: Literal["reload", "behind"]
    """``"reload"``: the device asked (after a failed apply); ``"behind"``: its send
    buffer overflowed, so queued updates were replaced by one full update."""


class SessionExpired(Event, frozen=True, kw_only=True, tag="session_expired"):
    """A session saw no activity for the session timeout and was removed."""

    session_id: str


# ------------------------------------------------------------------------ device side


class Connected(Event, frozen=True, kw_only=True, tag="connected"):
    """The server accepted ``connect``; the device now holds the server's schema."""

    session_id: str
    connection_id: str
    checksum: str | None = None
    """Checksum of the schema received in ``connected`` (``None`` without one)."""
    resumed: bool = False
    """The server accepted ``resume``: the device kept its schema, and the updates it
    missed follow as patches."""


class Disconnected(Event, frozen=True, kw_only=True, tag="disconnected"):
    """The device's connection ended (reported by the driver)."""

    code: int | None = None
    """The close code received, if any."""
    reason: str = ""
    retry_in_ms: float | None = None
    """When the device reconnects; ``None``: it stops."""


class UpdateApplied(Event, frozen=True, kw_only=True, tag="update_applied"):
    """The device processed an update: applied it, or failed and asked for a reload."""

    sequence: int | float
    kind: UpdateKind = field(name="type")
    success: bool
    checksum: str | None = None
    """Checksum of the device's schema after the update (``None`` on failure)."""
    verified: bool = False
    """True when the update carried a checksum and the result matched it."""
    error: str | None = None
    apply_time_ms: float = 0.0
    latency_ms: float | None = None
    """From the server's timestamp on the message to the end of the apply."""
    size: int = field(name="bytes", default=0)
    error_cleared: bool = False
    """The update says the server's last schema error is resolved."""


# ------------------------------------------------------------------------------- both


class ErrorEvent(Event, frozen=True, kw_only=True, tag="error"):
    """Something went wrong that the application should hear about.

    Server side: a peer sent something invalid, a published schema was refused, a device
    reported an error. Device side: the server sent an ``error`` message or something
    unreadable.
    """

    message: str
    code: str | None = None
    """A :class:`~lumora_fast.ProtocolErrorCode` value when one applies."""
    session_id: str | None = None
    connection_id: str | None = None


Output: TypeAlias = (
    Send
    | Close
    | DeviceConnected
    | DeviceDisconnected
    | UpdateSent
    | AckReceived
    | UpdateAcked
    | Resync
    | SessionExpired
    | Connected
    | Disconnected
    | UpdateApplied
    | ErrorEvent
)
"""Anything a machine returns."""
