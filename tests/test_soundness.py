"""The native walks run no Python code (issue 13, defect 2).

``lumora_fast._core`` reads Python objects through borrowed pointers: a view of a value is
valid only while the container holding it keeps it, so nothing may run Python code while
a walk is under way (see ``rust/bindings/view.rs``). Each test here plants Python code
that the walk could reach: a str subclass's ``encode``, a Struct property or
``__getattribute__``, a Struct metaclass's ``__getattribute__``, a dict key's ``__eq__``,
a type name's ``__str__``, and a ``__del__`` run by a garbage collection that an
allocation inside the walk starts. When that code runs (the trap is armed only around the
native call), it empties the containers the walk is inside, which frees what they held,
and allocates over the freed memory.

A sound walk never runs it: the native result equals the one for the same data without
the hook (computed by ``lumora_fast.pure`` or by the native core on plain data), or is a
clean ``ProtocolError``; and the trap is never sprung. Before the fix these tests failed
with bytes read from freed memory, a wrong delta, or a sprung trap.

A Struct field is the value in its slot, as ``msgspec.json.encode`` writes it: a property
or ``__getattribute__`` defined on a Struct subclass is not consulted.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from lumora_fast import _core, pure
from lumora_fast.errors import ProtocolError
from lumora_fast.messages import SchemaUpdate, UpdateMessage

Schema = dict[str, Any]


class Trap:
    """Python code a native walk must never run."""

    def __init__(self) -> None:
        self.armed = False
        self.calls = 0
        self.targets: list[Any] = []
        self.litter: list[Any] = []

    def spring(self) -> None:
        """Empty every target and allocate over the memory that frees (when armed)."""
        if not self.armed:
            return
        self.calls += 1
        targets, self.targets = self.targets, []
        for target in targets:
            target.clear()
        del targets
        # Lists and dicts of the sizes just freed: a read through a dangling pointer now
        # finds one of these instead of the value it expected.
        self.litter.append([[i] for i in range(500)])
        self.litter.append([{"lie": [i]} for i in range(500)])

    def run(self, targets: list[Any], call: Callable[[], Any]) -> Any:
        """``call()`` with the trap armed, set to empty ``targets``."""
        self.targets = targets
        self.armed = True
        try:
            return call()
        finally:
            self.armed = False
            self.targets = []


TRAP = Trap()


@pytest.fixture
def trap() -> Iterator[Trap]:
    TRAP.calls = 0
    yield TRAP
    TRAP.armed = False
    TRAP.targets = []
    TRAP.litter = []


def node(node_id: Any, **props: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "View", "props": props, "children": []}


def schema(nodes: list[Any], **extra: Any) -> Schema:
    return {"metadata": {"generatedAt": 7}, "nodes": nodes, **extra}


# The schema-level operations, each as (name, call on a backend and a schema).
SCHEMA_OPERATIONS: list[tuple[str, Callable[[Any, Schema], Any]]] = [
    ("canonical_json", lambda core, s: core.canonical_json(s)),
    ("checksum_sha256", lambda core, s: core.calculate_checksum(s)),
    ("checksum_xxh3", lambda core, s: core.calculate_checksum(s, "xxh3")),
    ("dumps", lambda core, s: core.dumps(s)),
    ("dumps_pretty", lambda core, s: core.dumps(s, pretty=True)),
    ("serialize_message", lambda core, s: core.dumps(update_message(s))),
]
SCHEMA_IDS = [name for name, _ in SCHEMA_OPERATIONS]


def update_message(s: Schema) -> Any:
    """An ``update`` message Struct carrying ``s`` in a full update."""
    update = SchemaUpdate(
        type="full", schema=s, preserve_state=True, sequence_number=1, checksum="0"
    )
    return UpdateMessage(session_id="s", timestamp=1, version="1.0.0", payload=update)


def delta_summary(result: Any) -> bytes:
    """A delta (or tracker change) as JSON bytes, Structs written from their slots."""
    return _core.dumps(list(result))


def tracker_changes(core: Any, schemas: list[Schema]) -> Any:
    tracker = core.SchemaTracker()
    return [tracker.update(s) for s in schemas]


# -- A str subclass's `encode` ------------------------------------------------------------


class EncodeStr(str):
    """A str whose ``encode`` springs the trap (the walk once encoded lone surrogates by
    calling ``encode``, a method lookup that finds this override)."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        TRAP.spring()
        return str.encode(self, encoding, errors)


