"""Firehose mode: level2 pushes as fast as possible, still true to one symbol's real book.

For benchmarks the server must not be what is measured, so this path skips the flow model and the
generic publisher: each event sets the market maker's size at one price near the touch
(:meth:`~kunb.sim.orderbook.OrderBook.set_maker_liquidity`, one sequence, never crossing), and its
push is rendered from a byte template with cached decimal strings, then pre-framed as a WebSocket
text frame. The book, REST snapshots and sequences stay exact: a client that syncs with the REST
snapshot and applies the firehose keeps an identical book. :class:`Firehose` is pure (time is an
argument); :class:`FirehosePump` writes its batches to the subscribed sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping

from kunb.sim.core.market import Market
from kunb.sim.core.orderbook import Side
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.session import Session
from kunb.sim.wire.envelope import message
from kunb.sim.wire.market import level2_push

__all__ = ["Firehose", "FirehosePump", "ws_text_frame"]


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented server-to-client text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Firehose:
    """Generates consecutive single-change level2 pushes for one market, as ready-to-write frames."""

    def __init__(self, market: Market, rng: random.Random, *, width: int = 40) -> None:
        self.market = market
        self.rng = rng
        self.width = width
        spec = market.spec
        self._price_cache: dict[int, bytes] = {}
        mean_lots = max(1, int(2_000 / (float(spec.price_increment) * float(spec.base_increment) * 10**6)))
        lots = [max(1, int(mean_lots * rng.lognormvariate(0, 0.8))) for _ in range(48)] + [0] * 12
        self._sizes = [(n, spec.size_str(n).encode()) for n in lots]
        self._topic = f"/market/level2:{spec.symbol}"
        self._head = (
            b'{"type":"message","topic":"'
            + self._topic.encode()
            + b'","subject":"trade.l2update","data":{"changes":{'
        )
        self._tail_sym = b'"symbol":"' + spec.symbol.encode() + b'","time":'

    def _price(self, ticks: int) -> bytes:
        s = self._price_cache.get(ticks)
        if s is None:
            if len(self._price_cache) > 100_000:
                self._price_cache.clear()
            s = self._price_cache[ticks] = self.market.spec.price_str(ticks).encode()
        return s

    def frames(self, n: int, now_ms: int) -> list[bytes]:
        """``n`` consecutive level2 pushes (each its own sequence), as WebSocket frames."""
        book = self.market.book
        rng, sizes, width = self.rng, self._sizes, self.width
        out: list[bytes] = []
        time_b = str(now_ms).encode() + b"}}"
        while len(out) < n:
            bid, ask = book.best_bid(), book.best_ask()
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            offset = int(rng.random() * width)
            if side is Side.BUY:
                top = bid[0] if bid else (ask[0] - 1 if ask else 1_000)
                price = top - offset
            else:
                top = ask[0] if ask else (bid[0] + 1 if bid else 1_001)
                price = top + offset
            if price <= 0:
                continue
            lots, size_b = sizes[int(rng.random() * len(sizes))]
            if lots == 0 and book.level_count(side) <= 5:  # keep both sides populated
                continue
            if not book.set_maker_liquidity(side, price, lots):
                continue
            delta = book.drain()
            if delta is None:  # pragma: no cover - set_maker_liquidity returned True, so it changed
                continue
            if delta.start != delta.end:  # earlier undrained changes ride along: generic encoder
                data = level2_push(self.market.spec, delta, now_ms)
                out.append(ws_text_frame(message(self._topic, "trade.l2update", data)))
                continue
            seq = str(delta.end).encode()
            row = b'[["' + self._price(price) + b'","' + size_b + b'","' + seq + b'"]]'
            changes = (
                (b'"asks":' + row + b',"bids":[]') if side is Side.SELL else (b'"asks":[],"bids":' + row)
            )
            payload = (
                self._head
                + changes
                + b'},"sequenceEnd":'
                + seq
                + b',"sequenceStart":'
                + seq
                + b","
                + self._tail_sym
                + time_b
            )
            out.append(ws_text_frame(payload))
        return out


class FirehosePump:
    """One :class:`Firehose` per market, pumped to each symbol's ``/market/level2`` subscribers.

    Args:
        markets: the core's markets by symbol.
        hub: the feed's fan-out.
        seed: seeds each symbol's generator (``kunb.sim.firehose:{seed}:{symbol}``).
        batch: pushes generated per symbol and round.
    """

    def __init__(self, markets: Mapping[str, Market], hub: Hub, *, seed: int, batch: int) -> None:
        self.hub = hub
        self.batch = batch
        self._hoses = {
            sym: Firehose(market, random.Random(f"kunb.sim.firehose:{seed}:{sym}"))
            for sym, market in markets.items()
        }

    async def round(self, now_ms: int) -> bool:
        """One batch per subscribed symbol to its level2 subscribers, one batch kept in flight.

        The next batch is generated while the previous one is being written, so the client, not the
        server, sets the pace. Returns False when no symbol had a subscriber.
        """
        busy: set[Session] = set()
        for sym, hose in self._hoses.items():
            subs = self.hub.subscribers(f"/market/level2:{sym}")
            if not subs:
                continue
            frames = hose.frames(self.batch, now_ms)
            blob = b"".join(frames)
            for s in subs:
                s.enqueue_frames(blob, len(frames))
                busy.add(s)
            self.hub.pushes += len(frames) * len(subs)
        if not busy:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        for s in busy:
            while s.backlog > 1 and not s.ws.transport.is_closing() and loop.time() < deadline:
                s.progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(s.progress.wait(), max(0.0, deadline - loop.time()))
        return True
