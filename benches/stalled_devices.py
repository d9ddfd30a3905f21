"""Devices that stop reading, with the server's defaults: how soon they are cut off.

A suspended phone app keeps its TCP connection but reads nothing. This rig starts a
server (defaults: ``write_timeout`` 30 s) on a preset schema, connects one healthy
device and ``--stalled`` devices that read ``connected`` and then never read again
(small fixed receive buffers, as over a real network), and publishes an edit every
``--interval`` seconds for ``--duration`` seconds. It reports when each stalled device
was aborted (seconds after the first edit), the server's RSS and open file descriptors
before, at peak and after, and the healthy device's edit latency.

Run it (about a minute with the defaults)::

    python benches/stalled_devices.py                        # 40 stalled, large-tree
    python benches/stalled_devices.py --stalled 10 --size medium --duration 45

The server, the healthy device and this script share one process (RSS includes the
rig's own schemas: see "before devices"); the devices that never read run in a child
process. "heap trimmed" is RSS after glibc's ``malloc_trim``: what is still in use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from lumora_fast import calculate_checksum  # noqa: E402
from lumora_fast.asyncio import Device, serve  # noqa: E402
from lumora_fast.asyncio.demo import percentile  # noqa: E402
from lumora_fast.sessions import (  # noqa: E402
    AckReceived,
    DeviceConnected,
    DeviceDisconnected,
    Event,
)


def _workloads() -> Any:
    try:
        from tests import make_schema
    except ImportError:
        sys.path.insert(0, str(ROOT.parent / "shared" / "workloads"))
        import make_schema  # type: ignore[no-redef]
    return make_schema


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def stalled_device(url: str, index: int) -> ClientConnection:
    """Open a socket, send ``connect``, and never read again (not even ``connected``)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    session_id = url.rsplit("=", 1)[1]
    ws = await connect(
        url, sock=sock, compression=None, proxy=None, max_size=None, ping_interval=None
    )
    ws.transport.pause_reading()  # the app is suspended: nothing is read any more
    hello = {
        "type": "connect",
        "sessionId": session_id,
        "timestamp": 0,
        "version": "1.0.0",
        "payload": {"deviceId": f"stalled-{index}", "platform": "ios", "clientVersion": "1.0.0"},
    }
    await ws.send(json.dumps(hello))
    return ws


async def farm(url: str, count: int) -> None:
    """The stalled devices, in a process of their own (their memory is not the server's)."""
    devices = [await stalled_device(url, i) for i in range(count)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    for ws in devices:
        ws.transport.abort()


def malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so RSS shows what is still in use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def main_async(args: argparse.Namespace) -> int:
    make_schema = _workloads()
    schema = make_schema.preset_schema(args.size, "tree", 42)
    versions = [schema, make_schema.mutate(schema, 1, 43)]
    joined_at: dict[str, float] = {}
    left: dict[str, tuple[float, str]] = {}
    acked: dict[int | float, float] = {}

    def on_event(event: Event) -> None:
        if isinstance(event, DeviceConnected):
            joined_at[event.device_id] = time.monotonic()
        elif isinstance(event, DeviceDisconnected):
            left[event.device_id] = (time.monotonic(), event.reason)
        elif (
            isinstance(event, AckReceived)
            and event.device_id == "healthy"
            and event.latency_ms is not None
        ):
            acked[event.sequence] = event.latency_ms

    stalled_ids = {f"stalled-{i}" for i in range(args.stalled)}
    gc.collect()
    malloc_trim()
    base = (rss_mb(), open_fds())
    async with serve(on_event=on_event) as server:
        session_id = server.create_session(schema)
        url = server.url(session_id)
        print(
            f"{args.size}-tree ({len(json.dumps(schema)) / 1e6:.1f} MB), {args.stalled} "
            f"devices that never read + 1 healthy; write_timeout {server.write_timeout:g} s",
            flush=True,
        )
        healthy = Device(url, device_id="healthy")
        task = asyncio.create_task(healthy.run())
        await healthy.wait_for(lambda d: d.session.schema is not None, timeout=60)
        devices = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--farm",
            url,
            "--stalled",
            str(args.stalled),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert devices.stdout is not None
        assert devices.stdin is not None
        if (await devices.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the device farm failed to start")
        while len(stalled_ids & joined_at.keys()) < args.stalled:
            await asyncio.sleep(0.05)
        joined = (rss_mb(), open_fds())
        peak = joined
        started = time.monotonic()
        edits = 0
        while time.monotonic() - started < args.duration and not stalled_ids <= left.keys():
            edits += 1
            current = versions[edits % 2]
            server.publish(session_id, current)
            expected = calculate_checksum(current)
            await healthy.wait_for(lambda d, c=expected: d.session.checksum == c, timeout=60)
            peak = (max(peak[0], rss_mb()), max(peak[1], open_fds()))
            await asyncio.sleep(args.interval)
        await asyncio.sleep(0.5)
        gc.collect()
        after = (rss_mb(), open_fds())
        malloc_trim()
        trimmed = rss_mb()
        await healthy.close()
        await task
        devices.stdin.close()
        await devices.wait()
    cut = sorted(left[d][0] - joined_at[d] for d in stalled_ids & left.keys())
    reasons = sorted({left[d][1] for d in stalled_ids & left.keys()})
    latencies = list(acked.values())
    print(f"edits published: {edits}; the healthy device acked every one: {len(acked) >= edits}")
    print(
        f"devices that never read, cut off: {len(cut)}/{args.stalled}"
        + (f", {cut[0]:.1f}-{cut[-1]:.1f} s after they stopped reading" if cut else "")
        + (f" ({', '.join(reasons)})" if reasons else "")
    )
    if latencies:
        print(
            f"edit -> healthy device acked: p50 {percentile(latencies, 0.5):.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    print(f"{'server process':<30}{'RSS MB':>8}{'open fds':>10}")
    for name, (rss, fds) in (
        ("before devices", base),
        ("all joined", joined),
        ("peak during edits", peak),
        ("after the cut-offs", after),
        ("after, heap trimmed", (trimmed, after[1])),
    ):
        print(f"{name:<30}{rss:>8.0f}{fds:>10}")
    return 0 if len(cut) == args.stalled else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=40, help="devices that stop reading")
    parser.add_argument("--size", default="large", help="make_schema preset (default: large)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between edits")
    parser.add_argument("--duration", type=float, default=75.0, help="seconds of edits at most")
    parser.add_argument("--farm", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    if args.farm:
        asyncio.run(farm(args.farm, args.stalled))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
