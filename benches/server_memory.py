"""What holding a schema costs a server's memory: RSS and traced Python allocations.

Each measurement runs in a fresh subprocess: a real :class:`~lumora_fast.asyncio.Server`
on 127.0.0.1 (port 0) is started and given an idle session without a schema (after one
small schema was loaded and dropped, so that one-time costs are not the schema's). The
baseline is its RSS after ``gc.collect()`` and glibc's ``malloc_trim(0)`` (which returns
the freed memory the allocator kept). The schema file's bytes, read beforehand and kept
alive in every mode, are then loaded; "growth" is the RSS after ``gc.collect()``,
"growth trimmed" the same after another ``malloc_trim(0)`` (without a parse's freed
temporary buffers); then the server is closed. Modes:

* ``none``: nothing is loaded (the noise floor of the method);
* ``document``: ``parse_document(data)`` given to ``create_session``: what the server
  now holds (the document, the tracker's hashes, the full update serialized once);
* ``dict``: ``parse_schema(data, freeze=True)`` held alive by the process, as the
  previous release's watcher made it (its tracker's hashes and cached frames not
  included: the server now converts a dict to a document, so it cannot be given one);
* ``dict+session``: both: a caller that still hands the server a dict.

RSS is ``VmRSS`` of ``/proc/self/status``. A second subprocess per mode runs the same
steps under ``tracemalloc`` (started right before the parse, read right after
``create_session``): the Python allocations the load made that are still alive
(``bytes``, dicts, strs; not the core's Rust memory), and the lines that made most of
them. The full update the session caches (the bytes every device that connects is
sent) is a Python ``bytes`` of about the file's size: its size is shown apart. Issue 12:
RSS growth at most 4x the file size, and at most 1 MB of Python allocations for the
schema::

    python benches/server_memory.py                        # xl tree, every mode
    python benches/server_memory.py --preset medium --modes none,document
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODES = ("none", "document", "dict", "dict+session")
CHILD_TIMEOUT_S = 600.0
SETTLE_S = 0.3
"""Idle time of the server before each sample."""


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("VmRSS not in /proc/self/status")


def _trim() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


async def _child(mode: str, path: str, warmup: str, trace: bool) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    from lumora_fast.asyncio import serve
    from lumora_fast.sessions.schema import parse_document, parse_schema

    data = Path(path).read_bytes()
    small = Path(warmup).read_bytes()
    server = await serve(host="127.0.0.1", port=0)
    try:
        # The code paths a load takes, once on a small schema: their one-time costs
        # (imports, caches, interned names) are not the schema's.
        protocol = server.protocol
        warm = server.create_session(parse_document(small))
        protocol.close_session(warm, time.time() * 1000)
        warm = server.create_session(parse_schema(small, freeze=True))
        protocol.close_session(warm, time.time() * 1000)
        del warm
        server.create_session()  # the idle session, no schema
        await asyncio.sleep(SETTLE_S)
        gc.collect()
        trimmed = _trim()
        before = _rss_kb()

        if trace:
            tracemalloc.start(8)
        held: Any = None
        session: str | None = None
        if mode == "document":
            held = parse_document(data)
            session = server.create_session(held)
        elif mode == "dict":
            held = parse_schema(data, freeze=True)
        elif mode == "dict+session":
            held = parse_schema(data, freeze=True)
            session = server.create_session(held)
        traced: dict[str, Any] | None = None
        if trace:
            current, peak = tracemalloc.get_traced_memory()
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            top = snapshot.statistics("lineno")[:4]
            traced = {
                "current": current,
                "peak": peak,
                "top": [
                    f"{s.size / 1e6:.2f} MB {Path(s.traceback[0].filename).name}:"
                    f"{s.traceback[0].lineno}"
                    for s in top
                ],
            }
            del snapshot, top
        await asyncio.sleep(SETTLE_S)
        gc.collect()
        after = _rss_kb()
        trimmed_after = _rss_kb() if trimmed and _trim() else None
        nbytes = getattr(held, "nbytes", None)
        frame = 0
        if session is not None:
            state = protocol.sessions[session]
            nbytes = getattr(state.schema, "nbytes", nbytes)
            frame = 0 if state.full_update is None else len(state.full_update[1])
        result = {
            "mode": mode,
            "file_bytes": len(data),
            "rss_before_kb": before,
            "rss_after_kb": after,
            "trimmed_after_kb": trimmed_after,
            "document_nbytes": nbytes,
            "full_update_bytes": frame,
            "traced": traced,
        }
        del held
        return result
    finally:
        await asyncio.wait_for(server.close(), 30)


def run_child(mode: str, path: Path, warmup: Path, *, trace: bool) -> dict[str, Any]:
    """:func:`_child` in a fresh interpreter; its result."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--path",
            str(path),
            "--warmup-path",
            str(warmup),
            *(["--trace"] if trace else []),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT_S,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def format_table(rows: list[dict[str, Any]]) -> str:
    size = rows[0]["file_bytes"]
    head = [
        "held",
        "RSS idle (MB)",
        "RSS loaded (MB)",
        "growth (MB)",
        "growth / file",
        "growth trimmed (MB)",
        "trimmed / file",
        "tracemalloc (MB)",
        "of which the cached full update (MB)",
        "document nbytes (MB)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        growth = (row["rss_after_kb"] - row["rss_before_kb"]) * 1024
        if row["trimmed_after_kb"] is None:
            trimmed = ["-", "-"]
        else:
            kept = (row["trimmed_after_kb"] - row["rss_before_kb"]) * 1024
            trimmed = [f"{kept / 1e6:.1f}", f"{kept / size:.2f}x"]
        traced = row.get("traced")
        nbytes = row["document_nbytes"]
        lines.append(
            "| "
            + " | ".join(
                [
                    row["mode"],
                    f"{row['rss_before_kb'] / 1024:.1f}",
                    f"{row['rss_after_kb'] / 1024:.1f}",
                    f"{growth / 1e6:.1f}",
                    f"{growth / size:.2f}x",
                    *trimmed,
                    "-" if traced is None else f"{traced['current'] / 1e6:.2f}",
                    f"{row['full_update_bytes'] / 1e6:.2f}",
                    "-" if nbytes is None else f"{nbytes / 1e6:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="xl", help="make_schema preset (default: xl)")
    parser.add_argument("--shape", choices=("tree", "flat"), default="tree")
    parser.add_argument("--modes", default=",".join(MODES), help="what to load, comma list")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--warmup-path", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = asyncio.run(_child(args.child, args.path, args.warmup_path, args.trace))
        print(json.dumps(result), flush=True)
        return 0
    if not sys.platform.startswith("linux"):
        parser.error("reads /proc/self/status: Linux only")
    modes = args.modes.split(",")
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")

    import lumora_fast
    from benches.save_cost import versions

    data = versions(args.preset, args.shape)[0]
    small = versions("small", "tree")[0]
    load = os.getloadavg()
    print(
        f"lumora_fast {lumora_fast.__version__} ({lumora_fast.BACKEND} backend), Python "
        f"{sys.version.split()[0]}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{args.preset}-{args.shape}: {len(data) / 1e6:.2f} MB file",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="lumora-memory-") as directory:
        path, warmup = Path(directory) / "schema.json", Path(directory) / "small.json"
        path.write_bytes(data)
        warmup.write_bytes(small)
        for mode in modes:
            row = run_child(mode, path, warmup, trace=False)
            if not args.no_trace:
                row["traced"] = run_child(mode, path, warmup, trace=True)["traced"]
                for line in row["traced"]["top"] if mode != "none" else []:
                    print(f"  {mode}: traced {line}", flush=True)
            rows.append(row)
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
