"""Loopback helpers: run a coroutine test with a deadline, raw clients, event capture."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect

from lumora_fast.asyncio import Server, serve
from lumora_fast.sessions import Event, ServerProtocol

E = TypeVar("E")


def run(
    timeout: float = 10.0,
) -> Callable[[Callable[..., Coroutine[Any, Any, None]]], Callable[..., None]]:
    """Run an ``async def`` test in a fresh event loop, failing after ``timeout`` seconds."""

    def decorate(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
        @functools.wraps(test)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            async def main() -> None:
                async with asyncio.timeout(timeout):
                    await test(*args, **kwargs)

            asyncio.run(main())

        return wrapper

    return decorate


class Recorder:
    """Collects events and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, kind: type[E], predicate: Callable[[E], bool] = lambda e: True) -> E:
        while True:
            for event in self.events:
                if isinstance(event, kind) and predicate(event):
                    return event
            self._changed.clear()
            await self._changed.wait()


@asynccontextmanager
async def running(
    schema: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[tuple[Server, str, Recorder]]:
    """A started server with one session; yields (server, session id, recorder)."""
    recorder = Recorder()
    protocol_options = {
        key: options.pop(key)
        for key in list(options)
        if key in inspect.signature(ServerProtocol).parameters
    }
    async with serve(
        protocol=ServerProtocol(**protocol_options), on_event=recorder, **options
    ) as server:
        yield server, server.create_session(schema), recorder


def message(session_id: str, kind: str, payload: dict[str, Any] | None = None) -> str:
    """A protocol message written by hand (not with lumora_fast's builders)."""
    data: dict[str, Any] = {
        "type": kind,
        "sessionId": session_id,
        "timestamp": 1_700_000_000_000,
        "version": "1.0.0",
    }
    if payload is not None:
        data["payload"] = payload
    return json.dumps(data)


def connect_message(session_id: str, version: str = "1.0.0", device_id: str = "raw") -> str:
    payload = {"deviceId": device_id, "platform": "web", "clientVersion": version}
    return message(session_id, "connect", payload)


async def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next message, parsed with the standard library's json."""
    async with asyncio.timeout(timeout):
        data: dict[str, Any] = json.loads(await ws.recv())
        return data


@asynccontextmanager
async def raw_device(url: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """A raw websockets client that has sent connect and read connected."""
    session_id = url.rsplit("=", 1)[1]
    async with connect(url, compression=None, proxy=None, **options) as ws:
        await ws.send(connect_message(session_id))
        assert (await receive(ws))["type"] == "connected"
        yield ws
