"""kunb.protocol.uta_decoder: UTA pushes and REST answers -> kunb.events, with plain values and hypothesis."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from uta_frames import golden, names, raw

from kunb.events import BalanceChange, BookDelta, BookSnapshot, Candle, Fill, OrderEvent, Tick, Trade
from kunb.exceptions import ProtocolError
from kunb.protocol.uta import decode
from kunb.protocol.uta_decoder import INCREMENT_10MS_LEVELS, UtaDecoder, exact_int, stamp_ns

RX = 42  # the local receive time the caller passes


def events(frame) -> tuple:
    return UtaDecoder().decode(frame, RX)


def random_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))


# -- golden pushes ----------------------------------------------------------------------------------------
GOLDEN = {
    "ticker_spot": (
        Tick(
            "BTC-USDT",
            1768206966096000000,
            RX,
            25958853459,
            90968.2,
            0.00109929,
            90968.1,
            0.02052839,
            90968.2,
            0.97675941,
        ),
    ),
    "trade_spot": (
        Trade(
            "BTC-USDT",
            1768802538480000000,
            RX,
            20631804219899904,
            "20631804219899904",
            "sell",
            92525.6,
            0.00008036,
        ),
    ),
    "kline_spot": (
        Candle(
            "ETH-USDT",
            "1min",
            1774621620_000_000_000,  # O in seconds
            1774621652314890314,  # P: a kline carries no other time
            RX,
            1974.34,
            1973.4,
            1974.97,
            1973.4,
            98.941095,
            195333.419819132,
        ),
    ),
    "obu_snapshot_50": (
        BookSnapshot(
            "ETH-USDT",
            1774624848673000000,
            RX,
            20452522782,
            ((66532.4, 0.09489),),
            ((66532.5, 0.46243848),),
            50,
        ),
    ),
    "obu_delta_10ms": (
        BookDelta(
            "BTC-USDT",
            1781672136333000000,
            RX,
            33629695388,
            33629695393,
            ((65928.9, 0.0, 33629695393), (65946.6, 0.0, 33629695393), (65947.0, 0.06185847, 33629695393)),
            (),
        ),
    ),
    "obu_delta_increment": (
        BookDelta(
            "BTC-USDT",
            1768217909683000000,
            RX,
            25984544839,
            25984544840,
            ((1.0, 12996.24994153, 25984544840),),
            (),
        ),
    ),
    "order_fill": (
        OrderEvent(
            "409225265957388288",
            "39350f44-56ef-4b91-9788-708d9ed83e95",
            "BTC-USDT",
            "buy",
            "market",
            "match",
            "match",
            None,  # p "" on a market order
            D("0.00001"),
            D("0.00001"),
            D("0"),
            D("0"),
            D("66421"),
            D("0.00001"),
            "21105572357619712",
            "taker",
            1770380108442909926,
            1770380108526000000,
            RX,
        ),
        OrderEvent(
            "409225265957388288",
            "39350f44-56ef-4b91-9788-708d9ed83e95",
            "BTC-USDT",
            "buy",
            "market",
            "filled",
            "done",
            None,
            D("0.00001"),
            D("0.00001"),
            D("0"),
            D("0"),
            None,
            None,
            "",
            "",
            1770380108442909926,
            1770380108526000000,
            RX,
        ),
    ),
    "execution": (
        Fill(
            "476907831686172672",
            "22221471895799808",
            "XRP-USDT",
            "buy",
            D("1.01972"),
            D("0.9806"),
            D("0.000999937432"),
            "USDT",
            "taker",
            1786516889638000000,
            RX,
        ),
    ),
    "execution_lite": (
        Fill(
            "428507829452754944",
            "20801647764195330",  # a JSON number above 2**53, kept exact
            "DOGE-USDT",
            "sell",
            D("0.09211"),
            D("10"),
            None,  # the lite channel has no fee
            "",
            "taker",
            1774977429843000000,  # E sent as a string
            RX,
        ),
    ),
    "balance_unified": (
        BalanceChange(
            "USDT",
            "unified",
            "",
            D("100.0030439507"),
            D("89.9930439507"),
            D("10.0100000000"),
            None,
            None,
            "",
            "",
            "",
            1774982552505000000,
            RX,
        ),
    ),
    "mark_price": (),  # futures-only channels kunb does not model
    "funding_fee": (),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_pushes(name):
    """Each golden push decodes to exactly these events (plain values, field by field)."""
    assert events(golden(name)) == GOLDEN[name]


def test_every_golden_push_is_covered():
    pushes = {n for n in names() if b'"T"' in raw(n)}
    assert pushes == set(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_binary_and_text_frames_decode_alike(name):
    """UTA sends binary frames (UTF-8 JSON): bytes and text give the same events."""
    assert events(decode(raw(name))) == events(decode(raw(name).decode())) == GOLDEN[name]


@given(st.data())
def test_t_routes_case_insensitively(data):
    """``obu.spot`` and ``OBU.SPOT`` are the same channel (kucoin-uta.md 3.1 [!])."""
    name = data.draw(st.sampled_from([n for n in sorted(GOLDEN) if GOLDEN[n]]))
    frame = golden(name)
    frame["T"] = random_case(data.draw, frame["T"])
    assert events(frame)[0][:2] == GOLDEN[name][0][:2]
    if name == "balance_unified":
        assert events(frame)[0].account_type == "unified"


@given(st.data())
def test_side_is_case_folded(data):
    """``S`` is BUY on spot tickers, sell on spot trades, buy on futures: all fold to buy/sell."""
    side = data.draw(st.sampled_from(["buy", "sell"]))
    for name, field in (("trade_spot", "side"), ("execution", "side"), ("order_fill", "side")):
        frame = golden(name)
        frame["d"]["S"] = random_case(data.draw, side)
        assert getattr(events(frame)[0], field) == side


@pytest.mark.parametrize("side", ["hold", "", None, 1])
def test_unknown_side_is_refused(side):
    frame = golden("trade_spot")
    frame["d"]["S"] = side
    with pytest.raises(ProtocolError, match=r"trade\.SPOT"):
        events(frame)


# -- exact integers ---------------------------------------------------------------------------------------
big = st.integers(min_value=2**53 + 1, max_value=2**64 - 1)


@given(big, st.booleans())
def test_big_sequences_exact_as_numbers_or_strings(sequence, as_text):
    """O/C above 2**53 survive as JSON numbers (orjson: exact ints) and as strings, through real JSON."""
    frame = golden("obu_snapshot_50")
    frame["d"]["O"] = frame["d"]["C"] = str(sequence) if as_text else sequence
    (snapshot,) = events(orjson.loads(orjson.dumps(frame)))
    assert snapshot.sequence == sequence
    frame = golden("obu_delta_10ms")
    frame["d"]["O"], frame["d"]["C"] = (
        (str(sequence - 5), str(sequence)) if as_text else (sequence - 5, sequence)
    )
    (delta,) = events(orjson.loads(orjson.dumps(frame)))
    assert (delta.sequence_start, delta.sequence_end) == (sequence - 5, sequence)
    assert {change[2] for change in delta.bids} == {sequence}


@given(st.integers(min_value=10**17, max_value=2**64 - 1), st.booleans())
def test_push_time_exact_as_number_or_string(stamp, as_text):
    """``P`` (ns, above 2**53) is exact in either form: the kline's time is P."""
    frame = golden("kline_spot")
    frame["P"] = str(stamp) if as_text else stamp
    (candle,) = events(orjson.loads(orjson.dumps(frame)))
    assert candle.time_ns == stamp


