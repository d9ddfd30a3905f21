"""``SchemaDocument.parse`` on arbitrary bytes, and on the same input as a ``str``.

The document's fast parser gives up on anything unusual and lets the reference parser
(the one ``loads`` uses) explain; this target checks that the two paths never disagree.

Properties:

* ``SchemaDocument.parse(x)`` raises exactly what ``loads(x)`` raises (class and text),
  or neither raises; nothing else is ever raised;
* then ``doc.to_python()`` is ``loads(x)`` (types, key order, float bits), ``doc.dumps()``
  is ``dumps(loads(x))``, and when the value has a ``metadata`` object, the checksums
  (sha256 and xxh3) and the canonical bytes are the dict's;
* the pure backend's document agrees with the native one (same outcome and text);
* ``SchemaDocument.parse(x, previous=p)``, which copies what ``p``'s parse built for
  the array items whose text ``x`` shares, gives what ``parse(x)`` gives, for ``p`` the
  document of ``x`` itself, of ``x`` with one digit changed, and of ``x`` rotated.
"""

from __future__ import annotations

from typing import Any

from lumora_fuzz import (
    Raised,
    call,
    check,
    native,
    only_protocol_errors,
    pure,
    same,
    small,
    text_seeds,
)

EXTRA_SEEDS = [
    b'{"metadata":{"generatedAt":1},"nodes":[{"id":"a","type":"View","props":{"x":1.0}}]}',
    b'{"a":1,"a":2,"b":{"k":[1,2,{"k":3,"k":4}]},"a":5}',
    b'{"2":1,"1":2,"x":3,"0":4,"4294967295":5,"4294967294":6}',
    b'"\\ud83d\\ude00\\ud800\\udc00\\udc00x"',
    b'{"k\\u0000":1,"k":2,"\\u00e9":3,"\xc3\xa9":4}',
    b"[12345678901234567890,-9223372036854775809,9223372036854775807,1e400,-0,-0.0]",
    b"[" * 512 + b"]" * 512,
    b"[" * 513 + b"]" * 513,
    b'{"a":"' + b"x" * 40 + b'\\n"}',
    b"[1.]",
    b"[1e]",
    b'{"a" : 1 , "b" :[ ] }',
]


def seeds() -> list[bytes]:
    return small([*EXTRA_SEEDS, *text_seeds()])


def _schema_checks(doc: Any, value: Any) -> None:
    if not (isinstance(value, dict) and isinstance(value.get("metadata"), dict)):
        return
    for algorithm in ("sha256", "xxh3"):
        ours = call(doc.checksum, algorithm)
        theirs = call(native.calculate_checksum, value, algorithm)
        check(same(ours, theirs), f"checksum({algorithm}) differs", ours, theirs)
    ours = call(doc.canonical_json)
    theirs = call(native.canonical_json, value)
    check(same(ours, theirs), "canonical_json differs", ours, theirs)


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")  # invalid bytes: lone surrogates
    for arg in (data, text):
        doc = call(native.SchemaDocument.parse, arg)
        value = call(native.loads, arg)
        only_protocol_errors(doc, value)
        if isinstance(doc, Raised) or isinstance(value, Raised):
            check(doc == value, "parse and loads differ", doc, value)
        else:
            back = call(doc.to_python)
            check(same(back, value), "to_python() is not loads()", back, value)
            dumped = call(doc.dumps)
            check(same(dumped, call(native.dumps, value)), "dumps differs", dumped)
            _schema_checks(doc, value)
        twin = call(pure.SchemaDocument.parse, arg)
        if isinstance(doc, Raised) or isinstance(twin, Raised):
            check(
                isinstance(doc, Raised) == isinstance(twin, Raised),
                "native and pure documents differ",
                doc,
                twin,
            )
        else:
            check(same(twin.dumps(), doc.dumps()), "native and pure documents differ", arg)
    _after_previous(data)


def _after_previous(data: bytes) -> None:
    fresh = call(native.SchemaDocument.parse, data)
    variants = [data, data[len(data) // 2 :] + data[: len(data) // 2]]
    digit = next((i for i, b in enumerate(data) if 0x30 <= b <= 0x39), None)
    if digit is not None:
        changed = bytes([0x30 + (data[digit] - 0x30 + 1) % 10])
        variants.append(data[:digit] + changed + data[digit + 1 :])
    for variant in variants:
        previous = call(native.SchemaDocument.parse, variant)
        if isinstance(previous, Raised):
            continue
        doc = call(native.SchemaDocument.parse, data, previous=previous)
        if isinstance(doc, Raised) or isinstance(fresh, Raised):
            check(doc == fresh, "parse after a previous version differs", doc, fresh)
            continue
        value = fresh.to_python()
        back = call(doc.to_python)
        check(same(back, value), "parse after a previous version differs", back, value)
        _schema_checks(doc, value)
