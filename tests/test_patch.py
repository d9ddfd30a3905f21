"""Schema patches (``lumora_fast.patch``): op lists, the law, bad patches, sizes.

The law (DESIGN.md "Patch updates"): for any two schemas, applying
``calculate_schema_patch(old, new)`` to ``old`` gives a value JSON-equal to ``new``, with
its checksum, on both backends and with the independent ``jsonpatch`` package. Native and
pure give the same op lists and the same errors.
"""

from __future__ import annotations

import copy
import json
import statistics
from types import ModuleType
from typing import Any

import jsonpatch
import pytest
from hypothesis import currently_in_test_context, given, note
from hypothesis import strategies as st

import lumora_fast as lf
from lumora_fast import _core as native
from lumora_fast import pure

from .conftest import load_vectors, vector_params
from .make_schema import make_schema, mutate, preset_schema
from .test_differential import (
    _ABSENT,
    BACKENDS,
    DELTA_IDS,
    Raised,
    call,
    delta_nodes,
    js_equal,
    js_value,
    json_values,
    same,
    schema_pairs,
)

Pair = tuple[Any, Any]


def plain(value: Any) -> Any:
    """``value`` with tuples as lists (``jsonpatch`` only edits lists)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def has_metadata(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("metadata"), dict)


def check_law(old: Any, new: Any) -> list[dict[str, Any]]:
    """Both backends agree on the patch, and it takes ``old`` to ``new`` three ways."""
    before = copy.deepcopy(old)
    n = call(native.calculate_schema_patch, old, new)
    p = call(pure.calculate_schema_patch, old, new)
    if currently_in_test_context():
        note(f"native={n!r}")
    if isinstance(n, Raised) or isinstance(p, Raised):
        assert n == p
        return []
    assert same(n, p), (n, p)
    for core in (native, pure):
        applied = core.apply_schema_patch(old, n)
        assert js_equal(js_value(applied), js_value(new)), (core.__name__, applied)
        if has_metadata(new):
            assert pure.calculate_checksum(applied) == pure.calculate_checksum(new)
    by_jsonpatch = jsonpatch.apply_patch(plain(old), n)
    assert js_equal(js_value(by_jsonpatch), js_value(new)), by_jsonpatch
    assert same(old, before), "calculate or apply modified the input"
    return n


# -------------------------------------------------------------------- op lists


@BACKENDS
@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ({"a": 1}, {"a": 1.0}, []),
        (
            {"a": 1, "b": 2},
            {"b": 3, "c": 4},
            [
                {"op": "remove", "path": "/a"},
                {"op": "replace", "path": "/b", "value": 3},
                {"op": "add", "path": "/c", "value": 4},
            ],
        ),
        ({"a/b": {"~": 1}}, {"a/b": {"~": 2}}, [{"op": "replace", "path": "/a~1b/~0", "value": 2}]),
        (
            {"": 1, "0": 1, "-": 1, "__proto__": {}},
            {"": 2, "0": 2, "-": 2, "__proto__": {"x": 1}},
            [
                {"op": "replace", "path": "/", "value": 2},
                {"op": "replace", "path": "/0", "value": 2},
                {"op": "replace", "path": "/-", "value": 2},
                {"op": "add", "path": "/__proto__/x", "value": 1},
            ],
        ),
        ({"n": 1}, {"n": float("inf")}, [{"op": "replace", "path": "/n", "value": None}]),
        # Keys equal only as UTF-16: JSON-equal objects need no ops, at any depth; in
        # objects that differ elsewhere, the two spellings are two keys.
        ({"\ud83d\ude00": 1}, {"😀": 1}, []),
        ({"p": {"\ud83d\ude00": 1, "q": [1]}}, {"p": {"q": [1.0], "😀": 1}}, []),
        (
            {"\ud83d\ude00": 1, "v": 1},
            {"😀": 1, "v": 2},
            [
                {"op": "remove", "path": "/\ud83d\ude00"},
                {"op": "add", "path": "/😀", "value": 1},
                {"op": "replace", "path": "/v", "value": 2},
            ],
        ),
        (
            {"p": {"a": [1, {"b": 2}], "c": {"d": 1}}},
            {"p": {"a": [1, {"b": 3}], "c": {"d": 1}}},
            [{"op": "replace", "path": "/p/a/1/b", "value": 3}],
        ),
        ({"n": None}, {"n": float("nan")}, []),
        ([1], {"a": 1}, [{"op": "replace", "path": "", "value": {"a": 1}}]),
        (
            {"l": [1, 2, 3, 4, 5]},
            {"l": [0, 1, 2, 3, 4, 5]},
            [{"op": "add", "path": "/l/0", "value": 0}],
        ),
        ({"l": [1, 2, 3, 4, 5]}, {"l": [1, 2, 4, 5]}, [{"op": "remove", "path": "/l/2"}]),
        ({"l": [1, 2]}, {"l": [3, 4]}, [{"op": "replace", "path": "/l", "value": [3, 4]}]),
        (
            {"c": [{"id": "a"}, {"id": "b", "v": 1}, {"id": "c"}, {"id": "d"}]},
            {"c": [{"id": "b", "v": 2}, {"id": "c"}, {"id": "d"}, {"id": "a"}, {"id": "e"}]},
            [
                {"op": "move", "from": "/c/0", "path": "/c/3"},
                {"op": "add", "path": "/c/4", "value": {"id": "e"}},
                {"op": "replace", "path": "/c/0/v", "value": 2},
            ],
        ),
        (
            {"c": [{"id": 1}, {"id": "1"}, {"id": True}]},
            {"c": [{"id": True}, {"id": 1.0}]},
            [{"op": "remove", "path": "/c/1"}, {"op": "move", "from": "/c/1", "path": "/c/0"}],
        ),
    ],
)
def test_op_lists(core: ModuleType, old: Any, new: Any, ops: list[dict[str, Any]]) -> None:
    assert core.calculate_schema_patch(old, new) == ops
    assert same(check_law(old, new), core.calculate_schema_patch(old, new))


@BACKENDS
@pytest.mark.parametrize("length", [3, 15, 16, 40])
def test_json_equal_values_get_no_ops(core: ModuleType, length: int) -> None:
    # An item whose only difference is a key spelled as a surrogate pair of code points
    # is JSON-equal, and gets no ops, in an array of any length; once it differs
    # elsewhere too, it is walked key by key, and the two spellings are two keys.
    old = {"c": [{"id": i, "v": i} for i in range(length)]}
    new = copy.deepcopy(old)
    old["c"][1]["\ud83d\ude00"] = 1
    new["c"][1]["😀"] = 1
    assert core.calculate_schema_patch(old, new) == []
    assert core.calculate_schema_patch({"x": old}, {"x": new}) == []
    new["c"][-1]["v"] = "edited"
    edit = {"op": "replace", "path": f"/c/{length - 1}/v", "value": "edited"}
    assert core.calculate_schema_patch(old, new) == [edit]
    new["c"][1]["v"] = "also"
    ops = core.calculate_schema_patch(old, new)
    assert ops == [
        {"op": "remove", "path": "/c/1/\ud83d\ude00"},
        {"op": "replace", "path": "/c/1/v", "value": "also"},
        {"op": "add", "path": "/c/1/😀", "value": 1},
        edit,
    ]
    assert same(check_law(old, new), ops)


@BACKENDS
def test_ids_equal_only_as_json_get_no_ops(core: ModuleType) -> None:
    # NaN, infinities and None are all null on the wire: the arrays are JSON-equal,
    # though matching their items by id (SameValueZero) would move and replace them.
    old = {"c": [{"id": float("nan")}, {"id": None, "v": 1}, {"id": 2}]}
    new = {"c": [{"id": None}, {"id": float("inf"), "v": 1}, {"id": 2}]}
    assert core.calculate_schema_patch(old, new) == []
    new["c"][2]["v"] = 3
    ops = core.calculate_schema_patch(old, new)
    assert ops == pure.calculate_schema_patch(old, new)
    assert any(op["op"] in ("add", "move", "remove") for op in ops)
    assert same(check_law(old, new), ops)


def test_values_are_the_new_objects(impl: ModuleType) -> None:
    node = {"id": "b", "props": {}}
    old = {"metadata": {}, "nodes": [{"id": "a"}]}
    new = {"metadata": {}, "nodes": [{"id": "a"}, node]}
    (op,) = lf.calculate_schema_patch(old, new)
    assert op["value"] is node


def test_apply_shares_what_it_does_not_touch(impl: ModuleType) -> None:
    old = make_schema(300, 2, 5)
    new = mutate(old, 1, 3)
    patch = lf.calculate_schema_patch(old, new)
    applied = lf.apply_schema_patch(old, patch)
    assert applied is not old
    # Only the containers on the patched paths are new; every other subtree is shared.
    touched = {"/".join(op["path"].split("/")[:k]) for op in patch for k in range(1, 30)}
    shared = copied = 0
    stack: list[tuple[str, Any, Any]] = [("", old, applied)]
    while stack:
        path, before, after = stack.pop()
        if path in touched:
            copied += 1
            assert after is not before
            items = before.items() if isinstance(before, dict) else enumerate(before)
            for key, value in items:
                present = key in after if isinstance(after, dict) else key < len(after)
                if present and isinstance(value, dict | list):
                    stack.append((f"{path}/{key}", value, after[key]))
        elif isinstance(before, dict | list):
            shared += 1
            assert after is before, path
    assert copied <= 3 * len(patch) * 30
    assert shared > 0


def test_empty_patch_copies_the_root_only(impl: ModuleType) -> None:
    old = {"metadata": {}, "nodes": [{"id": 1}]}
    applied = lf.apply_schema_patch(old, [])
    assert applied == old
    assert applied is not old
    assert applied["nodes"] is old["nodes"]


def test_copy_test_and_moves(impl: ModuleType) -> None:
    old = {"a": {"b": [1, 2, 3]}, "c": (4, 5)}
    patch = [
        {"op": "test", "path": "/a/b/1", "value": 2.0},
        {"op": "copy", "from": "/a/b", "path": "/d"},
        {"op": "add", "path": "/d/-", "value": 9},
        {"op": "move", "from": "/c/0", "path": "/c/-"},
        {"op": "move", "from": "/a", "path": "/a"},
        {"op": "add", "path": "", "value": None},
        {"op": "replace", "path": "", "value": {"z": 1}},
    ]
    assert lf.apply_schema_patch(old, patch[:5]) == {
        "a": {"b": [1, 2, 3]},
        "c": [5, 4],
        "d": [1, 2, 3, 9],
    }
    assert lf.apply_schema_patch(old, patch) == {"z": 1}
    assert old == {"a": {"b": [1, 2, 3]}, "c": (4, 5)}


def test_a_copy_is_a_value_not_a_second_name(impl: ModuleType) -> None:
    """A copied container is not changed by later ops on its source, a copy of an
    ancestor does not make the result contain itself, and a value given in the patch is
    never changed in place."""
    result = lf.apply_schema_patch({"a": {"x": 1}}, [{"op": "copy", "from": "", "path": "/y"}])
    assert result == {"a": {"x": 1}, "y": {"a": {"x": 1}}}
    assert result["y"] is not result
    result = lf.apply_schema_patch(
        {"a": {"x": 1}},
        [
            {"op": "replace", "path": "/a/x", "value": 2},
            {"op": "copy", "from": "/a", "path": "/b"},
            {"op": "replace", "path": "/a/x", "value": 3},
            {"op": "add", "path": "/b/y", "value": 4},
        ],
    )
    assert result == {"a": {"x": 3}, "b": {"x": 2, "y": 4}}
    given = {"k": [1]}
    result = lf.apply_schema_patch(
        {"a": 1},
        [
            {"op": "replace", "path": "", "value": given},
            {"op": "add", "path": "/k/0", "value": 0},
        ],
    )
    assert result == {"k": [0, 1]}
    assert given == {"k": [1]}


# ------------------------------------------------------------------------ the law


@pytest.mark.parametrize("record", vector_params("delta"))
def test_law_on_the_delta_vectors(record: dict[str, Any]) -> None:
    old, new = json.loads(record["old_json"]), json.loads(record["new_json"])
    check_law(old, new)
    check_law(new, old)


@given(pair=schema_pairs())
def test_law_on_schema_pairs(pair: Pair) -> None:
    check_law(*pair)


@given(old=json_values, new=json_values)
def test_law_on_any_values(old: Any, new: Any) -> None:
    check_law({"metadata": {}, "v": old}, {"metadata": {}, "v": new})
    check_law(old, new)


@st.composite
def reordered_pairs(draw: st.DrawFn) -> Pair:
    """Node lists and children sharing ids: reordered, some removed, some inserted,
    some changed; ids sometimes duplicated or missing."""
    ids = draw(st.lists(st.sampled_from(DELTA_IDS), max_size=8))
    nodes = [draw(delta_nodes(st.just(i), complete=True)) for i in ids]
    for node in nodes:
        if draw(st.booleans()) and nodes:
            node["children"] = [
                copy.deepcopy(n) for n in draw(st.lists(st.sampled_from(nodes), max_size=3))
            ]
    kept = draw(st.lists(st.sampled_from(nodes), max_size=10)) if nodes else []
    changed = []
    for original in draw(st.permutations(kept)):
        node = copy.deepcopy(original)
        if draw(st.booleans()):
            node["props"] = draw(
                st.dictionaries(st.sampled_from(["a", "b"]), json_values, max_size=2)
            )
        if draw(st.booleans()) and isinstance(node.get("children"), list):
            node["children"] = list(draw(st.permutations(node["children"])))
        changed.append(node)
    for _ in range(draw(st.integers(0, 2))):
        changed.insert(draw(st.integers(0, len(changed))), draw(delta_nodes(complete=True)))
    old = {"metadata": {"generatedAt": 1}, "nodes": nodes}
    new = {"metadata": {"generatedAt": 2}, "nodes": changed}
    if draw(st.booleans()):
        new["version"] = draw(json_values)
    return old, new


@given(pair=reordered_pairs())
def test_law_on_reordered_nodes(pair: Pair) -> None:
    assert DELTA_IDS[-1] is _ABSENT  # ids come from the delta tests' set
    check_law(*pair)


@given(
    nodes=st.integers(1, 60),
    roots=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    edits=st.integers(1, 12),
    edit_seed=st.integers(0, 2**16),
)
def test_law_on_make_schema_mutate(
    nodes: int, roots: int, seed: int, edits: int, edit_seed: int
) -> None:
    old = make_schema(nodes, roots, seed)
    new = mutate(old, edits, edit_seed)
    check_law(old, new)
    check_law(new, old)


@given(data=st.data())
def test_apply_on_arbitrary_patches(data: st.DataObject) -> None:
    # Random (mostly failing) patches: both backends raise the same error or agree.
    schema = data.draw(json_values)
    pointers = st.sampled_from(["", "/", "/0", "/1", "/-", "/a", "/a/0", "/0/a", "/~1", "/00"])
    op = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]),
            "path": pointers,
        },
        optional={"from": pointers, "value": json_values},
    )
    patch = data.draw(st.lists(op, max_size=4))
    before = copy.deepcopy(schema)
    n = call(native.apply_schema_patch, schema, patch)
    p = call(pure.apply_schema_patch, schema, patch)
    if isinstance(n, Raised) or isinstance(p, Raised):
        assert n == p
        assert n.kind is lf.ProtocolError
    else:
        assert same(n, p)
    assert same(schema, before)


# --------------------------------------------------------------------- bad patches

SCHEMA: dict[str, Any] = {
    "metadata": {"v": 1},
    "nodes": [{"id": "a", "children": [{"id": "b"}]}],
    "x": {"y": [1, 2, 3]},
    "s": "text",
}

BAD_PATCHES: list[tuple[str, Any, str]] = [
    ("not-a-list", {"op": "add"}, "patch must be an array, got dict"),
    ("a-string", "[]", "patch must be an array, got str"),
    ("op-not-object", [1], "patch op 0 must be an object, got int"),
    ("missing-op", [{"path": "/x"}], "patch op 0: missing 'op'"),
    ("op-not-string", [{"op": 1, "path": "/x"}], "patch op 0: 'op' must be a string, got int"),
    ("unknown-op", [{"op": "merge", "path": "/x"}], 'patch op 0: unknown op "merge"'),
    ("missing-path", [{"op": "remove"}], "patch op 0: missing 'path'"),
    (
        "path-not-string",
        [{"op": "remove", "path": ["x"]}],
        "patch op 0: 'path' must be a string, got list",
    ),
    ("no-leading-slash", [{"op": "remove", "path": "x"}], 'patch op 0: invalid pointer "x"'),
    ("bad-escape", [{"op": "remove", "path": "/x~2"}], 'patch op 0: invalid pointer "/x~2"'),
    ("missing-value", [{"op": "add", "path": "/z"}], "patch op 0: missing 'value'"),
    (
        "value-not-json",
        [{"op": "add", "path": "/z", "value": {1}}],
        "patch op 0: unsupported type set at $.value",
    ),
    ("missing-from", [{"op": "move", "path": "/z"}], "patch op 0: missing 'from'"),
    (
        "from-not-string",
        [{"op": "copy", "from": 5, "path": "/z"}],
        "patch op 0: 'from' must be a string, got int",
    ),
    (
        "from-not-found",
        [{"op": "move", "from": "/nope", "path": "/z"}],
        'patch op 0: from "/nope" not found',
    ),
    ("remove-missing", [{"op": "remove", "path": "/nope"}], 'patch op 0: "/nope" not found'),
    (
        "replace-missing",
        [{"op": "replace", "path": "/x/nope", "value": 1}],
        'patch op 0: "/x/nope" not found',
    ),
    (
        "add-no-parent",
        [{"op": "add", "path": "/nope/z", "value": 1}],
        'patch op 0: "/nope/z" not found',
    ),
    ("into-a-scalar", [{"op": "add", "path": "/s/0", "value": 1}], 'patch op 0: "/s/0" not found'),
    (
        "out-of-range",
        [{"op": "remove", "path": "/x/y/3"}],
        'patch op 0: index 3 out of range in "/x/y/3"',
    ),
    (
        "add-out-of-range",
        [{"op": "add", "path": "/x/y/4", "value": 0}],
        'patch op 0: index 4 out of range in "/x/y/4"',
    ),
    (
        "leading-zero",
        [{"op": "remove", "path": "/x/y/01"}],
        'patch op 0: invalid array index "01" in "/x/y/01"',
    ),
    (
        "dash-in-remove",
        [{"op": "remove", "path": "/x/y/-"}],
        'patch op 0: invalid array index "-" in "/x/y/-"',
    ),
    (
        "dash-midway",
        [{"op": "add", "path": "/nodes/-/id", "value": 1}],
        'patch op 0: invalid array index "-" in "/nodes/-/id"',
    ),
    (
        "negative-index",
        [{"op": "replace", "path": "/x/y/-1", "value": 0}],
        'patch op 0: invalid array index "-1" in "/x/y/-1"',
    ),
    (
        "key-on-array",
        [{"op": "add", "path": "/nodes/id", "value": 0}],
        'patch op 0: invalid array index "id" in "/nodes/id"',
    ),
    (
        "test-fails",
        [{"op": "test", "path": "/s", "value": "other"}],
        'patch op 0: test failed at "/s"',
    ),
    (
        "test-bool-vs-number",
        [{"op": "test", "path": "/metadata/v", "value": True}],
        'patch op 0: test failed at "/metadata/v"',
    ),
    (
        "test-missing",
        [{"op": "test", "path": "/nope", "value": 1}],
        'patch op 0: "/nope" not found',
    ),
    (
        "move-into-itself",
        [{"op": "move", "from": "/x", "path": "/x/y/0"}],
        'patch op 0: cannot move "/x" into itself at "/x/y/0"',
    ),
    ("remove-root", [{"op": "remove", "path": ""}], "patch op 0: cannot remove the whole document"),
    (
        "all-or-nothing",
        [
            {"op": "remove", "path": "/s"},
            {"op": "add", "path": "/x/y/-", "value": 4},
            {"op": "remove", "path": "/s"},
        ],
        'patch op 2: "/s" not found',
    ),
    (
        "move-then-out-of-range",
        [{"op": "move", "from": "/x/y/0", "path": "/x/y/3"}],
        'patch op 0: index 3 out of range in "/x/y/3"',
    ),
]


@BACKENDS
@pytest.mark.parametrize(
    ("patch", "message"), [pytest.param(p, m, id=i) for i, p, m in BAD_PATCHES]
)
def test_bad_patches(core: ModuleType, patch: Any, message: str) -> None:
    schema, saved = copy.deepcopy(SCHEMA), copy.deepcopy(SCHEMA)
    patch_before = copy.deepcopy(patch) if not isinstance(patch, list) else list(patch)
    with pytest.raises(lf.ProtocolError) as info:
        core.apply_schema_patch(schema, patch)
    assert str(info.value) == message
    assert schema == saved
    if isinstance(patch, list):
        assert patch == patch_before


def test_there_are_at_least_twenty_kinds_of_bad_patch() -> None:
    assert len({kind for kind, _, _ in BAD_PATCHES}) >= 20


@BACKENDS
def test_calculate_errors(core: ModuleType) -> None:
    with pytest.raises(lf.ProtocolError, match=r"unsupported type set at \$\.a"):
        core.calculate_schema_patch({"a": 1}, {"a": {1}})
    with pytest.raises(lf.ProtocolError, match=r"dict key must be str, got int at \$\.b"):
        core.calculate_schema_patch({"b": {1: 2}}, {})
    deep: Any = 1
    for _ in range(600):
        deep = [deep]
    with pytest.raises(lf.ProtocolError, match="nesting depth exceeds 512"):
        core.calculate_schema_patch({"d": 1}, {"d": deep})


# ---------------------------------------------------------------------------- sizes


def patch_bytes(patch: list[dict[str, Any]]) -> int:
    return len(native.dumps(patch))


@pytest.mark.parametrize("preset", ["medium", "xl"])
def test_one_property_edit_is_a_small_patch(preset: str) -> None:
    old = preset_schema(preset, "tree", 42)
    new = mutate(old, 1, 7)  # one edit: a prop of a deep node (and generatedAt)
    patch = native.calculate_schema_patch(old, new)
    assert [op["op"] for op in patch] == ["replace", "replace"]
    assert patch_bytes(patch) <= 1_000
    if preset == "medium":
        assert same(pure.calculate_schema_patch(old, new), patch)
    applied = native.apply_schema_patch(old, patch)
    assert native.calculate_checksum(applied) == native.calculate_checksum(new)


def test_patches_are_small_next_to_deltas() -> None:
    old = preset_schema("medium", "tree", 42)
    ratios = []
    for seed in range(200):
        new = mutate(old, seed % 10 + 1, seed)
        patch = native.calculate_schema_patch(old, new)
        delta = lf.serialize_message(lf.calculate_schema_delta(old, new))
        ratios.append(patch_bytes(patch) / len(delta))
        if seed % 40 == 0:
            applied = native.apply_schema_patch(old, patch)
            assert native.calculate_checksum(applied) == native.calculate_checksum(new)
    assert statistics.median(ratios) <= 0.02, statistics.median(ratios)


def test_vectors_are_loaded() -> None:
    assert len(load_vectors("delta")) > 100


# ------------------------------------------------- the tracker's patch (hashed subtrees)

# Pairs of values JSON equality (and the canonical form) cannot tell apart, though a
# patch can: ids under SameValueZero, keys by code points. The native tracker skips
# subtrees whose canonical hashes agree, so each of these must make a hash inexact.
_TWINS: list[tuple[Any, Any]] = [
    (float("nan"), None),
    (float("inf"), None),
    (float("-inf"), float("nan")),
    ("\ud83d\ude00", "😀"),
    (1, 1.0),
    (0, -0.0),
    ("a", "a"),
]
_TWIN_KEYS = [("\ud83d\ude00", "😀"), ("__proto__", "__proto__"), ("k", "k")]


@st.composite
def twin_trees(draw: st.DrawFn) -> Pair:
    """A schema of nested id'd arrays, and a copy with some values swapped for twins."""
    counter = iter(range(10**6))

    def node(depth: int) -> tuple[dict[str, Any], dict[str, Any]]:
        n = next(counter)
        a_id, b_id = draw(st.sampled_from([*_TWINS, (f"n{n}", f"n{n}")]))
        a_value, b_value = draw(st.sampled_from(_TWINS))
        a_key, b_key = draw(st.sampled_from(_TWIN_KEYS))
        a: dict[str, Any] = {"id": a_id, "props": {a_key: a_value, "n": n}}
        b: dict[str, Any] = {"id": b_id, "props": {b_key: b_value, "n": n}}
        if draw(st.booleans()):  # key order is no difference
            b = dict(reversed(list(b.items())))
        if depth < 3:
            pairs = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
            a["children"] = [x for x, _ in pairs]
            b["children"] = [y for _, y in pairs]
        if draw(st.integers(0, 5)) == 0:  # a real change, so that not all is equal
            b["props"]["edited"] = n
        return a, b

    pairs = [node(0) for _ in range(draw(st.integers(1, 4)))]
    old = {"version": "1", "metadata": {}, "nodes": [x for x, _ in pairs]}
    new = {"version": "1", "metadata": {}, "nodes": [y for _, y in pairs]}
    return old, new


