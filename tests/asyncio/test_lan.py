"""LAN addresses: the ranking, this machine's interfaces, and ``serve --host 0.0.0.0``.

The dialing test runs ``lumora-fast serve`` in a network namespace of its own (as CI's
root may), on made-up interfaces (a LAN with the default route, a Docker-like bridge):
the URL the server prints is dialed by a real device inside that namespace, so no
packet ever leaves this machine's sandbox.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lumora_fast import calculate_checksum
from lumora_fast.lan import (
    LanAddress,
    default_route_address,
    interface_addresses,
    is_unspecified,
    lan_addresses,
    rank,
)
from tests.asyncio._helpers import receive, run
from tests.sessions._helpers import edit, make_schema

IP = shutil.which("ip") or "/usr/sbin/ip"


def _ip_json(*args: str) -> Any:
    """``ip -j ...`` (iproute2): an independent view of the interfaces."""
    done = subprocess.run([IP, "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _expected_lan(version: int) -> list[str]:
    """This machine's dialable addresses of one IP version, as iproute2 lists them."""
    found = []
    for link in _ip_json("addr", "show", "up"):
        for info in link.get("addr_info", []):
            if info["family"] != ("inet" if version == 4 else "inet6"):
                continue
            ip = ipaddress.ip_address(info["local"])
            if not (ip.is_loopback or ip.is_link_local or ip.is_multicast):
                found.append(info["local"])
    return found


# ---------------------------------------------------------------------- ranking


def _entry(interface: str, address: str) -> tuple[str, Any, str, bool]:
    family = 6 if ":" in address else 4
    return (interface, family, address, interface == "lo")


def test_rank_puts_the_default_routes_private_ipv4_address_first() -> None:
    interfaces = [
        _entry("lo", "127.0.0.1"),
        _entry("docker0", "172.17.0.1"),
        _entry("tailscale0", "100.101.102.103"),
        _entry("wlan0", "fe80::1"),
        _entry("wlan0", "2a01:e0a::20"),
        _entry("wlan0", "fd00::20"),
        _entry("wlan0", "192.168.1.20"),
        _entry("wlan0", "169.254.3.3"),
        _entry("eth9", "10.0.0.5"),
        _entry("lo", "::1"),
    ]
    ranked = rank(interfaces, ["192.168.1.20", "2a01:e0a::20"])
    assert [a.address for a in ranked] == [
        "192.168.1.20",  # private, on the default route's interface
        "172.17.0.1",  # private elsewhere, in interface order
        "10.0.0.5",
        "100.101.102.103",  # not RFC 1918
        "fd00::20",  # IPv6 last: ULA on the default interface first
        "2a01:e0a::20",
    ]
    assert ranked[0] == LanAddress("192.168.1.20", "wlan0", 4, default_route=True)
    assert ranked[0].private
    assert not ranked[3].private
    assert [a.host() for a in ranked[-2:]] == ["[fd00::20]", "[2a01:e0a::20]"]


def test_rank_keeps_a_default_address_no_interface_lists() -> None:
    # Windows has no getifaddrs: the default route's address alone still makes a URL.
    assert rank([], ["192.168.1.20"]) == [LanAddress("192.168.1.20", "", 4, default_route=True)]
    assert rank([_entry("lo", "127.0.0.1")], ["127.0.0.1"]) == []
    duplicated = [_entry("a", "10.0.0.1"), _entry("b", "10.0.0.1")]
    assert [a.interface for a in rank(duplicated, [])] == ["a"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0.0.0.0", True), ("::", True), ("[::]", True), ("", True), ("127.0.0.1", False),
     ("192.168.1.2", False), ("localhost", False), ("::1", False)],
)  # fmt: skip
def test_is_unspecified(host: str, expected: bool) -> None:
    assert is_unspecified(host) is expected


# ------------------------------------------------------------------ this machine


def test_interface_addresses_match_iproute2() -> None:
    ours = {(name, address) for name, _family, address, _loop in interface_addresses()}
    theirs = {
        (link["ifname"], info["local"].split("%")[0])
        for link in _ip_json("addr", "show", "up")
        for info in link.get("addr_info", [])
        if info["family"] in ("inet", "inet6")
    }
    assert ours == theirs


def test_lan_addresses_on_this_machine() -> None:
    found = lan_addresses()
    assert sorted(a.address for a in found) == sorted(_expected_lan(4) + _expected_lan(6))
    try:
        route = _ip_json("route", "get", "198.51.100.1")
    except subprocess.CalledProcessError:  # no default route: no address to prefer
        route = []
        assert default_route_address(4) is None
    if route and "prefsrc" in route[0]:
        assert default_route_address(4) == route[0]["prefsrc"]
        # The default route's interface comes first (its private address first, if any).
        assert found[0].default_route
        assert route[0]["prefsrc"] in [a.address for a in found if a.default_route]
    assert [a.address for a in lan_addresses([4])] == [a.address for a in found if a.family == 4]


