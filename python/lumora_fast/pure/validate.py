"""The reference's ``validateMessage``, ``validateProtocolVersion`` and ``validateSessionId``.

The checks run on Python values read with JS semantics: a dict or Struct is an object
(a Struct's properties are its wire names, ``UNSET`` is ``undefined``), a list or tuple
an array, and reading a property of anything else gives ``undefined``. Truthiness,
``typeof`` and string conversion are JavaScript's.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lumora_fast.constants import MAX_DEPTH
from lumora_fast.errors import ProtocolError

from ._number import js_number_to_string, to_double
from ._strings import js_len, js_string
from ._values import (
    ARRAY,
    BOOL,
    MISSING,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    STRUCT,
    UNSUPPORTED,
    Path,
    array_items,
    get_property,
    kind_of,
    too_deep,
    unsupported,
)

__all__ = ["validate_message", "validate_protocol_version", "validate_session_id"]

_MESSAGE_TYPES = frozenset(
    ("connect", "connected", "update", "reload", "error", "ping", "pong", "ack")
)
_UPDATE_TYPES = frozenset(("full", "incremental"))
_RELOAD_REASONS = frozenset(("error", "manual", "incompatible"))
_SEVERITIES = frozenset(("warning", "error", "fatal"))
_FULL = frozenset(("full",))
_INCREMENTAL = frozenset(("incremental",))

_TYPEOF = {
    NULL: "object",
    BOOL: "boolean",
    NUMBER: "number",
    STRING: "string",
    ARRAY: "object",
    OBJECT: "object",
    STRUCT: "object",
}


class _Value:
    """A value read from the message, with its path (for unsupported-type errors)."""

    __slots__ = ("kind", "path", "value")

    def __init__(self, value: Any, path: Path) -> None:
        self.value = value
        self.path = path
        if value is MISSING:
            self.kind = UNSUPPORTED  # never classified: undefined is a valid JS value
        else:
            self.kind = kind_of(value)
            if self.kind == UNSUPPORTED:
                raise unsupported(value, path)

    @property
    def missing(self) -> bool:
        return self.value is MISSING

    def get(self, name: str) -> _Value:
        if self.missing:
            return self  # never reached: the reference guards every read
        return _Value(get_property(self.value, self.kind, name), (*self.path, name))

    def truthy(self) -> bool:
        if self.missing:
            return False
        kind = self.kind
        if kind == NULL:
            return False
        if kind in (BOOL, STRING):
            return bool(self.value)
        if kind == NUMBER:
            x = to_double(self.value)
            return not math.isnan(x) and x != 0  # NaN and +-0 are falsy
        return True

    def typeof(self) -> str:
        return "undefined" if self.missing else _TYPEOF[self.kind]

    def is_truthy_string(self) -> bool:
        return self.truthy() and self.kind == STRING

    def is_one_of(self, choices: frozenset[str]) -> bool:
        """``choices.includes(value)``: SameValueZero, so only an equal string matches."""
        return not self.missing and self.kind == STRING and js_string(self.value) in choices


def _js_to_string(value: _Value) -> str:
    """``String(value)`` (template-literal conversion) for a JSON value.

    Arrays join their elements with ``,`` (null and undefined as empty strings); an
    object is ``[object Object]``, unless it has an own ``toString`` property: a JSON
    value is never callable, so ``valueOf`` is tried next and returns the object itself,
    and the conversion throws.
    """
    if value.missing:
        return "undefined"
    kind = value.kind
    if kind != ARRAY:
        return _scalar_to_string(value.value, kind)
    # Iterative join over nested arrays; each frame is (parts, items, position, path).
    base_depth = len(value.path) + 1
    stack: list[tuple[list[str], list[Any], int, Path]] = [
        ([], array_items(value.value), 0, value.path)
    ]
    while True:
        parts, items, pos, path = stack[-1]
        if pos == len(items):
            stack.pop()
            joined = ",".join(parts)
            if not stack:
                return joined
            stack[-1][0].append(joined)
            continue
        stack[-1] = (parts, items, pos + 1, path)
        item = items[pos]
        item_path = (*path, pos)
        item_kind = kind_of(item)
        if item_kind == UNSUPPORTED:
            raise unsupported(item, item_path)
        if item_kind == ARRAY:
            if base_depth + len(stack) > MAX_DEPTH:
                raise too_deep(item_path)
            stack.append(([], array_items(item), 0, item_path))
        elif item_kind == NULL:
            parts.append("")
        else:
            parts.append(_scalar_to_string(item, item_kind))


def _scalar_to_string(value: Any, kind: int) -> str:
    if kind == STRING:
        return js_string(value)
    if kind == NUMBER:
        return js_number_to_string(to_double(value))
    if kind == BOOL:
        return "true" if value else "false"
    if kind == NULL:
        return "null"
    if get_property(value, kind, "toString") is not MISSING:
        raise ProtocolError("Cannot convert object to primitive value")
    return "[object Object]"


def validate_message(obj: object, /) -> list[str]:
    """The reference's ``validateMessage(obj).errors`` (empty when valid).

    Args:
        obj: Parsed JSON (any value) or a message Struct.

    Returns:
        The reference's error strings, in its order.

    Raises:
        ProtocolError: ``"Cannot convert object to primitive value"`` where the
            reference throws a TypeError (the ``type`` is, or is an array holding, an
            object with an own ``toString`` property); or a value read during the
            checks is not JSON.
    """
    message = _Value(obj, ())
    if not message.truthy() or message.typeof() != "object":
        return ["Message must be an object"]
    errors: list[str] = []
    kind = message.get("type")
    if not kind.is_truthy_string():
        errors.append("Message must have a type field")
    if not message.get("sessionId").is_truthy_string():
        errors.append("Message must have a sessionId field")
    if message.get("timestamp").typeof() != "number":
        errors.append("Message must have a timestamp field")
    if not message.get("version").is_truthy_string():
        errors.append("Message must have a version field")
    if not kind.is_one_of(_MESSAGE_TYPES):
        errors.append(f"Invalid message type: {_js_to_string(kind)}")
        return errors
    checker = _PAYLOAD_CHECKS.get(js_string(kind.value))
    if checker is not None:
        checker(message, errors)
    return errors


def _payload(message: _Value, label: str, errors: list[str]) -> _Value | None:
    payload = message.get("payload")
    if not payload.truthy():
        errors.append(f"{label} message must have payload")
        return None
    return payload


def _check_connect(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Connect", errors)
    if payload is None:
        return
    if not payload.get("deviceId").is_truthy_string():
        errors.append("Connect payload must have deviceId")
    if not payload.get("platform").is_truthy_string():
        errors.append("Connect payload must have platform")
    if not payload.get("clientVersion").is_truthy_string():
        errors.append("Connect payload must have clientVersion")


def _check_connected(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Connected", errors)
    if payload is None:
        return
    if not payload.get("connectionId").is_truthy_string():
        errors.append("Connected payload must have connectionId")
    capabilities = payload.get("capabilities")
    if not capabilities.truthy() or capabilities.typeof() != "object":
        errors.append("Connected payload must have capabilities")


def _check_update(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Update", errors)
    if payload is None:
        return
    update_type = payload.get("type")
    if not update_type.truthy() or not update_type.is_one_of(_UPDATE_TYPES):
        errors.append("Update payload must have type (full or incremental)")
    if update_type.is_one_of(_FULL) and not payload.get("schema").truthy():
        errors.append("Full update must have schema")
    if update_type.is_one_of(_INCREMENTAL) and not payload.get("delta").truthy():
        errors.append("Incremental update must have delta")
    if payload.get("preserveState").typeof() != "boolean":
        errors.append("Update payload must have preserveState boolean")
    if payload.get("sequenceNumber").typeof() != "number":
        errors.append("Update payload must have sequenceNumber")


def _check_reload(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Reload", errors)
    if payload is None:
        return
    reason = payload.get("reason")
    if not reason.truthy() or not reason.is_one_of(_RELOAD_REASONS):
        errors.append("Reload payload must have reason (error, manual, or incompatible)")


def _check_error(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Error", errors)
    if payload is None:
        return
    if not payload.get("code").is_truthy_string():
        errors.append("Error payload must have code")
    if not payload.get("message").is_truthy_string():
        errors.append("Error payload must have message")
    severity = payload.get("severity")
    if not severity.truthy() or not severity.is_one_of(_SEVERITIES):
        errors.append("Error payload must have severity (warning, error, or fatal)")
    if payload.get("recoverable").typeof() != "boolean":
        errors.append("Error payload must have recoverable boolean")


def _check_ack(message: _Value, errors: list[str]) -> None:
    payload = _payload(message, "Ack", errors)
    if payload is None:
        return
    if payload.get("sequenceNumber").typeof() != "number":
        errors.append("Ack payload must have sequenceNumber")
    if payload.get("success").typeof() != "boolean":
        errors.append("Ack payload must have success boolean")


# ping and pong have no payload checks.
_PAYLOAD_CHECKS = {
    "connect": _check_connect,
    "connected": _check_connected,
    "update": _check_update,
    "reload": _check_reload,
    "error": _check_error,
    "ack": _check_ack,
}

# ---------------------------------------------------------------------------- versions

# StrWhiteSpaceChar: WhiteSpace and LineTerminator (not U+0085, U+180E, U+200B, U+001C-F).
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = {
    "x": (16, re.compile("[0-9a-fA-F]+")),
    "b": (2, re.compile("[01]+")),
    "o": (8, re.compile("[0-7]+")),
}


def _js_number(text: str) -> float:
    """``Number(text)``: JS StringToNumber (NaN for anything it does not accept)."""
    text = text.strip(_JS_WHITESPACE)
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text)
    if len(text) > 2 and text[0] == "0" and text[1] in "xXbBoO":
        radix, digits = _RADIX[text[1].lower()]
        if digits.fullmatch(text, 2):
            return to_double(int(text[2:], radix))
    return math.nan


def _version_part(parts: list[str], index: int) -> float:
    # parts[i] || 0: a missing part, NaN and -0 all give 0.
    if index >= len(parts):
        return 0.0
    value = _js_number(parts[index])
    return 0.0 if math.isnan(value) or value == 0 else value


def validate_protocol_version(client: str, server: str, /) -> list[str]:
    """The reference's ``validateProtocolVersion(client, server).errors``.

    Each version is split on ``.``; the major and minor parts are read with JS
    ``Number()`` and compared as doubles (the patch is ignored).

    Args:
        client: The client's protocol version string.
        server: The server's protocol version string.

    Returns:
        The reference's error strings (major mismatch, then minor mismatch).

    Raises:
        TypeError: ``client`` or ``server`` is not a ``str``.
    """
    for value in (client, server):
        if not isinstance(value, str):
            raise TypeError(f"protocol version must be a str, not {type(value).__name__}")
    client_parts = client.split(".")
    server_parts = server.split(".")
    client_text = js_string(client)
    server_text = js_string(server)
    errors: list[str] = []
    if _version_part(client_parts, 0) != _version_part(server_parts, 0):
        errors.append(f"Incompatible protocol versions: client {client_text}, server {server_text}")
    if _version_part(client_parts, 1) != _version_part(server_parts, 1):
        errors.append(
            f"Protocol minor version mismatch: client {client_text}, server {server_text} "
            "(may have limited features)"
        )
    return errors


def validate_session_id(value: object, /) -> list[str]:
    """The reference's ``validateSessionId(value).errors``.

    Args:
        value: Any value; only a non-empty ``str`` can pass.

    Returns:
        ``["Session ID must be a string"]``, ``["Session ID too short"]`` (under 8
        UTF-16 code units), ``["Session ID too long"]`` (over 128), or ``[]``.
    """
    if not isinstance(value, str) or not value:
        return ["Session ID must be a string"]
    length = js_len(value)
    if length < 8:
        return ["Session ID too short"]
    if length > 128:
        return ["Session ID too long"]
    return []
