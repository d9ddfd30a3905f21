"""A headless device over WebSockets: :class:`Device` drives a :class:`DeviceSession`.

It connects, applies and verifies every update, acks, pings, and reconnects with
exponential backoff (1 s doubling to 30 s, with jitter) until it is closed or the server
refuses the session for good (close codes 4400, 4401, 4404, 4410, 4426, or an HTTP
error status on the handshake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin

from lumora_fast._version import __version__
from lumora_fast.constants import (
    HEARTBEAT_INTERVAL_MS,
    MAX_MESSAGE_BYTES,
    RECONNECT_INITIAL_MS,
    RECONNECT_MAX_MS,
)
from lumora_fast.sessions.device import DeviceSession
from lumora_fast.sessions.events import Disconnected, Event, Output, Send

__all__ = ["Device", "run_device"]

logger = logging.getLogger("lumora_fast.device")

EventHandler = Callable[[Event], None]


def _now() -> float:
    return time.time() * 1000.0


def session_id_of(url: str) -> str:
    """The ``session`` query parameter of a device URL.

    Raises:
        ValueError: The URL has none.
    """
    values = parse_qs(urlsplit(url).query).get("session")
    if not values or not values[0]:
        raise ValueError(f"{url!r} has no ?session=<id> query parameter")
    return values[0]


class Device:
    """A device that joins the session in ``url`` and stays in sync with it.

    Args:
        url: ``ws://HOST:PORT/ws?session=ID`` as printed by ``lumora-fast serve``.
        device_id: Defaults to a random ``device-<hex>``.
        platform: ``"ios"``, ``"android"`` or ``"web"``.
        device_name: Optional display name.
        on_event: Called with every event (:class:`~lumora_fast.sessions.events.Event`).
        reconnect: Reconnect after a connection loss (with backoff).
        origin: ``Origin`` header to send (none by default, like a native app).
        open_timeout: Seconds allowed for the opening handshake.
        ping_interval_ms, reconnect_initial_ms, reconnect_max_ms, jitter: See
            :class:`~lumora_fast.sessions.device.DeviceSession`.
    """

    def __init__(
        self,
        url: str,
        *,
        device_id: str | None = None,
        platform: str = "web",
        device_name: str | None = None,
        on_event: EventHandler | None = None,
        reconnect: bool = True,
        origin: str | None = None,
        open_timeout: float = 10.0,
        ping_interval_ms: float = HEARTBEAT_INTERVAL_MS,
        reconnect_initial_ms: float = RECONNECT_INITIAL_MS,
        reconnect_max_ms: float = RECONNECT_MAX_MS,
        jitter: float = 0.1,
    ) -> None:
        self.url = url
        self.session = DeviceSession(
            session_id_of(url),
            device_id or f"device-{uuid.uuid4().hex[:8]}",
            platform,
            device_name,
            ping_interval_ms=ping_interval_ms,
            reconnect_initial_ms=reconnect_initial_ms,
            reconnect_max_ms=reconnect_max_ms,
            jitter=jitter,
        )
        self.on_event = on_event
        self.reconnect = reconnect
        self.origin = origin
        self.open_timeout = open_timeout
        self.close_code: int | None = None
        """The last close code received from the server."""
        self.connections = 0
        """WebSocket connections opened so far."""
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []

    async def run(self) -> int | None:
        """Connect and stay in sync until :meth:`close` or a refusal.

        Returns:
            The last close code received (``None`` if there was none).
        """
        self._stopping.clear()
        while not self._stopping.is_set():
            reason, fatal = "", False
            try:
                async with connect(
                    self.url,
                    origin=None if self.origin is None else Origin(self.origin),
                    compression=None,
                    max_size=MAX_MESSAGE_BYTES,
                    open_timeout=self.open_timeout,
                    proxy=None,
                    user_agent_header=f"lumora-fast/{__version__} device",
                ) as ws:
                    self.connections += 1
                    self._ws = ws
                    try:
                        await self._pump(ws)
                    finally:
                        self._ws = None
                self.close_code, reason = ws.close_code, ws.close_reason or ""
            except InvalidStatus as exc:
                # The server answered the handshake with an HTTP error (404: wrong path,
                # 403: origin refused). Retrying cannot help with a 4xx.
                self.close_code, reason = None, str(exc)
                fatal = exc.response.status_code < 500
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.close_code, reason = None, str(exc) or type(exc).__name__
            retry = self.session.connection_lost(_now(), self.close_code)
            if fatal or not self.reconnect or self._stopping.is_set():
                retry = None
            self._emit([Disconnected(code=self.close_code, reason=reason, retry_in_ms=retry)])
            if retry is None:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(retry / 1000.0):
                    await self._stopping.wait()
        return self.close_code

    async def close(self) -> None:
        """Stop: close the connection (1000) and do not reconnect."""
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    async def wait_for(
        self, predicate: Callable[[Device], bool], timeout: float | None = None
    ) -> None:
        """Wait until ``predicate(self)`` holds; it is checked after every event.

        Raises:
            TimeoutError: Not within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate(self):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    async def _pump(self, ws: ClientConnection) -> None:
        session = self.session
        try:
            await self._act(ws, session.connect(_now()))
            while True:
                deadline = session.next_deadline()
                try:
                    async with asyncio.timeout(
                        None if deadline is None else max(0.0, (deadline - _now()) / 1000.0)
                    ):
                        data = await ws.recv(decode=False)
                except TimeoutError:
                    await self._act(ws, session.tick(_now()))
                    continue
                await self._act(ws, session.receive(data, _now()))
        except ConnectionClosed:
            return

    async def _act(self, ws: ClientConnection, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                await ws.send(output.data, text=True)
        self._emit(outputs)

    def _emit(self, outputs: list[Output]) -> None:
        if self.on_event is not None:
            for output in outputs:
                if isinstance(output, Event):
                    try:
                        self.on_event(output)
                    except Exception:
                        logger.exception("event handler failed on %r", output)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


async def run_device(url: str, **options: Any) -> int | None:
    """Run a :class:`Device` until it stops; its last close code.

    ``options`` are :class:`Device`'s keyword arguments.
    """
    return await Device(url, **options).run()
