"""Smoke run of ``benches/load_server.py``: a few devices converge and leave nothing open.

The full load benchmark (500 devices on the medium tree, 10 edits) takes a while and
wants a quiet machine: ``python benches/load_server.py``. This runs the same code with
20 devices on the small preset, so that the script keeps working.
"""

from __future__ import annotations

try:
    from load_server import format_table, run
except ImportError:  # benches/ became a package
    from benches.load_server import format_table, run

FD_TOLERANCE = 2
"""Descriptors the process may open meanwhile for reasons of its own."""


def test_load_smoke() -> None:
    # run() raises unless every edit is acked by every device and all end on the last one.
    result = run("small", 20, 2, processes=2)
    assert result["converged"] == {"sequence": 2, "devices": 20, "failures": 0}
    assert len(result["latency_ms"]["each"]) == 2
    fds = result["fds"]
    assert fds["connected"] >= fds["before"] + 20  # the server's end of every device
    assert fds["after"] <= fds["before"] + FD_TOLERANCE, fds
    assert "server RSS (MB)" in format_table(result)
