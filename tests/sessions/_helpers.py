"""Scripted peers and small schemas for the sans-I/O tests (no sockets, fake clock)."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from lumora_fast import (
    Message,
    create_ack_message,
    create_connect_message,
    create_ping_message,
    create_reload_message,
    deserialize_message,
    serialize_message,
)
from lumora_fast.sessions import Close, Output, Send, ServerProtocol, Session

T0 = 1_700_000_000_000.0
"""The fake clock's start (Unix ms)."""

E = TypeVar("E")


def make_schema(count: int = 12, text: str = "hello", **top: Any) -> dict[str, Any]:
    """A flat schema of ``count`` Text nodes ``n0``... (big enough for deltas to pay)."""
    return {
        "version": "1.0.0",
        "metadata": {"componentName": "Test", "generatedAt": 1},
        "nodes": [
            {
                "id": f"n{i}",
                "type": "Text",
                "props": {"text": f"{text} {i}", "style": {"fontSize": 14, "color": "#112233"}},
                "children": [],
            }
            for i in range(count)
        ],
        **top,
    }


def current(session: Session) -> dict[str, Any]:
    """The session's current schema as a dict (the server keeps a SchemaDocument)."""
    assert session.schema is not None
    value: dict[str, Any] = session.schema.to_python()
    return value


def edit(schema: dict[str, Any], index: int, text: str) -> dict[str, Any]:
    """A copy of ``schema`` with node ``index``'s text changed."""
    new = copy.deepcopy(schema)
    new["nodes"][index]["props"]["text"] = text
    return new


def sent(outputs: list[Output], to: str | None = None) -> list[Message]:
    """The messages in ``outputs`` (sent to ``to`` when given), decoded."""
    return [
        deserialize_message(o.data)
        for o in outputs
        if isinstance(o, Send) and (to is None or o.to == to)
    ]


def kinds(outputs: list[Output], to: str | None = None) -> list[str]:
    """The ``type`` of each message sent."""
    return [str(m.__struct_config__.tag) for m in sent(outputs, to)]


def closes(outputs: list[Output]) -> list[Close]:
    return [o for o in outputs if isinstance(o, Close)]


def of(outputs: list[Output], kind: type[E]) -> list[E]:
    return [o for o in outputs if isinstance(o, kind)]


def connect_bytes(session_id: str, device_id: str = "dev", version: str | None = None) -> bytes:
    message = create_connect_message(session_id, device_id, "ios", "Phone", timestamp=1)
    if version is not None:
        payload = message.payload
        message = type(message)(
            session_id=message.session_id,
            timestamp=message.timestamp,
            version=message.version,
            payload=type(payload)(
                device_id=payload.device_id,
                platform=payload.platform,
                device_name=payload.device_name,
                client_version=version,
            ),
        )
    return serialize_message(message)


def ping_bytes(session_id: str) -> bytes:
    return serialize_message(create_ping_message(session_id, timestamp=1))


def ack_bytes(
    session_id: str, sequence: int, success: bool = True, error: str | None = None
) -> bytes:
    return serialize_message(
        create_ack_message(session_id, sequence, success, error, 0.5, timestamp=1)
    )


def reload_bytes(session_id: str) -> bytes:
    return serialize_message(create_reload_message(session_id, "error", "broken", timestamp=1))


def join(server: ServerProtocol, session_id: str, device_id: str = "dev", now: float = T0) -> str:
    """Open a connection and send ``connect``; the connection id."""
    connection_id, outputs = server.open(session_id, now)
    assert outputs == []
    outputs = server.receive(connection_id, connect_bytes(session_id, device_id), now)
    assert kinds(outputs) == ["connected"]
    return connection_id