def surrogate_schemas(text: Callable[[str], str]) -> tuple[Schema, Schema, list[Any]]:
    """An (old, new) pair whose new schema holds lone surrogates as ``text`` makes them:
    as keys, values and a node id; with the containers to empty."""
    table = {text("k\ud800"): ["orig", {"n": [1, 2.5]}], "after": [text("v\udfff"), "w"]}
    nodes = [
        node("a", label="same"),
        node(text("b\ud800"), table=table, mark=text("\ud83d")),
        node(text("new\udc00"), extra=[text("x\ud800y")]),
    ]
    new = schema(nodes, x=table, version=text("1\udbff"))
    old = schema([node("a", label="same"), node("b\ud800", table={}), node("gone")], version="1")
    return old, new, [table, nodes]


def test_the_issue_reproduction(trap: Trap) -> None:
    keep: list[Any] = []
    d: dict[str, Any] = {}

    class S(str):
        def encode(self, *a: Any, **k: Any) -> bytes:
            d.clear()
            keep.append([[i] for i in range(500)])
            return str.encode(self, *a, **k)

    d[S("k\ud800")] = ["orig"]
    out = _core.canonical_json({"metadata": {}, "nodes": [], "x": d})
    assert out == pure.canonical_json({"metadata": {}, "nodes": [], "x": {"k\ud800": ["orig"]}})
    assert out == b'{"metadata":{"generatedAt":0},"nodes":[],"x":{"k\\ud800":["orig"]}}'
    assert not keep


@pytest.mark.parametrize(("name", "operation"), SCHEMA_OPERATIONS, ids=SCHEMA_IDS)
def test_str_subclass_encode_is_not_called(
    trap: Trap, name: str, operation: Callable[[Any, Schema], Any]
) -> None:
    _, expected_schema, _ = surrogate_schemas(str)
    expected = operation(pure, expected_schema)
    _, new, targets = surrogate_schemas(EncodeStr)
    assert trap.run(targets, lambda: operation(_core, new)) == expected
    assert trap.calls == 0


def test_str_subclass_encode_in_delta_and_tracker(trap: Trap) -> None:
    old, new, _ = surrogate_schemas(str)
    expected_delta = delta_summary(pure.calculate_schema_delta(old, new))
    expected_changes = [delta_summary(c) for c in tracker_changes(pure, [old, new])]

    old, new, targets = surrogate_schemas(EncodeStr)
    delta = trap.run(targets, lambda: _core.calculate_schema_delta(old, new))
    assert delta_summary(delta) == expected_delta

    old, new, targets = surrogate_schemas(EncodeStr)
    changes = trap.run(targets, lambda: tracker_changes(_core, [old, new]))
    assert [delta_summary(c) for c in changes] == expected_changes
    assert trap.calls == 0


def test_str_subclass_encode_in_apply_delta(trap: Trap) -> None:
    old, new, _ = surrogate_schemas(str)
    added, modified, removed, changes = pure.calculate_schema_delta(old, new)
    expected = _core.dumps(pure.apply_schema_delta(old, added, modified, removed, changes))
    old, new, targets = surrogate_schemas(EncodeStr)
    added, modified, removed, changes = _core.calculate_schema_delta(old, new)
    targets += [added, modified]
    result = trap.run(
        targets, lambda: _core.apply_schema_delta(old, added, modified, removed, changes)
    )
    assert _core.dumps(result) == expected
    assert trap.calls == 0