@given(big, st.booleans())
def test_big_trade_ids_and_sequences_exact(value, as_text):
    frame = golden("trade_spot")
    frame["d"]["E"] = frame["d"]["ti"] = str(value) if as_text else value
    (trade,) = events(orjson.loads(orjson.dumps(frame)))
    assert (trade.sequence, trade.trade_id) == (value, str(value))


@given(st.floats(min_value=2.0**53 + 2, max_value=1e30))
def test_floats_that_lost_digits_are_refused(value):
    """A number past 2**64 parses as a float in orjson; past 2**53 a float has lost digits: refused."""
    frame = golden("obu_delta_10ms")
    frame["d"]["C"] = value
    with pytest.raises(ProtocolError, match=r"obu\.SPOT"):
        events(frame)


def test_number_past_64_bits_is_refused_not_rounded():
    text = raw("obu_delta_10ms").replace(b'"C":33629695393', b'"C":36893488147419103232')
    with pytest.raises(ProtocolError, match="not an exact integer"):
        events(decode(text))


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5), ("5", 5), (5.0, 5), (2.0**53, 2**53), ("007", 7), (-3, -3)]
)
def test_exact_int_accepts(value, expected):
    assert exact_int(value) == expected


@pytest.mark.parametrize("value", [True, 5.5, "5.0", "-5", " 5", "1_000", "١٢", "", None, [5], 2.0**53 + 2])
def test_exact_int_refuses(value):
    with pytest.raises(ProtocolError):
        exact_int(value)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (1774621620, 1774621620_000_000_000),  # seconds (kline O/C)
        ("1780543242933", 1780543242933_000_000),  # ms (FUNDING balance U, mark-price doc P)
        (1780543242933123, 1780543242933123_000),  # us
        (1774982552505000000, 1774982552505000000),  # ns
    ],
)
def test_stamp_units_told_apart_by_magnitude(value, ns):
    assert stamp_ns(value) == ns


