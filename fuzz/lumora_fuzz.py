"""What every fuzz target shares: the two backends, outcome comparison, input decoding.

Import this module before anything else of ``lumora_fast``: it imports the package under
``atheris.instrument_imports`` so the Python wrappers (``codec``, ``delta``, the pure
backend) report coverage next to the Rust edges of the instrumented ``_core``.

A target is a module in ``fuzz/targets/`` with two functions:

* ``seeds() -> Iterable[bytes]``: starting inputs (built from ``tests/data/conformance``);
* ``test_one_input(data: bytes) -> None``: runs the entry point on ``data`` and raises
  :class:`Finding` when a property fails. Any other exception escaping it (and a crash or
  a timeout) is a finding too.

Structured targets read their input as ``JSON text [NUL tape]``: the text gives the value,
the optional bytes after the first NUL drive :func:`decorate`, which swaps parts of the
value for what JSON cannot spell (tuples, subclasses, msgspec Structs, enums, values that
are not JSON, non-``str`` keys) and shares objects between two schemas.
"""

from __future__ import annotations

import copy
import enum
import json
import math
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import atheris

# The checks recurse through values nested up to MAX_DEPTH (512), two frames a level.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))

FUZZ_DIR = Path(__file__).resolve().parent
ROOT = FUZZ_DIR.parent
CONFORMANCE = ROOT / "tests" / "data" / "conformance"

# The installed package in fuzz/.venv (built by fuzz/build.sh), never the source tree's
# python/ (whose _core*.so belongs to the main .venv and is not instrumented).
if str(ROOT / "python") in sys.path:
    sys.path.remove(str(ROOT / "python"))

if os.environ.get("LUMORA_FUZZ_NO_PY_COV", "") in ("", "0"):
    with atheris.instrument_imports(include=["lumora_fast"]):
        import lumora_fast as lf
        from lumora_fast import _backend, _core, codec, delta, pure, tracker
else:  # Rust edges only (to measure what the native instrumentation alone contributes)
    import lumora_fast as lf
    from lumora_fast import _backend, _core, codec, delta, pure, tracker  # noqa: F401

import msgspec  # noqa: E402 - after lumora_fast, which imports it instrumented or not

native = _core
ProtocolError = lf.ProtocolError
PanicException: type[BaseException] | None = None

if _backend.BACKEND != "native":
    raise SystemExit("fuzz: LUMORA_FAST_PURE is set; the targets need the native core")
if not Path(native.__file__).is_relative_to(Path(sys.prefix)):
    raise SystemExit(f"fuzz: lumora_fast._core comes from {native.__file__}, not {sys.prefix}")


class Finding(Exception):
    """A property of the code under test failed."""


def check(condition: bool, what: str, *details: Any) -> None:
    if not condition:
        shown = "\n".join(f"  {_short(d)}" for d in details)
        raise Finding(f"{what}\n{shown}" if details else what)


_noted: set[str] = set()


def known(finding: str, matches: bool) -> bool:
    """Whether an outcome is the open finding ``finding`` (fuzz/findings/<finding>.md).

    An open finding is tolerated, so the target searches on past it: this notes it once
    per run on stderr and returns True. ``LUMORA_FUZZ_KNOWN=fail`` turns the tolerance
    off. Delete the call when the finding is fixed.
    """
    if not matches or os.environ.get("LUMORA_FUZZ_KNOWN") == "fail":
        return False
    if finding not in _noted:
        _noted.add(finding)
        print(f"NOTE: open finding {finding} reproduced (tolerated)", file=sys.stderr)
    return True


