"""Turns the core's market and private events into KuCoin pushes for the subscribed topics.

Each push is built and serialised only if someone subscribed to its topic, once, then handed to the
:class:`~kunb.sim.feed.hub.Hub` as bytes. Cadences follow
``classic-protocol.md#public-channels``: level2 and match in
real time (every collect), ticker on a best bid/ask or trade change, depth5/50 when the book changed,
candles on each trade, snapshot every 2 s. Private events (:mod:`kunb.sim.core.events`) go to their
user's sessions as soon as they are delivered (2.3).
"""

from __future__ import annotations

from collections.abc import Iterable

from kunb.sim.core.events import PrivateEvent
from kunb.sim.core.market import ExchangeCore, MarketEvents
from kunb.sim.core.tape import CANDLE_SECONDS
from kunb.sim.feed.hub import Hub
from kunb.sim.wire.envelope import message
from kunb.sim.wire.market import (
    candle_push,
    depth_push,
    level1_push,
    level2_push,
    match_push,
    snapshot_push,
    ticker_push,
)
from kunb.sim.wire.private_push import PRIVATE_TOPICS, frames

__all__ = ["SNAPSHOT_PERIOD_NS", "Publisher"]

SNAPSHOT_PERIOD_NS = 2_000_000_000


class Publisher:
    """Publishes one collect's worth of events; keeps the candle-topic index and snapshot timer."""

    def __init__(self, core: ExchangeCore, hub: Hub) -> None:
        self.core = core
        self.hub = hub
        self._next_snapshot_ns = 0
        self.level2_skipped = 0
        self._last_depth: dict[str, tuple[list[list[str]], list[list[str]]]] = {}
        for topic in sorted(PRIVATE_TOPICS):
            hub.register_private(topic)

    def deliver(self, events: Iterable[PrivateEvent]) -> None:
        """Send each private event's frames to its user's subscribed sessions, in order."""
        hub = self.hub
        for push in frames(events):
            hub.publish_private(push.user_id, push.topic, push.message)

    def publish(self, events: list[MarketEvents], now_ns: int) -> None:
        hub, markets = self.hub, self.core.markets
        now_ms = now_ns // 1_000_000
        ticker_all = hub.wanted("/market/ticker:all")
        for topic in hub.fresh:
            self._last_depth.pop(topic, None)  # a new depth subscriber gets the next change in full
        for ev in events:
            sym = ev.symbol
            market = markets[sym]
            spec = market.spec
            if ev.delta is not None:
                topic = f"/market/level2:{sym}"
                if hub.wanted(topic):
                    self._level2(
                        topic, sym, message(topic, "trade.l2update", level2_push(spec, ev.delta, now_ms))
                    )
                for depth in (5, 50):
                    topic = f"/spotMarket/level2Depth{depth}:{sym}"
                    if hub.wanted(topic):
                        data = depth_push(spec, market.book, depth, now_ms)
                        top = (data["asks"], data["bids"])
                        if self._last_depth.get(topic) != top:  # 2.1: pushed only on change
                            self._last_depth[topic] = top
                            hub.publish(topic, message(topic, "level2", data))
            if ev.trades:
                topic = f"/market/match:{sym}"
                if hub.wanted(topic):
                    for trade in ev.trades:
                        hub.publish(topic, message(topic, "trade.l3match", match_push(spec, trade)))
                for kind in CANDLE_SECONDS:
                    topic = f"/market/candles:{sym}_{kind}"
                    if hub.wanted(topic):
                        candle = market.tape.current(kind)
                        if candle is not None:
                            data = candle_push(spec, candle, now_ns)
                            hub.publish(topic, message(topic, "trade.candles.update", data))
            if ev.touch_changed:
                topic = f"/spotMarket/level1:{sym}"
                if hub.wanted(topic):
                    hub.publish(topic, message(topic, "level1", level1_push(market, now_ms)))
            if ev.touch_changed or ev.trades:
                topic = f"/market/ticker:{sym}"
                want_one = hub.wanted(topic)
                if want_one or ticker_all:
                    data = ticker_push(market, now_ms)
                    if want_one:
                        hub.publish(topic, message(topic, "trade.ticker", data))
                    if ticker_all:
                        # 1.6: ticker:all keeps its topic and carries the symbol in subject.
                        hub.publish("/market/ticker:all", message("/market/ticker:all", sym, data))
        if now_ns >= self._next_snapshot_ns:
            self._next_snapshot_ns = now_ns + SNAPSHOT_PERIOD_NS
            self.publish_snapshots(now_ms)
        elif hub.fresh:
            # A new snapshot subscriber gets one at once rather than waiting up to 2 s.
            for topic in hub.fresh:
                if topic.startswith("/market/snapshot:") and hub.wanted(topic):
                    market = markets[topic.partition(":")[2]]
                    hub.publish(topic, message(topic, "trade.snapshot", snapshot_push(market, now_ms)))
        hub.fresh.clear()

    def publish_snapshots(self, now_ms: int) -> None:
        for sym, market in self.core.markets.items():
            topic = f"/market/snapshot:{sym}"
            if self.hub.wanted(topic):
                self.hub.publish(topic, message(topic, "trade.snapshot", snapshot_push(market, now_ms)))

    def _level2(self, topic: str, symbol: str, frame: bytes) -> None:
        """Publish a level2 push, except to sessions with a pending ``skip_level2`` fault."""
        hub = self.hub
        if hub.everyone.take_level2_skip(symbol):  # conn=None: every connection misses this push
            self.level2_skipped += 1
            return
        for s in hub.subscribers(topic):
            if s.faults.take_level2_skip(symbol):
                self.level2_skipped += 1
                continue
            s.enqueue(frame)
            hub.pushes += 1
