"""DeviceSession driven by scripted server messages and a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lumora_fast import (
    AckMessage,
    ConnectMessage,
    PingMessage,
    ReloadMessage,
    calculate_checksum,
    calculate_schema_delta,
    create_connected_message,
    create_error_message,
    create_full_update,
    create_incremental_update,
    create_update_message,
    serialize_message,
)
from lumora_fast.sessions import (
    Connected,
    DeviceSession,
    DeviceState,
    ErrorEvent,
    Send,
    UpdateApplied,
)

from ._helpers import T0, edit, kinds, make_schema, of, sent

SESSION = "session-under-test"


class Clock:
    """Fake monotonic seconds for apply-time measurement."""

    def __init__(self) -> None:
        self.ticks = itertools.count()

    def __call__(self) -> float:
        return next(self.ticks) * 0.001  # each reading 1 ms later


def _device(**options: Any) -> DeviceSession:
    return DeviceSession(SESSION, "phone", "android", "Pixel", timer=Clock(), **options)


def _connected(schema: dict[str, Any] | None = None, **options: Any) -> bytes:
    return serialize_message(
        create_connected_message(SESSION, "conn-1", schema, timestamp=int(T0), **options)
    )


def _full(schema: dict[str, Any], sequence: int, checksum: str | None = None) -> bytes:
    update = create_full_update(schema, sequence, checksum=checksum)
    return serialize_message(create_update_message(SESSION, update, timestamp=int(T0)))


def _incremental(
    old: dict[str, Any], new: dict[str, Any], sequence: int, checksum: str | None = "auto"
) -> bytes:
    if checksum == "auto":
        checksum = calculate_checksum(new)
    update = create_incremental_update(
        calculate_schema_delta(old, new), sequence, checksum=checksum
    )
    return serialize_message(create_update_message(SESSION, update, timestamp=int(T0)))


def _ack(outputs: list[Any]) -> AckMessage:
    [ack] = [m for m in sent(outputs) if isinstance(m, AckMessage)]
    return ack


@pytest.fixture
def schema() -> dict[str, Any]:
    return make_schema()


@pytest.fixture
def device(schema: dict[str, Any]) -> DeviceSession:
    device = _device()
    device.connect(T0)
    device.receive(_connected(schema), T0)
    return device


def test_connect_says_who_we_are() -> None:
    device = _device()
    [connect] = sent(device.connect(T0))
    assert isinstance(connect, ConnectMessage)
    assert connect.session_id == SESSION
    payload = connect.payload
    assert (payload.device_id, payload.platform, payload.device_name, payload.client_version) == (
        "phone",
        "android",
        "Pixel",
        "1.0.0",
    )
    assert device.state is DeviceState.CONNECTING


def test_connected_resets_to_the_server_schema(schema: dict[str, Any]) -> None:
    device = _device()
    device.connect(T0)
    outputs = device.receive(_connected(schema), T0)
    assert outputs == [
        Connected(session_id=SESSION, connection_id="conn-1", checksum=calculate_checksum(schema))
    ]
    assert device.state is DeviceState.CONNECTED
    assert device.schema == schema
    assert device.sequence is None
    # A reconnect lands on whatever the server has now.
    other = make_schema(text="other")
    device.receive(_connected(other), T0)
    assert device.checksum == calculate_checksum(other)


def test_full_update_is_applied_verified_and_acked(device: DeviceSession) -> None:
    new = make_schema(text="new")
    outputs = device.receive(_full(new, 1), T0 + 4)
    ack = _ack(outputs)
    assert (ack.payload.sequence_number, ack.payload.success) == (1, True)
    assert ack.payload.apply_time == 1.0  # one fake-clock millisecond
    [applied] = of(outputs, UpdateApplied)
    assert (applied.sequence, applied.kind, applied.success, applied.verified) == (
        1,
        "full",
        True,
        True,
    )
    assert applied.checksum == calculate_checksum(new)
    assert applied.latency_ms == 5.0  # 4 ms on the way, 1 ms to apply
    assert device.schema == new
    assert device.sequence == 1


def test_incremental_updates_follow_each_other(
    device: DeviceSession, schema: dict[str, Any]
) -> None:
    one = edit(schema, 1, "one")
    two = edit(one, 2, "two")
    assert _ack(
        device.receive(_incremental(schema, one, 5), T0)
    ).payload.success  # after connected: any
    outputs = device.receive(_incremental(one, two, 6), T0)
    assert _ack(outputs).payload.success
    assert of(outputs, UpdateApplied)[0].verified
    assert device.checksum == calculate_checksum(two)
    assert device.sequence == 6


def test_incremental_without_checksum_is_applied_unverified(
    device: DeviceSession, schema: dict[str, Any]
) -> None:
    new = edit(schema, 0, "x")
    outputs = device.receive(_incremental(schema, new, 1, checksum=None), T0)  # a reference server
    assert _ack(outputs).payload.success
    assert of(outputs, UpdateApplied)[0].verified is False
    assert device.checksum == calculate_checksum(new)


def test_checksum_mismatch_acks_failure_and_reloads(
    device: DeviceSession, schema: dict[str, Any]
) -> None:
    device.receive(_full(schema, 1), T0)
    corrupted = edit(schema, 0, "device-side drift")
    device._schema = corrupted  # something went wrong on the device
    new = edit(schema, 5, "five")
    outputs = device.receive(_incremental(schema, new, 2), T0)
    assert kinds(outputs) == ["ack", "reload"]
    ack = _ack(outputs)
    assert ack.payload.success is False
    assert ack.payload.error
    assert ack.payload.error.startswith(f"Checksum mismatch: expected {calculate_checksum(new)}")
    [reload] = [m for m in sent(outputs) if isinstance(m, ReloadMessage)]
    assert reload.payload.reason == "error"
    assert device.awaiting_full
    assert device.sequence == 1
    # Incremental updates are ignored until the full one arrives...
    assert device.receive(_incremental(new, edit(new, 6, "six"), 3), T0) == []
    # ...which brings it back in sync.
    latest = edit(new, 6, "six")
    assert _ack(device.receive(_full(latest, 3), T0)).payload.success
    assert not device.awaiting_full
    assert device.checksum == calculate_checksum(latest)


def test_sequence_gap_acks_failure_and_reloads(
    device: DeviceSession, schema: dict[str, Any]
) -> None:
    device.receive(_full(schema, 1), T0)
    one = edit(schema, 1, "one")
    two = edit(one, 2, "two")
    outputs = device.receive(_incremental(one, two, 3), T0)  # 2 never arrived
    assert kinds(outputs) == ["ack", "reload"]
    assert _ack(outputs).payload.error == "Sequence gap: expected 2, got 3"
    [applied] = of(outputs, UpdateApplied)
    assert applied.success is False
    assert device.schema == schema


def test_stale_incremental_is_ignored(device: DeviceSession, schema: dict[str, Any]) -> None:
    device.receive(_full(schema, 4), T0)
    assert device.receive(_incremental(schema, edit(schema, 0, "x"), 4), T0) == []
    assert device.receive(_incremental(schema, edit(schema, 0, "x"), 2), T0) == []


def test_full_update_with_wrong_checksum_fails(device: DeviceSession) -> None:
    outputs = device.receive(_full(make_schema(text="new"), 1, checksum="0" * 64), T0)
    assert kinds(outputs) == ["ack", "reload"]
    assert device.schema == make_schema()


def test_incremental_without_a_schema_fails(schema: dict[str, Any]) -> None:
    device = _device()
    device.connect(T0)
    device.receive(_connected(None), T0)
    outputs = device.receive(_incremental(schema, edit(schema, 0, "x"), 1), T0)
    assert kinds(outputs) == ["ack", "reload"]
    assert "no schema" in (_ack(outputs).payload.error or "")


def test_reloads_stop_after_repeated_failures(device: DeviceSession) -> None:
    bad = _full(make_schema(text="new"), 1, checksum="0" * 64)
    for _ in range(3):
        assert kinds(device.receive(bad, T0)) == ["ack", "reload"]
    outputs = device.receive(bad, T0)
    assert kinds(outputs) == ["ack"]
    assert of(outputs, ErrorEvent)


def test_xxh3_checksums_are_verified_with_xxh3(device: DeviceSession) -> None:
    new = make_schema(text="new")
    outputs = device.receive(_full(new, 1, checksum=calculate_checksum(new, algorithm="xxh3")), T0)
    assert of(outputs, UpdateApplied)[0].verified
    assert device.algorithm == "xxh3"
    assert device.checksum == calculate_checksum(new, algorithm="xxh3")


def test_capabilities_choose_the_algorithm(schema: dict[str, Any]) -> None:
    device = _device()
    device.receive(_connected(schema, checksum_algorithms=["xxh3"]), T0)
    assert device.checksum == calculate_checksum(schema, algorithm="xxh3")


def test_unreadable_message_asks_for_a_reload(device: DeviceSession) -> None:
    outputs = device.receive(b'{"type": "update"}', T0)
    assert of(outputs, ErrorEvent)
    assert kinds(outputs) == ["reload"]


def test_messages_for_other_sessions_are_ignored(device: DeviceSession) -> None:
    update = create_update_message("another-session", create_full_update(make_schema(), 1))
    outputs = device.receive(serialize_message(update), T0)
    assert [o for o in outputs if isinstance(o, Send)] == []
    assert device.schema == make_schema()


def test_server_errors_are_reported(device: DeviceSession) -> None:
    error = create_error_message(SESSION, "RATE_LIMIT_EXCEEDED", "slow down", "warning", True)
    [event] = device.receive(serialize_message(error), T0)
    assert isinstance(event, ErrorEvent)
    assert event.code == "RATE_LIMIT_EXCEEDED"
    assert "slow down" in event.message


def test_pings_every_interval_once_connected() -> None:
    device = _device(ping_interval_ms=30_000)
    device.connect(T0)
    assert device.next_deadline() is None
    device.receive(_connected(make_schema()), T0)
    assert device.next_deadline() == T0 + 30_000
    assert device.tick(T0 + 29_999) == []
    [ping] = sent(device.tick(T0 + 30_000))
    assert isinstance(ping, PingMessage)
    assert ping.payload
    assert ping.payload.status == "idle"
    assert device.next_deadline() == T0 + 60_000
    device.connection_lost(T0 + 31_000, 1006)
    assert device.next_deadline() is None
    assert device.tick(T0 + 90_000) == []


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    device = _device()
    delays = [device.connection_lost(T0, 1006) for _ in range(8)]
    assert delays == [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    device.receive(_connected(make_schema()), T0)
    assert device.connection_lost(T0, 1001) == 1000


def test_backoff_jitter_is_injectable() -> None:
    device = _device(jitter=0.5, random=lambda: 1.0)
    assert device.connection_lost(T0) == 500
    assert device.connection_lost(T0) == 1000


@pytest.mark.parametrize("code", [4400, 4401, 4404, 4410, 4426])
def test_refusals_stop_reconnecting(code: int) -> None:
    device = _device()
    assert device.connection_lost(T0, code) is None
    assert device.state is DeviceState.STOPPED


def test_manual_reload(device: DeviceSession) -> None:
    [reload] = sent(device.request_reload(T0))
    assert isinstance(reload, ReloadMessage)
    assert reload.payload.reason == "manual"
    assert _device().request_reload(T0) == []  # not connected
