"""Server latency rig: edit -> every device has the update and acked it, on loopback.

The server (``lumora_fast.asyncio.serve``) runs in a background thread of this process;
the devices are raw ``websockets`` clients in separate processes ("farms"), so their work
does not share the server's interpreter. A raw device reads each frame, finds the
sequence number and sends the ack (``--mode ack``: the least a device can do, so the
number measures the server), or first parses the whole message as JSON (``--mode parse``,
with orjson when available).

One edit alternates the schema between a preset and a copy with one node-level edit
(``tests.make_schema``: the tree shape, as the reference was measured), paced more than
100 ms apart so that each one is isolated and goes out at once. The latency of an edit is
from the ``publish`` call to the server receiving the last device's ack.

Print the table (p50 / p99 per size and device count)::

    python benches/server_latency.py                       # small+medium x 1, 10, 100
    python benches/server_latency.py --sizes small --devices 100 --edits 50 --mode parse

``benches/bench_server.py`` runs the same rig under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect

try:
    from _raw_device import open_device
except ImportError:  # imported as benches.server_latency
    from benches._raw_device import open_device

import lumora_fast
from lumora_fast.asyncio import Server, serve
from lumora_fast.asyncio.demo import percentile
from lumora_fast.sessions import Event, UpdateAcked, UpdateSent

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
ISOLATION_S = 0.11
"""Pause between edits: longer than the server's 100 ms coalescing window."""
MIN_OPEN_FILES = 2048
"""Below this soft limit on open files, :func:`raise_fd_limit` raises it to the hard one."""


def _make_schema_module() -> Any:
    """``tests.make_schema`` (vendored), or the shared workloads copy beside the checkout."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests import make_schema
    except ImportError:
        sys.path.insert(0, str(ROOT.parent / "shared" / "workloads"))
        import make_schema  # type: ignore[no-redef]
    return make_schema


def raise_fd_limit(minimum: int = MIN_OPEN_FILES) -> int:
    """Raise the soft limit on open files to the hard limit if it is below ``minimum``.

    Every device is a socket in its farm and another in the server (a common default
    soft limit is 1024). Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < minimum:
        target = max(minimum, 65536) if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft


def workload(size: str, shape: str = "tree") -> tuple[dict[str, Any], dict[str, Any]]:
    """A preset schema and the same with one node-level edit."""
    module = _make_schema_module()
    schema = module.preset_schema(size, shape, 42)
    return schema, module.mutate(schema, 1, 43)


# -------------------------------------------------------------------------- devices

_SEQUENCE = re.compile(rb'"sequenceNumber":(\d+)')


