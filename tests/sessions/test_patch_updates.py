"""Patch updates, resume and schema errors in the sans-I/O server and device.

Issue 11 (negotiated patch updates, a bounded history for resuming devices) and
issue 14's "errors reach the phones": a refused save becomes an ``error`` message on
every device, late joiners included, and the next accepted save says it is resolved.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lumora_fast import (
    ConnectedMessage,
    ErrorMessage,
    UpdateMessage,
    apply_schema_patch,
    calculate_checksum,
    create_connect_message,
    serialize_message,
)
from lumora_fast.sessions import (
    Connected,
    DeviceConnected,
    DeviceSession,
    ErrorEvent,
    Send,
    ServerProtocol,
    UpdateApplied,
    UpdateSent,
)
from lumora_fast.sessions._history import UpdateHistory

from ._helpers import (
    T0,
    ack_bytes,
    connect_bytes,
    current,
    edit,
    join,
    make_schema,
    of,
    reload_bytes,
    sent,
)

PATCH_TYPES = ["full", "incremental", "patch"]


def join_patch(
    server: ServerProtocol,
    session_id: str,
    device_id: str = "phone",
    *,
    resume: tuple[int, str] | None = None,
    update_types: list[str] | None = None,
    now: float = T0,
) -> tuple[str, list[Any]]:
    """Open a connection and send a ``connect`` asking for patches; (id, outputs)."""
    connection_id, outputs = server.open(session_id, now)
    assert outputs == []
    message = create_connect_message(
        session_id,
        device_id,
        "ios",
        timestamp=1,
        update_types=PATCH_TYPES if update_types is None else update_types,
        resume=resume,
    )
    return connection_id, server.receive(connection_id, serialize_message(message), now)


def big_schema() -> dict[str, Any]:
    """Nodes large enough that a one-word edit's patch is far smaller than the rest."""
    return make_schema(count=40, text="a fairly long paragraph of text " * 4)


# --------------------------------------------------------------------- negotiation


def test_reference_devices_see_the_reference_protocol() -> None:
    """A device that lists no update types: no `updateTypes`, no patch, ever."""
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    connection_id, outputs = server.open(session.id, T0)
    outputs = server.receive(connection_id, connect_bytes(session.id), T0)
    [connected] = sent(outputs)
    assert isinstance(connected, ConnectedMessage)
    assert b"updateTypes" not in of(outputs, Send)[0].data
    assert b"resumed" not in of(outputs, Send)[0].data
    outputs = server.publish(session.id, edit(schema, 3, "x"), T0 + 1000)
    [update] = sent(outputs, connection_id)
    assert isinstance(update, UpdateMessage)
    assert update.payload.type == "incremental"
    [event] = of(outputs, UpdateSent)
    assert event.kind == "incremental"
    assert event.counts == {"incremental": 1}
    assert set(event.sizes) == {"full", "incremental", "patch"}


def test_patch_devices_get_the_smallest_variant_and_reference_devices_theirs() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    reference = join(server, session.id, "old-phone")
    patcher, outputs = join_patch(server, session.id)
    [connected] = sent(outputs)
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.capabilities.update_types == PATCH_TYPES
    [joined] = of(outputs, DeviceConnected)
    assert (joined.update_types, joined.resumed) == (PATCH_TYPES, None)

    new = edit(schema, 7, "changed")
    outputs = server.publish(session.id, new, T0 + 1000)
    [event] = of(outputs, UpdateSent)
    [to_reference] = sent(outputs, reference)
    [to_patcher] = sent(outputs, patcher)
    assert isinstance(to_reference, UpdateMessage)
    assert isinstance(to_patcher, UpdateMessage)
    assert to_reference.payload.type == "incremental"
    assert to_patcher.payload.type == "patch"
    assert event.counts == {"incremental": 1, "patch": 1}
    assert event.sizes["patch"] < event.sizes["incremental"] < event.sizes["full"]
    # Each variant is serialized once: every device of a type gets the same bytes.
    patch = to_patcher.payload.patch
    assert isinstance(patch, list)
    assert apply_schema_patch(schema, patch) == new
    assert to_patcher.payload.checksum == calculate_checksum(new)
    assert server.connections[patcher].last_update_type == "patch"
    assert server.connections[reference].last_update_type == "incremental"