def test_str_subclass_encode_in_validate_message(trap: Trap) -> None:
    def message(text: Callable[[str], str]) -> tuple[dict[str, Any], list[Any]]:
        kind = [text("x\ud800"), ["y", text("\udc00z")], {"k": 1}]
        payload = {"schema": {"nodes": [text("n\ud800")]}, "deviceId": text("d\udfff")}
        msg = {"type": kind, "sessionId": text("s\ud800"), "timestamp": 1, "payload": payload}
        return msg, [kind, payload]

    expected = pure.validate_message(message(str)[0])
    msg, targets = message(EncodeStr)
    assert trap.run(targets, lambda: _core.validate_message(msg)) == expected
    assert trap.calls == 0


def test_str_arguments_are_read_without_encode(trap: Trap) -> None:
    text = EncodeStr('["\ud800", 1]')
    assert trap.run([], lambda: _core.loads(text)) == ["\ud800", 1]
    client = EncodeStr("1.0\ud800")
    errors = trap.run([], lambda: _core.validate_protocol_version(client, "1.0.0"))
    assert errors == pure.validate_protocol_version("1.0\ud800", "1.0.0")
    assert trap.calls == 0


# -- Struct attribute lookups -------------------------------------------------------------


class Point(msgspec.Struct):
    x: int
    tags: list[Any]


class GetattributePoint(Point):
    def __getattribute__(self, name: str) -> Any:
        TRAP.spring()
        return super().__getattribute__(name)


class PropertyPoint(Point):
    @property  # type: ignore[misc]
    def x(self) -> int:  # shadows the field for getattr; msgspec encodes the slot
        TRAP.spring()
        return 99


class TrapMeta(msgspec.StructMeta):
    def __getattribute__(cls, name: str) -> Any:
        TRAP.spring()
        return super().__getattribute__(name)


class MetaPoint(msgspec.Struct, metaclass=TrapMeta):
    x: int
    tags: list[Any]


class TaggedPoint(msgspec.Struct, tag="point", tag_field="kind", rename="camel"):
    x: int
    tags: list[Any]
    long_name: Any = msgspec.UNSET


class TaggedGetattributePoint(msgspec.Struct, tag="point", tag_field="kind", rename="camel"):
    x: int
    tags: list[Any]
    long_name: Any = msgspec.UNSET

    def __getattribute__(self, name: str) -> Any:
        TRAP.spring()
        return super().__getattribute__(name)


# Each Struct class with hooks, and its plain twin (same fields, names and tag).
STRUCT_CLASSES = [
    (GetattributePoint, Point),
    (PropertyPoint, Point),
    (MetaPoint, Point),
    (TaggedGetattributePoint, TaggedPoint),
]
STRUCT_IDS = ["getattribute", "property", "metaclass", "tagged"]


def struct_schemas(cls: Any) -> tuple[Schema, Schema, list[Any]]:
    """An (old, new) pair whose new schema holds Structs of ``cls`` inside containers the
    walk iterates, next to siblings that only those containers hold."""
    holder = {
        "p": cls(x=1, tags=["t", [2, 3]]),
        "sibling": ["s", {"deep": [4]}],
        "q": cls(x=5, tags=[]),
    }
    points = [cls(x=6, tags=[{"k": "v"}]), ["after", [7]], cls(x=8, tags=[9])]
    nodes = [node("a", holder=holder), node("b", points=points), node("c", p=cls(x=10, tags=[]))]
    new = schema(nodes, holder=holder)
    old = schema([node("a", holder={}), node("b", points=[]), node("gone")])
    return old, new, [holder, points, nodes]


@pytest.mark.parametrize(("cls", "twin"), STRUCT_CLASSES, ids=STRUCT_IDS)
@pytest.mark.parametrize(("name", "operation"), SCHEMA_OPERATIONS, ids=SCHEMA_IDS)
def test_struct_fields_are_read_from_slots(
    trap: Trap, cls: Any, twin: Any, name: str, operation: Callable[[Any, Schema], Any]
) -> None:
    _, expected_schema, _ = struct_schemas(twin)
    expected = operation(pure, expected_schema)
    _, new, targets = struct_schemas(cls)
    assert trap.run(targets, lambda: operation(_core, new)) == expected
    assert trap.calls == 0


