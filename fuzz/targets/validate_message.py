"""``_core.validate_message`` on decoded values (``JSON text [NUL tape]``, see lumora_fuzz).

Properties:

* native and pure agree: the same list of error strings, or the same ``ProtocolError``;
* the result is a list of ``str``; the only errors are ``ProtocolError("Cannot convert
  object to primitive value")`` (the reference's TypeError, _core.pyi), nesting deeper
  than 512, and (for wild values only) a value or key that is not JSON;
* respelling the value as JS sees it unchanged (a tuple for a list, a subclass or an enum
  for a builtin, ``1.0`` for ``1``) gives the same result as the plain value.
"""

from __future__ import annotations

from lumora_fuzz import (
    Raised,
    call,
    check,
    conformance,
    native,
    pure,
    same_outcome,
    small,
    structured,
)

TO_PRIMITIVE = "Cannot convert object to primitive value"


def seeds() -> list[bytes]:
    texts = [row["message_json"] for row in conformance("validate_message")]
    texts += [row["text"] for row in conformance("deserialize")]
    out = [t.encode("utf-8", "surrogatepass") for t in texts]
    # A few with a tape: subclass the message, tuple the arrays, swap in a Struct.
    out += [t + b"\x00" + bytes([8, 9, 10, 11, 12, 13, 14, 15]) for t in out[:40]]
    return small(out)


def test_one_input(data: bytes) -> None:
    given = structured(data)
    if given is None:
        return
    n = call(native.validate_message, given.value)
    p = call(pure.validate_message, given.value)
    same_outcome("validate_message", n, p)
    if isinstance(n, Raised):
        allowed = (TO_PRIMITIVE, "nesting depth exceeds 512 at ")
        if given.wild:  # values that are not JSON (_core.pyi, the module docstring)
            allowed += ("unsupported type ", "dict key must be str, got ")
        check(n.message.startswith(allowed), "validate_message raised another error", n)
    else:
        check(isinstance(n, list) and all(type(e) is str for e in n), "not a list of str", n)
    if not given.wild:
        # Respelling a value (tuple for list, subclass, enum, 1.0 for 1) changes nothing.
        plain = call(native.validate_message, given.plain)
        check(plain == n, "a respelled message validates differently", given.plain, plain, n)