# -- order books ------------------------------------------------------------------------------------------
def test_snapshot_levels_best_first_without_empty_levels():
    """Levels are sorted by price whatever the wire order, and a size "0" level is no level."""
    frame = golden("obu_snapshot_50")
    frame["dp"] = "5"
    frame["d"]["b"] = [["99", "1"], ["101", "2"], ["100", "0"], ["100.5", "3"]]
    frame["d"]["a"] = [["103", "1"], ["102", "2"], ["104", "0"]]
    (snapshot,) = events(frame)
    assert snapshot.bids == ((101.0, 2.0), (100.5, 3.0), (99.0, 1.0))
    assert snapshot.asks == ((102.0, 2.0), (103.0, 1.0))
    assert snapshot.depth == 5


@pytest.mark.parametrize(
    ("dp", "depth"), [("1", 1), ("5", 5), ("50", 50), ("increment@10ms", INCREMENT_10MS_LEVELS)]
)
def test_snapshot_depth(dp, depth):
    """depth 1/5/50, and 500 for the increment@10ms snapshot (the top 500 levels, AN1)."""
    frame = golden("obu_snapshot_50")
    frame["dp"] = dp
    assert events(frame)[0].depth == depth


def test_snapshot_or_delta_without_t():
    """Without ``t``, numeric depths are snapshots and the increments deltas (kucoin-uta.md 3.5)."""
    frame = golden("obu_snapshot_50")
    del frame["t"]
    assert isinstance(events(frame)[0], BookSnapshot)
    frame = golden("obu_delta_10ms")
    del frame["t"]
    assert isinstance(events(frame)[0], BookDelta)
    frame["t"] = "SNAPSHOT"
    assert isinstance(events(frame)[0], BookSnapshot)


def test_futures_rpi_levels_read_price_and_first_size():
    frame = golden("obu_snapshot_50")
    frame["d"]["b"] = [["88862.4", "891", "0"]]
    assert events(frame)[0].bids == ((88862.4, 891.0),)


# -- orders -----------------------------------------------------------------------------------------------
ORDER = {
    "T": "orderAll.UNIFIED",
    "P": 1770000000000000100,
    "d": {
        "oi": "9001",
        "ci": "c-1",
        "s": "ETH-USDT",
        "S": "SELL",
        "oT": "LIMIT",
        "p": "2000.5",
        "q": "2",
        "qU": "BASECCY",
        "fS": "0.5",
        "rS": "1.5",
        "cS": "0",
        "lS": "0.5",
        "ls": "2000.5",
        "lR": "MAKER",
        "ti": 77,
        "O": 1770000000000000000,
        "U": "1770000000000000050",
    },
}


def order(event_type, status, last_size="0.5"):
    frame = copy.deepcopy(ORDER)
    data = frame["d"]
    for key, value in (("eT", event_type), ("os", status), ("lS", last_size)):
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return frame