@pytest.mark.parametrize(("cls", "twin"), STRUCT_CLASSES, ids=STRUCT_IDS)
def test_struct_fields_in_delta_and_tracker(trap: Trap, cls: Any, twin: Any) -> None:
    old, new, _ = struct_schemas(twin)
    expected_delta = delta_summary(pure.calculate_schema_delta(old, new))
    expected_changes = [delta_summary(c) for c in tracker_changes(pure, [old, new])]

    old, new, targets = struct_schemas(cls)
    delta = trap.run(targets, lambda: _core.calculate_schema_delta(old, new))
    assert delta_summary(delta) == expected_delta

    old, new, targets = struct_schemas(cls)
    changes = trap.run(targets, lambda: tracker_changes(_core, [old, new]))
    assert [delta_summary(c) for c in changes] == expected_changes
    assert trap.calls == 0


class AckPayload(msgspec.Struct, rename="camel"):
    sequence_number: Any
    success: Any


class GetattributeAckPayload(AckPayload):
    def __getattribute__(self, name: str) -> Any:
        TRAP.spring()
        return super().__getattribute__(name)


@pytest.mark.parametrize("cls", [GetattributeAckPayload, AckPayload])
def test_struct_payload_in_validate_message(trap: Trap, cls: Any) -> None:
    def message(cls: Any) -> tuple[dict[str, Any], list[Any]]:
        extra = {"pad": [[1], [2]]}
        payload = cls(sequence_number=EncodeStr("\ud800"), success=[extra])
        msg = {"type": "ack", "sessionId": "s", "timestamp": 1, "version": "1", "payload": payload}
        return msg, [msg, extra]

    expected = pure.validate_message(message(AckPayload)[0])
    msg, targets = message(cls)
    assert trap.run(targets, lambda: _core.validate_message(msg)) == expected
    assert trap.calls == 0


def test_struct_wire_value_is_the_slot() -> None:
    point = PropertyPoint(x=1, tags=[])
    assert point.x == 99
    assert _core.dumps(point) == msgspec.json.encode(point) == b'{"x":1,"tags":[]}'


# -- A dict key's `__eq__` ----------------------------------------------------------------


class EqKey(str):
    """A str key with str's hash whose ``__eq__`` springs the trap: it shares a hash slot
    with the exact str of the same text, and a hash lookup of that text compares them."""

    __slots__ = ()
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        TRAP.spring()
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other


