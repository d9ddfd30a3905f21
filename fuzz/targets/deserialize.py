"""The public ``lumora_fast.deserialize_message(data, validate=True, strict=...)``.

It wraps ``_core.loads`` and ``_core.validate_message`` (then msgspec). Each input runs
as bytes and as ``str``, with ``strict`` off and on, through the native core and through
the pure backend (``_backend.core`` swapped, as the test suite's ``impl`` fixture does).

Properties:

* it returns a message Struct or raises ``ProtocolError`` whose text starts with
  ``"Failed to deserialize message: "``, nothing else;
* native and pure agree: the same Struct, or the same error (the same text wherever the
  JSON parsed, since only syntax-error texts are unspecified);
* strict mode only adds rejections: what strict accepts, non-strict accepts identically;
* ``serialize_message`` of the result is the same bytes on both backends, and reading
  those bytes back gives a message that serializes to the same bytes again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from lumora_fuzz import (
    ProtocolError,
    Raised,
    _backend,
    call,
    check,
    conformance,
    lf,
    native,
    only_protocol_errors,
    pure,
    same,
    small,
)

PREFIX = "Failed to deserialize message: "


def seeds() -> list[bytes]:
    texts = [row["text"] for row in conformance("deserialize")]
    texts += [row["message_json"] for row in conformance("validate_message")]
    texts += [r["expected_json_text"] for r in conformance("builders") if "expected_json_text" in r]
    return small(t.encode("utf-8", "surrogatepass") for t in texts)


@contextmanager
def backend(core: ModuleType) -> Iterator[None]:
    saved = _backend.core
    _backend.core = core
    try:
        yield
    finally:
        _backend.core = saved


def _decode(core: ModuleType, data: Any, strict: bool) -> Any:
    with backend(core):
        return call(lf.deserialize_message, data, validate=True, strict=strict)


def _serialize(core: ModuleType, message: Any) -> Any:
    with backend(core):
        return call(lf.serialize_message, message)


def test_one_input(data: bytes) -> None:
    for arg in (data, data.decode("utf-8", "surrogateescape")):
        parsed = not isinstance(call(pure.loads, arg), Raised)
        lax = None
        for strict in (False, True):
            n = _decode(native, arg, strict)
            p = _decode(pure, arg, strict)
            only_protocol_errors(n, p)
            for outcome in (n, p):
                if isinstance(outcome, Raised):
                    check(
                        outcome.message.startswith(PREFIX), "error text lacks the prefix", outcome
                    )
            if isinstance(n, Raised) or isinstance(p, Raised):
                check(isinstance(n, Raised) and isinstance(p, Raised), "one backend raised", n, p)
                if parsed:
                    check(n == p, "different errors", n, p)
                if not strict:
                    lax = None
                continue
            check(same(n, p), "native and pure differ", n, p)
            if not strict:
                lax = n
            else:
                check(
                    lax is not None and same(lax, n),
                    "strict accepted what non-strict refused",
                    lax,
                    n,
                )
            _round_trip(n)


def _round_trip(message: Any) -> None:
    wire = _serialize(native, message)
    check(not isinstance(wire, Raised), "serialize refused a deserialized message", message, wire)
    check(same(wire, _serialize(pure, message)), "serialize differs between backends", message)
    again = _decode(native, wire, False)
    if isinstance(again, Raised):
        # A value that JS cannot write back as it was (1e400 becomes null) may not
        # validate after the trip; that is the reference's behaviour, not a finding.
        check(again.kind is ProtocolError, "re-reading raised", again)
        return
    check(_serialize(native, again) == wire, "serialize(deserialize(wire)) != wire", wire, again)
