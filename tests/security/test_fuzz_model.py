"""Hostile wire data against the decoder and the market-data model: OrderBook, the rolling frames,
Stream's routing.

Whatever a server sends, the classic decoder either turns it into events or raises ProtocolError (Stream
counts it in ``bad_messages``); nothing else escapes; every event it makes is taken by the model without
an error; and a live book never holds a level a reader cannot use (every price and size finite and
positive, bids below asks, reads never raise).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hostile import fuzz, json_values
from hypothesis import given
from hypothesis import strategies as st

from kunb.exceptions import ProtocolError
from kunb.model.book import BookState, OrderBook
from kunb.model.rolling import BalanceFrame, CandleFrame, OrderEventFrame, TickerFrame, TradeFrame
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.stream import Stream

DECODER = ClassicDecoder()


def decode(topic: str, data: Any) -> tuple[Any, ...]:
    return DECODER.decode({"type": "message", "topic": topic, "data": data}, 0)


def decode_snapshot(data: Any) -> Any:
    return DECODER.book_snapshot(SYMBOL, data, 0)


SYMBOL = "BTC-USDT"
GOOD_PRICES = st.integers(1, 2_000).map(lambda n: f"{100 + n / 10:.1f}")
BAD_NUMBERS = st.sampled_from(
    ["nan", "NaN", "inf", "-inf", "1e999", "-1", "-0.5", "", "abc", "1abc", "1_0", " 5", "0x1", "1" * 30]
)
NUMBERS = GOOD_PRICES | BAD_NUMBERS | json_values
SIZES = st.sampled_from(["0", "0.5", "1", "2.25", "10"]) | BAD_NUMBERS | json_values
SEQ = st.integers(0, 40)


def rows(price: st.SearchStrategy[Any], size: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    row = st.tuples(price, size, SEQ.map(str)).map(list) | st.lists(json_values, max_size=4)
    return st.lists(row, max_size=4) | json_values


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, json_values)


pushes = st.fixed_dictionaries(
    {
        "sequenceStart": maybe(SEQ),
        "sequenceEnd": maybe(SEQ),
        "symbol": maybe(st.just(SYMBOL)),
        "changes": maybe(st.fixed_dictionaries({"bids": rows(NUMBERS, SIZES), "asks": rows(NUMBERS, SIZES)})),
    }
)
snapshots = st.fixed_dictionaries(
    {
        "sequence": maybe(SEQ.map(str)),
        "bids": maybe(st.lists(st.tuples(NUMBERS, SIZES).map(list), max_size=4)),
        "asks": maybe(st.lists(st.tuples(NUMBERS, SIZES).map(list), max_size=4)),
    }
)


def check_readable(book: OrderBook) -> None:
    if book.state is not BookState.LIVE:
        return
    bids, asks = book.levels("bid"), book.levels("ask")
    for price, size in (*bids.items(), *asks.items()):
        assert math.isfinite(price) and price > 0, price
        assert math.isfinite(size) and size > 0, size
    if bids and asks:
        assert max(bids) < min(asks)
        assert book.best_bid == max(bids) and book.best_ask == min(asks)
    book.top(5)
    book.arrays("bid", 5)
    book.arrays("ask")


@pytest.mark.timeout(600)  # 2,000 examples in CI: ~70 s on a quiet machine, much more on a loaded one
@fuzz(2000)
@given(st.lists(st.tuples(st.booleans(), pushes, snapshots), max_size=8))
def test_order_book_takes_or_refuses_any_input(steps: list[tuple[bool, dict, dict]]) -> None:
    book = OrderBook(SYMBOL, max_buffer=5)
    for is_snapshot, push, snapshot in steps:
        try:
            events = (decode_snapshot(snapshot),) if is_snapshot else decode(f"/market/level2:{SYMBOL}", push)
        except ProtocolError:
            continue  # refused before any book saw it
        for event in events:
            before = (book.state, book.last_sequence, book.buffered)
            try:
                state = book.on_snapshot(event) if is_snapshot else book.on_delta(event)
            except ProtocolError:
                assert event.symbol != SYMBOL  # only a misrouted event is refused, and it changes nothing
                assert (book.state, book.last_sequence, book.buffered) == before
            else:
                assert isinstance(state, BookState) and state is book.state
        check_readable(book)


# -- rolling frames ------------------------------------------------------------------------------

TIME = st.integers(0, 2_000_000_000_000).map(str) | st.sampled_from(["9" * 30, "-1", "1.5", ""]) | json_values

FRAMES = {
    "ticker": (
        TickerFrame,
        {"time": TIME, "symbol": st.just(SYMBOL), "price": NUMBERS, "size": SIZES, "bestBid": NUMBERS,
         "bestBidSize": SIZES, "bestAsk": NUMBERS, "bestAskSize": SIZES},
    ),
    "trade": (
        TradeFrame,
        {"time": TIME, "symbol": st.just(SYMBOL), "side": st.sampled_from(["buy", "sell"]), "price": NUMBERS,
         "size": SIZES, "tradeId": st.text(max_size=5)},
    ),
    "candle": (
        CandleFrame,
        {"symbol": st.just(SYMBOL), "candles": st.lists(NUMBERS, min_size=7, max_size=7) | json_values},
    ),
    "balance": (
        BalanceFrame,
        {"time": TIME, "currency": st.just("USDT"), "total": NUMBERS, "available": NUMBERS, "hold": SIZES,
         "availableChange": NUMBERS, "holdChange": NUMBERS, "relationEvent": st.just("trade.hold"),
         "relationContext": st.fixed_dictionaries({"orderId": st.text(max_size=4)}) | json_values},
    ),
    "order": (
        OrderEventFrame,
        {"ts": TIME, "symbol": st.just(SYMBOL), "side": st.just("buy"), "orderType": st.just("limit"),
         "type": st.sampled_from(["open", "match", "done"]), "orderId": st.text(max_size=4), "price": NUMBERS,
         "size": SIZES, "filledSize": SIZES, "remainSize": SIZES},
    ),
}  # fmt: skip


def frame_inputs(name: str) -> st.SearchStrategy[dict[str, Any]]:
    _, fields = FRAMES[name]
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


_TOPIC = {
    "ticker": f"/market/ticker:{SYMBOL}",
    "trade": f"/market/match:{SYMBOL}",
    "candle": f"/market/candles:{SYMBOL}_1min",
    "balance": "/account/balance",
    "order": "/spotMarket/tradeOrders",
}


def _feed(frame: Any, name: str, data: dict[str, Any]) -> None:
    before = len(frame)
    try:
        events = decode(_TOPIC[name], data)
    except ProtocolError:
        return  # refused by the decoder: no frame saw it
    for event in events[:1]:  # an order match also makes a Fill: the frame takes the order event
        frame.add(event)  # whatever the decoder made, the frame takes
    assert len(frame) in (before, before + 1)  # a candle update may replace its bar in place


def _check_frame(frame: Any) -> None:
    df = frame.to_pandas()
    assert len(df) == len(frame)
    frame.last(10)


def test_every_frame_has_a_strategy() -> None:
    assert {cls for cls, _ in FRAMES.values()} == {TickerFrame, TradeFrame, CandleFrame, BalanceFrame,
                                                    OrderEventFrame}  # fmt: skip


@fuzz(2000)
@given(
    st.sampled_from(sorted(FRAMES)).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(frame_inputs(n), max_size=5))
    )
)
def test_rolling_frames_take_or_refuse_any_push(case: tuple[str, list[dict[str, Any]]]) -> None:
    name, items = case
    frame = FRAMES[name][0](maxlen=3)
    for data in items:
        _feed(frame, name, data)
    _check_frame(frame)


# -- Stream's routing (the callback a source hands to the connection) -------------------------------

TOPICS = st.sampled_from(
    [f"/market/level2:{SYMBOL}", f"/market/ticker:{SYMBOL}", f"/market/match:{SYMBOL}",
     f"/market/snapshot:{SYMBOL}", f"/market/candles:{SYMBOL}_1min", "/market/level2:OTHER", "/x"]
)  # fmt: skip


@fuzz(2000)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"type": st.just("message"), "topic": TOPICS},
            optional={
                "data": pushes | frame_inputs("ticker") | frame_inputs("trade") | json_values,
                "subject": st.text(max_size=5),
            },
        ),
        max_size=6,
    )
)
def test_stream_routing_counts_unreadable_pushes_and_never_raises(messages: list[dict[str, Any]]) -> None:
    """Stream._on_frame is the callback the source gives the connection: any message with a string topic
    (what kunb.net.connection delivers) is decoded and routed, or counted in ``bad_messages``."""
    stream = Stream(SYMBOL, url="http://127.0.0.1:9", candles="1min")
    for message in messages:
        before = stream.bad_messages
        stream._on_frame(message)
        assert stream.bad_messages in (before, before + 1)
    check_readable(stream.books[SYMBOL])
    for frame in (stream.ticks, stream.trades, stream.candles):
        _check_frame(frame)


# -- regressions found by the fuzzers above (now refused by the decoder, before any book or frame) -----


def bid_push(price: Any, size: Any) -> dict[str, Any]:
    return {"sequenceStart": 11, "sequenceEnd": 11, "changes": {"bids": [[price, size, "11"]], "asks": []}}


@pytest.mark.parametrize("price", ["nan", "inf", "-5", "1e999"])
def test_decoder_refuses_non_finite_or_negative_prices(price: str) -> None:
    with pytest.raises(ProtocolError):
        decode(f"/market/level2:{SYMBOL}", {**bid_push(price, "1"), "time": 1})
    with pytest.raises(ProtocolError):
        decode_snapshot({"sequence": "10", "bids": [[price, "1"]], "asks": []})


@pytest.mark.parametrize("size", ["nan", "inf", "-1", "1e999", "1abc", "1²", ["1"]])
def test_decoder_refuses_sizes_a_reader_could_not_use(size: Any) -> None:
    with pytest.raises(ProtocolError):
        decode(f"/market/level2:{SYMBOL}", {**bid_push("99.0", size), "time": 1})
    if isinstance(size, str):
        with pytest.raises(ProtocolError):
            decode_snapshot({"sequence": "10", "bids": [["99.0", size]], "asks": []})


@pytest.mark.parametrize("size", ["2", "12.5", "0.25", "١٢"])  # float() reads any Unicode decimal digits
def test_book_keeps_plain_sizes(size: str) -> None:
    book = OrderBook(SYMBOL)
    book.on_snapshot(decode_snapshot({"sequence": "10", "bids": [["100.0", "1"]], "asks": [["101.0", "1"]]}))
    (delta,) = decode(f"/market/level2:{SYMBOL}", {**bid_push("99.0", size), "time": 1})
    book.on_delta(delta)
    assert book.levels("bid")[99.0] == float(size)


@pytest.mark.parametrize("topic", list(_TOPIC.values()))
def test_a_time_past_int64_is_a_protocol_error(topic: str) -> None:
    """It raised OverflowError from the NumPy row assignment, which Stream did not count: the decoder
    now refuses times outside int64, so every frame and the recorder can keep them."""
    data = {"time": "9" * 30, "ts": "9" * 30, "symbol": SYMBOL, "side": "buy", "price": "1", "size": "1",
            "bestBid": "1", "bestAsk": "2", "currency": "USDT", "total": "1", "available": "1", "hold": "0",
            "type": "open", "orderId": "o1", "candles": ["9" * 30, "1", "1", "1", "1", "1", "1"]}  # fmt: skip
    with pytest.raises(ProtocolError):
        decode(topic, data)