async def _raw_device(
    ws: ClientConnection, session_id: str, parse: Callable[[bytes], Any] | None
) -> None:
    ack = (
        '{"type":"ack","sessionId":"SESSION","timestamp":%d,"version":"1.0.0",'
        '"payload":{"sequenceNumber":%s,"success":true}}'
    ).replace("SESSION", session_id)
    with contextlib.suppress(Exception):
        while True:
            data = await ws.recv(decode=False)
            if not data.startswith(b'{"type":"update"'):
                continue
            if parse is not None:
                parse(data)
            match = _SEQUENCE.search(data, max(0, len(data) - 256)) or _SEQUENCE.search(data)
            assert match is not None
            await ws.send(ack % (time.time_ns() // 1_000_000, match.group(1).decode()))


async def _farm(url: str, count: int, mode: str, client: str = "raw", patch: bool = False) -> None:
    raise_fd_limit()
    session_id = url.rsplit("session=", 1)[1]
    parse: Callable[[bytes], Any] | None = None
    if mode == "parse":
        try:
            import orjson

            parse = orjson.loads
        except ImportError:
            parse = json.loads
    capabilities = ',"capabilities":{"updateTypes":["full","incremental","patch"]}'
    hello = (
        (
            '{"type":"connect","sessionId":"SESSION","timestamp":0,"version":"1.0.0","payload":'
            '{"deviceId":"raw-%d","platform":"web","clientVersion":"1.0.0"CAPS}}'
        )
        .replace("SESSION", session_id)
        .replace("CAPS", capabilities if patch else "")
    )
    if client == "raw":
        ack = (
            '{"type":"ack","sessionId":"SESSION","timestamp":%d,"version":"1.0.0",'
            '"payload":{"sequenceNumber":%s,"success":true}}'
        ).replace("SESSION", session_id)
        devices = await asyncio.gather(
            *(open_device(url, hello % i, ack, parse) for i in range(count))
        )
        print("ready", flush=True)
        await asyncio.gather(*(device.closed for device in devices))
        return

    async def join(index: int) -> ClientConnection:
        ws = await connect(url, compression=None, max_size=None, proxy=None, ping_interval=None)
        await ws.send(hello % index)
        await ws.recv()  # connected
        return ws

    connections = await asyncio.gather(*(join(i) for i in range(count)))
    print("ready", flush=True)
    await asyncio.gather(*(_raw_device(ws, session_id, parse) for ws in connections))


# ------------------------------------------------------------------------------ rig


class LatencyRig:
    """A server thread plus device farms; :meth:`edit` measures one edit in ms.

    ``with LatencyRig(...) as rig`` starts both and stops both. In steps (as
    ``benches/load_server.py`` does, to measure between them): :meth:`start_server`,
    :meth:`connect_devices`, edits, :meth:`disconnect_devices`, :meth:`stop_server`.
    """

    def __init__(
        self,
        size: str,
        devices: int,
        *,
        processes: int | None = None,
        mode: str = "ack",
        client: str = "raw",
        patch: bool = False,
    ) -> None:
        self.schemas = workload(size)
        self.devices = devices
        self.processes = max(1, min(devices, processes or _default_processes()))
        self.mode = mode
        self.client = client
        self.patch = patch
        self.updates: list[UpdateSent] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="server", daemon=True)
        self._farms: list[subprocess.Popen[bytes]] = []
        self._waiting: tuple[int, asyncio.Future[UpdateAcked]] | None = None
        self._edits = 0
        self._last_edit = 0.0
        self._server: Server | None = None

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run ``coroutine`` on the server's event loop (thread); its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def server(self) -> Server:
        """The running server (after :meth:`start_server`)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._server

    def start(self) -> LatencyRig:
        """Start the server and connect every device."""
        self.start_server()
        self.connect_devices()
        return self

    def start_server(self) -> None:
        """Start the server thread and create the session (no device yet)."""
        raise_fd_limit(max(MIN_OPEN_FILES, self.devices + 256))
        self._thread.start()
        self._server = self.call(self._start())
        self.session_id = self._server.create_session(self.schemas[0])

    def connect_devices(self) -> None:
        """Start the farms; return once every device has its ``connected`` message."""
        url = self.server.url(self.session_id)
        shares = [
            self.devices // self.processes + (i < self.devices % self.processes)
            for i in range(self.processes)
        ]
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        for share in shares:
            self._farms.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--farm",
                        url,
                        "--count",
                        str(share),
                        "--mode",
                        self.mode,
                        "--client",
                        self.client,
                        *(["--patch"] if self.patch else []),
                    ],
                    stdout=subprocess.PIPE,
                    env=env,
                )
            )
        for farm in self._farms:
            assert farm.stdout is not None
            line = farm.stdout.readline()
            if line.strip() != b"ready":
                raise RuntimeError("a device farm failed to start")
        session = self.server.protocol.sessions[self.session_id]
        assert len(session.devices) == self.devices

    async def _start(self) -> Server:
        return await serve(on_event=self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, UpdateSent):
            self.updates.append(event)
        elif isinstance(event, UpdateAcked) and self._waiting is not None:
            sequence, future = self._waiting
            if event.sequence == sequence and not future.done():
                future.set_result(event)

    def pace(self) -> None:
        """Sleep until the next edit is isolated (outside the coalescing window)."""
        delay = self._last_edit + ISOLATION_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def edit(self) -> float:
        """Publish the next edit; milliseconds until every device acked it."""
        return self.call(self._edit())

    async def _edit(self) -> float:
        assert self._server is not None
        server, session = self._server, self._server.protocol.sessions[self.session_id]
        self._edits += 1
        schema = self.schemas[self._edits % 2]
        future: asyncio.Future[UpdateAcked] = asyncio.get_running_loop().create_future()
        self._waiting = (session.sequence + 1, future)
        started = time.perf_counter()
        server.publish(self.session_id, schema)
        if session.sequence != self._waiting[0]:
            raise RuntimeError("the edit was not sent at once (coalesced or unchanged)")
        done = await future
        elapsed = (time.perf_counter() - started) * 1000
        self._last_edit = started
        if (done.acked, done.failed) != (self.devices, 0):
            raise RuntimeError(f"update {done.sequence}: {done.acked} acks, {done.failed} failures")
        return elapsed

    def close(self) -> None:
        """Stop the farms, then the server."""
        self.disconnect_devices()
        self.stop_server()

    def disconnect_devices(self) -> None:
        """Terminate the farms (their sockets close with them); the server keeps running."""
        farms, self._farms = self._farms, []
        for farm in farms:
            farm.terminate()
        for farm in farms:
            try:
                farm.wait(timeout=10)
            except subprocess.TimeoutExpired:
                farm.kill()
                farm.wait()
            if farm.stdout is not None:
                farm.stdout.close()

    def stop_server(self) -> None:
        """Close the server and stop its thread."""
        if self._server is not None:
            self.call(self._server.close())
            self._server = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> LatencyRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _default_processes() -> int:
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def measure(
    size: str, devices: int, edits: int, *, processes: int | None, mode: str
) -> dict[str, Any]:
    with LatencyRig(size, devices, processes=processes, mode=mode) as rig:
        for _ in range(3):  # warm-up
            rig.pace()
            rig.edit()
        samples = []
        for _ in range(edits):
            rig.pace()
            samples.append(rig.edit())
        update = rig.updates[-1]
        return {
            "size": size,
            "schema_bytes": update.full_size,  # the full update, as JSON.stringify writes it
            "devices": devices,
            "kind": update.kind,
            "update_bytes": update.size,
            "p50": percentile(samples, 0.5),
            "p99": percentile(samples, 0.99),
            "edits": edits,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="small,medium", help="make_schema presets (default: small,medium)"
    )
    parser.add_argument("--devices", default="1,10,100", help="device counts (default: 1,10,100)")
    parser.add_argument(
        "--edits", type=int, default=30, help="measured edits per cell (default: 30)"
    )
    parser.add_argument(
        "--processes", type=int, help="device farm processes (default: cores - 1, max 4)"
    )
    parser.add_argument("--mode", choices=("ack", "parse"), default="ack", help="raw device work")
    parser.add_argument(
        "--client",
        choices=("raw", "websockets"),
        default="raw",
        help="device implementation: a minimal asyncio protocol (default), or websockets' "
        "client (what the reference's figures were measured with)",
    )
    parser.add_argument(
        "--patch", action="store_true", help="devices ask for patch updates (updateTypes)"
    )
    parser.add_argument("--farm", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.farm:
        asyncio.run(_farm(args.farm, args.count, args.mode, args.client, args.patch))
        return 0
    print(
        f"lumora_fast {lumora_fast.__version__} ({lumora_fast.BACKEND} backend), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores, raw devices: {args.mode} mode"
    )
    print(f"{'schema':<16} {'devices':>7} {'update':<20} {'p50 ms':>8} {'p99 ms':>8}")
    for size in args.sizes.split(","):
        for devices in (int(d) for d in args.devices.split(",")):
            row = measure(size, devices, args.edits, processes=args.processes, mode=args.mode)
            schema = f"{size} {row['schema_bytes'] / 1000:.0f} KB"
            update = f"{row['kind']} {row['update_bytes'] / 1000:.0f} KB"
            print(
                f"{schema:<16} {devices:>7} {update:<20} {row['p50']:>8.1f} {row['p99']:>8.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
