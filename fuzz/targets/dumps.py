"""``_core.dumps`` (``JSON.stringify``), compact and pretty, on decoded values.

Input: ``JSON text [NUL tape]`` (see lumora_fuzz); wild values hold Structs, negated
numbers, values and keys that are not JSON.

Properties:

* native and pure write the same bytes, or raise the same ``ProtocolError``;
* the bytes are UTF-8 JSON that ``loads`` reads back as the value JS would see
  (``JSON.parse(JSON.stringify(v))``: numbers as doubles, array-index keys first, keys
  that are one JS string collapsed), and pretty output parses to the same value;
* respelling the value as JS sees it unchanged writes the same bytes.
"""

from __future__ import annotations

from lumora_fuzz import (
    Raised,
    call,
    check,
    js_value,
    native,
    pure,
    same,
    same_outcome,
    small,
    structured,
    text_seeds,
)


def seeds() -> list[bytes]:
    out = text_seeds()
    out += [t + b"\x00" + bytes([1] + list(range(8, 16)) * 4) for t in out[:40]]
    out += [t + b"\x00" + bytes([0] + list(range(8, 16)) * 4) for t in out[40:80]]
    return small(out)


def test_one_input(data: bytes) -> None:
    given = structured(data)
    if given is None:
        return
    outputs = []
    for pretty in (False, True):
        n = call(native.dumps, given.value, pretty=pretty)
        same_outcome(f"dumps(pretty={pretty})", n, call(pure.dumps, given.value, pretty=pretty))
        outputs.append(n)
    compact, pretty_text = outputs
    if isinstance(compact, Raised):
        check(compact == pretty_text, "pretty fails differently", compact, pretty_text)
        return
    compact.decode("utf-8")  # strict UTF-8: a lone surrogate must be written escaped
    expected = js_value(given.value)
    for text in (compact, pretty_text):
        parsed = call(native.loads, text)
        check(
            same(parsed, expected), "loads(dumps(v)) is not v as JS sees it", text, parsed, expected
        )
    if not given.wild:
        plain = call(native.dumps, given.plain)
        check(plain == compact, "a respelled value is written differently", plain, compact)
