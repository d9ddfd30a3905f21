"""Benchmark fixtures: the shared workload presets, built once, and the ``impl`` switch.

Schemas come from ``tests/make_schema.py`` (seed 42) and are cached as JSON files in
pytest's cache directory, keyed by preset, shape, seed, edits and a hash of the
generator: the ``xl`` preset takes seconds to generate, a fraction of that to load.
``impl`` runs a benchmark on the native core and on ``lumora_fast.pure`` (the baseline);
the pure backend gets a few fixed rounds on the large sizes (:func:`measure`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from tests import make_schema

from lumora_fast import _backend
from lumora_fast import pure as pure_core

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

SEED = 42
EDITS = 10
"""Node-level edits between the old and the new schema of a delta pair (``mutate``)."""
EDIT_SEED = 1

SIZES: dict[str, tuple[str, str]] = {
    "small": ("small", "tree"),
    "medium": ("medium", "tree"),
    "large-flat": ("large", "flat"),
    "large-tree": ("large", "tree"),
    "xl": ("xl", "tree"),
}
"""Benchmark size -> (``make_schema`` preset, shape). ``xl`` is ~9.4 MB of compact JSON."""

LARGE = frozenset({"large-flat", "large-tree", "xl"})
PURE_ROUNDS = 3
"""Rounds for the pure backend on the large sizes (a second or more per call on xl)."""


class Workloads:
    """The preset schemas (and their mutated copies), loaded once per session."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        source = Path(make_schema.__file__).read_bytes()
        self.version = hashlib.sha256(source).hexdigest()[:12]
        for stale in directory.glob("*.json"):
            if not stale.name.endswith(f"-{self.version}.json"):
                stale.unlink()  # built by another version of the generator
        self._schemas: dict[tuple[str, bool], dict[str, Any]] = {}
        self._memo: dict[tuple[str, str], Any] = {}

    def path(self, size: str, *, mutated: bool = False) -> Path:
        """The compact JSON file of a workload, generated on first use."""
        preset, shape = SIZES[size]
        name = f"{preset}-{shape}-seed{SEED}"
        if mutated:
            name += f"-mutate{EDITS}-seed{EDIT_SEED}"
        path = self.directory / f"{name}-{self.version}.json"
        if not path.exists():
            if mutated:
                schema = make_schema.mutate(self.schema(size), EDITS, EDIT_SEED)
            else:
                schema = make_schema.preset_schema(preset, shape, SEED)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(make_schema.compact_bytes(schema))
            tmp.replace(path)
        return path

    def schema(self, size: str, *, mutated: bool = False) -> dict[str, Any]:
        """A workload schema; the same object on every call (do not modify it)."""
        key = (size, mutated)
        if key not in self._schemas:
            data = self.path(size, mutated=mutated).read_bytes()
            self._schemas[key] = json.loads(data)
        return self._schemas[key]

    def fresh(self, size: str, *, mutated: bool = False) -> dict[str, Any]:
        """A new, equal copy of a workload schema (no object shared with :meth:`schema`)."""
        loaded: dict[str, Any] = json.loads(self.path(size, mutated=mutated).read_bytes())
        return loaded

    def memo(self, kind: str, size: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per session for (``kind``, ``size``): expected results."""
        key = (kind, size)
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def canonical(self, size: str, *, mutated: bool = False) -> bytes:
        """The canonical JSON of a workload, from the pure backend (the oracle)."""
        kind = "canonical-new" if mutated else "canonical"
        schema = self.schema(size, mutated=mutated)
        result: bytes = self.memo(kind, size, lambda: pure_core.canonical_json(schema))
        return result


@pytest.fixture(scope="session")
def workloads(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Workloads:
    cache = getattr(request.config, "cache", None)
    directory = (
        Path(cache.mkdir("lumora-workloads"))
        if cache is not None
        else tmp_path_factory.mktemp("lumora-workloads")
    )
    return Workloads(directory)


@pytest.fixture(params=["native", "pure"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The backend under test: the public API is routed through it, and it is returned."""
    module = importlib.import_module(
        "lumora_fast._core" if request.param == "native" else "lumora_fast.pure"
    )
    monkeypatch.setattr(_backend, "core", module)
    return module


def measure(
    benchmark: BenchmarkFixture,
    fn: Callable[[], Any],
    *,
    slow: bool = False,
    rounds: int = PURE_ROUNDS,
) -> Any:
    """Time ``fn``: calibrated rounds, or ``rounds`` single calls when ``slow``."""
    if slow:
        return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
    return benchmark(fn)


def is_slow(impl: ModuleType, size: str) -> bool:
    """The pure backend on a large workload: a few fixed rounds instead of calibration."""
    return impl is pure_core and size in LARGE
