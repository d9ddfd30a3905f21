"""The schema watcher on real files in a temporary directory, every test bounded in time.

Saves are read on the first filesystem event; invalid content is never yielded, and is
reported only once the file stayed invalid for ``settle_ms``. Every test runs with both
sources of events: inotify read on the event loop, and watchdog's observer threads (what
macOS and Windows use).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest

from lumora_fast.asyncio import SchemaWatcher, read_schema, watch_schema
from lumora_fast.sessions import ErrorEvent
from tests.asyncio._helpers import run
from tests.sessions._helpers import make_schema

Item = dict[str, Any] | ErrorEvent


@pytest.fixture(autouse=True, params=["inotify", "watchdog"])
def notifier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every watcher of the test (``watch_schema``'s too) uses this source of events."""
    defaults = SchemaWatcher.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "notifier", request.param)
    return str(request.param)


def _dump(schema: dict[str, Any]) -> bytes:
    return json.dumps(schema).encode()


class Watch:
    """A started :class:`SchemaWatcher` whose items are collected in a queue."""

    def __init__(self, path: Path, initial: bytes, settle_ms: float = 150) -> None:
        self.watcher = SchemaWatcher(path, initial=initial, settle_ms=settle_ms).start()
        self.items: asyncio.Queue[Item] = asyncio.Queue()
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for item in self.watcher:
            await self.items.put(item)

    async def next(self, timeout: float = 3.0) -> Item:
        async with asyncio.timeout(timeout):
            return await self.items.get()

    async def nothing(self, within: float = 0.5) -> None:
        try:
            unexpected = await self.next(timeout=within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {unexpected!r}")

    async def close(self) -> None:
        await self.watcher.close()
        await asyncio.wait_for(self.task, 5)


def _replace(path: Path, data: bytes) -> None:
    """Save as most editors do: write a temporary file, rename it over the original."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


async def _started(tmp_path: Path, settle_ms: float = 150) -> tuple[Path, Watch]:
    path = tmp_path / "app.json"
    path.write_bytes(_dump(make_schema(text="first")))
    return path, Watch(path, path.read_bytes(), settle_ms=settle_ms)


@run(timeout=20)
async def test_a_renamed_save_is_read_at_once(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        assert read_schema(path) == make_schema(text="first")
        latencies = []
        for i in range(5):
            version = make_schema(text=f"v{i}")
            started = time.perf_counter()
            _replace(path, _dump(version))
            assert await watch.next() == version
            latencies.append(time.perf_counter() - started)
        # No quiet period: well under the old 100 ms debounce even on a busy machine.
        assert sorted(latencies)[2] < 0.05, latencies
    finally:
        await watch.close()


@run(timeout=20)
async def test_in_place_saves_and_identical_content(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        second = make_schema(text="second")
        path.write_bytes(_dump(second))
        assert await watch.next() == second
        # The same content again, and a sibling file: nothing to push.
        path.write_bytes(_dump(second))
        (tmp_path / "other.json").write_bytes(b"{}")
        await watch.nothing()
    finally:
        await watch.close()


@run(timeout=20)
async def test_delete_and_create_again(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        path.unlink()
        recreated = make_schema(text="recreated")
        path.write_bytes(_dump(recreated))
        assert await watch.next() == recreated
        # Gone for longer than settle_ms: reported once, then back.
        path.unlink()
        error = await watch.next()
        assert isinstance(error, ErrorEvent)
        assert "cannot read it" in error.message
        await watch.nothing(0.4)
        again = make_schema(text="again")
        path.write_bytes(_dump(again))
        assert await watch.next() == again
    finally:
        await watch.close()


@run(timeout=20)
async def test_invalid_content_is_reported_once_it_settles_and_never_yielded(
    tmp_path: Path,
) -> None:
    path, watch = await _started(tmp_path, settle_ms=200)
    try:
        started = time.perf_counter()
        path.write_bytes(_dump(make_schema(text="cut"))[:50])
        error = await watch.next()
        assert isinstance(error, ErrorEvent)
        assert time.perf_counter() - started >= 0.2  # it waited for the writes to stop
        assert "not valid JSON" in error.message
        assert error.code == "SCHEMA_VALIDATION_FAILED"
        await watch.nothing(0.4)  # reported once

        path.write_text('{"nodes": []}')
        error = await watch.next()
        assert isinstance(error, ErrorEvent)
        assert "metadata" in error.message

        fixed = make_schema(text="fixed")
        path.write_bytes(_dump(fixed))
        assert await watch.next() == fixed
    finally:
        await watch.close()


@run(timeout=30)
async def test_big_file_written_in_chunks_in_place_flashes_no_error(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        for round_ in range(2):
            big = make_schema(count=9000, text=f"round {round_} " + "y" * 400)
            data = _dump(big)
            assert len(data) > 4_500_000
            with path.open("wb") as file:  # in place, no rename: readers see it grow
                for start in range(0, len(data), 64 * 1024):
                    file.write(data[start : start + 64 * 1024])
                    file.flush()
                    await asyncio.sleep(0.002)
            item = await watch.next(timeout=10)
            assert item == big, item if isinstance(item, ErrorEvent) else "wrong content"
        await watch.nothing(0.5)
    finally:
        await watch.close()


@run(timeout=30)
async def test_a_burst_of_saves_ends_on_the_final_content(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        versions = [make_schema(count=200, text=f"burst {i}") for i in range(30)]
        started = time.perf_counter()
        first_seen = None
        for version in versions:
            _replace(path, _dump(version))
            await asyncio.sleep(1 / 30)
            if first_seen is None and not watch.items.empty():
                first_seen = time.perf_counter() - started
        seen = []
        while not seen or seen[-1] != versions[-1]:
            item = await watch.next()
            assert not isinstance(item, ErrorEvent), item
            seen.append(item)
        assert first_seen is not None
        assert first_seen < 0.1  # the first save went out at once, not after the burst
        assert all(item in versions for item in seen)
        await watch.nothing(0.3)
    finally:
        await watch.close()


@run(timeout=20)
async def test_a_file_too_deep_is_reported_and_the_watcher_goes_on(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        path.write_bytes(b"[" * 5000 + b"]" * 5000)
        error = await watch.next()
        assert isinstance(error, ErrorEvent)
        assert "nesting depth exceeds 512" in error.message
        valid = make_schema(text="valid")
        _replace(path, _dump(valid))
        assert await watch.next() == valid
    finally:
        await watch.close()


@run(timeout=20)
async def test_an_idle_watcher_uses_no_cpu(tmp_path: Path) -> None:
    path, watch = await _started(tmp_path)
    try:
        await asyncio.sleep(0.2)
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.sleep(2.0)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        assert cpu / wall < 0.01, f"{100 * cpu / wall:.2f}% of a core"
        changed = make_schema(text="still awake")
        _replace(path, _dump(changed))
        assert await watch.next() == changed
    finally:
        await watch.close()


@run(timeout=20)
async def test_watch_schema_stops_on_its_event(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_bytes(_dump(make_schema()))
    stop = asyncio.Event()
    items: list[Item] = []

    initial = path.read_bytes()

    async def collect() -> None:
        async for item in watch_schema(path, stop_event=stop, initial=initial):
            items.append(item)

    task = asyncio.create_task(collect())
    new = make_schema(text="new")
    for _ in range(50):  # watching starts with the iteration: save until it is seen
        _replace(path, _dump(new))
        await asyncio.sleep(0.05)
        if items:
            break
    assert items == [new]
    stop.set()
    await asyncio.wait_for(task, 5)
