"""What a save costs the server, per preset: a Markdown table for the README.

For each preset (tree shape unless ``--shape flat``), versions alternate between the
preset (``make_schema.preset_schema(preset, shape, 42)``) and a copy with one node-level
edit (``make_schema.mutate(schema, 1, 43)``), both as compact JSON bytes, as a file
holds them. Each repeat saves the other version and times, with ``time.perf_counter``
and the garbage collector enabled (as in production):

* **parse**: ``parse_document(bytes, previous=document)``, what the server's watcher
  does with the file: it copies what the previous version's parse built for the array
  items whose text did not change;
* **fresh parse**: ``parse_document(bytes)`` without the previous version (a server's
  first load);
* **update**: ``SchemaTracker.update_encoded(document)`` against the previous version's
  document: the checksum, the delta (its JSON only when a device takes incremental
  updates: not with patch devices, the default) and the patch, in one walk, which copies
  what it wrote for the unchanged items;
* **checksum**: ``document.checksum()`` on a fresh document of the same bytes: the whole
  canonical form written and hashed (what the update saves);
* **frame**: what ``ServerProtocol.publish`` costs beyond the tracker, with ``--devices``
  devices connected (the full, incremental and patch frames, the history, one ``Send``
  per device): ``publish`` with its ``update_encoded`` timed inside it, minus that;
* **total**: ``parse + publish``: the file's bytes to every device's frame;
* **orjson.loads** of the same bytes, for reference (a dict, no checksum, no diff).

Medians of ``--repeat`` saves (after one unmeasured save)::

    python benches/save_cost.py                                  # small,medium,large,xl
    python benches/save_cost.py --presets small,medium --repeat 5
    python benches/save_cost.py --shape flat --updates reference --devices 10

``--dict`` adds the previous release's path for comparison: the core's ``loads`` (GC
paused, as ``parse_json`` did) and ``SchemaTracker.update`` of the dict.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

import lumora_fast as lf  # noqa: E402
from benches.server_latency import _make_schema_module  # noqa: E402
from lumora_fast import _core  # noqa: E402
from lumora_fast.sessions import Send, ServerProtocol, UpdateSent  # noqa: E402
from lumora_fast.sessions.schema import parse_document  # noqa: E402

SEED = 42
EDIT_SEED = 43
T0 = 1_700_000_000_000.0
UPDATE_TYPES = {
    "patch": ["full", "incremental", "patch"],
    "reference": None,  # a reference device: full and incremental updates
}


def versions(preset: str, shape: str) -> tuple[bytes, bytes]:
    """The preset and its one-edit copy as compact JSON bytes; cached where the
    benchmarks (``benches/conftest.py``) keep their workloads."""
    module = _make_schema_module()
    version = hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:12]
    cache = ROOT / ".pytest_cache" / "d" / "lumora-workloads"
    base = f"{preset}-{shape}-seed{SEED}"
    paths = [
        cache / f"{base}-{version}.json",
        cache / f"{base}-mutate1-seed{EDIT_SEED}-{version}.json",
    ]
    if all(p.exists() for p in paths):
        return paths[0].read_bytes(), paths[1].read_bytes()
    print(f"generating {preset}-{shape}...", file=sys.stderr, flush=True)
    if paths[0].exists():
        first = paths[0].read_bytes()
        schema = json.loads(first)
    else:
        schema = module.preset_schema(preset, shape, SEED)
        first = module.compact_bytes(schema)
    pair = first, module.compact_bytes(module.mutate(schema, 1, EDIT_SEED))
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for path, data in zip(paths, pair, strict=True):
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
    except OSError:
        pass  # a read-only checkout: generate again next time
    return pair


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


class _Server:
    """A sans-I/O server with ``devices`` devices that ack every update."""

    def __init__(self, first: bytes, devices: int, updates: str) -> None:
        self.protocol = ServerProtocol()
        self.now = T0
        self.session = self.protocol.create_session(self.now, parse_document(first))
        self.connections = []
        for index in range(devices):
            connection, _ = self.protocol.open(self.session.id, self.now)
            hello = lf.serialize_message(
                lf.create_connect_message(
                    self.session.id,
                    f"device-{index}",
                    "ios",
                    timestamp=1,
                    update_types=UPDATE_TYPES[updates],
                )
            )
            self.protocol.receive(connection, hello, self.now)
            self.connections.append(connection)
        assert len(self.session.devices) == devices
        self.inside = 0.0
        tracker = self.session.tracker
        update_encoded = tracker.update_encoded

        def timed(*args: Any, **kwargs: Any) -> Any:
            elapsed, result = _timed(lambda: update_encoded(*args, **kwargs))
            self.inside += elapsed
            return result

        tracker.update_encoded = timed  # type: ignore[method-assign]
        self._tracker = tracker

    def publish(self, document: Any) -> tuple[float, float, dict[str, int]]:
        """Seconds of ``publish`` and of the tracker inside it; the frames' sizes."""
        if self.session.tracker is not self._tracker:
            raise RuntimeError("the server replaced its tracker (a refused update?)")
        self.now += 1000.0  # outside the coalescing window: sent at once
        self.inside = 0.0
        sequence = self.session.sequence + 1
        elapsed, outputs = _timed(
            lambda: self.protocol.publish(self.session.id, document, self.now)
        )
        sends = [o for o in outputs if isinstance(o, Send) and o.update == sequence]
        if self.session.sequence != sequence or len(sends) != len(self.connections):
            raise RuntimeError(f"update {sequence} was not sent to every device")
        sizes = next(o.sizes for o in outputs if isinstance(o, UpdateSent))
        ack = lf.serialize_message(
            lf.create_ack_message(self.session.id, sequence, True, timestamp=1)
        )
        for connection in self.connections:
            self.protocol.receive(connection, ack, self.now)
        return elapsed, self.inside, sizes