@pytest.mark.parametrize(
    ("event_type", "status", "last_size", "expected"),
    [
        ("OPEN", 2, "0", [("open", "open")]),
        ("OPEN", 0, "0", [("received", "new")]),  # a conditional order not yet triggered
        ("MATCH", 4, "0.5", [("match", "match")]),
        ("FILL", 4, "0.5", [("match", "match")]),
        ("FILL", 3, "0.5", [("match", "match"), ("filled", "done")]),
        ("MATCH", "3", "0.5", [("match", "match"), ("filled", "done")]),
        ("fill", 6, "0.5", [("match", "match"), ("canceled", "done")]),
        ("FILL", 3, "0", [("filled", "done")]),
        ("UPDATE", 2, "0", [("update", "open")]),
        ("UPDATE", 4, "0.5", [("update", "match")]),  # lS is the last fill, not a new one
        ("CANCEL", 5, "0", [("canceled", "done")]),
        ("CANCEL", 6, "0.5", [("canceled", "done")]),
        ("TRIGGER", 1, "0", [("update", "done")]),
        (None, 2, "0", [("open", "open")]),
        ("", 3, "0", [("filled", "done")]),
        ("SOMETHING_NEW", 4, "0.5", [("update", "match")]),  # unknown eT: the kind of its os
        ("FILL", None, "0.5", [("match", "match")]),
        ("CANCEL", None, "0", [("canceled", "done")]),
        ("FILL", None, None, [("filled", "match")]),
    ],
)
def test_order_kinds_and_statuses(event_type, status, last_size, expected):
    """UTA eT/os map onto the classic kinds/statuses kunb.events documents (see the module docstring)."""
    got = events(order(event_type, status, last_size))
    assert [(e.kind, e.status) for e in got] == expected
    for event in got:
        if event.kind == "match":
            assert (event.match_price, event.match_size, event.trade_id, event.liquidity) == (
                D("2000.5"),
                D("0.5"),
                "77",
                "maker",
            )
        else:
            assert (event.match_price, event.match_size, event.trade_id, event.liquidity) == (
                None,
                None,
                "",
                "",
            )


def test_order_fields():
    (event,) = events(order("UPDATE", 4))
    assert event == OrderEvent(
        "9001",
        "c-1",
        "ETH-USDT",
        "sell",
        "limit",
        "update",
        "match",
        D("2000.5"),
        D("2"),
        D("0.5"),
        D("1.5"),
        D("0"),
        None,
        None,
        "",
        "",
        1770000000000000000,
        1770000000000000050,
        RX,
    )


def test_order_quantity_in_quote_currency_is_no_size():
    """``qU: QUOTECCY`` means q is funds, not a base size: size is left out."""
    frame = order("OPEN", 2)
    frame["d"]["qU"] = "QUOTECCY"
    assert events(frame)[0].size is None


def test_order_without_times_uses_push_time():
    frame = order("OPEN", 2)
    del frame["d"]["U"], frame["d"]["O"]
    (event,) = events(frame)
    assert (event.time_ns, event.order_time_ns) == (1770000000000000100, None)


def test_single_symbol_order_channel():
    frame = order("OPEN", 2)
    frame["T"] = "order.UNIFIED"
    assert events(frame)[0].kind == "open"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"os": 9}, "unknown order status"),
        ({"os": 3.5}, "not an exact integer"),
        ({"os": None, "eT": None}, "neither a status"),
        ({"oi": None}, "oi"),
        ({"fS": "lots"}, "orderAll.UNIFIED"),
        ({"fS": "NaN"}, "finite"),
        ({"eT": "FILL", "os": 3, "ls": None}, "ls"),
        ({"eT": "FILL", "os": 3, "ls": ""}, "decimal field is missing"),
    ],
)
def test_unreadable_orders(change, words):
    frame = order("OPEN", 2)
    for key, value in change.items():
        if value is None:
            frame["d"].pop(key, None)
        else:
            frame["d"][key] = value
    with pytest.raises(ProtocolError, match=words):
        events(frame)


# -- balances and fills -----------------------------------------------------------------------------------
def test_funding_balance_time_in_ms():
    """FUNDING balance pushes send U as an ms string (kucoin-uta.md 4)."""
    frame = {
        "T": "balance.FUNDING",
        "P": 1780543242950333125,
        "d": {"U": "1780543242933", "a": "531.42853547", "b": "531.42853547", "c": "USDT", "h": "0"},
    }
    (change,) = events(frame)
    assert (change.account_type, change.time_ns, change.total, change.hold) == (
        "funding",
        1780543242933000000,
        D("531.42853547"),
        D("0"),
    )


def test_execution_without_time_uses_push_time():
    frame = golden("execution")
    del frame["d"]["E"]
    assert events(frame)[0].time_ns == 1786516889648920721


