"""Serialization and deserialization of protocol messages.

``serialize_message`` writes exactly what the reference's ``JSON.stringify`` writes.
``deserialize_message`` parses with ``JSON.parse``'s grammar, optionally validates with
the reference's rules, and returns a typed message Struct. :class:`SchemaDocument` is a
schema parsed once (the selected backend's class): every schema function takes it.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec

from . import _backend
from .constants import MAX_MESSAGE_BYTES
from .errors import ProtocolError
from .messages import (
    AckPayload,
    Capabilities,
    ConnectedPayload,
    ConnectPayload,
    DeviceCapabilities,
    ErrorPayload,
    Message,
    MetadataChanges,
    PingPayload,
    PongPayload,
    ReloadPayload,
    ResumeState,
    SchemaDelta,
    SchemaUpdate,
    UpdateMessage,
)

__all__ = ["SchemaDocument", "deserialize_message", "serialize_message"]

SchemaDocument = _backend.core.SchemaDocument
"""An immutable JSON document: ``SchemaDocument.parse(data, max_bytes=None)`` (the
:func:`deserialize_message` grammar and limits, no message checks) or
``SchemaDocument.from_python(value)``; ``to_python()``, ``dumps(pretty=False)``,
``checksum(algorithm)``, ``canonical_json()``. :func:`~lumora_fast.calculate_checksum`,
:func:`~lumora_fast.canonical_json`, :func:`~lumora_fast.calculate_schema_delta`,
:func:`~lumora_fast.calculate_schema_patch` and :meth:`~lumora_fast.SchemaTracker.update`
take documents wherever they take schema dicts, with the same results."""

_PREFIX = "Failed to deserialize message: "

# msgspec.convert analyses a Union anew on every call (~25 us for Message), but caches a
# Struct class's decoder: convert to the class the tag names, and to the Union only for
# a tag that names none (which gives the Union's own error).
_BY_TAG: dict[object, type[Message]] = {cls.__struct_config__.tag: cls for cls in get_args(Message)}


def serialize_message(
    message: Message | SchemaUpdate | SchemaDelta, *, pretty: bool = False, validate: bool = False
) -> bytes:
    """Serialize a message (or any protocol Struct) to UTF-8 JSON.

    Args:
        message: A message Struct, or a :class:`SchemaUpdate` / :class:`SchemaDelta`.
        pretty: Two-space indentation, as ``JSON.stringify(v, null, 2)``.
        validate: Validate first and refuse an invalid message.

    Returns:
        The bytes the reference's ``serializeMessage`` produces for the same message.

    Raises:
        ProtocolError: ``validate`` is set and the message is invalid (message
            ``"Message validation failed: <errors>"``), or it holds a value that is not
            JSON (the message names its path).
    """
    if validate:
        errors = _with_extensions(message, _backend.core.validate_message(message))
        if errors:
            raise ProtocolError(f"Message validation failed: {', '.join(errors)}", errors)
    return _backend.core.dumps(message, pretty=pretty)


def deserialize_message(
    data: str | bytes | bytearray | memoryview, *, validate: bool = False, strict: bool = False
) -> Message:
    """Parse a message received from the wire.

    Args:
        data: JSON text, as ``str`` or UTF-8 bytes (at most
            :data:`~lumora_fast.MAX_MESSAGE_BYTES`, checked before parsing).
        validate: Apply the reference's ``validateMessage`` rules, plus the patch update
            type (an extension: ``type: "patch"`` with a ``patch`` list).
        strict: Reject fields the protocol does not define (in the message, its payload,
            a delta and capabilities; schemas are open-ended and never checked).

    Returns:
        The typed message Struct.

    Raises:
        ProtocolError: Every input the reference rejects, with its text
            (``"Failed to deserialize message: Message validation failed: ..."``), plus
            input that is not a message at all or whose fields contradict their declared
            types (for example ``"deviceName": 5``), which the reference passes through.
    """
    try:
        if not isinstance(data, str):
            data = bytes(data)
        obj = _backend.core.loads(data, MAX_MESSAGE_BYTES)
        if validate:
            errors = _with_extensions(obj, _backend.core.validate_message(obj))
            if errors:
                raise ProtocolError(
                    f"{_PREFIX}Message validation failed: {', '.join(errors)}", errors
                )
    except ProtocolError as exc:
        if str(exc).startswith(_PREFIX):
            raise
        raise ProtocolError(_PREFIX + str(exc), code=exc.code) from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"{_PREFIX}a message must be a JSON object")
    if strict:
        _check_known_fields(obj)
    try:
        tag = obj.get("type")
        cls = _BY_TAG.get(tag) if isinstance(tag, str) else None
        message: Message = msgspec.convert(obj, Message if cls is None else cls)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{_PREFIX}{exc}") from None
    except UnicodeEncodeError as exc:
        # msgspec encodes a string to UTF-8 to match it against a tag or an enum's
        # values; JSON may carry a lone surrogate (an escape), which cannot be.
        raise ProtocolError(
            f"{_PREFIX}Invalid value {exc.object!r}: a lone surrogate where one of a "
            "fixed set of values is expected"
        ) from None
    return message


_NOT_FULL_OR_INCREMENTAL = "Update payload must have type (full or incremental)"


def _with_extensions(message: object, errors: list[str]) -> list[str]:
    """The reference's validation errors, with the patch update type (an extension,
    docs/architecture.md, "Extensions") accepted: a ``patch`` update must carry a ``patch`` list.

    The reference knows two update types; the server sends ``patch`` only to a device
    that asked for it, so reading one is valid wherever this codec is used.
    """
    if not errors or _NOT_FULL_OR_INCREMENTAL not in errors:
        return errors
    if isinstance(message, dict):
        payload = message.get("payload") if message.get("type") == "update" else None
        kind = payload.get("type") if isinstance(payload, dict) else None
        patch = payload.get("patch") if isinstance(payload, dict) else None
    elif isinstance(message, UpdateMessage):
        kind, patch = message.payload.type, message.payload.patch
    else:
        return errors
    if kind != "patch":
        return errors
    errors = [error if error != _NOT_FULL_OR_INCREMENTAL else "" for error in errors]
    if not isinstance(patch, list):
        errors = [error or "Patch update must have patch" for error in errors]
    return [error for error in errors if error]


_MESSAGE_FIELDS = frozenset({"type", "sessionId", "timestamp", "version", "payload"})
_PAYLOAD_FIELDS: dict[str, frozenset[str]] = {
    "connect": frozenset(ConnectPayload.__struct_encode_fields__),
    "connected": frozenset(ConnectedPayload.__struct_encode_fields__),
    "update": frozenset(SchemaUpdate.__struct_encode_fields__),
    "reload": frozenset(ReloadPayload.__struct_encode_fields__),
    "error": frozenset(ErrorPayload.__struct_encode_fields__),
    "ping": frozenset(PingPayload.__struct_encode_fields__),
    "pong": frozenset(PongPayload.__struct_encode_fields__),
    "ack": frozenset(AckPayload.__struct_encode_fields__),
}
_NESTED_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("connect", "capabilities"): frozenset(DeviceCapabilities.__struct_encode_fields__),
    ("connect", "resume"): frozenset(ResumeState.__struct_encode_fields__),
    ("connected", "capabilities"): frozenset(Capabilities.__struct_encode_fields__),
    ("update", "delta"): frozenset(SchemaDelta.__struct_encode_fields__),
}
_METADATA_CHANGES_FIELDS = frozenset(MetadataChanges.__struct_encode_fields__)


def _reject_unknown(obj: Any, known: frozenset[str], path: str) -> None:
    if isinstance(obj, dict):
        for key in obj:
            if key not in known:
                raise ProtocolError(f"{_PREFIX}unknown field {key!r} at {path} (strict mode)")


def _check_known_fields(obj: dict[str, Any]) -> None:
    _reject_unknown(obj, _MESSAGE_FIELDS, "$")
    kind = obj.get("type")
    payload = obj.get("payload")
    if not isinstance(kind, str) or kind not in _PAYLOAD_FIELDS or not isinstance(payload, dict):
        return
    _reject_unknown(payload, _PAYLOAD_FIELDS[kind], "$.payload")
    for (owner, field), known in _NESTED_FIELDS.items():
        if owner == kind:
            _reject_unknown(payload.get(field), known, f"$.payload.{field}")
    if kind == "update" and isinstance(payload.get("delta"), dict):
        changes = payload["delta"].get("metadataChanges")
        _reject_unknown(changes, _METADATA_CHANGES_FIELDS, "$.payload.delta.metadataChanges")
