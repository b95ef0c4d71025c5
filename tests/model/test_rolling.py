"""Rolling frames: bounded rings, typed DataFrames on demand, renderer arrays, wire parsers."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from decoded import book_snapshot, event
from hypothesis import given, settings
from hypothesis import strategies as st

from kunb.exceptions import ConfigurationError, ProtocolError
from kunb.model.book import OrderBook
from kunb.model.rolling import (
    BalanceFrame,
    BookTopFrame,
    CandleFrame,
    OrderEventFrame,
    TickerFrame,
    TradeFrame,
)

T0 = 1_729_816_425_625_000_000  # ns
S = 1_000_000_000


def tick(frame: TickerFrame, i: int, symbol: str = "BTC-USDT", dt: int = S) -> None:
    frame.append(T0 + i * dt, symbol, 100.0 + i, 0.5, 99.0 + i, 1.0, 101.0 + i, 2.0)


def test_ticker_dataframe_is_typed_and_derives_spread_and_mid() -> None:
    """The DataFrame has a UTC datetime index, float64 numbers, a categorical symbol, spread and mid."""
    frame = TickerFrame(maxlen=10)
    tick(frame, 0)
    tick(frame, 1, "ETH-USDT")
    df = frame.df
    assert str(df.index.dtype) == "datetime64[ns, UTC]" and df.index.name == "time"
    assert df.index[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert isinstance(df["symbol"].dtype, pd.CategoricalDtype)
    assert df["symbol"].tolist() == ["BTC-USDT", "ETH-USDT"]
    assert list(df.columns) == frame.columns
    for column in frame.columns[1:]:
        assert df[column].dtype == np.float64, column
    assert df["spread"].tolist() == [2.0, 2.0]
    assert df["mid"].tolist() == [100.0, 101.0]
    assert frame.to_pandas(symbol="ETH-USDT")["price"].tolist() == [101.0]
    assert frame.to_pandas(symbol="XRP-USDT").empty


def test_ring_keeps_the_newest_rows_in_order_and_counts_versions() -> None:
    """Beyond maxlen the oldest rows roll out; order stays oldest-first; version counts every append."""
    frame = TickerFrame(maxlen=5)
    versions = []
    for i in range(12):
        tick(frame, i)
        versions.append(frame.version)
    assert len(frame) == 5 and frame.appended == 12
    assert frame.df["price"].tolist() == [107.0, 108.0, 109.0, 110.0, 111.0]
    assert versions == sorted(set(versions))
    frame.clear()
    assert len(frame) == 0 and frame.df.empty and frame.version > versions[-1]
    tick(frame, 20)
    assert frame.df["price"].tolist() == [120.0]


def test_time_span_window() -> None:
    """With a span, reads keep only rows within it of the newest row."""
    frame = TickerFrame(maxlen=100, span=2.5)
    for i in range(10):
        tick(frame, i)
    assert frame.df["price"].tolist() == [107.0, 108.0, 109.0]
    assert len(frame) == 10  # the ring still holds them; the window applies on read
    assert frame.last(None, "price")["price"].tolist() == [107.0, 108.0, 109.0]


def test_last_gives_float64_arrays_for_renderers() -> None:
    """``last`` returns float64 arrays without pandas; time is epoch milliseconds."""
    frame = TickerFrame(maxlen=50)
    for i in range(20):
        tick(frame, i, "BTC-USDT" if i % 2 else "ETH-USDT")
    out = frame.last(3, "time", "mid", "price", symbol="BTC-USDT")
    assert set(out) == {"time", "mid", "price"}
    assert all(values.dtype == np.float64 for values in out.values())
    assert out["price"].tolist() == [115.0, 117.0, 119.0]
    assert out["mid"].tolist() == [115.0, 117.0, 119.0]
    assert out["time"][-1] == (T0 + 19 * S) / 1e6
    everything = frame.last(2)
    assert set(everything) == {"time", *frame.columns[1:]}
    assert frame.last(0, "price")["price"].size == 0
    with pytest.raises(ConfigurationError):
        frame.last(5, "symbol")


def test_ticker_add_parses_the_wire_push() -> None:
    """``add`` reads the documented ``/market/ticker`` push (ms time, decimal strings)."""
    frame = TickerFrame()
    data = {
        "sequence": "1545896668986",
        "price": "0.08",
        "size": "0.011",
        "bestAsk": "0.08",
        "bestAskSize": "0.18",
        "bestBid": "0.049",
        "bestBidSize": "0.036",
        "time": 1704873323416,
    }
    frame.add(event("/market/ticker:BTC-USDT", data))
    row = frame.df.iloc[0]
    assert frame.df.index[0] == pd.Timestamp(1704873323416, unit="ms", tz="UTC")
    assert (row["price"], row["best_bid"], row["best_ask_size"]) == (0.08, 0.049, 0.18)
    assert math.isclose(row["spread"], 0.031)
    with pytest.raises(ProtocolError):
        event("/market/ticker:BTC-USDT", {"time": 1})


def test_trade_frame_from_match_pushes() -> None:
    """Trades keep ns time, a categorical taker side and the trade id as text."""
    frame = TradeFrame(maxlen=4)
    data = {
        "makerOrderId": "671b5007389355000701b1d3",
        "price": "67523",
        "sequence": "11067996711960577",
        "side": "buy",
        "size": "0.003",
        "symbol": "BTC-USDT",
        "takerOrderId": "671b50161777ff00074c168d",
        "time": "1729843222921000001",
        "tradeId": "11067996711960577",
        "type": "match",
    }
    frame.add(event("/market/match:BTC-USDT", data))
    frame.add(event("/market/match:BTC-USDT", {**data, "side": "sell", "tradeId": "x2"}))
    df = frame.df
    assert df.index[0].value == 1729843222921000001
    assert df["side"].tolist() == ["buy", "sell"] and isinstance(df["side"].dtype, pd.CategoricalDtype)
    assert df["trade_id"].tolist() == ["11067996711960577", "x2"]
    assert df["price"].dtype == np.float64
    with pytest.raises(ProtocolError):
        event("/market/match:BTC-USDT", {"symbol": "BTC-USDT"})


def test_candles_update_the_open_bar_in_place() -> None:
    """A re-pushed in-progress bar replaces the series' latest row; a new start appends."""
    frame = CandleFrame(maxlen=3)
    bar = {"symbol": "BTC-USDT", "candles": ["1729839600", "1", "2", "3", "0.5", "10", "20"], "time": 1}

    def add(data: dict) -> None:
        frame.add(event(f"/market/candles:{data['symbol']}_1min", data))

    add(bar)
    version = frame.version
    add({**bar, "candles": ["1729839600", "1", "2.5", "3", "0.5", "11", "22"]})
    assert len(frame) == 1 and frame.version == version + 1
    assert frame.df["close"].tolist() == [2.5]
    add({**bar, "candles": ["1729839660", "2.5", "2.6", "2.7", "2.4", "1", "2"]})
    add({**bar, "symbol": "ETH-USDT"})  # another series with the same start
    df = frame.df
    assert df["symbol"].tolist() == ["BTC-USDT", "BTC-USDT", "ETH-USDT"]
    assert df.index[1] == pd.Timestamp(1729839660, unit="s", tz="UTC")
    for i in range(3):  # roll the BTC bar out, then re-push its start: it must append, not overwrite
        add({**bar, "symbol": f"X{i}-USDT"})
    add({**bar, "candles": ["1729839660", "2.5", "9", "9", "2.4", "1", "2"]})
    assert frame.df["close"].tolist()[-1] == 9.0 and len(frame) == 3
    with pytest.raises(ProtocolError):
        event("/market/candles:BTC-USDT_1min", {"symbol": "BTC-USDT", "candles": ["1"]})


