"""SchemaDocument (issue 12): what a server does with the bytes of every save.

``document parse <size>``: ``SchemaDocument.parse`` of a preset's compact JSON bytes,
beside ``orjson.loads``, ``json.loads`` and the core's ``loads`` (the dict the previous
release built) of the same bytes. Issue 12: the document at least 3x faster than
``orjson.loads``.

``document save <size>``: one save as the server handles it: ``parse_document`` of the
new file's bytes, then ``SchemaTracker.update_encoded`` against the previous version's
document (checksum, delta and patch as JSON; ``patch-only`` skips the delta's JSON, as
the server does when every device takes patches). Versions alternate between the preset
and ``make_schema.mutate(preset, 1, seed=43)``, so every call is a real change. Beside
it, the previous release's dict path: the core's ``loads`` (GC paused, as
``parse_json`` does) and ``SchemaTracker.update`` of the dict. Issue 12: at most 60 ms
on xl, 30 ms on large.

``document checksum <size>`` / ``document dumps <size>``: a document's sha256 checksum
(on a fresh document each round: the checksum is cached) and its serialization, beside
the same functions on the dict.

The run ends with the targets as measured in it (native backend; minimum and median of
each benchmark, ratios of minima).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from tests import make_schema

import lumora_fast as lf
from lumora_fast import _core
from lumora_fast.sessions.schema import parse_document

from .conftest import SEED, SIZES, Workloads, measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

PARSE_SIZES = list(SIZES)
SAVE_SIZES = list(SIZES)
CHECKSUM_SIZES = ["medium", "large-tree", "xl"]
SAVE_EDIT_SEED = 43
"""Seed of the one-node edit the save benchmarks alternate with the preset."""

PARSE_GOAL = 3.0
"""Issue 12: ``orjson.loads`` / ``SchemaDocument.parse`` at least this (same bytes)."""
SAVE_GOAL_MS = {"xl": 60.0, "large-tree": 30.0, "large-flat": 30.0}
"""Issue 12: bytes -> document + patch + checksum at most this long."""
CHECKSUM_ROUNDS = {"small": 50, "medium": 30}
"""Rounds of the fresh-document checksum (setup parses each time); 10 on the rest."""

_STATS: dict[tuple[str, str], tuple[float, float]] = {}
"""(what, size) -> (minimum, median) seconds in this run."""


def _record(benchmark: BenchmarkFixture, what: str, size: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None with --benchmark-disable
        _STATS[what, size] = (stats.stats.min, stats.stats.median)


def _ratio(top: tuple[str, str], bottom: tuple[str, str]) -> float | None:
    if top in _STATS and bottom in _STATS:
        return _STATS[top][0] / _STATS[bottom][0]
    return None


def _ms(key: tuple[str, str]) -> str:
    low, median = _STATS[key]
    return f"{low * 1000:.2f} ms (median {median * 1000:.2f})"


class _Targets:
    """Writes the issue 12 targets after the benchmark tables (see bench_patch.py)."""

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = []
        for size in PARSE_SIZES:
            for other in ("orjson", "json", "core.loads"):
                ratio = _ratio((other, size), ("parse", size))
                if ratio is not None:
                    goal = f" (goal >= {PARSE_GOAL})" if other == "orjson" else ""
                    lines.append(f"parse {size}: {other} / document {ratio:.2f}x{goal}")
        for size in SAVE_SIZES:
            for what in ("save", "save patch-only", "save dict"):
                if (what, size) in _STATS:
                    goal = SAVE_GOAL_MS.get(size)
                    limit = f" (goal <= {goal:.0f} ms)" if goal and what != "save dict" else ""
                    lines.append(f"{what} {size}: {_ms((what, size))}{limit}")
            ratio = _ratio(("save dict", size), ("save", size))
            if ratio is not None:
                lines.append(f"save {size}: dict path / document path {ratio:.2f}x")
        for size in CHECKSUM_SIZES:
            for what in ("checksum", "dumps"):
                ratio = _ratio((f"{what} dict", size), (what, size))
                if ratio is not None:
                    lines.append(
                        f"{what} {size}: document {_ms((what, size))}, dict / document {ratio:.2f}x"
                    )
        if lines:
            terminalreporter.write_sep("-", "issue 12 targets (native, this run)")
            for line in lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _targets_summary(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("bench_document_targets"):
        manager.register(_Targets(), "bench_document_targets")


def compact(workloads: Workloads, size: str) -> bytes:
    """The preset's compact JSON bytes (a file as ``make_schema`` writes it)."""
    data: bytes = workloads.memo("bytes", size, workloads.path(size).read_bytes)
    return data


def stringified(workloads: Workloads, size: str) -> bytes:
    """``JSON.stringify`` of the preset (not the file's bytes: ``1.0`` is written ``1``)."""
    data: bytes = workloads.memo(
        "stringified", size, lambda: _core.dumps(_core.loads(compact(workloads, size)))
    )
    return data


