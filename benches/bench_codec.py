"""Serialization, deserialization (+ validation) and builders: native vs pure vs msgspec.

``msgspec.json.encode`` / ``decode`` of the same message Struct is the floor: it is what
msgspec alone does, without JS number formatting or JS key order (so its bytes differ).
The issue's target: serializing the ``xl`` full update costs at most 1.5x msgspec.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

import lumora_fast as lf
from lumora_fast import pure as pure_core

from .conftest import Workloads, is_slow, measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

CODEC_SIZES = ["small", "medium", "large-tree", "xl"]
SESSION = "3f2c9a1e-8b4d-4c5e-9f60-1a2b3c4d5e6f"
TIMESTAMP = 1_762_704_514_661


def full_update_message(workloads: Workloads, size: str) -> lf.UpdateMessage:
    """The ``update`` message carrying the whole schema, built once per size."""
    schema = workloads.schema(size)

    def build() -> lf.UpdateMessage:
        update = lf.create_full_update(schema, 1, checksum=pure_core.calculate_checksum(schema))
        return lf.create_update_message(SESSION, update, timestamp=TIMESTAMP)

    message: lf.UpdateMessage = workloads.memo("message", size, build)
    return message


def wire_bytes(workloads: Workloads, size: str) -> bytes:
    """The message's bytes according to the pure backend (the expected output)."""
    message = full_update_message(workloads, size)
    data: bytes = workloads.memo("wire", size, lambda: pure_core.dumps(message))
    return data


@pytest.mark.parametrize("size", CODEC_SIZES)
def test_serialize(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    message = full_update_message(workloads, size)
    assert lf.serialize_message(message) == wire_bytes(workloads, size)
    benchmark.group = f"serialize full update {size}"
    measure(benchmark, lambda: lf.serialize_message(message), slow=is_slow(impl, size))


@pytest.mark.parametrize("size", CODEC_SIZES)
def test_serialize_msgspec(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    message = full_update_message(workloads, size)
    # Same JSON value, other bytes (1.0 is "1.0", not "1"; keys in insertion order).
    assert json.loads(msgspec.json.encode(message)) == json.loads(wire_bytes(workloads, size))
    benchmark.group = f"serialize full update {size}"
    measure(benchmark, lambda: msgspec.json.encode(message))


@pytest.mark.parametrize("size", CODEC_SIZES)
def test_deserialize_and_validate(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    data = wire_bytes(workloads, size)
    assert lf.deserialize_message(data, validate=True) == full_update_message(workloads, size)
    benchmark.group = f"deserialize+validate full update {size}"
    measure(
        benchmark, lambda: lf.deserialize_message(data, validate=True), slow=is_slow(impl, size)
    )


@pytest.mark.parametrize("size", CODEC_SIZES)
def test_deserialize_msgspec(benchmark: BenchmarkFixture, workloads: Workloads, size: str) -> None:
    data = wire_bytes(workloads, size)
    decoder = msgspec.json.Decoder(lf.Message)
    assert decoder.decode(data) == full_update_message(workloads, size)
    benchmark.group = f"deserialize+validate full update {size}"
    measure(benchmark, lambda: decoder.decode(data))


def build_small_messages() -> list[Any]:
    """One of each small message, as a device or server session builds them."""
    delta = lf.SchemaDelta(added=[], modified=[{"id": "n1", "type": "Text"}], removed=["n2"])
    return [
        lf.create_connect_message(SESSION, "device-1", "ios", "iPhone", timestamp=TIMESTAMP),
        lf.create_connected_message(SESSION, "conn-1", timestamp=TIMESTAMP),
        lf.create_update_message(
            SESSION, lf.create_incremental_update(delta, 7, checksum="0" * 64), timestamp=TIMESTAMP
        ),
        lf.create_reload_message(SESSION, "error", "checksum mismatch", timestamp=TIMESTAMP),
        lf.create_error_message(
            SESSION,
            lf.ProtocolErrorCode.RATE_LIMIT_EXCEEDED,
            "Too many messages",
            "warning",
            True,
            timestamp=TIMESTAMP,
        ),
        lf.create_ping_message(SESSION, "idle", timestamp=TIMESTAMP),
        lf.create_pong_message(SESSION, timestamp=TIMESTAMP),
        lf.create_ack_message(SESSION, 7, True, apply_time=3.5, timestamp=TIMESTAMP),
    ]


EXPECTED_SMALL = [pure_core.dumps(m) for m in build_small_messages()]


def test_build_and_serialize_small_messages(benchmark: BenchmarkFixture, impl: ModuleType) -> None:
    def run() -> list[bytes]:
        return [lf.serialize_message(m) for m in build_small_messages()]

    assert run() == EXPECTED_SMALL
    benchmark.group = "build + serialize the 8 small messages"
    measure(benchmark, run)


def test_build_and_serialize_small_messages_msgspec(benchmark: BenchmarkFixture) -> None:
    encode = msgspec.json.encode

    def run() -> list[bytes]:
        return [encode(m) for m in build_small_messages()]

    assert [json.loads(b) for b in run()] == [json.loads(b) for b in EXPECTED_SMALL]
    benchmark.group = "build + serialize the 8 small messages"
    measure(benchmark, run)


@pytest.mark.parametrize("size", ["small", "medium", "xl"])
def test_build_and_serialize_full_update(
    benchmark: BenchmarkFixture, impl: ModuleType, workloads: Workloads, size: str
) -> None:
    # What a server does per full update: checksum, build, serialize.
    schema = workloads.schema(size)

    def run() -> bytes:
        update = lf.create_full_update(schema, 1)
        return lf.serialize_message(lf.create_update_message(SESSION, update, timestamp=TIMESTAMP))

    assert run() == wire_bytes(workloads, size)
    benchmark.group = f"build + serialize full update {size}"
    measure(benchmark, run, slow=is_slow(impl, size))