class HashTwin:
    """A non-str key with the hash of ``text``, whose ``__eq__`` springs the trap."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        TRAP.spring()
        return self is other


PADDING = {f"pad{i}": i for i in range(12)}


def eq_key_schemas(wide: bool) -> tuple[Schema, Schema, list[Any]]:
    """An (old, new) pair whose nodes and root hold an ``EqKey`` before the exact str key
    of the same text (``wide``: in dicts too large to be scanned)."""
    pad = PADDING if wide else {}

    def twin_node(node_id: str, **props: Any) -> dict[str, Any]:
        return {EqKey("id"): "shadow", **node(node_id, **props), **pad}

    old_nodes = [twin_node("a"), twin_node("b", v=1), twin_node("gone")]
    new_nodes = [twin_node("a"), twin_node("b", v=2), twin_node("new")]
    old = {EqKey("metadata"): 0, **schema(old_nodes), **pad}
    new = {EqKey("metadata"): 0, EqKey("nodes"): 1, **schema(new_nodes), **pad}
    return old, new, [old_nodes, new_nodes]


@pytest.mark.parametrize("wide", [False, True], ids=["small", "wide"])
def test_dict_lookup_calls_no_key_eq(trap: Trap, wide: bool) -> None:
    old, new, _ = eq_key_schemas(wide)
    expected = [
        pure.canonical_json(new),
        pure.calculate_checksum(new),
        delta_summary(pure.calculate_schema_delta(old, new)),
        # The checksums and deltas are pure's; whether the delta is incremental, for
        # objects with two "id" keys, is not compared (the trap is idle here).
        [delta_summary(c) for c in tracker_changes(_core, [old, new])],
    ]
    operations: list[Callable[[Schema, Schema], Any]] = [
        lambda old, new: _core.canonical_json(new),
        lambda old, new: _core.calculate_checksum(new),
        lambda old, new: delta_summary(_core.calculate_schema_delta(old, new)),
        lambda old, new: [delta_summary(c) for c in tracker_changes(_core, [old, new])],
    ]
    assert [c[:2] for c in tracker_changes(_core, [old, new])] == [
        c[:2] for c in tracker_changes(pure, [old, new])
    ]
    for operation, want in zip(operations, expected, strict=True):
        old, new, targets = eq_key_schemas(wide)
        assert trap.run(targets, lambda op=operation, o=old, n=new: op(o, n)) == want
    assert trap.calls == 0


def test_message_lookup_calls_no_key_eq(trap: Trap) -> None:
    def message() -> tuple[dict[Any, Any], list[Any]]:
        payload = {"sessionId": "s", "items": [[1], [2]]}
        return {EqKey("type"): "x", "type": "ping", "timestamp": 1, "payload": payload}, [payload]

    expected = pure.validate_message(message()[0])
    msg, targets = message()
    assert trap.run(targets, lambda: _core.validate_message(msg)) == expected
    assert trap.calls == 0


@pytest.mark.parametrize("where", ["root", "node"])
def test_non_str_key_is_refused_without_eq(trap: Trap, where: str) -> None:
    # Each before the str key it collides with, so that a hash lookup of that key meets it.
    nodes = [{HashTwin("id"): 1, **node("a", v=[1])}, node("b")] if where == "node" else [node("a")]
    s = {HashTwin("metadata"): 1, **schema(nodes)} if where == "root" else schema(nodes)
    old = schema([node("a"), node("b")])
    for call in (
        lambda: _core.calculate_checksum(s),
        lambda: _core.canonical_json(s),
        lambda: _core.calculate_schema_delta(old, s),
        lambda: tracker_changes(_core, [old, s]),
    ):
        with pytest.raises(ProtocolError, match="dict key must be str, got HashTwin"):
            trap.run([nodes], call)
    assert trap.calls == 0


# -- A type name's `__str__` --------------------------------------------------------------


class NameStr(str):
    __slots__ = ()

    def __str__(self) -> str:
        TRAP.spring()
        return "lie"


class Opaque:
    """Not JSON; its ``__name__`` is a str subclass with a ``__str__`` trap."""


Opaque.__name__ = NameStr("Opaque")


def test_type_name_is_read_without_str(trap: Trap) -> None:
    def schemas() -> tuple[Schema, Schema, list[Any]]:
        nodes = [node("a"), Opaque(), node("b", v=[Opaque()])]
        old = schema([node("a"), node("b")])
        return old, schema(nodes, metadata=Opaque()), [nodes]

    calls: list[Callable[[Schema, Schema], Any]] = [
        lambda old, new: _core.calculate_checksum(new),
        lambda old, new: _core.canonical_json(new),
        lambda old, new: _core.dumps(new),
        _core.calculate_schema_delta,
        lambda old, new: tracker_changes(_core, [old, new]),
    ]
    for call in calls:
        old, new, targets = schemas()
        with pytest.raises(ProtocolError, match="Opaque"):
            trap.run(targets, lambda c=call, o=old, n=new: c(o, n))
    assert trap.calls == 0


# -- `__del__` run by a garbage collection ------------------------------------------------


class Reaper:
    """Cyclic garbage whose ``__del__`` springs the trap when a collection finds it."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        TRAP.spring()


@pytest.fixture
def eager_gc() -> Iterator[None]:
    """Collections as often as possible, with cyclic garbage waiting for the next one."""
    _core.canonical_json(schema([]))  # msgspec imported: a walk allocates nothing first
    was_enabled, threshold = gc.isenabled(), gc.get_threshold()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if was_enabled:
            gc.enable()
        gc.collect()


