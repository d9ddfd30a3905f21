"""What a hostile network or a careless device cannot do to the server (issue 13).

Each test runs a real server on loopback against real sockets: a device that stops
reading, one that sends too much or too fast, frames that break RFC 6455, sockets that
never finish connecting, and a device that answers no WebSocket pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from lumora_fast import calculate_checksum
from lumora_fast.asyncio import Device, serve
from lumora_fast.asyncio.server import DEFAULT_WRITE_TIMEOUT
from lumora_fast.sessions import DeviceDisconnected, Send, UpdateAcked
from tests.asyncio._helpers import connect_message, message, raw_device, receive, run, running
from tests.sessions._helpers import make_schema

MIB = 1024 * 1024


def big_schema(text: str) -> dict[str, Any]:
    """A ~3 MB schema; a new ``text`` changes every node (so updates are full)."""
    return make_schema(count=6000, text=f"{text} " + "x" * 480)


@asynccontextmanager
async def stalled_device(url: str) -> AsyncIterator[ClientConnection]:
    """A device that joins and then never reads again, like a suspended phone app.

    Its receive buffer is small and fixed (no autotuning), so the server's sends back up
    after a few megabytes, as they would over a real network.
    """
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    session_id = url.rsplit("=", 1)[1]
    ws = await connect(url, sock=sock, compression=None, proxy=None, max_size=None)
    try:
        await ws.send(connect_message(session_id, device_id="stalled"))
        assert (await receive(ws, timeout=10))["type"] == "connected"
        ws.transport.pause_reading()
        ws.raw_socket = sock  # type: ignore[attr-defined]
        yield ws
    finally:
        ws.transport.abort()


@run(timeout=60)
async def test_device_that_stops_reading_is_aborted_and_the_others_keep_up() -> None:
    schema = big_schema("v0")
    async with running(schema, update_interval_ms=0, write_timeout=1.0) as (
        server,
        session_id,
        events,
    ):
        url = server.url(session_id)
        healthy = Device(url, device_id="healthy")
        task = asyncio.create_task(healthy.run())
        await healthy.wait_for(lambda d: d.session.schema is not None, timeout=20)
        async with stalled_device(url):
            [stalled] = [
                c for c in server.protocol.connections.values() if c.device_id == "stalled"
            ]
            peer = server._peers[stalled.id]
            ws = peer.ws
            started = time.monotonic()
            current = schema
            for i in range(1, 5):  # fewer than max_queue: no "fell behind" resync
                current = big_schema(f"v{i}")
                server.publish(session_id, current)
                await healthy.wait_for(
                    lambda d, c=current: d.session.checksum == calculate_checksum(c), timeout=20
                )
            gone = await events.wait(DeviceDisconnected, lambda e: e.device_id == "stalled")
            elapsed = time.monotonic() - started
            assert gone.reason == "write timeout"
            assert elapsed < 15, elapsed
            # Dropped at the TCP level: no close handshake to wait for, buffers freed.
            await asyncio.wait([peer.task], timeout=5)
            assert peer.task.done()
            assert ws.transport.is_closing()
            assert ws.transport.get_write_buffer_size() == 0
            assert stalled.id not in server._peers
            assert stalled.id not in server.protocol.connections
        # The healthy device acked every update.
        acked = [e.sequence for e in events.of(UpdateAcked) if e.acked >= 1]
        assert set(acked) >= {1, 2, 3, 4}
        await healthy.close()
        await task


@run(timeout=30)
async def test_slow_reader_that_keeps_reading_is_not_cut_off() -> None:
    schema = big_schema("v0")
    async with (
        running(schema, update_interval_ms=0, write_timeout=0.6) as (
            server,
            session_id,
            events,
        ),
        stalled_device(server.url(session_id)) as ws,
    ):
        [peer] = server._peers.values()
        loop = asyncio.get_running_loop()
        server.publish(session_id, big_schema("v1"))
        server.publish(session_id, big_schema("v2"))
        # Take 16 KB from the socket every 0.2 s (the transport stays paused): far
        # slower than the server writes, but never stalled for a whole write timeout.
        sock: socket.socket = ws.raw_socket  # type: ignore[attr-defined]
        longest = 0.0
        taken = 0
        for _ in range(15):
            with contextlib.suppress(BlockingIOError):
                taken += len(sock.recv(16 * 1024))
            await asyncio.sleep(0.2)
            since = peer.waiting_since()
            if since is not None:
                longest = max(longest, loop.time() - since)
        # A send lasted longer than the write timeout, and the device was kept.
        assert taken > 0
        assert longest > 1.0
        assert [e for e in events.of(DeviceDisconnected) if e.device_id == "stalled"] == []
        assert not peer.ws.transport.is_closing()


@run(timeout=30)
async def test_message_over_the_inbound_cap_closes_1009() -> None:
    async with running(make_schema()) as (server, session_id, events):
        assert server.protocol.max_inbound_bytes == MIB
        async with raw_device(server.url(session_id), max_size=None) as ws:
            await ws.send(message(session_id, "ping", {"pad": "x" * (2 * MIB)}))
            await ws.wait_closed()
            assert ws.close_code == 1009
        assert (await events.wait(DeviceDisconnected)).device_id == "raw"


@run(timeout=30)
async def test_inbound_cap_is_configurable() -> None:
    async with (
        running(make_schema(), max_inbound_bytes=4096) as (server, session_id, _),
        raw_device(server.url(session_id)) as ws,
    ):
        await ws.send(message(session_id, "ping", {"pad": "x" * 3000}))
        assert (await receive(ws))["type"] == "pong"
        await ws.send(message(session_id, "ping", {"pad": "x" * 5000}))
        await ws.wait_closed()
        assert ws.close_code == 1009


@run(timeout=30)
async def test_one_device_cannot_make_the_server_parse_without_limit() -> None:
    rate = 256 * 1024
    async with running(make_schema(), max_inbound_bytes=256 * 1024, max_inbound_rate=rate) as (
        server,
        session_id,
        events,
    ):
        url = server.url(session_id)
        healthy = Device(url, device_id="healthy")
        task = asyncio.create_task(healthy.run())
        await healthy.wait_for(lambda d: d.session.schema is not None)
        async with raw_device(url, max_size=None) as flood:
            ping = message(session_id, "ping", {"pad": "x" * (200 * 1024)})
            start = time.monotonic()
            sent = 0

            async def blast() -> None:
                nonlocal sent
                while True:
                    await flood.send(ping)
                    sent += 1

            blaster = asyncio.create_task(blast())
            pongs = 0
            try:
                async with asyncio.timeout(2.0):
                    while True:
                        if (await receive(flood))["type"] == "pong":
                            pongs += 1
            except TimeoutError:
                pass
            # Meanwhile an edit reaches the other device promptly.
            new = make_schema(text="edited")
            published = time.monotonic()
            server.publish(session_id, new)
            await healthy.wait_for(
                lambda d: d.session.checksum == calculate_checksum(new), timeout=5
            )
            edit_latency = time.monotonic() - published
            blaster.cancel()
            elapsed = time.monotonic() - start
        # The parsed bytes stay within the budget: one burst plus rate x time.
        assert pongs * len(ping) <= 256 * 1024 + rate * elapsed + len(ping), (pongs, elapsed)
        assert sent > pongs  # the device did try to send more than that
        assert edit_latency < 2.0
        await events.wait(UpdateAcked)
        await healthy.close()
        await task


@run(timeout=20)
async def test_text_frame_that_is_not_utf8_closes_1007() -> None:
    async with (
        running(make_schema()) as (server, session_id, events),
        raw_device(server.url(session_id)) as ws,
    ):
        await ws.send(b'{"type": "ping", "x": "\xff\xfe"}', text=True)
        await ws.wait_closed()
        assert ws.close_code == 1007
        assert (await events.wait(DeviceDisconnected)).device_id == "raw"


@run(timeout=20)
async def test_binary_frames_are_still_read() -> None:
    async with (
        running(make_schema()) as (server, session_id, _),
        raw_device(server.url(session_id)) as ws,
    ):
        await ws.send(message(session_id, "ping").encode())
        assert (await receive(ws))["type"] == "pong"


@run(timeout=20)
async def test_handshake_that_never_finishes_is_closed() -> None:
    async with serve(open_timeout=0.5) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            started = time.monotonic()
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # the server hung up
            assert time.monotonic() - started < 3
        finally:
            writer.close()


@run(timeout=20)
async def test_socket_that_never_sends_connect_is_closed() -> None:
    async with running(make_schema(), connect_timeout_ms=300) as (server, session_id, _):
        async with connect(server.url(session_id), proxy=None) as ws:
            started = time.monotonic()
            await ws.wait_closed()
            assert time.monotonic() - started < 3
            assert ws.close_code is not None
        assert server.protocol.connections == {}


@run(timeout=20)
async def test_keepalive_follows_the_protocol_heartbeat() -> None:
    # Defaults: a ping every 30 s to keep the path open; liveness is the heartbeat's.
    async with (
        running(make_schema()) as (server, session_id, _),
        raw_device(server.url(session_id)),
    ):
        [ws] = [peer.ws for peer in server._peers.values()]
        assert ws.ping_interval == 30.0
        assert ws.ping_timeout is None
        assert server.protocol.heartbeat_timeout_ms == 90_000
        assert DEFAULT_WRITE_TIMEOUT <= 30.0


def ignore_pings(ws: ClientConnection) -> None:
    """Make a client answer no WebSocket ping (a backgrounded app's socket)."""
    protocol = ws.protocol
    send_frame = protocol.send_frame

    def no_pongs(frame: Frame) -> None:
        if frame.opcode is not Opcode.PONG:
            send_frame(frame)

    protocol.send_frame = no_pongs  # type: ignore[method-assign]


@run(timeout=20)
async def test_device_alive_by_heartbeat_is_kept_without_pongs() -> None:
    # Heartbeat 300 ms x 3. The device answers no WebSocket ping, but pings the protocol
    # way every 200 ms: it is alive, and keeps its socket well past 3 ping intervals.
    async with running(make_schema(), heartbeat_interval_ms=300, heartbeat_missed_limit=3) as (
        server,
        session_id,
        events,
    ):
        async with raw_device(server.url(session_id)) as ws:
            ignore_pings(ws)
            for _ in range(10):
                await ws.send(message(session_id, "ping"))
                assert (await receive(ws))["type"] == "pong"
                await asyncio.sleep(0.2)
            assert events.of(DeviceDisconnected) == []

        # Silent on both counts: dropped once the heartbeat timeout has passed.
        async with raw_device(server.url(session_id)) as ws:
            ignore_pings(ws)
            started = time.monotonic()
            await ws.wait_closed()
            assert 0.8 <= time.monotonic() - started < 3
            assert (ws.close_code, ws.close_reason) == (1000, "Connection timeout")


@run(timeout=20)
async def test_idle_writers_hold_no_message() -> None:
    """Each `connected` message carries the whole schema, once per device: a writer
    waiting for its next message must not keep the last one alive."""
    schema = make_schema(count=500, text="x" * 100)
    async with (
        running(schema) as (server, session_id, _),
        raw_device(server.url(session_id)),
        raw_device(server.url(session_id)),
    ):
        await asyncio.sleep(0.1)
        writers = [peer.task.get_coro() for peer in server._peers.values()]
        assert len(writers) == 2
        for writer in writers:
            frame = writer.cr_frame  # type: ignore[attr-defined]
            assert frame is not None
            held = [v for v in frame.f_locals.values() if isinstance(v, Send | bytes)]
            assert held == []