@BACKENDS
@given(pair=twin_trees(), algorithm=st.sampled_from(["sha256", "xxh3"]))
def test_tracker_patch_is_the_oracles_on_twins(
    core: ModuleType, pair: Pair, algorithm: lf.ChecksumAlgorithm
) -> None:
    old, new = pair
    tracker = core.SchemaTracker(algorithm)
    tracker.update(old)
    # Twice, so that the second diff runs between two hashed schemas both ways.
    for before, after in [(old, new), (new, old)]:
        expected = pure.calculate_schema_patch(before, after)
        checksum, _, _, patch = tracker.update(after)
        assert checksum == pure.calculate_checksum(after, algorithm)
        assert same(patch, expected), (patch, expected)


@BACKENDS
def test_tracker_patch_on_large_presets(core: ModuleType) -> None:
    old = preset_schema("medium", "tree", 7)
    new = mutate(old, 10, 3)
    tracker = core.SchemaTracker()
    assert tracker.update(old)[3] is None
    for before, after in [(old, new), (new, old), (old, copy.deepcopy(old))]:
        assert same(tracker.update(after)[3], pure.calculate_schema_patch(before, after))


# Items of arrays diffed in step (equal lengths): ids that agree, differ, repeat or are
# missing, so that every way out of the in-step walk is taken.
_item_ids = st.sampled_from([0, 1, 2, 1.0, "1", None, float("nan"), True, _ABSENT, [1]])
_items = st.one_of(
    st.builds(
        lambda id_, v: {"v": v} if id_ is _ABSENT else {"id": id_, "v": v},
        _item_ids,
        st.sampled_from([0, 1, "x", [1, 2], {"a": 1}]),
    ),
    st.sampled_from([0, "s", None]),
)


