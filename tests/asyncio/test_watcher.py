"""watch_schema on a real directory: debounced, latest wins, invalid files never yielded."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from lumora_fast.asyncio import read_schema, watch_schema
from lumora_fast.sessions import ErrorEvent
from tests.asyncio._helpers import run
from tests.sessions._helpers import make_schema


def _dump(schema: dict[str, Any]) -> bytes:
    return json.dumps(schema).encode()


class Watch:
    def __init__(self, path: Path, initial: bytes) -> None:
        self.stop = asyncio.Event()
        self.items: asyncio.Queue[dict[str, Any] | ErrorEvent] = asyncio.Queue()
        self.task = asyncio.create_task(self._collect(path, initial))

    async def _collect(self, path: Path, initial: bytes) -> None:
        async for item in watch_schema(path, stop_event=self.stop, initial=initial):
            await self.items.put(item)

    async def next(self, timeout: float = 3.0) -> dict[str, Any] | ErrorEvent:
        async with asyncio.timeout(timeout):
            return await self.items.get()

    async def close(self) -> None:
        self.stop.set()
        await self.task


@run(timeout=30)
async def test_watch_schema(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    first = make_schema(text="first")
    path.write_bytes(_dump(first))
    assert read_schema(path) == first
    watch = Watch(path, path.read_bytes())
    try:
        # Wait until the watcher is live: keep saving a new version until it shows up.
        second = make_schema(text="second")
        for _ in range(30):
            path.write_bytes(_dump(second))
            try:
                assert await watch.next(timeout=0.3) == second
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the watcher never saw a change")

        # Half-written: reported, never yielded as a schema.
        path.write_bytes(_dump(second)[:50])
        item = await watch.next()
        assert isinstance(item, ErrorEvent)
        assert "not valid JSON" in item.message
        path.write_text('{"nodes": []}')
        item = await watch.next()
        assert isinstance(item, ErrorEvent)
        assert "metadata" in item.message

        # Back to the content already yielded: nothing new to push.
        path.write_bytes(_dump(second))
        other = tmp_path / "other.json"
        other.write_bytes(b"{}")  # a sibling file is not watched
        try:
            unexpected = await watch.next(timeout=0.5)
        except TimeoutError:
            pass
        else:
            raise AssertionError(f"unexpected {unexpected!r}")

        # Saved by writing a temporary file and renaming it over the original.
        third = make_schema(text="third")
        temporary = tmp_path / ".app.json.tmp"
        temporary.write_bytes(_dump(third))
        os.replace(temporary, path)
        assert await watch.next() == third

        # A burst of saves: the last one wins.
        versions = [make_schema(text=f"burst {i}") for i in range(5)]
        for version in versions:
            path.write_bytes(_dump(version))
        seen = [await watch.next()]
        while seen[-1] != versions[-1]:
            seen.append(await watch.next())
        assert len(seen) <= 2
    finally:
        await watch.close()