def edited(workloads: Workloads, size: str) -> bytes:
    """The preset with one node-level edit, as compact bytes; cached beside the presets."""

    def build() -> bytes:
        preset, shape = SIZES[size]
        name = f"{preset}-{shape}-seed{SEED}-mutate1-seed{SAVE_EDIT_SEED}-{workloads.version}"
        path: Path = workloads.directory / f"{name}.json"
        if not path.exists():
            schema = make_schema.mutate(workloads.schema(size), 1, SAVE_EDIT_SEED)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(make_schema.compact_bytes(schema))
            tmp.replace(path)
        return path.read_bytes()

    data: bytes = workloads.memo("edited-bytes", size, build)
    return data


def loads_gc_paused(data: bytes) -> Any:
    """The core's ``loads`` with the collector paused: what ``parse_json`` does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _core.loads(data)
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------------------- parse

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "parse": _core.SchemaDocument.parse,
    "orjson": orjson.loads,
    "json": json.loads,
    "core.loads": _core.loads,
}


@pytest.mark.parametrize("parser", list(PARSERS))
@pytest.mark.parametrize("size", PARSE_SIZES)
def test_parse(benchmark: BenchmarkFixture, workloads: Workloads, size: str, parser: str) -> None:
    data = compact(workloads, size)
    run = PARSERS[parser]
    value = run(data)
    if parser == "parse":
        assert value.dumps() == stringified(workloads, size)
    else:
        assert value == workloads.schema(size)
    del value
    benchmark.group = f"document parse {size}"
    measure(benchmark, lambda: run(data))
    _record(benchmark, parser, size)


# ----------------------------------------------------------------------------- save


class _Saves:
    """A tracker on one version; each call saves the other version: parse + update."""

    def __init__(self, versions: tuple[bytes, bytes], *, document: bool, delta: bool) -> None:
        self.versions = versions
        self.document = document
        self.delta = delta
        self.turn = 0
        first = parse_document(versions[0]) if document else loads_gc_paused(versions[0])
        self.tracker = lf.SchemaTracker(first)

    def __call__(self) -> str:
        self.turn ^= 1
        data = self.versions[self.turn]
        if self.document:
            change = self.tracker.update_encoded(parse_document(data), delta=self.delta)
            return change.checksum
        return self.tracker.update(loads_gc_paused(data)).checksum


SAVE_KINDS = {
    "save": {"document": True, "delta": True},
    "save patch-only": {"document": True, "delta": False},
    "save dict": {"document": False, "delta": True},
}


@pytest.mark.parametrize("kind", list(SAVE_KINDS))
@pytest.mark.parametrize("size", SAVE_SIZES)
def test_save(benchmark: BenchmarkFixture, workloads: Workloads, size: str, kind: str) -> None:
    versions = (compact(workloads, size), edited(workloads, size))
    checksums = workloads.memo(
        "save-checksums",
        size,
        lambda: [_core.calculate_checksum(_core.loads(v)) for v in versions],
    )
    assert checksums[0] != checksums[1]
    save = _Saves(versions, **SAVE_KINDS[kind])
    assert save() == checksums[1]
    assert save() == checksums[0]
    if kind == "save":
        encoded = save.tracker.update_encoded(parse_document(versions[1]))
        assert encoded.patch is not None
        assert encoded.delta is not None
        old = _core.loads(versions[0])
        assert json.loads(encoded.patch) == lf.calculate_schema_patch(old, _core.loads(versions[1]))
        save.turn = 1
    benchmark.group = f"document save {size}"
    measure(benchmark, save)
    _record(benchmark, kind, size)


# ---------------------------------------------------------------------- checksum, dumps


def _rounds(size: str) -> int:
    return CHECKSUM_ROUNDS.get(size, 10)


@pytest.mark.parametrize("size", CHECKSUM_SIZES)
def test_document_checksum(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    data = compact(workloads, size)
    expected = workloads.memo("checksum", size, lambda: _core.calculate_checksum(_core.loads(data)))
    assert _core.SchemaDocument.parse(data).checksum() == expected

    def fresh() -> tuple[tuple[Any], dict[str, Any]]:
        return (_core.SchemaDocument.parse(data),), {}

    benchmark.group = f"document checksum {size}"
    benchmark.pedantic(lambda doc: doc.checksum(), setup=fresh, rounds=_rounds(size))
    _record(benchmark, "checksum", size)


@pytest.mark.parametrize("size", CHECKSUM_SIZES)
def test_dict_checksum(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    schema = workloads.schema(size)
    benchmark.group = f"document checksum {size}"
    measure(benchmark, lambda: _core.calculate_checksum(schema))
    _record(benchmark, "checksum dict", size)


@pytest.mark.parametrize("size", CHECKSUM_SIZES)
def test_document_dumps(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    data = compact(workloads, size)
    document = _core.SchemaDocument.parse(data)
    assert document.dumps() == stringified(workloads, size)
    benchmark.group = f"document dumps {size}"
    measure(benchmark, document.dumps)
    _record(benchmark, "dumps", size)


@pytest.mark.parametrize("size", CHECKSUM_SIZES)
def test_dict_dumps(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    schema = workloads.schema(size)
    assert _core.dumps(schema) == stringified(workloads, size)
    benchmark.group = f"document dumps {size}"
    measure(benchmark, lambda: _core.dumps(schema))
    _record(benchmark, "dumps dict", size)
