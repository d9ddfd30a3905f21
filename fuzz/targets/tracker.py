"""``_core.SchemaTracker.update`` over a sequence of schemas.

Input: ``JSON text [NUL tape]`` (see lumora_fuzz). A JSON array of schemas is fed to the
tracker one by one (any other value is one schema, fed twice). The tape picks the
algorithm, decorates each schema, and may build a schema from the previous one's
objects (nodes and metadata values shared, as a server that edits a copy does).

Properties, at every step, for a native and a pure tracker side by side:

* both return the same ``(checksum, delta, incremental, patch)`` (``added`` /
  ``modified`` the same objects, the same op list), or both raise the same
  ``ProtocolError``; after an error the tracker
  keeps its previous schema and checksum, after success it holds the new schema itself;
* the checksum is ``calculate_checksum(schema, algorithm)``;
* the delta is ``calculate_schema_delta(previous, schema)`` (``None`` for the first
  schema and where that raises), and ``incremental`` is whether applying it to the
  previous schema reproduces the checksum; where the delta law's preconditions hold it
  must be ``True``;
* the patch is ``None`` for the first schema, and otherwise applying it to the previous
  schema gives one with the new schema's checksum (the patch law, unconditional).
"""

from __future__ import annotations

import copy
from typing import Any

from lumora_fuzz import (
    Raised,
    Tape,
    call,
    check,
    conformance,
    decorate,
    law_fails,
    native,
    only_protocol_errors,
    parse_json,
    pure,
    same_delta,
    same_outcome,
    share_objects,
    small,
    split_tape,
)


def seeds() -> list[bytes]:
    out: list[str] = []
    for row in conformance("delta"):
        out.append(f"[{row['old_json']},{row['new_json']}]")
        out.append(f"[{row['old_json']},{row['new_json']},{row['old_json']}]")
    out += [row["schema_json"] for row in conformance("checksum")][:100]
    encoded = [t.encode("utf-8", "surrogatepass") for t in out]
    encoded += [t + b"\x00" + bytes([0, 1] + [1] * 64) for t in encoded[:40]]
    encoded += [t + b"\x00" + bytes([1, 0] + [2] * 64) for t in encoded[40:70]]
    return small(encoded)


def _schemas(data: bytes) -> tuple[str, list[Any]] | None:
    raw, tape_bytes = split_tape(data)
    ok, value = parse_json(raw)
    if not ok:
        return None
    tape = Tape(tape_bytes)
    wild = tape.next(2) == 1
    algorithm = ("sha256", "xxh3")[tape.next(2)]
    plain = value[:8] if isinstance(value, list) and value else [value, copy.deepcopy(value)]
    schemas: list[Any] = []
    for schema in plain:
        decorated = decorate(schema, tape, wild=wild)
        schemas.append(share_objects(schemas[-1], decorated, tape) if schemas else decorated)
    return algorithm, schemas


def test_one_input(data: bytes) -> None:
    decoded = _schemas(data)
    if decoded is None:
        return
    algorithm, schemas = decoded
    trackers = {"native": native.SchemaTracker(algorithm), "pure": pure.SchemaTracker(algorithm)}
    previous: Any = None
    checksum: Any = None
    for schema in schemas:
        n = call(trackers["native"].update, schema)
        p = call(trackers["pure"].update, schema)
        only_protocol_errors(n, p)
        if isinstance(n, Raised) or isinstance(p, Raised):
            check(n == p, "update: different outcomes", n, p)
            for name, tracker in trackers.items():
                check(
                    tracker.schema is previous and tracker.checksum == checksum,
                    f"a failed update changed the {name} tracker",
                    tracker.schema,
                    previous,
                )
            continue
        check(n[0] == p[0], "update: different checksums", n[0], p[0])
        check(n[2] is p[2], "update: different incremental flags", n, p)
        check((n[1] is None) == (p[1] is None), "update: one delta is None", n[1], p[1])
        if n[1] is not None:
            same_delta("update delta", n[1], p[1])
        check(
            call(native.dumps, n[3]) == call(native.dumps, p[3]),
            "update: different patches",
            n[3],
            p[3],
        )
        for name, tracker in trackers.items():
            check(
                tracker.schema is schema and tracker.checksum == n[0],
                f"the {name} tracker does not hold the new schema",
                tracker.checksum,
                n[0],
            )
        expected = call(native.calculate_checksum, schema, algorithm)
        same_outcome("checksum", expected, call(pure.calculate_checksum, schema, algorithm))
        check(n[0] == expected, "update's checksum is not calculate_checksum's", n[0], expected)
        _check_delta(previous, schema, n, algorithm)
        previous, checksum = schema, n[0]


def _check_delta(previous: Any, schema: Any, result: Any, algorithm: str) -> None:
    _, delta, incremental, patch = result
    if previous is None:
        check(delta is None and incremental is False, "first update has a delta", result)
        check(patch is None, "first update has a patch", result)
        return
    patched = call(native.apply_schema_patch, previous, patch)
    check(
        not isinstance(patched, Raised)
        and call(pure.calculate_checksum, patched, algorithm) == result[0],
        "applying the update's patch does not give the new schema",
        patch,
        patched,
    )
    expected = call(pure.calculate_schema_delta, previous, schema)
    if isinstance(expected, Raised):
        check(delta is None and incremental is False, "a delta where none can be made", result)
        return
    check(delta is not None, "no delta where one can be made", expected)
    same_delta("update delta vs calculate_schema_delta", delta, expected)
    applied = call(pure.apply_schema_delta, previous, *expected)
    exact = not isinstance(applied, Raised) and (
        call(pure.calculate_checksum, applied, algorithm) == result[0]
    )
    check(
        incremental is exact,
        "incremental is not whether the delta reproduces the schema",
        incremental,
        exact,
    )
    if law_fails(previous, schema) is None:
        check(incremental is True, "the delta law holds but the update is not incremental")
