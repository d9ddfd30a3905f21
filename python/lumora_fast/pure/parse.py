"""``loads``: JSON text with ``JSON.parse``'s grammar, parsed into ``json.loads`` values."""

from __future__ import annotations

import json
import re
from typing import Any

from lumora_fast.constants import MAX_DEPTH
from lumora_fast.errors import ProtocolError

__all__ = ["loads"]

_INT_DIGITS_LIMIT = 4300
"""CPython's default int/str conversion limit; longer integer literals become floats."""

_TOO_DEEP = f"nesting depth exceeds {MAX_DEPTH}"

# Strings are skipped so that a "NaN" inside a string literal is not taken for the token.
_CONSTANT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


class _NonJsonConstant(Exception):
    """``NaN``/``Infinity``/``-Infinity`` met: ``json.loads`` takes them, JSON.parse does not."""


def _reject_constant(name: str) -> Any:
    raise _NonJsonConstant(name)


def _parse_int(literal: str) -> int | float:
    digits = len(literal) - literal.startswith("-")
    return int(literal) if digits <= _INT_DIGITS_LIMIT else float(literal)


def _syntax_error(exc: json.JSONDecodeError) -> ProtocolError:
    if exc.msg.startswith("Unexpected UTF-8 BOM"):
        # json.loads checks for a BOM first; for JSON.parse it is just not a value.
        exc = json.JSONDecodeError("Expecting value", exc.doc, 0)
    return ProtocolError(
        f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    )


def _constant_error(text: str) -> ProtocolError:
    # Everything before the first constant parsed, so the first one outside a string
    # literal is the one the parser met; JSON.parse rejects it as an unexpected token.
    pos = 0
    for match in _CONSTANT_TOKEN.finditer(text):
        if match.group(1) is not None:
            pos = match.start(1)
            break
    return _syntax_error(json.JSONDecodeError("Expecting value", text, pos))


def _decode(text: str) -> Any:
    try:
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError:
            raise
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise
            return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise _syntax_error(exc) from None
    except _NonJsonConstant:
        raise _constant_error(text) from None
    except RecursionError:
        raise ProtocolError(_TOO_DEEP) from None


def _check_depth(root: Any) -> None:
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProtocolError(_TOO_DEEP)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads(data: str | bytes, /, max_bytes: int | None = None) -> Any:
    """Parse JSON text as ``JSON.parse`` would, into the values ``json.loads`` gives.

    Args:
        data: JSON text, as ``str`` or UTF-8 ``bytes``.
        max_bytes: Largest accepted UTF-8 size (for a ``str``: its UTF-8 encoding,
            surrogates counted as 3 bytes), checked before parsing.

    Returns:
        The parsed value: integers without fraction or exponent as exact ``int``
        (beyond 4300 digits, ``float``), other numbers as ``float``.

    Raises:
        ProtocolError: Input over ``max_bytes``, invalid UTF-8, a BOM, whitespace other
            than space/tab/LF/CR, ``NaN``/``Infinity``, trailing data, any other syntax
            error (``"invalid JSON: ..."``), or nesting deeper than ``MAX_DEPTH``.
        TypeError: ``data`` is neither ``str`` nor ``bytes``, or ``max_bytes`` is not an
            ``int`` or ``None``.
        ValueError: ``max_bytes`` is negative.
    """
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be an int or None, not {type(max_bytes).__name__}")
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
    if isinstance(data, str):
        if max_bytes is not None and len(data) * 4 > max_bytes:
            size = len(data.encode("utf-8", "surrogatepass"))
            if size > max_bytes:
                raise ProtocolError(f"message is {size} bytes, over the limit of {max_bytes}")
        text = data
    elif isinstance(data, bytes):
        if max_bytes is not None and len(data) > max_bytes:
            raise ProtocolError(f"message is {len(data)} bytes, over the limit of {max_bytes}")
        try:
            # Decoded here: json.loads would sniff UTF-16/32 from bytes.
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"invalid UTF-8: bad byte at offset {exc.start}") from None
    else:
        raise TypeError(f"loads() argument must be str or bytes, not {type(data).__name__}")
    value = _decode(text)
    if isinstance(value, dict | list):
        _check_depth(value)
    return value
