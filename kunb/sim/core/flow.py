"""Synthetic order flow for one symbol: a mid-price random walk, a market maker and random takers.

Pure and deterministic: all randomness comes from the ``random.Random`` handed in, and the model
only calls :class:`~kunb.sim.core.orderbook.OrderBook` methods, so every effect is a real book change
(sequence, L2 row, fill). The market maker's orders have owner ``None``; it never crosses the book
itself, takers do the trading, and the walk drags the book along because takers lift or hit the
levels the mid has moved past.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from kunb.sim.core.orderbook import OrderBook, OrderResult, Side

__all__ = ["FlowModel", "ModelParams"]


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Knobs of the synthetic flow (per symbol).

    Attributes:
        levels: price levels the market maker keeps on each side.
        volatility: standard deviation of the mid's log-return per event.
        order_notional: typical market-maker order size, in quote units of the pair's price.
        bump_probability: chance an event only consumes a sequence (KuCoin's ``["0","0",seq]``).
    """

    levels: int = 60
    volatility: float = 0.000015
    order_notional: float = 2_000.0
    bump_probability: float = 0.01


class FlowModel:
    """Drives one :class:`OrderBook`; call :meth:`step` once per synthetic event."""

    def __init__(
        self,
        book: OrderBook,
        rng: random.Random,
        *,
        mid: int,
        lot_value: float,
        params: ModelParams = ModelParams(),
    ) -> None:
        """``mid`` in ticks; ``lot_value`` = quote value of one lot at one tick (price_inc * base_inc)."""
        self.book = book
        self.rng = rng
        self.params = params
        self.mid = float(max(mid, 10))
        self._lot_value = lot_value
        self._mm_ids: list[str] = []

    def seed_book(self) -> None:
        """Lay out ``levels`` price levels on each side of the mid (initial liquidity)."""
        half_spread = max(1, int(self._gap() / 2))
        for side in (Side.BUY, Side.SELL):
            price = int(self.mid) - half_spread if side is Side.BUY else int(self.mid) + half_spread
            for _ in range(self.params.levels):
                if price <= 0:
                    break
                self._add(side, price)
                step = 1 + int(self.rng.expovariate(1.0) * self._gap())
                price = price - step if side is Side.BUY else price + step

    def step(self) -> OrderResult | None:
        """One synthetic event; returns the taker's result when the event traded."""
        rng = self.rng
        self.mid = max(10.0, self.mid * math.exp(rng.gauss(0.0, self.params.volatility)))
        if rng.random() < self.params.bump_probability:
            self.book.bump()
            return None
        best_bid, best_ask = self.book.best_bid(), self.book.best_ask()
        # Price discovery: when the walk has moved past the touch, a taker pulls the book along.
        if best_ask is not None and self.mid > best_ask[0] + 1:
            return self._take(Side.BUY, best_ask[1])
        if best_bid is not None and self.mid < best_bid[0] - 1:
            return self._take(Side.SELL, best_bid[1])
        # Refill a thin side first, so takers and cancels never starve the book.
        for side in (Side.BUY, Side.SELL):
            if self.book.level_count(side) < self.params.levels * 0.6 and rng.random() < 0.7:
                self._add(side, self._quote_price(side))
                return None
        r = rng.random()
        if r < 0.45:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            self._add(side, self._quote_price(side))
        elif r < 0.70:
            self._cancel_one()
        elif r < 0.82:
            self._reduce_one()
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            top = best_ask if side is Side.BUY else best_bid
            if top is not None:
                return self._take(side, top[1])
        self._trim()
        return None

    # ------------------------------------------------------------------ internals
    def _lots(self) -> int:
        notional = self.params.order_notional * self.rng.lognormvariate(0.0, 0.8)
        return max(1, int(notional / (self._lot_value * self.mid)))

    def _add(self, side: Side, price: int) -> None:
        if price <= 0:
            return
        result = self.book.add_limit(side, price, self._lots(), post_only=True)
        if result.resting is not None:
            self._mm_ids.append(result.order_id)

    def _gap(self) -> float:
        """Typical distance between levels, in ticks: about 1e-5 of the price, at least one tick."""
        return max(1.0, self.mid * 1e-5)

    def _quote_price(self, side: Side) -> int:
        """A price near the touch on ``side`` that never crosses the other side."""
        distance = int(self.rng.expovariate(1.0) * 2 * self._gap())
        if side is Side.BUY:
            best_ask = self.book.best_ask()
            price = int(self.mid) - distance
            return min(price, best_ask[0] - 1) if best_ask else price
        best_bid = self.book.best_bid()
        price = math.ceil(self.mid) + distance
        return max(price, best_bid[0] + 1) if best_bid else price

    def _pick(self) -> str | None:
        """A random live market-maker order id (lazy removal of ids filled or canceled meanwhile)."""
        ids = self._mm_ids
        while ids:
            i = self.rng.randrange(len(ids))
            oid = ids[i]
            if oid in self.book:
                return oid
            ids[i] = ids[-1]
            ids.pop()
        return None

    def _cancel_one(self) -> None:
        oid = self._pick()
        if oid is not None:
            self.book.cancel(oid)

    def _reduce_one(self) -> None:
        oid = self._pick()
        order = self.book.order(oid) if oid else None
        if order is not None and order.size > 1:
            self.book.reduce(order.order_id, max(1, int(order.size * self.rng.uniform(0.2, 0.9))))

    def _take(self, side: Side, top_size: int) -> OrderResult:
        # Mostly a slice of the touch, sometimes a sweep through a few levels.
        factor = self.rng.uniform(0.05, 0.9) if self.rng.random() < 0.9 else self.rng.uniform(1.0, 3.0)
        return self.book.add_market(side, size=max(1, int(top_size * factor)))

    def _trim(self) -> None:
        """Keep about ``levels`` levels per side by canceling the farthest market-maker order."""
        for side in (Side.BUY, Side.SELL):
            if self.book.level_count(side) > self.params.levels * 1.25:
                far = self.book.depth(side)[-1][0]
                for order in self.book.level_orders(side, far):
                    if order.owner is None:
                        self.book.cancel(order.order_id)
                        break
        if len(self._mm_ids) > 4 * len(self.book) + 64:
            self._mm_ids = [oid for oid in self._mm_ids if oid in self.book]
