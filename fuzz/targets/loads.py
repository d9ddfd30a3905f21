"""``_core.loads`` on arbitrary bytes, and on the same input as a ``str``.

Properties:

* native and pure agree: the same value (types, key order, float bits), or both raise
  ``ProtocolError`` (syntax-error texts are not specified, so only the class is compared);
  nothing else is ever raised;
* ``max_bytes``: the input's own UTF-8 size is accepted with the same outcome, one byte
  less raises exactly ``"message is <n> bytes, over the limit of <n-1>"``;
* a value ``loads`` returns survives ``dumps``: ``loads(dumps(v))`` is ``v`` as JS
  numbers see it, and ``dumps`` of that is the same bytes again (a fixed point);
* where the stdlib ``json.loads`` also accepts the text, it gives the same value (as JS
  strings: a raw lone surrogate next to an escaped one forms a pair in JS).
"""

from __future__ import annotations

import json
from typing import Any

from lumora_fuzz import (
    ProtocolError,
    Raised,
    call,
    check,
    js_string,
    js_value,
    native,
    pure,
    same,
    same_outcome,
    small,
    text_seeds,
)

EXTRA_SEEDS = [
    b"[]",
    b"{}",
    b'"\\ud83d\\ude00\\ud800x"',
    b'{"a":1,"a":2,"__proto__":[1e400,-0,0.1,1E+21]}',
    b"[" * 512 + b"]" * 512,
    b"[" * 513 + b"]" * 513,
    b"123456789012345678901234567890",
    b"-1.5e-324",
    b'\xef\xbb\xbf"bom"',
    b'"\xed\xa0\x80"',
    b'"\xf0\x9f\x98\x80\xe2\x80\xa8"',
]


def seeds() -> list[bytes]:
    return small([*EXTRA_SEEDS, *text_seeds()])


def _as_js_strings(value: Any) -> Any:
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, list):
        return [_as_js_strings(v) for v in value]
    if isinstance(value, dict):
        return {js_string(k): _as_js_strings(v) for k, v in value.items()}
    return value


def _round_trip(value: Any) -> None:
    text = call(native.dumps, value)
    same_outcome("dumps(loads(x))", text, call(pure.dumps, value))
    check(not isinstance(text, Raised), "dumps refused what loads returned", value, text)
    again = call(native.loads, text)
    check(not isinstance(again, Raised), "loads refused what dumps wrote", text, again)
    check(same(again, js_value(value)), "loads(dumps(v)) is not v", value, text, again)
    check(native.dumps(again) == text, "dumps(loads(dumps(v))) changed", text)


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")  # invalid bytes: lone surrogates
    for arg, size in ((data, len(data)), (text, len(text.encode("utf-8", "surrogatepass")))):
        n = call(native.loads, arg)
        p = call(pure.loads, arg)
        same_outcome(f"loads({type(arg).__name__})", n, p, messages=False)
        at_limit = call(native.loads, arg, size)
        check(same(at_limit, n), "max_bytes equal to the size changed the outcome", n, at_limit)
        if size > 0:
            over = call(native.loads, arg, size - 1)
            expected = Raised(
                ProtocolError, f"message is {size} bytes, over the limit of {size - 1}"
            )
            check(over == expected, "max_bytes one short", over, expected)
        if isinstance(n, Raised):
            continue
        _round_trip(n)
        if isinstance(arg, str):
            try:
                reference = json.loads(arg)
            except (ValueError, RecursionError):
                continue
            check(
                same(_as_js_strings(n), _as_js_strings(reference)),
                "loads and json.loads differ",
                n,
                reference,
            )
