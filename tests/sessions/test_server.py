"""ServerProtocol driven by scripted bytes and a fake clock."""

from __future__ import annotations

import itertools

import pytest

from lumora_fast import (
    MAX_MESSAGE_BYTES,
    CloseCode,
    ConnectedMessage,
    ErrorMessage,
    PongMessage,
    ProtocolError,
    UpdateMessage,
    calculate_checksum,
    create_full_update,
    create_update_message,
    deserialize_message,
    serialize_message,
)
from lumora_fast.constants import MAX_INBOUND_BYTES
from lumora_fast.sessions import (
    POLICY_VIOLATION,
    AckReceived,
    ConnectionState,
    DeviceConnected,
    DeviceDisconnected,
    ErrorEvent,
    Resync,
    Send,
    ServerProtocol,
    SessionExpired,
    UpdateAcked,
    UpdateSent,
)

from ._helpers import (
    T0,
    ack_bytes,
    closes,
    connect_bytes,
    current,
    edit,
    join,
    kinds,
    make_schema,
    of,
    ping_bytes,
    reload_bytes,
    sent,
)


@pytest.fixture
def server() -> ServerProtocol:
    return ServerProtocol()


def _error(message: object) -> ErrorMessage:
    assert isinstance(message, ErrorMessage)
    return message


# ------------------------------------------------------------------- connect flow


