"""Shared fixtures: the ``impl`` backend switch and the conformance-vector loader."""

from __future__ import annotations

import importlib
import json
import math
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lumora_fast import _backend

from . import hypothesis_profiles  # noqa: F401  (registers and loads the profile)

VECTORS = Path(__file__).parent / "data" / "conformance"


@pytest.fixture(params=["native", "pure"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run the test against one backend: the Rust core or ``lumora_fast.pure``.

    The public API calls ``lumora_fast._backend.core``; this swaps it for the test. The
    ``native`` case fails (it is not skipped) while the extension is not built.
    """
    module = importlib.import_module(
        "lumora_fast._core" if request.param == "native" else "lumora_fast.pure"
    )
    monkeypatch.setattr(_backend, "core", module)
    return module


@cache
def load_vectors(name: str) -> tuple[dict[str, Any], ...]:
    """All records of ``tests/data/conformance/<name>.jsonl``, in file order."""
    with (VECTORS / f"{name}.jsonl").open(encoding="utf-8") as file:
        return tuple(json.loads(line) for line in file if line.strip())


def vector_params(name: str, **filters: Any) -> list[Any]:
    """``pytest.param`` per record, with the record id as the test id."""
    records = load_vectors(name)
    return [
        pytest.param(record, id=record["id"])
        for record in records
        if all(record.get(key) == value for key, value in filters.items())
    ]


def js_json(value: Any) -> Any:
    """``JSON.parse(JSON.stringify(value))`` for parsed JSON: numbers become doubles.

    Integers beyond 2**53 round, and non-finite numbers (``1e400``) become ``None``.
    """
    if isinstance(value, dict):
        return {key: js_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [js_json(item) for item in value]
    if value is None or isinstance(value, bool | str):
        return value
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None