def test_full_is_sent_when_the_patch_is_not_smaller() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = make_schema(count=2)
    session = server.create_session(T0, schema)
    patcher, _ = join_patch(server, session.id)
    # Everything changes: replacing all of it costs more than the full schema.
    new = {"version": "2.0.0", "metadata": {"x": 1}, "nodes": [{"id": "z", "type": "T"}]}
    outputs = server.publish(session.id, new, T0 + 1000)
    [event] = of(outputs, UpdateSent)
    assert event.sizes["patch"] >= event.sizes["full"]
    [update] = sent(outputs, patcher)
    assert isinstance(update, UpdateMessage)
    assert update.payload.type == "full"


def test_a_device_that_lists_only_patch_still_gets_full_updates() -> None:
    server = ServerProtocol(update_interval_ms=0)
    session = server.create_session(T0, big_schema())
    _, outputs = join_patch(server, session.id, update_types=["patch"])
    [connected] = sent(outputs)
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.capabilities.update_types == ["full", "patch"]


# -------------------------------------------------------------------------- resume


def run_edits(server: ServerProtocol, session_id: str, schema: dict[str, Any], count: int) -> Any:
    """Publish ``count`` isolated edits (a second apart, after the last update); the last
    schema."""
    session = server.sessions[session_id]
    current = schema
    for i in range(count):
        current = edit(current, i % 12, f"edit {session.sequence + 1}")
        now = (session.last_update_at or T0) + 1000
        sequence = session.sequence
        server.publish(session_id, current, now)
        assert session.sequence == sequence + 1
    return current


def test_a_device_resumes_with_the_patches_it_missed() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    latest = run_edits(server, session.id, schema, 3)
    at_three = session.checksum
    assert at_three is not None
    final = run_edits(server, session.id, latest, 5)
    assert session.sequence == 8

    connection_id, outputs = join_patch(server, session.id, resume=(3, at_three), now=T0 + 9000)
    messages = sent(outputs, connection_id)
    connected, *updates = messages
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.resumed is True
    assert b"initialSchema" not in of(outputs, Send)[0].data
    assert [u.payload.sequence_number for u in updates if isinstance(u, UpdateMessage)] == [
        4,
        5,
        6,
        7,
        8,
    ]
    result = latest
    for update in updates:
        assert isinstance(update, UpdateMessage)
        assert update.payload.type == "patch"
        assert isinstance(update.payload.patch, list)
        result = apply_schema_patch(result, update.payload.patch)
        assert calculate_checksum(result) == update.payload.checksum
    assert result == final
    [joined] = of(outputs, DeviceConnected)
    assert joined.resumed == 5
    # The device owes an ack for the last update only; acking it settles the debt.
    assert set(server.connections[connection_id].pending) == {8}
    server.receive(connection_id, ack_bytes(session.id, 8), T0 + 9100)
    assert server.connections[connection_id].pending == {}


def test_resuming_after_five_missed_edits_costs_under_5_percent_of_a_resync() -> None:
    """Issue 11: on medium-tree, five one-node edits missed, then a resume."""
    from tests.make_schema import mutate, preset_schema

    server = ServerProtocol(update_interval_ms=0)
    schema = preset_schema("medium", "tree", 42)
    session = server.create_session(T0, schema)
    server.publish(session.id, mutate(schema, 1, 1), T0 + 1000)
    sequence, checksum = session.sequence, session.checksum
    assert checksum is not None
    for seed in range(2, 7):
        assert session.schema is not None
        server.publish(session.id, mutate(session.schema.to_python(), 1, seed), T0 + 1000 * seed)
    assert session.sequence == sequence + 5
    resumed, outputs = join_patch(server, session.id, resume=(sequence, checksum))
    assert len(sent(outputs, resumed)) == 6  # connected + 5 patches
    resume_bytes = sum(len(o.data) for o in of(outputs, Send))
    _, outputs = join_patch(server, session.id, "fresh")
    resync_bytes = sum(len(o.data) for o in of(outputs, Send))
    assert resync_bytes > 400_000
    assert resume_bytes < 0.05 * resync_bytes


def test_an_up_to_date_device_resumes_with_nothing() -> None:
    server = ServerProtocol(update_interval_ms=0)
    session = server.create_session(T0, big_schema())
    run_edits(server, session.id, current(session), 2)
    assert session.checksum is not None
    connection_id, outputs = join_patch(server, session.id, resume=(2, session.checksum))
    [connected] = sent(outputs, connection_id)
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.resumed is True
    assert of(outputs, DeviceConnected)[0].resumed == 0


