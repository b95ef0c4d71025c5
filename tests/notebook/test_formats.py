"""Numbers and times as the panels write them: the symbol's decimals, separators, no SI suffixes or
scientific notation, dates with their zone."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from kunb.notebook.formats import (
    MISSING,
    decimals_of,
    fmt_amount,
    fmt_pct,
    fmt_price,
    fmt_size,
    fmt_time,
    price_tickformat,
    size_tickformat,
)


@pytest.mark.parametrize(
    ("increment", "decimals"),
    [("0.1", 1), ("0.00000001", 8), ("1", 0), ("10", 0), ("0.10", 1), (Decimal("0.0001"), 4), ("", None),
     (None, None), ("0", None), ("abc", None), ("-0.1", None)],
)  # fmt: skip
def test_decimals_of_an_increment(increment, decimals):
    assert decimals_of(increment) == decimals


def test_prices_use_the_symbols_decimals_and_separators():
    assert fmt_price(67255.3, 1) == "67,255.3"
    assert fmt_price(67255.0, 1) == "67,255.0"  # a price keeps its tick's decimals
    assert fmt_price(0.1, 4) == "0.1000"
    assert fmt_price(0.5, None, ref=67_000.0) == "0.50"  # a spread written like the price it belongs to
    assert fmt_price(math.nan, 1) == fmt_price(None) == MISSING


def test_prices_of_unknown_ticks_are_written_by_magnitude_never_scientific():
    assert fmt_price(3000.5) == "3,000.50"
    assert fmt_price(1.2345678) == "1.2346"
    assert fmt_price(0.00001234) == "0.00001234"
    assert "e" not in fmt_price(1.5e-9)


def test_sizes_are_readable():
    assert fmt_size(0.000123, 8) == "0.000123"
    assert fmt_size(1234.5, 8) == "1,234.5"
    assert fmt_size(3.0, 8) == "3"
    assert fmt_size(Decimal("0.10000000"), 8) == "0.1"
    assert fmt_size(1e-9, 8) == "0"
    assert fmt_size(12345678.9) == "12,345,678.9"
    assert fmt_size(None) == fmt_size(math.nan) == MISSING


def test_amounts_percentages_and_times():
    assert fmt_amount(1234567.891) == "1,234,567.89"
    assert (
        fmt_pct(0.0123) == "+1.23%" and fmt_pct(-0.02) == "-2.00%" and fmt_pct(0.5, signed=False) == "50.00%"
    )
    assert fmt_time(1_700_000_000_123_456_789) == "2023-11-14 22:13:20.123 UTC"
    assert fmt_time(1_700_000_000_123_456_789, millis=False) == "2023-11-14 22:13:20 UTC"
    assert fmt_time(None) == MISSING


def test_axis_formats_have_separators_and_no_si():
    assert price_tickformat(1) == ",.1f"
    assert price_tickformat(None) == ",~r"
    assert size_tickformat(8) == ",.8~f" and size_tickformat(None) == ",.8~f"