# -- channels kunb does not model, and unreadable pushes ---------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [
        {"T": "funding-fee-all-symbols", "P": 1, "d": [{"s": "XBTUSDTM"}]},
        {"T": "callAuctionInfo.SPOT", "t": "snapshot", "P": 1, "d": {"s": "GROVE-USDT"}},
        {"T": "positionAll.UNIFIED", "P": 1, "d": {"s": "XBTUSDTM"}},
        {"T": "lw.UNIFIED", "P": 1, "d": None},
        {"T": "something.new", "P": 1},
    ],
)
def test_unknown_channels_make_no_events(frame):
    assert events(frame) == ()


def _without(name, *path):
    frame = golden(name)
    target = frame
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return frame


def _with(name, value, *path):
    frame = golden(name)
    target = frame
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return frame


@pytest.mark.parametrize(
    ("frame", "channel"),
    [
        (_without("ticker_spot", "d", "b"), "ticker.SPOT"),
        (_with("ticker_spot", "", "d", "s"), "ticker.SPOT"),
        (_with("ticker_spot", "x", "d", "E"), "ticker.SPOT"),
        (_without("kline_spot", "d", "O"), "kline.SPOT"),
        (_with("kline_spot", "soon", "d", "O"), "kline.SPOT"),
        (_without("obu_delta_10ms", "d", "C"), "obu.SPOT"),
        (_with("obu_delta_10ms", 1, "d", "C"), "obu.SPOT"),  # O after C
        (_with("obu_delta_10ms", "full", "t"), "obu.SPOT"),
        (_with("obu_snapshot_50", "deep", "dp"), "obu.SPOT"),  # no such depth
        (_with("obu_delta_10ms", [["-1", "1"]], "d", "b"), "obu.SPOT"),
        (_with("obu_delta_10ms", [["1", "nan"]], "d", "a"), "obu.SPOT"),
        (_with("obu_delta_10ms", [["1"]], "d", "a"), "obu.SPOT"),
        (_with("obu_delta_10ms", 5, "d", "a"), "obu.SPOT"),
        (_without("execution", "d", "p"), "execution.UNIFIED"),
        (_with("balance_unified", "abc", "d", "b"), "balance.UNIFIED"),
        (_with("balance_unified", None, "d", "c"), "balance.UNIFIED"),
        (_with("ticker_spot", ["BTC-USDT"], "d"), "ticker.SPOT"),
        (_without("kline_spot", "P"), "kline.SPOT"),
    ],
)
def test_unreadable_pushes_name_their_channel(frame, channel):
    """A push its channel cannot read is a ProtocolError that names the channel (never a bare KeyError)."""
    with pytest.raises(ProtocolError, match=channel.replace(".", r"\.")):
        events(frame)


@pytest.mark.parametrize("frame", [{"P": 1, "d": {}}, {"T": 5, "d": {}}, {"T": None}])
def test_push_without_t_is_refused(frame):
    with pytest.raises(ProtocolError, match="without a T"):
        events(frame)


# -- REST -------------------------------------------------------------------------------------------------
def test_rest_orderbook_snapshot():
    """The signed ``GET /api/ua/v1/market/orderbook`` answer (sequence as a string)."""
    data = golden("rest_orderbook")["data"]
    snapshot = UtaDecoder().book_snapshot(data, RX)
    assert snapshot == BookSnapshot(
        "BTC-USDT", 0, RX, 23136002402, ((104700.0, 10.25940068),), ((104700.1, 1.4082106),), None
    )
    assert UtaDecoder().book_snapshot(data, RX, depth=100, symbol="X").depth == 100


@pytest.mark.parametrize(
    ("key", "value"), [("sequence", None), ("sequence", "1.5"), ("bids", None), ("asks", 3)]
)
def test_unreadable_rest_snapshot(key, value):
    data = golden("rest_orderbook")["data"]
    if value is None:
        del data[key]
    else:
        data[key] = value
    with pytest.raises(ProtocolError, match="BTC-USDT"):
        UtaDecoder().book_snapshot(data, RX)


def test_price_cache_is_bounded():
    """The per-decoder price cache never grows past its bound (a hostile feed of distinct prices)."""
    decoder = UtaDecoder()
    frame = golden("obu_delta_10ms")
    for start in range(0, 70_000, 1_000):
        frame["d"]["b"] = [[str(start + i + 1), "1"] for i in range(1_000)]
        decoder.decode(frame, RX)
    assert len(decoder._prices) <= 65_536
