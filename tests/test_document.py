"""``SchemaDocument`` (issue 12): the document API gives exactly what the dict API gives.

A document is an immutable JSON value. ``SchemaDocument.parse(data, max_bytes)`` is
``loads(data, max_bytes)`` (same values, same errors); ``from_python(obj)`` takes what
``dumps`` takes, with its errors; ``to_python()`` is a new copy each call; ``dumps``,
``checksum`` and ``canonical_json`` are the module functions on ``to_python()``; two
documents are equal when they serialize the same. Every schema function (``dumps``,
``calculate_checksum``, ``canonical_json``, ``calculate_schema_delta``,
``calculate_schema_patch``, ``SchemaTracker.update``) takes documents, alone or mixed
with dicts, and returns what it returns for ``to_python()``.

Each test runs on both backends (the ``impl`` fixture, or ``BACKENDS`` under
Hypothesis); ``test_native_and_pure_documents_agree`` and its neighbours compare them.
"""

from __future__ import annotations

import array
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import msgspec
import pytest
import xxhash
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lumora_fast as lf
from lumora_fast import _core as native
from lumora_fast import pure
from lumora_fast.constants import MAX_DEPTH

from .conftest import load_vectors
from .make_schema import make_schema, mutate, preset_schema
from .test_differential import (
    ALL_KEYS,
    ALL_SCALARS,
    BACKENDS,
    JSON_TOKENS,
    Box,
    Raised,
    bad_values,
    call,
    deep_texts,
    deep_values,
    json_values,
    same,
    schema_pairs,
    schemas,
    sub_values,
    texts,
)

ALGORITHMS = ("sha256", "xxh3")