def collecting(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` run with garbage pending and a collection due on the next allocation of a
    container (``call`` makes none itself before its native call)."""

    def run() -> Any:
        for _ in range(20):
            Reaper()
        gc.set_threshold(1)
        gc.enable()
        try:
            return call()
        finally:
            gc.disable()

    return run


@pytest.mark.usefixtures("eager_gc")
def test_collection_inside_a_walk_runs_no_del(trap: Trap) -> None:
    old, new, _ = surrogate_schemas(str)
    expected = [pure.canonical_json(new), pure.dumps(new), pure.calculate_checksum(new, "xxh3")]
    expected_delta = delta_summary(pure.calculate_schema_delta(old, new))
    expected_change = delta_summary(tracker_changes(pure, [old, new])[1])
    operations: list[Callable[[Schema], Any]] = [
        _core.canonical_json,
        _core.dumps,
        lambda new: _core.calculate_checksum(new, "xxh3"),
    ]
    for operation, want in zip(operations, expected, strict=True):
        _, new, targets = surrogate_schemas(str)
        assert trap.run(targets, collecting(lambda op=operation, n=new: op(n))) == want
    old, new, targets = surrogate_schemas(str)
    delta = trap.run(targets, collecting(lambda: _core.calculate_schema_delta(old, new)))
    assert delta_summary(delta) == expected_delta
    old, new, targets = surrogate_schemas(str)
    tracker = _core.SchemaTracker()
    tracker.update(old)
    change = trap.run(targets, collecting(lambda: tracker.update(new)))
    assert delta_summary(change) == expected_change


@pytest.mark.usefixtures("eager_gc")
def test_collection_while_delta_results_are_built_runs_no_del(trap: Trap) -> None:
    """The delta's nodes are views until they are put in the result lists, whose
    allocation could start a collection."""

    def schemas() -> tuple[Schema, Schema, list[Any]]:
        new_nodes = [node(f"n{i}", v=[i, {"w": [i]}]) for i in range(40)]
        old_nodes = [node(f"n{i}", v=[i]) for i in range(20, 60)]
        old, new = schema(old_nodes, version="1"), schema(new_nodes, version="2", theme={"t": [1]})
        return old, new, [old_nodes, new_nodes, new]

    old, new, _ = schemas()
    expected_delta = delta_summary(pure.calculate_schema_delta(old, new))
    expected_change = delta_summary(tracker_changes(pure, [old, new])[1])
    old, new, targets = schemas()
    delta = trap.run(targets, collecting(lambda: _core.calculate_schema_delta(old, new)))
    assert delta_summary(delta) == expected_delta
    old, new, targets = schemas()
    tracker = _core.SchemaTracker()
    tracker.update(old)
    change = trap.run(targets, collecting(lambda: tracker.update(new)))
    assert delta_summary(change) == expected_change


# -- Python code after a walk -------------------------------------------------------------


def test_apply_delta_owns_its_nodes_before_copying_the_schema(trap: Trap) -> None:
    """Copying the schema's members into the result compares colliding keys with
    ``__eq__``: by then the new node list must hold its nodes itself."""

    def arguments() -> tuple[Schema, list[Any], list[Any], list[Any], list[Any]]:
        nodes = [node("a", v=[1]), node("b", v=[2]), node("c")]
        s = {**schema(nodes), EqKey("x"): 1, "x": 2, "tmp": 0}
        del s["tmp"]  # a deleted entry: the copy inserts key by key
        added = [node("d", v=[{"new": True}])]
        modified = [node("b", v=[3])]
        return s, added, modified, ["c"], [nodes, added, modified]

    s, added, modified, removed, _ = arguments()
    expected = _core.dumps(pure.apply_schema_delta(s, added, modified, removed, None)["nodes"])
    s, added, modified, removed, targets = arguments()
    result = trap.run(targets, lambda: _core.apply_schema_delta(s, added, modified, removed, None))
    assert trap.calls > 0  # the copy did run `__eq__`: after the walk, as it may
    assert _core.dumps(result["nodes"]) == expected