@pytest.mark.parametrize(
    "why", ["wrong checksum", "unknown sequence", "reference device", "forgotten"]
)
def test_a_device_that_cannot_resume_gets_the_whole_schema(why: str) -> None:
    server = ServerProtocol(update_interval_ms=0, history_updates=4)
    schema = big_schema()
    session = server.create_session(T0, schema)
    run_edits(server, session.id, schema, 3)
    at_three = session.checksum
    assert at_three is not None
    run_edits(server, session.id, current(session), 2 if why != "forgotten" else 6)
    resume, types = (3, at_three), PATCH_TYPES
    if why == "wrong checksum":
        resume = (3, "sha256:" + "0" * 64)
    elif why == "unknown sequence":
        resume = (99, at_three)
    elif why == "reference device":
        types = ["full", "incremental"]
    connection_id, outputs = join_patch(server, session.id, resume=resume, update_types=types)
    [connected] = sent(outputs, connection_id)
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.initial_schema == current(session)
    assert b"resumed" not in of(outputs, Send)[0].data
    assert of(outputs, DeviceConnected)[0].resumed is None


def test_history_is_bounded_by_count_and_bytes() -> None:
    history = UpdateHistory(max_updates=3, max_bytes=100)
    history.start(0, "c0")
    for sequence in range(1, 6):
        history.add(sequence, f"c{sequence}", b"x" * 10)
    assert len(history) == 3
    assert history.since(1, "c1") is None  # forgotten
    assert history.since(2, "c2") == [(3, b"x" * 10), (4, b"x" * 10), (5, b"x" * 10)]
    assert history.since(5, "c5") == []
    assert history.since(2.0, "c2") is not None  # JSON has one number type
    assert history.since(2, "c1") is None
    history.add(6, "c6", b"y" * 60)
    assert (len(history), history.size) == (3, 80)
    assert history.since(2, "c2") is None
    assert history.since(5, "c5") == [(6, b"y" * 60)]
    history.add(7, "c7", b"y" * 60)  # over the byte bound: the oldest go
    assert (len(history), history.size) == (1, 60)
    assert history.since(5, "c5") is None
    assert history.since(6, "c6") == [(7, b"y" * 60)]
    # A frame over the byte bound alone, or a gap, restarts the history there.
    history.add(8, "c8", b"z" * 101)
    assert (len(history), history.since(7, "c7"), history.since(8, "c8")) == (0, None, [])
    history.add(10, "c10", b"z")
    assert (history.since(8, "c8"), history.since(10, "c10")) == (None, [])


def test_history_overflow_falls_back_to_a_full_update_end_to_end() -> None:
    """A device away for more than the history holds gets the schema, and converges."""
    server, session, device, conn = connected_device(history_updates=2)
    schema = current(session)
    deliver(server, conn, device, server.publish(session.id, edit(schema, 0, "seen"), T0 + 1000))
    assert device.sequence == 1
    server.connection_lost(conn, T0 + 1600)
    device.connection_lost(T0 + 1600)
    final = run_edits(server, session.id, current(session), 4)
    conn, _ = server.open(session.id, T0 + 9000)
    events = pump(server, conn, device, device.connect(T0 + 9000), T0 + 9000)
    [connected] = [e for e in events if isinstance(e, Connected)]
    assert connected.resumed is False
    assert device.schema == final
    assert device.checksum == session.checksum


def deliver(
    server: ServerProtocol, conn: str, device: DeviceSession, outputs: list[Any]
) -> list[Any]:
    """Hand ``conn``'s frames among ``outputs`` to the device; its events."""
    events: list[Any] = []
    for output in outputs:
        if isinstance(output, Send) and output.to == conn:
            events += pump(server, conn, device, device.receive(output.data, T0), T0)
    return events


def connected_device(
    **server_options: Any,
) -> tuple[ServerProtocol, Any, DeviceSession, str]:
    """A server (no coalescing) with a big schema, and a DeviceSession connected to it:
    (server, session, device, connection id)."""
    server = ServerProtocol(update_interval_ms=0, **server_options)
    session = server.create_session(T0, big_schema())
    device = DeviceSession(session.id, "phone")
    conn, _ = server.open(session.id, T0)
    pump(server, conn, device, device.connect(T0), T0)
    return server, session, device, conn


