"""lumora_fast.delta against the reference's calculateSchemaDelta / shouldUseIncrementalUpdate.

The reference's delta has defects that lumora_fast fixes (docs/architecture.md,
"Compatibility"). Every record is checked against ``fixed_delta`` below, a deliberately plain
restatement of the fixed rules. Where the reference's output agrees with it, ours must
equal the reference byte for byte. Where it does not, the difference must be one of the
reference's documented defects (``reference_defects``); outside the categories meant to
exercise them (``upstream_quirk_*``, ``js_proto_key``, ``random_mixed``), each such
record is also listed in ``DEFECT_HITS``, so that the list of divergences is explicit.
"""

from __future__ import annotations

import copy
import json
import math
import random
from types import ModuleType
from typing import Any

import pytest
from msgspec import UNSET

import lumora_fast as lf

from .conftest import js_json, load_vectors, vector_params

_ABSENT: Any = object()
_META_KEYS = ("version", "theme", "navigation")
_FIXED_CATEGORIES = ("upstream_quirk_", "js_proto_key", "random_mixed")

# Records of ordinary categories on which the reference's output shows one of its
# documented defects; lumora_fast follows the fixed rules there.
DEFECT_HITS = {
    "theme_change-0005": "removed value omitted instead of null",
    "theme_change-0010": "removed value omitted instead of null",
    "theme_change-0017": "removed value omitted instead of null",
    "theme_change-0019": "removed value omitted instead of null",
    "theme_change-0024": "removed value omitted instead of null",
    "navigation_change-0001": "removed value omitted instead of null",
    "navigation_change-0013": "removed value omitted instead of null",
    "navigation_change-0014": "removed value omitted instead of null",
    "navigation_change-0016": "removed value omitted instead of null",
    "theme_lt10_keys_reordered-0010": "nested key order counts as a change",
    "js_nonstring_ids-0004": "removal missed when node counts are equal",
    "js_nonstring_ids-0005": "removal missed when node counts are equal",
    "js_nonstring_ids-0010": "removal missed when node counts are equal",
    "js_nonstring_ids-0012": "removal missed when node counts are equal",
    "js_nonstring_ids-0013": "removal missed when node counts are equal",
    "large_schema-0001": "change invisible to the shallow node comparison",
}


def _is_fixed(category: str) -> bool:
    return category.startswith(_FIXED_CATEGORIES)


# ------------------------------------------------------------------- the fixed rules


def _id_key(value: Any) -> Any:
    """JS SameValueZero as a dict key (ids in the vectors are JSON values)."""
    if value is _ABSENT:
        return ("undefined",)
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    return ("object", id(value))


