"""``_core.calculate_schema_delta`` and ``_core.apply_schema_delta``.

Input: ``JSON text [NUL tape]`` (see lumora_fuzz). A JSON array ``[old, new]`` or
``[old, new, delta]`` gives the two schemas (and an arbitrary delta, as
``{"added", "modified", "removed", "metadataChanges"}`` or a 4-array); any other value
is ``old``, with a deep copy as ``new``. The tape decorates each part, then may share
objects between the schemas: a node of ``new`` replaced by the node of ``old`` at the
same position (equal or not), or ``theme`` / ``navigation`` / ``version`` shared.

Properties:

* native and pure compute the same delta: ``added`` / ``modified`` hold the same objects
  of ``new`` in the same order, ``removed`` and ``metadata_changes`` are equal; or both
  raise the same ``ProtocolError``;
* applying it (and an arbitrary delta) gives the same result on both, or the same
  error, and leaves the input schema unmodified;
* the delta law (docs/architecture.md): where its preconditions hold (unique ids, only ``nodes``,
  ``version``, ``theme``, ``navigation`` and ``metadata.generatedAt`` differ, survivors
  keep their order, new nodes last, no explicit ``null`` for a metadata key, no ``null``
  id beside a missing one), ``apply(old, delta(old, new))`` has ``new``'s checksum, on
  both backends.
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
    same,
    same_delta,
    same_outcome,
    share_objects,
    small,
    snapshot,
    split_tape,
)


def seeds() -> list[bytes]:
    out: list[str] = []
    for row in conformance("delta"):
        old, new = row["old_json"], row["new_json"]
        out.append(f"[{old},{new}]")
        if row.get("delta_json"):
            out.append(f"[{old},{new},{row['delta_json']}]")
    out += [row["schema_json"] for row in conformance("checksum")][:200]
    encoded = [t.encode("utf-8", "surrogatepass") for t in out]
    # With a tape: respellings (even first byte), then shared nodes and metadata.
    encoded += [t + b"\x00" + bytes([0] + [1] * 64) for t in encoded[:60]]
    encoded += [t + b"\x00" + bytes([1] + [2] * 64) for t in encoded[60:90]]
    return small(encoded)


def _decode(data: bytes) -> tuple[Any, Any, Any, bool] | None:
    raw, tape_bytes = split_tape(data)
    ok, value = parse_json(raw)
    if not ok:
        return None
    tape = Tape(tape_bytes)
    wild = tape.next(2) == 1
    if isinstance(value, list) and len(value) >= 2:
        old, new = value[0], value[1]
        raw_delta = value[2] if len(value) >= 3 else None
    else:
        old, new, raw_delta = value, copy.deepcopy(value), None
    old = decorate(old, tape, wild=wild)
    new = share_objects(old, decorate(new, tape, wild=wild), tape)
    delta = None
    if isinstance(raw_delta, dict):
        raw_delta = [raw_delta.get(k, []) for k in ("added", "modified", "removed")] + [
            raw_delta.get("metadataChanges")
        ]
    if isinstance(raw_delta, list) and len(raw_delta) == 4:
        delta = tuple(decorate(part, tape, wild=wild) for part in raw_delta)
    return old, new, delta, wild


def test_one_input(data: bytes) -> None:
    decoded = _decode(data)
    if decoded is None:
        return
    old, new, arbitrary, _wild = decoded
    before = snapshot(old)
    n = call(native.calculate_schema_delta, old, new)
    p = call(pure.calculate_schema_delta, old, new)
    same_delta("calculate_schema_delta", n, p)
    if not isinstance(p, Raised):
        _check_apply(old, p, before)
        _check_law(old, new)
    if arbitrary is not None:
        _check_apply(old, arbitrary, before)


def _check_apply(old: Any, delta: tuple[Any, ...], before: Any) -> None:
    n = call(native.apply_schema_delta, old, *delta)
    p = call(pure.apply_schema_delta, old, *delta)
    # An arbitrary delta may hold arguments of the wrong type: TypeError, the same on both.
    same_outcome("apply_schema_delta", n, p, kinds=(TypeError,))
    if before is not None:
        check(same(old, before), "apply_schema_delta modified its input schema", before, old)


def _check_law(old: Any, new: Any) -> None:
    if law_fails(old, new) is not None:
        return
    expected = call(pure.calculate_checksum, new)
    if isinstance(expected, Raised) or isinstance(call(pure.calculate_checksum, old), Raised):
        return
    for name, core in (("native", native), ("pure", pure)):
        delta = core.calculate_schema_delta(old, new)
        applied = call(core.apply_schema_delta, old, *delta)
        only_protocol_errors(applied)
        got = call(core.calculate_checksum, applied) if not isinstance(applied, Raised) else applied
        check(got == expected, f"delta law fails on {name}", old, new, delta, got, expected)
