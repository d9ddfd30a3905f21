"""``_core.validate_protocol_version`` and ``_core.validate_session_id``.

Input: ``client [NUL server]``, both decoded from UTF-8 (invalid bytes as lone
surrogates); the session id is the input as a string, and the parsed JSON value when
the input is JSON.

Properties: native and pure return the same list of error strings (never an
exception for ``str`` arguments); the same for ``validate_session_id`` on any value.
"""

from __future__ import annotations

from lumora_fuzz import (
    Raised,
    call,
    check,
    conformance,
    native,
    parse_json,
    pure,
    same_outcome,
    small,
)


def seeds() -> list[bytes]:
    out = []
    for row in conformance("version"):
        client = row.get("client", "1.0.0")
        server = row.get("server", "1.0.0")
        if isinstance(client, str) and isinstance(server, str):
            out.append(
                client.encode("utf-8", "surrogatepass")
                + b"\x00"
                + server.encode("utf-8", "surrogatepass")
            )
    out += [
        row["session_id_json"].encode("utf-8", "surrogatepass") for row in conformance("session_id")
    ]
    return small(out)


def test_one_input(data: bytes) -> None:
    client, _, server = data.decode("utf-8", "surrogateescape").partition("\x00")
    n = call(native.validate_protocol_version, client, server or "1.0.0")
    p = call(pure.validate_protocol_version, client, server or "1.0.0")
    same_outcome("validate_protocol_version", n, p)
    check(not isinstance(n, Raised), "validate_protocol_version raised", n)
    ok, value = parse_json(data)
    for session_id in (client, value) if ok else (client,):
        n = call(native.validate_session_id, session_id)
        same_outcome("validate_session_id", n, call(pure.validate_session_id, session_id))
