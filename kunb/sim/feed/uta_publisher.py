"""Turns the core's market and private events into UTA pushes for the subscribed topics.

The same events feed the classic :class:`~kunb.sim.feed.publisher.Publisher`, so both protocols tell one
market: one sequence per symbol, the one REST snapshots report. Cadences (``uta-protocol.md#public-pushes``):

* ``trade`` per trade, ``ticker`` once per market step with trades (a best bid/ask change alone pushes
  nothing), ``kline`` every second for each subscribed bar, traded or not;
* ``obu`` depth ``1`` when the best bid or ask changes, ``5``/``50`` every 100 ms changed or not, always a
  snapshot with ``O == C ==`` the book's sequence;
* ``obu`` ``increment@10ms`` (``#order-book-sync``): one snapshot of the top 500 levels per side after each
  subscription, then deltas of what changed in that top 500 since the previous one: sizes are totals,
  ``"0"`` for a level that emptied or left the top 500, and ``O`` is the previous delta's ``C + 1`` (a
  change deeper than the top 500 sends nothing; its sequence is covered by the next delta). Deltas go out
  with each market step (``tick_ms``) and each trading call, so ``tick_ms=10`` gives KuCoin's cadence.
  The view of the top 500 is kept per symbol, shared by its subscribers;
* ``obu`` ``increment`` (deprecated): every book change, deltas only, ``O..C`` as the core drained them.

The ``skip_level2`` fault drops delta pushes (a gap); ``silence`` and ``stall`` act in the session.
Private events go to their user's sessions as soon as they are delivered (:mod:`kunb.sim.wire.uta_private`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from kunb.sim.core.events import PrivateEvent
from kunb.sim.core.market import ExchangeCore, Market, MarketEvents
from kunb.sim.core.orderbook import Side
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.session import Session
from kunb.sim.feed.uta_topics import parse_key
from kunb.sim.wire import uta
from kunb.sim.wire.uta_private import (
    BALANCE_FUNDING_TOPIC,
    BALANCE_TOPIC,
    EXECUTION_LITE_TOPIC,
    EXECUTION_TOPIC,
    ORDER_ALL_TOPIC,
    frames,
)

__all__ = ["DEPTH_PERIOD_NS", "KLINE_PERIOD_NS", "UtaPublisher"]

DEPTH_PERIOD_NS = 100_000_000  # depths 5 and 50: a snapshot every 100 ms
KLINE_PERIOD_NS = 1_000_000_000  # klines: about once a second
_FIXED_PRIVATE = (
    ORDER_ALL_TOPIC,
    EXECUTION_TOPIC,
    EXECUTION_LITE_TOPIC,
    BALANCE_TOPIC,
    BALANCE_FUNDING_TOPIC,
)


@dataclass(slots=True)
class _View:
    """What the ``increment@10ms`` subscribers of one symbol were last told: the top 500 per side."""

    bids: dict[int, int]
    asks: dict[int, int]
    sent_to: int  # the last delta's C (or the snapshot's)


def _top(market: Market) -> tuple[dict[int, int], dict[int, int]]:
    book = market.book
    return dict(book.depth(Side.BUY, uta.INCREMENT_LEVELS)), dict(book.depth(Side.SELL, uta.INCREMENT_LEVELS))


def _changes(old: dict[int, int], new: dict[int, int], *, descending: bool) -> list[tuple[int, int]]:
    rows = [(p, new.get(p, 0)) for p in old.keys() | new.keys() if old.get(p) != new.get(p)]
    rows.sort(reverse=descending)
    return rows


class UtaPublisher:
    """Publishes UTA pushes; keeps the 10 ms books' views, the timers, and which timed topics are live."""

    def __init__(self, core: ExchangeCore, hub: Hub) -> None:
        self.core = core
        self.hub = hub
        self.deltas_skipped = 0  # obu delta pushes dropped by the skip_level2 fault
        self._views: dict[str, _View] = {}
        self._timed: set[str] = set()  # obu depth 5/50 and kline topics with subscribers (pruned lazily)
        self._next_depth_ns = 0
        self._next_kline_ns = 0
        self._order_topics = False  # someone subscribed a per-symbol order topic once

    # ------------------------------------------------------------------ subscriptions
    def subscribed(self, key: str) -> None:
        """A new subscription to ``key`` (called by the UTA server; the snapshot is :meth:`send_snapshot`).

        An ``increment@10ms`` stream starts at once: deltas may reach a subscriber before its snapshot
        (which a client drops: their ``C`` is at most the snapshot's), as when KuCoin's snapshot is late.
        """
        channel, symbol, param = parse_key(key)
        if channel == "kline" or (channel == "obu" and param in ("5", "50")):
            self._timed.add(key)
        elif channel == "order":
            self._order_topics = True
        elif channel == "obu" and param == "increment@10ms" and symbol not in self._views:
            market = self.core.markets.get(symbol)
            if market is not None:
                bids, asks = _top(market)
                self._views[symbol] = _View(bids, asks, market.book.sequence)

    def send_snapshot(self, session: Session, key: str, now_ns: int) -> bool:
        """Queue the ``obu`` snapshot ``key`` promises on ``session`` (False: it unsubscribed meanwhile, or
        the depth sends no snapshot)."""
        if session not in self.hub.subscribers(key):
            return False
        _, symbol, depth = parse_key(key)
        market = self.core.markets.get(symbol)
        levels = uta.SNAPSHOT_DEPTHS.get(depth)
        if market is None or levels is None:
            return False
        if depth == "increment@10ms":
            if symbol not in self._views:
                self.subscribed(key)
            self._flush(symbol, key, market, now_ns)
            view = self._views[symbol]
            sequence = view.sent_to
            bid_rows = sorted(view.bids.items(), reverse=True)
            ask_rows = sorted(view.asks.items())
        else:
            book = market.book
            sequence = book.sequence
            bid_rows, ask_rows = book.depth(Side.BUY, levels), book.depth(Side.SELL, levels)
        push = uta.obu(market.spec, depth, "snapshot", sequence, sequence, bid_rows, ask_rows, now_ns)
        session.enqueue(orjson.dumps(push))
        self.hub.pushes += 1
        return True

    # ------------------------------------------------------------------ market
    def publish(self, events: list[MarketEvents], now_ns: int) -> None:
        """One market step's (or trading call's) pushes, then whatever timer is due."""
        hub, markets = self.hub, self.core.markets
        for ev in events:
            sym = ev.symbol
            market = markets[sym]
            if ev.trades:
                key = f"trade.SPOT:{sym}"
                if hub.wanted(key):
                    for fill in ev.trades:
                        hub.publish(key, orjson.dumps(uta.trade(market.spec, fill, now_ns)))
                key = f"ticker.SPOT:{sym}"
                if hub.wanted(key):
                    hub.publish(key, orjson.dumps(uta.ticker(market, ev.trades[-1], now_ns)))
            if ev.delta is not None:
                key = f"obu.SPOT:{sym}:increment"
                if hub.wanted(key):
                    delta = ev.delta
                    push = uta.obu(
                        market.spec,
                        "increment",
                        "delta",
                        delta.start,
                        delta.end,
                        sorted(((c.price, c.size) for c in delta.bids), reverse=True),
                        sorted((c.price, c.size) for c in delta.asks),
                        now_ns,
                    )
                    self._publish_delta(key, sym, orjson.dumps(push))
                if sym in self._views:
                    self._flush(sym, f"obu.SPOT:{sym}:increment@10ms", market, now_ns)
                if ev.touch_changed:
                    key = f"obu.SPOT:{sym}:1"
                    if hub.wanted(key):
                        book = market.book
                        seq = book.sequence
                        bid, ask = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
                        hub.publish(
                            key,
                            orjson.dumps(uta.obu(market.spec, "1", "snapshot", seq, seq, bid, ask, now_ns)),
                        )
        if now_ns >= self._next_depth_ns:
            self._next_depth_ns = now_ns + DEPTH_PERIOD_NS
            self._timed_pushes(now_ns, klines=now_ns >= self._next_kline_ns)
            if now_ns >= self._next_kline_ns:
                self._next_kline_ns = now_ns + KLINE_PERIOD_NS

    def _timed_pushes(self, now_ns: int, *, klines: bool) -> None:
        hub, markets = self.hub, self.core.markets
        for key in list(self._timed):
            if not hub.wanted(key):
                self._timed.discard(key)
                continue
            channel, symbol, param = parse_key(key)
            market = markets[symbol]
            if channel == "obu":
                book, seq = market.book, market.book.sequence
                levels = uta.SNAPSHOT_DEPTHS[param]
                bids, asks = book.depth(Side.BUY, levels), book.depth(Side.SELL, levels)
                hub.publish(
                    key, orjson.dumps(uta.obu(market.spec, param, "snapshot", seq, seq, bids, asks, now_ns))
                )
            elif klines:
                tape = market.tape
                push = uta.kline(market.spec, param, tape.current(param), tape.last_price, now_ns)
                hub.publish(key, orjson.dumps(push))

    def _flush(self, symbol: str, key: str, market: Market, now_ns: int) -> None:
        """Send the ``increment@10ms`` subscribers of ``symbol`` what changed in the top 500 since the last
        delta; forget the view once nobody is subscribed (a new subscriber starts a new one)."""
        view = self._views[symbol]
        if not self.hub.wanted(key):
            del self._views[symbol]
            return
        sequence = market.book.sequence
        if sequence == view.sent_to:
            return
        bids, asks = _top(market)
        bid_rows = _changes(view.bids, bids, descending=True)
        ask_rows = _changes(view.asks, asks, descending=False)
        if not bid_rows and not ask_rows:
            return  # nothing visible changed: the next delta covers these sequences too
        push = uta.obu(
            market.spec, "increment@10ms", "delta", view.sent_to + 1, sequence, bid_rows, ask_rows, now_ns
        )
        view.bids, view.asks, view.sent_to = bids, asks, sequence
        self._publish_delta(key, symbol, orjson.dumps(push))

    def _publish_delta(self, key: str, symbol: str, frame: bytes) -> None:
        """Publish a book delta, except where a ``skip_level2`` fault takes it (everyone's or a session's)."""
        hub = self.hub
        if hub.everyone.take_level2_skip(symbol):
            self.deltas_skipped += 1
            return
        for s in hub.subscribers(key):
            if s.faults.take_level2_skip(symbol):
                self.deltas_skipped += 1
                continue
            s.enqueue(frame)
            hub.pushes += 1

    # ------------------------------------------------------------------ private
    def deliver(self, events: Iterable[PrivateEvent]) -> None:
        """Send each private event's UTA pushes to its user's subscribed sessions, in order."""
        hub = self.hub
        if not self._order_topics and not any(hub.wanted(t) for t in _FIXED_PRIVATE):
            return  # nobody listens: do not build the pushes
        for push in frames(events):
            hub.publish_private(push.user_id, push.topic, push.message)
