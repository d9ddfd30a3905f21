"""``lumora-fast serve`` in a terminal, through a pseudo-terminal: keys, QR code, lines.

The server runs as a subprocess whose stdin and stdout are the slave side of a pty, as
in a person's terminal; the test types on the master side and reads the screen there.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from lumora_fast._console import DeviceLines, UpdateLines, terminal_qr
from lumora_fast.asyncio.status import UpdateRecord
from lumora_fast.checksum import calculate_checksum
from lumora_fast.sessions import DeviceConnected, DeviceDisconnected
from tests.asyncio._helpers import message, raw_device, receive, run
from tests.sessions._helpers import make_schema

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal:
    """A subprocess on a pseudo-terminal: what it wrote so far, and a keyboard."""

    def __init__(
        self, process: subprocess.Popen[bytes], master: int, slave: int, initial: list[Any]
    ) -> None:
        self.process = process
        self.initial = initial
        """The terminal's attributes before the process started."""
        self.master = master
        self.slave = slave
        self.screen = ""
        self._more = asyncio.Event()
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed its side
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self.screen += data.decode("utf-8", "replace")
        self._more.set()

    async def expect(self, pattern: str, timeout: float = 10.0, start: int = 0) -> re.Match[str]:
        """Wait until ``pattern`` shows on the screen (after offset ``start``)."""
        regex = re.compile(pattern)
        async with asyncio.timeout(timeout):
            while True:
                found = regex.search(ANSI.sub("", self.screen), start)
                if found is not None:
                    return found
                self._more.clear()
                await self._more.wait()

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def attributes(self) -> list[Any]:
        return termios.tcgetattr(self.slave)

    async def wait(self, timeout: float = 10.0) -> int:
        async with asyncio.timeout(timeout):
            while self.process.poll() is None:
                await asyncio.sleep(0.02)
        return self.process.returncode


