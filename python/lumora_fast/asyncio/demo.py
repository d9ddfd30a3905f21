"""``lumora-fast demo``: a server, simulated devices and scripted edits, on loopback.

The bundled todo-app schema is served on 127.0.0.1 (a free port); ``devices``
:class:`~lumora_fast.asyncio.device.Device` instances join the session over real
WebSockets; a scripted series of edits is published (isolated edits, then a burst that
the server coalesces, then isolated edits again); then every device's schema checksum is
compared with the server's.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lumora_fast.checksum import calculate_checksum
from lumora_fast.examples import edits as example_edits
from lumora_fast.examples import todo_app_schema
from lumora_fast.messages import Schema
from lumora_fast.sessions.events import (
    AckReceived,
    ErrorEvent,
    Event,
    Resync,
    UpdateAcked,
    UpdateSent,
)
from lumora_fast.sessions.server import ServerProtocol

from .device import Device
from .server import serve

__all__ = ["DemoReport", "format_bytes", "format_report", "percentile", "run_demo"]

ISOLATED_GAP_MS = 120
"""Pause between isolated edits: longer than the coalescing window, so each goes out."""
BURST_GAP_MS = 5
"""Pause between edits of the burst: they coalesce."""


@dataclass
class DemoReport:
    """What happened during a demo run."""

    devices: int
    edits: int
    schema_nodes: int
    schema_bytes: int
    updates: list[UpdateSent] = field(default_factory=list)
    acks: list[AckReceived] = field(default_factory=list)
    completed: list[UpdateAcked] = field(default_factory=list)
    resyncs: int = 0
    errors: list[str] = field(default_factory=list)
    server_checksum: str | None = None
    device_checksums: dict[str, str | None] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def in_sync(self) -> bool:
        """Every device ended on the server's schema."""
        return len(self.device_checksums) == self.devices and all(
            checksum == self.server_checksum for checksum in self.device_checksums.values()
        )


def _count_nodes(nodes: list[dict[str, object]]) -> int:
    total, stack = 0, list(nodes)
    while stack:
        node = stack.pop()
        total += 1
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(children)
    return total


def _schedule(count: int) -> list[int]:
    """Pause before each edit: isolated, then a burst, then isolated again."""
    quarter = count // 4
    return [
        ISOLATED_GAP_MS if i < quarter or i >= count - quarter else BURST_GAP_MS
        for i in range(count)
    ]


async def run_demo(
    *,
    devices: int = 5,
    edits: int = 30,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    timeout: float = 30.0,
) -> DemoReport:
    """Run the demo and report.

    Args:
        devices: Simulated devices.
        edits: Scripted edits.
        seed: Picks the edit targets (same seed, same edits).
        progress: Called with a line of text as things happen.
        timeout: Seconds allowed for the devices to converge after the last edit.
    """
    say = progress or (lambda line: None)
    schema = todo_app_schema()
    report = DemoReport(
        devices=devices,
        edits=edits,
        schema_nodes=_count_nodes(schema["nodes"]),
        schema_bytes=len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode()),
    )
    labels: list[str] = []
    acked = asyncio.Event()
    sent: dict[int, UpdateSent] = {}
    label_of: dict[int, str] = {}

    def on_event(event: Event) -> None:
        if isinstance(event, UpdateSent):
            report.updates.append(event)
            sent[event.sequence] = event
            label_of[event.sequence] = labels[-1] if labels else ""
        elif isinstance(event, AckReceived):
            if event.success:
                report.acks.append(event)
        elif isinstance(event, UpdateAcked):
            report.completed.append(event)
            acked.set()
            update = sent.get(event.sequence)
            if update is not None:
                coalesced = f" (+{update.edits - 1} coalesced)" if update.edits > 1 else ""
                say(
                    f"  #{event.sequence:<3} {update.kind:<11} {format_bytes(update.size):>9}  "
                    f"{(label_of[event.sequence] + coalesced)[:44]:<44} "
                    f"{event.acked}/{update.devices} acked in {event.latency_ms:6.1f} ms"
                )
        elif isinstance(event, Resync):
            report.resyncs += 1
            say(
                f"  resync of {event.device_id} with full update #{event.sequence} ({event.reason})"
            )
        elif isinstance(event, ErrorEvent):
            report.errors.append(event.message)
            say(f"  error: {event.message}")

    started = time.perf_counter()
    async with serve(protocol=ServerProtocol(), on_event=on_event) as server:
        session_id = server.create_session(schema)
        url = server.url(session_id)
        say(
            f"lumora-fast demo: {devices} devices, {edits} edits on the bundled todo app "
            f"({report.schema_nodes} nodes, {format_bytes(report.schema_bytes)})"
        )
        say(f"server: {url}")
        fleet = [Device(url, device_id=f"demo-{i + 1}", platform="web") for i in range(devices)]
        tasks = [asyncio.create_task(device.run()) for device in fleet]
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(
                    *(d.wait_for(lambda d: d.session.connection_id is not None) for d in fleet)
                )
            say(f"{devices} devices connected; editing:")
            current: Schema = schema
            for (label, current), gap in zip(
                example_edits(schema, edits, seed=seed), _schedule(edits), strict=True
            ):
                await asyncio.sleep(gap / 1000)
                labels.append(label)
                server.publish(session_id, current)
            session = server.protocol.sessions[session_id]
            # The last edit may still be waiting in the coalescing window.
            target = calculate_checksum(current, algorithm=server.protocol.algorithm)
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.gather(
                        *(d.wait_for(lambda d: d.session.checksum == target) for d in fleet)
                    )
                    while session.inflight:  # the server has every ack
                        acked.clear()
                        await acked.wait()
            except TimeoutError:
                report.errors.append(f"devices did not converge within {timeout:g} s")
            report.server_checksum = target
            report.device_checksums = {d.session.device_id: d.session.checksum for d in fleet}
        finally:
            for device in fleet:
                await device.close()
            await asyncio.gather(*tasks, return_exceptions=True)
    report.elapsed_s = time.perf_counter() - started
    return report


