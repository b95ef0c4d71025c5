"""fetch_klines pages KuCoin's candles (<= 1,500 a request, newest first, seconds) into one typed,
time-ascending DataFrame; klines_frame reads the wire rows."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from kunb.client import Market
from kunb.exceptions import ApiError, ConfigurationError, ProtocolError
from kunb.klines import KLINE_COLUMNS, PAGE_ROWS, fetch_klines, klines_frame


def _row(start: int, base: float = 100.0) -> list[str]:
    return [str(start), str(base), str(base + 1), str(base + 2), str(base - 1), "1.5", str(150 * base)]


def test_klines_frame_is_typed_ascending_and_unique():
    """Newest-first rows become a UTC-indexed float64 frame, oldest first; a start seen twice keeps the
    row that came last (a forming candle fetched again)."""
    rows = [_row(180, 3), _row(120, 2), _row(60, 1), _row(180, 4)]
    frame = klines_frame(rows)
    assert list(frame.columns) == list(KLINE_COLUMNS)
    assert all(frame[c].dtype == np.float64 for c in frame.columns)
    assert str(frame.index.dtype) == "datetime64[ns, UTC]" and frame.index.name == "time"
    assert frame.index.tolist() == [pd.Timestamp(t, unit="s", tz="UTC") for t in (60, 120, 180)]
    assert frame["open"].tolist() == [1.0, 2.0, 4.0]
    assert frame.loc[pd.Timestamp(60, unit="s", tz="UTC"), "turnover"] == 150.0


@pytest.mark.parametrize("row", [["60", "1", "2"], ["x", "1", "1", "1", "1", "1", "1"], None])
def test_a_row_that_is_not_a_kline_is_a_protocol_error(row):
    with pytest.raises(ProtocolError, match="kline row"):
        klines_frame([_row(0), row])


def _paging_exchange(requests: list[dict[str, int]], *, interval_s: int = 60, first: int = 0):
    """A candles endpoint with a candle every interval from ``first`` until now, answering at most 1,500
    of a range, newest first, as KuCoin does."""

    def handle(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        start, end = int(params["startAt"]), int(params["endAt"])
        requests.append({"start": start, "end": end})
        lo = max(first, -(-start // interval_s) * interval_s)
        starts = list(range(lo, end + 1, interval_s))[-PAGE_ROWS:]
        return httpx.Response(200, json={"code": "200000", "data": [_row(s) for s in reversed(starts)]})

    return Market(url="https://api.kucoin.com", transport=httpx.MockTransport(handle))


async def test_a_long_range_is_paged_and_joined_without_gaps():
    """Three days of minutes (4,321 candles) come in pages of <= 1,500, every minute once, in order."""
    requests: list[dict[str, int]] = []
    market = _paging_exchange(requests)
    start, end = 1_700_000_000 // 60 * 60, 1_700_000_000 // 60 * 60 + 3 * 86_400
    frame = await fetch_klines("BTC-USDT", "1min", start=start, end=end, market=market)
    assert len(frame) == 3 * 1440 + 1
    seconds = frame.index.as_unit("s").asi8
    assert seconds[0] == start and seconds[-1] == end and (np.diff(seconds) == 60).all()
    assert len(requests) == 3
    assert all((r["end"] - r["start"]) // 60 + 1 <= PAGE_ROWS for r in requests)
    assert [r["start"] for r in requests] == sorted(r["start"] for r in requests)  # oldest page first
    await market.aclose()


async def test_times_may_be_strings_or_datetimes_and_default_to_the_last_page():
    requests: list[dict[str, int]] = []
    market = _paging_exchange(requests, interval_s=3600)
    frame = await fetch_klines("BTC-USDT", "1hour", start="2026-01-01", end="2026-01-02 00:00", market=market)
    assert len(frame) == 25 and frame.index[0] == pd.Timestamp("2026-01-01", tz="UTC")
    requests.clear()
    await fetch_klines("BTC-USDT", "1hour", market=market)  # no range: the last 1,500 hours, one request
    (only,) = requests
    assert only["end"] - only["start"] == (PAGE_ROWS - 1) * 3600
    await market.aclose()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": "7min"}, "interval must be one of"),
        ({"start": 200, "end": 100}, "after end"),
        ({"start": "not a time"}, "cannot read"),
        ({"start": float("nan")}, "finite"),
    ],
)
async def test_bad_arguments_are_configuration_errors(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        await fetch_klines("BTC-USDT", **kwargs, market=_paging_exchange([]))


async def test_the_embedded_exchange_serves_the_same_candles_as_its_raw_endpoint(exchange):
    """Against kunb.sim: the frame equals the REST answer reversed, and an unknown symbol is KuCoin's
    900001."""
    async with Market(url=exchange.url) as market:
        await exchange_candles(exchange)
        raw = await market.aget_kline("BTC-USDT", "1min")
        frame = await fetch_klines("BTC-USDT", "1min", market=market)
        assert len(raw) >= 1 and len(frame) == len(raw)
        assert frame["close"].tolist() == [float(r[2]) for r in reversed(raw)]
        with pytest.raises(ApiError) as err:
            await fetch_klines("NOPE-USDT", "1min", market=market)
        assert err.value.code == "900001"


async def exchange_candles(exchange) -> None:
    """Wait until the exchange has traded (its first candle exists)."""
    import asyncio

    async with Market(url=exchange.url) as market:
        for _ in range(250):
            if await market.aget_kline("BTC-USDT", "1min"):
                return
            await asyncio.sleep(0.02)  # poll interval, bounded by the loop (5 s)
    raise AssertionError("the exchange made no candle within 5 s")
