"""Replay of a real KuCoin session (shared/recorded/kucoin-2021-04-25): books go live from the recorded
REST snapshots and level-2 pushes and agree with every recorded ticker at the same sequence."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from decoded import book_snapshot, delta, events

from kunb.model.book import BookState, OrderBook
from kunb.model.rolling import CandleFrame, TickerFrame, TradeFrame

# shared/ sits beside the repository (as in CI); KUNB_SHARED points elsewhere (a worktree elsewhere)
SHARED = Path(os.environ.get("KUNB_SHARED") or Path(__file__).resolve().parents[2] / "shared")
RECORDED = SHARED / "recorded" / "kucoin-2021-04-25"

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded session not found at {RECORDED}")


def recorded_events() -> list[tuple[float, str, Any]]:
    """Received WebSocket frames and REST snapshots, in the order they were recorded.

    Line formats (README there): ``<ts>: <json>`` a received frame, ``<url> <- <ts>: <json>`` a sent
    frame, ``<url> <-> <ts>`` a connect; REST: ``<url> -> <ts>: <json body>``.
    """
    events: list[tuple[float, str, Any]] = []
    for line in (RECORDED / "KUCOIN.ws.1.0").read_text().splitlines():
        if not line.strip() or line.startswith("wss://"):
            continue
        stamp, _, body = line.partition(": ")
        events.append((float(stamp), "ws", json.loads(body)))
    for line in (RECORDED / "KUCOIN.http.0.0").read_text().splitlines():
        if not line.strip():
            continue
        head, _, body = line.partition(": ")
        url, _, stamp = head.partition(" -> ")
        symbol = url.split("symbol=")[1]
        events.append((float(stamp), "rest", (symbol, json.loads(body)["data"])))
    events.sort(key=lambda event: event[0])
    return events


def test_books_go_live_and_match_the_recorded_tickers() -> None:
    """Every symbol with a snapshot goes live without a resync, no price-0 row becomes a level, and the
    book's best bid/ask equals each recorded ticker whose sequence is the book's sequence."""
    books: dict[str, OrderBook] = {}
    snapshots: set[str] = set()
    zero_rows = compared = 0
    for _, kind, event in recorded_events():
        if kind == "rest":
            symbol, snap = event
            snapshots.add(symbol)
            books.setdefault(symbol, OrderBook(symbol)).on_snapshot(book_snapshot(symbol, snap))
            continue
        subject = event.get("subject")
        if subject == "trade.l2update":
            data = event["data"]
            changes = data["changes"]
            zero_rows += sum(row[0] == "0" for row in changes["asks"] + changes["bids"])
            books.setdefault(data["symbol"], OrderBook(data["symbol"])).on_delta(delta(data))
        elif subject == "trade.ticker":
            book = books.get(event["topic"].split(":")[1])
            data = event["data"]
            if (
                book is not None
                and book.state is BookState.LIVE
                and book.last_sequence == int(data["sequence"])
            ):
                assert (book.best_bid, book.best_ask) == (float(data["bestBid"]), float(data["bestAsk"]))
                compared += 1
    assert snapshots and zero_rows  # the session really exercises snapshots and price-0 rows
    assert compared > 100
    for symbol in snapshots:
        book = books[symbol]
        assert book.state is BookState.LIVE, book
        stats = book.stats
        assert (stats.resyncs, stats.gaps, stats.crossed, stats.stale_snapshots) == (0, 0, 0, 0)
        assert stats.pushes_applied > 0
        assert 0.0 not in book.levels("bid") and 0.0 not in book.levels("ask")
        assert book.best_bid < book.best_ask


def test_dropping_one_recorded_push_is_detected() -> None:
    """Removing a single push from the busiest symbol's recorded stream is caught as a gap."""
    events = recorded_events()
    symbol = "BCHSV-USDT"
    topic = f"/market/level2:{symbol}"
    pushes = [e for _, k, e in events if k == "ws" and e.get("topic") == topic]
    victim = pushes[len(pushes) // 2]["data"]
    book = OrderBook(symbol)
    for _, kind, event in events:
        if kind == "rest" and event[0] == symbol:
            book.on_snapshot(book_snapshot(symbol, event[1]))
        elif (
            kind == "ws" and event.get("topic") == f"/market/level2:{symbol}" and event["data"] is not victim
        ):
            book.on_delta(delta(event["data"]))
    assert book.stats.gaps == 1
    assert book.state is BookState.RESYNCING


def test_recorded_tickers_trades_and_candles_fill_the_rolling_frames() -> None:
    """Every recorded ticker, match and candle push parses into its frame, with one candle row per
    (symbol, bar start) holding the bar's latest close."""
    ticks, trades, candles = TickerFrame(), TradeFrame(), CandleFrame()
    counts: Counter[str] = Counter()
    bars: set[tuple[str, str]] = set()
    last_close: dict[tuple[str, str], float] = {}
    for _, kind, event in recorded_events():
        if kind != "ws" or event.get("type") != "message":
            continue
        subject, data = event["subject"], event["data"]
        if subject == "trade.ticker":
            ticks.add(*events(event))
        elif subject == "trade.l3match":
            trades.add(*events(event))
        elif subject == "trade.candles.update":
            candles.add(*events(event))
            bars.add((data["symbol"], data["candles"][0]))
            last_close[(data["symbol"], data["candles"][0])] = float(data["candles"][2])
        else:
            continue
        counts[subject] += 1
    assert counts["trade.ticker"] and counts["trade.l3match"] and counts["trade.candles.update"]
    assert len(ticks) == counts["trade.ticker"] and len(trades) == counts["trade.l3match"]
    assert len(candles) == len(bars)
    frame = candles.df
    starts = [str(t.value // 1_000_000_000) for t in frame.index]
    closes = {(s, t): c for s, t, c in zip(frame["symbol"], starts, frame["close"], strict=True)}
    assert closes == last_close
    tick_frame = ticks.df
    assert (tick_frame["best_ask"] > tick_frame["best_bid"]).all()
    assert tick_frame.index.min().year == 2021 and trades.df.index.min().year == 2021
    assert set(trades.df["side"].astype(str)) <= {"buy", "sell"}