def _short(value: Any, limit: int = 2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# ----------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Raised:
    """An exception, as compared between backends."""

    kind: type[BaseException]
    message: str


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or the exception it raised as a :class:`Raised`.

    A Rust panic reaches Python as ``pyo3_runtime.PanicException``, a ``BaseException``:
    it is caught here too, and every check below treats it as a finding.
    """
    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return Raised(type(exc), str(exc))


def only_protocol_errors(*outcomes: Any, kinds: tuple[type, ...] = ()) -> None:
    """An outcome that raised must have raised ProtocolError (not a panic, not a bug).

    ``kinds`` admits more classes where the API documents them (``TypeError`` for an
    argument of the wrong type).
    """
    for outcome in outcomes:
        if isinstance(outcome, Raised):
            check(
                outcome.kind is ProtocolError or outcome.kind in kinds,
                "raised something other than ProtocolError",
                outcome,
            )


def same(a: Any, b: Any) -> bool:
    """Exact structural equality: same types, same key order, floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
        )
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, msgspec.Struct):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__struct_fields__)
    if isinstance(a, Raised):
        return a == b
    return bool(a == b)


def same_outcome(
    what: str, n: Any, p: Any, *, messages: bool = True, kinds: tuple[type, ...] = ()
) -> None:
    """Native and pure gave the same value, or both raised ProtocolError (same text)."""
    only_protocol_errors(n, p, kinds=kinds)
    if isinstance(n, Raised) or isinstance(p, Raised):
        check(isinstance(n, Raised) and isinstance(p, Raised), f"{what}: one backend raised", n, p)
        if messages:
            check(n == p, f"{what}: different errors", n, p)
        return
    check(same(n, p), f"{what}: native and pure differ", n, p)


def same_delta(what: str, n: Any, p: Any) -> None:
    """Two ``calculate_schema_delta`` outcomes agree (added/modified: the same objects)."""
    only_protocol_errors(n, p)
    if isinstance(n, Raised) or isinstance(p, Raised):
        check(n == p, f"{what}: different outcomes", n, p)
        return
    check(isinstance(n, tuple) and len(n) == 4, f"{what}: not a 4-tuple", n)
    check([id(x) for x in n[0]] == [id(x) for x in p[0]], f"{what}: added differs", n[0], p[0])
    check([id(x) for x in n[1]] == [id(x) for x in p[1]], f"{what}: modified differs", n[1], p[1])
    check(same(n[2], p[2]), f"{what}: removed differs", n[2], p[2])
    check((n[3] is None) == (p[3] is None), f"{what}: metadata changes differ", n[3], p[3])
    if n[3] is not None:
        check(list(n[3]) == list(p[3]), f"{what}: metadata change keys differ", n[3], p[3])
        for key, value in n[3].items():
            check(
                value is p[3][key] or same(value, p[3][key]),
                f"{what}: metadata change {key!r} differs",
                value,
                p[3][key],
            )


# ---------------------------------------------------------------- JS semantics


