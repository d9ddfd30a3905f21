"""The HTTP side of the server's port: /health, /status.json, the page, the live view.

Requests are written by hand over a raw socket (so any Host and Origin can be sent),
against servers on loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request

from lumora_fast.asyncio import serve
from lumora_fast.asyncio.http import check_request, host_allowed, is_loopback, origin_allowed
from lumora_fast.asyncio.server import DEFAULT_ORIGINS
from lumora_fast.checksum import calculate_checksum
from lumora_fast.sessions import ErrorEvent, UpdateAcked, UpdateSent
from tests.asyncio._helpers import message, raw_device, receive, run, running
from tests.sessions._helpers import edit, make_schema


async def get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET; (status, headers with lower-case names, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    fields = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
    async with asyncio.timeout(5):
        data = await reader.read()
    writer.close()
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    status = int(lines[0].split()[1])
    parsed = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, parsed, body


async def status_json(port: int, query: str = "") -> dict[str, Any]:
    status, headers, body = await get(port, f"/status.json{query}")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    data: dict[str, Any] = json.loads(body)
    return data


@run()
async def test_health() -> None:
    async with running(make_schema()) as (server, _, _):
        status, headers, body = await get(server.port, "/health")
        assert (status, body) == (200, b"ok\n")
        assert headers["cache-control"] == "no-store"
        # No Host check for a health probe: it says nothing.
        assert (await get(server.port, "/health", {"Host": "whatever.example"}))[0] == 200


@run()
async def test_status_json_shows_the_session_its_devices_and_its_updates() -> None:
    schema = make_schema(count=8)
    async with running(schema, session_timeout_ms=3_600_000) as (server, session_id, events):
        before = time.time() * 1000
        data = await status_json(server.port)
        session = data["session"]
        assert session["id"] == session_id
        assert session["url"] == server.url(session_id) == session["urls"][0]
        assert session["status_url"] == f"http://127.0.0.1:{server.port}/"
        assert session["checksum"] == calculate_checksum(schema)
        assert session["schema_bytes"] == len(json.dumps(schema, separators=(",", ":")))
        assert session["sequence"] == 0
        assert 0 < session["expires_at"] - before <= 3_600_000
        assert (data["devices"], data["updates"], data["errors"]) == ([], [], [])
        assert "qr_svg" not in data

        async with raw_device(server.url(session_id)) as ws:
            # The device shows within a second.
            started = time.monotonic()
            while not (data := await status_json(server.port))["devices"]:
                assert time.monotonic() - started < 1.0, "the device did not show within 1 s"
                await asyncio.sleep(0.02)
            (device,) = data["devices"]
            assert (device["device_id"], device["platform"], device["name"]) == ("raw", "web", None)
            assert before <= device["connected_since"] <= time.time() * 1000
            assert (device["last_ack"], device["pending"], device["last_latency_ms"]) == (
                None,
                [],
                None,
            )
            assert device["update_types"] == ["full", "incremental"]

            new = edit(schema, 2, "edited")
            server.publish(session_id, new)
            update = await receive(ws)
            assert update["payload"]["sequenceNumber"] == 1
            data = await status_json(server.port)
            assert data["devices"][0]["pending"] == [1]
            (row,) = data["updates"]
            assert (row["sequence"], row["sent_to"], row["acked"], row["waiting"]) == (1, 1, 0, 1)
            assert row["latency_ms"] is None

            await ws.send(
                message(session_id, "ack", {"sequenceNumber": 1, "success": True, "applyTime": 1})
            )
            acked = await events.wait(UpdateAcked)
            data = await status_json(server.port)
            (row,) = data["updates"]
            assert row["type"] == update["payload"]["type"]
            assert row["bytes"] == len(json.dumps(update, separators=(",", ":")).encode())
            assert (row["acked"], row["waiting"], row["failed"]) == (1, 0, 0)
            assert row["latency_ms"] == pytest.approx(acked.latency_ms)
            (device,) = data["devices"]
            assert (device["last_ack"], device["pending"]) == (1, [])
            assert device["last_latency_ms"] == pytest.approx(acked.latency_ms)
            assert device["update_type"] == row["type"]
            assert data["session"]["checksum"] == calculate_checksum(new)
            assert data["session"]["sequence"] == 1

        server.report(
            ErrorEvent(
                message="app.json: not valid JSON at 1:2; not pushed",
                code="SCHEMA_VALIDATION_FAILED",
            )
        )
        data = await status_json(server.port)
        assert data["devices"] == []
        assert [(e["message"], e["resolved_by"]) for e in data["errors"]] == [
            ("app.json: not valid JSON at 1:2; not pushed", None)
        ]
        # The next accepted save resolves it; the page shows it as fixed.
        server.publish(session_id, edit(new, 3, "fixed"))
        await events.wait(UpdateSent, lambda e: e.sequence == 2)  # after the 100 ms window
        data = await status_json(server.port)
        assert [e["resolved_by"] for e in data["errors"]] == [2]


@run()
async def test_the_page_and_its_assets() -> None:
    async with running(make_schema()) as (server, _, _):
        status, headers, body = await get(server.port, "/")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        page = body.decode()
        assert '<script src="/status.js">' in page
        assert '<link rel="stylesheet" href="/status.css">' in page
        assert "http://" not in page
        assert "https://" not in page
        for path, kind in (("/status.js", "text/javascript"), ("/status.css", "text/css")):
            status, headers, body = await get(server.port, path)
            assert (status, headers["content-type"].split(";")[0]) == (200, kind)
            assert len(body) > 500
        # Nothing else is served: not the package's other files, not a path taken apart.
        for path in (
            "/index.html",
            "/__init__.py",
            "/status_page/status.js",
            "/../server.py",
            "/%2e%2e/server.py",
            "/status.js/..",
            "/favicon.ico",
            "/etc/passwd",
        ):
            assert (await get(server.port, path))[0] == 404, path


@run()
async def test_host_and_origin_checks() -> None:
    async with running(make_schema()) as (server, session_id, _):
        port = server.port
        # DNS rebinding: a site's name pointed at this machine is not this server.
        status, _, body = await get(port, "/status.json", {"Host": f"evil.example:{port}"})
        assert status == 403
        assert b"not an address of this server" in body
        assert (await get(port, "/", {"Host": f"evil.example:{port}"}))[0] == 403
        for host in (f"localhost:{port}", f"[::1]:{port}", f"192.168.1.20:{port}"):
            assert (await get(port, "/status.json", {"Host": host}))[0] == 200, host
        # A cross-site request is refused; the page's own origin (and a local page) pass.
        refused = {"Origin": "https://evil.example"}
        assert (await get(port, "/status.json", refused))[0] == 403
        assert (await get(port, "/", refused))[0] == 403
        own = {"Origin": f"http://127.0.0.1:{port}"}
        assert (await get(port, "/status.json", own))[0] == 200
        # The live view: same Origin rules as devices, on the devices' path only.
        url = f"ws://127.0.0.1:{port}/ws?status=1"
        async with connect(url, origin=f"http://127.0.0.1:{port}", proxy=None) as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv())["session"]["id"] == session_id
        for origin in ("https://evil.example", f"http://evil.example:{port}"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, origin=origin, proxy=None):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{port}/status?status=1", proxy=None):
                pass
        assert info.value.response.status_code == 404
    async with serve(allowed_hosts=["devbox.lan"]) as server:
        server.create_session(make_schema())
        headers = {"Host": f"devbox.lan:{server.port}"}
        assert (await get(server.port, "/status.json", headers))[0] == 200


@run()
async def test_http_off() -> None:
    async with serve(http=False) as server:
        session_id = server.create_session(make_schema())
        for path in ("/", "/health", "/status.json", "/status.js"):
            assert (await get(server.port, path))[0] == 404
        with pytest.raises(InvalidStatus):
            async with connect(f"ws://127.0.0.1:{server.port}/ws?status=1", proxy=None):
                pass
        async with raw_device(server.url(session_id)):
            pass


def _request(headers: dict[str, str]) -> Request:
    from websockets.datastructures import Headers

    return Request("/status.json", Headers(headers))


def test_the_session_id_is_the_key() -> None:
    """A client on another machine sees the status only by naming a live session."""
    origins = list(DEFAULT_ORIGINS)
    request = _request({"Host": "192.168.1.20:3000"})
    common: dict[str, Any] = {"origins": origins, "allowed_hosts": (), "sessions": {"s-1"}}
    lan = ("192.168.1.30", 51000)
    assert not check_request(request, peer=lan, session=None, **common).trusted
    assert not check_request(request, peer=lan, session="s-2", **common).trusted
    assert check_request(request, peer=lan, session="s-1", **common).trusted
    assert check_request(request, peer=("127.0.0.1", 5), session=None, **common).trusted
    assert check_request(
        request, peer=("::ffff:127.0.0.1", 5, 0, 0), session=None, **common
    ).trusted
    refused = check_request(_request({"Host": "evil.example"}), peer=lan, session="s-1", **common)
    assert refused.refusal is not None
    assert refused.refusal[0] == 403


def test_host_and_origin_rules() -> None:
    assert host_allowed("192.168.1.20:3000")
    assert host_allowed("[fd00::2]:3000")
    assert host_allowed("localhost")
    assert host_allowed("app.localhost:80")
    assert not host_allowed("evil.example")
    assert not host_allowed(None)
    assert not host_allowed("")
    assert not host_allowed("localhost.evil.example:3000")
    assert host_allowed("devbox:1", ["DevBox"])
    origins = list(DEFAULT_ORIGINS)
    assert origin_allowed(None, "x", origins)
    assert origin_allowed("http://localhost:5173", None, origins)
    assert origin_allowed("http://192.168.1.20:3000", "192.168.1.20:3000", origins)
    assert not origin_allowed("http://192.168.1.20:3001", "192.168.1.20:3000", origins)
    assert not origin_allowed("http://evil.example:3000", "evil.example:3000", origins)
    assert not origin_allowed("null", "127.0.0.1:3000", origins)
    assert not origin_allowed(None, "x", ["http://a.example"])
    assert is_loopback(("127.0.0.1", 1))
    assert is_loopback("::1")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback(None)


@run()
async def test_live_view_sends_a_snapshot_per_change() -> None:
    async with running(make_schema()) as (server, session_id, _):
        url = f"ws://127.0.0.1:{server.port}/ws?status=1"
        async with connect(url, proxy=None) as view:
            first = json.loads(await view.recv())
            assert first["devices"] == []
            assert first["qr_svg"].startswith("<svg")
            assert "</svg>" in first["qr_svg"]
            async with raw_device(server.url(session_id)):
                async with asyncio.timeout(2):
                    while not json.loads(await view.recv())["devices"]:
                        pass
            async with asyncio.timeout(2):
                while json.loads(await view.recv())["devices"]:
                    pass
            server.report(ErrorEvent(message="watcher: boom"))
            async with asyncio.timeout(2):
                while not json.loads(await view.recv())["errors"]:
                    pass


@run()
async def test_push_full_update_to_every_device() -> None:
    schema = make_schema()
    async with running(schema) as (server, session_id, _):
        async with raw_device(server.url(session_id)) as a, raw_device(server.url(session_id)) as b:
            row = server.push_full(session_id, preserve_state=False)
            assert row is not None
            assert row.reason == "push-reset"
            for ws in (a, b):
                update = await receive(ws)
                payload = update["payload"]
                assert (payload["type"], payload["sequenceNumber"]) == ("full", 0)
                assert payload["preserveState"] is False
                assert payload["schema"] == schema
                assert payload["checksum"] == calculate_checksum(schema)
                await ws.send(message(session_id, "ack", {"sequenceNumber": 0, "success": True}))
            async with asyncio.timeout(2):
                while not row.settled:
                    await asyncio.sleep(0.01)
            assert (row.sent_to, row.acked) == (2, 2)
            assert row.latency_ms is not None
            assert row.latency_ms >= 0
            again = server.push_full(session_id)
            assert again is not None
            assert again.reason == "push"
            assert (await receive(a))["payload"]["preserveState"] is True
        data = await status_json(server.port)
        assert [u["reason"] for u in data["updates"]] == ["push", "push-reset"]
    async with serve() as server:
        assert server.push_full(server.create_session(None)) is None
