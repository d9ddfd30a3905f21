"""The hot-reload server over WebSockets: :func:`serve` drives a :class:`ServerProtocol`.

One task per connection reads frames into the sans-I/O machine; one writer task per
connection drains that connection's own queue, so a slow device never delays the others;
one timer task calls ``tick()`` at ``next_deadline()``. An update is serialized once per
session and the same bytes are queued for every device. A device whose queue holds
``max_queue`` unsent updates has fallen behind: its queued updates are dropped and
replaced by one full update of the current schema (if it falls behind again before that
one is even picked up, it is closed with 1013 and reconnects into the current schema).

Nothing a device does can hold a socket open or stall the others:

* **Write deadline.** A send that makes no progress for ``write_timeout`` seconds (the
  device stopped reading: a suspended app, a phone that left the network) aborts the
  connection at the TCP level, which frees its buffers at once; the other devices are
  unaffected. A slow device that keeps reading is never cut off.
* **Inbound limits.** Devices only send small messages: one larger than
  ``protocol.max_inbound_bytes`` (1 MiB by default) closes the connection with 1009
  before it is parsed, and each connection's messages are parsed at most at
  ``max_inbound_rate`` bytes per second (beyond it, reading that socket pauses, which
  pushes back on the device through TCP), so one device cannot starve the event loop.
* **Keepalive.** The protocol's heartbeat alone decides that a device is gone: no
  message for ``heartbeat_interval_ms`` x ``heartbeat_missed_limit`` (90 s). WebSocket
  pings go out every heartbeat interval (30 s) to keep idle network paths open, but an
  unanswered one never drops a device, so a backgrounded phone that the protocol still
  counts as alive keeps its socket. A device that is gone and stopped reading as well
  is cut off by the write deadline.
* **Transport rules.** A text frame that is not UTF-8 closes with 1007 (RFC 6455); the
  opening handshake must finish within ``open_timeout`` seconds, and the ``connect``
  message must follow within the protocol's ``connect_timeout_ms``.

Security defaults: bind 127.0.0.1, upgrade on path ``/ws`` only, and refuse an
``Origin`` header that is not a local page or the server's own status page (403), which
stops a web page on another site from driving the server through the developer's
browser (cross-site WebSocket hijacking). Devices (native apps) send no ``Origin`` and
are accepted. The same port answers a few plain ``GET`` requests (``/health``,
``/status.json``, the status page; see :mod:`lumora_fast.asyncio.http`); any other path
is 404.

Bound to every interface (``0.0.0.0``, ``::``), the server names this machine's LAN
addresses in its device URLs (:meth:`Server.urls`, best first; :mod:`lumora_fast.lan`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server as _WebSocketServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as _websocket_serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Origin

from lumora_fast.lan import Family, is_unspecified, lan_addresses
from lumora_fast.messages import Schema
from lumora_fast.sessions.events import Close, ErrorEvent, Event, Output, Send
from lumora_fast.sessions.server import ServerProtocol

from . import http
from .status import StatusBoard, UpdateRecord

if TYPE_CHECKING:
    from lumora_fast._core import SchemaDocument

__all__ = [
    "DEFAULT_INBOUND_RATE",
    "DEFAULT_ORIGINS",
    "DEFAULT_WRITE_TIMEOUT",
    "TRY_AGAIN_LATER",
    "Server",
    "serve",
]

logger = logging.getLogger("lumora_fast.server")

DEFAULT_ORIGINS: tuple[str | re.Pattern[str] | None, ...] = (
    None,
    re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"),
)
"""Accepted ``Origin`` values: none at all (native apps), or a page served from this
machine (``http(s)://localhost``, ``127.0.0.1`` or ``[::1]``, any port)."""

_POSITION = re.compile(r"\bline (\d+),? column (\d+)")
"""Where a parse error happened, as the schema parser's messages say it."""

TRY_AGAIN_LATER = 1013
"""Close code for a device that fell behind twice in a row (it reconnects)."""

DEFAULT_WRITE_TIMEOUT = 30.0
"""Seconds a send may make no progress before the device's connection is aborted."""

DEFAULT_INBOUND_RATE = float(1024 * 1024)
"""Bytes per second of one device's messages parsed at most (devices send little)."""

EventHandler = Callable[[Event], None]

_ROUTES = frozenset({"/health", "/status.json"})
_TEXT = "text/plain; charset=utf-8"


if sys.platform == "linux":
    import fcntl

    _SIOCOUTQ: int | None = 0x5411
    """ioctl: bytes in a socket's send queue that the peer has not acknowledged."""
else:
    _SIOCOUTQ = None


def _now() -> float:
    return time.time() * 1000.0


def _text_frame(data: bytes) -> bytes:
    """``data`` as one unmasked, unfragmented WebSocket text frame (RFC 6455, 5.2): what
    websockets' ``send_text`` writes for a server with no extension negotiated."""
    size = len(data)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + data


class _Connection(ServerConnection):
    """websockets' server connection, which can hand whole messages to the server as
    they are parsed, in the read callback, instead of through ``recv()``.

    ``recv()`` wakes the connection's handler task for each message: the loop first
    runs the read callbacks of every socket that is ready, then the tasks. When an
    update's acks come back from a hundred devices, the first one is processed only
    after the hundredth was read. With :attr:`fast` set, each ack is processed as it
    is read. Anything unusual (a fragmented message, invalid UTF-8, a device over its
    inbound budget) turns the fast path off for good, and the handler's ``recv()``
    loop, which was waiting all along with nothing queued, takes over in order.
    """

    fast: Callable[[Frame], bool] | None = None
    """Takes a whole text or binary frame (returns True), or declines it (False)."""

    def process_event(self, event: Any) -> None:
        fast = self.fast
        if fast is not None and isinstance(event, Frame) and fast(event):
            return
        super().process_event(event)


class _Peer:
    """One connection's outgoing side: an ordered queue and the task that drains it.

    While a send is in progress, ``sending_since`` holds the loop time it started (and
    ``backlog_since`` the time a direct write left bytes in the transport's buffer), and
    ``progress_at`` / ``buffered`` the last time the bytes waiting shrank and
    its size then; the server's watchdog reads them (see :meth:`Server._watch_writes`).
    """

    def __init__(self, server: Server, ws: ServerConnection, connection_id: str) -> None:
        self.server = server
        self.ws = ws
        self.id = connection_id
        self.queue: deque[Send | Close] = deque()
        self.updates_queued = 0
        self.resync_queued = False
        self.closing = False
        self.aborted = False
        self.sending_since: float | None = None
        self.backlog_since: float | None = None
        self.progress_at = 0.0
        self.buffered = 0
        sock = ws.transport.get_extra_info("socket")
        self.fileno: int = sock.fileno() if sock is not None else -1
        self.wake = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._write())

    def send(self, out: Send) -> None:
        if self.closing:
            return
        if self._write_now(out):
            return
        if out.update is not None and self.updates_queued >= self.server.max_queue:
            self._fall_behind()
            return
        self.queue.append(out)
        if out.update is not None:
            self.updates_queued += 1
        self.wake.set()

    def _write_now(self, out: Send) -> bool:
        """Write ``out`` at once if the device keeps up: nothing queued, nothing being
        sent, and the transport's buffer empty (the kernel took everything so far).

        This skips waking the writer task, which costs more than the write itself when
        an update goes to a hundred devices; under back-pressure the writer task (and
        with it the write deadline) takes over. With no extension negotiated (the
        server offers none), the frame is the same bytes for every device: it is built
        once per message (:meth:`Server._framed`) instead of once per device, which on
        a 163 KB update to 100 devices saves 16 MB of copying. Otherwise it is written
        through websockets' sans-I/O protocol, as its own ``send`` does.
        """
        ws = self.ws
        transport = ws.transport
        protocol = ws.protocol
        if (
            self.queue
            or self.sending_since is not None
            or protocol.state is not State.OPEN
            or transport.is_closing()
            or transport.get_write_buffer_size()
        ):
            return False
        if protocol.extensions or protocol.expect_continuation_frame:
            protocol.send_text(out.data)
            for data in protocol.data_to_send():
                transport.write(data)
        else:
            transport.write(self.server._framed(out.data))
        if out.update is not None:
            self.resync_queued = False  # a resync's full update went out
        if transport.get_write_buffer_size():
            # The kernel did not take it all: the watchdog follows what is left.
            self.backlog_since = self.progress_at = asyncio.get_running_loop().time()
            self.buffered = 0
            self.server._writing()
        return True

    def waiting_since(self) -> float | None:
        """Since when bytes for this device have been waiting (``None``: none are)."""
        return self.sending_since if self.sending_since is not None else self.backlog_since

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.queue.append(Close(code=code, reason=reason, to=self.id))
        self.wake.set()

    def unsent(self) -> int:
        """Bytes written to this connection that the device has not taken yet.

        The transport's buffer, plus (on Linux) the socket's own send queue: a device
        reading slowly frees a few KB of a send buffer that may hold megabytes, which
        the transport's buffer alone would not show for a long time.
        """
        unsent = self.ws.transport.get_write_buffer_size()
        if _SIOCOUTQ is not None and self.fileno >= 0:
            with contextlib.suppress(OSError):
                queued = bytearray(4)
                fcntl.ioctl(self.fileno, _SIOCOUTQ, queued)
                unsent += int.from_bytes(queued, sys.byteorder)
        return unsent

    def abort(self, why: str) -> None:
        """Drop the connection at the TCP level now: no close handshake, buffers freed."""
        if self.aborted:
            return
        self.aborted = self.closing = True
        self.queue.clear()
        self.server._dispatch(self.server.protocol.connection_lost(self.id, _now(), why))
        self.ws.transport.abort()

    def _fall_behind(self) -> None:
        """Replace the queued updates by one full update, or give up on the device."""
        if self.resync_queued:
            # It has not even started on the previous full update: it cannot keep up,
            # and will hardly read a close frame either; do not wait long for it.
            self.queue.clear()
            self.ws.close_timeout = 1.0
            self.close(TRY_AGAIN_LATER, "Device fell behind")
            self.server._dispatch(
                self.server.protocol.connection_lost(self.id, _now(), "fell behind")
            )
            return
        self.queue = deque(
            item for item in self.queue if not (isinstance(item, Send) and item.update is not None)
        )
        self.updates_queued = 0
        self.resync_queued = True
        self.server._dispatch(self.server.protocol.resync(self.id, _now(), reason="behind"))

    async def _write(self) -> None:
        ws = self.ws
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self.queue:
                    self.wake.clear()
                    await self.wake.wait()
                item = self.queue.popleft()
                self.sending_since = self.progress_at = loop.time()
                self.buffered = 0
                self.server._writing()
                if isinstance(item, Close):
                    await ws.close(item.code, item.reason)
                    return
                if item.update is not None:
                    # After a resync the first queued update is its full update.
                    self.updates_queued -= 1
                    self.resync_queued = False
                await ws.send(item.data, text=True)
                # Drop the reference before waiting for the next one: an idle device
                # would otherwise keep its own `connected` message (the whole schema).
                del item
                self.sending_since = None
                if self.aborted:
                    return
        except ConnectionClosed:
            return
        finally:
            self.sending_since = None


