"""Valuing an account in a quote currency and its equity curve (pure)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from kunb.exceptions import ConfigurationError
from kunb.notebook.portfolio import EquityCurve, value_holdings

PRICES = {"BTC": 50_000.0, "ETH": 2_000.0}


def test_value_share_and_total_in_the_quote_currency():
    valuation = value_holdings(
        [
            ("BTC", Decimal("0.1"), Decimal("0.05"), Decimal("0.05")),
            ("USDT", 1000, 1000, 0),
            ("ETH", 2.5, 2.5, 0),
        ],
        lambda c: PRICES.get(c, math.nan),
        "USDT",
    )
    assert valuation.total == pytest.approx(5000 + 1000 + 5000)
    assert [h.currency for h in valuation.holdings] == ["BTC", "ETH", "USDT"]  # largest value first
    btc = valuation.holdings[0]
    assert (btc.price, btc.value, btc.hold) == (50_000.0, pytest.approx(5000.0), 0.05)
    assert sum(h.share for h in valuation.holdings) == pytest.approx(1.0)
    assert valuation.holdings[2].price == 1.0  # the quote currency is worth 1
    assert valuation.complete


def test_an_unpriced_currency_is_listed_but_left_out_of_the_total():
    price = lambda c: PRICES.get(c, math.nan)  # noqa: E731
    valuation = value_holdings([("BTC", 1, 1, 0), ("XYZ", 7, 7, 0), ("DUST", 0, 0, 0)], price, "USDT")
    assert valuation.total == 50_000.0 and valuation.unpriced == ["XYZ"] and not valuation.complete
    xyz = valuation.holdings[-1]
    assert xyz.currency == "XYZ" and math.isnan(xyz.value) and math.isnan(xyz.share)
    assert "DUST" not in [h.currency for h in valuation.holdings]  # zero balances are left out


def test_equity_curve_adds_a_point_when_the_value_moves_or_time_passes():
    curve = EquityCurve(maxlen=3, gap=1.0, every=10.0)
    assert curve.record(0.0, 100.0)
    assert not curve.record(500.0, 101.0)  # less than a second later
    assert curve.record(1000.0, 101.0)
    assert not curve.record(5000.0, 101.0)  # unchanged, not yet 10 s
    assert curve.record(11_000.0, 101.0)
    assert not curve.record(12_500.0, math.nan)
    assert curve.record(13_000.0, 99.0)  # the oldest point rolls out
    t, v = curve.arrays()
    assert t.tolist() == [1000.0, 11_000.0, 13_000.0] and v.tolist() == [101.0, 101.0, 99.0]
    assert curve.appended == 4
    t, v = curve.arrays(since=3)  # what a renderer that drew 3 points has not drawn
    assert t.tolist() == [13_000.0]
    t, _v = curve.arrays(since=0)  # more than is kept: what is kept
    assert len(t) == 3
    with pytest.raises(ConfigurationError):
        EquityCurve(maxlen=0)