# ------------------------------------------------------------ serve on 0.0.0.0


async def _start(command: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


async def _first_line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    async with asyncio.timeout(20):
        line = await process.stdout.readline()
    if not line:
        assert process.stderr is not None
        raise AssertionError(f"serve exited: {(await process.stderr.read()).decode()}")
    record: dict[str, Any] = json.loads(line)
    return record


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
    try:
        async with asyncio.timeout(10):
            return await process.wait()
    except TimeoutError:
        process.kill()
        return await process.wait()


def _serve_command(path: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "lumora_fast", "serve", str(path), "--port", "0", "--json",
            *options]  # fmt: skip


@run(timeout=60)
async def test_serve_on_every_interface_names_each_lan_address(tmp_path: Path) -> None:
    """On this machine's real interfaces: ``urls`` is every IPv4 LAN address, then
    loopback; ``url`` is the best of them. The LAN addresses are not dialed here (that
    is the namespace test's job): the device joins over loopback."""
    path = tmp_path / "app.json"
    path.write_text(json.dumps(make_schema(count=4)), encoding="utf-8")
    for option in (["--host", "0.0.0.0"], ["--lan"]):
        process = await _start(_serve_command(path, *option))
        try:
            listening = await _first_line(process)
            assert listening["event"] == "listening"
            port, session = listening["port"], listening["session"]
            lan = [a.address for a in lan_addresses([4])]
            assert sorted(lan) == sorted(_expected_lan(4))
            expected = [f"ws://{a}:{port}/ws?session={session}" for a in [*lan, "127.0.0.1"]]
            assert listening["urls"] == expected
            assert listening["url"] == expected[0]
            assert "0.0.0.0" not in listening["url"]
            assert listening["exposed"] is True
            from websockets.asyncio.client import connect

            async with connect(expected[-1], proxy=None) as ws:
                await ws.send(_connect(session))
                assert (await receive(ws))["type"] == "connected"
        finally:
            assert await _stop(process) == 0


def _connect(session: str) -> str:
    return json.dumps(
        {"type": "connect", "sessionId": session, "timestamp": 1, "version": "1.0.0",
         "payload": {"deviceId": "lan-phone", "platform": "ios", "clientVersion": "1.0.0"}}
    )  # fmt: skip


NAMESPACE_SETUP = """
set -e
ip link set lo up
ip link add lan0 type veth peer name br0
ip addr add 192.168.77.10/24 dev lan0
ip addr add 100.64.7.7/32 dev lan0
ip addr add 172.17.0.1/16 dev br0
ip addr add 169.254.9.9/16 dev br0
ip link set lan0 up
ip link set br0 up
ip route add default via 192.168.77.1 dev lan0
exec "$@"
"""


@run(timeout=90)
async def test_the_printed_url_is_dialable_from_the_lan(tmp_path: Path) -> None:
    """``serve --host 0.0.0.0`` in a network namespace with a LAN: the first URL is the
    LAN address of the default route, every address is listed, and a real device (the
    ``lumora-fast device`` command, in the same namespace) joins through that URL and
    applies the next save."""
    unshare, nsenter = shutil.which("unshare"), shutil.which("nsenter")
    assert unshare, "util-linux's unshare is needed (CI has it)"
    assert nsenter, "util-linux's nsenter is needed (CI has it)"
    path = tmp_path / "app.json"
    schema = make_schema(count=6)
    path.write_text(json.dumps(schema), encoding="utf-8")
    serve = await _start(
        [unshare, "--net", "sh", "-c", NAMESPACE_SETUP, "sh",
         *_serve_command(path, "--host", "0.0.0.0")]
    )  # fmt: skip
    device: asyncio.subprocess.Process | None = None
    try:
        listening = await _first_line(serve)
        port, session = listening["port"], listening["session"]
        hosts = ["192.168.77.10", "100.64.7.7", "172.17.0.1", "127.0.0.1"]
        assert listening["urls"] == [f"ws://{h}:{port}/ws?session={session}" for h in hosts]
        assert listening["url"] == listening["urls"][0]
        device = await _start(
            [nsenter, f"--net=/proc/{serve.pid}/ns/net", sys.executable, "-m", "lumora_fast",
             "device", listening["url"], "--json", "--max-updates", "1", "--no-reconnect"]
        )  # fmt: skip
        connected = await _first_line(device)
        assert connected["event"] == "connected"
        assert connected["checksum"] == calculate_checksum(schema)
        new = edit(schema, 3, "saved on the laptop")
        path.write_text(json.dumps(new), encoding="utf-8")
        applied = await _first_line(device)
        assert applied["event"] == "update_applied"
        assert (applied["success"], applied["checksum"]) == (True, calculate_checksum(new))
        async with asyncio.timeout(20):
            assert await device.wait() == 0
    finally:
        if device is not None:
            await _stop(device)
        assert await _stop(serve) == 0