def js_string(s: str) -> str:
    """The JS string with the same UTF-16 code units (surrogate pairs joined)."""
    text = str.__str__(s)
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def js_keys_collide(value: Any) -> bool:
    """True if some dict in ``value`` has two keys that are one JS string."""
    if isinstance(value, msgspec.Struct):
        return any(js_keys_collide(getattr(value, f)) for f in value.__struct_fields__)
    if isinstance(value, dict):
        keys = [js_string(k) if isinstance(k, str) else k for k in value]
        return len(set(keys)) < len(keys) or any(js_keys_collide(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(js_keys_collide(v) for v in value)
    return False


# ------------------------------------------------------------- decoding inputs


def split_tape(data: bytes) -> tuple[bytes, bytes]:
    text, _, tape = data.partition(b"\x00")
    return text, tape


def parse_json(raw: bytes) -> tuple[bool, Any]:
    """``raw`` as JSON via the stdlib (NaN, 1e400, huge ints and lone surrogates allowed).

    Bytes that are not UTF-8 become lone surrogates (``surrogateescape``), which the core
    must handle as any other ``str``. Returns ``(False, None)`` for text that is not JSON.
    """
    text = raw.decode("utf-8", "surrogateescape")
    try:
        return True, json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return False, None


class Tape:
    """Bytes that drive choices; an exhausted tape answers 0 ("leave it alone")."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def next(self, n: int) -> int:
        if self.pos >= len(self.data):
            return 0
        byte = self.data[self.pos]
        self.pos += 1
        return byte % n


class PlainStr(str):
    __slots__ = ()


class PlainInt(int):
    pass


class PlainFloat(float):
    pass


class PlainDict(dict[str, Any]):
    pass


class PlainList(list[Any]):
    pass


class PlainTuple(tuple[Any, ...]):
    __slots__ = ()


class Count(enum.IntEnum):
    ZERO = 0
    RED = 1
    BIG = 2**64


class Word(enum.StrEnum):
    PROTO = "__proto__"
    INDEX = "10"
    SURROGATE = "\ud800"
    METADATA = "metadata"
    CONNECT = "connect"


class Box(msgspec.Struct, rename="camel"):
    """An untagged Struct: fields under camelCase wire names, UNSET ones omitted."""

    first_value: Any = msgspec.UNSET
    second_value: Any = msgspec.UNSET


class Tagged(msgspec.Struct, tag="tagged", tag_field="kind"):
    value: Any = msgspec.UNSET


BAD_LEAVES: tuple[Callable[[], Any], ...] = (
    set,
    lambda: b"x",
    lambda: Decimal("1.5"),
    lambda: 1j,
)
BAD_KEYS: tuple[Any, ...] = (1, None, 1.5, (1,), True)
WORDS = frozenset(w.value for w in Word)


def decorate(value: Any, tape: Tape, *, wild: bool, depth: int = 0) -> Any:
    """``value`` with parts replaced as ``tape`` says (see the module docstring).

    Each node reads one byte: below 8 keeps it; the rest picks a respelling that JS sees
    as the same value (a subclass, a tuple, an enum, an int for an integral float, an
    astral character as its two surrogates). With ``wild``, also changes that are not
    respellings: a msgspec Struct around a container, a negated number, a value that is
    not JSON (a set, bytes), a key that is not a ``str``.
    """
    if depth > 600:
        return value
    op = tape.next(16)
    if op == 15 and wild:
        return BAD_LEAVES[tape.next(len(BAD_LEAVES))]()
    if isinstance(value, dict):
        items = [(k, decorate(v, tape, wild=wild, depth=depth + 1)) for k, v in value.items()]
        if op == 8:
            return PlainDict(items)
        if op == 9:
            return OrderedDict(items)
        if op == 10 and wild:
            return Box(first_value=dict(items))
        if op == 11 and wild:
            return Tagged(value=dict(items))
        if op == 12 and items:
            k, v = items[0]
            items[0] = (PlainStr(k), v)
        if op == 13 and wild:
            items.insert(tape.next(len(items) + 1), (BAD_KEYS[tape.next(len(BAD_KEYS))], 0))
        if op == 14 and items:
            k, v = items[-1]
            items[-1] = (Word(k) if k in WORDS else k, v)
        return dict(items)
    if isinstance(value, list):
        items_l = [decorate(v, tape, wild=wild, depth=depth + 1) for v in value]
        if op == 8:
            return tuple(items_l)
        if op == 9:
            return PlainList(items_l)
        if op == 10:
            return PlainTuple(items_l)
        if op == 11 and wild:
            return Box(first_value=items_l, second_value=len(items_l))
        return items_l
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if op == 8:
            return PlainInt(value)
        if op == 9 and abs(value) < 2**1000:
            return float(value)  # JS holds the nearest double either way
        if op == 10 and value in (0, 1, 2**64):
            return Count(value)
        if op == 11 and wild:
            return -value
        return value
    if isinstance(value, float):
        if op == 8:
            return PlainFloat(value)
        if op == 9 and wild:
            return -value
        if op == 10 and math.isfinite(value) and value == int(value) and value != 0:
            return int(value)
        return value
    if isinstance(value, str):
        if op == 8:
            return PlainStr(value)
        if op == 9 and value in WORDS:
            return Word(value)
        if op == 10:
            # An astral character as two surrogate code points: one JS string either way.
            return _split_astral(value)
        return value
    return value


def _split_astral(s: str) -> str:
    out = []
    for c in s:
        cp = ord(c)
        if cp >= 0x10000:
            cp -= 0x10000
            out.append(chr(0xD800 + (cp >> 10)))
            out.append(chr(0xDC00 + (cp & 0x3FF)))
        else:
            out.append(c)
    return "".join(out)


@dataclass
class Input:
    """A decoded structured input: the plain JSON value, and its decorated twin."""

    plain: Any
    value: Any
    wild: bool
    tape: Tape


def structured(data: bytes) -> Input | None:
    """Decode ``JSON text [NUL tape]`` (None when the text is not JSON).

    The tape's first byte picks the mode: even, only respellings (the result must then
    be the plain value's); odd, wild changes too (only native and pure are compared).
    """
    raw, tape_bytes = split_tape(data)
    ok, plain = parse_json(raw)
    if not ok:
        return None
    tape = Tape(tape_bytes)
    wild = tape.next(2) == 1
    return Input(plain, decorate(plain, tape, wild=wild), wild, tape)


def snapshot(value: Any) -> Any:
    """A deep copy, to check later that a call did not modify its input."""
    try:
        return copy.deepcopy(value)
    except TypeError:
        return None


def js_number(value: int | float) -> Any:
    """What ``JSON.parse(JSON.stringify(n))`` gives back, as ``loads`` returns it."""
    try:
        x = float(int.__int__(value)) if isinstance(value, int) else float.__float__(value)
    except OverflowError:
        return None
    if not math.isfinite(x):
        return None
    if x == int(x) and abs(x) < 1e21:
        # JS writes it without a fraction or exponent, from the shortest digits that
        # round-trip (as repr's), padded with zeros: 2**64 reads back as 18446744073709552000.
        return int(Decimal(repr(x)))
    return x


def struct_items(obj: msgspec.Struct) -> Iterator[tuple[str, Any]]:
    config = obj.__struct_config__
    if config.tag_field is not None:
        yield config.tag_field, config.tag
    for name, wire in zip(obj.__struct_fields__, obj.__struct_encode_fields__, strict=True):
        value = getattr(obj, name)
        if value is not msgspec.UNSET:
            yield wire, value


def js_value(value: Any) -> Any:
    """``loads(dumps(value))`` as the JS semantics say it must come out.

    Subclasses count as their builtin (their stored value, not their overrides); keys
    that are one JS string collapse, the last value at the first key's position.
    """
    if value is None or isinstance(value, bool):
        return bool(value) if value is not None else None
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, list):
        return [js_value(item) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        return [js_value(item) for item in tuple.__iter__(value)]
    items = struct_items(value) if isinstance(value, msgspec.Struct) else dict.items(value)
    out = {js_string(key): js_value(item) for key, item in items}
    # JSON.stringify writes array-index keys first, in numeric order.
    indices = sorted((k for k in out if _is_array_index(k)), key=int)
    if not indices:
        return out
    return {
        **{k: out[k] for k in indices},
        **{k: v for k, v in out.items() if not _is_array_index(k)},
    }


def _is_array_index(key: str) -> bool:
    return (
        key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1
    )


def is_plain_json(value: Any) -> bool:
    """Only builtin dict (str keys), list, str, int, float, bool and None."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(is_plain_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
    return False


# --------------------------------------------------------------------- seeds


def conformance(name: str) -> Iterator[dict[str, Any]]:
    with (CONFORMANCE / f"{name}.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def small(items: Iterable[bytes], max_len: int = 4096) -> list[bytes]:
    """Distinct seeds no longer than ``max_len`` (libFuzzer's -max_len would cut them)."""
    seen: dict[bytes, None] = {}
    for item in items:
        if len(item) <= max_len:
            seen.setdefault(item, None)
    return list(seen)


def text_seeds() -> list[bytes]:
    """Every JSON text found in the conformance data: messages, schemas, deltas."""
    out: list[bytes] = []
    fields = {
        "deserialize": ("text",),
        "validate_message": ("message_json",),
        "checksum": ("schema_json",),
        "checksum_validate": ("schema_json",),
        "delta": ("old_json", "new_json", "delta_json"),
        "builders": ("expected_json_text", "args_json"),
        "session_id": ("session_id_json",),
    }
    for name, keys in fields.items():
        for row in conformance(name):
            for key in keys:
                if isinstance(row.get(key), str):
                    out.append(row[key].encode("utf-8", "surrogatepass"))
    return out


# ------------------------------------------------------------------ schemas

META_KEYS = ("version", "theme", "navigation")
_ABSENT = object()


def sv0_key(value: Any) -> Any:
    """A key equal for two ids exactly when JS SameValueZero holds."""
    if value is _ABSENT:
        return ("undefined",)
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("boolean", bool(value))
    if isinstance(value, int | float):
        try:
            x = float(int.__int__(value)) if isinstance(value, int) else float.__float__(value)
        except OverflowError:
            x = math.inf if value > 0 else -math.inf
        return ("number", "NaN" if math.isnan(x) else x)
    if isinstance(value, str):
        return ("string", js_value(value))
    return ("object", id(value))


def _without(schema: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in schema.items() if k not in ("nodes", *META_KEYS)}
    if isinstance(rest.get("metadata"), dict):
        rest["metadata"] = {k: v for k, v in rest["metadata"].items() if k != "generatedAt"}
    return rest


def law_fails(old: Any, new: Any) -> str | None:
    """Why the delta law does not apply to ``(old, new)`` (None when it does)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return "not objects"
    nodes = (old.get("nodes"), new.get("nodes"))
    if not all(
        isinstance(ns, list | tuple) and all(isinstance(x, dict) for x in ns) for ns in nodes
    ):
        return "nodes are not arrays of objects"
    old_ids = [x.get("id", _ABSENT) for x in nodes[0]]
    new_ids = [x.get("id", _ABSENT) for x in nodes[1]]
    for ids in (old_ids, new_ids):
        keys = [sv0_key(i) for i in ids]
        if len(set(keys)) < len(keys):
            return "duplicate ids"
        if any(i is None for i in ids) and any(i is _ABSENT for i in ids):
            return "null id beside a missing id"
    try:
        if json.dumps(js_value(_without(old)), sort_keys=True) != json.dumps(
            js_value(_without(new)), sort_keys=True
        ):
            return "other top-level fields differ"
    except (TypeError, ValueError, AttributeError):
        return "not JSON"
    if any(new.get(name, 0) is None for name in META_KEYS):
        return "an explicit null in version/theme/navigation"
    old_keys = {sv0_key(i) for i in old_ids}
    new_keys = {sv0_key(i) for i in new_ids}
    survivors_old = [sv0_key(i) for i in old_ids if sv0_key(i) in new_keys]
    order_new = [sv0_key(i) for i in new_ids]
    survivors_new = [k for k in order_new if k in old_keys]
    if survivors_old != survivors_new:
        return "surviving nodes reordered"
    if order_new[: len(survivors_new)] != survivors_new:
        return "a new node before a surviving one"
    return None


def share_objects(old: Any, new: Any, tape: Tape) -> Any:
    """``new`` with some objects of ``old`` in it (the same object, not a copy)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    old_nodes, new_nodes = old.get("nodes"), new.get("nodes")
    if isinstance(old_nodes, list) and isinstance(new_nodes, list):
        for i in range(min(len(old_nodes), len(new_nodes))):
            how = tape.next(4)
            if (how == 1 and old_nodes[i] == new_nodes[i]) or how == 2:
                new_nodes[i] = old_nodes[i]
    for key in META_KEYS:
        if key in old and tape.next(4) == 1:
            new[key] = old[key]
    return new
