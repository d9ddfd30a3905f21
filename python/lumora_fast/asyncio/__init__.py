"""asyncio I/O for the hot-reload protocol, on the ``websockets`` library.

:func:`serve` runs the server (:mod:`lumora_fast.sessions.server` over WebSockets),
:class:`Device` / :func:`run_device` a headless device, :class:`SchemaWatcher` /
:func:`watch_schema` watch a schema file.
"""

from __future__ import annotations

from .device import Device, run_device
from .server import DEFAULT_ORIGINS, Server, serve
from .watcher import SchemaWatcher, read_schema, watch_schema

__all__ = [
    "DEFAULT_ORIGINS",
    "Device",
    "SchemaWatcher",
    "Server",
    "read_schema",
    "run_device",
    "serve",
    "watch_schema",
]
