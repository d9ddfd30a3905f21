"""lumora_fast.checksum against the reference's calculateChecksum / validateChecksum vectors."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType
from typing import Any

import pytest
import xxhash

import lumora_fast as lf

from .conftest import vector_params


@pytest.mark.parametrize("record", vector_params("checksum"))
def test_calculate_checksum_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    schema = json.loads(record["schema_json"])
    if record.get("error"):
        with pytest.raises(lf.ProtocolError):
            lf.calculate_checksum(schema)
        return
    assert lf.calculate_checksum(schema) == record["checksum"]
    # The canonical bytes are exactly what is hashed, with both algorithms.
    canonical = lf.canonical_json(schema)
    assert hashlib.sha256(canonical).hexdigest() == record["checksum"]
    assert lf.calculate_checksum(schema, algorithm="xxh3") == (
        "xxh3:" + xxhash.xxh3_128_hexdigest(canonical)
    )


@pytest.mark.parametrize("record", vector_params("checksum_validate"))
def test_validate_checksum_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    schema = json.loads(record["schema_json"])
    if record.get("error"):
        with pytest.raises(lf.ProtocolError):
            lf.validate_checksum(schema, record["expected"])
        return
    result = lf.validate_checksum(schema, record["expected"])
    assert result.errors == record["errors"]
    assert result.valid is record["valid"]


def _schema(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"generatedAt": 5}, "nodes": [], **fields}


def test_canonical_form(impl: ModuleType) -> None:
    schema = {
        "z": {"b": 1, "10": 2, "2": 3, "__proto__": {"x": 1}, "\ue000": 4, "\U0001f600": 5},
        "metadata": {"sourceFile": "a"},
        "n": [1.0, 1e21, -0.0, float("inf"), 2**64, "\ud800"],
    }
    assert (
        lf.canonical_json(schema)
        == (
            '{"metadata":{"generatedAt":0,"sourceFile":"a"},"n":[1,1e+21,0,null,'
            '18446744073709552000,"\\ud800"],"z":{"2":3,"10":2,"b":1,"\U0001f600":5,"\ue000":4}}'
        ).encode()
    )
    assert schema["metadata"] == {"sourceFile": "a"}  # the input is not modified


def test_schema_errors(impl: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r"^schema must be a JSON object, got list$"):
        lf.calculate_checksum([])  # type: ignore[arg-type]
    with pytest.raises(lf.ProtocolError, match=r"^schema has no 'metadata' object$"):
        lf.calculate_checksum({"nodes": []})
    with pytest.raises(lf.ProtocolError, match=r"^schema 'metadata' must be an object, got str$"):
        lf.calculate_checksum({"metadata": "x"})
    # A metadata array takes the generatedAt assignment silently (reference behaviour).
    assert lf.canonical_json({"metadata": [3, 1]}) == b'{"metadata":[3,1]}'


def test_algorithm_errors(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"^unknown checksum algorithm 'md5' \(expected"):
        lf.calculate_checksum(_schema(), algorithm="md5")  # type: ignore[arg-type]


def test_value_errors_name_the_path(impl: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r'^unsupported type set at \$\.theme\["my key"\]$'):
        lf.calculate_checksum(_schema(theme={"my key": {1}}))
    with pytest.raises(
        lf.ProtocolError, match=r"^dict key must be str, got int at \$\.nodes\[0\]$"
    ):
        lf.calculate_checksum(_schema(nodes=[{1: "x"}]))


def test_depth_limit(impl: ModuleType) -> None:
    # The schema is depth 1, so a chain of 511 lists under it reaches depth 512.
    chain: list[Any] = []
    for _ in range(510):
        chain = [chain]
    lf.calculate_checksum(_schema(deep=chain))
    with pytest.raises(
        lf.ProtocolError, match=r"^nesting depth exceeds 512 at \$\.deep(\[0\]){511}$"
    ):
        lf.calculate_checksum(_schema(deep=[chain]))


def _big_schema(nodes: int) -> dict[str, Any]:
    """A schema whose canonical form is about ``nodes`` * 200 bytes."""
    return {
        "metadata": {"generatedAt": 5, "b": 1},
        "nodes": [
            {"id": f"n{i}", "type": "Text", "props": {"text": "x" * 100, "size": i / 4}}
            for i in range(nodes)
        ],
        "version": "1.0.0",
    }


@pytest.mark.parametrize("nodes", [1, 1_000, 6_000, 20_000])
def test_large_schemas_hash_the_canonical_bytes(impl: ModuleType, nodes: int) -> None:
    # From 256 KB up the native backend hashes SHA-256 on a helper thread.
    schema = _big_schema(nodes)
    canonical = lf.canonical_json(schema)
    assert lf.calculate_checksum(schema) == hashlib.sha256(canonical).hexdigest()
    assert lf.calculate_checksum(schema, algorithm="xxh3") == (
        "xxh3:" + xxhash.xxh3_128_hexdigest(canonical)
    )


def test_an_error_after_megabytes_of_output_leaves_nothing_behind(impl: ModuleType) -> None:
    schema = _big_schema(20_000)
    schema["nodes"][-1]["props"]["bad"] = {1, 2}
    for _ in range(3):
        with pytest.raises(
            lf.ProtocolError, match=r"^unsupported type set at \$\.nodes\[19999\]\.props\.bad$"
        ):
            lf.calculate_checksum(schema)
    del schema["nodes"][-1]["props"]["bad"]
    assert lf.calculate_checksum(schema) == hashlib.sha256(lf.canonical_json(schema)).hexdigest()


@pytest.mark.parametrize("value", [{1, 2}, b"x", object()], ids=["set", "bytes", "object"])
@pytest.mark.parametrize("member", ["nodes", "theme"])
def test_the_tracker_names_the_member_that_is_not_json(
    impl: ModuleType, value: object, member: str
) -> None:
    """The tracker's error path is the checksum's, top-level `nodes` included (fuzz F2)."""
    schema: dict[str, Any] = {"metadata": {}, "nodes": [], member: value}
    kind = type(value).__name__
    expected = rf"^unsupported type {kind} at \$\.{member}$"
    with pytest.raises(lf.ProtocolError, match=expected):
        lf.calculate_checksum(schema)
    for algorithm in ("sha256", "xxh3"):
        with pytest.raises(lf.ProtocolError, match=expected):
            lf.SchemaTracker(schema, algorithm=algorithm)
        tracker = lf.SchemaTracker({"metadata": {}, "nodes": []}, algorithm=algorithm)
        with pytest.raises(lf.ProtocolError, match=expected):
            tracker.update(schema)
