"""Frames the recorder must be able to take from the classic decoder: level2 pushes without ``time``
(KuCoin before 2022, the real 2021 session) and tickers with an empty book side (``bestAsk: null``, as
kunb.sim sends); both record with the gaps marked, not as a decode failure."""

from __future__ import annotations

import math
from pathlib import Path

from recordkit import T0, read_table

from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.record import Recorder


def test_a_level2_push_without_time_records_its_receive_time(tmp_path: Path) -> None:
    frame = {
        "type": "message",
        "topic": "/market/level2:BCHSV-USDT",
        "subject": "trade.l2update",
        "data": {
            "sequenceStart": 5,
            "sequenceEnd": 5,
            "symbol": "BCHSV-USDT",
            "changes": {"asks": [["0", "0", "5"]], "bids": []},
        },
    }
    (delta,) = ClassicDecoder().decode(frame, T0)
    assert delta.time_ns == 0 and delta.received_ns == T0
    with Recorder(tmp_path) as recorder:
        recorder(delta)
    rows = read_table(tmp_path, "book_deltas").select("epoch_ns(time), time_ns, price, sequence").fetchall()
    assert rows == [(T0, None, 0.0, 5)]


def test_a_ticker_with_an_empty_side_records_nan() -> None:
    frame = {
        "type": "message",
        "topic": "/market/ticker:BTC-USDT",
        "subject": "trade.ticker",
        "data": {
            "sequence": "9",
            "price": "1",
            "size": "1",
            "bestAsk": None,
            "bestAskSize": None,
            "bestBid": "0.9",
            "bestBidSize": "2",
            "time": 1,
        },
    }
    (tick,) = ClassicDecoder().decode(frame, T0)
    assert math.isnan(tick.best_ask) and math.isnan(tick.best_ask_size) and tick.best_bid == 0.9
