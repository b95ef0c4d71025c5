"""How the panels write numbers and times: prices to the symbol's tick, sizes readable, times with date and
zone, the same in tables and on chart axes (plotly d3-format strings).

Pure: nothing here knows a widget. A :class:`Precision` says how many decimals a symbol's prices and
sizes have (from its ``priceIncrement`` / ``baseIncrement``, see :mod:`kunb.notebook.symbols`); without
one, a number's magnitude decides. Every number gets thousands separators, none gets an SI suffix
(``67.255k``) or scientific notation, and "unknown" is an en dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ..events import SymbolInfo

__all__ = [
    "MISSING",
    "Precision",
    "decimals_of",
    "fmt_amount",
    "fmt_pct",
    "fmt_price",
    "fmt_size",
    "fmt_time",
    "precision_of",
    "price_decimals",
    "price_tickformat",
    "size_tickformat",
]

MISSING = "–"
_MAX_DECIMALS = 12


def decimals_of(increment: str | Decimal | float | None) -> int | None:
    """Decimals of an increment (``"0.1"`` -> 1, ``"0.00000001"`` -> 8, ``"1"`` -> 0); ``None`` if unknown."""
    if increment is None or increment == "":
        return None
    try:
        value = Decimal(str(increment)).normalize()
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0:
        return None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return min(max(-exponent, 0), _MAX_DECIMALS)


@dataclass(frozen=True, slots=True)
class Precision:
    """Decimals of one symbol's prices and sizes (``None``: decide by magnitude)."""

    price: int | None = None
    size: int | None = None


def precision_of(info: SymbolInfo | None) -> Precision:
    """The decimals of a symbol the stream's listing gave (:attr:`kunb.Stream.symbol_info`); unknown for
    ``None``."""
    if info is None:
        return Precision()
    return Precision(price=info.price_decimals, size=info.size_decimals)


def price_decimals(x: float, precision: int | None = None) -> int:
    """Decimals a price is written with: the symbol's tick, else by magnitude (2 from 1,000, 4 from 1)."""
    if precision is not None:
        return precision
    scale = abs(x) if not math.isnan(x) else 0.0
    if scale >= 1000:
        return 2
    if scale >= 1:
        return 4
    if scale == 0:
        return 2
    # small prices: four significant digits (0.00001234)
    return min(max(3 - math.floor(math.log10(scale)), 4), _MAX_DECIMALS)


def fmt_price(x: float | None, precision: int | None = None, *, ref: float | None = None) -> str:
    """A price with thousands separators and the symbol's decimals (``67,255.3``); ``ref``, a nearby price,
    picks the decimals when the symbol's are unknown (a spread is written like the price it is part of)."""
    if x is None or math.isnan(x):
        return MISSING
    scale = ref if ref is not None and not math.isnan(ref) else x
    return f"{x:,.{price_decimals(scale, precision)}f}"


def fmt_size(x: float | Decimal | None, precision: int | None = None) -> str:
    """A size or amount readably: separators, at most the symbol's decimals, trailing zeros dropped, never
    scientific notation (``0.00012``, ``1,234.5``, ``3``)."""
    if x is None:
        return MISSING
    value = float(x)
    if math.isnan(value):
        return MISSING
    decimals = precision if precision is not None else (8 if abs(value) < 1000 else 4)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_amount(x: float | None, decimals: int = 2) -> str:
    """A value in a quote currency (``12,345.67``)."""
    if x is None or math.isnan(x):
        return MISSING
    return f"{x:,.{decimals}f}"


def fmt_pct(x: float | None, *, signed: bool = True, decimals: int = 2) -> str:
    """A fraction as a percentage (``0.0123`` -> ``+1.23%``)."""
    if x is None or math.isnan(x):
        return MISSING
    return f"{x * 100:{'+' if signed else ''},.{decimals}f}%"


def fmt_time(time_ns: int | float | None, *, millis: bool = True) -> str:
    """A UTC time with its date and zone: ``2026-12-06 04:52:01.123 UTC``."""
    if time_ns is None or (isinstance(time_ns, float) and math.isnan(time_ns)):
        return MISSING
    # integer arithmetic on the nanoseconds (a float of seconds would round the millis); datetime, not
    # pandas: a panel's first draw should not wait for pandas' import
    seconds, nanos = divmod(int(time_ns), 1_000_000_000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        text += f".{nanos // 1_000_000:03d}"
    return text + " UTC"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def price_tickformat(precision: int | None) -> str:
    """A plotly (d3-format) tick format for prices: separators and the symbol's decimals; with none known,
    separators and as many digits as the ticks need (never SI suffixes)."""
    return f",.{precision}f" if precision is not None else ",~r"


def size_tickformat(precision: int | None) -> str:
    """A plotly tick format for sizes and volumes: separators, trailing zeros dropped."""
    return f",.{min(precision if precision is not None else 8, 8)}~f"
