"""``SchemaTracker.update_encoded``: the delta, the patch and the schema's size as the
server puts them on the wire, without a Python object per value (issue 12).

The delta's JSON is what ``serialize_message`` writes for ``SchemaChange.delta``, the
patch's what ``dumps`` writes for ``SchemaChange.patch``, and ``json_len``, when known,
is ``len(dumps(schema))``: the server sizes the full update by it and writes the schema
only when a device needs it.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings

import lumora_fast as lf
from lumora_fast import _core as native
from lumora_fast import pure

from .test_differential import BACKENDS, schema_pairs

fewer = settings(max_examples=max(10, settings.default.max_examples // 4))


def _check(core: ModuleType, old: Any, new: Any) -> None:
    plain, encoded = core.SchemaTracker(), core.SchemaTracker()
    try:
        plain.update(old)
    except lf.ProtocolError:
        return  # not a schema: nothing to diff from
    encoded.update(old, encoded=True)
    try:
        checksum, delta, incremental, patch = plain.update(new)
    except lf.ProtocolError as exc:
        message = str(exc)
    else:
        message = None
    if message is not None:
        with pytest.raises(lf.ProtocolError) as refused:
            encoded.update(new, encoded=True)
        assert str(refused.value) == message
        return
    got = encoded.update(new, encoded=True)
    assert got[0] == checksum
    assert got[3] == incremental
    assert got[4] == core.dumps(patch)
    if delta is None:
        assert (got[1], got[2]) == (None, 0)
    else:
        added, modified, removed, changes = delta
        struct = lf.SchemaDelta(
            added=added,
            modified=modified,
            removed=removed,
            metadata_changes=lf.MetadataChanges(**changes) if changes else msgspec_unset(),
        )
        assert got[1] == core.dumps(struct)
        assert got[2] == len(added) + len(modified) + len(removed)
    if got[5] is not None:
        assert got[5] == len(core.dumps(new))


def msgspec_unset() -> Any:
    import msgspec

    return msgspec.UNSET


@fewer
@BACKENDS
@given(pair=schema_pairs())
def test_encoded_update_is_the_plain_update_written(
    core: ModuleType, pair: tuple[Any, Any]
) -> None:
    old, new = pair
    _check(core, old, new)


@fewer
@given(pair=schema_pairs())
def test_native_and_pure_agree_on_the_size(pair: tuple[Any, Any]) -> None:
    old, new = pair
    sizes = []
    for core in (native, pure):
        tracker = core.SchemaTracker()
        try:
            tracker.update(old, encoded=True)
            sizes.append(tracker.update(new, encoded=True)[5])
        except lf.ProtocolError:
            sizes.append("raised")
    assert sizes[0] == sizes[1]


def test_documents_size_themselves(impl: ModuleType) -> None:
    core = lf._backend.core
    text = b'{"metadata":{"generatedAt":1234567},"nodes":[{"id":"a","props":{"x":1.5}}]}'
    doc = core.SchemaDocument.parse(text)
    tracker = lf.SchemaTracker()
    change = tracker.update_encoded(doc)
    assert change.json_len == len(doc.dumps()) == len(text)
    odd = core.SchemaDocument.parse(b'{"metadata":{},"nodes":[],"__proto__":{"a":1}}')
    assert tracker.update_encoded(odd).json_len is None  # the checksum drops __proto__