def test_connect_flow_sends_connected_with_current_schema(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    connection_id, outputs = server.open(session.id, T0)
    assert outputs == []
    outputs = server.receive(connection_id, connect_bytes(session.id, "phone-1"), T0 + 5)
    [connected] = sent(outputs, connection_id)
    assert isinstance(connected, ConnectedMessage)
    assert connected.session_id == session.id
    assert connected.payload.connection_id == connection_id
    assert connected.payload.initial_schema == schema
    assert connected.timestamp == int(T0 + 5)
    [event] = of(outputs, DeviceConnected)
    assert (event.device_id, event.platform, event.device_name, event.devices) == (
        "phone-1",
        "ios",
        "Phone",
        1,
    )
    assert server.connections[connection_id].state is ConnectionState.CONNECTED
    assert list(session.devices) == [connection_id]


def test_connected_has_no_schema_before_the_first_one(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    [connected] = sent(server.receive(connection_id, connect_bytes(session.id), T0))
    assert isinstance(connected, ConnectedMessage)
    assert "initialSchema" not in serialize_message(connected).decode()


def test_session_ids_are_uuid4_and_validated(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    assert len(session.id) == 36
    assert session.id[14] == "4"
    with pytest.raises(ValueError, match="already exists"):
        server.create_session(T0, session_id=session.id)
    with pytest.raises(ValueError, match="invalid session id"):
        server.create_session(T0, session_id="short")


@pytest.mark.parametrize("session_id", [None, ""])
def test_missing_session_id_closes_4400(server: ServerProtocol, session_id: str | None) -> None:
    connection_id, outputs = server.open(session_id, T0)
    assert sent(outputs) == []
    [close] = closes(outputs)
    assert (close.code, close.reason, close.to) == (4400, "Session ID required", connection_id)
    assert server.connections == {}


def test_unknown_session_closes_4404_after_an_error(server: ServerProtocol) -> None:
    server.create_session(T0)
    connection_id, outputs = server.open("no-such-session-id", T0)
    [error] = sent(outputs, connection_id)
    assert _error(error).payload.code == "SESSION_NOT_FOUND"
    assert error.payload.severity == "fatal"
    assert [c.code for c in closes(outputs)] == [4404]


def test_message_before_connect_closes_4401(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    outputs = server.receive(connection_id, ping_bytes(session.id), T0)
    [error] = sent(outputs)
    assert _error(error).payload.code == "AUTHENTICATION_FAILED"
    assert error.payload.message == "Must send connect message first"
    assert error.payload.recoverable is False
    assert [(c.code, c.reason) for c in closes(outputs)] == [(4401, "Not authenticated")]
    assert server.connections == {}


def test_incompatible_major_version_closes_4426(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    outputs = server.receive(connection_id, connect_bytes(session.id, version="2.0.0"), T0)
    [error] = sent(outputs)
    assert _error(error).payload.code == "UNSUPPORTED_VERSION"
    assert error.payload.severity == "fatal"
    assert error.payload.message == "Incompatible protocol versions: client 2.0.0, server 1.0.0"
    assert [c.code for c in closes(outputs)] == [4426]
    assert session.devices == {}


def test_minor_version_mismatch_warns_and_connects(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    outputs = server.receive(connection_id, connect_bytes(session.id, version="1.1.0"), T0)
    assert kinds(outputs) == ["connected", "error"]
    warning = _error(sent(outputs)[1])
    assert (warning.payload.code, warning.payload.severity) == ("UNSUPPORTED_VERSION", "warning")
    assert warning.payload.recoverable is True
    assert closes(outputs) == []
    assert list(session.devices) == [connection_id]


def test_second_connect_does_not_register_twice(server: ServerProtocol) -> None:
    session = server.create_session(T0, make_schema())
    connection_id = join(server, session.id, "phone")
    outputs = server.receive(connection_id, connect_bytes(session.id, "phone"), T0 + 1)
    assert kinds(outputs) == ["connected"]
    assert of(outputs, DeviceConnected) == []
    assert list(session.devices) == [connection_id]
    outputs = server.publish(session.id, edit(current(session), 0, "x"), T0 + 2)
    assert len(sent(outputs, connection_id)) == 1
    assert of(outputs, UpdateSent)[0].devices == 1


def test_invalid_message_gets_a_recoverable_error(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    for data in [b"{not json", b'{"type": "ping"}', b"[]"]:
        outputs = server.receive(connection_id, data, T0)
        [error] = sent(outputs)
        assert _error(error).payload.code == "INVALID_MESSAGE"
        assert error.payload.severity == "error"
        assert error.payload.recoverable is True
        assert error.payload.message.startswith("Failed to deserialize message")
        assert closes(outputs) == []
        assert of(outputs, ErrorEvent)
    # Still connected.
    assert isinstance(
        sent(server.receive(connection_id, ping_bytes(session.id), T0))[0], PongMessage
    )


def test_oversize_message_is_refused_before_parsing() -> None:
    server = ServerProtocol(max_message_bytes=1000)
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    error = sent(server.receive(connection_id, b"[" + b"0," * 40_000 + b"0]", T0))[0]
    assert _error(error).payload.code == "INVALID_MESSAGE"


@pytest.mark.parametrize("frame", [b"x" * 401, b"[" + b"0," * 200 + b"0]", "\u00e9" * 201])
def test_a_frame_over_the_inbound_limit_closes_1009_unparsed(
    frame: bytes | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ServerProtocol(max_inbound_bytes=400)
    session = server.create_session(T0)
    connection_id = join(server, session.id, "phone")

    def parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an oversize frame was parsed")

    monkeypatch.setattr("lumora_fast.sessions.server.deserialize_message", parse)
    outputs = server.receive(connection_id, frame, T0 + 1)
    [message] = sent(outputs, connection_id)
    error = _error(message).payload
    assert (error.code, error.severity, error.recoverable) == ("INVALID_MESSAGE", "fatal", False)
    assert "over the limit of 400" in error.message
    assert [(c.code, c.reason, c.to) for c in closes(outputs)] == [
        (1009, "Message too big", connection_id)
    ]
    assert of(outputs, DeviceDisconnected)[0].reason == "message too big"
    assert of(outputs, ErrorEvent)
    assert server.connections == {}
    assert session.devices == {}


def test_a_frame_at_the_inbound_limit_is_parsed() -> None:
    server = ServerProtocol(max_inbound_bytes=400)
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    for frame in (b"x" * 400, "\u00e9" * 200):
        outputs = server.receive(connection_id, frame, T0)
        assert _error(sent(outputs)[0]).payload.severity == "error"  # not JSON: recoverable
        assert closes(outputs) == []


def test_the_inbound_limit_applies_before_connect() -> None:
    server = ServerProtocol(max_inbound_bytes=10)
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    outputs = server.receive(connection_id, connect_bytes(session.id), T0)
    assert [c.code for c in closes(outputs)] == [1009]
    assert of(outputs, DeviceDisconnected) == []
    assert server.connections == {}


def test_the_inbound_limit_defaults_to_one_mebibyte() -> None:
    assert ServerProtocol().max_inbound_bytes == MAX_INBOUND_BYTES == 1_048_576
    assert ServerProtocol().max_message_bytes == MAX_MESSAGE_BYTES  # outgoing updates
    assert CloseCode.MESSAGE_TOO_BIG == 1009


def test_message_for_another_session_is_refused(server: ServerProtocol) -> None:
    mine = server.create_session(T0, make_schema())
    other = server.create_session(T0, make_schema(text="other"))
    victim = join(server, other.id, "victim")
    attacker = join(server, mine.id, "attacker")
    for data in [ping_bytes(other.id), reload_bytes(other.id), connect_bytes(other.id)]:
        outputs = server.receive(attacker, data, T0)
        if not outputs:
            break  # closed by the first attempt
        [error] = sent(outputs, attacker)
        assert (_error(error).payload.code, error.payload.message) == (
            "SESSION_NOT_FOUND",
            "Session ID mismatch",
        )
        assert error.session_id == mine.id
        assert [(c.code, c.to) for c in closes(outputs)] == [(4400, attacker)]
        assert all(o.to == attacker for o in outputs if isinstance(o, Send))
    assert server.receive(attacker, ping_bytes(mine.id), T0) == []  # gone
    assert list(other.devices) == [victim]
    assert list(mine.devices) == []


def test_ping_gets_pong(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    [pong] = sent(server.receive(connection_id, ping_bytes(session.id), T0 + 42))
    assert isinstance(pong, PongMessage)
    assert pong.payload
    assert pong.payload.server_time == int(T0 + 42)


def test_device_error_message_is_reported(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id, "phone")
    data = (
        b'{"type":"error","sessionId":"%s","timestamp":1,"version":"1.0.0","payload":'
        b'{"code":"UPDATE_FAILED","message":"boom","severity":"error","recoverable":true}}'
    ) % session.id.encode()
    [event] = of(server.receive(connection_id, data, T0), ErrorEvent)
    assert "phone" in event.message
    assert "boom" in event.message
    assert event.code == "UPDATE_FAILED"


# ---------------------------------------------------------------------- rate limit


def test_rate_limit_warns_then_closes_on_abuse() -> None:
    server = ServerProtocol(max_messages=10, rate_window_ms=1000)
    session = server.create_session(T0)
    connection_id = join(server, session.id)  # connect is message 1
    for _ in range(9):
        assert kinds(server.receive(connection_id, ping_bytes(session.id), T0)) == ["pong"]
    outputs = server.receive(connection_id, ping_bytes(session.id), T0)
    [warning] = sent(outputs)
    assert (_error(warning).payload.code, warning.payload.severity) == (
        "RATE_LIMIT_EXCEEDED",
        "warning",
    )
    assert warning.payload.recoverable is True
    for _ in range(8):  # dropped silently
        assert server.receive(connection_id, ping_bytes(session.id), T0) == []
    outputs = server.receive(connection_id, ping_bytes(session.id), T0)  # 10 over: abuse
    assert _error(sent(outputs)[0]).payload.code == "RATE_LIMIT_EXCEEDED"
    assert [(c.code, c.reason) for c in closes(outputs)] == [
        (POLICY_VIOLATION, "Rate limit exceeded")
    ]
    assert of(outputs, DeviceDisconnected)[0].reason == "rate limit"


def test_rate_limit_window_resets() -> None:
    server = ServerProtocol(max_messages=5, rate_window_ms=1000)
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    for second in range(1, 6):
        for _ in range(5):
            now = T0 + second * 1000
            assert kinds(server.receive(connection_id, ping_bytes(session.id), now)) == ["pong"]


def test_rate_limit_closes_after_consecutive_windows_over() -> None:
    server = ServerProtocol(max_messages=5, rate_window_ms=1000, rate_limit_strikes=3)
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    for window in range(1, 4):
        now = T0 + window * 1000
        outputs = [
            o for _ in range(6) for o in server.receive(connection_id, ping_bytes(session.id), now)
        ]
        if window < 3:
            assert closes(outputs) == []
    assert [c.code for c in closes(outputs)] == [POLICY_VIOLATION]


# ----------------------------------------------------------------------- heartbeat


def test_silent_device_is_dropped_after_three_intervals() -> None:
    server = ServerProtocol(heartbeat_interval_ms=1000, heartbeat_missed_limit=3)
    session = server.create_session(T0)
    connection_id = join(server, session.id, "phone")
    assert server.next_deadline() == T0 + 3000
    server.receive(connection_id, ping_bytes(session.id), T0 + 2000)  # alive
    assert server.next_deadline() == T0 + 5000
    assert server.tick(T0 + 4999) == []
    outputs = server.tick(T0 + 5000)
    assert [(c.code, c.reason, c.to) for c in closes(outputs)] == [
        (1000, "Connection timeout", connection_id)
    ]
    [left] = of(outputs, DeviceDisconnected)
    assert (left.device_id, left.reason, left.devices) == ("phone", "heartbeat timeout", 0)
    assert session.devices == {}


def test_connection_that_never_connects_is_dropped_too() -> None:
    server = ServerProtocol(heartbeat_interval_ms=1000)
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    outputs = server.tick(T0 + 3000)
    assert [c.to for c in closes(outputs)] == [connection_id]
    assert of(outputs, DeviceDisconnected) == []


def test_connection_without_connect_is_closed_at_the_connect_timeout() -> None:
    server = ServerProtocol()  # 10 s to connect, 90 s of heartbeat
    session = server.create_session(T0)
    connection_id, _ = server.open(session.id, T0)
    assert server.next_deadline() == T0 + 10_000
    # Frames that are not a valid connect do not buy time.
    server.receive(connection_id, b"{not json", T0 + 9_000)
    assert server.next_deadline() == T0 + 10_000
    assert server.tick(T0 + 9_999) == []
    outputs = server.tick(T0 + 10_000)
    assert [(c.code, c.reason, c.to) for c in closes(outputs)] == [
        (1000, "Connection timeout", connection_id)
    ]
    assert sent(outputs) == []
    assert of(outputs, DeviceDisconnected) == []  # it never was a device of the session
    assert server.connections == {}
    assert server.next_deadline() == T0 + 9_000 + server.session_timeout_ms


def test_connect_timeout_is_a_keyword_and_spares_connected_devices() -> None:
    server = ServerProtocol(connect_timeout_ms=500, heartbeat_interval_ms=1000)
    session = server.create_session(T0)
    slow, _ = server.open(session.id, T0)
    quick = join(server, session.id, now=T0 + 100)
    assert server.connect_timeout_ms == 500
    assert server.next_deadline() == T0 + 500
    assert [c.to for c in closes(server.tick(T0 + 500))] == [slow]
    assert server.next_deadline() == T0 + 100 + 3000  # the heartbeat, for the device
    assert list(server.connections) == [quick]


def test_an_update_due_with_a_timeout_is_not_sent_to_the_timed_out_device() -> None:
    server = ServerProtocol(heartbeat_interval_ms=1000, update_interval_ms=100)
    schema = make_schema()
    session = server.create_session(T0, schema)
    connection_id = join(server, session.id)
    server.publish(session.id, edit(schema, 0, "a"), T0 + 2_900)
    server.publish(session.id, edit(schema, 0, "b"), T0 + 2_950)  # held until T0 + 3000
    outputs = server.tick(T0 + 3_000)
    assert [c.to for c in closes(outputs)] == [connection_id]
    assert sent(outputs) == []
    assert of(outputs, UpdateSent)[0].devices == 0


# -------------------------------------------------------------------------- expiry


def test_idle_session_expires() -> None:
    server = ServerProtocol(session_timeout_ms=60_000)
    session = server.create_session(T0)
    assert server.next_deadline() == T0 + 60_000
    assert server.tick(T0 + 59_999) == []
    outputs = server.tick(T0 + 60_000)
    assert of(outputs, SessionExpired) == [SessionExpired(session_id=session.id)]
    assert session.id not in server.sessions
    _, outputs = server.open(session.id, T0 + 70_000)
    [error] = sent(outputs)
    assert _error(error).payload.code == "SESSION_EXPIRED"
    assert [(c.code, c.reason) for c in closes(outputs)] == [(4410, "Session expired")]
    with pytest.raises(KeyError):
        server.publish(session.id, make_schema(), T0 + 70_000)


def test_expiry_is_checked_on_open_even_before_tick() -> None:
    server = ServerProtocol(session_timeout_ms=1000)
    session = server.create_session(T0)
    _, outputs = server.open(session.id, T0 + 5000)
    assert of(outputs, SessionExpired)
    assert [c.code for c in closes(outputs)] == [4410]


def test_activity_keeps_a_session_alive() -> None:
    server = ServerProtocol(session_timeout_ms=1000, heartbeat_interval_ms=10_000)
    session = server.create_session(T0)
    connection_id = join(server, session.id, now=T0 + 500)
    server.receive(connection_id, ping_bytes(session.id), T0 + 1400)
    assert server.tick(T0 + 2000) == []
    server.publish(session.id, make_schema(), T0 + 2300)
    assert of(server.tick(T0 + 3299), SessionExpired) == []
    assert session.id in server.sessions


def test_close_session_closes_its_devices(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    outputs = server.close_session(session.id, T0)
    assert [(c.code, c.reason, c.to) for c in closes(outputs)] == [
        (1000, "Session closed", connection_id)
    ]
    assert of(outputs, DeviceDisconnected)[0].reason == "session closed"
    assert session.id not in server.sessions


# ------------------------------------------------------------------------- updates


def test_isolated_edit_goes_out_immediately_with_checksum(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    devices = [join(server, session.id, f"d{i}") for i in range(3)]
    new = edit(schema, 3, "changed")
    outputs = server.publish(session.id, new, T0 + 10)
    updates = [o for o in outputs if isinstance(o, Send)]
    assert sorted(o.to or "" for o in updates) == sorted(devices)
    assert len({id(o.data) for o in updates}) == 1  # serialized once, same bytes for all
    [message] = sent(outputs, devices[0])
    assert isinstance(message, UpdateMessage)
    update = message.payload
    assert (update.type, update.sequence_number) == ("incremental", 1)
    assert update.checksum == calculate_checksum(new)
    assert update.delta
    assert [n["id"] for n in update.delta.modified] == ["n3"]
    [event] = of(outputs, UpdateSent)
    assert (event.sequence, event.kind, event.devices, event.edits) == (1, "incremental", 3, 1)
    assert event.size == len(updates[0].data) < event.full_size
    assert session.sequence == 1
    assert session.checksum == update.checksum


def test_first_schema_and_structural_changes_go_full(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    first = make_schema()
    [message] = sent(server.publish(session.id, first, T0), connection_id)
    assert isinstance(message, UpdateMessage)
    assert (message.payload.type, message.payload.schema) == ("full", first)
    assert message.payload.checksum == calculate_checksum(first)

    reordered = dict(first, nodes=list(reversed(first["nodes"])))  # a delta cannot say this
    [message] = sent(server.publish(session.id, reordered, T0 + 200), connection_id)
    assert isinstance(message, UpdateMessage)
    assert message.payload.type == "full"

    many = make_schema(text="all new")  # 12 modified nodes: over the threshold
    [message] = sent(server.publish(session.id, many, T0 + 400), connection_id)
    assert isinstance(message, UpdateMessage)
    assert (message.payload.type, message.payload.sequence_number) == ("full", 3)
    assert message.payload.checksum == calculate_checksum(many)


def test_incremental_only_when_smaller(server: ServerProtocol) -> None:
    node = {"id": "only", "type": "Text", "props": {"text": "x" * 500}, "children": []}
    old = {"metadata": {}, "nodes": [node]}
    new = {"metadata": {}, "nodes": [dict(node, props={"text": "y" * 500})]}
    session = server.create_session(T0, old)
    connection_id = join(server, session.id)
    outputs = server.publish(session.id, new, T0)
    [message] = sent(outputs, connection_id)
    assert isinstance(message, UpdateMessage)
    assert message.payload.type == "full"  # the delta would carry the same node, plus framing
    [event] = of(outputs, UpdateSent)
    assert event.size == event.full_size


def test_edits_in_the_window_coalesce_latest_wins() -> None:
    server = ServerProtocol(update_interval_ms=100)
    schema = make_schema()
    session = server.create_session(T0, schema)
    connection_id = join(server, session.id)
    first = edit(schema, 0, "one")
    assert kinds(server.publish(session.id, first, T0 + 1000), connection_id) == ["update"]
    second = edit(first, 1, "two")
    third = edit(second, 2, "three")
    assert server.publish(session.id, second, T0 + 1020) == []
    assert server.publish(session.id, third, T0 + 1050) == []
    assert server.next_deadline() == T0 + 1100
    assert server.tick(T0 + 1099) == []
    outputs = server.tick(T0 + 1100)
    [message] = sent(outputs, connection_id)
    assert isinstance(message, UpdateMessage)
    assert message.payload.sequence_number == 2
    assert message.payload.checksum == calculate_checksum(third)  # the final edit went out
    assert message.payload.delta
    assert sorted(n["id"] for n in message.payload.delta.modified) == ["n1", "n2"]
    assert of(outputs, UpdateSent)[0].edits == 2
    assert server.tick(T0 + 1300) == []  # nothing pending


def test_at_most_ten_updates_per_second_and_the_last_edit_arrives() -> None:
    server = ServerProtocol()
    schema = make_schema(count=3)
    session = server.create_session(T0, schema)
    join(server, session.id)
    sent_at: list[float] = []
    current = schema
    now = T0
    for i in range(200):  # an edit every 5 ms for a second
        now = T0 + i * 5
        current = edit(current, i % 3, f"edit {i}")
        for output in server.publish(session.id, current, now) + server.tick(now):
            if isinstance(output, UpdateSent):
                sent_at.append(now)
    deadline = server.next_deadline()
    assert deadline is not None
    assert deadline <= now + 100
    for output in server.tick(deadline):
        if isinstance(output, UpdateSent):
            sent_at.append(deadline)
    assert all(b - a >= 100 for a, b in itertools.pairwise(sent_at))
    assert len(sent_at) <= 11
    assert session.checksum == calculate_checksum(current)


def test_unchanged_schema_sends_nothing(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    join(server, session.id)
    same = dict(schema, metadata={"componentName": "Test", "generatedAt": 999})
    assert server.publish(session.id, same, T0) == []
    assert session.sequence == 0


def test_refused_schema_keeps_the_previous_one(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    join(server, session.id)
    outputs = server.publish(session.id, {"nodes": []}, T0)  # no metadata
    [event] = of(outputs, ErrorEvent)
    assert event.code == "SCHEMA_VALIDATION_FAILED"
    # No update: the device is told why instead (issue 14, errors reach the phones).
    [send] = [o for o in outputs if isinstance(o, Send)]
    message = deserialize_message(send.data)
    assert isinstance(message, ErrorMessage)
    assert message.payload.code == "SCHEMA_VALIDATION_FAILED"
    assert current(session) == schema
    assert session.sequence == 0


def test_schema_over_the_message_limit_is_refused() -> None:
    server = ServerProtocol(max_message_bytes=2000)
    schema = make_schema(count=2)
    session = server.create_session(T0, schema)
    join(server, session.id)
    outputs = server.publish(session.id, make_schema(count=40), T0)
    [event] = of(outputs, ErrorEvent)
    assert "limit" in event.message
    assert current(session) == schema
    assert session.sequence == 0
    with pytest.raises(ProtocolError):
        server.create_session(T0, make_schema(count=40))


# ---------------------------------------------------------------- acks and reloads


def test_acks_are_tracked_per_device() -> None:
    server = ServerProtocol()
    schema = make_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    b = join(server, session.id, "b")
    server.publish(session.id, edit(schema, 0, "x"), T0 + 100)
    outputs = server.receive(a, ack_bytes(session.id, 1), T0 + 112)
    [ack] = of(outputs, AckReceived)
    assert (ack.device_id, ack.sequence, ack.success, ack.latency_ms, ack.apply_time_ms) == (
        "a",
        1,
        True,
        12,
        0.5,
    )
    assert of(outputs, UpdateAcked) == []
    outputs = server.receive(b, ack_bytes(session.id, 1), T0 + 130)
    assert of(outputs, UpdateAcked) == [
        UpdateAcked(session_id=session.id, sequence=1, acked=2, failed=0, latency_ms=30)
    ]
    assert server.connections[a].last_ack == 1
    assert session.inflight == {}
    # An ack nobody waits for is reported without a latency.
    [stray] = of(server.receive(a, ack_bytes(session.id, 7), T0 + 140), AckReceived)
    assert stray.latency_ms is None


def test_reload_gets_one_full_update_for_that_device_only() -> None:
    server = ServerProtocol()
    schema = make_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    b = join(server, session.id, "b")
    new = edit(schema, 0, "x")
    server.publish(session.id, new, T0 + 100)
    server.receive(b, ack_bytes(session.id, 1), T0 + 105)
    outputs = server.receive(a, ack_bytes(session.id, 1, False, "Checksum mismatch"), T0 + 110)
    [failure] = of(outputs, AckReceived)
    assert (failure.success, failure.error) == (False, "Checksum mismatch")
    assert of(outputs, UpdateAcked) == []  # a reload is expected
    outputs = server.receive(a, reload_bytes(session.id), T0 + 111)
    [full] = sent(outputs)
    assert [o.to for o in outputs if isinstance(o, Send)] == [a]
    assert isinstance(full, UpdateMessage)
    assert (full.payload.type, full.payload.sequence_number) == ("full", 1)
    assert full.payload.schema == new
    assert full.payload.checksum == calculate_checksum(new)
    assert of(outputs, Resync) == [
        Resync(session_id=session.id, connection_id=a, device_id="a", sequence=1, reason="reload")
    ]
    outputs = server.receive(a, ack_bytes(session.id, 1), T0 + 120)
    assert of(outputs, UpdateAcked) == [
        UpdateAcked(session_id=session.id, sequence=1, acked=2, failed=1, latency_ms=20)
    ]


def test_resync_supersedes_older_updates() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = make_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    current = schema
    for i in range(3):
        current = edit(current, i, f"v{i}")
        server.publish(session.id, current, T0 + i)
    outputs = server.resync(a, T0 + 10)
    [full] = sent(outputs)
    assert isinstance(full, UpdateMessage)
    assert (full.payload.type, full.payload.sequence_number) == ("full", 3)
    # Updates 1 and 2 will never be acked: settled as superseded.
    assert [e.sequence for e in of(outputs, UpdateAcked)] == [1, 2]
    assert of(outputs, Resync)[0].reason == "behind"
    assert of(server.receive(a, ack_bytes(session.id, 3), T0 + 20), UpdateAcked)[0].acked == 1


def test_reload_without_a_schema_is_reported(server: ServerProtocol) -> None:
    session = server.create_session(T0)
    connection_id = join(server, session.id)
    outputs = server.receive(connection_id, reload_bytes(session.id), T0)
    assert sent(outputs) == []
    assert of(outputs, ErrorEvent)


def test_disconnect_settles_pending_updates(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    b = join(server, session.id, "b")
    server.publish(session.id, edit(schema, 0, "x"), T0)
    server.receive(a, ack_bytes(session.id, 1), T0 + 5)
    outputs = server.connection_lost(b, T0 + 7)
    [left] = of(outputs, DeviceDisconnected)
    assert (left.device_id, left.reason, left.devices) == ("b", "closed", 1)
    assert of(outputs, UpdateAcked)[0].acked == 1
    assert server.connection_lost(b, T0 + 8) == []  # already gone


def test_full_update_bytes_are_reused_for_every_resync(server: ServerProtocol) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    b = join(server, session.id, "b")
    first = server.receive(a, reload_bytes(session.id), T0)
    second = server.receive(b, reload_bytes(session.id), T0 + 50)
    data = [o.data for o in first + second if isinstance(o, Send)]
    assert data[0] is data[1]
    assert data[0] == serialize_message(
        create_update_message(session.id, create_full_update(schema, 0), timestamp=int(T0))
    )


@pytest.mark.parametrize("number", ["1e400", "1" + "0" * 400, "2.5", "-1", "1.0"])
def test_odd_ack_sequence_numbers_never_raise(server: ServerProtocol, number: str) -> None:
    schema = make_schema()
    session = server.create_session(T0, schema)
    connection_id = join(server, session.id)
    server.publish(session.id, edit(schema, 0, "x"), T0)
    data = (
        (
            '{"type":"ack","sessionId":"%s","timestamp":1,"version":"1.0.0",'
            '"payload":{"sequenceNumber":%s,"success":true}}'
        )
        .replace("%s", session.id, 1)
        .replace("%s", number, 1)
    )
    outputs = server.receive(connection_id, data.encode(), T0 + 1)
    [ack] = of(outputs, AckReceived)
    assert ack.success
    assert bool(of(outputs, UpdateAcked)) == (number == "1.0")