def format_bytes(size: float) -> str:
    """``87.2 kB``, ``3.15 MB``."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.2f} MB"
    return f"{size / 1000:.1f} kB"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1])."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def _latency(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 0.5):.1f} ms | p99 {percentile(values, 0.99):.1f} ms"


def format_report(report: DemoReport) -> str:
    """The summary table printed at the end of the demo."""
    full = [u for u in report.updates if u.kind == "full"]
    incremental = [u for u in report.updates if u.kind == "incremental"]
    edits_sent = sum(u.edits for u in report.updates)
    sent_bytes = sum(u.size * u.devices for u in report.updates)
    all_full_bytes = sum(u.full_size * u.devices for u in report.updates)

    def average(values: list[int]) -> str:
        return format_bytes(sum(values) / len(values)) if values else "n/a"

    rows = [
        ("devices", str(report.devices)),
        (
            "edits",
            f"{report.edits} -> {len(report.updates)} updates "
            f"({edits_sent - len(report.updates)} edits coalesced)",
        ),
        ("updates", f"{len(full)} full, {len(incremental)} incremental"),
        (
            "bytes per update",
            f"full {average([u.size for u in full])} | incremental "
            f"{average([u.size for u in incremental])} "
            f"(the same edits as full updates: {average([u.full_size for u in incremental])})",
        ),
        (
            "bytes sent",
            f"{format_bytes(sent_bytes)} to devices "
            f"(all-full would be {format_bytes(all_full_bytes)})",
        ),
        (
            "edit -> ack",
            f"{_latency([a.latency_ms for a in report.acks if a.latency_ms is not None])}"
            f"  ({len(report.acks)} acks)",
        ),
        ("edit -> all devices", _latency([c.latency_ms for c in report.completed])),
        ("resyncs", str(report.resyncs)),
        ("errors", str(len(report.errors))),
        ("run time", f"{report.elapsed_s:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["", "Summary"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines += ["", f"  {'device':<12} {'final checksum':<18} matches server"]
    for device_id, checksum in report.device_checksums.items():
        ok = "yes" if checksum == report.server_checksum else "NO"
        lines.append(f"  {device_id:<12} {(checksum or '-')[:16]:<18} {ok}")
    lines.append(f"  {'server':<12} {(report.server_checksum or '-')[:16]:<18}")
    lines.append("")
    if report.in_sync:
        lines.append(f"All {report.devices} devices ended on the server's schema.")
    else:
        wrong = sum(c != report.server_checksum for c in report.device_checksums.values())
        missing = report.devices - len(report.device_checksums)
        lines.append(f"FAILED: {wrong + missing} of {report.devices} devices are not in sync.")
    return "\n".join(lines)
