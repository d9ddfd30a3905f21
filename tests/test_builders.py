"""lumora_fast.builders + serialize_message against the reference's create* vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import msgspec
import pytest

import lumora_fast as lf

from .conftest import vector_params

UNDEFINED = "__undefined__"


def _present(args: list[Any]) -> list[Any]:
    """Positional args with explicit ``undefined`` as ``None`` (our "not provided")."""
    return [None if arg == UNDEFINED else arg for arg in args]


def _full_update(args: list[Any]) -> lf.SchemaUpdate:
    schema, sequence_number, *rest = _present(args)
    if rest and rest[0] is not None:
        return lf.create_full_update(schema, sequence_number, rest[0])
    return lf.create_full_update(schema, sequence_number)


def _incremental_update(args: list[Any]) -> lf.SchemaUpdate:
    delta, sequence_number, *rest = _present(args)
    delta = msgspec.convert(delta, lf.SchemaDelta)
    if rest and rest[0] is not None:
        return lf.create_incremental_update(delta, sequence_number, rest[0])
    return lf.create_incremental_update(delta, sequence_number)


def _call(builder: str, args: list[Any], now: int) -> Any:
    """Call our builder for the reference's ``builder(...args)`` at time ``now``."""
    ts = {"timestamp": now}
    simple: dict[str, Callable[..., Any]] = {
        "createConnectMessage": lf.create_connect_message,
        "createConnectedMessage": lf.create_connected_message,
        "createReloadMessage": lf.create_reload_message,
        "createErrorMessage": lf.create_error_message,
        "createPingMessage": lf.create_ping_message,
        "createPongMessage": lf.create_pong_message,
        "createAckMessage": lf.create_ack_message,
    }
    if builder in simple:
        return simple[builder](*_present(args), **ts)
    if builder == "createUpdateMessage":
        session_id, update = args
        return lf.create_update_message(session_id, msgspec.convert(update, lf.SchemaUpdate), **ts)
    if builder == "createFullUpdate":
        return _full_update(args)
    if builder == "createIncrementalUpdate":
        return _incremental_update(args)
    if builder == "createUpdateMessage+createFullUpdate":
        return lf.create_update_message(args[0], _full_update(args[1]), **ts)
    if builder == "createUpdateMessage+createIncrementalUpdate":
        return lf.create_update_message(args[0], _incremental_update(args[1]), **ts)
    raise AssertionError(f"unknown builder {builder}")


@pytest.mark.parametrize("record", vector_params("builders"))
def test_builder_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    args = json.loads(record["args_json"])
    if record.get("error"):
        with pytest.raises(lf.ProtocolError, match=r"^schema has no 'metadata' object$"):
            _call(record["builder"], args, record["now"])
        return
    result = _call(record["builder"], args, record["now"])
    assert lf.serialize_message(result) == record["expected_json_text"].encode()
    assert lf.serialize_message(result, pretty=True) == record["expected_pretty_text"].encode()


def test_builder_defaults(impl: ModuleType) -> None:
    ping = lf.create_ping_message("session-1", timestamp=7)
    assert lf.serialize_message(ping) == (
        b'{"type":"ping","sessionId":"session-1","timestamp":7,"version":"1.0.0"}'
    )
    pong = lf.create_pong_message("session-1", timestamp=1.0)
    assert lf.serialize_message(pong, pretty=True) == (
        b'{\n  "type": "pong",\n  "sessionId": "session-1",\n  "timestamp": 1,\n'
        b'  "version": "1.0.0",\n  "payload": {\n    "serverTime": 1\n  }\n}'
    )


def test_full_update_checksum_algorithms(impl: ModuleType) -> None:
    schema = {"metadata": {}, "nodes": []}
    update = lf.create_full_update(schema, 1, algorithm="xxh3")
    assert update.checksum == lf.calculate_checksum(schema, algorithm="xxh3")
    assert lf.create_full_update(schema, 1, checksum="given").checksum == "given"


def test_connected_capabilities_extension(impl: ModuleType) -> None:
    message = lf.create_connected_message("s", "c", timestamp=1, checksum_algorithms=["xxh3"])
    assert json.loads(lf.serialize_message(message))["payload"]["capabilities"] == {
        "incrementalUpdates": True,
        "compression": False,
        "statePreservation": True,
        "checksumAlgorithms": ["xxh3"],
    }


def test_type_guards() -> None:
    ack = lf.create_ack_message("s", 1, True, timestamp=1)
    assert lf.is_ack_message(ack)
    assert not lf.is_ping_message(ack)