@st.composite
def same_length_arrays(draw: st.DrawFn) -> Pair:
    length = draw(st.integers(0, 6))
    old = draw(st.lists(_items, min_size=length, max_size=length))
    new = draw(st.lists(_items, min_size=length, max_size=length))
    if draw(st.booleans()):  # mostly the same items, some edited
        pairs = zip(old, new, strict=True)
        new = [copy.deepcopy(x) if draw(st.integers(0, 3)) else y for x, y in pairs]
    if draw(st.booleans()):
        return {"c": old, "k": [old]}, {"c": new, "k": [new]}
    return old, new


@given(pair=same_length_arrays())
def test_law_on_same_length_arrays(pair: Pair) -> None:
    check_law(*pair)


_members = st.dictionaries(st.sampled_from(["a", "b", "id"]), st.integers(0, 3), max_size=2)


@st.composite
def edited_id_arrays(draw: st.DrawFn) -> Pair:
    """Arrays of objects with ids (more than the native core checks pairwise), edited in
    a few places: items changed before and after inserts, removals and moves (the native
    core diffs the equal head and tail in place, from both ends), an id sometimes first,
    sometimes not, missing or repeated."""
    length = draw(st.integers(0, 40))
    old: list[Any] = []
    for i in range(length):
        item: dict[str, Any] = {"id": i, "v": draw(st.integers(0, 2))}
        if draw(st.integers(0, 9)) == 0:
            item = {"v": item["v"], "id": i}  # the id not first
        old.append(item)
    new = copy.deepcopy(old)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["edit", "insert", "remove", "move", "odd"]))
        if kind == "insert" or not new:
            new.insert(draw(st.integers(0, len(new))), {"id": 100 + len(new), "v": 9})
        elif kind == "edit":
            edited = new[draw(st.integers(0, len(new) - 1))]
            if isinstance(edited, dict):
                edited["v"] = draw(st.sampled_from([3, [1], {"x": draw(_members)}]))
        elif kind == "remove":
            del new[draw(st.integers(0, len(new) - 1))]
        elif kind == "move":
            moved = new.pop(draw(st.integers(0, len(new) - 1)))
            new.insert(draw(st.integers(0, len(new))), moved)
        else:  # an item without an id, or with a repeated one
            at = draw(st.integers(0, len(new) - 1))
            new[at] = draw(st.sampled_from([{"v": 1}, {"id": 0}, 7]))
    for item in new:
        if isinstance(item, dict) and draw(st.integers(0, 5)) == 0:
            item["v"] = draw(st.integers(0, 2))
    if draw(st.booleans()):
        return {"nodes": old, "k": [{"id": 0, "c": old}]}, {
            "nodes": new,
            "k": [{"id": 0, "c": new}],
        }
    return old, new


@given(pair=edited_id_arrays())
def test_law_on_edited_id_arrays(pair: Pair) -> None:
    check_law(*pair)
    check_law(pair[1], pair[0])
