"""live_candles: REST history then live candles, the forming candle sent again in place, never the window."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from nbfakes import FakeMarketSource, candle_msg
from recordingcomm import record_comms
from support import until

import kunb.notebook as nb
from kunb.client import Market
from kunb.exceptions import ConfigurationError
from kunb.notebook.candles import LiveCandles
from kunb.notebook.status import Health

T0 = int(time.time()) // 60 * 60 - 240  # four minutes ago, a minute start (seconds): within the history asked


def _history(requests: list[dict[str, str]], minutes: int = 5) -> Market:
    """A REST candles endpoint with ``minutes`` candles ending at minute 4 (close 90 + i)."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(dict(request.url.params))
        rows = [[str(T0 + 60 * i), "90", str(90 + i), "99", "80", "2", "180"] for i in range(minutes)]
        return httpx.Response(200, json={"code": "200000", "data": rows[::-1]})

    return Market(url="https://api.kucoin.com", transport=httpx.MockTransport(handle))


def _ops(log: list[dict[str, Any]], figure: Any) -> list[dict[str, Any]]:
    return [
        m["data"]["content"]
        for m in log
        if m["comm_id"] == figure.model_id and m["type"] == "comm_msg" and m["data"].get("method") == "custom"
    ]


async def test_history_then_live_candles_the_forming_one_replaced_in_place(monkeypatch):
    """The REST history is drawn once; a live candle with the last history start replaces it; the forming
    candle goes again with replace_last=1; a new minute appends."""
    sent = record_comms(monkeypatch)
    requests: list[dict[str, str]] = []
    source = FakeMarketSource()
    live = LiveCandles(
        "BTC-USDT", "1min", url=source.url, simulated=True, key=("t-candles",), window=100, max_hz=50,
        source=source, market=_history(requests),
    )  # fmt: skip
    live.start()
    await asyncio.wait_for(source.started.wait(), 5)
    assert source.subscribed == ["/market/candles:BTC-USDT_1min"]
    fig = live.panel.figure
    await until(lambda: len(fig.columns(0).get("x", [])) == 5)
    assert requests and requests[0]["type"] == "1min" and requests[0]["symbol"] == "BTC-USDT"
    assert fig.columns(0)["close"].tolist() == [90.0, 91.0, 92.0, 93.0, 94.0]

    before = len(_ops(sent, fig))
    source.push(candle_msg("BTC-USDT", T0 + 240, close=95.0))  # minute 4 again, live: replaces the REST one
    await until(lambda: fig.columns(0)["close"][-1] == 95.0)
    source.push(candle_msg("BTC-USDT", T0 + 240, close=96.5, volume=3.0))  # still forming
    await until(lambda: fig.columns(0)["close"][-1] == 96.5)
    source.push(candle_msg("BTC-USDT", T0 + 300, close=97.0))  # minute 5 starts
    await until(lambda: len(fig.columns(0)["x"]) == 6)
    assert fig.columns(0)["close"].tolist() == [90.0, 91.0, 92.0, 93.0, 96.5, 97.0]
    assert fig.columns(1)["y"][-2:].tolist() == [3.0, 1.0]  # volume bars follow
    # volume bars take the candle's direction: the history's rose (90 -> 90+i), the live ones fell (100 ->)
    assert fig.columns(1)["marker.color"].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    extends = [op for msg in _ops(sent, fig)[before:] for op in msg["ops"] if op["op"] == "extend"]
    assert extends and all(op["op"] == "extend" for op in extends)
    assert not [op for msg in _ops(sent, fig)[before:] for op in msg["ops"] if op["op"] == "replace"]
    assert {op.get("replace_last", 0) for op in extends} <= {0, 1} and any(
        op.get("replace_last") for op in extends
    )
    df = live.df
    assert df["close"].tolist() == [90.0, 91.0, 92.0, 93.0, 96.5, 97.0]
    assert str(df.index.dtype) == "datetime64[ns, UTC]" and df.index.is_monotonic_increasing
    snap = live.snapshot()
    assert (snap["candles"], snap["history"], snap["live"]) == (6, 5, 2)
    assert 'data-close="97.0"' in live.panel.latest.newest
    assert live.health is Health.LIVE
    await live.aclose()


def test_an_interval_the_channel_lacks_is_refused():
    with pytest.raises(ConfigurationError, match="interval must be one of"):
        nb.live_candles("BTC-USDT", "5min", source=FakeMarketSource())
    with pytest.raises(ConfigurationError, match="window"):
        nb.live_candles("BTC-USDT", window=5000, source=FakeMarketSource())


async def test_live_candles_on_the_embedded_exchange_match_its_rest_candles(exchange):
    """History and live candles together: the newest candle the panel holds is the exchange's own."""
    live = nb.live_candles("BTC-USDT", url=exchange.url, max_hz=50)
    await until(lambda: live.health is Health.LIVE and len(live.model.live) > 0, timeout=10)
    async with Market(url=exchange.url) as market:
        for _ in range(100):
            newest = (await market.aget_kline("BTC-USDT", "1min"))[0]
            last = live.snapshot()["last"]
            if last and last["time"] == int(newest[0]) * 1000 and last["close"] == float(newest[2]):
                break
            await asyncio.sleep(0.02)  # poll interval: the forming candle moves with every trade
    assert last["time"] == int(newest[0]) * 1000 and last["close"] == float(newest[2])
    assert last["high"] == float(newest[3]) and last["low"] == float(newest[4])
    assert live.panel.precision.price is not None  # the symbol's tick was looked up
    await live.aclose()


async def test_an_unknown_symbol_stops_the_panel_with_its_name(exchange):
    live = nb.live_candles("NOPE-USDT", url=exchange.url)
    await live.wait_stopped()
    assert live.health is Health.STOPPED
    assert "NOPE-USDT" in live.notice and "NOPE-USDT" in live.panel.badge.value
