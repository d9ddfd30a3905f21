"""Server latency under pytest-benchmark: edit -> every raw device has acked it.

Runs the rig of ``benches/server_latency.py`` (server in this process, raw websockets
devices in separate processes) for the small (24 KB) and medium (465 KB) tree presets
with 10 and 100 devices. The issue's goal: p50 <= 40 ms (24 KB) and <= 100 ms (465 KB)
with 100 devices. ``python benches/server_latency.py`` prints the p50 / p99 table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

try:
    from server_latency import LatencyRig
except ImportError:  # benches/ became a package
    from benches.server_latency import LatencyRig

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture


@pytest.fixture(
    scope="module",
    params=[("small", 10), ("small", 100), ("medium", 10), ("medium", 100)],
    ids=lambda p: f"{p[0]}-{p[1]}dev",
)
def rig(request: pytest.FixtureRequest) -> Iterator[LatencyRig]:
    size, devices = request.param
    with LatencyRig(size, devices) as rig:
        yield rig


def test_edit_to_all_acks(benchmark: BenchmarkFixture, rig: LatencyRig) -> None:
    # Assert once (every device acks successfully; edit() raises otherwise), then time.
    rig.pace()
    assert rig.edit() > 0
    benchmark.group = f"server: edit -> all acks ({rig.devices} devices)"
    benchmark.extra_info.update(devices=rig.devices, update=rig.updates[-1].kind)
    benchmark.pedantic(rig.edit, setup=rig.pace, rounds=20, iterations=1, warmup_rounds=1)
