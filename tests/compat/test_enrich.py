"""kunb.compat.enrich (pure): the fields added for the seed's blocking examples, tagged and never mutating."""

from __future__ import annotations

import copy
from decimal import Decimal

from decoded import book_snapshot, delta, event

from kunb.compat.enrich import decimal_text, with_book_top, with_deal, with_stats, with_symbol
from kunb.model.book import OrderBook
from kunb.model.holdings import Order

TICKER = {
    "type": "message",
    "topic": "/market/ticker:BTC-USDT",
    "subject": "trade.ticker",
    "data": {"sequence": "5", "price": "67000.5", "size": "0.1", "time": 1704873323416, "symbol": "BTC-USDT"},
}


def test_decimal_text_is_plain_kucoin_notation():
    """Floats and strings become KuCoin's plain decimal text (no exponent, no trailing zeros)."""
    assert decimal_text(1e-05) == "0.00001"
    assert decimal_text(0.0047) == "0.0047"
    assert decimal_text("1.2300") == "1.23"
    assert decimal_text(0) == "0" and decimal_text(2227.69895852) == "2227.69895852"


def test_ticker_gets_its_symbol_as_the_sdk_connection_adds_it_without_mutating_the_push():
    """A Stream's connection leaves ticker frames as KuCoin sent them; the blocking examples read
    data['symbol'], so the facade adds it on a copy."""
    plain = copy.deepcopy(TICKER)
    del plain["data"]["symbol"]
    before = copy.deepcopy(plain)
    out = with_symbol(plain)
    assert plain == before
    assert out["data"]["symbol"] == "BTC-USDT" and out["data"]["price"] == "67000.5"
    every = {"type": "message", "topic": "/market/ticker:all", "subject": "ETH-USDT", "data": {"p": "1"}}
    assert with_symbol(every)["data"]["symbol"] == "ETH-USDT"
    level2 = {"type": "message", "topic": "/market/level2:BTC-USDT", "subject": "trade.l2update", "data": {}}
    assert with_symbol(level2)["data"] == {}


def test_ticker_gets_stats_and_says_so():
    """24 h fields come from the snapshot data, are listed under "kunb", and the push is not mutated."""
    before = copy.deepcopy(TICKER)
    data = {"changeRate": 0.0047, "vol": 2227.69895852, "changePrice": 315.2, "high": 1, "low": 0.5, "x": 1}
    stats = event("/market/snapshot:BTC-USDT", {"sequence": "1", "data": data})
    out = with_stats(TICKER, stats, "/market/snapshot:BTC-USDT")
    assert before == TICKER
    assert out["data"]["changeRate"] == "0.0047" and out["data"]["vol"] == "2227.69895852"
    assert set(out["kunb"]["added"]) == {"changeRate", "changePrice", "vol", "high", "low"}
    assert out["kunb"]["source"] == "/market/snapshot:BTC-USDT"
    assert "x" not in out["data"] and out["data"]["price"] == "67000.5"
    assert with_stats(TICKER, None, "none") == TICKER and "kunb" not in with_stats(TICKER, None, "none")


def test_level2_gets_the_books_top_best_first():
    """bids/asks are the live book's best levels as [price, size] strings, with its sequence."""
    book = OrderBook("BTC-USDT")
    book.on_snapshot(
        book_snapshot(
            "BTC-USDT",
            {
                "sequence": "10",
                "bids": [["99.5", "1"], ["99", "2"], ["98", "3"]],
                "asks": [["100", "1.5"], ["101", "2"]],
            },
        )
    )
    push = {
        "type": "message",
        "topic": "/market/level2:BTC-USDT",
        "data": {
            "changes": {"asks": [], "bids": [["99.7", "0.25", "11"]]},
            "sequenceStart": 11,
            "sequenceEnd": 11,
            "symbol": "BTC-USDT",
            "time": 1,
        },
    }
    book.on_delta(delta(push["data"]))
    out = with_book_top(push, book, 2)
    assert out["data"]["bids"] == [["99.7", "0.25"], ["99.5", "1"]]
    assert out["data"]["asks"] == [["100", "1.5"], ["101", "2"]]
    assert out["kunb"]["sequence"] == 11 and "bids" not in push["data"]
    assert out["data"]["changes"] == push["data"]["changes"]


def test_order_gets_cumulative_deal_numbers():
    """dealSize/dealFunds are the order table's cumulative numbers; exactness is reported."""
    order = Order(
        "o1", "BTC-USDT", "buy", deal_size=Decimal("0.30"), deal_funds=Decimal("20100.0"), exact=False
    )
    push = {
        "type": "message",
        "topic": "/spotMarket/tradeOrders",
        "data": {"orderId": "o1", "status": "match"},
    }
    out = with_deal(push, order)
    assert out["data"]["dealSize"] == "0.3" and out["data"]["dealFunds"] == "20100"
    assert out["kunb"]["exact"] is False and "dealSize" not in push["data"]