def _loads_gc_paused(data: bytes) -> Any:
    gc.disable()
    try:
        return _core.loads(data)
    finally:
        gc.enable()


def measure(
    preset: str,
    shape: str,
    repeat: int,
    *,
    devices: int,
    updates: str,
    compare_dict: bool,
) -> dict[str, Any]:
    pair = versions(preset, shape)
    delta = updates != "patch" or devices == 0
    previous = parse_document(pair[0])
    tracker = lf.SchemaTracker(previous)
    server = _Server(pair[0], devices, updates)
    dict_tracker = lf.SchemaTracker(_loads_gc_paused(pair[0])) if compare_dict else None
    samples: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}

    def add(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds * 1000)

    clock = time.perf_counter
    for turn in range(repeat + 1):
        data = pair[(turn + 1) % 2]
        started = clock()
        orjson.loads(data)
        orjson_s = clock() - started
        started = clock()
        document = parse_document(data, previous=previous)
        parse_s = clock() - started
        previous = document
        started = clock()
        fresh = parse_document(data)
        fresh_s = clock() - started
        started = clock()
        checksum = fresh.checksum()
        checksum_s = clock() - started
        started = clock()
        change = tracker.update_encoded(document, delta=delta)
        update_s = clock() - started
        if change.checksum != checksum:
            raise RuntimeError("the tracker's checksum is not the document's")
        publish_s, inside_s, sizes = server.publish(document)
        if dict_tracker is not None:
            started = clock()
            schema = _loads_gc_paused(data)
            dict_parse_s = clock() - started
            started = clock()
            dict_tracker.update(schema)
            dict_update_s = clock() - started
        if turn == 0:
            continue  # unmeasured
        add("orjson", orjson_s)
        add("parse", parse_s)
        add("fresh parse", fresh_s)
        add("checksum", checksum_s)
        add("update", update_s)
        add("frame", publish_s - inside_s)
        add("publish", publish_s)
        add("total", parse_s + publish_s)
        if dict_tracker is not None:
            add("dict parse", dict_parse_s)
            add("dict update", dict_update_s)
            add("dict total", dict_parse_s + dict_update_s)
    return {
        "preset": preset,
        "shape": shape,
        "bytes": len(pair[0]),
        "sizes": sizes,
        **{name: statistics.median(values) for name, values in samples.items()},
    }


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def format_table(rows: list[dict[str, Any]], *, compare_dict: bool) -> str:
    head = [
        "schema",
        "file",
        "parse",
        "update (tracker)",
        "frame",
        "total bytes → frames",
        "fresh parse",
        "checksum",
        "`orjson.loads`",
    ]
    if compare_dict:
        head += ["dict path (`loads` + `update`)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            f"{row['preset']}-{row['shape']}",
            f"{row['bytes'] / 1e6:.2f} MB"
            if row["bytes"] >= 1e6
            else f"{row['bytes'] / 1e3:.0f} KB",
            _ms(row["parse"]),
            _ms(row["update"]),
            _ms(row["frame"]),
            _ms(row["total"]),
            _ms(row["fresh parse"]),
            _ms(row["checksum"]),
            _ms(row["orjson"]),
        ]
        if compare_dict:
            cells.append(_ms(row["dict total"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="small,medium,large,xl", help="make_schema presets")
    parser.add_argument("--shape", choices=("tree", "flat"), default="tree")
    parser.add_argument("--repeat", type=int, default=9, help="measured saves (median)")
    parser.add_argument(
        "--devices", type=int, default=100, help="devices connected to the server (frame)"
    )
    parser.add_argument(
        "--updates",
        choices=tuple(UPDATE_TYPES),
        default="patch",
        help="devices that take patches (default) or reference devices",
    )
    parser.add_argument("--dict", action="store_true", help="also the previous dict path")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.devices < 0:
        parser.error("--repeat must be >= 1 and --devices >= 0")
    load = os.getloadavg()
    print(
        f"lumora_fast {lf.__version__} ({lf.BACKEND} backend), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; medians of {args.repeat} saves, ms; "
        f"{args.devices} {args.updates} devices",
        flush=True,
    )
    rows = []
    for preset in args.presets.split(","):
        row = measure(
            preset,
            args.shape,
            args.repeat,
            devices=args.devices,
            updates=args.updates,
            compare_dict=args.dict,
        )
        rows.append(row)
        frames = ", ".join(f"{k} {v / 1000:.1f} KB" for k, v in row["sizes"].items())
        print(f"{preset}-{args.shape}: frames {frames}", flush=True)
    print()
    print(format_table(rows, compare_dict=args.dict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
