"""``lumora-fast`` in-process: ``main(argv)`` for checksum, diff, demo, device and --help."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lumora_fast import (
    apply_schema_patch,
    calculate_checksum,
    calculate_schema_delta,
    calculate_schema_patch,
    serialize_message,
)
from lumora_fast.asyncio import Server, serve
from lumora_fast.cli import main
from lumora_fast.examples import EDIT_KINDS, edits, todo_app_schema
from tests.sessions._helpers import edit, make_schema


def _write(path: Path, schema: Any) -> Path:
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [[], ["serve"], ["device"], ["demo"], ["checksum"], ["diff"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lumora-fast")
    assert len(out.splitlines()) > 5


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("lumora-fast ")
    assert main([]) == 2
    assert main(["serve", "app.json", "--port", "70000"]) == 2
    assert "not a TCP port" in capsys.readouterr().err


def test_checksum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = make_schema()
    path = _write(tmp_path / "app.json", schema)
    assert main(["checksum", str(path)]) == 0
    assert capsys.readouterr().out == calculate_checksum(schema) + "\n"
    assert main(["checksum", str(path), "--algorithm", "xxh3"]) == 0
    assert capsys.readouterr().out == calculate_checksum(schema, algorithm="xxh3") + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{half", "not valid JSON"), ('{"nodes": []}', "metadata")],
)
def test_checksum_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "app.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["checksum", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = make_schema()
    new = edit(old, 2, "changed")
    new["nodes"].append({"id": "extra", "type": "View", "props": {}, "children": []})
    del new["nodes"][0]
    new["theme"] = {"primary": "#000000"}
    args = [str(_write(tmp_path / "old.json", old)), str(_write(tmp_path / "new.json", new))]
    assert main(["diff", *args]) == 0
    out = capsys.readouterr().out
    assert out == serialize_message(calculate_schema_delta(old, new)).decode() + "\n"
    delta = json.loads(out)
    assert [n["id"] for n in delta["added"]] == ["extra"]
    assert [n["id"] for n in delta["modified"]] == ["n2"]
    assert delta["removed"] == ["n0"]
    assert delta["metadataChanges"] == {"theme": {"primary": "#000000"}}
    assert main(["diff", "--pretty", *args]) == 0
    assert json.loads(capsys.readouterr().out) == delta
    assert main(["diff", args[0], str(tmp_path / "missing.json")]) == 1


def test_diff_patch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = make_schema()
    new = edit(old, 2, "changed")
    new["theme"] = {"primary": "#000000", "opacity": float("inf")}
    (tmp_path / "new.json").write_text(json.dumps(new).replace("Infinity", "1e400"))
    args = [str(_write(tmp_path / "old.json", old)), str(tmp_path / "new.json")]
    assert main(["diff", "--patch", *args]) == 0  # 1e400 is Infinity: the wire has null
    patch = json.loads(capsys.readouterr().out)
    assert len(patch) == len(calculate_schema_patch(old, new)) == 2
    assert {"op": "replace", "path": "/nodes/2/props/text", "value": "changed"} in patch
    assert {"op": "add", "path": "/theme", "value": {"primary": "#000000", "opacity": None}} in (
        patch
    )
    wire = json.loads(json.dumps(new).replace("Infinity", "null"))
    assert apply_schema_patch(old, patch) == wire
    assert main(["diff", "--patch", "--pretty", *args]) == 0
    assert json.loads(capsys.readouterr().out) == patch


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--devices", "3", "--edits", "12"]) == 0
    out = capsys.readouterr().out
    assert "3 devices connected" in out
    for row in ["devices", "edits", "bytes per update", "edit -> ack", "p50", "p99", "resyncs"]:
        assert row in out
    assert out.count(" yes\n") == 3
    assert "All 3 devices ended on the server's schema." in out
    assert main(["demo", "--devices", "1", "--edits", "4", "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert quiet.lstrip().startswith("Summary")


@pytest.fixture
def background_server() -> Iterator[tuple[Server, str, asyncio.AbstractEventLoop]]:
    """A server in its own thread and event loop, for the in-process device command."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        server = await serve()
        state["server"], state["session"] = server, server.create_session(make_schema())
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    assert ready.wait(10)
    try:
        yield state["server"], state["session"], loop
    finally:
        asyncio.run_coroutine_threadsafe(state["server"].close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_device_prints_one_line_per_update(
    background_server: tuple[Server, str, asyncio.AbstractEventLoop],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, session_id, loop = background_server
    new = edit(make_schema(), 1, "pushed")

    def publish_when_connected() -> None:
        session = server.protocol.sessions[session_id]
        if not session.devices:
            loop.call_later(0.02, publish_when_connected)
        else:
            server.publish(session_id, new)

    loop.call_soon_threadsafe(publish_when_connected)
    url = server.url(session_id)
    assert main(["device", url, "--max-updates", "1", "--id", "cli-phone", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["connected", "update_applied", "disconnected"]
    applied = events[1]
    assert (applied["type"], applied["sequence"], applied["success"], applied["verified"]) == (
        "patch",  # `lumora-fast device` asks for patches
        1,
        True,
        True,
    )
    assert applied["checksum"] == calculate_checksum(new)
    assert applied["latency_ms"] >= 0


def test_device_exits_1_when_refused(
    background_server: tuple[Server, str, asyncio.AbstractEventLoop],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, _, _ = background_server
    assert main(["device", f"ws://127.0.0.1:{server.port}/ws?session=unknown-session"]) == 1
    assert "4404" in capsys.readouterr().out
    assert main(["device", "ws://127.0.0.1:1/ws"]) == 2


def test_serve_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path / "missing.json"), "--port", "0"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_example_edits_are_deterministic_and_never_mutate() -> None:
    schema = todo_app_schema()
    pristine = copy.deepcopy(schema)
    first = list(edits(schema, 2 * len(EDIT_KINDS), seed=5))
    second = list(edits(schema, 2 * len(EDIT_KINDS), seed=5))
    assert [d for d, _ in first] == [d for d, _ in second]
    assert [calculate_checksum(s) for _, s in first] == [calculate_checksum(s) for _, s in second]
    assert schema == pristine
    checksums = {calculate_checksum(s) for _, s in first}
    assert len(checksums) == len(first)  # every edit changes something
