"""Smoke runs of issue 12's measurement scripts on the small preset, so that they keep
working: ``benches/save_cost.py`` (the README's "what a save costs" table),
``benches/server_memory.py`` (RSS and tracemalloc of a server holding a schema) and
``benches/save_latency.py --stream`` (sustained saves). Their real runs want xl and a
quiet machine; the commands are in each script's docstring.
"""

from __future__ import annotations

import sys

import pytest

from benches import save_cost, server_memory
from benches.save_latency import format_stream, stream


def test_save_cost_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert save_cost.main(["--presets", "small", "--repeat", "2", "--devices", "3", "--dict"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| small-tree |")]
    assert len(table) == 1
    cells = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert len(cells) == 10
    assert cells[1] == "24 KB"
    assert all(float(cell) >= 0 for i, cell in enumerate(cells[2:]) if i != 1)  # diff: ±


def test_save_cost_reference_devices() -> None:
    row = save_cost.measure("small", "tree", 1, devices=2, updates="reference", compare_dict=False)
    assert {"full", "incremental", "patch"} <= set(row["sizes"])
    assert row["total"] >= row["parse"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_server_memory_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert server_memory.main(["--preset", "small", "--modes", "none,document"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"none", "document"} <= set(rows)


def test_save_stream_converges() -> None:
    # stream() raises unless the last save is on every device.
    row = stream("small", "tree", 3, 10, 0.5, processes=1, patch=True, documents=True)
    assert row["saves"] == 5
    assert 1 <= row["updates"] <= 5
    assert row["errors"] == 0
    assert "every device on the final content" in format_stream(row)
