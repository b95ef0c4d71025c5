"""live_book: buffers pushes, syncs from a snapshot, redraws depth and spread, resyncs on a gap."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest
from nbfakes import FakeMarketSource, symbol_item
from support import until

import kunb.notebook as nb
from kunb.exceptions import ConfigurationError
from kunb.notebook.status import Health
from kunb.sources.base import LinkStatus


def l2(symbol: str, start: int, end: int, bids=(), asks=()) -> dict:
    return {
        "type": "message",
        "topic": f"/market/level2:{symbol}",
        "subject": "trade.l2update",
        "data": {
            "symbol": symbol,
            "sequenceStart": start,
            "sequenceEnd": end,
            "time": 1_700_000_000_000 + end,
            "changes": {"bids": [list(b) for b in bids], "asks": [list(a) for a in asks]},
        },
    }


SNAPSHOT = {
    "sequence": "10",
    "time": 1_700_000_000_010,
    "bids": [["99.5", "1"], ["99", "2"], ["98", "3"]],
    "asks": [["100.5", "1.5"], ["101", "2"]],
}


async def test_book_syncs_from_snapshot_and_draws_depth():
    """Pushes before the snapshot are buffered and replayed; the depth chart is cumulative size."""
    fetched: list[str] = []

    async def snapshots(symbol: str):
        fetched.append(symbol)
        return SNAPSHOT

    source = FakeMarketSource(snapshots=snapshots)
    live = nb.live_book("BTC-USDT", source=source, max_hz=50)
    source.push(l2("BTC-USDT", 11, 11, bids=[("99.5", "4", "11")]))
    await until(lambda: live.health is Health.LIVE and live.panel.frames >= 2)
    assert fetched == ["BTC-USDT"]
    snap = live.snapshot()
    assert snap["best_bid"] == 99.5 and snap["best_ask"] == 100.5 and snap["last_sequence"] == 11
    source.push(l2("BTC-USDT", 12, 12, asks=[("100.5", "0", "12")]))  # best ask removed
    await until(lambda: live.book.best_ask == 101.0)
    fig = live.panel.figure
    await until(lambda: len(fig.columns(1).get("x", [])) == 1)
    bids, asks, spread = (fig.columns(i) for i in range(3))
    assert bids["x"].tolist() == [99.5, 99.0, 98.0] and bids["y"].tolist() == [4.0, 6.0, 9.0]
    assert asks["x"].tolist() == [101.0] and asks["y"].dtype == np.float64
    assert spread["y"][-1] == 1.5 and fig.trace_attributes(2)["name"] == "spread"
    assert 'data-state="live"' in live.panel.table.value
    layout = fig.plotly_layout
    assert (layout["xaxis"]["type"], layout["xaxis2"]["type"]) == ("linear", "date")
    await live.aclose()


async def test_gap_shows_resyncing_then_recovers():
    """A sequence gap drops the book, the badge says resyncing, and a new snapshot brings it back."""
    gate = asyncio.Event()
    calls = 0

    async def snapshots(symbol: str):
        nonlocal calls
        calls += 1
        if calls == 2:
            await gate.wait()  # hold the second snapshot so the resyncing state is observable
            return {**SNAPSHOT, "sequence": "20"}
        return SNAPSHOT

    source = FakeMarketSource(snapshots=snapshots)
    live = nb.live_book("BTC-USDT", source=source, max_hz=50)
    source.push(l2("BTC-USDT", 11, 11))
    await until(lambda: live.health is Health.LIVE)
    source.push(l2("BTC-USDT", 15, 15))  # 12..14 lost
    await until(lambda: live.health is Health.RESYNCING)
    await until(lambda: 'data-status="resyncing"' in live.panel.badge.value)
    gate.set()
    source.push(l2("BTC-USDT", 16, 21, bids=[("99.7", "1", "21")]))
    await until(lambda: live.health is Health.LIVE and live.book.last_sequence == 21)
    assert live.book.stats.gaps == 1 and live.book.best_bid == 99.7
    await live.aclose()


async def test_live_book_matches_the_exchange(exchange):
    """Against the embedded exchange the synced book equals a REST snapshot taken at the same sequence."""
    live = nb.live_book("BTC-USDT", url=exchange.url, max_hz=20)
    await until(lambda: live.health is Health.LIVE, timeout=10)
    async with httpx.AsyncClient(base_url=exchange.url) as http:
        for _ in range(200):
            reply = await http.get("/api/v1/market/orderbook/level2_20", params={"symbol": "BTC-USDT"})
            rest = reply.json()["data"]
            if int(rest["sequence"]) == live.book.last_sequence:
                break
        else:
            raise AssertionError("never caught the local book at the REST snapshot's sequence")
    bids, asks = live.book.top(20)
    assert bids == [(float(p), float(s)) for p, s in rest["bids"]]
    assert asks == [(float(p), float(s)) for p, s in rest["asks"]]
    await until(lambda: len(live.panel.figure.columns(0).get("x", [])) > 0)
    await live.aclose()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]


async def test_failed_snapshot_is_said_on_the_badge_then_retried():
    """A snapshot fetch that fails (REST down) shows why on the badge; the retry brings the book live."""
    gate = asyncio.Event()
    calls = 0

    async def snapshots(symbol: str):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection refused")
        await gate.wait()  # hold the retry so the failure is observable on the badge
        return SNAPSHOT

    source = FakeMarketSource(snapshots=snapshots)
    live = nb.live_book("BTC-USDT", source=source, max_hz=50)
    source.push(l2("BTC-USDT", 11, 11))
    await until(lambda: "book snapshot failed (connection refused)" in live.panel.badge.value)
    assert live.health is not Health.LIVE
    gate.set()
    await until(lambda: live.health is Health.LIVE and calls == 2)
    await until(lambda: "snapshot failed" not in live.panel.badge.value)
    await live.aclose()


async def test_a_dropped_link_resyncs_the_book_it_carried():
    """A link that drops takes its pushes with it: the badge says reconnecting and the book stops being
    trusted (no gap needed to notice); once resubscribed it resyncs from a new snapshot and is live again."""
    gate = asyncio.Event()
    calls = 0

    async def snapshots(symbol: str):
        nonlocal calls
        calls += 1
        if calls == 2:
            await gate.wait()  # hold the resync's snapshot so the states in between are observable
            return {**SNAPSHOT, "sequence": "20", "bids": [["99.6", "1"]]}
        return SNAPSHOT

    source = FakeMarketSource(snapshots=snapshots)
    live = nb.live_book("BTC-USDT", source=source, max_hz=50)
    source.push(l2("BTC-USDT", 11, 11))
    await until(lambda: live.health is Health.LIVE)
    source.set_link(LinkStatus.DOWN, "link lost", symbols=["BTC-USDT"])
    assert live.health is Health.RECONNECTING and live.book.needs_snapshot
    await until(lambda: 'data-status="reconnecting"' in live.panel.badge.value)
    source.set_link(LinkStatus.RESTORED)
    assert live.health is Health.RESYNCING  # the link is back, the book not yet
    await until(lambda: 'data-status="resyncing"' in live.panel.badge.value)
    gate.set()
    source.push(l2("BTC-USDT", 12, 21, bids=[("99.7", "1", "21")]))
    await until(lambda: live.health is Health.LIVE and live.book.last_sequence == 21)
    assert live.book.best_bid == 99.7 and live.book.stats.gaps == 0 and calls == 2
    assert live.snapshot()["snapshots"] == 2
    await live.aclose()


def test_a_source_and_a_snapshot_fetcher_together_are_refused():
    """A custom source fetches its own snapshots: passing snapshots= beside it would be silently ignored."""
    with pytest.raises(ConfigurationError, match="snapshots"):
        nb.live_book("BTC-USDT", source=FakeMarketSource(), snapshots=lambda symbol: None)


async def test_book_table_and_snapshot_show_sizes_on_the_size_increment():
    """A size of 0.00000044 BTC is 4.4e-07 as a float: the top-of-book table shows 0.00000044 (the size
    increment's 8 decimals), prices to the price increment; the snapshot rounds the same way and the
    ladder DataFrame keeps the raw floats."""

    async def snapshots(symbol: str):
        return {"sequence": "10", "bids": [["67254.1", "0.00000044"]], "asks": [["67254.7", "1.5"]]}

    items = [symbol_item("BTC-USDT", price_increment="0.1", base_increment="0.00000001")]
    source = FakeMarketSource(snapshots=snapshots, symbol_items=items)
    live = nb.live_book("BTC-USDT", source=source, max_hz=50)
    source.push(l2("BTC-USDT", 11, 11, bids=[("67254.1", "0.00000044", "11")]))
    await until(lambda: live.health is Health.LIVE and "BTC-USDT" in live.stream.symbol_info)
    live.throttle.render_now()
    table = live.panel.table.newest  # what the page gets within the interval
    assert ">0.00000044<" in table and ">67,254.1<" in table and ">0.6<" in table, table
    snap = live.snapshot()
    assert snap["spread"] == 0.6 and snap["bids"][0] == (67254.1, 0.00000044), snap
    assert live.df["bid_size"].iloc[0] == 4.4e-07
    await live.aclose()