fewer = settings(max_examples=max(10, settings.default.max_examples // 4))
"""For the properties that walk a schema many times (a quarter of the profile's examples)."""


def document_type(core: ModuleType) -> Any:
    """The backend's ``SchemaDocument`` (an ``AttributeError`` names a missing one)."""
    return core.SchemaDocument


def parse(core: ModuleType, data: Any, max_bytes: int | None = None) -> Any:
    return document_type(core).parse(data, max_bytes)


def from_python(core: ModuleType, obj: Any) -> Any:
    return document_type(core).from_python(obj)


def assert_same(doc_result: Any, dict_result: Any) -> None:
    """The same value (types, key order, floats bit for bit) or the same exception."""
    if isinstance(doc_result, Raised) or isinstance(dict_result, Raised):
        assert doc_result == dict_result
    else:
        assert same(doc_result, dict_result), (doc_result, dict_result)


def as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data


def check_document(core: ModuleType, doc: Any, value: Any) -> None:
    """``doc`` holds ``value``: every method and schema function agrees with the dicts."""
    assert same(doc.to_python(), value)
    for pretty in (False, True):
        expected = call(core.dumps, value, pretty=pretty)
        assert_same(call(doc.dumps, pretty=pretty), expected)
        assert_same(call(core.dumps, doc, pretty=pretty), expected)
    assert_same(call(doc.canonical_json), call(core.canonical_json, value))
    assert_same(call(core.canonical_json, doc), call(core.canonical_json, value))
    for algorithm in ALGORITHMS:
        expected = call(core.calculate_checksum, value, algorithm)
        assert_same(call(doc.checksum, algorithm), expected)
        assert_same(call(core.calculate_checksum, doc, algorithm), expected)
    assert repr(doc) == f"<SchemaDocument: {len(doc.dumps())} bytes>"


# ----------------------------------------------------------------- the object itself


def test_there_is_no_constructor(impl: ModuleType) -> None:
    cls = document_type(impl)
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls(b"{}")


def test_documents_are_immutable_and_unhashable(impl: ModuleType) -> None:
    doc = parse(impl, b'{"metadata":{},"nodes":[]}')
    assert document_type(impl).__hash__ is None
    with pytest.raises(TypeError):
        hash(doc)
    with pytest.raises(TypeError):
        {doc}  # noqa: B018 - a set needs hashing
    with pytest.raises(AttributeError):
        doc.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        doc.dumps = None


def test_equality_is_equal_dumps(impl: ModuleType) -> None:
    a = parse(impl, '{"a":1,"b":[1e400,-0]}')
    for twin in ('{"a":1.0,"b":[null,0]}', '{ "a" : 1e0 , "b" : [ null , -0.0 ] }'):
        b = parse(impl, twin)
        assert a == b
        assert not a != b  # noqa: SIM202 - __ne__ is tested
        assert a is not b
    for other in ('{"b":[null,0],"a":1}', '{"a":2,"b":[null,0]}', '{"a":1,"b":[null]}'):
        assert a != parse(impl, other)
        assert not a == parse(impl, other)  # noqa: SIM201 - __eq__ is tested
    # Array-index keys are written first: the text order of such keys does not matter.
    assert parse(impl, '{"b":1,"1":2}') == parse(impl, '{"1":2,"b":1}')
    # A document is not equal to its content, or to anything else.
    assert a != a.to_python()
    assert not a == a.to_python()  # noqa: SIM201
    assert a != a.dumps()
    assert a != None  # noqa: E711 - __eq__ with None is tested
    assert a == a  # noqa: PLR0124 - __eq__ with itself is tested
    nan = from_python(impl, [float("nan")])
    assert nan == nan  # noqa: PLR0124 - NaN content, equal as written (null)
    assert nan == parse(impl, "[null]")


def test_repr(impl: ModuleType) -> None:
    assert repr(parse(impl, b" { } ")) == "<SchemaDocument: 2 bytes>"
    doc = parse(impl, '{"é":"\\ud800","x":[1.0]}')
    assert doc.dumps() == '{"é":"\\ud800","x":[1]}'.encode()
    assert repr(doc) == f"<SchemaDocument: {len(doc.dumps())} bytes>"
    assert repr(doc) == "<SchemaDocument: 23 bytes>"


# ------------------------------------------------------------------------ parse


GOOD_TEXTS = [
    "0",
    "-0",
    "-0.0",
    "1.0",
    "1e21",
    "1E+21",
    "1e-7",
    "1e400",
    "-1e400",
    "-1e-400",
    "100.0",
    "0.1",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551617",
    "9" * 4300,
    "9" * 4301,
    "-" + "9" * 4301,
    "1" + "0" * 400 + ".0",
    '""',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\uD83D\\uDE00"',
    '"\ud800"',
    '"\U0001f600\\u0000\\/\\b\\f\\n\\r\\t\\"\\\\"',
    "true",
    "false",
    "null",
    "[]",
    "{}",
    ' \t\n\r[ 1 , { "a" : [ ] } ]\r\n',
    '{"a":1,"b":2,"a":3}',
    '{"a":{"x":1},"a":[2],"b":0,"a":null}',
    '{"1":1,"0":2,"1":3}',
    '{"b":0,"10":1,"1":2,"0":3,"01":4,"-1":5,"4294967294":6,"4294967295":7}',
    '{"__proto__":1,"metadata":{"generatedAt":"x","__proto__":{}}}',
    '{"\\ud83d\\ude00":1,"\U0001f600":2,"\\ud800":3}',
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH,
    '{"version":"1.0.0","metadata":{"generatedAt":5},"nodes":[{"id":"n1","type":"View"}]}',
]


def data_forms(text: str) -> Iterator[Any]:
    """``text`` as every accepted type: str (when it is one), bytes, bytearray, memoryview."""
    encoded = text.encode("utf-8", "surrogatepass")
    yield text
    yield encoded
    yield bytearray(encoded)
    yield memoryview(encoded)
    yield memoryview(b"  " + encoded + b"  ")[2:-2]


@pytest.mark.parametrize("text", GOOD_TEXTS, ids=range(len(GOOD_TEXTS)))
def test_parse_is_loads(impl: ModuleType, text: str) -> None:
    for data in data_forms(text):
        expected = call(impl.loads, data if isinstance(data, str) else bytes(data))
        got = call(parse, impl, data)
        if isinstance(expected, Raised):
            # Only a raw lone surrogate (in a str) is not valid UTF-8 once encoded.
            assert "\ud800" in text
            assert got == expected
            continue
        check_document(impl, got, expected)
        assert got == parse(impl, text)


def test_parse_surrogates(impl: ModuleType) -> None:
    assert parse(impl, '"\\ud800"').to_python() == "\ud800"
    assert parse(impl, '"\\ud83d\\ude00"').to_python() == "\U0001f600"
    assert parse(impl, '"\\ude00\\ud83d"').to_python() == "\ude00\ud83d"
    assert parse(impl, '["\ud800"]').to_python() == ["\ud800"]  # raw, in a str
    assert parse(impl, '{"\\udfff":"\\ud800x"}').to_python() == {"\udfff": "\ud800x"}
    assert parse(impl, '"\\ud800"').dumps() == b'"\\ud800"'
    assert parse(impl, '"\\ud83d\\ude00"').dumps() == '"\U0001f600"'.encode()
    # UTF-8 cannot hold a surrogate: the bytes of one are invalid UTF-8, as for loads.
    encoded = b'"\xed\xa0\x80"'
    assert call(parse, impl, encoded) == call(impl.loads, encoded)
    assert isinstance(call(parse, impl, encoded), Raised)


def test_parse_duplicate_keys(impl: ModuleType) -> None:
    doc = parse(impl, '{"a":1,"b":2,"a":3}')
    assert list(doc.to_python().items()) == [("a", 3), ("b", 2)]
    assert doc.dumps() == b'{"a":3,"b":2}'
    doc = parse(impl, '{"a":{"x":1},"b":0,"a":[2]}')
    assert list(doc.to_python().items()) == [("a", [2]), ("b", 0)]
    assert doc.dumps() == b'{"a":[2],"b":0}'
    doc = parse(impl, '{"1":1,"0":2,"1":3,"z":{"k":1,"k":{"k":2}}}')
    assert doc.dumps() == b'{"0":2,"1":3,"z":{"k":{"k":2}}}'
    assert doc.to_python() == {"1": 3, "0": 2, "z": {"k": {"k": 2}}}
    assert list(doc.to_python()) == ["1", "0", "z"]


def test_parse_array_index_keys(impl: ModuleType) -> None:
    text = '{"b":0,"10":1,"1":2,"0":3,"01":4,"-1":5,"4294967294":6,"4294967295":7}'
    doc = parse(impl, text)
    assert list(doc.to_python()) == ["b", "10", "1", "0", "01", "-1", "4294967294", "4294967295"]
    assert doc.dumps() == (
        b'{"0":3,"1":2,"10":1,"4294967294":6,"b":0,"01":4,"-1":5,"4294967295":7}'
    )
    assert doc.dumps() == impl.dumps(impl.loads(text))
    schema = parse(impl, '{"metadata":{"generatedAt":9,"1":1,"0":0},"10":1,"1":2,"a":3}')
    assert schema.canonical_json() == (
        b'{"1":2,"10":1,"a":3,"metadata":{"0":0,"1":1,"generatedAt":0}}'
    )


def test_parse_numbers(impl: ModuleType) -> None:
    cases = [
        ("-0", 0, b"0"),
        ("-0.0", -0.0, b"0"),
        ("1.0", 1.0, b"1"),
        ("1e21", 1e21, b"1e+21"),
        ("1e400", float("inf"), b"null"),
        ("-1e-400", -0.0, b"0"),
        ("100.0", 100.0, b"100"),
        ("18446744073709551617", 18446744073709551617, b"18446744073709552000"),
        ("-9223372036854775809", -9223372036854775809, b"-9223372036854776000"),
        ("9" * 4300, int("9" * 4300), b"null"),
        ("1" + "0" * 4300, float("inf"), b"null"),  # 4301 digits: a float, as loads
    ]
    for text, value, written in cases:
        doc = parse(impl, text)
        assert same(doc.to_python(), value), text
        assert same(doc.to_python(), impl.loads(text)), text
        assert doc.dumps() == written, text
    big = parse(impl, '{"n":[18446744073709551617,' + "7" * 4300 + "]}")
    assert big.to_python()["n"] == [18446744073709551617, int("7" * 4300)]


BAD_TEXTS = [
    "",
    " ",
    "{",
    "}",
    "[1,]",
    '{"a":1,}',
    '{"a" 1}',
    "{,}",
    "[1 2]",
    "tru",
    "nul",
    "01",
    "1.",
    ".5",
    "+1",
    "0x1",
    "1e",
    "'a'",
    '"a',
    '"\\x41"',
    '"\\u12"',
    '"a\nb"',
    '"\x00"',
    "NaN",
    "Infinity",
    "-Infinity",
    "[NaN]",
    '{"a":-Infinity}',
    '["NaN", NaN]',
    "1 2",
    "{} x",
    "[]]",
    "null null",
    '{"a":1}}',
    "\ufeff{}",
    "\xa0{}",
    "\x0b1",
    "{}\x0c",
    "[\u2028]",
    "//1",
    "/*x*/1",
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
    "[" * (MAX_DEPTH + 1),
    "[" * 100_000 + "]" * 100_000,
]
BAD_BYTES = [
    b"\xef\xbb\xbf{}",
    b"\xff",
    b"\x80",
    b'"\xc3"',
    b'"\xc3\x28"',
    b'"\xc0\xaf"',
    b'"\xe0\x80\xaf"',
    b'"\xed\xa0\x80"',
    b'"\xed\xbf\xbf"',
    b'"\xf4\x90\x80\x80"',
    b'["ok", "\xf0\x9f\x98"]',
    b"[1]\xff",
    b"\x00",
    b"1\x00",
]


def assert_parse_is_loads(core: ModuleType, text: str | bytes, max_bytes: int | None) -> None:
    forms = list(data_forms(text)) if isinstance(text, str) else list(data_forms_bytes(text))
    for data in forms:
        loads_data = data if isinstance(data, str) else bytes(data)
        expected = call(core.loads, loads_data, max_bytes)
        got = call(parse, core, data, max_bytes)
        if isinstance(expected, Raised):
            assert got == expected, (data, max_bytes)
        else:
            assert not isinstance(got, Raised), (data, max_bytes, got)
            assert same(got.to_python(), expected)


def data_forms_bytes(data: bytes) -> Iterator[Any]:
    yield data
    yield bytearray(data)
    yield memoryview(data)


@pytest.mark.parametrize("text", BAD_TEXTS + BAD_BYTES, ids=range(len(BAD_TEXTS + BAD_BYTES)))
def test_parse_errors_are_the_loads_errors(impl: ModuleType, text: str | bytes) -> None:
    assert isinstance(call(impl.loads, text), Raised)
    assert_parse_is_loads(impl, text, None)
    # The size limit comes first, as for loads.
    assert_parse_is_loads(impl, text, 0)


@pytest.mark.parametrize("text", ['{"a":[1,2,3]}', '"\ud800\ud800"', '"é€😀"', "[]", ""])
def test_parse_size_limit(impl: ModuleType, text: str) -> None:
    size = len(as_bytes(text))
    for max_bytes in (None, size + 1, size, size - 1, 1, 0, -1):
        assert_parse_is_loads(impl, text, max_bytes)
    over = call(parse, impl, as_bytes(text) + b" ", size)
    assert over == Raised(
        lf.ProtocolError, f"message is {size + 1} bytes, over the limit of {size}"
    )


@pytest.mark.parametrize(
    "data",
    [1, 1.5, None, True, ["[]"], {"a": 1}, ("[]",), object(), array.array("b", b"[]")],
    ids=lambda v: type(v).__name__,
)
def test_parse_takes_only_text_and_bytes(impl: ModuleType, data: Any) -> None:
    with pytest.raises(TypeError, match=type(data).__name__):
        parse(impl, data)
    with pytest.raises(TypeError):
        impl.loads(data)


def test_parse_keyword_and_positional(impl: ModuleType) -> None:
    cls = document_type(impl)
    assert cls.parse(b"[1]", max_bytes=3) == cls.parse(b"[1]")
    assert cls.parse(b"[1]", None).to_python() == [1]
    with pytest.raises(TypeError):
        cls.parse(data=b"[1]")
    with pytest.raises(lf.ProtocolError, match=r"^message is 3 bytes, over the limit of 2$"):
        cls.parse("[1]", max_bytes=2)


def test_parse_copies_its_input(impl: ModuleType) -> None:
    buffer = bytearray(b'{"a":[1]}')
    doc = parse(impl, buffer)
    buffer[2] = ord("b")
    view_source = bytearray(b'{"a":[2]}')
    from_view = parse(impl, memoryview(view_source))
    view_source[6] = ord("3")
    assert doc.to_python() == {"a": [1]}
    assert from_view.to_python() == {"a": [2]}


# ------------------------------------------------------------------ from_python


class _Wrapped:
    pass


def test_from_python_round_trip(impl: ModuleType) -> None:
    for text in GOOD_TEXTS:
        # A document's content, given back, makes an equal document, and so does the
        # document itself.
        doc = parse(impl, text)
        for again in (from_python(impl, doc.to_python()), from_python(impl, doc)):
            assert again == doc
            assert again.dumps() == doc.dumps()
            check_document(impl, again, impl.loads(impl.dumps(doc.to_python())))
    # from_python(v) is parse(dumps(v)): the content is the JSON text's, as a reader sees
    # it (JS numbers, tuples as lists, array-index keys first, one key per JS string).
    value = {
        "f": 1.0,
        "i": 1,
        "z": -0.0,
        "big": 2**64 + 1,
        "huge": 10**400,
        "nan": float("nan"),
        "s": "\ud800",
        "t": (1, (2.5,)),
        "1": 0,
        "\ud83d\ude00": 1,
        "\U0001f600": 2,
    }
    doc = from_python(impl, value)
    text = impl.dumps(value)
    assert same(doc.to_python(), impl.loads(text))
    assert same(
        doc.to_python(),
        {
            "1": 0,
            "f": 1,
            "i": 1,
            "z": 0,
            "big": 18446744073709552000,
            "huge": None,
            "nan": None,
            "s": "\ud800",
            "t": [1, [2.5]],
            "\U0001f600": 2,
        },
    )
    assert doc == parse(impl, text)


def test_from_python_takes_what_dumps_takes(impl: ModuleType) -> None:
    values = [
        (1, [2, (3,)], {"a": (4, 5)}),
        Box(first_value=[1, Box()], second_value={"k": (1.5,)}),
        {"z": 1, "1": Box(first_value="x"), "0": [float("inf"), float("nan")]},
        ALL_SCALARS,
        [ALL_KEYS, {"b": 1, "a": {"1": [], "0": {}}}],
    ]
    for i, value in enumerate(values):
        text = impl.dumps(value)
        doc = from_python(impl, value)
        check_document(impl, doc, impl.loads(text))
        assert doc == parse(impl, text)
        schema = from_python(impl, {"metadata": {"generatedAt": 1}, "v": value})
        assert schema == parse(impl, impl.dumps({"metadata": {"generatedAt": 1}, "v": value}))
        if i < 3:  # no keys equal as JS strings (which the text has twice, a reader once)
            assert doc.dumps() == text
            assert doc.dumps(pretty=True) == impl.dumps(value, pretty=True)
            for algorithm in ALGORITHMS:
                assert schema.checksum(algorithm) == impl.calculate_checksum(
                    {"metadata": {"generatedAt": 1}, "v": value}, algorithm
                )
    # Tuples are arrays, Structs objects (as dumps writes them).
    doc = from_python(impl, (1, Box(first_value=2)))
    assert doc.to_python() == [1, {"firstValue": 2}]
    assert type(doc.to_python()) is list


BAD_VALUES = [
    {1},
    b"x",
    {1: 2},
    {"a": [1, object()]},
    {"a": {"b": {(1,): 2}}},
    [float("nan"), _Wrapped()],
    Box(first_value={1j}),
    [[[[[]]]], {"0": {None: 1}}],
    {"k": bytearray(b"y")},
]


def deep(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize(
    "value", [*BAD_VALUES, deep(MAX_DEPTH + 1), deep(MAX_DEPTH + 5)], ids=range(len(BAD_VALUES) + 2)
)
def test_from_python_errors_are_the_dumps_errors(impl: ModuleType, value: Any) -> None:
    expected = call(impl.dumps, value)
    assert isinstance(expected, Raised)
    assert call(from_python, impl, value) == expected


def test_from_python_at_the_depth_limit(impl: ModuleType) -> None:
    value = deep(MAX_DEPTH)
    doc = from_python(impl, value)
    assert doc.dumps() == impl.dumps(value)
    assert same(doc.to_python(), impl.loads(impl.dumps(value)))


def test_from_python_copies_its_input(impl: ModuleType) -> None:
    value = {"metadata": {"generatedAt": 1}, "nodes": [{"id": 1, "props": {"a": [1]}}]}
    doc = from_python(impl, value)
    before = doc.dumps()
    value["nodes"][0]["props"]["a"].append(2)
    value["metadata"]["x"] = 1
    del value["nodes"]
    assert doc.dumps() == before
    assert doc.to_python() == {
        "metadata": {"generatedAt": 1},
        "nodes": [{"id": 1, "props": {"a": [1]}}],
    }


# --------------------------------------------------------------- fresh copies


def test_to_python_returns_fresh_copies(impl: ModuleType) -> None:
    text = '{"metadata":{"generatedAt":1},"nodes":[{"id":"a","props":{"x":[1,{"y":2}]}}]}'
    doc = parse(impl, text)
    before = (doc.dumps(), doc.checksum(), doc.canonical_json())
    first, second = doc.to_python(), doc.to_python()
    assert first == second == json.loads(text)
    assert first is not second
    assert first["nodes"] is not second["nodes"]
    assert first["nodes"][0]["props"]["x"][1] is not second["nodes"][0]["props"]["x"][1]
    first["nodes"][0]["props"]["x"][1]["y"] = 3
    first["nodes"].append({"id": "b"})
    first["metadata"].clear()
    first["new"] = 1
    assert doc.to_python() == json.loads(text)
    assert (doc.dumps(), doc.checksum(), doc.canonical_json()) == before


def test_results_are_not_part_of_the_document(impl: ModuleType) -> None:
    old = parse(impl, '{"metadata":{},"nodes":[{"id":1,"p":{"a":[1]}}]}')
    new = parse(impl, '{"metadata":{},"nodes":[{"id":1,"p":{"a":[2]}},{"id":2,"p":{"b":{}}}]}')
    snapshot = (old.dumps(), new.dumps())
    added, modified, _, _ = impl.calculate_schema_delta(old, new)
    added[0]["p"]["b"]["x"] = 1
    modified[0]["p"]["a"].append(3)
    patch = impl.calculate_schema_patch(old, new)
    for op in patch:
        value = op.get("value")
        if isinstance(value, dict):
            value["changed"] = True
        elif isinstance(value, list):
            value.append("changed")
    tracker = impl.SchemaTracker()
    tracker.update(old)
    _, delta, _, tracker_patch = tracker.update(new)
    delta[1][0]["p"]["a"].append(4)
    for op in tracker_patch:
        if isinstance(op.get("value"), dict):
            op["value"]["changed"] = True
    assert (old.dumps(), new.dumps()) == snapshot


# ----------------------------------------------------------- checksum errors


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        "1",
        '"metadata"',
        "null",
        '{"metadata":1}',
        '{"metadata":null}',
        '{"metadata":[]}',
    ],
)
def test_checksum_errors_are_the_dict_errors(impl: ModuleType, text: str) -> None:
    doc = parse(impl, text)
    value = impl.loads(text)
    for algorithm in (*ALGORITHMS, "md5", "SHA256", 1, None):
        expected = call(impl.calculate_checksum, value, algorithm)
        assert call(doc.checksum, algorithm) == expected
        assert call(impl.calculate_checksum, doc, algorithm) == expected
    assert call(doc.canonical_json) == call(impl.canonical_json, value)
    assert call(impl.canonical_json, doc) == call(impl.canonical_json, value)


def test_method_keywords(impl: ModuleType) -> None:
    doc = parse(impl, '{"metadata":{"generatedAt":3},"a":[1]}')
    value = doc.to_python()
    assert doc.checksum(algorithm="xxh3") == impl.calculate_checksum(value, "xxh3")
    assert doc.checksum("sha256") == doc.checksum() == impl.calculate_checksum(value)
    assert doc.dumps(pretty=True) == impl.dumps(value, pretty=True)
    assert doc.dumps() == doc.dumps(pretty=False) == impl.dumps(value)


# ------------------------------------------------------------ conformance vectors


def vector_sample(core: ModuleType, name: str) -> list[dict[str, Any]]:
    """The records of a vector file: all of them on the native backend; on the pure one,
    whose document methods are its dict functions on the value, the first of each
    category and every error record (so the file stays fast)."""
    records = load_vectors(name)
    if core is native:
        return list(records)
    seen: set[str] = set()
    sample = []
    for record in records:
        if record["category"] not in seen or record.get("error"):
            sample.append(record)
        seen.add(record["category"])
    return sample


def test_checksum_vectors(impl: ModuleType) -> None:
    records = [*vector_sample(impl, "checksum"), *vector_sample(impl, "checksum_validate")]
    assert len(records) > 50
    for record in records:
        text = record["schema_json"]
        doc = parse(impl, text)
        value = impl.loads(text)
        assert same(doc.to_python(), value), record["id"]
        sha = call(doc.checksum)
        assert call(lf.calculate_checksum, doc) == sha, record["id"]
        if record.get("error"):
            assert isinstance(sha, Raised), record["id"]
            assert sha == call(lf.calculate_checksum, value)
            assert sha.kind is lf.ProtocolError
            assert call(lf.canonical_json, doc) == call(lf.canonical_json, value)
            continue
        if "checksum" in record:
            assert sha == record["checksum"], record["id"]
        else:
            result = lf.validate_checksum(doc, record["expected"])
            assert (result.valid, result.errors) == (record["valid"], record["errors"])
            assert sha == lf.calculate_checksum(value)
        canonical = lf.canonical_json(doc)
        assert hashlib.sha256(canonical).hexdigest() == sha
        assert doc.canonical_json() == canonical
        assert doc.checksum("xxh3") == "xxh3:" + xxhash.xxh3_128_hexdigest(canonical)
        assert lf.calculate_checksum(doc, algorithm="xxh3") == doc.checksum("xxh3")
        # Serialization of the schema, compact and pretty, as the dict's.
        compact = impl.dumps(value)
        assert doc.dumps() == compact, record["id"]
        assert impl.dumps(doc) == compact
        assert doc.dumps(pretty=True) == impl.dumps(value, pretty=True)


def test_delta_and_patch_vectors(impl: ModuleType) -> None:
    records = vector_sample(impl, "delta")
    assert len(records) > 40
    for record in records:
        old_text, new_text = record["old_json"], record["new_json"]
        for a, b in ((old_text, new_text), (new_text, old_text)):
            old, new = impl.loads(a), impl.loads(b)
            old_doc, new_doc = parse(impl, a), parse(impl, b)
            delta = call(impl.calculate_schema_delta, old, new)
            patch = call(impl.calculate_schema_patch, old, new)
            # Both documents, through the public wrappers too, and each mixed with a dict.
            assert_same(call(impl.calculate_schema_delta, old_doc, new_doc), delta)
            assert_same(call(impl.calculate_schema_patch, old_doc, new_doc), patch)
            assert_same(call(lf.calculate_schema_patch, old_doc, new_doc), patch)
            assert_same(
                call(lf.calculate_schema_delta, old_doc, new_doc),
                call(lf.calculate_schema_delta, old, new),
            )
            for x, y in ((old_doc, new), (old, new_doc)):
                assert_same(call(impl.calculate_schema_delta, x, y), delta)
                assert_same(call(impl.calculate_schema_patch, x, y), patch)
            assert new_doc.dumps() == impl.dumps(new), record["id"]


# ------------------------------------------------------------------- the tracker


def _run_tracker(core: ModuleType, schemas: list[Any], algorithm: str) -> list[Any]:
    tracker = core.SchemaTracker(algorithm)
    results: list[Any] = []
    for schema in schemas:
        result = call(tracker.update, schema)
        results.append(result)
        if not isinstance(result, Raised):
            assert tracker.schema is schema
            assert tracker.checksum == result[0]
    return results


def _tracker_sequences(core: ModuleType, texts: list[str]) -> Iterator[list[Any]]:
    dicts = [core.loads(text) for text in texts]
    docs = [parse(core, text) for text in texts]
    yield docs
    yield [doc if i % 2 else value for i, (doc, value) in enumerate(zip(docs, dicts, strict=True))]
    yield [value if i % 2 else doc for i, (doc, value) in enumerate(zip(docs, dicts, strict=True))]


def _edits(nodes: int, steps: int, seed: int) -> list[str]:
    schema = make_schema(nodes, 2, seed)
    texts = [json.dumps(schema)]
    for step in range(steps):
        schema = mutate(schema, 1 + step % 4, seed=seed + step)
        texts.append(json.dumps(schema))
    return texts


def test_tracker_with_documents(impl: ModuleType) -> None:
    texts = _edits(25, 6, seed=3)
    texts.insert(3, '{"metadata":{},"nodes":"not an array"}')  # no delta, but a patch
    texts.insert(5, '{"nodes":[]}')  # cannot be checksummed: refused, tracker unchanged
    texts.append(texts[0])
    for algorithm in ALGORITHMS:
        expected = _run_tracker(impl, [impl.loads(text) for text in texts], algorithm)
        assert isinstance(expected[5], Raised)
        for sequence in _tracker_sequences(impl, texts):
            got = _run_tracker(impl, sequence, algorithm)
            for got_one, expected_one in zip(got, expected, strict=True):
                assert_same(got_one, expected_one)


def test_public_tracker_with_documents(impl: ModuleType) -> None:
    texts = _edits(20, 4, seed=8)
    docs = [parse(impl, text) for text in texts]
    dict_tracker = lf.SchemaTracker(impl.loads(texts[0]))
    doc_tracker = lf.SchemaTracker(docs[0], algorithm="sha256")
    assert doc_tracker.schema is docs[0]
    assert doc_tracker.checksum == dict_tracker.checksum == docs[0].checksum()
    for i, (text, doc) in enumerate(zip(texts[1:], docs[1:], strict=True)):
        value = impl.loads(text)
        expected = dict_tracker.update(value)
        schema = doc if i % 3 else value
        change = doc_tracker.update(schema)
        assert change.schema is schema
        assert doc_tracker.schema is schema
        assert change.checksum == expected.checksum == doc.checksum()
        assert change.incremental == expected.incremental
        assert change.delta == expected.delta
        assert same(change.patch, expected.patch)
    with pytest.raises(lf.ProtocolError):
        doc_tracker.update(parse(impl, "[]"))
    assert doc_tracker.schema is schema


def _saves(data: st.DataObject, nodes: int) -> list[bytes]:
    """A file's successive contents, as an editor and a formatter change it: edits of
    nodes, the stamp at the top, indentation, moved nodes, duplicate keys, escapes, and
    saves of the same bytes."""
    schema = make_schema(nodes, 2, data.draw(st.integers(0, 1 << 16), label="seed"))
    indent = data.draw(st.sampled_from([None, 1, 2]), label="indent")
    text = json.dumps(schema, indent=indent)
    saves = [text]
    for step in range(data.draw(st.integers(1, 6), label="steps")):
        kind = data.draw(
            st.sampled_from(["edit", "stamp", "indent", "move", "duplicate", "escape", "same"]),
            label="kind",
        )
        if kind == "edit":
            schema = mutate(schema, data.draw(st.integers(1, 4)), seed=step)
        elif kind == "stamp":
            schema["metadata"]["generatedAt"] = step
        elif kind == "indent":
            indent = data.draw(st.sampled_from([None, 1, 2]), label="indent")
        elif kind == "move" and len(schema["nodes"]) > 1:
            schema["nodes"].insert(
                data.draw(st.integers(0, len(schema["nodes"]) - 1)), schema["nodes"].pop()
            )
        if kind in ("duplicate", "escape"):
            # The same value or a small change, in text json.dumps does not write.
            places = [match.start() for match in re.finditer('"type"', text)]
            at = places[data.draw(st.integers(0, len(places) - 1))]
            extra = '"type": "Dup", ' if kind == "duplicate" else '"\\u0078": 1, '
            text = text[:at] + extra + text[at:]
            schema = json.loads(text)
        elif kind != "same":
            text = json.dumps(schema, indent=indent)
        saves.append(text)
    return [save.encode() for save in saves]


def _parse_chain(core: ModuleType, saves: list[bytes]) -> list[Any]:
    """Each save parsed with the previous one's document, checked against a fresh parse."""
    docs: list[Any] = []
    for save in saves:
        doc = document_type(core).parse(save, previous=docs[-1] if docs else None)
        fresh = document_type(core).parse(save)
        assert doc == fresh
        assert same(doc.to_python(), core.loads(save))
        assert doc.canonical_json() == fresh.canonical_json()
        docs.append(doc)
    return docs


@BACKENDS
@fewer
@given(data=st.data())
def test_parse_after_a_previous_version(core: ModuleType, data: st.DataObject) -> None:
    """``parse(data, previous=doc)`` copies what ``doc``'s parse built for the array items
    whose text did not change: the document is the one a fresh parse makes, and so is
    the one parsed after it (what was copied is copied again, moved)."""
    saves = _saves(data, data.draw(st.integers(1, 40), label="nodes"))
    docs = _parse_chain(core, saves)
    # Any document will do as the previous one: a different one, or one without text.
    other = document_type(core).parse(saves[-1].decode())
    for save, doc in zip(saves, docs, strict=True):
        assert document_type(core).parse(save, previous=other) == doc


@pytest.mark.parametrize("wrap", [1, 2])
def test_parse_after_keeps_the_depth_limit(impl: ModuleType, wrap: int) -> None:
    """An unchanged item moved deeper is parsed again: past ``MAX_DEPTH`` it is an error."""
    # Long enough that the parse finds it in the previous text (a run of shared bytes is
    # looked for in changed stretches of 4 KB and more).
    item = (
        '{"id":1,"pad":"'
        + "-".join(map(str, range(1200)))
        + '","x":'
        + "[" * (MAX_DEPTH - 3)
        + "]" * (MAX_DEPTH - 3)
        + "}"
    )
    old = ("[[" + item + "]]").encode()
    new = ("[" * (2 + wrap) + item + "]" * (2 + wrap)).encode()
    previous = parse(impl, old)
    assert previous.to_python()[0][0]["id"] == 1
    expected = call(parse, impl, new)
    assert isinstance(expected, Raised)
    assert call(document_type(impl).parse, new, previous=previous) == expected
    # Moved shallower, it is copied.
    moved = document_type(impl).parse(b"[" + item.encode() + b"]", previous=previous)
    assert moved.to_python()[0]["id"] == 1


def test_parse_previous_must_be_a_document(impl: ModuleType) -> None:
    for bad in (1, "{}", {}, impl.loads("{}")):
        with pytest.raises(TypeError, match="previous must be a SchemaDocument or None, not"):
            document_type(impl).parse(b"{}", previous=bad)
    assert document_type(impl).parse(b"[1]", previous=None).to_python() == [1]


@BACKENDS
@fewer
@given(data=st.data())
def test_tracker_reuses_the_text_that_did_not_change(core: ModuleType, data: st.DataObject) -> None:
    """A document parsed from ``bytes`` keeps them, and the tracker copies what it wrote
    of the previous version for every array item whose text did not change. Whatever
    the saves, it gives what documents parsed from ``str`` (which keep no text) and
    dicts give."""
    saves = _saves(data, data.draw(st.integers(1, 40), label="nodes"))
    algorithm = data.draw(st.sampled_from(ALGORITHMS), label="algorithm")
    expected = _run_tracker(core, [core.loads(save) for save in saves], algorithm)
    chained = _parse_chain(core, saves)
    from_text = [parse(core, save.decode()) for save in saves]
    for sequence in ([parse(core, save) for save in saves], chained, from_text):
        got = _run_tracker(core, sequence, algorithm)
        for got_one, expected_one in zip(got, expected, strict=True):
            assert_same(got_one, expected_one)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tracker_reuses_the_text_of_large_saves(algorithm: str) -> None:
    """The same on medium-tree (465 KB: the checksum is hashed on a second thread, and
    copied parts span the chunks it hashed), with edits at both ends and in between."""
    schema = preset_schema("medium", "tree", 42)
    texts = [json.dumps(schema, separators=(",", ":"))]
    for step in range(4):
        schema = mutate(schema, 1 + step, seed=50 + step)
        schema["metadata"]["generatedAt"] = step
        texts.append(json.dumps(schema, separators=(",", ":")))
    texts.append(json.dumps(schema, indent=1))
    texts.append(texts[-1])
    reusing = native.SchemaTracker(algorithm)
    plain = native.SchemaTracker(algorithm)
    previous = None
    for text in texts:
        doc = native.SchemaDocument.parse(text.encode(), previous=previous)
        fresh = native.SchemaDocument.parse(text)
        assert doc == fresh
        got = reusing.update(doc, encoded=True)
        want = plain.update(fresh, encoded=True)
        assert got == want
        previous = doc
        assert got[0] == native.calculate_checksum(json.loads(text), algorithm)


def _encoded(core: ModuleType, change: Any, *, with_delta: bool = True) -> Any:
    """What ``update(..., encoded=True, with_delta=...)`` returns, from ``update``'s."""
    if isinstance(change, Raised):
        return change
    checksum, delta, incremental, patch = change
    patch_json = None if patch is None else core.dumps(patch)
    if delta is None:
        return checksum, None, 0, incremental, patch_json
    added, modified, removed, changes = delta
    written = lf.SchemaDelta(
        added=added,
        modified=modified,
        removed=removed,
        metadata_changes=lf.MetadataChanges(**changes) if changes else msgspec.UNSET,
    )
    delta_json = lf.serialize_message(written) if with_delta else None
    return checksum, delta_json, len(added) + len(modified) + len(removed), incremental, patch_json


def test_tracker_encoded(impl: ModuleType) -> None:
    texts = _edits(20, 6, seed=11)
    texts.insert(2, '{"metadata":{},"nodes":"not an array","theme":{"a":1.0}}')
    texts.insert(4, "[]")  # refused: the tracker keeps the previous schema
    texts.insert(6, texts[5].replace('"nodes"', '"version":null,"nodes"', 1))
    for algorithm, with_delta in (("sha256", True), ("xxh3", False)):
        expected = _run_tracker(impl, [impl.loads(text) for text in texts], algorithm)
        wanted = [_encoded(impl, change, with_delta=with_delta) for change in expected]
        for sequence in ([impl.loads(text) for text in texts], *_tracker_sequences(impl, texts)):
            tracker = impl.SchemaTracker(algorithm)
            for schema, want in zip(sequence, wanted, strict=True):
                got = call(tracker.update, schema, encoded=True, with_delta=with_delta)
                if isinstance(got, Raised) or len(got) == len(want):
                    assert got == want
                    continue
                # The JSON length, where the tracker knows it without writing the schema.
                assert got[: len(want)] == want
                assert got[len(want) :] in ((None,), (len(impl.dumps(schema)),))


def test_public_tracker_update_encoded(impl: ModuleType) -> None:
    texts = _edits(15, 4, seed=5)
    plain, encoded = lf.SchemaTracker(), lf.SchemaTracker()
    for i, text in enumerate(texts):
        change = plain.update(impl.loads(text))
        doc = parse(impl, text)
        got = encoded.update_encoded(doc, delta=i % 2 == 0)
        assert encoded.schema is doc
        assert got.checksum == change.checksum == encoded.checksum
        assert got.incremental == change.incremental
        assert got.patch == (None if change.patch is None else impl.dumps(change.patch))
        if change.delta is None:
            assert (got.delta, got.delta_changes) == (None, 0)
            continue
        delta = change.delta
        assert got.delta_changes == len(delta.added) + len(delta.modified) + len(delta.removed)
        assert got.delta == (lf.serialize_message(delta) if i % 2 == 0 else None)


def test_documents_copy_as_themselves(impl: ModuleType) -> None:
    doc = parse(impl, b'{"a":[1,{"b":2}]}')
    assert copy.copy(doc) is doc
    assert copy.deepcopy(doc) is doc
    copied = copy.deepcopy({"doc": doc, "list": [doc]})
    assert copied["doc"] is doc
    assert copied["list"][0] is doc


def test_nbytes(impl: ModuleType) -> None:
    small = parse(impl, b"[]")
    large = from_python(impl, make_schema(50, 2, 1))
    assert isinstance(small.nbytes, int)
    assert 0 < small.nbytes < large.nbytes
    with pytest.raises(AttributeError):
        large.nbytes = 1  # type: ignore[misc]


# ------------------------------------------------------------- public wrappers


def test_public_functions_take_documents(impl: ModuleType) -> None:
    old_value = make_schema(30, 3, 5)
    new_value = mutate(old_value, 5, seed=2)
    old = parse(impl, json.dumps(old_value))
    new = from_python(impl, new_value)
    assert lf.calculate_checksum(new) == lf.calculate_checksum(new_value) == new.checksum()
    assert lf.calculate_checksum(new, algorithm="xxh3") == new.checksum("xxh3")
    assert lf.canonical_json(new) == lf.canonical_json(new_value) == new.canonical_json()
    assert lf.validate_checksum(new, new.checksum()).valid
    assert lf.validate_checksum(new, old.checksum()).errors == [
        f"Checksum mismatch: expected {old.checksum()}, got {new.checksum()}"
    ]
    expected_delta = lf.calculate_schema_delta(old_value, new_value)
    assert lf.calculate_schema_delta(old, new) == expected_delta
    assert lf.calculate_schema_delta(old_value, new) == expected_delta
    assert lf.calculate_schema_patch(old, new) == lf.calculate_schema_patch(old_value, new_value)
    delta = lf.calculate_schema_delta(old, new)
    applied = lf.apply_schema_delta(old.to_python(), delta)
    assert lf.calculate_checksum(applied) == new.checksum()
    patched = lf.apply_schema_patch(old.to_python(), lf.calculate_schema_patch(old, new))
    assert from_python(impl, patched) == new


def test_public_name() -> None:
    assert "SchemaDocument" in lf.__all__
    assert "SchemaDocument" in dir(lf)
    assert lf.SchemaDocument in (native.SchemaDocument, pure.SchemaDocument)
    # In a fresh interpreter (no test has swapped the backend): the selected backend's.
    code = (
        "import lumora_fast as lf; from lumora_fast import _backend; "
        "assert lf.SchemaDocument is _backend.core.SchemaDocument, lf.SchemaDocument; "
        "assert lf.codec.SchemaDocument is lf.SchemaDocument; print(_backend.BACKEND)"
    )
    for flag, name in (("0", "native"), ("1", "pure")):
        env = {**os.environ, "LUMORA_FAST_PURE": flag}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == name


# ----------------------------------------------------------------- Hypothesis


@BACKENDS
@given(value=json_values)
@example(value=[ALL_SCALARS, ALL_KEYS])
@example(value={"\ud83d\ude00": 1, "\U0001f600": 2, "1": 3, "0": 4})
def test_parse_of_dumps_is_loads_of_dumps(core: ModuleType, value: Any) -> None:
    text = core.dumps(value)
    expected = core.loads(text)
    for data in (text, text.decode("utf-8", "surrogatepass")):
        doc = parse(core, data)
        assert same(doc.to_python(), expected)
        for pretty in (False, True):
            assert doc.dumps(pretty=pretty) == core.dumps(expected, pretty=pretty)
            assert core.dumps(doc, pretty=pretty) == core.dumps(expected, pretty=pretty)
    schema = {"metadata": {"generatedAt": 1}, "v": value}
    doc = parse(core, core.dumps(schema))
    expected_schema = doc.to_python()
    for algorithm in ALGORITHMS:
        assert doc.checksum(algorithm) == core.calculate_checksum(expected_schema, algorithm)
    assert doc.canonical_json() == core.canonical_json(expected_schema)


@fewer
@BACKENDS
@given(schema=schemas())
def test_checksums_of_parsed_schemas(core: ModuleType, schema: Any) -> None:
    text = call(core.dumps, schema)
    if isinstance(text, Raised):
        return
    doc = parse(core, text)
    check_document(core, doc, core.loads(text))


@BACKENDS
@given(value=st.one_of(json_values, sub_values))
def test_from_python_writes_what_dumps_writes(core: ModuleType, value: Any) -> None:
    doc = from_python(core, value)
    check_document(core, doc, core.loads(core.dumps(value)))
    assert doc == parse(core, core.dumps(value))


@BACKENDS
@given(value=json_values)
def test_from_python_is_parse_of_dumps(core: ModuleType, value: Any) -> None:
    text = core.dumps(value)
    doc = from_python(core, value)
    assert same(doc.to_python(), core.loads(text))
    assert doc == parse(core, text)
    again = from_python(core, doc.to_python())
    assert again == doc
    assert same(again.to_python(), core.loads(core.dumps(doc.to_python())))


@fewer
@BACKENDS
@given(value=st.one_of(bad_values, deep_values()))
def test_from_python_errors(core: ModuleType, value: Any) -> None:
    expected = call(core.dumps, value)
    got = call(from_python, core, value)
    if isinstance(expected, Raised):
        assert got == expected
    else:
        assert not isinstance(got, Raised), got
        assert got == parse(core, expected)


@BACKENDS
@given(text=texts, slack=st.none() | st.integers(-2, 1))
def test_parse_errors_on_arbitrary_text(core: ModuleType, text: str, slack: int | None) -> None:
    encoded = text.encode("utf-8", "surrogatepass")
    max_bytes = None if slack is None else max(0, len(encoded) + slack)
    for data in (text, encoded, bytearray(encoded)):
        expected = call(core.loads, data if isinstance(data, str) else bytes(data), max_bytes)
        got = call(parse, core, data, max_bytes)
        if isinstance(expected, Raised):
            assert got == expected
        else:
            assert not isinstance(got, Raised), got
            assert same(got.to_python(), expected)


def _documents(core: ModuleType, value: Any, *, parsed: bool) -> list[Any]:
    """The document of ``value`` (by parsing its text or by ``from_python``), or none."""
    text = call(core.dumps, value)
    if isinstance(text, Raised):
        return []
    return [parse(core, text) if parsed else from_python(core, value)]


@fewer
@BACKENDS
@given(pair=schema_pairs())
def test_delta_and_patch_between_documents(core: ModuleType, pair: tuple[Any, Any]) -> None:
    old, new = pair
    old_docs, new_docs = _documents(core, old, parsed=False), _documents(core, new, parsed=True)
    for doc_old, doc_new in zip(old_docs, new_docs, strict=False):
        a, b = doc_old.to_python(), doc_new.to_python()
        for function in (core.calculate_schema_delta, core.calculate_schema_patch):
            assert_same(call(function, doc_old, doc_new), call(function, a, b))
            # Mixed with the original values (floats, tuples, Structs, keys in their
            # order): the results are those of the document's to_python() and the value.
            assert_same(call(function, doc_old, new), call(function, a, new))
            assert_same(call(function, old, doc_new), call(function, old, b))


@fewer
@BACKENDS
@given(
    nodes=st.integers(1, 10),
    seed=st.integers(0, 99),
    edits=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    mix=st.lists(st.booleans(), min_size=5, max_size=5),
    algorithm=st.sampled_from(ALGORITHMS),
)
def test_tracker_on_edited_schemas(
    core: ModuleType, nodes: int, seed: int, edits: list[int], mix: list[bool], algorithm: str
) -> None:
    schema = make_schema(nodes, 1 + seed % 3, seed)
    values = [schema]
    for i, k in enumerate(edits):
        values.append(mutate(values[-1], k, seed=seed + i))
    texts = [core.dumps(value) for value in values]
    expected = _run_tracker(core, [core.loads(text) for text in texts], algorithm)
    sequence = [
        parse(core, text) if use_doc else core.loads(text)
        for text, use_doc in zip(texts, mix, strict=False)
    ]
    for got_one, expected_one in zip(
        _run_tracker(core, sequence, algorithm), expected, strict=False
    ):
        assert_same(got_one, expected_one)


# ---------------------------------------------------------------------- presets


@pytest.mark.parametrize("shape", ["flat", "tree"])
def test_small_preset(impl: ModuleType, shape: str) -> None:
    schema = preset_schema("small", shape)
    edited = mutate(schema, 6, seed=4)
    old, new = from_python(impl, schema), parse(impl, impl.dumps(edited))
    check_document(impl, old, impl.loads(impl.dumps(schema)))
    check_document(impl, new, impl.loads(impl.dumps(edited)))
    assert old.checksum() == impl.calculate_checksum(schema)
    assert same(
        impl.calculate_schema_delta(old, new), impl.calculate_schema_delta(schema, new.to_python())
    )
    assert same(
        impl.calculate_schema_patch(old, new), impl.calculate_schema_patch(schema, new.to_python())
    )
    tracker = impl.SchemaTracker()
    tracker.update(old)
    reference = impl.SchemaTracker()
    reference.update(schema)
    assert_same(tracker.update(new), reference.update(new.to_python()))


# ---------------------------------------------------- native and pure agree


def _outcomes(make: Callable[[ModuleType], Any]) -> tuple[Any, Any]:
    return call(make, native), call(make, pure)


def _summary(doc: Any) -> Any:
    """Everything a document shows, for comparing the two backends' documents."""
    if isinstance(doc, Raised):
        return doc
    return (
        doc.to_python(),
        doc.dumps(),
        doc.dumps(pretty=True),
        repr(doc),
        *(call(doc.checksum, algorithm) for algorithm in ALGORITHMS),
        call(doc.canonical_json),
    )


def _assert_agree(make: Callable[[ModuleType], Any], *, messages: bool = True) -> None:
    n, p = (_summary(doc) for doc in _outcomes(make))
    if isinstance(n, Raised) or isinstance(p, Raised):
        if messages:
            assert n == p
        else:
            assert isinstance(n, Raised), n
            assert isinstance(p, Raised), p
            assert n.kind is p.kind
        return
    assert same(n, p), (n, p)


@given(value=st.one_of(json_values, schemas()))
@example(value=[ALL_SCALARS, ALL_KEYS])
def test_native_and_pure_documents_agree(value: Any) -> None:
    text = pure.dumps(value)
    _assert_agree(lambda core: parse(core, text))
    _assert_agree(lambda core: from_python(core, value))
    n, p = _outcomes(lambda core: parse(core, text) == from_python(core, value))
    assert n == p


@fewer
@given(value=st.one_of(sub_values, bad_values, deep_values()))
def test_native_and_pure_from_python_agree(value: Any) -> None:
    _assert_agree(lambda core: from_python(core, value))


@given(text=st.one_of(texts, deep_texts), slack=st.none() | st.integers(-2, 1))
def test_native_and_pure_parse_agree(text: str, slack: int | None) -> None:
    encoded = text.encode("utf-8", "surrogatepass")
    max_bytes = None if slack is None else max(0, len(encoded) + slack)
    for data in (text, encoded):
        _check_parse_agrees(data, max_bytes)


def _check_parse_agrees(data: str | bytes, max_bytes: int | None) -> None:
    # Syntax-error texts are each backend's own (as for loads); the size limit's is not.
    n, p = _outcomes(lambda core: parse(core, data, max_bytes))
    sized = any(isinstance(r, Raised) and r.message.startswith("message is ") for r in (n, p))
    _assert_agree(lambda core: parse(core, data, max_bytes), messages=sized)


def test_native_and_pure_agree_on_every_token() -> None:
    for token in JSON_TOKENS:
        for text in (token, f"[{token}]", f'{{"k":{token}}}'):
            _assert_agree(lambda core: parse(core, text), messages=False)  # noqa: B023


@pytest.mark.parametrize(
    "data", [1, None, ["[]"], array.array("b", b"[]")], ids=lambda v: type(v).__name__
)
def test_native_and_pure_type_errors_agree(data: Any) -> None:
    n, p = _outcomes(lambda core: parse(core, data))
    assert isinstance(n, Raised)
    assert n == p


def test_native_and_pure_agree_on_documents_where_only_dicts_go() -> None:
    # Not part of the contract (these functions take plain values): only agreement.
    for make in (
        lambda core: core.apply_schema_delta(parse(core, '{"nodes":[]}'), [], [], [], None),
        lambda core: core.apply_schema_patch(parse(core, "{}"), []),
        lambda core: core.apply_schema_patch({}, parse(core, "[]")),
        lambda core: core.validate_message(parse(core, '{"type":"ping"}')),
        lambda core: core.dumps({"schema": parse(core, "{}")}),
        lambda core: core.dumps([from_python(core, 1)]),
        lambda core: from_python(core, parse(core, '{"a":[1.0]}')).to_python(),
    ):
        n, p = (_plain(result) for result in _outcomes(make))
        assert_same(n, p)


def _plain(result: Any) -> Any:
    """A document as what it shows (its class is each backend's own)."""
    if isinstance(result, native.SchemaDocument | pure.SchemaDocument):
        return ("document", result.dumps(), result.to_python())
    return result


@fewer
@given(pair=schema_pairs())
def test_native_and_pure_delta_and_patch_on_documents_agree(pair: tuple[Any, Any]) -> None:
    old, new = pair
    text_old, text_new = call(pure.dumps, old), call(pure.dumps, new)
    if isinstance(text_old, Raised) or isinstance(text_new, Raised):
        return
    for name in ("calculate_schema_delta", "calculate_schema_patch"):
        n, p = _outcomes(
            lambda core: getattr(core, name)(parse(core, text_old), parse(core, text_new))  # noqa: B023
        )
        assert_same(n, p)


def test_documents_from_one_backend_are_not_the_others() -> None:
    # Each backend unwraps its own documents only: a foreign one is just an object.
    native_doc, pure_doc = parse(native, b"{}"), parse(pure, b"{}")
    assert type(native_doc) is not type(pure_doc)
    with pytest.raises(lf.ProtocolError):
        pure.dumps(native_doc)
    with pytest.raises(lf.ProtocolError):
        native.dumps(pure_doc)


@pytest.mark.parametrize(
    "text",
    [
        '{"metadata":{},"nodes":[]}',
        '{"metadata":{},"nodes":[{"id":1},{}]}',
        "[]",
        "null",
        "1.5",
        '"s"',
        "true",
        '{"nodes":[]}',
        '{"metadata":[],"nodes":[]}',
        '{"metadata":{},"nodes":{}}',
        '{"metadata":{},"nodes":[{},[],null]}',
        '{"metadata":{},"nodes":[{},"x"]}',
    ],
)
def test_native_and_pure_schema_problem_agree(text: str) -> None:
    n, p = _outcomes(lambda core: core.schema_problem(parse(core, text)))
    assert n == p
    n, p = _outcomes(lambda core: core.schema_problem(core.loads(text)))
    assert isinstance(n, Raised)
    assert n == p