@asynccontextmanager
async def terminal(*argv: str, stdin_tty: bool = True) -> AsyncIterator[Terminal]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 120, 0, 0))
    initial = termios.tcgetattr(slave)
    process = subprocess.Popen(
        [sys.executable, "-m", "lumora_fast", *argv],
        stdin=slave if stdin_tty else subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    term = Terminal(process, master, slave, initial)
    try:
        yield term
    finally:
        asyncio.get_running_loop().remove_reader(master)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        os.close(master)
        os.close(slave)


def _schema_file(tmp_path: Path, schema: dict[str, Any]) -> Path:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


async def _full_update(ws: ClientConnection, session_id: str, preserve: bool) -> dict[str, Any]:
    update = await receive(ws)
    payload = update["payload"]
    assert (update["type"], payload["type"], payload["preserveState"]) == (
        "update",
        "full",
        preserve,
    )
    await ws.send(
        message(session_id, "ack", {"sequenceNumber": payload["sequenceNumber"], "success": True})
    )
    return payload


@run(timeout=60)
async def test_keys_push_full_updates_and_q_quits(tmp_path: Path) -> None:
    schema = make_schema(count=6)
    path = _schema_file(tmp_path, schema)
    async with terminal("serve", str(path), "--port", "0", "--lan") as term:
        before = term.initial
        await term.expect(r"keys: r push a full update")
        # cbreak: no echo, no line buffering, while the server runs
        cbreak = term.attributes()
        assert not cbreak[3] & termios.ECHO
        assert not cbreak[3] & termios.ICANON
        assert before[3] & termios.ECHO  # (the pty starts in cooked mode)
        local = (await term.expect(r"Local:\s+(ws://127\.0\.0\.1:\S+)")).group(1)
        session_id = local.rsplit("=", 1)[1]
        await term.expect(r"Exposed on the network: anyone who has this URL can connect")
        async with raw_device(local) as a, raw_device(local) as b:
            mark = len(term.screen)
            await term.expect(r"2 devices connected \(total 2\)|device raw connected", start=0)
            term.type("r")
            for ws in (a, b):
                payload = await _full_update(ws, session_id, preserve=True)
                assert payload["schema"] == schema
                assert payload["checksum"] == calculate_checksum(schema)
            await term.expect(
                r"update #0 full \S+ \S+ \(pushed\): sent to 2, acked by 2 in [0-9.]+ ms",
                start=mark,
            )
            term.type("R")
            for ws in (a, b):
                await _full_update(ws, session_id, preserve=False)
            await term.expect(r"\(pushed, state reset\): sent to 2, acked by 2", start=mark)
            term.type("x")  # not a key: nothing happens
            term.type("q")
            assert await term.wait() == 0
        # The terminal is given back as it was.
        assert term.attributes() == before


@run(timeout=60)
async def test_the_terminal_qr_code_is_the_device_url(tmp_path: Path) -> None:
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg (Debian's zbar-tools) decodes the QR codes; .ci/run installs it"
    path = _schema_file(tmp_path, make_schema())
    async with terminal("serve", str(path), "--port", "0", "--host", "0.0.0.0") as term:
        await term.expect(r"keys:")
        screen = ANSI.sub("", term.screen)
        url = re.search(r"Phones:\s+(ws://\S+)", screen)
        assert url is not None, screen
        rows = [
            line[2:]
            for line in screen.splitlines()
            if line.startswith("  ") and set(line[2:]) <= set("█▀▄ ")
        ]
        rows = [r for r in rows if r.strip()]
        assert len(rows) > 10
        assert _decode_blocks(rows, tmp_path, zbarimg) == url.group(1)
    # --no-qr: none
    async with terminal("serve", str(path), "--port", "0", "--lan", "--no-qr") as term:
        await term.expect(r"keys:")
        assert "█" not in term.screen


def _decode_blocks(rows: list[str], tmp_path: Path, zbarimg: str) -> str:
    """Decode a half-block QR code: each character is two modules, a drawn half light."""
    halves = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}
    width = max(len(r) for r in rows)
    pixels: list[list[int]] = []
    for row in rows:
        top, bottom = [], []
        for char in row.ljust(width):
            upper, lower = halves[char]
            top.append(upper)
            bottom.append(lower)
        pixels += [top, bottom]
    scale, quiet = 6, 4
    # PBM: 1 is black. A drawn (light) half is white; add a white quiet zone around.
    size = (width + 2 * quiet) * scale, (len(pixels) + 2 * quiet) * scale
    lines = []
    blank = "0 " * size[0]
    lines += [blank] * (quiet * scale)
    for row in pixels:
        text = "0 " * (quiet * scale) + "".join(("0 " if v else "1 ") * scale for v in row)
        text += "0 " * (quiet * scale)
        lines += [text] * scale
    lines += [blank] * (quiet * scale)
    image = tmp_path / "qr.pbm"
    image.write_text(f"P1\n{size[0]} {size[1]}\n" + "\n".join(lines) + "\n")
    done = subprocess.run(
        [zbarimg, "--raw", "-q", str(image)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@run(timeout=60)
async def test_no_keys_without_a_terminal_or_with_json(tmp_path: Path) -> None:
    path = _schema_file(tmp_path, make_schema())
    async with terminal("serve", str(path), "--port", "0", "--json") as term:
        listening = json.loads((await term.expect(r"\{.*\"listening\".*\}")).group(0))
        assert "keys:" not in term.screen
        assert term.attributes()[3] & termios.ECHO  # left alone
        term.type("q")
        await asyncio.sleep(0.5)
        assert term.process.poll() is None  # q is not a key here
        assert listening["urls"] == [listening["url"]]
    async with terminal("serve", str(path), "--port", "0", stdin_tty=False) as term:
        await term.expect(r"Status page:")
        await asyncio.sleep(0.3)
        assert "keys:" not in term.screen


# ------------------------------------------------------------ lines, in-process


def _joined(n: int, total: int) -> DeviceConnected:
    return DeviceConnected(
        session_id="s", connection_id=f"c{n}", device_id=f"d{n}", platform="ios", devices=total
    )


@run()
async def test_device_lines_coalesce_a_crowd() -> None:
    written: list[str] = []
    lines = DeviceLines(written.append, window=0.05)
    for n in range(100):
        lines.add(_joined(n, n + 1))
    lines.add(
        DeviceDisconnected(
            session_id="s", connection_id="c1", device_id="d1", reason="closed", devices=99
        )
    )
    await asyncio.sleep(0.15)
    assert written == [
        "100 devices connected (total 100)",
        "device d1 left (closed), 99 devices now",
    ]
    written.clear()
    lines.add(_joined(7, 100))
    await asyncio.sleep(0.15)
    assert written == ["device d7 connected (ios), 100 devices now"]


@run()
async def test_update_lines() -> None:
    written: list[str] = []
    lines = UpdateLines(written.append, wait=0.05)
    row = UpdateRecord(
        session_id="s", sequence=3, kind="incremental", size=1234, sent_at=0, sent_to=100,
        waiting={f"c{i}" for i in range(100)},
    )  # fmt: skip
    lines.sent(row)
    row.acked, row.waiting = 98, {"c98", "c99"}
    await asyncio.sleep(0.15)
    assert written == [
        "update #3 incremental 1.2 kB: sent to 100, acked by 98 so far, "
        "2 still waiting after 0.05 s"
    ]
    row.acked, row.waiting, row.latency_ms = 100, set(), 2100.0
    lines.settled(row)
    assert written[-1] == "update #3: acked by 100/100 in 2100.0 ms"
    quick = UpdateRecord(session_id="s", sequence=4, kind="full", size=10, sent_at=0, sent_to=0)
    lines.settled(quick)
    assert written[-1] == "update #4 full 0.0 kB: no device connected"


def test_terminal_qr_has_a_quiet_zone() -> None:
    rows = terminal_qr("ws://192.168.1.20:3000/ws?session=x").splitlines()
    assert rows[0] == "█" * len(rows[0])
    assert len({len(r) for r in rows}) == 1


@pytest.mark.parametrize("argv", [["--lan", "--host", "::"], ["--host=0.0.0.0", "--lan"]])
def test_lan_and_host_conflict(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from lumora_fast.cli import main

    assert main(["serve", "app.json", *argv]) == 2
    assert "not allowed with" in capsys.readouterr().err
