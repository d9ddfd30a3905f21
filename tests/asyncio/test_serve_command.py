"""``lumora-fast serve`` as a subprocess, driven by a raw websockets client.

The client writes and reads the protocol's JSON by hand (the standard library's json, no
lumora_fast builders or codec), so the wire format is checked independently of the code
that produces it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from lumora_fast import calculate_checksum
from tests.asyncio._helpers import connect_message, message, receive, run
from tests.sessions._helpers import edit, make_schema


class ServeProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, path: Path, *options: str) -> ServeProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lumora_fast",
            "serve",
            str(path),
            "--port",
            "0",
            "--json",
            *options,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        return cls(process)

    async def event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next stdout event called ``name`` (earlier ones are kept in ``lines``)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                assert line, "serve exited"
                record: dict[str, Any] = json.loads(line)
                self.lines.append(record)
                if record["event"] == name:
                    return record

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


def _write(path: Path, schema: dict[str, Any]) -> None:
    path.write_text(json.dumps(schema), encoding="utf-8")


@run(timeout=60)
async def test_serve_over_the_wire(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    schema = make_schema(count=20)
    _write(path, schema)
    serve = await ServeProcess.start(path)
    try:
        listening = await serve.event("listening")
        assert serve.lines[0] is listening  # the first line
        session_id = listening["session"]
        assert listening["url"] == f"ws://127.0.0.1:{listening['port']}/ws?session={session_id}"
        assert listening["checksum"] == calculate_checksum(schema)

        async with connect(listening["url"], proxy=None, compression=None) as ws:
            await ws.send(connect_message(session_id, device_id="hand-written"))
            connected = await receive(ws)
            assert connected["type"] == "connected"
            assert connected["sessionId"] == session_id
            assert connected["version"] == "1.0.0"
            assert connected["payload"]["initialSchema"] == schema
            joined = await serve.event("device_connected")
            assert joined["device_id"] == "hand-written"
            assert joined["connection_id"] == connected["payload"]["connectionId"]

            # A small edit: an incremental update whose delta we apply by hand.
            new = edit(schema, 5, "edited on disk")
            _write(path, new)
            update = await receive(ws, timeout=10)
            assert update["type"] == "update"
            payload = update["payload"]
            assert (payload["type"], payload["sequenceNumber"], payload["preserveState"]) == (
                "incremental",
                1,
                True,
            )
            delta = payload["delta"]
            assert (delta["added"], delta["removed"]) == ([], [])
            replaced = {node["id"]: node for node in delta["modified"]}
            applied = [replaced.get(node["id"], node) for node in schema["nodes"]]
            assert applied == new["nodes"]
            assert payload["checksum"] == calculate_checksum(new)
            sent = await serve.event("update_sent")
            assert (sent["type"], sent["sequence"], sent["devices"]) == ("incremental", 1, 1)
            assert sent["bytes"] == len(json.dumps(update, separators=(",", ":")).encode())
            assert sent["bytes"] < sent["full_bytes"]

            await ws.send(
                message(session_id, "ack", {"sequenceNumber": 1, "success": True, "applyTime": 2})
            )
            ack = await serve.event("ack")
            assert (ack["device_id"], ack["sequence"], ack["success"]) == ("hand-written", 1, True)
            assert ack["latency_ms"] >= 0

            # A half-written file: reported (to the device too), never pushed.
            path.write_text(json.dumps(new)[:100], encoding="utf-8")
            error = await serve.event("error")
            assert "not pushed" in error["message"]
            told = await receive(ws, timeout=10)
            assert told["type"] == "error"
            assert told["payload"]["code"] == "SCHEMA_VALIDATION_FAILED"
            try:
                unexpected = await receive(ws, timeout=0.5)
            except TimeoutError:
                pass
            else:
                raise AssertionError(f"pushed {unexpected}")

            # Sections reordered: only a full update can say that.
            reordered = dict(new, nodes=list(reversed(new["nodes"])))
            _write(path, reordered)
            update = await receive(ws, timeout=10)
            payload = update["payload"]
            assert (payload["type"], payload["sequenceNumber"]) == ("full", 2)
            assert payload["errorCleared"] is True  # the error above is resolved
            assert payload["schema"] == reordered
            assert payload["checksum"] == calculate_checksum(reordered)

            await ws.send(message(session_id, "ping", {"status": "idle"}))
            assert (await receive(ws))["type"] == "pong"

            assert await serve.stop() == 0
            await ws.wait_closed()
            assert ws.close_code == 1001
    finally:
        await serve.stop()


@run(timeout=60)
async def test_session_renewal_after_a_refused_save(tmp_path: Path) -> None:
    """A refused save never becomes the schema a renewed session starts from."""
    path = tmp_path / "app.json"
    schema = make_schema(count=5)
    _write(path, schema)
    serve = await ServeProcess.start(path, "--session-timeout", "1.5")
    try:
        listening = await serve.event("listening")
        # Valid JSON nested deeper than the protocol allows: refused, never pushed.
        deep: Any = "leaf"
        for _ in range(600):
            deep = [deep]
        for attempt in range(20):  # until the watcher is live
            _write(path, dict(schema, metadata={"deep": deep, "attempt": attempt}))
            try:
                refused = await serve.event("error", timeout=0.5)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the refused save was never reported")
        assert refused["code"] == "SCHEMA_VALIDATION_FAILED"

        expired = await serve.event("session_expired", timeout=10)
        assert expired["session_id"] == listening["session"]
        renewed = await serve.event("session")
        assert renewed["session"] != listening["session"]
        assert renewed["checksum"] == calculate_checksum(schema)

        async with connect(renewed["url"], proxy=None, compression=None) as ws:
            await ws.send(connect_message(renewed["session"]))
            connected = await receive(ws)
            assert connected["payload"]["initialSchema"] == schema
            # The watcher lives on: the next valid save reaches the renewed session.
            new = edit(schema, 2, "after renewal")
            _write(path, new)
            update = await receive(ws, timeout=10)
            assert update["payload"]["checksum"] == calculate_checksum(new)
        assert serve.process.returncode is None
    finally:
        assert await serve.stop() == 0


@run(timeout=60)
async def test_an_invalid_save_reaches_every_device_and_late_joiners(tmp_path: Path) -> None:
    """Issue 14: the error overlay, over the protocol's own ``error`` message."""
    path = tmp_path / "app.json"
    schema = make_schema(count=5)
    _write(path, schema)
    serve = await ServeProcess.start(path, "--settle-ms", "50")
    try:
        listening = await serve.event("listening")
        session_id = listening["session"]
        async with (
            connect(listening["url"], proxy=None, compression=None) as first,
            connect(listening["url"], proxy=None, compression=None) as second,
        ):
            for ws, name in ((first, "one"), (second, "two")):
                await ws.send(connect_message(session_id, device_id=name))
                assert (await receive(ws))["type"] == "connected"
            path.write_text('{"version": "1.0.0",\n  "metadata": {,}}', encoding="utf-8")
            await serve.event("error")
            for ws in (first, second):
                error = await receive(ws, timeout=10)
                assert error["type"] == "error"
                payload = error["payload"]
                assert (payload["code"], payload["severity"], payload["recoverable"]) == (
                    "SCHEMA_VALIDATION_FAILED",
                    "error",
                    True,
                )
                assert "not valid JSON" in payload["message"]
                assert payload["details"] == "line 2, column 16"
            async with connect(listening["url"], proxy=None, compression=None) as late:
                await late.send(connect_message(session_id, device_id="late"))
                connected = await receive(late)
                assert connected["payload"]["initialSchema"] == schema
                error = await receive(late, timeout=10)
                assert error["payload"]["code"] == "SCHEMA_VALIDATION_FAILED"

                new = edit(schema, 2, "fixed")
                _write(path, new)
                for ws in (first, second, late):
                    update = await receive(ws, timeout=10)
                    payload = update["payload"]
                    assert payload["errorCleared"] is True
                    assert payload["checksum"] == calculate_checksum(new)
    finally:
        assert await serve.stop() == 0
