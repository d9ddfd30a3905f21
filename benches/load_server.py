"""Server load benchmark: many devices on one session, a few edits, all converging.

The rig of ``benches/server_latency.py``: the server (``lumora_fast.asyncio.serve``) runs in
a background thread of this process, the devices are raw clients
(``benches/_raw_device.py``, or ``websockets``' own with ``--client websockets``) spread over
several farm processes (100 devices each by default, at most 5 farms). Defaults: 500 devices
on the medium tree preset (``tests.make_schema``, ~465 KB), 10 edits::

    python benches/load_server.py                               # 500 devices, medium, 10 edits
    python benches/load_server.py --devices 500 --size medium --edits 10 --json

An edit alternates the schema between the preset and a copy with one node-level edit, paced
outside the 100 ms coalescing window; its latency is from ``publish`` to the server
receiving the last device's ack. Every edit is measured (no warm-up unless ``--warmup``).
Convergence is checked: every edit is acked by every device with no failure (the rig raises
otherwise), and at the end every device's last ack is the session's last sequence number
and no update is left unacked.

Resources of this process (the one running the server thread) are sampled:

* before: the server started and idle, its session created, no device yet. The process
  also holds the rig's own copies of the schemas, so this is a baseline, not the server's
  footprint alone;
* connected: every device has its ``connected`` message (the full schema);
* peak: the highest resident set (``VmHWM``, reset once the devices are connected) and
  file descriptor count during the edits;
* after: the farms terminated, the server has dropped every connection, ``gc.collect()``;
* trimmed: then glibc's ``malloc_trim(0)`` (when there is one).

RSS is ``VmRSS`` of ``/proc/self/status``, file descriptors ``/proc/self/fd``. The C
allocator keeps freed memory, so RSS after may stay above the baseline without a leak:
trimmed shows what is left once it returns what it can, and the count of small Python
objects' blocks (``sys.getallocatedblocks``; large buffers are not in it) shows leaked
objects. Open file descriptors should come back to the baseline. The peak RSS while the
devices join (each gets the full schema) is reported too. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lumora_fast
from lumora_fast.asyncio.demo import percentile

try:
    from server_latency import LatencyRig
except ImportError:  # benches/ imported as a package (pytest)
    from benches.server_latency import LatencyRig

DEVICES_PER_FARM = 100
MAX_FARMS = 5
DROP_TIMEOUT_S = 30.0
"""How long the server may take to notice that every device is gone."""


@dataclass(frozen=True)
class Sample:
    """Resources of this process at one moment."""

    rss_kb: int
    fds: int
    blocks: int


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def sample() -> Sample:
    """RSS, open file descriptors and Python allocated blocks, now."""
    return Sample(
        rss_kb=_status_kb("VmRSS"),
        fds=len(os.listdir("/proc/self/fd")),
        blocks=sys.getallocatedblocks(),
    )


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def malloc_trim() -> bool:
    """Have glibc return the free memory it holds to the system; False without glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def default_processes(devices: int) -> int:
    return max(1, min(MAX_FARMS, math.ceil(devices / DEVICES_PER_FARM)))


def _connection_counts(rig: LatencyRig) -> tuple[int, int]:
    async def counts() -> tuple[int, int]:
        server = rig.server
        return len(server.protocol.connections), len(server._peers)

    return rig.call(counts())


def _check_converged(rig: LatencyRig) -> int:
    """Every device's last ack is the last update and nothing is unacked; that sequence."""

    async def state() -> tuple[int, list[Any], int]:
        session = rig.server.protocol.sessions[rig.session_id]
        acks = [conn.last_ack for conn in session.devices.values()]
        return session.sequence, acks, len(session.inflight)

    sequence, acks, unacked = rig.call(state())
    behind = sum(ack != sequence for ack in acks)
    if len(acks) != rig.devices or behind or unacked:
        raise RuntimeError(
            f"not converged on update {sequence}: {len(acks)}/{rig.devices} devices, "
            f"{behind} with an older last ack, {unacked} updates unacked"
        )
    return sequence


