"""Replay of a real KuCoin session (shared/recorded/kucoin-2021-04-25): books go live from the recorded
REST snapshots and level-2 pushes and agree with every recorded ticker at the same sequence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kunb.book import BookState, OrderBook

RECORDED = Path(__file__).resolve().parents[2] / "shared" / "recorded" / "kucoin-2021-04-25"

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
            books.setdefault(symbol, OrderBook(symbol)).on_snapshot(snap)
            continue
        subject = event.get("subject")
        if subject == "trade.l2update":
            data = event["data"]
            changes = data["changes"]
            zero_rows += sum(row[0] == "0" for row in changes["asks"] + changes["bids"])
            books.setdefault(data["symbol"], OrderBook(data["symbol"])).on_push(data)
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
            book.on_snapshot(event[1])
        elif (
            kind == "ws" and event.get("topic") == f"/market/level2:{symbol}" and event["data"] is not victim
        ):
            book.on_push(event["data"])
    assert book.stats.gaps == 1
    assert book.state is BookState.RESYNCING