def test_book_top_frame_from_an_order_book() -> None:
    """Book snapshots over time: one row per call, NaN beyond the book's depth, skipped when not live."""
    book = OrderBook("BTC-USDT")
    frame = BookTopFrame(depth=3, maxlen=10)
    frame.add_book(book, T0)
    assert len(frame) == 0
    book.on_snapshot(
        book_snapshot(
            "BTC-USDT",
            {"sequence": "5", "bids": [["99", "1"], ["98", "2"]], "asks": [["101", "3"]], "time": 1},
        )
    )
    frame.add_book(book)
    row = frame.df.iloc[0]
    assert frame.df.index[0] == pd.Timestamp(1, unit="ms", tz="UTC")
    assert (row["bid_0"], row["bid_size_1"], row["ask_0"]) == (99.0, 2.0, 101.0)
    assert math.isnan(row["bid_2"]) and math.isnan(row["ask_1"])
    assert frame.last(1, "bid_0")["bid_0"].tolist() == [99.0]
    with pytest.raises(ConfigurationError):
        BookTopFrame(depth=0)


def test_balance_and_order_event_frames() -> None:
    """Account pushes become typed rows: categorical events, text ids, NaN for absent numbers."""
    balances = BalanceFrame()
    balance_push = {
        "accountId": "548674591753",
        "currency": "USDT",
        "total": "21.133773386762",
        "available": "20.132773386762",
        "hold": "1.001",
        "availableChange": "-0.5005",
        "holdChange": "0.5005",
        "relationContext": {"symbol": "BTC-USDT", "orderId": "6721d0632db25b0007071fdc"},
        "relationEvent": "trade.hold",
        "relationEventId": "354689988084000",
        "time": "1730269283892",
    }
    balances.add(event("/account/balance", balance_push))
    df = balances.df
    assert df["currency"].tolist() == ["USDT"] and df["relation_event"].tolist() == ["trade.hold"]
    assert df["hold_change"].tolist() == [0.5005] and df["order_id"].tolist() == ["6721d0632db25b0007071fdc"]
    orders = OrderEventFrame()
    order_push = {
        "clientOid": "c1",
        "orderId": "6720da3fa30a360007f5f832",
        "orderTime": 1730206271588,
        "orderType": "market",
        "originSize": "0.00001",
        "side": "buy",
        "status": "new",
        "symbol": "BTC-USDT",
        "ts": 1730206271616000000,
        "type": "received",
    }
    orders.add(event("/spotMarket/tradeOrdersV2", order_push))
    orders.append_row(T0, "BTC-USDT", "sell", "limit", "open", None, None, "o2", "", "", *[1.0] * 6)
    row = orders.df.iloc[0]
    assert (row["event"], row["status"], row["size"]) == ("received", "new", 0.00001)
    assert orders.df["status"].isna().tolist() == [False, True]
    assert math.isnan(row["match_price"])
    with pytest.raises(ProtocolError):
        event("/spotMarket/tradeOrders", {"ts": 1})
    with pytest.raises(ProtocolError):
        event("/account/balance", {"time": "x"})


