"""Wire numbers, parsed and checked the same way by every decoder (classic and UTA).

Prices and sizes become floats that a book can key on (finite, non-negative, and a price with no more
significant digits than a double keeps exactly, so two wire prices never merge into one level); account
amounts become finite Decimals; times and sequences become ints that fit int64 (rolling frames, Parquet
and the recorder keep them as int64). Anything else is a :class:`~kunb.exceptions.ProtocolError`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..exceptions import ProtocolError

__all__ = [
    "UNREADABLE",
    "decimal",
    "int64",
    "optional_decimal",
    "optional_float",
    "parse_price",
    "parse_size",
    "time_ns",
]

#: what reading a malformed frame raises before it is turned into a ProtocolError naming the channel
UNREADABLE = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, InvalidOperation)

_INF = float("inf")
_NAN = float("nan")
_INT64 = 2**63
# A float holds any decimal with this many significant digits exactly (IEEE 754 double, DBL_DIG): distinct
# wire prices then stay distinct floats in the same order, so a book can key its levels on them.
_MAX_DIGITS = 15


def parse_price(text: Any) -> float:
    """A wire price as a float, refused when it is not finite and non-negative or has more significant
    digits than a float keeps exactly (two levels would silently merge)."""
    value = float(text)
    if not 0.0 <= value < _INF:  # NaN, infinities and negatives are not prices (NaN breaks sorting)
        raise ProtocolError(f"price {text!r} is not a finite, non-negative number")
    if isinstance(text, str) and len(text) > _MAX_DIGITS and _significant_digits(text) > _MAX_DIGITS:
        raise ProtocolError(f"price {text!r} has more than {_MAX_DIGITS} significant digits")
    return value


def parse_size(text: Any) -> float:
    """A wire size as a float; not finite or negative is a ProtocolError."""
    value = float(text)
    if not 0.0 <= value < _INF:
        raise ProtocolError(f"size {text!r} is not a finite, non-negative number")
    return value


def _significant_digits(text: str) -> int:
    try:
        return len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        raise ProtocolError(f"unreadable price {text!r}") from None


def time_ns(value: Any, unit: int = 1) -> int:
    """A wire time (int or string) in steps of ``unit`` ns, as int ns; refused outside int64."""
    ns = int(value) * unit
    if not 0 <= ns < _INT64:
        raise ProtocolError(f"time {value!r} is out of range")
    return ns


def int64(value: Any) -> int:
    """A sequence number (int or string) that fits int64."""
    number = int(value)
    if not 0 <= number < _INT64:
        raise ProtocolError(f"sequence {value!r} is out of range")
    return number


def optional_float(value: Any) -> float:
    """An optional wire number (string or number); missing or empty is NaN."""
    if value is None or value == "":
        return _NAN
    return float(value)


def decimal(value: Any) -> Decimal:
    """A wire amount as a finite Decimal (a bool is not an amount, though Python would read it as 0/1)."""
    if value is None or value == "" or value is True or value is False:
        raise ProtocolError(f"a decimal field is missing or not a number: {value!r}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ProtocolError(f"not a finite decimal: {value!r}")
    return number


def optional_decimal(value: Any) -> Decimal | None:
    """An optional wire amount: ``None`` when missing or empty."""
    return None if value is None or value == "" else decimal(value)
