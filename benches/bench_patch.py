"""Schema patches on (schema, mutate(schema, 10)) pairs, and the tracker that makes them.

``patch tracker <size>``: ``SchemaTracker.update`` (delta + patch + checksum) beside one
native sha256 checksum of the same new schema (issue 11: at most 1.3x on xl), of dicts
and of documents as a server has them (parsed from the file's bytes after the previous
version's, which lets the tracker copy what it wrote for the unchanged items).
``patch apply <size>``: ``apply_schema_patch`` of the pair's first 10 ops (issue 11: at
most 1 ms native on xl). ``patch calculate <size>``: ``calculate_schema_patch`` beside
Python's ``==`` on an equal copy of the schema (issue 11: no slower on large).

The run ends with the three targets as measured in it (ratios of minimum times, native
backend): tracker / checksum, calculate / ``==``, and apply in ms.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

import lumora_fast as lf
from lumora_fast import _core
from lumora_fast import pure as pure_core

from .conftest import Workloads, is_slow, measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

CALCULATE_SIZES = ["medium", "large-tree", "large-flat"]
TRACKER_SIZES = ["large-tree", "xl"]
APPLY_SIZES = ["large-tree", "xl"]
APPLY_OPS = 10

TRACKER_GOAL = 1.3
"""Issue 11: ``SchemaTracker.update`` at most this many native checksums (xl)."""
CALCULATE_GOAL = 1.0
"""Issue 11: ``calculate_schema_patch`` at most this many ``==`` (large)."""
APPLY_GOAL_MS = 1.0
"""Issue 11: ``apply_schema_patch`` of 10 ops at most this long (xl)."""

_MINIMA: dict[tuple[str, str], float] = {}
"""(what, size) -> minimum seconds in this run, native backend (and ``==``)."""


def _record(benchmark: BenchmarkFixture, what: str, size: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None with --benchmark-disable
        _MINIMA[what, size] = stats.stats.min


def _ratio(top: tuple[str, str], bottom: tuple[str, str]) -> float | None:
    if top in _MINIMA and bottom in _MINIMA:
        return _MINIMA[top] / _MINIMA[bottom]
    return None


class _Targets:
    """Writes the issue 11 targets at the end of the run (a plugin registered by the
    module's autouse fixture, so that the summary follows the benchmark tables)."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = []
        for size in TRACKER_SIZES:
            for what, label in (("tracker", "dicts"), ("tracker-documents", "documents")):
                ratio = _ratio((what, size), ("checksum", size))
                if ratio is not None:
                    lines.append(
                        f"tracker/checksum {size}, {label}: {ratio:.2f}x (goal <= {TRACKER_GOAL})"
                    )
        for size in CALCULATE_SIZES:
            ratio = _ratio(("calculate", size), ("eq", size))
            if ratio is not None:
                lines.append(f"calculate/== {size}: {ratio:.2f}x (goal <= {CALCULATE_GOAL})")
        for size in APPLY_SIZES:
            if ("apply", size) in _MINIMA:
                ms = _MINIMA["apply", size] * 1000
                lines.append(f"apply {APPLY_OPS} ops {size}: {ms:.3f} ms (goal <= {APPLY_GOAL_MS})")
        if lines:
            terminalreporter.write_sep("-", "issue 11 targets (minimum times of this run)")
            for line in lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _targets_summary(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("bench_patch_targets"):
        manager.register(_Targets(), "bench_patch_targets")


def expected_patch(workloads: Workloads, size: str) -> list[dict[str, Any]]:
    """The pair's patch according to the pure backend, computed once."""
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    result: list[dict[str, Any]] = workloads.memo(
        "patch", size, lambda: pure_core.calculate_schema_patch(old, new)
    )
    return result


@pytest.mark.parametrize("size", CALCULATE_SIZES)
def test_calculate_schema_patch(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    assert lf.calculate_schema_patch(old, new) == expected_patch(workloads, size)
    benchmark.group = f"patch calculate {size}"
    measure(benchmark, lambda: lf.calculate_schema_patch(old, new), slow=is_slow(impl, size))
    if impl is _core:
        _record(benchmark, "calculate", size)


@pytest.mark.parametrize("size", CALCULATE_SIZES)
def test_python_eq_on_an_equal_copy(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    old, copy = workloads.schema(size), workloads.fresh(size)
    assert old == copy
    benchmark.group = f"patch calculate {size}"
    measure(benchmark, lambda: old == copy)
    _record(benchmark, "eq", size)


@pytest.mark.parametrize("size", APPLY_SIZES)
def test_apply_schema_patch(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    old = workloads.schema(size)
    patch = expected_patch(workloads, size)[:APPLY_OPS]
    assert len(patch) == APPLY_OPS
    applied = lf.apply_schema_patch(old, patch)
    assert applied["nodes"] is not old["nodes"] or applied["metadata"] is not old["metadata"]
    benchmark.group = f"patch apply {size}"
    measure(benchmark, lambda: lf.apply_schema_patch(old, patch))
    if impl is _core:
        _record(benchmark, "apply", size)


@pytest.mark.parametrize("size", TRACKER_SIZES)
def test_tracker_update(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    checksum = workloads.memo("checksum-new", size, lambda: _core.calculate_checksum(new))
    change = lf.SchemaTracker(old).update(new)
    assert change.checksum == checksum
    assert change.patch == expected_patch(workloads, size)
    benchmark.group = f"patch tracker {size}"

    def setup() -> tuple[tuple[lf.SchemaTracker], dict[str, Any]]:
        return (lf.SchemaTracker(old),), {}

    rounds = 3 if is_slow(impl, size) else 10
    benchmark.pedantic(lambda tracker: tracker.update(new), setup=setup, rounds=rounds)
    if impl is _core:
        _record(benchmark, "tracker", size)


@pytest.mark.parametrize("size", TRACKER_SIZES)
def test_tracker_update_documents(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    old_doc = _core.SchemaDocument.parse(_core.dumps(old))
    new_doc = _core.SchemaDocument.parse(_core.dumps(new), previous=old_doc)
    checksum = workloads.memo("checksum-new", size, lambda: _core.calculate_checksum(new))
    change = lf.SchemaTracker(old_doc).update_encoded(new_doc)
    assert change.checksum == checksum
    benchmark.group = f"patch tracker {size}"

    def setup() -> tuple[tuple[lf.SchemaTracker], dict[str, Any]]:
        return (lf.SchemaTracker(old_doc),), {}

    # As a server updates: the delta and the patch as the JSON an update carries.
    benchmark.pedantic(lambda tracker: tracker.update_encoded(new_doc), setup=setup, rounds=10)
    _record(benchmark, "tracker-documents", size)


@pytest.mark.parametrize("size", TRACKER_SIZES)
def test_native_checksum_of_new(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    new = workloads.schema(size, mutated=True)
    benchmark.group = f"patch tracker {size}"
    measure(benchmark, lambda: _core.calculate_checksum(new))
    _record(benchmark, "checksum", size)