def test_configuration_errors() -> None:
    """Bad sizes and windows are refused up front."""
    with pytest.raises(ConfigurationError):
        TickerFrame(maxlen=0)
    with pytest.raises(ConfigurationError):
        TickerFrame(span=0)
    with pytest.raises(ConfigurationError):
        TradeFrame().append_row(T0, "BTC-USDT")


def test_memory_stays_flat() -> None:
    """Tens of thousands of appends beyond maxlen allocate nothing that stays (object columns too)."""
    ticks, trades = TickerFrame(maxlen=1_000), TradeFrame(maxlen=1_000)

    def burst(offset: int) -> None:
        for i in range(offset, offset + 20_000):
            tick(ticks, i)
            trades.append(T0 + i, "BTC-USDT", "buy", 1.0, 2.0, f"id-{i}")

    burst(0)
    tracemalloc.start()
    try:
        burst(20_000)
        before = tracemalloc.get_traced_memory()[0]
        burst(40_000)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 16_384
    assert len(ticks) == 1_000 and trades.df["trade_id"].iloc[-1] == "id-59999"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.tuples(st.sampled_from(["A-B", "C-D", "E-F"]), st.floats(-1e6, 1e6)), max_size=40),
    st.one_of(st.none(), st.integers(1, 10)),
)
def test_matches_a_list_reference(maxlen: int, rows: list[tuple[str, float]], span: int | None) -> None:
    """Whatever the ring size and window, the frame equals the tail of a plain list of the same rows."""
    frame = TickerFrame(maxlen=maxlen, span=span)
    for i, (symbol, price) in enumerate(rows):
        frame.append(T0 + i * S, symbol, price, 1.0, price - 1, 1.0, price + 1, 1.0)
    expected = list(enumerate(rows))[-maxlen:]
    if span is not None and expected:
        newest = expected[-1][0]
        expected = [(i, row) for i, row in expected if i >= newest - span]
    df = frame.df
    assert df["price"].tolist() == [price for _, (_, price) in expected]
    assert df["symbol"].astype(object).tolist() == [symbol for _, (symbol, _) in expected]
    assert [t.value for t in df.index] == [T0 + i * S for i, _ in expected]
    assert frame.last(3, "price")["price"].tolist() == [price for _, (_, price) in expected][-3:]
    assert frame.to_pandas(last=2)["price"].tolist() == [price for _, (_, price) in expected][-2:]
    tail = [price for _, (symbol, price) in expected if symbol == "A-B"][-2:]
    assert frame.to_pandas(symbol="A-B", last=2)["price"].tolist() == tail
    assert frame.last(2, "price", symbol="A-B")["price"].tolist() == tail


@settings(max_examples=40, deadline=None)
@given(
    symbols=st.lists(st.sampled_from(["A-USDT", "B-USDT", "C-USDT"]), max_size=60),
    maxlen=st.integers(1, 20),
    n=st.one_of(st.none(), st.integers(0, 25)),
)
def test_last_per_symbol_equals_last_of_each_symbol(symbols: list[str], maxlen: int, n: int | None) -> None:
    """One read for every symbol gives exactly what last(n, ..., symbol=s) gives for each one."""
    frame = TickerFrame(maxlen=maxlen)
    for i, symbol in enumerate(symbols):
        frame.append(i * 1_000_000, symbol, float(i), 1.0, i - 0.5, 1.0, i + 0.5, 2.0)
    got = frame.last_per_symbol(n, "time", "price", "spread")
    assert set(got) == set(symbols)
    for symbol in set(symbols):
        want = frame.last(n, "time", "price", "spread", symbol=symbol)
        assert {k: v.tolist() for k, v in got[symbol].items()} == {k: v.tolist() for k, v in want.items()}


def test_last_per_symbol_tail_reads_only_the_newest_rows() -> None:
    """tail=k: the rows appended last (what a renderer has not drawn yet), split per symbol, oldest first,
    also across the ring's wrap-around."""
    frame = TickerFrame(maxlen=8)
    for i in range(11):  # wraps: rows 3..10 held
        frame.append(i * 1_000_000, "A" if i % 2 else "B", float(i), 1.0, 1.0, 1.0, 2.0, 1.0)
    got = frame.last_per_symbol(None, "price", tail=5)  # rows 6..10
    assert {s: v["price"].tolist() for s, v in got.items()} == {"A": [7.0, 9.0], "B": [6.0, 8.0, 10.0]}
    assert frame.last_per_symbol(None, "price", tail=0)["A"]["price"].tolist() == []
