"""The ``lumora-fast`` command: serve a schema, run a headless device, demo, checksum, diff.

``main(argv)`` returns the exit code (0 success, 1 failure, 2 usage error), so the CLI
can be driven in-process by tests; the console script and ``python -m lumora_fast`` call
it with the process arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import textwrap
import time
from argparse import SUPPRESS
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import msgspec

from lumora_fast._console import (
    CLEAR,
    KEYS_HELP,
    DeviceLines,
    Keys,
    UpdateLines,
    is_interactive,
    terminal_qr,
)
from lumora_fast._version import __version__
from lumora_fast.asyncio.demo import format_bytes
from lumora_fast.asyncio.http import is_loopback
from lumora_fast.asyncio.watcher import SETTLE_MS
from lumora_fast.checksum import calculate_checksum
from lumora_fast.codec import serialize_message
from lumora_fast.constants import SESSION_TIMEOUT_MS
from lumora_fast.delta import calculate_schema_delta
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import Schema
from lumora_fast.sessions.events import (
    AckReceived,
    Connected,
    DeviceConnected,
    DeviceDisconnected,
    Disconnected,
    ErrorEvent,
    Event,
    Resync,
    SessionExpired,
    UpdateAcked,
    UpdateApplied,
    UpdateSent,
    sequence_text,
)
from lumora_fast.sessions.schema import parse_document, parse_json, parse_schema
from lumora_fast.sessions.server import ServerProtocol, Session

if TYPE_CHECKING:
    from lumora_fast._core import SchemaDocument
    from lumora_fast.asyncio.server import Server

__all__ = ["main"]

_DESCRIPTION = """\
Lumora hot-reload protocol tools: a development server that pushes UI schema updates
to connected devices over WebSocket, a headless device, a demo, and helpers.
"""

_EPILOG = """\
examples:
  lumora-fast demo                       watch it work on built-in data
  lumora-fast serve app.json             serve app.json, push every saved change
  lumora-fast device 'ws://127.0.0.1:3000/ws?session=ID'
  lumora-fast checksum app.json          the schema checksum devices verify
  lumora-fast diff old.json new.json     the delta an incremental update carries
  lumora-fast diff --patch old.json new.json   the JSON Patch a patch update carries
