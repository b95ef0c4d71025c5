"""kunb.protocol.classic_decoder (pure): every classic push and REST answer kunb reads becomes exactly the
documented event, from KuCoin's own examples (tests/data/classic), and nothing else gets through."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from kunb.events import (
    AccountBalance,
    BalanceChange,
    BookDelta,
    BookSnapshot,
    Candle,
    Fill,
    OrderEvent,
    OrderState,
    Stats,
    Tick,
    Trade,
)
from kunb.exceptions import ProtocolError
from kunb.protocol.classic_decoder import ClassicDecoder

DATA = Path(__file__).resolve().parents[1] / "data" / "classic"
MS = 1_000_000
RECEIVED = 123


def decoded(name: str) -> tuple:
    frame = json.loads((DATA / f"{name}.json").read_text())
    return ClassicDecoder().decode(frame, RECEIVED)


def test_ticker() -> None:
    """Times in ms become ns; the symbol comes from the topic; sizes and prices are floats."""
    assert decoded("ticker") == (
        Tick("BTC-USDT", 1704873323416 * MS, RECEIVED, 1545896668986, 0.08, 0.011, 0.049, 0.036, 0.08, 0.18),
    )


def test_ticker_all_names_the_symbol_in_the_subject() -> None:
    (tick,) = decoded("ticker_all")
    assert tick.symbol == "BTC-USDT" and tick.sequence == 14691455768 and tick.best_ask == 67218.7


def test_level2_push() -> None:
    """Changes keep their own sequence; sequence ranges are exact ints."""
    assert decoded("level2") == (
        BookDelta(
            "BTC-USDT",
            1729816425625 * MS,
            RECEIVED,
            14701689783,
            14701689783,
            (),
            ((67993.3, 1.21427407, 14701689783),),
        ),
    )


def test_depth5_is_a_snapshot_without_sequence() -> None:
    (snap,) = decoded("level2_depth5")
    assert isinstance(snap, BookSnapshot) and snap.sequence is None and snap.depth == 5
    assert snap.bids[0] == (67996.6, 0.37969491) and snap.asks[-1] == (67997.1, 0.14842782)
    assert snap.time_ns == 1729822226746 * MS


def test_match() -> None:
    """A match's time is a string of ns; the side is the taker's."""
    assert decoded("match") == (
        Trade(
            "BTC-USDT",
            1729843222921000000,
            RECEIVED,
            11067996711960577,
            "11067996711960577",
            "buy",
            67523.0,
            0.003,
        ),
    )


def test_candle_start_in_seconds() -> None:
    (candle,) = decoded("candles")
    assert candle == Candle(
        "BTC-USDT",
        "1hour",
        1729839600 * 1_000_000_000,
        1729842192785164840,
        RECEIVED,
        67644.9,
        67437.6,
        67724.8,
        67243.8,
        44.88321441,
        3027558.991928447,
    )


def test_snapshot_stats_are_json_numbers() -> None:
    (stats,) = decoded("snapshot")
    assert stats == Stats(
        "BTC-USDT",
        1729758286011 * MS,
        RECEIVED,
        67158.1,
        0.0047,
        315.2,
        67611.8,
        65257.1,
        2227.69895852,
        147972941.078,
    )


def test_balance_is_decimal_and_names_its_account_and_order() -> None:
    (change,) = decoded("balance")
    assert change == BalanceChange(
        "USDT",
        "trade",
        "548674591753",
        Decimal("21.133773386762"),
        Decimal("20.132773386762"),
        Decimal("1.001"),
        Decimal("-0.5005"),
        Decimal("0.5005"),
        "trade.hold",
        "354689988084000",
        "6721d0632db25b0007071fdc",
        1730269283892 * MS,
        RECEIVED,
    )


def test_received_order_event() -> None:
    (event,) = decoded("order_received")
    assert isinstance(event, OrderEvent)
    assert (event.kind, event.status, event.size, event.price, event.filled_size) == (
        "received",
        "new",
        Decimal("0.00001"),
        None,
        None,
    )
    assert event.order_time_ns == 1730206271588 * MS and event.time_ns == 1730206271616000000


def test_a_match_order_event_also_makes_a_fill() -> None:
    """Classic has no fill channel: the match event carries the fill, so the decoder makes both."""
    event, fill = decoded("order_match")
    assert isinstance(event, OrderEvent) and event.kind == "match" and event.filled_size == Decimal("0.1")
    assert fill == Fill(
        "5efab07953bdea00089965fa",
        "5efab07a4ee4c7000a82d6d9",
        "KCS-USDT",
        "sell",
        Decimal("0.96738"),
        Decimal("0.1"),
        None,
        "",
        "taker",
        1670329987311000000,
        RECEIVED,
    )


@pytest.mark.parametrize("kind", ["filled", "canceled"])
def test_finishing_events_say_done(kind: str) -> None:
    frame = json.loads((DATA / "order_match.json").read_text())
    frame["data"].update(type=kind, status="open")
    (event,) = ClassicDecoder().decode(frame, 0)
    assert event.status == "done"


def test_channels_kunb_does_not_model_decode_to_nothing() -> None:
    assert ClassicDecoder().decode({"topic": "/spotMarket/level1:BTC-USDT", "data": {}}, 0) == ()


@pytest.mark.parametrize("topic", [None, 5, b"/market/level2:BTC-USDT"])
def test_a_frame_without_a_string_topic_is_refused(topic: object) -> None:
    with pytest.raises(ProtocolError):
        ClassicDecoder().decode({"topic": topic, "data": {}}, 0)


def test_rest_answers() -> None:
    """Level-2 snapshots (best first, as sent), account lists (``holds``) and order lists."""
    decoder = ClassicDecoder()
    snap = decoder.book_snapshot(
        "BTC-USDT",
        {
            "time": 1729176273859,
            "sequence": "14610502970",
            "bids": [["66976.4", "0.69109872"], ["66976.3", "0.14377"]],
            "asks": [["66976.5", "0.05408199"], ["66976.8", "0.0005"]],
        },
        RECEIVED,
        depth=100,
    )
    assert snap == BookSnapshot(
        "BTC-USDT",
        1729176273859 * MS,
        RECEIVED,
        14610502970,
        ((66976.4, 0.69109872), (66976.3, 0.14377)),
        ((66976.5, 0.05408199), (66976.8, 0.0005)),
        100,
    )
    accounts = decoder.account_balances(
        [
            {
                "id": "548674591753",
                "currency": "USDT",
                "type": "trade",
                "balance": "26.6",
                "available": "26.6",
                "holds": "0",
            }
        ]
    )
    assert accounts == [
        AccountBalance("USDT", "trade", "548674591753", Decimal("26.6"), Decimal("26.6"), Decimal("0"))
    ]
    (order,) = decoder.order_states(
        [
            {
                "id": "o1",
                "symbol": "BTC-USDT",
                "type": "limit",
                "side": "buy",
                "price": "50000",
                "size": "0.00001",
                "dealFunds": "0",
                "dealSize": "0",
                "clientOid": "c",
                "isActive": False,
                "cancelExist": True,
                "createdAt": 1732942471752,
            }
        ]
    )
    assert order == OrderState(
        "o1",
        "c",
        "BTC-USDT",
        "buy",
        "limit",
        Decimal("50000"),
        Decimal("0.00001"),
        Decimal(0),
        Decimal(0),
        False,
        True,
        1732942471752 * MS,
    )
    with pytest.raises(ProtocolError):
        decoder.book_snapshot("BTC-USDT", {"bids": [], "asks": []}, 0)
    with pytest.raises(ProtocolError):
        decoder.order_states([{"symbol": "BTC-USDT"}])


def test_prices_are_parsed_once_per_string() -> None:
    """The decoder caches parsed prices: the same wire string gives the very same float object."""
    decoder = ClassicDecoder()
    frame = json.loads((DATA / "level2.json").read_text())
    (first,) = decoder.decode(frame, 0)
    (second,) = decoder.decode(frame, 0)
    assert first.asks[0][0] is second.asks[0][0]


def test_symbol_items_give_increments_and_their_decimals() -> None:
    """A symbol list item gives the increments and how many decimals a number on them needs; missing,
    zero or unreadable increments are a ProtocolError."""
    item = {
        "symbol": "BTC-USDT",
        "priceIncrement": "0.1",
        "baseIncrement": "0.00000001",
        "quoteIncrement": "10",
    }
    info = ClassicDecoder.symbol_info(item)
    assert (info.symbol, info.price_decimals, info.size_decimals) == ("BTC-USDT", 1, 8)
    assert info.price_increment == 0.1 and info.quote_increment == 10.0
    assert info.price(67254.7 - 67254.1) == 0.6 and info.size(4.4e-07) == 0.00000044
    assert ClassicDecoder.symbol_info({**item, "priceIncrement": "0.50"}).price_decimals == 1
    assert ClassicDecoder.symbol_info({**item, "priceIncrement": "1E-8"}).price_decimals == 8
    for bad in ({**item, "baseIncrement": "0"}, {**item, "priceIncrement": "x"}, {"symbol": "BTC-USDT"}):
        with pytest.raises(ProtocolError):
            ClassicDecoder.symbol_info(bad)
