"""JS string semantics for Python ``str``: UTF-16 identity, length and order, and escaping.

A Python ``str`` is read as the JS string with the same UTF-16 code units: an astral
character is a surrogate pair, and a surrogate code point is one code unit. So
``"\\ud83d\\ude00"`` (two code points) and ``"😀"`` are the same JS string. Escaping
matches ``JSON.stringify`` (well-formed variant, ES2019).
"""

from __future__ import annotations

import re

__all__ = ["js_len", "js_string", "quote", "utf16_sort_key"]

_SURROGATE = re.compile("[\ud800-\udfff]")

# A pair first, so that a high surrogate followed by a low one is joined, not escaped.
_NEEDS_ESCAPE = re.compile('([\ud800-\udbff][\udc00-\udfff])|[\\x00-\\x1f"\\\\\ud800-\udfff]')

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _escape(match: re.Match[str]) -> str:
    pair = match.group(1)
    if pair is not None:
        return chr(0x10000 + ((ord(pair[0]) - 0xD800) << 10) + (ord(pair[1]) - 0xDC00))
    char = match.group()
    escaped = _ESCAPES.get(char)
    if escaped is not None:
        return escaped
    # Other controls and lone surrogates; JSON.stringify writes lowercase hex.
    return f"\\u{ord(char):04x}"


def quote(s: str) -> str:
    """``JSON.stringify(s)``: the string literal, with ``"`` delimiters.

    The result holds no surrogate code points, so it always encodes to UTF-8.
    """
    s = str.__str__(s)  # the stored text, whatever a subclass overrides
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESCAPE.sub(_escape, s) + '"'


def js_string(s: str) -> str:
    """The canonical Python form of the JS string ``s`` (surrogate pairs joined).

    Two ``str`` values are the same JS string exactly when their canonical forms are
    equal. The result is a plain ``str`` even for a subclass such as a ``StrEnum``.
    """
    s = str.__str__(s)
    if s.isascii() or _SURROGATE.search(s) is None:
        return s
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def js_len(s: str) -> int:
    """``s.length`` in JS: the number of UTF-16 code units."""
    s = str.__str__(s)
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def utf16_sort_key(s: str) -> bytes:
    """A key that orders strings as JS's default ``sort()`` does (by UTF-16 code units).

    Big-endian UTF-16 bytes compare exactly as the code-unit sequences do; this differs
    from code-point order in that astral characters sort before U+E000..U+FFFF.
    """
    return str.__str__(s).encode("utf-16-be", "surrogatepass")