def pump(
    server: ServerProtocol, conn: str, device: DeviceSession, outputs: list[Any], now: float
) -> list[Any]:
    """Deliver frames both ways until quiet; the device's events."""
    events: list[Any] = []
    to_server = [o.data for o in outputs if isinstance(o, Send)]
    events += [o for o in outputs if not isinstance(o, Send)]
    while to_server:
        replies = server.receive(conn, to_server.pop(0), now)
        for reply in replies:
            if isinstance(reply, Send) and reply.to == conn:
                back = device.receive(reply.data, now)
                to_server += [o.data for o in back if isinstance(o, Send)]
                events += [o for o in back if not isinstance(o, Send)]
    return events


def test_device_session_resumes_after_a_reconnect() -> None:
    server, session, device, conn = connected_device()
    schema = current(session)
    assert device.schema == schema
    # One update while connected (a device needs a verified update to resume from).
    first = edit(schema, 0, "first")
    deliver(server, conn, device, server.publish(session.id, first, T0 + 1000))
    assert device.sequence == 1
    server.connection_lost(conn, T0 + 1100)
    assert device.connection_lost(T0 + 1100) is not None
    final = run_edits(server, session.id, first, 5)

    conn, _ = server.open(session.id, T0 + 9000)
    hello = device.connect(T0 + 9000)
    assert b'"resume":{"sequenceNumber":1,' in of(hello, Send)[0].data
    events = pump(server, conn, device, hello, T0 + 9000)
    applied = [e for e in events if isinstance(e, UpdateApplied)]
    assert [(e.kind, e.success, e.verified) for e in applied] == [("patch", True, True)] * 5
    assert device.schema == final
    assert device.sequence == session.sequence
    assert server.connections[conn].pending == {}


# ------------------------------------------------------------------- schema errors


def test_a_refused_save_reaches_every_device_and_late_joiners() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    a = join(server, session.id, "a")
    b, _ = join_patch(server, session.id, "b")
    outputs = server.report_schema_error(
        session.id, "Unexpected token } in JSON", T0 + 10, line=3, column=7
    )
    assert of(outputs, ErrorEvent) == []  # the caller reports its own error
    for connection in (a, b):
        [message] = sent(outputs, connection)
        assert isinstance(message, ErrorMessage)
        payload = message.payload
        assert (payload.code, payload.severity, payload.recoverable) == (
            "SCHEMA_VALIDATION_FAILED",
            "error",
            True,
        )
        assert payload.message == "Unexpected token } in JSON"
        assert payload.details == "line 3, column 7"
    # A device joining while the file is still invalid hears it after `connected`.
    late, outputs = join_patch(server, session.id, "late")
    assert [type(m).__name__ for m in sent(outputs, late)] == ["ConnectedMessage", "ErrorMessage"]
    # The next valid save clears it, and says so, on every variant.
    outputs = server.publish(session.id, edit(schema, 1, "fixed"), T0 + 1000)
    updates = [m for m in sent(outputs) if isinstance(m, UpdateMessage)]
    assert len(updates) == 3
    assert {u.payload.type for u in updates} == {"incremental", "patch"}
    assert all(u.payload.error_cleared is True for u in updates)
    assert session.schema_error is None
    later, outputs = join_patch(server, session.id, "later")
    assert [type(m).__name__ for m in sent(outputs, later)] == ["ConnectedMessage"]
    outputs = server.publish(session.id, edit(schema, 1, "again"), T0 + 2000)
    assert all(
        m.payload.error_cleared is not True for m in sent(outputs) if isinstance(m, UpdateMessage)
    )


def test_an_unchanged_valid_save_still_clears_the_error() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    conn, _ = join_patch(server, session.id)
    server.report_schema_error(session.id, "broken", T0 + 10)
    outputs = server.publish(session.id, copy.deepcopy(schema), T0 + 1000)
    [update] = sent(outputs, conn)
    assert isinstance(update, UpdateMessage)
    assert (update.payload.type, update.payload.error_cleared) == ("patch", True)
    assert update.payload.patch == []


def test_a_save_the_server_refuses_is_sent_to_devices_too() -> None:
    server = ServerProtocol(update_interval_ms=0, max_message_bytes=3000)
    session = server.create_session(T0, make_schema(count=2))
    conn = join(server, session.id)
    outputs = server.publish(session.id, make_schema(count=60), T0 + 1000)
    [event] = of(outputs, ErrorEvent)
    assert "limit" in event.message
    [message] = sent(outputs, conn)
    assert isinstance(message, ErrorMessage)
    assert message.payload.code == "SCHEMA_VALIDATION_FAILED"
    assert "limit" in message.payload.message


