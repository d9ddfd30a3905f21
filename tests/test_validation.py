"""lumora_fast.validation against the reference's validateMessage / Version / SessionId vectors."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from msgspec import UNSET

import lumora_fast as lf

from .conftest import vector_params


@pytest.mark.parametrize("record", vector_params("validate_message"))
def test_validate_message_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    message = json.loads(record["message_json"])
    if record.get("error"):
        with pytest.raises(lf.ProtocolError, match=r"^Cannot convert object to primitive value$"):
            lf.validate_message(message)
        return
    result = lf.validate_message(message)
    assert result.errors == record["errors"]
    assert result.valid is record["valid"]


@pytest.mark.parametrize("record", vector_params("version"))
def test_validate_protocol_version_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    if record.get("server_default"):
        result = lf.validate_protocol_version(record["client"])
    else:
        result = lf.validate_protocol_version(record["client"], record["server"])
    assert result.errors == record["errors"]
    assert result.valid is record["valid"]


@pytest.mark.parametrize("record", vector_params("session_id"))
def test_validate_session_id_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    result = lf.validate_session_id(json.loads(record["session_id_json"]))
    assert result.errors == record["errors"]
    assert result.valid is record["valid"]


# ---------------------------------------------------------------- Python values as JS values


def _ping(**fields: Any) -> dict[str, Any]:
    return {"type": "ping", "sessionId": "session-1", "timestamp": 1, "version": "1.0.0", **fields}


def test_struct_messages_validate_by_wire_names(impl: ModuleType) -> None:
    message = lf.create_ack_message("session-1", 3, True, timestamp=5)
    assert lf.validate_message(message).errors == []
    update = lf.create_update_message(
        "session-1",
        lf.create_incremental_update(lf.SchemaDelta(added=[], modified=[], removed=[]), 1),
        timestamp=5,
    )
    assert lf.validate_message(update).errors == []


def test_struct_unset_field_is_undefined(impl: ModuleType) -> None:
    update = lf.SchemaUpdate(type="full", preserve_state=True, sequence_number=1)
    message = lf.UpdateMessage(session_id="session-1", timestamp=1, version="1.0.0", payload=update)
    assert lf.validate_message(message).errors == ["Full update must have schema"]
    assert lf.validate_message(lf.PingMessage(session_id="", timestamp=1, version="1")).errors == [
        "Message must have a sessionId field"
    ]
    assert UNSET is lf.PingMessage(session_id="s", timestamp=1, version="1").payload


def test_tuple_is_an_array_and_str_enum_is_its_value(impl: ModuleType) -> None:
    assert lf.validate_message(("a",)).errors == [
        "Message must have a type field",
        "Message must have a sessionId field",
        "Message must have a timestamp field",
        "Message must have a version field",
        "Invalid message type: undefined",
    ]
    message = _ping(type=lf.ProtocolErrorCode.INVALID_MESSAGE)
    assert lf.validate_message(message).errors == ["Invalid message type: INVALID_MESSAGE"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ((1, [None, [2.5, True]], {}), "1,,2.5,true,[object Object]"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (float("nan"), "NaN"),
        (-0.0, "0"),
        (10**21, "1e+21"),
        (2**53 + 1, "9007199254740992"),
        ("\ud83d\ude00", "\U0001f600"),
    ],
)
def test_invalid_type_uses_js_to_string(impl: ModuleType, value: object, text: str) -> None:
    errors = lf.validate_message(_ping(type=value)).errors
    assert errors[-1] == f"Invalid message type: {text}"


def test_to_string_throws_for_own_to_string_in_nested_array(impl: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r"^Cannot convert object to primitive value$"):
        lf.validate_message(_ping(type=[[1, {"toString": None}]]))
    # An object nested in an object is never converted.
    assert lf.validate_message(_ping(type={"a": {"toString": 1}})).errors[-1] == (
        "Invalid message type: [object Object]"
    )


def test_unsupported_value_met_while_validating_names_its_path(impl: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r"^unsupported type set at \$\.sessionId$"):
        lf.validate_message(_ping(sessionId={1}))
    with pytest.raises(lf.ProtocolError, match=r"^unsupported type bytes at \$\.type\[1\]$"):
        lf.validate_message(_ping(type=[1, b"x"]))
    with pytest.raises(lf.ProtocolError, match=r"^unsupported type object at \$$"):
        lf.validate_message(object())
    # Values the checks never read are not inspected.
    assert lf.validate_message(_ping(extra={1})).valid


def test_version_arguments_must_be_str(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        lf.validate_protocol_version(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lf.validate_protocol_version("1.0.0", None)  # type: ignore[arg-type]