"""


class _Output:
    """Writes human lines or JSON lines, flushed at once (for pipes and tools)."""

    def __init__(self, stream: TextIO, json_lines: bool) -> None:
        self.stream = stream
        self.json = json_lines

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def record(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": int(time.time() * 1000), **fields}
        self.line(msgspec.json.encode(record).decode())

    def event(self, event: Event, human: Callable[[Any], str | None]) -> None:
        if self.json:
            fields = msgspec.to_builtins(event)
            name = fields.pop("event")
            self.record(name, **fields)
            return
        text = human(event)
        if text is not None:
            self.stamped(text)

    def stamped(self, text: str) -> None:
        """A human line with the time in front."""
        self.line(f"{time.strftime('%H:%M:%S')}  {text}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _describe(event: Any) -> str | None:
    """One human line per event (``None``: not worth a line)."""
    if isinstance(event, DeviceConnected):
        name = f' "{event.device_name}"' if event.device_name else ""
        return (
            f"device {event.device_id}{name} connected ({event.platform}), "
            f"{_plural(event.devices, 'device')} now"
        )
    if isinstance(event, DeviceDisconnected):
        return (
            f"device {event.device_id} left ({event.reason}), "
            f"{_plural(event.devices, 'device')} now"
        )
    if isinstance(event, UpdateSent):
        extra = (
            f", full would be {format_bytes(event.full_size)}"
            if event.kind == "incremental"
            else ""
        )
        coalesced = f", {event.edits} edits coalesced" if event.edits > 1 else ""
        return (
            f"update #{event.sequence} {event.kind} {format_bytes(event.size)}{extra}{coalesced} "
            f"-> {_plural(event.devices, 'device')}"
        )
    if isinstance(event, AckReceived):
        latency = "" if event.latency_ms is None else f" {event.latency_ms:.1f} ms after the edit"
        if event.success:
            return f"ack #{sequence_text(event.sequence)} from {event.device_id}:{latency}"
        return (
            f"ack #{sequence_text(event.sequence)} from {event.device_id}: FAILED ({event.error})"
        )
    if isinstance(event, UpdateAcked):
        return None
    if isinstance(event, Resync):
        return f"resync: full update #{event.sequence} to {event.device_id} ({event.reason})"
    if isinstance(event, SessionExpired):
        return f"session {event.session_id} expired"
    if isinstance(event, ErrorEvent):
        return f"error: {event.message}"
    if isinstance(event, Connected):
        checksum = f", schema {event.checksum[:16]}" if event.checksum else ", no schema yet"
        resumed = ", resumed" if event.resumed else ""
        return f"connected as {event.connection_id}{checksum}{resumed}"
    if isinstance(event, UpdateApplied):
        update = f"update #{sequence_text(event.sequence)} {event.kind}"
        if not event.success:
            return f"{update} FAILED: {event.error} (reload requested)"
        check = "checksum ok" if event.verified else "checksum not sent"
        latency = "" if event.latency_ms is None else f", latency {event.latency_ms:.1f} ms"
        cleared = "; the server's schema error is resolved" if event.error_cleared else ""
        return (
            f"{update} {format_bytes(event.size)} applied in {event.apply_time_ms:.2f} ms"
            f"{latency}, {check} ({(event.checksum or '')[:16]}){cleared}"
        )
    if isinstance(event, Disconnected):
        retry = (
            "not reconnecting"
            if event.retry_in_ms is None
            else f"reconnecting in {event.retry_in_ms / 1000:.1f} s"
        )
        code = "" if event.code is None else f" {event.code}"
        reason = f" {event.reason}" if event.reason else ""
        return f"disconnected{code}{reason}; {retry}"
    return None


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, callback)


# --------------------------------------------------------------------------- serve


def _serve_host(args: argparse.Namespace) -> str:
    """The interface to bind: ``--host``, ``--lan`` (every IPv4 interface), or loopback."""
    if args.lan:
        return "0.0.0.0"
    return str(args.host or "127.0.0.1")


def _is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or is_loopback(host)


def _announcement(
    server: Server, session_id: str, *, exposed: bool, qr: bool, keys: bool
) -> list[str]:
    """The human block that says where to connect: URLs, warning, QR code, keys."""
    urls = server.urls(session_id)
    best = urls[0]
    local = _is_loopback_url(best)
    lines = [""]
    label = "Device URL:" if local else "Phones:"
    lines.append(f"  {label:<12} {best}" + ("" if local or not qr else "   (QR code below)"))
    for url in urls[1:]:
        lines.append(f"  {'Local:' if _is_loopback_url(url) else 'Network:':<12} {url}")
    lines.append(f"  {'Status page:':<12} {server.status_url(session_id)}")
    if exposed:
        lines.append(
            "  ! Exposed on the network: anyone who has this URL can connect; the session "
            "id is the key."
        )
    elif local:
        lines.append("  (this machine only: --lan lets phones on your network connect)")
    if qr and not local:
        lines.append("")
        lines.extend("  " + row for row in terminal_qr(best).splitlines())
    if keys:
        lines.append("")
        lines.append(f"  {KEYS_HELP}")
    lines.append("")
    return lines


async def _serve(args: argparse.Namespace, out: _Output) -> int:
    from lumora_fast.asyncio.server import DEFAULT_ORIGINS, serve  # noqa: PLC0415
    from lumora_fast.asyncio.watcher import SchemaWatcher  # noqa: PLC0415

    path = Path(args.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"lumora-fast serve: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    schema = None
    startup_error: ErrorEvent | None = None
    try:
        schema = parse_document(data)
    except ProtocolError as exc:
        startup_error = ErrorEvent(
            message=f"{path}: {exc}; starting without a schema", code=exc.code
        )
        out.event(startup_error, _describe)

    host = _serve_host(args)
    exposed = not (host == "localhost" or is_loopback(host))
    interactive = not out.json and is_interactive(sys.stdin, sys.stdout)
    show_qr = not out.json and not args.no_qr and sys.stdout.isatty()
    stop = asyncio.Event()
    _on_signals(stop.set)
    # The live session. Its schema is always one the server accepted: a save it refuses
    # leaves the previous one in place, and a renewed session starts from it.
    state: dict[str, Session] = {}
    device_lines = DeviceLines(out.stamped)
    update_lines = UpdateLines(out.stamped)

    def announce(event_name: str, session_id: str) -> None:
        urls = server.urls(session_id)
        checksum = server.protocol.sessions[session_id].checksum
        if out.json:
            out.record(
                event_name,
                url=urls[0],
                urls=urls,
                status_url=server.status_url(session_id),
                host=host,
                port=server.port,
                session=session_id,
                file=str(path),
                checksum=checksum,
                exposed=exposed,
            )
        else:
            for line in _announcement(
                server, session_id, exposed=exposed, qr=show_qr, keys=keys_on
            ):
                out.line(line)

    def open_session(schema: Schema | SchemaDocument | None) -> str:
        session_id = server.create_session(schema)
        state["session"] = server.protocol.sessions[session_id]
        return session_id

    def session_id() -> str:
        """The live session's id, renewed first if it expired (it cannot be joined again)."""
        current = state["session"]
        if current.id in server.protocol.sessions:
            return current.id
        try:
            renewed = open_session(current.schema)
        except ProtocolError as exc:  # not expected: the server took this schema before
            out.event(ErrorEvent(message=f"{path}: {exc}", code=exc.code), _describe)
            renewed = open_session(None)
        announce("session", renewed)
        return renewed

    def on_event(event: Event) -> None:
        if out.json:
            out.event(event, _describe)
        elif isinstance(event, DeviceConnected | DeviceDisconnected | Resync) or (
            isinstance(event, AckReceived) and not event.success
        ):
            device_lines.add(event)
        elif not isinstance(event, UpdateSent | AckReceived):  # UpdateLines has those
            out.event(event, _describe)
        if isinstance(event, SessionExpired) and event.session_id == state["session"].id:
            # Renew once the server is done expiring it, with a new URL to announce.
            asyncio.get_running_loop().call_soon(session_id)

    def push(preserve_state: bool) -> None:
        sid = session_id()
        row = server.push_full(sid, preserve_state=preserve_state)
        if row is None:
            out.stamped("no schema to push yet")

    def clear() -> None:
        out.line(CLEAR)
        announce("listening", session_id())

    origins = (*DEFAULT_ORIGINS, *args.allow_origin)
    try:
        protocol = ServerProtocol(session_timeout_ms=args.session_timeout * 1000.0)
        server = await serve(
            host=host,
            port=args.port,
            origins=origins,
            protocol=protocol,
            on_event=on_event,
            allowed_hosts=args.allow_host,
        )
    except OSError as exc:
        print(f"lumora-fast serve: cannot listen on {host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if not out.json:
        server.status.on_sent.append(update_lines.sent)
        server.status.on_settled.append(update_lines.settled)
    if startup_error is not None:
        server.report(startup_error)
    keys = Keys(
        sys.stdin.fileno() if interactive else -1,
        {
            "r": lambda: push(True),
            "R": lambda: push(False),
            "c": clear,
            "q": stop.set,
            "h": lambda: out.line(f"  {KEYS_HELP}"),
            "?": lambda: out.line(f"  {KEYS_HELP}"),
        },
    )
    keys_on = interactive and keys.start()
    try:
        try:
            first = open_session(schema)
        except ProtocolError as exc:
            error = ErrorEvent(message=f"{path}: {exc}", code=exc.code)
            out.event(error, _describe)
            first = open_session(None)
            server.report(error, first)  # devices that connect are told
        # Watch before saying where to connect: a save made right after is seen.
        watcher = SchemaWatcher(path, settle_ms=args.settle_ms, initial=data, documents=True)
        try:
            watcher.start()
        except OSError as exc:
            print(f"lumora-fast serve: cannot watch {path}: {exc}", file=sys.stderr)
            return 1
        if not out.json:
            out.line(f"lumora-fast {__version__}: serving {path} (Ctrl+C to stop)")
        announce("listening", first)

        async def watch() -> None:
            async for item in watcher:
                if isinstance(item, ErrorEvent):
                    out.event(item, _describe)
                    server.report(item, session_id())  # and every device is told
                else:
                    server.publish(session_id(), item)

        watching = asyncio.create_task(watch())
        await stop.wait()
        await watcher.close()
        await watching
        device_lines.flush()
    finally:
        keys.close()
        await server.close()
    return 0


# -------------------------------------------------------------------------- device


async def _device(args: argparse.Namespace, out: _Output) -> int:
    from lumora_fast.asyncio.device import Device  # noqa: PLC0415
    from lumora_fast.sessions.device import FATAL_CLOSE_CODES  # noqa: PLC0415

    applied = 0
    stopping: list[asyncio.Task[None]] = []  # a reference keeps the task alive

    def stop() -> None:
        if not stopping:
            stopping.append(asyncio.get_running_loop().create_task(device.close()))

    def on_event(event: Event) -> None:
        nonlocal applied
        out.event(event, _describe)
        if isinstance(event, UpdateApplied) and event.success:
            applied += 1
            if args.max_updates and applied >= args.max_updates:
                stop()

    try:
        device = Device(
            args.url,
            device_id=args.id,
            platform=args.platform,
            device_name=args.name,
            on_event=on_event,
            reconnect=not args.no_reconnect,
            origin=args.origin,
        )
    except ValueError as exc:
        print(f"lumora-fast device: {exc}", file=sys.stderr)
        return 2
    _on_signals(stop)
    code = await device.run()
    if stopping:
        await stopping[0]
        return 0
    return 1 if code is None or code in FATAL_CLOSE_CODES else 0


# ---------------------------------------------------------------------------- demo


async def _demo(args: argparse.Namespace, out: _Output) -> int:
    from lumora_fast.asyncio.demo import format_report, run_demo  # noqa: PLC0415

    report = await run_demo(
        devices=args.devices,
        edits=args.edits,
        seed=args.seed,
        progress=None if args.quiet else out.line,
    )
    out.line(format_report(report))
    return 0 if report.in_sync and not report.errors else 1


# ------------------------------------------------------------------ checksum, diff


def _read(path: str, parse: Callable[[bytes], Any], command: str) -> Any:
    try:
        return parse(Path(path).read_bytes())
    except OSError as exc:
        raise _Failure(
            f"lumora-fast {command}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    except ProtocolError as exc:
        raise _Failure(f"lumora-fast {command}: {path}: {exc}") from None


class _Failure(Exception):
    """A message for stderr and exit code 1."""


def _checksum(args: argparse.Namespace, out: _Output) -> int:
    schema = _read(args.file, parse_json, "checksum")
    try:
        out.line(calculate_checksum(schema, algorithm=args.algorithm))
    except ProtocolError as exc:
        raise _Failure(f"lumora-fast checksum: {args.file}: {exc}") from None
    return 0


def _diff(args: argparse.Namespace, out: _Output) -> int:
    old = _read(args.old, parse_schema, "diff")
    new = _read(args.new, parse_schema, "diff")
    if args.patch:
        from lumora_fast import _backend, calculate_schema_patch  # noqa: PLC0415

        patch = calculate_schema_patch(old, new)
        out.line(_backend.core.dumps(patch, pretty=args.pretty).decode())
        return 0
    delta = calculate_schema_delta(old, new)
    out.line(serialize_message(delta, pretty=args.pretty).decode())
    return 0


# ---------------------------------------------------------------------------- main


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=80)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535)")
    return port


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="lumora-fast", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve a schema file and push every change to connected devices",
        formatter_class=formatter,
        description=_wrap(
            "Serve the Lumora IR schema in PATH to devices and push an update (incremental "
            "when smaller, full otherwise, always with the resulting checksum) each time the "
            "file is saved. Prints the URL devices connect to. A half-written or invalid "
            "file is reported and never pushed."
        ),
        epilog=(
            "output with --json: one JSON object per line; the first is\n"
            '  {"event": "listening", "url": "ws://HOST:PORT/ws?session=ID", "urls": [...],\n'
            '   "status_url": "http://...", ...}\n'
            "then device_connected, device_disconnected, update_sent (type, bytes, devices,\n"
            "sequence), ack (latency_ms), update_acked, resync and error events.\n"
            "\n"
            "the same port answers GET /health, GET /status.json and the status page at /.\n"
            "\n"
            "keys, in a terminal: r push a full update to every device, R the same with\n"
            "preserveState false, c clear the screen, q quit."
        ),
    )
    serve.add_argument("path", metavar="PATH", help="schema JSON file to serve and watch")
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--host",
        default=None,
        help="interface to listen on (default: 127.0.0.1, this machine only). 0.0.0.0 "
        "(or :: for IPv6) listens on every interface: the URLs then name this machine's "
        "network addresses, the most likely reachable first",
    )
    where.add_argument(
        "--lan",
        action="store_true",
        help="let phones on your network connect: --host 0.0.0.0, with a QR code of the device URL",
    )
    serve.add_argument(
        "--port", type=_port, default=3000, help="TCP port (default: 3000; 0 picks a free one)"
    )
    serve.add_argument("--json", action="store_true", help="write one JSON event per line")
    serve.add_argument("--no-qr", action="store_true", help="do not draw the device URL's QR code")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer status requests (the page, /status.json) addressed to host NAME; "
        "IP addresses, localhost and this machine's name always are. Repeatable.",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept WebSocket connections from web pages at ORIGIN "
        "(e.g. http://192.168.1.20:8080); repeatable. Native apps send no Origin and "
        "local pages (localhost, 127.0.0.1, [::1]) are always accepted.",
    )
    serve.add_argument(
        "--session-timeout",
        type=_positive_float,
        default=SESSION_TIMEOUT_MS / 1000,
        metavar="SECONDS",
        help="a session with no activity this long expires; a new one starts on the "
        "current schema and its URL is printed (default: 28800, 8 hours)",
    )
    serve.add_argument(
        "--settle-ms",
        type=_non_negative,
        default=SETTLE_MS,
        metavar="MS",
        help="the file is read on every save; report it as invalid only once it stayed "
        f"invalid this long, so a save caught half-written is not (default: {SETTLE_MS})",
    )
    # Before 0.2 the watcher waited for a quiet period; the old flag now sets the above.
    serve.add_argument("--debounce-ms", dest="settle_ms", type=_non_negative, help=SUPPRESS)

    device = commands.add_parser(
        "device",
        formatter_class=formatter,
        help="run a headless device that applies and verifies every update",
        description=_wrap(
            "Join the session in URL like a phone would: apply every update, verify its "
            "checksum, ack it, and print one line per update. Reconnects with backoff "
            "(1 s doubling to 30 s) unless the server refuses the session."
        ),
    )
    device.add_argument("url", metavar="URL", help="device URL printed by `lumora-fast serve`")
    device.add_argument("--id", help="device id (default: random)")
    device.add_argument(
        "--platform", choices=("ios", "android", "web"), default="web", help="default: web"
    )
    device.add_argument("--name", help="device name shown by the server")
    device.add_argument("--json", action="store_true", help="write one JSON event per line")
    device.add_argument(
        "--max-updates",
        type=_positive,
        metavar="N",
        help="exit after N updates were applied",
    )
    device.add_argument(
        "--no-reconnect", action="store_true", help="exit when the connection is lost"
    )
    device.add_argument("--origin", help="send this Origin header (browsers do; apps do not)")

    demo = commands.add_parser(
        "demo",
        formatter_class=formatter,
        help="see it work: server, simulated devices and edits on built-in data",
        description=_wrap(
            "Start a server on a bundled todo-app schema, connect simulated devices over "
            "real WebSockets, publish a scripted series of edits (isolated ones, then a "
            "burst that is coalesced), and print a summary: updates, full vs incremental, "
            "bytes per update, edit-to-ack latency, and whether every device ended on the "
            "server's checksum (exit code 1 if not)."
        ),
    )
    demo.add_argument(
        "--devices", type=_positive, default=5, metavar="N", help="devices (default: 5)"
    )
    demo.add_argument(
        "--edits", type=_positive, default=30, metavar="N", help="edits (default: 30)"
    )
    demo.add_argument("--seed", type=int, default=1, help="edit script seed (default: 1)")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")

    checksum = commands.add_parser(
        "checksum",
        help="print a schema file's checksum",
        description="Print the checksum of a schema file, as devices verify it.",
        formatter_class=formatter,
    )
    checksum.add_argument("file", metavar="FILE", help="schema JSON file")
    checksum.add_argument(
        "--algorithm",
        choices=("sha256", "xxh3"),
        default="sha256",
        help="sha256 (the protocol's, default) or xxh3 (extension)",
    )

    diff = commands.add_parser(
        "diff",
        formatter_class=formatter,
        help="print the delta (or patch) between two schema files",
        description=_wrap(
            "Print, as JSON, the delta (added, modified, removed nodes and metadata "
            "changes) that turns OLD into NEW: what an incremental update carries. With "
            "--patch, the RFC 6902 JSON Patch a patch update carries instead."
        ),
    )
    diff.add_argument("old", metavar="OLD", help="schema JSON file before the change")
    diff.add_argument("new", metavar="NEW", help="schema JSON file after the change")
    diff.add_argument("--pretty", action="store_true", help="indent the JSON")
    diff.add_argument(
        "--patch",
        action="store_true",
        help="print the JSON Patch (RFC 6902 operations) instead of the node delta",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lumora-fast`` with ``argv`` (default: the process arguments); the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    out = _Output(sys.stdout, getattr(args, "json", False))
    try:
        if args.command == "checksum":
            return _checksum(args, out)
        if args.command == "diff":
            return _diff(args, out)
        runner = {"serve": _serve, "device": _device, "demo": _demo}[args.command]
        return asyncio.run(runner(args, out))
    except _Failure as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
