"""JS numbers: every number is an IEEE-754 double, printed by ``Number::toString``.

``json_number`` is what ``JSON.stringify`` writes (non-finite as ``null``);
``js_number_to_string`` is what string interpolation writes (``NaN``, ``Infinity``).
"""

from __future__ import annotations

import math

__all__ = ["MAX_SAFE_INTEGER", "js_number_to_string", "json_number", "to_double"]

MAX_SAFE_INTEGER = 2**53
"""Integers up to this magnitude are exact doubles and print as their decimal digits."""


def to_double(value: int | float) -> float:
    """The double JS would hold: ints round to nearest, beyond the range to +-Infinity."""
    if isinstance(value, float):
        return float.__float__(value)  # the stored value, whatever a subclass overrides
    try:
        return float(int.__int__(value))
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def js_number_to_string(x: float) -> str:
    """``Number.prototype.toString(x)`` (ECMAScript ``Number::toString``, radix 10)."""
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"  # also -0
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    sign = "-" if x < 0 else ""
    # repr gives the shortest round-trip digits; only the layout differs from JS.
    text = repr(abs(x))
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    e = n - 1
    exponent = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + exponent
    return f"{sign}{digits[0]}.{digits[1:]}{exponent}"


def json_number(value: int | float) -> str:
    """The text ``JSON.stringify`` writes for a number (``bool`` must be handled first)."""
    if not isinstance(value, float):
        as_int = int.__int__(value)
        if -MAX_SAFE_INTEGER <= as_int <= MAX_SAFE_INTEGER:
            return int.__repr__(as_int)
    x = to_double(value)
    if math.isfinite(x):
        return js_number_to_string(x)
    return "null"