class Server:
    """A hot-reload server listening for devices.

    Use ``async with serve(...) as server:`` (or ``server = await serve(...)`` and later
    ``await server.close()``).

    Args:
        host: Interface to bind (127.0.0.1 by default: this machine only).
        port: TCP port; 0 picks a free one (see :attr:`port`).
        path: The WebSocket path devices connect to.
        origins: Accepted ``Origin`` header values (exact strings, compiled patterns,
            ``None`` for no header). Defaults to :data:`DEFAULT_ORIGINS`.
        protocol: The sans-I/O server to drive; pass one to change its limits and
            intervals. A default :class:`ServerProtocol` otherwise.
        on_event: Called with every :class:`~lumora_fast.sessions.events.Event`.
        max_queue: Updates queued for one device before it counts as fallen behind.
        write_timeout: Seconds a send to one device may go without progress (its
            socket accepting no bytes) before that connection is aborted.
        max_inbound_rate: Bytes per second of one device's messages parsed at most
            (bursts up to ``protocol.max_inbound_bytes``); beyond it, reading that
            device's socket pauses.
        open_timeout: Seconds allowed for a device's opening handshake.
        http: Answer ``/health``, ``/status.json``, the status page and its live view
            on the same port (see :mod:`lumora_fast.asyncio.http`); False: 404.
        allowed_hosts: Host names accepted in the ``Host`` header of those requests,
            besides IP literals, ``localhost`` and this machine's name.

    Devices' own messages are limited to ``protocol.max_inbound_bytes`` (see
    :class:`~lumora_fast.sessions.server.ServerProtocol`); a larger one closes the
    connection with 1009. WebSocket keepalive pings go out every
    ``protocol.heartbeat_interval_ms``; liveness is the protocol's heartbeat (a device
    silent for ``protocol.heartbeat_timeout_ms`` is dropped), never a missing pong.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/ws",
        origins: Sequence[str | re.Pattern[str] | None] | None = None,
        protocol: ServerProtocol | None = None,
        on_event: EventHandler | None = None,
        max_queue: int = 8,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        max_inbound_rate: float = DEFAULT_INBOUND_RATE,
        open_timeout: float = 10.0,
        http: bool = True,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if write_timeout <= 0 or max_inbound_rate <= 0 or open_timeout <= 0:
            raise ValueError("write_timeout, max_inbound_rate and open_timeout must be > 0")
        self.host = host
        self.path = path
        self.origins: tuple[Origin | re.Pattern[str] | None, ...] = tuple(
            Origin(o) if isinstance(o, str) else o
            for o in (DEFAULT_ORIGINS if origins is None else origins)
        )
        self.protocol = protocol if protocol is not None else ServerProtocol()
        self.on_event = on_event
        self.max_queue = max_queue
        self.write_timeout = write_timeout
        self.max_inbound_rate = max_inbound_rate
        self.open_timeout = open_timeout
        self.http = http
        self.allowed_hosts = tuple(allowed_hosts)
        self.status = StatusBoard(self)
        """What the status page shows: updates, devices' latencies, errors."""
        self._hosts: tuple[float, list[str]] | None = None
        self._requested_port = port
        self._port: int | None = None
        self._ws_server: _WebSocketServer | None = None
        self._peers: dict[str, _Peer] = {}
        self._frame: tuple[bytes, bytes] = (b"", _text_frame(b""))
        self._timer: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sends_started = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Server:
        """Bind and start accepting devices (idempotent)."""
        if self._ws_server is None:
            protocol = self.protocol
            self._ws_server = await _websocket_serve(
                self._handler,
                self.host,
                self._requested_port,
                process_request=self._process_request,
                # Checked in _process_request, which also knows the server's own page.
                origins=None,
                # Refused before it is parsed, with close code 1009.
                max_size=protocol.max_inbound_bytes,
                # Frames buffered per device before its socket stops being read: devices
                # send a ping or an ack at a time, and each may be max_size bytes.
                max_queue=4,
                # The protocol advertises compression: false; compressing a large
                # update once per device would also cost more than the whole fan-out.
                compression=None,
                # The protocol's heartbeat alone decides when a device is gone (90 s
                # without a message): a ping every heartbeat interval keeps idle paths
                # (NAT, Wi-Fi power save) open, and a missing pong never drops a device
                # the heartbeat still counts as alive, such as a backgrounded phone.
                ping_interval=protocol.heartbeat_interval_ms / 1000.0,
                ping_timeout=None,
                open_timeout=self.open_timeout,
                logger=logging.getLogger("lumora_fast.server.websockets"),
                create_connection=_Connection,
            )
            self._port = self._ws_server.sockets[0].getsockname()[1]
            loop = asyncio.get_running_loop()
            self._timer = loop.create_task(self._run_timer())
            self._watchdog = loop.create_task(self._watch_writes())
        return self

    async def close(self) -> None:
        """Close every connection (1001) and stop listening."""
        if self._ws_server is None:
            return
        for task in (self._timer, self._watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Connections stuck on a device that stopped reading would hold close() up
        # for their whole close timeout: they get nothing more, so drop them now.
        for peer in list(self._peers.values()):
            if peer.waiting_since() is not None:
                peer.abort("server closed")
        self._ws_server.close()
        await self._ws_server.wait_closed()
        self._ws_server = None

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, Server]:
        return self.start().__await__()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    def url(self, session_id: str) -> str:
        """The URL a device uses to join ``session_id``: the best of :meth:`urls`."""
        return self.urls(session_id)[0]

    def urls(self, session_id: str) -> list[str]:
        """Every URL a device can join ``session_id`` at, the most likely reachable first.

        Bound to one address or name, that one. Bound to every interface (``0.0.0.0``,
        ``::``), this machine's addresses of the bound IP versions, best first (see
        :func:`lumora_fast.lan.rank`), then loopback.
        """
        return [f"ws://{host}:{self.port}{self.path}?session={session_id}" for host in self.hosts()]

    def hosts(self) -> list[str]:
        """The hosts of :meth:`urls` (IPv6 in brackets); rechecked every few seconds."""
        loop_time = time.monotonic()
        if self._hosts is not None and loop_time - self._hosts[0] < 2.0:
            return self._hosts[1]
        if not is_unspecified(self.host):
            hosts = [f"[{self.host}]" if ":" in self.host else self.host]
        else:
            families = self._families()
            hosts = [address.host() for address in lan_addresses(families)]
            hosts += [h for f, h in ((4, "127.0.0.1"), (6, "[::1]")) if f in families]
        self._hosts = (loop_time, hosts)
        return hosts

    def _families(self) -> list[Family]:
        """The IP versions the server listens on."""
        sockets = self._ws_server.sockets if self._ws_server is not None else ()
        found = {6 if sock.family == socket.AF_INET6 else 4 for sock in sockets}
        return [f for f in (4, 6) if f in found] or [4]

    def status_url(self, session_id: str | None = None) -> str:
        """The status page's URL: on loopback when the server listens there (no key
        needed), else on the bound address with ``?session=`` (the key)."""
        hosts = self.hosts()
        local = [h for h in hosts if h in ("127.0.0.1", "[::1]", "localhost")]
        if local:
            return f"http://{local[0]}:{self.port}/"
        query = "" if session_id is None else f"?session={session_id}"
        return f"http://{hosts[0]}:{self.port}/{query}"

    # ------------------------------------------------------------------- sessions

    def create_session(self, schema: Schema | SchemaDocument | None = None) -> str:
        """Start a session (with the schema devices get on ``connected``); its id.

        Raises:
            ProtocolError: The schema cannot be used (see
                :meth:`ServerProtocol.create_session`).
        """
        session = self.protocol.create_session(_now(), schema)
        self._wake.set()
        self.status.touch()
        return session.id

    def publish(self, session_id: str, schema: Schema | SchemaDocument) -> None:
        """Push a new schema to every device of a session.

        Runs the diff in the calling (event loop) thread; the sends happen in the
        background. See :meth:`ServerProtocol.publish` for coalescing.

        Raises:
            KeyError: No such live session.
        """
        self._dispatch(self.protocol.publish(session_id, schema, _now()))
        self._wake.set()

    def push_full(self, session_id: str, *, preserve_state: bool = True) -> UpdateRecord | None:
        """Send every device of a session a full update of its current schema, now.

        What a developer asks for when a device looks wrong: the update carries the
        current sequence number and checksum, and ``preserveState`` as given (False
        makes the devices reset their UI state). Its acks are followed in
        :attr:`status` (the returned record); the protocol's accounting is untouched,
        since every device already owes or has given the ack of this sequence number.

        Returns:
            The record of the push, or ``None`` when the session has no schema yet.

        Raises:
            KeyError: No such live session.
        """
        session = self.protocol.sessions[session_id]
        sequence = session.sequence
        data = self.protocol.full_update(session_id, _now(), preserve_state=preserve_state)
        if data is None:
            return None
        devices = {cid for cid in session.devices if cid in self._peers}
        for connection_id in devices:
            self._peers[connection_id].send(Send(data=data, to=connection_id, update=sequence))
        return self.status.pushed(
            session_id, sequence, len(data), devices, preserve_state=preserve_state
        )

    def report(self, error: ErrorEvent, session_id: str | None = None) -> None:
        """An error that happened outside the protocol: a save refused before publish.

        It is shown on the status page. With ``session_id``, that session's devices are
        sent it too (``SCHEMA_VALIDATION_FAILED``, with the line and column when the
        message names them), and so is every device that connects before the next
        accepted schema; see :meth:`ServerProtocol.report_schema_error`.
        """
        self.status.report(error)
        if session_id is not None and session_id in self.protocol.sessions:
            found = _POSITION.search(error.message)
            line, column = (int(found[1]), int(found[2])) if found else (None, None)
            outputs = self.protocol.report_schema_error(
                session_id, error.message, _now(), line=line, column=column
            )
            self._dispatch(outputs)

    def close_session(self, session_id: str) -> None:
        """End a session; its devices are closed with 1000.

        Raises:
            KeyError: No such live session.
        """
        self._dispatch(self.protocol.close_session(session_id, _now()))

    # ------------------------------------------------------------------ internals

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        sessions = query.get("session")
        live_view = "status" in query
        route = parts.path
        if route == self.path:
            if live_view and not self.http:
                return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        elif not self.http or (route not in http.ASSETS and route not in _ROUTES):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if route == "/health":
            return http.respond(
                connection.respond(HTTPStatus.OK, ""), HTTPStatus.OK, b"ok\n", _TEXT
            )
        check = http.check_request(
            request,
            peer=connection.remote_address,
            origins=self.origins,
            allowed_hosts=self.allowed_hosts,
            session=sessions[0] if sessions else None,
            sessions=self.protocol.sessions,
            # Devices may dial any name of this machine; the page and its data may not.
            check_host=route != self.path or live_view,
        )
        if check.refusal is not None:
            return connection.respond(*check.refusal)
        if route == self.path and not live_view:
            return None  # a device: upgrade
        if (live_view or route == "/status.json") and not check.trusted:
            return connection.respond(
                HTTPStatus.FORBIDDEN,
                "The status shows the session's URL, which is its key: ask from this "
                "machine, or add ?session=ID (the session id in the device URL).\n",
            )
        if live_view:
            return None  # the status page's live view: upgrade
        if route == "/status.json":
            body = json.dumps(
                self.status.snapshot(sessions[0] if sessions else None), separators=(",", ":")
            )
            return http.respond(
                connection.respond(HTTPStatus.OK, ""),
                HTTPStatus.OK,
                body.encode(),
                "application/json",
            )
        found = http.asset(route)
        assert found is not None  # route is in http.ASSETS
        body_bytes, content_type = found
        return http.respond(
            connection.respond(HTTPStatus.OK, ""), HTTPStatus.OK, body_bytes, content_type
        )

    async def _serve_status(self, ws: ServerConnection, session_id: str | None) -> None:
        """The status page's live view: a snapshot now, then one per change (10/s at
        most). The page sends nothing; its messages are read and ignored."""
        board = self.status

        async def pump() -> None:
            version = -1
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await board.changed(version)
                    version = board.version
                    snapshot = board.snapshot(session_id, qr=True)
                    await ws.send(json.dumps(snapshot, separators=(",", ":")))
                    await asyncio.sleep(0.1)

        task = asyncio.get_running_loop().create_task(pump())
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # set once the handshake is done
        query = parse_qs(urlsplit(ws.request.path).query)
        values = query.get("session")
        if "status" in query:
            await self._serve_status(ws, values[0] if values else None)
            return
        connection_id, outputs = self.protocol.open(values[0] if values else None, _now())
        peer = _Peer(self, ws, connection_id)
        self._peers[connection_id] = peer
        self._wake.set()
        self._dispatch(outputs)
        loop = asyncio.get_running_loop()
        rate = self.max_inbound_rate
        burst = float(max(self.protocol.max_inbound_bytes, 1))
        # A token bucket over the bytes this device makes us parse: past it, wait
        # before reading on (the device's socket backs up, not the loop).
        bucket = [burst, loop.time()]  # allowance, when it was last refilled

        def within_budget(size: int) -> bool:
            now = loop.time()
            allowance = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[:] = [allowance, now]
            if size > allowance:
                return False
            bucket[0] = allowance - size
            return True

        connection = ws if isinstance(ws, _Connection) else None

        def fast(frame: Frame) -> bool:
            if frame.opcode not in (Opcode.TEXT, Opcode.BINARY):
                return False  # control frames: websockets' own
            raw = bytes(frame.data)
            data: str | bytes = raw
            try:
                if not frame.fin or not within_budget(len(raw)):
                    raise ValueError
                if frame.opcode is Opcode.TEXT:
                    data = raw.decode()
            except ValueError:  # UnicodeDecodeError too: recv() closes with 1007
                if connection is not None:
                    connection.fast = None
                return False
            try:
                self._dispatch(self.protocol.receive(connection_id, data, _now()))
            except Exception:
                logger.exception("error handling a message from %s", connection_id)
                peer.abort("internal error")
            return True

        if connection is not None:
            connection.fast = fast
        try:
            while True:
                # Text frames are decoded here: one that is not UTF-8 closes with 1007.
                data = await ws.recv()
                size = len(data)
                if not within_budget(size):
                    await asyncio.sleep((size - bucket[0]) / rate)
                    bucket[:] = [0.0, loop.time()]
                self._dispatch(self.protocol.receive(connection_id, data, _now()))
        except ConnectionClosed:
            pass
        finally:
            # Let the writer finish a close it started (error message, then close code);
            # an aborted connection has nothing left to write.
            if not peer.closing or peer.aborted:
                peer.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await peer.task
            del self._peers[connection_id]
            self._dispatch(self.protocol.connection_lost(connection_id, _now()))

    def _framed(self, data: bytes) -> bytes:
        """``data`` as a text frame; the last one is kept, since a fan-out hands the same
        bytes object to every device in turn."""
        last, frame = self._frame
        if last is not data:
            frame = _text_frame(data)
            self._frame = (data, frame)
        return frame

    def _dispatch(self, outputs: list[Output]) -> None:
        for output in outputs:
            self._handle(output)
        if self._frame[0]:
            self._frame = (b"", self._frame[1][:2])  # do not keep a big frame alive

    def _handle(self, output: Output) -> None:
        if isinstance(output, Send):
            peer = self._peers.get(output.to or "")
            if peer is not None:
                peer.send(output)
        elif isinstance(output, Close):
            peer = self._peers.get(output.to or "")
            if peer is not None:
                peer.close(output.code, output.reason)
        else:
            try:
                self.status.record(output)
            except Exception:
                logger.exception("status board failed on %r", output)
            if self.on_event is not None:
                try:
                    self.on_event(output)
                except Exception:
                    logger.exception("event handler failed on %r", output)

    def _writing(self) -> None:
        """A peer started a send: make sure the watchdog is watching."""
        self._sends_started.set()

    async def _watch_writes(self) -> None:
        """Abort connections whose send has made no progress for ``write_timeout`` s.

        Progress is the unsent bytes shrinking (:meth:`_Peer.unsent`): the device took
        some. The check runs a few times per ``write_timeout`` while sends are under
        way, and sleeps otherwise (an idle server does not wake up).
        """
        loop = asyncio.get_running_loop()
        interval = min(1.0, self.write_timeout / 4)
        while True:
            self._sends_started.clear()
            busy = [p for p in self._peers.values() if p.waiting_since() is not None]
            if not busy:
                await self._sends_started.wait()
                continue
            await asyncio.sleep(interval)
            now = loop.time()
            for peer in busy:
                if peer.aborted:
                    continue
                if peer.backlog_since is not None and not peer.ws.transport.get_write_buffer_size():
                    peer.backlog_since = None  # the kernel took the rest
                if peer.waiting_since() is None:
                    continue
                buffered = peer.unsent()
                if buffered < peer.buffered:
                    peer.progress_at = now
                elif now - peer.progress_at >= self.write_timeout:
                    logger.warning(
                        "connection %s: no bytes taken for %.1f s, %d waiting; aborting",
                        peer.id,
                        now - peer.progress_at,
                        buffered,
                    )
                    peer.abort("write timeout")
                    continue
                peer.buffered = buffered

    async def _run_timer(self) -> None:
        while True:
            self._wake.clear()
            deadline = self.protocol.next_deadline()
            if deadline is None:
                await self._wake.wait()
            else:
                delay = (deadline - _now()) / 1000.0
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._wake.wait()
            self._dispatch(self.protocol.tick(_now()))


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/ws",
    origins: Sequence[str | re.Pattern[str] | None] | None = None,
    protocol: ServerProtocol | None = None,
    on_event: EventHandler | None = None,
    max_queue: int = 8,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    max_inbound_rate: float = DEFAULT_INBOUND_RATE,
    open_timeout: float = 10.0,
    http: bool = True,
    allowed_hosts: Sequence[str] = (),
) -> Server:
    """Create a hot-reload server; ``await`` it or use it with ``async with``.

    Example::

        async with serve(port=0) as server:
            session_id = server.create_session(schema)
            print(server.url(session_id))
            server.publish(session_id, new_schema)

    The arguments are those of :class:`Server`.
    """
    return Server(
        host=host,
        port=port,
        path=path,
        origins=origins,
        protocol=protocol,
        on_event=on_event,
        max_queue=max_queue,
        write_timeout=write_timeout,
        max_inbound_rate=max_inbound_rate,
        open_timeout=open_timeout,
        http=http,
        allowed_hosts=allowed_hosts,
    )