def test_the_device_tracks_the_server_error_until_cleared() -> None:
    server, session, device, conn = connected_device()
    schema = current(session)
    for output in server.report_schema_error(session.id, "bad", T0 + 5, line=1, column=2):
        assert isinstance(output, Send)
        [event] = device.receive(output.data, T0 + 5)
        assert isinstance(event, ErrorEvent)
        assert event.code == "SCHEMA_VALIDATION_FAILED"
    assert device.server_error is not None
    assert device.server_error.details == "line 1, column 2"
    events = deliver(
        server, conn, device, server.publish(session.id, edit(schema, 2, "ok"), T0 + 1000)
    )
    [applied] = [e for e in events if isinstance(e, UpdateApplied)]
    assert applied.error_cleared
    assert device.server_error is None


# ------------------------------------------------------- schema bytes, once per version


def _vector_schemas() -> list[dict[str, Any]]:
    """The schemas of the reference's delta vectors that a session can hold."""
    from lumora_fast import ProtocolError
    from lumora_fast.sessions import parse_json
    from tests.conftest import load_vectors

    schemas = []
    for record in load_vectors("delta"):
        for key in ("old_json", "new_json"):
            try:
                schema = parse_json(record[key].encode("utf-8", "surrogatepass"))
                calculate_checksum(schema)
            except (ProtocolError, KeyError):
                continue
            if isinstance(schema, dict):
                schemas.append(schema)
    return schemas


def test_connected_and_full_updates_embed_the_schema_bytes_exactly() -> None:
    """``connected`` and full updates are assembled from the schema's bytes, written once
    per version: byte for byte what serializing the whole message gives."""
    from lumora_fast import (
        create_connected_message,
        create_full_update,
        create_update_message,
    )

    schemas = _vector_schemas()
    assert len(schemas) > 500
    for index, schema in enumerate(schemas):
        server = ServerProtocol(update_interval_ms=0)
        session = server.create_session(T0, schema, session_id=f'odd-"id",{index:04d}')
        conn, _ = server.open(session.id, T0)
        [send] = of(server.receive(conn, connect_bytes(session.id), T0), Send)
        expected = create_connected_message(session.id, conn, schema, timestamp=int(T0))
        assert send.data == serialize_message(expected)
        [full] = of(server.receive(conn, reload_bytes(session.id), T0), Send)
        update = create_full_update(schema, 0, True, checksum=session.checksum)
        assert full.data == serialize_message(
            create_update_message(session.id, update, timestamp=int(T0))
        )


# ------------------------------------------------------------- the full update, lazily


def test_the_schema_is_written_only_when_a_device_needs_it() -> None:
    """With only patch devices, an update writes no full frame (its size is known from
    the checksum's walk); a device that connects next gets the new schema, and the full
    update's recorded size is the size of the frame built then."""
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    join_patch(server, session.id)
    new = edit(schema, 3, "changed")
    outputs = server.publish(session.id, new, T0 + 1000)
    [event] = of(outputs, UpdateSent)
    assert event.kind == "patch"
    assert session.full_update is None
    assert session.schema_json is None
    _, joined = join_patch(server, session.id, "late", now=T0 + 2000)
    [connected] = sent(joined)
    assert isinstance(connected, ConnectedMessage)
    assert connected.payload.initial_schema == new
    full = server.full_update(session.id, T0 + 2000)
    assert full is not None
    assert len(full) == event.full_size == event.sizes["full"]
    assert session.full_update is not None


def test_a_full_device_gets_the_full_update_built_for_it() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = big_schema()
    session = server.create_session(T0, schema)
    join_patch(server, session.id)
    full_only, _ = join_patch(server, session.id, "old", update_types=["full"])
    new = edit(schema, 3, "changed")
    outputs = server.publish(session.id, new, T0 + 1000)
    to_full = sent(outputs, full_only)
    [update] = to_full
    assert isinstance(update, UpdateMessage)
    assert update.payload.type == "full"
    assert update.payload.schema == new
    [event] = of(outputs, UpdateSent)
    assert event.full_size == len(
        next(o.data for o in outputs if isinstance(o, Send) and o.to == full_only)
    )