def json_eq(a: Any, b: Any) -> bool:
    """Equality of the JSON the values are written as: key order is irrelevant, numbers
    are doubles (non-finite ones are written as null), bools are not numbers."""
    a, b = (None if isinstance(v, float) and not math.isfinite(v) else v for v in (a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def index(nodes: list[dict[str, Any]]) -> dict[Any, tuple[Any, dict[str, Any]]]:
    """SameValueZero key -> (first id, last node), in first-occurrence order."""
    found: dict[Any, tuple[Any, dict[str, Any]]] = {}
    for node in nodes:
        node_id = node.get("id", _ABSENT)
        key = _id_key(node_id)
        found[key] = (found[key][0] if key in found else node_id, node)
    return found


def fixed_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The delta by docs/architecture.md's fixed rules, as the JSON object it is written as."""
    old_nodes = index(old["nodes"])
    new_nodes = index(new["nodes"])
    delta: dict[str, Any] = {
        "added": [node for key, (_, node) in new_nodes.items() if key not in old_nodes],
        "modified": [
            node
            for key, (_, node) in new_nodes.items()
            if key in old_nodes and not json_eq(old_nodes[key][1], node)
        ],
        "removed": [
            None if node_id is _ABSENT else node_id
            for key, (node_id, _) in old_nodes.items()
            if key not in new_nodes
        ],
    }
    changes = {}
    for name in _META_KEYS:
        before = old.get(name, _ABSENT)
        after = new.get(name, _ABSENT)
        same = before is after if _ABSENT in (before, after) else json_eq(before, after)
        if not same:
            changes[name] = None if after is _ABSENT else after
    if changes:
        delta["metadataChanges"] = changes
    return delta


# ------------------------------------------------------- the reference's known defects


def _has_proto_key(value: Any) -> bool:
    if isinstance(value, dict):
        return "__proto__" in value or any(_has_proto_key(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_proto_key(v) for v in value)
    return False


def _order_only(a: Any, b: Any) -> bool:
    """Equal JSON values that the reference's key-order-sensitive stringify tells apart."""
    return json_eq(a, b) and json.dumps(a) != json.dumps(b)


def _shallow_view(node: dict[str, Any]) -> Any:
    """What the reference's node comparison reads: type, props, and the children's ids."""
    children = node.get("children")
    child_ids = [c.get("id") for c in children] if isinstance(children, list) else children
    return [node.get("type"), node.get("props"), child_ids]


def reference_defects(
    old: dict[str, Any], new: dict[str, Any], reference: dict[str, Any], fixed: dict[str, Any]
) -> set[str]:
    """The documented defects that explain every way ``reference`` differs from ``fixed``.

    Fails the test for a difference that none of them explains.
    """
    defects: set[str] = set()
    fixed = js_json(fixed)
    old_nodes = index(old["nodes"])
    new_nodes = index(new["nodes"])
    assert json_eq(reference["added"], fixed["added"])
    if not json_eq(reference["removed"], fixed["removed"]):
        assert reference["removed"] == []
        assert len(old_nodes) == len(new_nodes)
        defects.add("removal missed when node counts are equal")
    ref_modified = {_id_key(n.get("id", _ABSENT)) for n in reference["modified"]}
    fixed_modified = {_id_key(n.get("id", _ABSENT)) for n in fixed["modified"]}
    for key in ref_modified ^ fixed_modified:
        before, after = old_nodes[key][1], new_nodes[key][1]
        if _has_proto_key(before) or _has_proto_key(after):
            defects.add("__proto__ keys misbehave")
        elif key in fixed_modified:
            assert json_eq(_shallow_view(before), _shallow_view(after))
            defects.add("change invisible to the shallow node comparison")
        else:
            assert _order_only(before, after)
            defects.add("nested key order counts as a change")
    ref_changes = reference.get("metadataChanges", {})
    fixed_changes = fixed.get("metadataChanges", {})
    for name in _META_KEYS:
        in_ref, in_fixed = name in ref_changes, name in fixed_changes
        if in_ref == in_fixed and (not in_ref or json_eq(ref_changes[name], fixed_changes[name])):
            continue
        if in_fixed and not in_ref and name not in new:
            defects.add("removed value omitted instead of null")
        elif in_ref and not in_fixed and name == "version":
            defects.add("version compared with !==")
        elif in_ref and not in_fixed:
            assert _order_only(old[name], new[name])
            defects.add("nested key order counts as a change")
        else:
            raise AssertionError(f"unexplained difference in metadataChanges.{name}")
    return defects


# ------------------------------------------------------------------------ the vectors


def _as_dict(delta: lf.SchemaDelta) -> dict[str, Any]:
    result: dict[str, Any] = {
        "added": delta.added,
        "modified": delta.modified,
        "removed": delta.removed,
    }
    changes = delta.metadata_changes
    if changes is not UNSET:
        result["metadataChanges"] = {
            name: value for name in _META_KEYS if (value := getattr(changes, name)) is not UNSET
        }
    return result


@pytest.mark.parametrize("record", vector_params("delta"))
def test_delta_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    old = json.loads(record["old_json"])
    new = json.loads(record["new_json"])
    if record.get("error") and not all(isinstance(s.get("nodes"), list) for s in (old, new)):
        # `nodes` missing or not an array: still an error (there is no node list to diff).
        with pytest.raises(lf.ProtocolError, match=r"^schema 'nodes' must be an array$"):
            lf.calculate_schema_delta(old, new)
        return
    old_copy, new_copy = copy.deepcopy(old), copy.deepcopy(new)
    delta = lf.calculate_schema_delta(old, new)
    assert (old, new) == (old_copy, new_copy)  # inputs untouched

    expected = fixed_delta(old, new)
    actual = _as_dict(delta)
    assert actual == expected
    assert json_eq(actual, expected)  # also keeps ids true and 1 apart
    new_ids = {id(node) for node in new["nodes"]}
    assert all(id(node) in new_ids for node in delta.added + delta.modified)

    serialized = lf.serialize_message(delta)
    assert json_eq(json.loads(serialized), js_json(expected))
    if record.get("error"):
        # The reference threw (a node without props / children / type, or null there):
        # a reference defect. The fixed delta is checked above; where it is exact, it
        # reproduces the new schema.
        assert record["category"] == "partial_nodes_short_circuit_or_throw"
        if _law_applies(old, new):
            applied = lf.apply_schema_delta(old, delta)
            assert lf.calculate_checksum(applied) == lf.calculate_checksum(new)
        return
    reference = json.loads(record["delta_json"])
    if json_eq(reference, js_json(expected)):
        assert serialized == record["delta_json"].encode()
        assert record["id"] not in DEFECT_HITS
        return
    defects = reference_defects(old, new, reference, expected)
    assert defects
    if not _is_fixed(record["category"]):
        assert defects == {DEFECT_HITS[record["id"]]}


@pytest.mark.parametrize("record", vector_params("incremental"))
def test_should_use_incremental_update_vectors(impl: ModuleType, record: dict[str, Any]) -> None:
    added, modified, removed = record["counts"]
    delta = lf.SchemaDelta(added=[{}] * added, modified=[{}] * modified, removed=["x"] * removed)
    if record["threshold"] is None:
        assert lf.should_use_incremental_update(delta) is record["result"]
    else:
        assert lf.should_use_incremental_update(delta, record["threshold"]) is record["result"]


# ------------------------------------------------------------------ apply and the law


def _law_applies(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """docs/architecture.md's preconditions for apply(old, delta(old, new)) to reproduce ``new``."""
    if "metadata" not in old or "metadata" not in new:
        return False
    old_nodes, new_nodes = index(old["nodes"]), index(new["nodes"])
    if len(old_nodes) != len(old["nodes"]) or len(new_nodes) != len(new["nodes"]):
        return False  # duplicate ids
    kept = [key for key in new_nodes if key in old_nodes]
    if [key for key in old_nodes if key in new_nodes] != kept:
        return False
    if list(new_nodes)[: len(kept)] != kept:
        return False  # a new node before a surviving one
    if any(new.get(name, _ABSENT) is None for name in _META_KEYS):
        return False  # null on the wire deletes the key
    others = (old.keys() | new.keys()) - {"nodes", "metadata", *_META_KEYS}
    if any(not json_eq(old.get(k, _ABSENT), new.get(k, _ABSENT)) for k in others):
        return False
    meta_old, meta_new = dict(old["metadata"]), dict(new["metadata"])
    meta_old.pop("generatedAt", None)
    meta_new.pop("generatedAt", None)
    return json_eq(meta_old, meta_new)


def test_apply_reproduces_new_schema_on_vectors(impl: ModuleType) -> None:
    checked = 0
    for record in load_vectors("delta"):
        old = json.loads(record["old_json"])
        new = json.loads(record["new_json"])
        if not all(isinstance(s.get("nodes"), list) for s in (old, new)):
            continue
        old_copy = copy.deepcopy(old)
        applied = lf.apply_schema_delta(old, lf.calculate_schema_delta(old, new))
        assert old == old_copy
        if _law_applies(old, new):
            checked += 1
            assert lf.calculate_checksum(applied) == lf.calculate_checksum(new), record["id"]
    assert checked > 300


def _node(node_id: Any, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "View", "props": {}, "children": [], **fields}


def test_apply_schema_delta(impl: ModuleType) -> None:
    a, b, c = _node("a"), _node("b"), _node("c")
    schema = {"metadata": {}, "nodes": [a, b, c, _node("b", dup=True)], "theme": {"x": 1}}
    snapshot = copy.deepcopy(schema)
    b2, d = _node("b", props={"k": 1}), _node("d")
    delta = lf.SchemaDelta(
        added=[d],
        modified=[b2],
        removed=["a", "zzz"],
        metadata_changes=lf.MetadataChanges(theme=None, version="2"),
    )
    result = lf.apply_schema_delta(schema, delta)
    assert schema == snapshot
    assert result == {"metadata": {}, "nodes": [b2, c, d], "version": "2"}
    assert result["nodes"][0] is b2
    assert result["metadata"] is schema["metadata"]  # a shallow copy


def test_apply_errors(impl: ModuleType) -> None:
    empty = lf.SchemaDelta(added=[], modified=[], removed=[])
    with pytest.raises(lf.ProtocolError, match=r"^schema must be a JSON object, got list$"):
        lf.apply_schema_delta([], empty)  # type: ignore[arg-type]
    with pytest.raises(lf.ProtocolError, match=r"^schema 'nodes' must be an array$"):
        lf.apply_schema_delta({"nodes": {}}, empty)
    with pytest.raises(
        lf.ProtocolError, match=r"^node at \$\.nodes\[1\] must be an object, got int$"
    ):
        lf.apply_schema_delta({"nodes": [{}, 5]}, empty)
    missing = lf.SchemaDelta(added=[], modified=[_node(7)], removed=[])
    with pytest.raises(
        lf.ProtocolError, match=r"^cannot apply delta: modified node 7 is not in the schema$"
    ):
        lf.apply_schema_delta({"nodes": [_node("7")]}, missing)


@pytest.mark.parametrize(
    "part", ["a", b"a", {"a": 1}, {"a"}, iter(["a"]), None, 5], ids=lambda p: type(p).__name__
)
@pytest.mark.parametrize("position", [1, 2, 3])
def test_apply_takes_lists_or_tuples_only(position: int, part: object) -> None:
    """Both backends refuse the same argument types with the same error (fuzz F3): a str
    is not a list of ids, though it iterates."""
    from lumora_fast import _core, pure

    schema = {"metadata": {}, "nodes": [{"id": "a"}, {"id": "b"}]}
    args: list[Any] = [[], [], []]
    args[position - 1] = part
    name = ("added", "modified", "removed")[position - 1]
    message = f"^{name} must be a list, not {type(part).__name__}$"
    for backend in (_core, pure):
        with pytest.raises(TypeError, match=message):
            backend.apply_schema_delta(schema, *args, None)
    for backend in (_core, pure):
        assert backend.apply_schema_delta(schema, [], [], ("a",), None) == {
            "metadata": {},
            "nodes": [{"id": "b"}],
        }


# ------------------------------------------------------------------- calculate: rules


def _schema(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"metadata": {}, "nodes": list(nodes), **fields}


def test_ids_use_same_value_zero(impl: ModuleType) -> None:
    old = _schema(_node("1"), _node(True), _node(1.0), _node(-0.0), _node(math.nan), _node(None))
    new = _schema(_node(1, n=1), _node(0), _node(math.nan), {"type": "View"}, _node(None))
    delta = lf.calculate_schema_delta(old, new)
    assert [n.get("id", "missing") for n in delta.added] == ["missing"]
    assert delta.modified == [new["nodes"][0]]  # 1 == 1.0, and the node changed
    assert delta.removed == ["1", True]
    assert delta.metadata_changes is UNSET


def test_duplicate_ids_first_position_last_node(impl: ModuleType) -> None:
    old = _schema(_node("a"), _node("b"))
    new = _schema(_node("b"), _node("a", n=1), _node("b", n=2))
    delta = lf.calculate_schema_delta(old, new)
    assert delta.modified == [new["nodes"][2], new["nodes"][1]]


@pytest.mark.parametrize("seed", range(12))
def test_long_node_lists_edited_anywhere(impl: ModuleType, seed: int) -> None:
    # Nodes moved far (beyond any look-ahead), inserted, removed and changed in lists
    # long enough that pairing nodes by position goes out of step and back.
    rng = random.Random(seed)
    old_nodes = [_node(f"n{i}", props={"k": i % 7}) for i in range(60)]
    new_nodes = copy.deepcopy(old_nodes)
    for _ in range(rng.randint(1, 12)):
        edit = rng.choice(["move", "insert", "remove", "change", "swap"])
        i = rng.randrange(len(new_nodes))
        if edit == "move":
            new_nodes.insert(rng.randrange(len(new_nodes)), new_nodes.pop(i))
        elif edit == "insert":
            new_nodes.insert(i, _node(f"new{rng.randrange(1000)}"))
        elif edit == "remove":
            del new_nodes[i]
        elif edit == "change":
            new_nodes[i] = _node(new_nodes[i]["id"], props={"k": -1})
        else:
            j = rng.randrange(len(new_nodes))
            new_nodes[i], new_nodes[j] = new_nodes[j], new_nodes[i]
    old, new = _schema(*old_nodes), _schema(*new_nodes)
    assert _as_dict(lf.calculate_schema_delta(old, new)) == fixed_delta(old, new)
    # The same lists with an id repeated late in one of them (one the old list has, or
    # a new one), then with a node at the end that is not a dict.
    if seed % 3 == 0:
        new["nodes"].append(_node("n3", props={"late": True}))
    elif seed % 3 == 1:
        new["nodes"][5:5] = [_node("fresh", props={"k": 1})]
        new["nodes"].append(_node("fresh", props={"k": 2}))
    else:
        old["nodes"].insert(50, _node("n55", props={"early": True}))
    assert _as_dict(lf.calculate_schema_delta(old, new)) == fixed_delta(old, new)
    new["nodes"].append(5)
    with pytest.raises(lf.ProtocolError, match=r"^node at \$\.nodes\[\d+\] must be an object"):
        lf.calculate_schema_delta(old, new)


def test_deep_equality(impl: ModuleType) -> None:
    old = _schema(_node("a", props={"x": {"p": 1, "q": [1.0, math.inf]}}))
    same = _schema(_node("a", props={"x": {"q": [1, None], "p": 1.0}}))
    assert lf.calculate_schema_delta(old, same).modified == []
    for changed in ({"x": {"p": True, "q": [1, None]}}, {"x": {"p": 1, "q": [1]}}):
        assert lf.calculate_schema_delta(old, _schema(_node("a", props=changed))).modified


def test_metadata_changes(impl: ModuleType) -> None:
    old = _schema(version="1", theme={"a": 1, "b": 2}, navigation=[1])
    new = _schema(version="1", theme={"b": 2, "a": 1})
    assert lf.calculate_schema_delta(old, new).metadata_changes == lf.MetadataChanges(
        navigation=None
    )
    assert lf.serialize_message(lf.calculate_schema_delta(old, new)) == (
        b'{"added":[],"modified":[],"removed":[],"metadataChanges":{"navigation":null}}'
    )


def test_calculate_errors(impl: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r"^schema must be a JSON object, got NoneType$"):
        lf.calculate_schema_delta(None, _schema())  # type: ignore[arg-type]
    with pytest.raises(lf.ProtocolError, match=r"^schema 'nodes' must be an array$"):
        lf.calculate_schema_delta(_schema(), {"metadata": {}})
    with pytest.raises(
        lf.ProtocolError, match=r"^node at \$\.nodes\[0\] must be an object, got str$"
    ):
        lf.calculate_schema_delta(_schema(), {"nodes": ["x"]})
    bad = _schema(_node("a", props={"s": {1, 2}}))
    with pytest.raises(
        lf.ProtocolError, match=r"^unsupported type set at \$\.nodes\[0\]\.props\.s$"
    ):
        lf.calculate_schema_delta(_schema(), bad)
    with pytest.raises(lf.ProtocolError, match=r"^dict key must be str, got int at \$\.theme$"):
        lf.calculate_schema_delta(_schema(theme={1: 2}), _schema())
    # A key that is not a str, in both schemas, after keys the comparison has learned
    # (and one object on both sides, as a small int is).
    for where in ("first", "last"):
        props = {"a": 1, 7: 2} if where == "last" else {7: 2, "a": 1}
        old = _schema(_node("x", props={"a": 1}), _node("y", props=dict(props)))
        new = _schema(_node("x", props={"a": 1}), _node("y", props=dict(props)))
        with pytest.raises(
            lf.ProtocolError,
            match=r"^dict key must be str, got int at \$\.nodes\[1\]\.props$",
        ):
            lf.calculate_schema_delta(old, new)


def test_partial_nodes_are_compared_whole(impl: ModuleType) -> None:
    # The reference reads children.length, then Object.keys(props), of same-type nodes,
    # and throws where they are missing or null: a defect. Nodes are compared whole.
    no_children = {"id": "a", "type": "View", "props": {}}
    delta = lf.calculate_schema_delta(_schema(_node("a")), _schema(no_children))
    assert [n["id"] for n in delta.modified] == ["a"]
    null_props = _node("a", props=None)
    delta = lf.calculate_schema_delta(_schema(null_props), _schema(_node("a")))
    assert [n["id"] for n in delta.modified] == ["a"]
    bare = {"id": "a"}
    assert lf.calculate_schema_delta(_schema(bare), _schema(dict(bare))).modified == []
    nulls = {"id": "a", "type": None, "props": None, "children": None}
    assert lf.calculate_schema_delta(_schema(nulls), _schema(dict(nulls))).modified == []
    other_type = {"id": "a", "type": "Text"}
    assert lf.calculate_schema_delta(_schema(_node("a")), _schema(other_type)).modified


@pytest.mark.parametrize(
    ("old", "new", "equal"),
    [
        (math.inf, None, True),
        (-math.inf, None, True),
        (math.nan, None, True),
        (math.inf, -math.inf, True),
        (10**400, None, True),
        ([math.inf, 1], [None, 1.0], True),
        ({"k": math.nan}, {"k": None}, True),
        (math.inf, 0, False),
        (None, 0, False),
        ({"k": math.inf}, {}, False),
    ],
)
def test_a_non_finite_number_equals_null(impl: ModuleType, old: Any, new: Any, equal: bool) -> None:
    # As the wire carries it: JSON.stringify writes a non-finite number as null.
    delta = lf.calculate_schema_delta(
        _schema(_node("a", props={"x": old}), theme={"t": old}),
        _schema(_node("a", props={"x": new}), theme={"t": new}),
    )
    assert (delta.modified == []) is equal
    assert (delta.metadata_changes is UNSET) is equal


class _Key(str):
    """A str subclass, as a dict key."""


@pytest.mark.parametrize(
    ("old_node", "new_node", "outcome"),
    [
        # Keys in another order: compared whole all the same.
        (
            {"id": "a", "type": "View", "props": {}, "children": []},
            {"props": {}, "type": "View", "id": "a"},
            "modified",
        ),
        ({"id": "a", "props": {}}, {"id": "a", "type": "View", "props": {}}, "modified"),
        ({"id": "a"}, {"id": "a", "x": 1}, "modified"),
        (
            {"id": "a", "children": [], "props": None},
            {"id": "a", "children": [], "props": {}},
            "modified",
        ),
        # A str subclass key counts as the key it spells.
        (
            {"id": "a", "type": "View", "props": {}, "children": []},
            {"id": "a", _Key("type"): "View", "props": {}, "children": []},
            "equal",
        ),
        (
            {"id": "a", "type": "View", "children": [], "props": {"k": 1}},
            {"children": [], "props": {"k": 1.0}, "id": "a", "type": "View"},
            "equal",
        ),
    ],
)
def test_nodes_are_compared_whole_whatever_the_key_order(
    impl: ModuleType, old_node: dict[str, Any], new_node: dict[str, Any], outcome: str
) -> None:
    old, new = _schema(old_node), _schema(new_node)
    delta = lf.calculate_schema_delta(old, new)
    assert [n["id"] for n in delta.modified] == (["a"] if outcome == "modified" else [])


@pytest.mark.parametrize(
    "first",
    [
        {"type": "View", "props": {}, "children": []},  # no id: the rest are looked up by name
        {_Key("id"): "z", "type": "View", "props": {}, "children": []},  # a str subclass key
        _node("z"),
    ],
)
def test_node_ids_are_found_whatever_their_key_objects(
    impl: ModuleType, first: dict[Any, Any]
) -> None:
    # Parsed schemas share one "id" key object; literals and other parses do not.
    old = _schema(first, *json.loads(json.dumps([_node("a"), _node("b"), _node("c")])))
    new = _schema(first, _node("a"), _node("b", props={"k": 1}), _node("d"))
    delta = lf.calculate_schema_delta(old, new)
    assert [n["id"] for n in delta.added] == ["d"]
    assert [n["id"] for n in delta.modified] == ["b"]
    assert list(delta.removed) == ["c"]


def test_depth_limit(impl: ModuleType) -> None:
    # The schema is depth 1, nodes 2, the node 3, props 4: a chain of 508 lists reaches 512.
    chain: list[Any] = []
    for _ in range(507):
        chain = [chain]
    lf.calculate_schema_delta(_schema(), _schema(_node("a", props={"x": chain})))
    with pytest.raises(
        lf.ProtocolError,
        match=r"^nesting depth exceeds 512 at \$\.nodes\[0\]\.props\.x(\[0\]){508}$",
    ):
        lf.calculate_schema_delta(_schema(), _schema(_node("a", props={"x": [chain]})))
