"""Sans-I/O session state machines: the hot-reload server and the device.

No sockets, no asyncio, no clock: every method takes ``now`` (Unix milliseconds) and
returns outputs (:mod:`lumora_fast.sessions.events`). :mod:`lumora_fast.asyncio` drives
them over WebSockets; tests drive them with scripted bytes and a fake clock.
"""

from __future__ import annotations

from .device import DeviceSession, DeviceState
from .events import (
    AckReceived,
    Close,
    Connected,
    DeviceConnected,
    DeviceDisconnected,
    Disconnected,
    ErrorEvent,
    Event,
    Output,
    Resync,
    Send,
    SessionExpired,
    UpdateAcked,
    UpdateApplied,
    UpdateKind,
    UpdateSent,
    sequence_text,
)
from .schema import parse_json, parse_schema
from .server import POLICY_VIOLATION, Connection, ConnectionState, ServerProtocol, Session

__all__ = [
    "POLICY_VIOLATION",
    "AckReceived",
    "Close",
    "Connected",
    "Connection",
    "ConnectionState",
    "DeviceConnected",
    "DeviceDisconnected",
    "DeviceSession",
    "DeviceState",
    "Disconnected",
    "ErrorEvent",
    "Event",
    "Output",
    "Resync",
    "Send",
    "ServerProtocol",
    "Session",
    "SessionExpired",
    "UpdateAcked",
    "UpdateApplied",
    "UpdateKind",
    "UpdateSent",
    "parse_json",
    "parse_schema",
    "sequence_text",
]
