"""The asyncio server on loopback, probed by raw websockets clients that speak JSON by hand."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from lumora_fast import MAX_MESSAGE_BYTES, calculate_checksum
from lumora_fast.asyncio import Device, serve
from lumora_fast.sessions import (
    AckReceived,
    DeviceConnected,
    DeviceDisconnected,
    ErrorEvent,
    Resync,
    UpdateAcked,
    UpdateSent,
)
from tests.asyncio._helpers import connect_message, message, raw_device, receive, run, running
from tests.sessions._helpers import edit, make_schema


@run()
async def test_connect_flow_over_the_wire() -> None:
    schema = make_schema()
    async with running(schema) as (server, session_id, events):
        assert re.fullmatch(
            rf"ws://127\.0\.0\.1:{server.port}/ws\?session={session_id}", server.url(session_id)
        )
        async with connect(server.url(session_id), proxy=None) as ws:
            await ws.send(connect_message(session_id, device_id="raw-1"))
            connected = await receive(ws)
            assert connected["type"] == "connected"
            assert connected["sessionId"] == session_id
            assert connected["payload"]["initialSchema"] == schema
            assert connected["payload"]["capabilities"] == {
                "incrementalUpdates": True,
                "compression": False,
                "statePreservation": True,
            }
            joined = await events.wait(DeviceConnected)
            assert (joined.device_id, joined.connection_id) == (
                "raw-1",
                connected["payload"]["connectionId"],
            )
            await ws.send(message(session_id, "ping"))
            pong = await receive(ws)
            assert pong["type"] == "pong"
            assert isinstance(pong["payload"]["serverTime"], int)
        left = await events.wait(DeviceDisconnected)
        assert left.device_id == "raw-1"


@run()
async def test_updates_full_and_incremental_are_applied_and_acked() -> None:
    schema = make_schema()
    async with running(schema) as (server, session_id, events):
        async with raw_device(server.url(session_id)) as ws:
            new = edit(schema, 4, "changed")
            server.publish(session_id, new)
            update = await receive(ws)
            assert update["type"] == "update"
            payload = update["payload"]
            assert (payload["type"], payload["sequenceNumber"]) == ("incremental", 1)
            assert payload["checksum"] == calculate_checksum(new)
            assert [n["id"] for n in payload["delta"]["modified"]] == ["n4"]
            await ws.send(
                message(session_id, "ack", {"sequenceNumber": 1, "success": True, "applyTime": 1.5})
            )
            ack = await events.wait(AckReceived)
            assert (ack.sequence, ack.success, ack.apply_time_ms) == (1, True, 1.5)
            assert ack.latency_ms is not None
            assert ack.latency_ms >= 0

            await asyncio.sleep(0.11)  # outside the coalescing window
            renamed = make_schema(text="all different")
            server.publish(session_id, renamed)
            payload = (await receive(ws))["payload"]
            assert (payload["type"], payload["sequenceNumber"]) == ("full", 2)
            assert payload["schema"] == renamed
            assert payload["checksum"] == calculate_checksum(renamed)
        assert [e.kind for e in events.of(UpdateSent)] == ["incremental", "full"]


@run()
async def test_device_applies_verifies_and_acks() -> None:
    schema = make_schema()
    async with running(schema) as (server, session_id, events):
        device = Device(server.url(session_id), device_id="phone")
        task = asyncio.create_task(device.run())
        await device.wait_for(lambda d: d.session.checksum == calculate_checksum(schema))
        current = schema
        for i, text in enumerate(["a", "b", "c"]):
            current = edit(current, i, text) if i < 2 else make_schema(text=text)
            server.publish(session_id, current)
            await device.wait_for(lambda d, c=current: d.session.checksum == calculate_checksum(c))
            await events.wait(UpdateAcked, lambda e, i=i: e.sequence == i + 1)
            await asyncio.sleep(0.11)
        # The device asks for patches: each edit is one (smaller than the alternatives).
        assert [e.kind for e in events.of(UpdateSent)] == ["patch", "patch", "patch"]
        assert all(a.success for a in events.of(AckReceived))
        await device.close()
        assert await task == 1000


@run()
async def test_reload_gets_one_full_update() -> None:
    schema = make_schema()
    async with (
        running(schema) as (server, session_id, events),
        raw_device(server.url(session_id)) as ws,
    ):
        await ws.send(message(session_id, "reload", {"reason": "error", "error": "lost"}))
        update = await receive(ws)
        assert update["payload"]["type"] == "full"
        assert update["payload"]["schema"] == schema
        assert update["payload"]["checksum"] == calculate_checksum(schema)
        resync = await events.wait(Resync)
        assert resync.reason == "reload"
        with pytest.raises(TimeoutError):
            await receive(ws, timeout=0.2)  # exactly one


@run()
async def test_checksum_mismatch_is_resynced() -> None:
    schema = make_schema()
    async with running(schema) as (server, session_id, events):
        device = Device(server.url(session_id))
        task = asyncio.create_task(device.run())
        await device.wait_for(lambda d: d.session.schema is not None)
        device.session._schema = edit(schema, 0, "drifted")  # the device's copy went bad
        device.session._checksum = None
        new = edit(schema, 7, "seven")
        server.publish(session_id, new)
        await device.wait_for(lambda d: d.session.checksum == calculate_checksum(new))
        assert (await events.wait(Resync)).reason == "reload"
        failed = await events.wait(AckReceived, lambda a: not a.success)
        assert failed.error
        assert failed.error.startswith("Checksum mismatch")
        completed = await events.wait(UpdateAcked)
        assert (completed.acked, completed.failed) == (1, 1)
        await device.close()
        await task


@run()
async def test_sequence_gap_is_resynced() -> None:
    schema = make_schema()
    async with running(schema, update_interval_ms=0) as (server, session_id, events):
        device = Device(server.url(session_id))
        task = asyncio.create_task(device.run())
        await device.wait_for(lambda d: d.session.schema is not None)
        first = edit(schema, 1, "one")
        server.publish(session_id, first)
        await device.wait_for(lambda d: d.session.sequence == 1)
        server.protocol.sessions[session_id].sequence += 1  # update 2 is "lost"
        second = edit(first, 2, "two")
        server.publish(session_id, second)
        await device.wait_for(lambda d: d.session.checksum == calculate_checksum(second))
        failed = await events.wait(AckReceived, lambda a: not a.success)
        assert failed.error == "Sequence gap: expected 2, got 3"
        assert (await events.wait(Resync)).sequence == 3
        assert device.session.sequence == 3
        await device.close()
        await task


@run()
async def test_silent_device_is_dropped() -> None:
    async with running(make_schema(), heartbeat_interval_ms=100, heartbeat_missed_limit=3) as (
        server,
        session_id,
        events,
    ):
        async with raw_device(server.url(session_id)) as ws:
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1000, "Connection timeout")
        assert (await events.wait(DeviceDisconnected)).reason == "heartbeat timeout"


@run()
async def test_pinging_device_is_kept() -> None:
    async with running(make_schema(), heartbeat_interval_ms=200) as (server, session_id, events):
        device = Device(server.url(session_id), ping_interval_ms=50)
        task = asyncio.create_task(device.run())
        await asyncio.sleep(1.0)  # well past the 600 ms a silent device gets
        assert device.connections == 1
        assert events.of(DeviceDisconnected) == []
        await device.close()
        await task


@run()
async def test_rate_limit_warns_then_closes() -> None:
    async with running(make_schema(), max_messages=5) as (server, session_id, events):
        async with raw_device(server.url(session_id)) as ws:
            for _ in range(12):
                await ws.send(message(session_id, "ping"))
            received = []
            while True:
                try:
                    received.append(await receive(ws))
                except Exception:
                    break
            assert [m["type"] for m in received[:4]] == ["pong"] * 4
            errors = [m["payload"] for m in received if m["type"] == "error"]
            assert [(e["code"], e["severity"]) for e in errors] == [
                ("RATE_LIMIT_EXCEEDED", "warning"),
                ("RATE_LIMIT_EXCEEDED", "fatal"),
            ]
            assert ws.close_code == 1008
        assert (await events.wait(DeviceDisconnected)).reason == "rate limit"


@run(timeout=30)
async def test_oversize_message_closes_1009() -> None:
    async with running(make_schema()) as (server, session_id, _):
        # Not `async with`: closing a client whose 10 MB write was cut short trips over
        # asyncio's closed transport (a client-side quirk, not the server under test).
        ws = await connect(server.url(session_id), compression=None, proxy=None, max_size=None)
        await ws.send(connect_message(session_id))
        assert (await receive(ws))["type"] == "connected"
        await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
        await ws.wait_closed()
        assert ws.close_code == 1009


@run()
async def test_invalid_message_gets_invalid_message_error() -> None:
    async with running(make_schema()) as (server, session_id, events):
        async with raw_device(server.url(session_id)) as ws:
            await ws.send('{"type": "ping", "sessionId": 5}')
            error = await receive(ws)
            assert error["type"] == "error"
            assert (error["payload"]["code"], error["payload"]["recoverable"]) == (
                "INVALID_MESSAGE",
                True,
            )
            await ws.send(message(session_id, "ping"))
            assert (await receive(ws))["type"] == "pong"  # still open
        assert events.of(ErrorEvent)


async def _refused(
    url: str, first: str | None = None
) -> tuple[list[dict[str, object]], int | None, str | None]:
    async with connect(url, proxy=None) as ws:
        if first is not None:
            await ws.send(first)
        received = []
        while True:
            try:
                received.append(await receive(ws))
            except Exception:
                break
        return received, ws.close_code, ws.close_reason


@run()
async def test_session_refusals_use_the_reference_close_codes() -> None:
    async with running(make_schema(), session_timeout_ms=1000) as (server, session_id, _):
        base = f"ws://127.0.0.1:{server.port}/ws"
        assert await _refused(base) == ([], 4400, "Session ID required")
        received, code, reason = await _refused(f"{base}?session=not-a-real-session")
        assert [m["payload"]["code"] for m in received] == ["SESSION_NOT_FOUND"]  # type: ignore[index]
        assert (code, reason) == (4404, "Session not found")
        received, code, _ = await _refused(server.url(session_id), message(session_id, "ping"))
        assert [m["payload"]["code"] for m in received] == ["AUTHENTICATION_FAILED"]  # type: ignore[index]
        assert code == 4401
        received, code, _ = await _refused(
            server.url(session_id), connect_message(session_id, "2.0.0")
        )
        assert [m["payload"]["code"] for m in received] == ["UNSUPPORTED_VERSION"]  # type: ignore[index]
        assert code == 4426
        other = server.create_session(make_schema())
        received, code, reason = await _refused(server.url(session_id), connect_message(other))
        assert [m["payload"]["code"] for m in received] == ["SESSION_NOT_FOUND"]  # type: ignore[index]
        assert (code, reason) == (4400, "Session ID mismatch")
        await asyncio.sleep(1.1)  # both sessions idle past the timeout
        received, code, reason = await _refused(server.url(session_id))
        assert [m["payload"]["code"] for m in received] == ["SESSION_EXPIRED"]  # type: ignore[index]
        assert (code, reason) == (4410, "Session expired")


@run()
async def test_device_stops_on_refusal() -> None:
    async with running(make_schema()) as (server, _, _):
        device = Device(f"ws://127.0.0.1:{server.port}/ws?session=unknown-session-id")
        assert await device.run() == 4404
    with pytest.raises(ValueError, match="session"):
        Device("ws://127.0.0.1:1/ws")


@run()
async def test_cross_site_origins_are_refused() -> None:
    async with running(make_schema()) as (server, session_id, events):
        url = server.url(session_id)
        for origin in ["https://evil.example", "http://localhost.evil.example", "null"]:
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, origin=origin, proxy=None):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403
        for origin in [None, "http://localhost:5173", "https://127.0.0.1", "http://[::1]:8080"]:
            async with connect(url, origin=origin, proxy=None) as ws:  # type: ignore[arg-type]
                await ws.send(connect_message(session_id))
                assert (await receive(ws))["type"] == "connected"
        assert len(events.of(DeviceConnected)) == 4
    async with serve(origins=[None, "http://192.168.1.20:8080"]) as server:
        session_id = server.create_session(make_schema())
        async with connect(
            server.url(session_id), origin="http://192.168.1.20:8080", proxy=None
        ) as ws:  # type: ignore[arg-type]
            await ws.send(connect_message(session_id))
            assert (await receive(ws))["type"] == "connected"


@run()
async def test_other_paths_are_not_found() -> None:
    async with running(make_schema()) as (server, session_id, _):
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                f"ws://127.0.0.1:{server.port}/other?session={session_id}", proxy=None
            ):
                pass
        assert info.value.response.status_code == 404


@run(timeout=20)
async def test_reconnect_with_backoff_converges() -> None:
    schema = make_schema()
    recorder_events: list[object] = []
    async with running(schema) as (server, session_id, _):
        protocol, port = server.protocol, server.port
        device = Device(
            server.url(session_id),
            reconnect_initial_ms=50,
            reconnect_max_ms=400,
            jitter=0,
            on_event=recorder_events.append,
        )
        task = asyncio.create_task(device.run())
        await device.wait_for(lambda d: d.session.schema == schema)
    # The server is down: the device backs off (50, 100, 200, 400, 400... ms).
    await asyncio.sleep(0.8)
    new = edit(schema, 3, "while you were away")
    protocol.publish(session_id, new, time.time() * 1000)  # nobody is connected to see it
    async with serve(port=port, protocol=protocol) as server:
        await device.wait_for(lambda d: d.session.checksum == calculate_checksum(new), timeout=5)
        assert device.connections == 2
        await device.close()
        await task
    retries = [
        getattr(e, "retry_in_ms", None)
        for e in recorder_events
        if type(e).__name__ == "Disconnected"
    ]
    assert retries[:3] == [50, 100, 200]
    assert retries[3:-1] == [400] * len(retries[3:-1])
    assert retries[-1] is None  # closed by us: no more retries


@run(timeout=45)
async def test_fifty_devices_converge_after_a_hundred_rapid_edits() -> None:
    schema = make_schema(count=30)
    async with running(schema) as (server, session_id, events):
        fleet = [Device(server.url(session_id), device_id=f"d{i}") for i in range(50)]
        tasks = [asyncio.create_task(d.run()) for d in fleet]
        await asyncio.gather(*(d.wait_for(lambda d: d.session.schema is not None) for d in fleet))
        current = schema
        for i in range(100):
            current = edit(current, i % 30, f"edit {i}")
            server.publish(session_id, current)
            await asyncio.sleep(0.002)
        target = calculate_checksum(current)
        await asyncio.gather(*(d.wait_for(lambda d: d.session.checksum == target) for d in fleet))
        updates = events.of(UpdateSent)
        assert len(updates) < 100  # coalesced
        assert sum(u.edits for u in updates) == 100
        last = updates[-1].sequence
        await events.wait(UpdateAcked, lambda e: e.sequence == last and e.acked == 50)
        for device in fleet:
            await device.close()
        await asyncio.gather(*tasks)


@run(timeout=30)
async def test_slow_device_does_not_delay_the_others() -> None:
    schema = make_schema()
    async with running(schema, update_interval_ms=0, max_queue=2) as (server, session_id, events):
        fast = Device(server.url(session_id), device_id="fast")
        task = asyncio.create_task(fast.run())
        await fast.wait_for(lambda d: d.session.schema is not None)
        async with raw_device(server.url(session_id), close_timeout=0.5):
            # The raw device's socket stops draining: every send to it waits until its
            # connection is gone (what a full TCP window looks like to the server,
            # without having to fill megabytes of kernel buffers first).
            [stuck_id] = [
                c.id for c in server.protocol.connections.values() if c.device_id == "raw"
            ]
            ws = server._peers[stuck_id].ws

            async def never_drains(*args: object, **kwargs: object) -> None:
                await ws.wait_closed()
                raise ConnectionClosedOK(None, None)

            ws.send = never_drains  # type: ignore[method-assign]
            # A stuck socket has bytes waiting in its transport: never written directly.
            server._peers[stuck_id]._write_now = lambda out: False  # type: ignore[method-assign]
            for i in range(8):
                current = edit(schema, i, f"edit {i}")
                server.publish(session_id, current)
                await fast.wait_for(
                    lambda d, c=current: d.session.checksum == calculate_checksum(c), timeout=5
                )
            # Update 1 is stuck in the socket, 2 and 3 queue up, 4 overflows: 2-4 are
            # replaced by one full update; it is still queued when 6 overflows: closed.
            behind = [e for e in events.of(Resync) if e.reason == "behind"]
            assert [(e.device_id, e.sequence) for e in behind] == [("raw", 4)]
            dropped = [e for e in events.of(DeviceDisconnected) if e.reason == "fell behind"]
            assert [e.device_id for e in dropped] == ["raw"]
            assert all(u.devices == 1 for u in events.of(UpdateSent)[6:])
        await fast.close()
        await task


def test_serve_binds_localhost_by_default() -> None:
    server = serve()
    assert server.host == "127.0.0.1"
    with pytest.raises(RuntimeError):
        server.port  # noqa: B018
    assert json.loads("[]") == []


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_shared_text_frames_are_what_websockets_writes(size: int) -> None:
    """The fan-out writes one prebuilt frame to every device: it must be the frame
    websockets' own send_text would have written."""
    from websockets.frames import Frame, Opcode

    from lumora_fast.asyncio.server import _text_frame

    data = b"x" * size
    assert _text_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])


@run()
async def test_messages_keep_their_order_when_the_fast_path_hands_over() -> None:
    """Whole messages are handled as they are read; a fragmented one turns that off for
    the connection, and the handler's recv() loop takes over without reordering."""
    schema = make_schema()
    async with running(schema) as (server, session_id, events):
        async with raw_device(server.url(session_id)) as ws:
            [peer] = server._peers.values()
            assert peer.ws.fast is not None  # type: ignore[attr-defined]
            await ws.send(message(session_id, "ping"))
            assert (await receive(ws))["type"] == "pong"
            assert peer.ws.fast is not None  # type: ignore[attr-defined]
            # A fragmented reload, then a ping: answered in that order.
            text = message(session_id, "reload", {"reason": "manual"})
            await ws.send([text[:20], text[20:]])
            await ws.send(message(session_id, "ping"))
            assert (await receive(ws))["payload"]["type"] == "full"
            assert (await receive(ws))["type"] == "pong"
            assert peer.ws.fast is None  # type: ignore[attr-defined]
            await ws.send(message(session_id, "ping"))
            assert (await receive(ws))["type"] == "pong"
        await events.wait(DeviceDisconnected)
