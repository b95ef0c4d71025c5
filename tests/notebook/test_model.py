"""The rate meter counts messages per second; the ticker view reads what its Stream recorded."""

from __future__ import annotations

import math

import pytest
from nbfakes import ticker_msg

from kunb.exceptions import ConfigurationError
from kunb.notebook.model import RateMeter, TickerView
from kunb.stream import Stream


def test_rate_meter_reports_messages_per_second():
    """100 messages over 2 s is 50 msg/s; nothing new over the next interval decays to 0."""
    meter = RateMeter(interval=2.0)
    assert meter.rate(0.0, 0) == 0.0
    assert meter.rate(1.0, 50) == pytest.approx(50.0)
    assert meter.rate(2.0, 100) == pytest.approx(50.0)
    meter.rate(4.5, 100)
    assert meter.rate(5.0, 100) == pytest.approx(0.0)


def test_rate_meter_starts_afresh_when_the_count_goes_down():
    """A new stream (other symbols) counts from zero: the meter restarts instead of going negative."""
    meter = RateMeter(interval=2.0)
    meter.rate(0.0, 0)
    meter.rate(1.0, 500)
    assert meter.rate(1.5, 3) == 0.0  # the first sample of the new count
    assert meter.rate(2.5, 23) == pytest.approx(20.0)


def test_ticker_view_reads_series_quote_and_stats_from_the_stream():
    """Ticker pushes routed by a Stream fill the view's series and quote; a snapshot push adds 24 h change
    and volume; other symbols stay out; the window bounds series and df."""
    stream = Stream(["BTC-USDT", "ETH-USDT"], book=False, trades=False)
    view = TickerView(stream, window=3)
    for i in range(5):
        stream.ingest(ticker_msg("BTC-USDT", i, price=1000.0, spread=2.0))
    stream.ingest(ticker_msg("DOGE-USDT", 0))  # not ours: never shown
    stream.ingest(
        {
            "topic": "/market/snapshot:BTC-USDT",
            "data": {"data": {"symbol": "BTC-USDT", "changeRate": 0.0125, "vol": 12.5, "volValue": 12500.0}},
        }
    )
    t, price, bps = view.series("BTC-USDT")
    assert price.tolist() == [1002.0, 1003.0, 1004.0]
    assert t.tolist() == [1_700_000_000_002, 1_700_000_000_003, 1_700_000_000_004]
    assert bps[-1] == pytest.approx(2.0 / 1004.0 * 1e4)
    snap = view.snapshot()
    assert snap["BTC-USDT"]["bid"] == 1003.0 and snap["BTC-USDT"]["ask"] == 1005.0
    assert snap["BTC-USDT"]["spread"] == pytest.approx(2.0)
    assert snap["BTC-USDT"]["change_24h"] == 0.0125 and snap["BTC-USDT"]["volume_24h"] == 12.5
    assert snap["ETH-USDT"]["price"] is None and "DOGE-USDT" not in snap
    assert view.messages == 6  # rows the stream recorded (the DOGE tick included), not drawn
    df = view.df
    assert list(df["symbol"].unique()) == ["BTC-USDT"]
    assert len(df) == 3 and str(df.index.dtype).startswith("datetime64")
    assert math.isclose(df["spread"].iloc[-1], 2.0)
    version = view.version
    view.set_window(2)
    assert view.version > version and len(view.series("BTC-USDT")[0]) == 2


def test_ticker_view_needs_ticks():
    """A Stream that records no ticks cannot back a ticker view."""
    with pytest.raises(ConfigurationError, match="ticker=True"):
        TickerView(Stream("BTC-USDT", ticker=False), window=10)
