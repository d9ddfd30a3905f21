"""``_core.canonical_json`` and ``_core.calculate_checksum`` (sha256 and xxh3).

Input: ``JSON text [NUL tape]`` (see lumora_fuzz), read as a schema.

Properties:

* native and pure agree on ``canonical_json`` and on both checksums: the same bytes and
  strings, or the same ``ProtocolError``; an unknown algorithm is a ``ValueError`` on both;
* each checksum is the hash of the canonical bytes (``hashlib.sha256``, and
  ``"xxh3:"`` + ``xxhash.xxh3_128_hexdigest``), and fails exactly when they do;
* the canonical bytes are JSON that ``loads`` reads, and canonicalising that again gives
  the same bytes (unless two keys of one dict are one JS string, which JSON cannot keep);
* respelling the schema as JS sees it unchanged gives the same canonical bytes.
"""

from __future__ import annotations

import hashlib

import xxhash
from lumora_fuzz import (
    Raised,
    call,
    check,
    conformance,
    js_keys_collide,
    native,
    only_protocol_errors,
    pure,
    same_outcome,
    small,
    structured,
)

HASHES = {
    "sha256": lambda data: hashlib.sha256(data).hexdigest(),
    "xxh3": lambda data: "xxh3:" + xxhash.xxh3_128_hexdigest(data),
}


def seeds() -> list[bytes]:
    texts = [row["schema_json"] for row in conformance("checksum")]
    texts += [row["schema_json"] for row in conformance("checksum_validate")]
    texts += [row[k] for row in conformance("delta") for k in ("old_json", "new_json")]
    out = [t.encode("utf-8", "surrogatepass") for t in texts]
    out += [t + b"\x00" + bytes(range(8, 16)) * 4 for t in out[:20]]
    return small(out)


def test_one_input(data: bytes) -> None:
    given = structured(data)
    if given is None:
        return
    schema = given.value
    n = call(native.canonical_json, schema)
    p = call(pure.canonical_json, schema)
    same_outcome("canonical_json", n, p)
    for algorithm, digest in HASHES.items():
        n_sum = call(native.calculate_checksum, schema, algorithm)
        same_outcome(
            f"checksum {algorithm}", n_sum, call(pure.calculate_checksum, schema, algorithm)
        )
        if isinstance(n, Raised):
            check(n_sum == n, "the checksum fails differently from canonical_json", n_sum, n)
        else:
            check(n_sum == digest(n), f"{algorithm} is not the hash of canonical_json", n_sum)
    bad = (
        call(native.calculate_checksum, schema, "md5"),
        call(pure.calculate_checksum, schema, "md5"),
    )
    check(all(isinstance(b, Raised) and b.kind is ValueError for b in bad), "algorithm md5", bad)
    if isinstance(n, Raised):
        return
    parsed = call(native.loads, n)
    check(not isinstance(parsed, Raised), "loads refused canonical_json's bytes", n, parsed)
    if not js_keys_collide(schema):
        again = call(native.canonical_json, parsed)
        only_protocol_errors(again)
        check(again == n, "canonical_json is not a fixed point", n, again)
    if not given.wild:
        plain = call(native.canonical_json, given.plain)
        check(plain == n, "a respelled schema canonicalises differently", plain, n)
