"""Checksums: native vs pure vs the off-the-shelf pipeline vs hashing finished bytes.

One group per size. Baselines: ``hashlib.sha256(orjson.dumps(schema, OPT_SORT_KEYS))``
(the fastest off-the-shelf pipeline; not the reference's bytes) and ``hashlib.sha256`` /
``xxhash`` over the canonical bytes built beforehand (the floor: hashing alone). The
peak-memory benchmark runs a checksum on ``xl`` in a subprocess and records the RSS
high-water mark above the loaded input in ``extra_info`` (tracemalloc cannot see Rust
allocations).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from types import ModuleType
from typing import TYPE_CHECKING

import orjson
import pytest
import xxhash

import lumora_fast as lf
from lumora_fast import _core

from .conftest import SIZES, Workloads, is_slow, measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

ALGORITHMS: list[lf.ChecksumAlgorithm] = ["sha256", "xxh3"]


def expected(workloads: Workloads, size: str, algorithm: str) -> str:
    canonical = workloads.canonical(size)
    if algorithm == "sha256":
        return hashlib.sha256(canonical).hexdigest()
    return "xxh3:" + xxhash.xxh3_128_hexdigest(canonical)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", list(SIZES))
def test_checksum(
    benchmark: BenchmarkFixture,
    impl: ModuleType,
    workloads: Workloads,
    size: str,
    algorithm: lf.ChecksumAlgorithm,
) -> None:
    schema = workloads.schema(size)
    assert lf.calculate_checksum(schema, algorithm=algorithm) == expected(
        workloads, size, algorithm
    )
    benchmark.group = f"checksum {size}"
    measure(
        benchmark,
        lambda: lf.calculate_checksum(schema, algorithm=algorithm),
        slow=is_slow(impl, size),
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_orjson_sorted_sha256(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    schema = workloads.schema(size)

    def run() -> str:
        return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()

    digest = run()
    assert len(digest) == 64
    # It hashes other bytes than the reference (Python key order and number formatting).
    benchmark.extra_info["same_as_reference"] = digest == expected(workloads, size, "sha256")
    benchmark.group = f"checksum {size}"
    measure(benchmark, run)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", list(SIZES))
def test_hash_of_canonical_bytes(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str, algorithm: str
) -> None:
    canonical = workloads.canonical(size)
    assert _core.canonical_json(workloads.schema(size)) == canonical

    def run() -> str:
        if algorithm == "sha256":
            return hashlib.sha256(canonical).hexdigest()
        return "xxh3:" + xxhash.xxh3_128_hexdigest(canonical)

    assert run() == expected(workloads, size, algorithm)
    benchmark.group = f"checksum {size}"
    measure(benchmark, run)


_PEAK_SCRIPT = r"""
import gc, hashlib, json, sys

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    raise LookupError(field)

path, subject = sys.argv[1], sys.argv[2]
import orjson
from lumora_fast import _core, pure
subjects = {
    "native-sha256": lambda s: _core.calculate_checksum(s, "sha256"),
    "native-xxh3": lambda s: _core.calculate_checksum(s, "xxh3"),
    "pure-sha256": lambda s: pure.calculate_checksum(s, "sha256"),
    "orjson-sorted-sha256": lambda s: hashlib.sha256(
        orjson.dumps(s, option=orjson.OPT_SORT_KEYS)).hexdigest(),
}
run = subjects[subject]
run({"metadata": {}, "warm": [1.5, "x", {"a": None}]})  # one-time setup is not the input's
with open(path, "rb") as f:
    schema = json.loads(f.read())
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    method = "clear_refs"
except OSError:
    method = "hwm-delta (lower bound)"
before = status("VmHWM") if method != "clear_refs" else status("VmRSS")
input_rss = status("VmRSS")
result = run(schema)
peak = status("VmHWM")
print(json.dumps({"input_rss_kb": input_rss, "peak_above_kb": peak - before,
                  "method": method, "result": result}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize(
    "subject", ["native-sha256", "native-xxh3", "pure-sha256", "orjson-sorted-sha256"]
)
def test_checksum_peak_memory_xl(
    benchmark: BenchmarkFixture, workloads: Workloads, subject: str
) -> None:
    # The timing of this one is a whole subprocess (load + checksum); the figure that
    # counts is extra_info["peak_above_input_mb"].
    path = workloads.path("xl")

    def run() -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT, str(path), subject],
            check=True,
            capture_output=True,
            text=True,
        )
        report: dict[str, object] = json.loads(out.stdout)
        return report

    benchmark.group = "checksum xl: peak RSS above the input (extra_info)"
    report = benchmark.pedantic(run, rounds=1, iterations=1)
    if subject.startswith(("native", "pure")):
        algorithm = subject.split("-")[1]
        assert report["result"] == expected(workloads, "xl", algorithm)
    peak_kb = report["peak_above_kb"]
    assert isinstance(peak_kb, int)
    benchmark.extra_info["peak_above_input_mb"] = round(peak_kb / 1024, 1)
    benchmark.extra_info["input_rss_mb"] = round(int(str(report["input_rss_kb"])) / 1024, 1)
    benchmark.extra_info["method"] = report["method"]
