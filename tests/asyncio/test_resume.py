"""A device that loses its connection resumes: the missed edits arrive as patches."""

from __future__ import annotations

import asyncio

from lumora_fast import calculate_checksum
from lumora_fast.asyncio import Device
from lumora_fast.sessions import (
    AckReceived,
    Connected,
    DeviceConnected,
    DeviceDisconnected,
    Event,
    UpdateAcked,
    UpdateApplied,
)
from tests.asyncio._helpers import run, running
from tests.sessions._helpers import edit, make_schema


@run(timeout=30)
async def test_device_resumes_after_a_dropped_connection() -> None:
    schema = make_schema(count=30, text="a long enough line of text for a patch to pay " * 2)
    async with running(schema, update_interval_ms=0) as (server, session_id, events):
        seen: list[Event] = []
        device = Device(
            server.url(session_id),
            device_id="phone",
            on_event=seen.append,
            reconnect_initial_ms=50,
            jitter=0,
        )
        task = asyncio.create_task(device.run())
        joined = await events.wait(DeviceConnected)
        current = edit(schema, 0, "before the drop")
        server.publish(session_id, current)
        await events.wait(UpdateAcked, lambda e: e.sequence == 1)

        # The network drops the connection (no close frame), and edits go on.
        server._peers[joined.connection_id].abort("test: network drop")
        await events.wait(DeviceDisconnected)
        for i in range(1, 6):
            current = edit(current, i, f"missed {i}")
            server.publish(session_id, current)
        rejoined = await events.wait(DeviceConnected, lambda e: e.resumed is not None)
        assert rejoined.resumed == 5
        await device.wait_for(lambda d: d.session.checksum == calculate_checksum(current))
        acked = await events.wait(AckReceived, lambda e: e.sequence == 6)
        assert acked.success
        assert server.protocol.connections[rejoined.connection_id].pending == {}

        connected = [e for e in seen if isinstance(e, Connected)]
        assert [c.resumed for c in connected] == [False, True]
        applied = [e for e in seen if isinstance(e, UpdateApplied)]
        assert [(e.sequence, e.kind, e.success, e.verified) for e in applied] == [
            (n, "patch", True, True) for n in range(1, 7)
        ]
        assert device.session.schema == current
        await device.close()
        await task
