"""Message, protocol-version and session-id validation: native vs pure.

Messages are validated as parsed JSON (what ``deserialize_message(validate=True)``
hands over); the schema inside an update is not walked, so sizes do not matter here.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

import lumora_fast as lf
from lumora_fast import pure as pure_core

from .bench_codec import build_small_messages
from .conftest import measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

PARSED = {
    json.loads(pure_core.dumps(m))["type"]: json.loads(pure_core.dumps(m))
    for m in build_small_messages()
}
INVALID: dict[str, Any] = {"type": "update", "timestamp": "now", "payload": {"type": "partial"}}


@pytest.mark.parametrize("kind", [*PARSED, "invalid"])
def test_validate_message(benchmark: BenchmarkFixture, impl: ModuleType, kind: str) -> None:
    message = INVALID if kind == "invalid" else PARSED[kind]
    errors = lf.validate_message(message).errors
    assert errors == pure_core.validate_message(message)
    assert bool(errors) is (kind == "invalid")
    benchmark.group = "validate_message"
    measure(benchmark, lambda: lf.validate_message(message))


def test_validate_message_structs(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    messages = build_small_messages()
    assert all(lf.validate_message(m).valid for m in messages)
    benchmark.group = "validate_message: the 8 small message Structs"
    measure(benchmark, lambda: [lf.validate_message(m) for m in messages])


def test_validate_protocol_version(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    versions = ["1.0.0", "1.2.0", "2.0.0", " 0x1.0 ", "1e0.0"]
    results = [lf.validate_protocol_version(v).valid for v in versions]
    assert results == [True, False, False, True, True]
    benchmark.group = "validate version / session id"
    measure(benchmark, lambda: [lf.validate_protocol_version(v) for v in versions])


def test_validate_session_id(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    ids = ["3f2c9a1e-8b4d-4c5e-9f60-1a2b3c4d5e6f", "short", "\U0001f600" * 64, 5]
    assert [lf.validate_session_id(i).valid for i in ids] == [True, False, True, False]
    benchmark.group = "validate version / session id"
    measure(benchmark, lambda: [lf.validate_session_id(i) for i in ids])