def run(
    size: str = "medium",
    devices: int = 500,
    edits: int = 10,
    *,
    processes: int | None = None,
    warmup: int = 0,
    mode: str = "ack",
    client: str = "raw",
) -> dict[str, Any]:
    """Measure one load run; raises if the devices do not converge."""
    processes = processes or default_processes(devices)
    rig = LatencyRig(size, devices, processes=processes, mode=mode, client=client)
    try:
        rig.start_server()
        gc.collect()
        before = sample()
        peak_tracked = reset_peak_rss()

        started = time.perf_counter()
        rig.connect_devices()
        join_s = time.perf_counter() - started
        join_peak = _status_kb("VmHWM") if peak_tracked else None
        gc.collect()
        connected = sample()
        peak_tracked = peak_tracked and reset_peak_rss()

        for _ in range(warmup):
            rig.pace()
            rig.edit()
        latencies: list[float] = []
        during: list[Sample] = []
        for _ in range(edits):
            rig.pace()
            latencies.append(rig.edit())
            during.append(sample())
        peak_rss = max(s.rss_kb for s in [connected, *during])
        if peak_tracked:
            peak_rss = max(peak_rss, _status_kb("VmHWM"))
        peak_fds = max(s.fds for s in [connected, *during])
        sequence = _check_converged(rig)
        update = rig.updates[-1]

        rig.disconnect_devices()
        started = time.perf_counter()
        while (remaining := _connection_counts(rig)) != (0, 0):
            if time.perf_counter() - started > DROP_TIMEOUT_S:
                raise RuntimeError(
                    f"{remaining[0]} connections, {remaining[1]} peers still open "
                    f"{DROP_TIMEOUT_S:.0f} s after the devices left"
                )
            time.sleep(0.02)
        drop_s = time.perf_counter() - started
        gc.collect()
        after = sample()
        trimmed = sample() if malloc_trim() else None
    finally:
        rig.close()

    return {
        "lumora_fast": lumora_fast.__version__,
        "backend": lumora_fast.BACKEND,
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "size": size,
        "schema_bytes": update.full_size,
        "update_kind": update.kind,
        "update_bytes": update.size,
        "devices": devices,
        "processes": processes,
        "edits": edits,
        "warmup": warmup,
        "latency_ms": {
            "p50": percentile(latencies, 0.5),
            "max": max(latencies),
            "each": [round(x, 2) for x in latencies],
        },
        "converged": {"sequence": sequence, "devices": devices, "failures": 0},
        "join_s": round(join_s, 3),
        "drop_s": round(drop_s, 3),
        "rss_mb": {
            "before": before.rss_kb / 1024,
            "connected": connected.rss_kb / 1024,
            "peak": peak_rss / 1024,
            "after": after.rss_kb / 1024,
            "trimmed": None if trimmed is None else trimmed.rss_kb / 1024,
            "join_peak": None if join_peak is None else join_peak / 1024,
        },
        "fds": {
            "before": before.fds,
            "connected": connected.fds,
            "peak": peak_fds,
            "after": after.fds,
        },
        "python_blocks": {
            "before": before.blocks,
            "connected": connected.blocks,
            "peak": max(s.blocks for s in [connected, *during]),
            "after": after.blocks,
        },
    }


def format_table(result: dict[str, Any]) -> str:
    latency, rss, fds, blocks = (
        result["latency_ms"],
        result["rss_mb"],
        result["fds"],
        result["python_blocks"],
    )
    farms = result["processes"]
    join_peak = "" if rss["join_peak"] is None else f" (RSS peak {rss['join_peak']:.1f} MB)"
    trimmed = "-" if rss["trimmed"] is None else f"{rss['trimmed']:.1f}"
    lines = [
        f"lumora_fast {result['lumora_fast']} ({result['backend']} backend), Python "
        f"{result['python']}, {result['cores']} cores",
        f"{result['devices']} devices in {farms} farm{'s' * (farms != 1)}, {result['size']} tree "
        f"({result['schema_bytes'] / 1000:.0f} KB), {result['edits']} edits "
        f"({result['update_kind']} {result['update_bytes'] / 1000:.1f} KB each)",
        f"joined in {result['join_s']:.2f} s{join_peak}; all connections dropped "
        f"{result['drop_s']:.2f} s after the farms stopped",
        "",
        f"publish -> all {result['devices']} acked:  p50 {latency['p50']:.1f} ms   "
        f"max {latency['max']:.1f} ms",
        "  each (ms): " + " ".join(f"{x:.0f}" for x in latency["each"]),
        f"converged: every edit acked by {result['devices']}/{result['devices']} devices, "
        f"0 failures; last ack {result['converged']['sequence']} on every device",
        "",
        f"{'':<22}{'before':>9}{'connected':>11}{'peak':>9}{'after':>9}{'trimmed':>9}",
        f"{'server RSS (MB)':<22}{rss['before']:>9.1f}{rss['connected']:>11.1f}"
        f"{rss['peak']:>9.1f}{rss['after']:>9.1f}{trimmed:>9}",
        f"{'open fds':<22}{fds['before']:>9}{fds['connected']:>11}"
        f"{fds['peak']:>9}{fds['after']:>9}",
        f"{'Python blocks (k)':<22}{blocks['before'] / 1000:>9.0f}"
        f"{blocks['connected'] / 1000:>11.0f}{blocks['peak'] / 1000:>9.0f}"
        f"{blocks['after'] / 1000:>9.0f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=500, help="devices (default: 500)")
    parser.add_argument(
        "--size", default="medium", help="make_schema preset, tree shape (default: medium)"
    )
    parser.add_argument("--edits", type=int, default=10, help="measured edits (default: 10)")
    parser.add_argument("--warmup", type=int, default=0, help="unmeasured edits first")
    parser.add_argument(
        "--processes",
        type=int,
        help=f"device farm processes (default: one per {DEVICES_PER_FARM}, max {MAX_FARMS})",
    )
    parser.add_argument("--mode", choices=("ack", "parse"), default="ack", help="raw device work")
    parser.add_argument(
        "--client", choices=("raw", "websockets"), default="raw", help="device implementation"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.edits < 1:
        parser.error("--devices and --edits must be >= 1")
    result = run(
        args.size,
        args.devices,
        args.edits,
        processes=args.processes,
        warmup=args.warmup,
        mode=args.mode,
        client=args.client,
    )
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
