"""Save to screen: from the file's ``os.replace`` to every device's ack, on loopback.

This is the clock a developer feels. The server runs as ``lumora-fast serve`` does (a
:class:`~lumora_fast.asyncio.SchemaWatcher` on a real file, each new version published
to the session) in a background thread; the devices are raw ``websockets`` clients in
separate processes (the farms of ``benches/server_latency.py``). An edit writes the
next version to a temporary file, starts the clock and renames it over the schema file,
as editors save; it stops when the first device, then the last, has acked the update.
The watcher yields SchemaDocuments, as ``lumora-fast serve`` runs it (``--watcher dicts``
for the previous release's path: dicts that the server converts).
Versions alternate between a preset and a copy with one node-level edit
(``tests.make_schema``), paced more than 100 ms apart so that each edit is isolated.

Raw devices either ack as soon as the frame arrives (``--mode ack``: the least a device
can do, so the number measures the server) or first parse it (``--mode parse``).

Print the table (p50 of first device / all devices, and p99 of all)::

    python benches/save_latency.py                                 # the standard matrix
    python benches/save_latency.py --sizes small --shapes tree --devices 100 --edits 50
    python benches/save_latency.py --scenarios                     # burst, chunks, idle

``--scenarios`` also runs the watcher's cases on one 10-device session: a burst of 30
saves in one second, a 4.7 MB file rewritten in place in 64 KB chunks, a file nested
5,000 deep followed by a valid save, and the server's CPU use over 10 idle seconds.

Issue 12's rows (files as compact JSON; ``--uncapped`` lets large and xl run with 100 devices;
``--stream RATE:SECONDS`` saves at a steady rate instead of isolated edits and reports
the updates sent, convergence and the server's CPU)::

    python benches/save_latency.py --compact --patch --uncapped \
        --sizes large --shapes tree --devices 100
    python benches/save_latency.py --compact --patch --sizes xl --shapes tree \
        --devices 10
    python benches/save_latency.py --compact --patch --sizes xl --shapes tree \
        --devices 100 --stream 10:30
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import lumora_fast  # noqa: E402
from benches.server_latency import LatencyRig, _make_schema_module, workload  # noqa: E402
from lumora_fast import calculate_checksum  # noqa: E402
from lumora_fast.asyncio import SchemaWatcher, Server, serve  # noqa: E402
from lumora_fast.asyncio.demo import percentile  # noqa: E402
from lumora_fast.sessions import (  # noqa: E402
    AckReceived,
    ErrorEvent,
    Event,
    UpdateAcked,
    UpdateSent,
)


class SaveRig(LatencyRig):
    """The latency rig, fed by saving a file instead of calling ``publish``."""

    def __init__(
        self,
        size: str,
        devices: int,
        *,
        shape: str = "tree",
        processes: int | None = None,
        mode: str = "ack",
        client: str = "raw",
        patch: bool = False,
        documents: bool = True,
        compact: bool = False,
        extra_versions: int = 0,
    ) -> None:
        super().__init__(size, devices, processes=processes, mode=mode, client=client, patch=patch)
        self.schemas = workload(size, shape)
        self.documents = documents
        module = _make_schema_module()
        encode = module.compact_bytes if compact else lambda s: json.dumps(s).encode()
        self.versions = [encode(s) for s in self.schemas]
        for seed in range(44, 44 + extra_versions):  # more one-edit copies (--stream)
            self.versions.append(encode(module.mutate(self.schemas[0], 1, seed)))
        # The rig's own schemas (millions of Python objects) share the server's process,
        # which `lumora-fast serve` does not: keep the garbage collector off them, so
        # that the server's CPU and latency are not charged with walking them.
        gc.collect()
        gc.freeze()
        self._directory = tempfile.TemporaryDirectory(prefix="lumora-save-")
        self.path = Path(self._directory.name) / "app.json"
        self.path.write_bytes(self.versions[0])
        self.errors: list[ErrorEvent] = []
        self.sent_at: list[float] = []
        self._first_ack: dict[int, float] = {}
        self._all_acked: dict[int, tuple[float, UpdateAcked]] = {}
        self._acked = threading.Condition()
        self._watching: asyncio.Task[None] | None = None
        self.watcher: SchemaWatcher | None = None

    async def _start(self) -> Server:
        server = await serve(on_event=self._on_event)
        self.watcher = SchemaWatcher(
            self.path, initial=self.versions[0], freeze=True, documents=self.documents
        ).start()

        async def publish() -> None:
            assert self.watcher is not None
            async for item in self.watcher:
                if isinstance(item, ErrorEvent):
                    self._on_event(item)
                else:
                    server.publish(self.session_id, item)

        self._watching = asyncio.get_running_loop().create_task(publish())
        return server

    def _on_event(self, event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, UpdateSent):
            self.updates.append(event)
            self.sent_at.append(now)
        elif isinstance(event, AckReceived) and isinstance(event.sequence, int):
            self._first_ack.setdefault(event.sequence, now)
        elif isinstance(event, UpdateAcked):
            with self._acked:
                self._all_acked[event.sequence] = (now, event)
                self._acked.notify_all()
        elif isinstance(event, ErrorEvent):
            self.errors.append(event)

    def save(self, data: bytes) -> float:
        """Save ``data`` as an editor does; the ``perf_counter`` of the rename."""
        temporary = self.path.with_name(".app.json.tmp")
        temporary.write_bytes(data)
        started = time.perf_counter()
        os.replace(temporary, self.path)
        return started

    def wait_acked(self, sequence: int, timeout: float = 60) -> tuple[float, UpdateAcked]:
        with self._acked:
            if not self._acked.wait_for(lambda: sequence in self._all_acked, timeout):
                raise RuntimeError(f"update {sequence} was not acked within {timeout} s")
            return self._all_acked[sequence]

    def save_edit(self) -> tuple[float, float]:
        """Save the next version; ms until the first and until the last device acked."""
        session = self.server.protocol.sessions[self.session_id]
        self._edits += 1
        sequence = session.sequence + 1
        started = self.save(self.versions[self._edits % 2])
        finished, done = self.wait_acked(sequence)
        self._last_edit = started
        if (done.acked, done.failed) != (self.devices, 0):
            raise RuntimeError(f"update {sequence}: {done.acked} acks, {done.failed} failures")
        return (self._first_ack[sequence] - started) * 1000, (finished - started) * 1000

    def stop_server(self) -> None:
        if self.watcher is not None:
            self.call(self.watcher.close())
        if self._watching is not None:
            self.call(asyncio.wait_for(self._wait(self._watching), 5))
        super().stop_server()
        self._directory.cleanup()
        gc.unfreeze()

    @staticmethod
    async def _wait(task: asyncio.Task[None]) -> None:
        await task


def measure(
    size: str,
    shape: str,
    devices: int,
    edits: int,
    *,
    processes: int | None,
    mode: str,
    client: str = "raw",
    patch: bool = False,
    documents: bool = True,
    compact: bool = False,
) -> dict[str, Any]:
    with SaveRig(
        size,
        devices,
        shape=shape,
        processes=processes,
        mode=mode,
        client=client,
        patch=patch,
        documents=documents,
        compact=compact,
    ) as rig:
        for _ in range(3):  # warm-up
            rig.pace()
            rig.save_edit()
        first, every = [], []
        for _ in range(edits):
            rig.pace()
            one, last = rig.save_edit()
            first.append(one)
            every.append(last)
        update = rig.updates[-1]
        return {
            "size": size,
            "shape": shape,
            "schema_bytes": update.full_size,
            "devices": devices,
            "mode": mode,
            "kind": update.kind,
            "update_bytes": update.size,
            "first_p50": percentile(first, 0.5),
            "p50": percentile(every, 0.5),
            "p99": percentile(every, 0.99),
            "edits": edits,
        }


# --------------------------------------------------------------------------- stream


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def stream(
    size: str,
    shape: str,
    devices: int,
    rate: float,
    seconds: float,
    *,
    processes: int | None,
    client: str = "raw",
    patch: bool = False,
    documents: bool = True,
    compact: bool = False,
) -> dict[str, Any]:
    """Saves at ``rate`` per second for ``seconds``, cycling through three versions (the
    preset and two one-edit copies, so that consecutive saves always differ).

    Checks that the final content lands on every device (each device's last ack is the
    session's last update, which has the last save's checksum) and measures the server's
    CPU: this process's (every thread's, the core's own threads included) minus this
    (main) thread's, which only writes the files and waits.
    """
    with SaveRig(
        size,
        devices,
        shape=shape,
        processes=processes,
        client=client,
        patch=patch,
        documents=documents,
        compact=compact,
        extra_versions=1,
    ) as rig:
        checksums = [calculate_checksum(json.loads(data)) for data in rig.versions]
        session = rig.server.protocol.sessions[rig.session_id]
        rig.pace()
        rig.save_edit()  # one isolated edit first: the farms are warm
        time.sleep(0.5)
        sent_before, errors_before = len(rig.updates), len(rig.errors)
        first_sequence = session.sequence + 1
        saves = round(rate * seconds)
        cpu = _cpu_seconds(resource.RUSAGE_SELF) - _cpu_seconds(resource.RUSAGE_THREAD)
        started = time.perf_counter()
        late = 0.0
        version = 0
        for index in range(saves):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                late = max(late, -delay)
            version = 2 + index % 3
            rig.save(rig.versions[version % 3])
        saving_s = time.perf_counter() - started
        final = checksums[version % 3]
        deadline = time.perf_counter() + 60
        while session.checksum != final:
            if time.perf_counter() > deadline:
                raise RuntimeError("the last save never became the session's schema")
            time.sleep(0.005)
        last_sequence = session.sequence
        finished, done = rig.wait_acked(last_sequence)
        wall = finished - started
        cpu = _cpu_seconds(resource.RUSAGE_SELF) - _cpu_seconds(resource.RUSAGE_THREAD) - cpu
        if (done.acked, done.failed) != (devices, 0):
            raise RuntimeError(f"update {last_sequence}: {done.acked} acks, {done.failed} failures")
        behind = sum(conn.last_ack != last_sequence for conn in list(session.devices.values()))
        if len(session.devices) != devices or behind:
            raise RuntimeError(f"not converged: {behind} devices behind update {last_sequence}")
        updates = rig.updates[sent_before:]
        times = rig.sent_at[sent_before:]
        gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        acked = [
            (rig._all_acked[u.sequence][0] - at) * 1000
            for u, at in zip(updates, times, strict=True)
            if u.sequence in rig._all_acked
        ]
        return {
            "size": size,
            "shape": shape,
            "devices": devices,
            "file_bytes": len(rig.versions[0]),
            "saves": saves,
            "saving_s": saving_s,
            "late_ms": late * 1000,
            "updates": len(updates),
            "sequences": (first_sequence, last_sequence),
            "kinds": sorted({u.kind for u in updates}),
            "errors": len(rig.errors) - errors_before,
            "min_gap_ms": min(gaps) if gaps else None,
            "sent_to_acked_p50_ms": percentile(acked, 0.5) if acked else None,
            "sent_to_acked_max_ms": max(acked) if acked else None,
            "wall_s": wall,
            "server_cpu_s": cpu,
            "server_cpu_percent": 100 * cpu / wall,
        }


def format_stream(row: dict[str, Any]) -> str:
    gap = "-" if row["min_gap_ms"] is None else f"{row['min_gap_ms']:.0f} ms"
    return (
        f"{row['size']}-{row['shape']} ({row['file_bytes'] / 1e6:.2f} MB), {row['devices']} "
        f"devices: {row['saves']} saves in {row['saving_s']:.1f} s (at most "
        f"{row['late_ms']:.0f} ms late) -> {row['updates']} updates "
        f"({', '.join(row['kinds'])}; never closer than {gap}), {row['errors']} errors; "
        f"update sent -> all acked p50 {row['sent_to_acked_p50_ms']:.1f} ms, max "
        f"{row['sent_to_acked_max_ms']:.1f} ms; every device on the final content "
        f"(update #{row['sequences'][1]}); server CPU {row['server_cpu_s']:.2f} s over "
        f"{row['wall_s']:.1f} s = {row['server_cpu_percent']:.1f}% of one core"
    )


# ------------------------------------------------------------------------ scenarios


def scenarios(processes: int | None, *, documents: bool = True) -> list[str]:
    """The watcher's cases on one 10-device session; one line of findings each."""
    lines = []
    module = _make_schema_module()
    with SaveRig("small", 10, processes=processes, documents=documents) as rig:
        # A burst of 30 saves in one second.
        rig.pace()
        sent_before = len(rig.updates)
        versions = [
            json.dumps(module.mutate(rig.schemas[0], 1, 100 + i)).encode() for i in range(30)
        ]
        started = rig.save(versions[0])
        for data in versions[1:]:
            time.sleep(1 / 30)
            rig.save(data)
        final = json.loads(versions[-1])
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            session = rig.server.protocol.sessions[rig.session_id]
            if session.checksum == calculate_checksum(final):
                break
            time.sleep(0.01)
        rig.wait_acked(rig.server.protocol.sessions[rig.session_id].sequence)
        burst = rig.updates[sent_before:]
        times = rig.sent_at[sent_before:]
        gap = min(b - a for a, b in itertools.pairwise(times)) * 1000
        first_sent = (times[0] - started) * 1000
        first_ack = (rig._first_ack[burst[0].sequence] - started) * 1000
        lines.append(
            f"burst of 30 saves in 1 s: {len(burst)} updates over "
            f"{(times[-1] - times[0]):.2f} s, never closer than {gap:.0f} ms (at most 10/s); "
            f"the first sent {first_sent:.1f} ms and acked {first_ack:.1f} ms after the "
            f"first save; every device on the final content"
        )

    with SaveRig("large", 10, processes=processes, documents=documents) as rig:
        # A 4.7 MB file rewritten in place in 64 KB chunks.
        rig.pace()
        errors = len(rig.errors)
        session = rig.server.protocol.sessions[rig.session_id]
        sequence = session.sequence + 1
        data = rig.versions[1]
        with rig.path.open("r+b") as file:
            file.truncate(0)
            for start in range(0, len(data), 64 * 1024):
                file.write(data[start : start + 64 * 1024])
                file.flush()
        rig.wait_acked(sequence)
        time.sleep(0.5)
        lines.append(
            f"in-place save of {len(data) / 1e6:.1f} MB in 64 KB chunks: "
            f"{len(rig.errors) - errors} error events, every device on the final content "
            f"(update #{sequence})"
        )

        # Nested 5,000 deep, then a valid save.
        rig.pace()
        errors = len(rig.errors)
        rig.save(b"[" * 5000 + b"]" * 5000)
        time.sleep(1.0)
        reported = len(rig.errors) - errors
        sequence = session.sequence + 1
        rig.save(rig.versions[0])
        rig.wait_acked(sequence)
        lines.append(
            f"file nested 5,000 deep, then a valid save: {reported} error event, the valid "
            f"save pushed and acked (update #{sequence})"
        )

        # Idle: the server thread (watcher, timers, 10 connected devices) for 10 s.
        time.sleep(1.0)
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        time.sleep(10.0)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        lines.append(f"idle server, 10 s with 10 devices: {100 * cpu / wall:.2f}% of one core")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="small,medium,large", help="make_schema presets")
    parser.add_argument("--shapes", default="tree,flat", help="make_schema shapes")
    parser.add_argument(
        "--devices",
        default="1,10,100",
        help="device counts (default: 1,10,100; large stops at 10)",
    )
    parser.add_argument("--edits", type=int, default=20, help="measured edits per cell")
    parser.add_argument("--processes", type=int, help="device farm processes")
    parser.add_argument("--modes", default="ack", help="raw device work: ack, parse or both")
    parser.add_argument("--scenarios", action="store_true", help="also run the watcher cases")
    parser.add_argument(
        "--client",
        choices=("raw", "websockets"),
        default="raw",
        help="device implementation (see benches/_raw_device.py); the reference's figures "
        "in the README were measured with websockets' client",
    )
    parser.add_argument(
        "--patch", action="store_true", help="devices ask for patch updates (updateTypes)"
    )
    parser.add_argument(
        "--watcher",
        choices=("documents", "dicts"),
        default="documents",
        help="what the watcher yields: SchemaDocuments (parse_document), as `lumora-fast "
        "serve` runs it (the default), or the previous release's dicts (parse_schema, "
        "freeze=True) that the server converts",
    )
    parser.add_argument(
        "--compact",
        action="store_true",
        help="save the versions as compact JSON (make_schema.compact_bytes) instead of "
        "json.dumps' default",
    )
    parser.add_argument(
        "--uncapped",
        action="store_true",
        help="also run large and xl with more than 10 devices",
    )
    parser.add_argument(
        "--stream",
        metavar="RATE:SECONDS",
        help="instead of isolated edits, save RATE times a second for SECONDS on each "
        "cell: updates sent, convergence, server CPU (e.g. --stream 10:30)",
    )
    args = parser.parse_args(argv)
    documents = args.watcher == "documents"
    rate = seconds = 0.0
    if args.stream:
        try:
            rate, seconds = (float(x) for x in args.stream.split(":"))
        except ValueError:
            parser.error("--stream takes RATE:SECONDS, e.g. 10:30")
    load = os.getloadavg()
    print(
        f"lumora_fast {lumora_fast.__version__} ({lumora_fast.BACKEND} backend), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores; clock: os.replace -> acks; "
        f"devices: {args.client}{', patch' if args.patch else ''}"
        + (
            f"; watcher: {args.watcher}{', compact files' if args.compact else ''}; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        ),
        flush=True,
    )
    if args.stream:
        for size in args.sizes.split(","):
            for shape in args.shapes.split(","):
                for devices in (int(d) for d in args.devices.split(",")):
                    row = stream(
                        size,
                        shape,
                        devices,
                        rate,
                        seconds,
                        processes=args.processes,
                        client=args.client,
                        patch=args.patch,
                        documents=documents,
                        compact=args.compact,
                    )
                    print(format_stream(row), flush=True)
        return 0
    header = (
        f"{'schema':<22} {'devices':>7} {'mode':<5} {'update':<20} "
        f"{'first p50':>9} {'all p50':>8} {'all p99':>8}"
    )
    print(header)
    for size in args.sizes.split(","):
        for shape in args.shapes.split(","):
            for devices in (int(d) for d in args.devices.split(",")):
                if size not in ("small", "medium") and devices > 10 and not args.uncapped:
                    continue
                for mode in args.modes.split(","):
                    row = measure(
                        size,
                        shape,
                        devices,
                        args.edits,
                        processes=args.processes,
                        mode=mode,
                        client=args.client,
                        patch=args.patch,
                        documents=documents,
                        compact=args.compact,
                    )
                    schema = f"{size}-{shape} {row['schema_bytes'] / 1000:.0f} KB"
                    update = f"{row['kind']} {row['update_bytes'] / 1000:.0f} KB"
                    print(
                        f"{schema:<22} {devices:>7} {mode:<5} {update:<20} "
                        f"{row['first_p50']:>9.1f} {row['p50']:>8.1f} {row['p99']:>8.1f}",
                        flush=True,
                    )
    if args.scenarios:
        for line in scenarios(args.processes, documents=documents):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
