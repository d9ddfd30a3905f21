"""Schema deltas on (schema, mutate(schema, 10)) pairs, and the server's tracker update.

``delta <size>``: native vs pure ``calculate_schema_delta``, beside Python's own ``==``:
on the pair's ``nodes`` (it stops at the first difference; ``old == new`` itself stops
at once, since ``mutate`` changes ``metadata.generatedAt``) and on an equal copy of the
schema (a full comparison: the C-speed floor of looking at everything).
``tracker <size>``: ``SchemaTracker.update`` (delta + checksum + the law check) beside a
native sha256 checksum of the same new schema, the cost the issue compares it with.
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

DELTA_SIZES = ["medium", "large-flat", "large-tree", "xl"]
TRACKER_SIZES = ["large-tree", "xl"]


def summary(added: Any, modified: Any, removed: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """Added and modified node ids, removed ids."""
    return [n["id"] for n in added], [n["id"] for n in modified], list(removed)


def expected_delta(workloads: Workloads, size: str) -> tuple[list[Any], list[Any], list[Any]]:
    """The pair's delta according to the pure backend, computed once."""
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    result: tuple[list[Any], list[Any], list[Any]] = workloads.memo(
        "delta", size, lambda: summary(*pure_core.calculate_schema_delta(old, new)[:3])
    )
    return result


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_calculate_schema_delta(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    delta = lf.calculate_schema_delta(old, new)
    assert summary(delta.added, delta.modified, delta.removed) == expected_delta(workloads, size)
    assert len(delta.added) + len(delta.modified) + len(delta.removed) > 0
    benchmark.group = f"delta {size}"
    measure(benchmark, lambda: lf.calculate_schema_delta(old, new), slow=is_slow(impl, size))


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_python_eq_on_the_pairs_nodes(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size)["nodes"], workloads.schema(size, mutated=True)["nodes"]
    assert old != new
    benchmark.group = f"delta {size}"
    measure(benchmark, lambda: old == new)


@pytest.mark.parametrize("size", DELTA_SIZES)
def test_python_eq_on_an_equal_copy(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    old, copy = workloads.schema(size), workloads.fresh(size)
    assert old == copy
    benchmark.group = f"delta {size}"
    measure(benchmark, lambda: old == copy)


@pytest.mark.parametrize("size", TRACKER_SIZES)
def test_tracker_update(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    old, new = workloads.schema(size), workloads.schema(size, mutated=True)
    checksum = workloads.memo("checksum-new", size, lambda: _core.calculate_checksum(new))
    change = lf.SchemaTracker(old).update(new)
    assert change.checksum == checksum
    assert change.delta is not None
    delta = change.delta
    assert summary(delta.added, delta.modified, delta.removed) == expected_delta(workloads, size)
    benchmark.extra_info["incremental"] = change.incremental
    benchmark.group = f"tracker {size}"

    def setup() -> tuple[tuple[lf.SchemaTracker], dict[str, Any]]:
        return (lf.SchemaTracker(old),), {}

    rounds = 3 if is_slow(impl, size) else 10
    benchmark.pedantic(lambda tracker: tracker.update(new), setup=setup, rounds=rounds)


@pytest.mark.parametrize("size", TRACKER_SIZES)
def test_native_checksum_of_new(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str
) -> None:
    new = workloads.schema(size, mutated=True)
    assert _core.calculate_checksum(new) == pure_core.calculate_checksum(new)
    benchmark.group = f"tracker {size}"
    measure(benchmark, lambda: _core.calculate_checksum(new))
