"""A minimal WebSocket device for the latency rigs: it reads a frame and acks it at once.

A phone on the LAN has a CPU of its own; a benchmark that runs a hundred devices in one
process must keep each one's work small, or the number it reports is the device farm's,
not the server's. ``websockets``' asyncio client costs ~200 us per message (a frame
parser, a queue, a coroutine switch each way), and it hands frames over only after the
whole read burst is parsed, so with a hundred devices the first ack waits for all of
them. :class:`RawDevice` is an :class:`asyncio.Protocol` that parses frames in
``data_received`` and writes the ack from there: the least a client can do and still be
a conforming WebSocket client (masked frames, pongs, the close handshake).

It speaks just enough RFC 6455 for a loopback server that sends unfragmented text
frames (``lumora_fast``'s and the reference's both do): a continuation frame is
accumulated, never dropped.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import struct
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RawDevice", "open_device"]

_SEQUENCE = re.compile(rb'"sequenceNumber":(\d+)')
_UPDATE = b'{"type":"update"'
_TEXT, _CONTINUATION, _CLOSE, _PING = 0x1, 0x0, 0x8, 0x9


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: FIN, ``opcode``, masked with a zero key (valid for a test client:
    RFC 6455 requires the mask bit; an unpredictable key protects browsers, not us)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + b"\0\0\0\0" + payload


class RawDevice(asyncio.BufferedProtocol):
    """One device: handshake, ``connect``, then an ack for every ``update``.

    A buffered protocol: the transport reads straight into this device's buffer, so a
    read allocates nothing (a plain protocol gets a new ``bytes`` per read, a 256 KiB
    allocation that is an ``mmap`` and page faults), and in ack mode the payload is
    never copied.

    Args:
        hello: The ``connect`` message to send once the handshake is done.
        ack: The ack template, with ``%d`` (timestamp) and ``%s`` (sequence number).
        parse: Called with each update's bytes before acking (``--mode parse``).
    """

    def __init__(
        self, request: bytes, hello: bytes, ack: str, parse: Callable[[bytes], Any] | None
    ) -> None:
        self._request = request
        self._hello = hello
        self._ack = ack
        self._parse = parse
        self._buffer = bytearray(256 * 1024)
        self._used = 0
        self._need = 0
        """Bytes the frame at the start of the buffer needs (it is incomplete)."""
        self._message = bytearray()
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before `connected`"))
        if not self.closed.done():
            self.closed.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        # Grown here only: during buffer_updated the transport still holds the view.
        free = len(self._buffer) - self._used
        want = max(64 * 1024, self._need - self._used)
        if free < want:
            self._buffer.extend(bytes(want - free))
        return memoryview(self._buffer)[self._used :]

    def buffer_updated(self, nbytes: int) -> None:
        self._used += nbytes
        buffer, size = self._buffer, self._used
        start = 0
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n", 0, size)
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(bytes(buffer[: buffer.find(b"\r\n")]).decode("latin-1"))
            start = end + 4
            self._upgraded = True
            assert self.transport is not None
            self.transport.write(_frame(_TEXT, self._hello))
        while size - start >= 2:
            first, length = buffer[start], buffer[start + 1] & 0x7F
            head = 2
            if length == 126:
                if size - start < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, start + 2)
                head = 4
            elif length == 127:
                if size - start < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start + 2)
                head = 10
            end = start + head + length
            if end > size:
                self._need = end - start  # get_buffer makes room for all of it
                break
            self._frame_received(first, buffer, start + head, end)
            start = end
        if start:
            remaining = size - start
            buffer[:remaining] = buffer[start:size]
            self._used = remaining

    def _frame_received(self, first: int, buffer: bytearray, start: int, end: int) -> None:
        opcode = first & 0x0F
        transport = self.transport
        assert transport is not None
        if opcode == _PING:
            transport.write(_frame(0xA, bytes(buffer[start:end])))
            return
        if opcode == _CLOSE:
            transport.write(_frame(_CLOSE, bytes(buffer[start : start + 2])))
            transport.close()
            return
        if opcode not in (_TEXT, _CONTINUATION):
            return
        if not first & 0x80 or self._message:  # fragmented: keep the pieces
            self._message += buffer[start:end]
            if not first & 0x80:
                return
            buffer, start, end = self._message, 0, len(self._message)
            self._message = bytearray()
        if not self.connected.done():
            self.connected.set_result(None)  # `connected` (or the server's error)
            return
        if not buffer.startswith(_UPDATE, start, end):
            return
        if self._parse is not None:
            self._parse(bytes(buffer[start:end]))
        match = _SEQUENCE.search(buffer, max(start, end - 256), end) or _SEQUENCE.search(
            buffer, start, end
        )
        assert match is not None
        ack = self._ack % (time.time_ns() // 1_000_000, match.group(1).decode())
        transport.write(_frame(_TEXT, ack.encode()))


async def open_device(
    url: str, hello: str, ack: str, parse: Callable[[bytes], Any] | None = None
) -> RawDevice:
    """Connect to ``url`` (``ws://host:port/path?query``); return once ``connected`` came."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path or '/'}?{parts.query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, device = await loop.create_connection(
        lambda: RawDevice(request, hello.encode(), ack, parse), host, port
    )
    await device.connected
    return device
