"""The simulator's pure exchange core: one book, tape and flow model per symbol, advanced by a given clock.

Nothing here reads the clock or does I/O: :meth:`ExchangeCore.advance` takes ``now_ns`` and runs
the synthetic flow up to it; the trading layer places user orders through :meth:`place_limit`,
:meth:`place_market` and :meth:`cancel`. Every effect lands in the symbol's
:class:`~kunb.sim.core.orderbook.OrderBook` (sequence, L2 rows) and :class:`~kunb.sim.core.tape.Tape`
(trades, candles, stats), and is collected by :meth:`collect` into :class:`MarketEvents` that the
WebSocket layer turns into pushes. REST snapshots read the same objects, so nothing can disagree.

Hooks for the trading layer:
    ``core.add_fill_listener(cb)``: ``cb(symbol, fill, ts_ns)`` is called synchronously, once per
    fill in which a user-owned order (``owner is not None``) is maker or taker, whatever placed the
    taker (synthetic flow or a user), before the placing call returns.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kunb.exceptions import ConfigurationError
from kunb.sim.core.flow import FlowModel, ModelParams
from kunb.sim.core.orderbook import Fill, L2Delta, Order, OrderBook, OrderResult, Side, TimeInForce
from kunb.sim.core.symbols import SymbolSpec
from kunb.sim.core.tape import Tape, Trade

__all__ = ["ExchangeCore", "FillListener", "Market", "MarketEvents"]

FillListener = Callable[[str, Fill, int], None]


@dataclass(slots=True)
class MarketEvents:
    """What changed in one symbol since the previous :meth:`ExchangeCore.collect`."""

    symbol: str
    delta: L2Delta | None
    trades: list[Trade]
    touch_changed: bool  # best bid/ask price or size changed (ticker-worthy)


@dataclass(slots=True)
class Market:
    """One symbol's state."""

    spec: SymbolSpec
    book: OrderBook
    tape: Tape
    model: FlowModel
    budget: float = 0.0  # fractional synthetic events owed to the flow (Poisson-free, deterministic)
    pending_trades: list[Trade] = field(default_factory=list)
    last_touch: tuple[object, object] = (None, None)

    @property
    def touch(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        return self.book.best_bid(), self.book.best_ask()


class ExchangeCore:
    """All markets of the simulated exchange; deterministic for ``(seed, specs, start_ns)``."""

    def __init__(
        self,
        specs: Iterable[SymbolSpec],
        *,
        seed: int = 0,
        now_ns: int,
        rate: float = 1.0,
        warmup_events: int | None = None,
        history_s: float = 0.0,
        params: ModelParams | None = None,
    ) -> None:
        """Args:
        specs: the symbols.
        seed: makes the whole market reproducible.
        now_ns: the start time; nothing happens before it.
        rate: multiplies every symbol's ``events_per_second`` (0 freezes synthetic flow).
        warmup_events: synthetic events per symbol run at ``now_ns`` so the tape has trades
            (default 200, or 20 above 100 symbols to keep start-up fast).
        history_s: run the flow over this many simulated seconds before ``now_ns`` (1 s steps), so
            candles, stats and trade history start with real past trades (costs start-up time).
        params: flow model knobs (default: :class:`ModelParams` with fewer levels for big universes).
        """
        specs = list(specs)
        if not specs:
            raise ConfigurationError("at least one symbol is needed")
        if rate < 0:
            raise ConfigurationError("rate must be >= 0")
        if history_s < 0:
            raise ConfigurationError("history_s must be >= 0")
        self.seed = seed
        self.rate = rate
        start_ns = now_ns - int(history_s * 1e9)
        self.now_ns = start_ns
        self.markets: dict[str, Market] = {}
        self._listeners: list[FillListener] = []
        self._ids = _OrderIds(random.Random(f"kunb.sim.ids:{seed}"))
        big = len(specs) > 100
        default_params = params or ModelParams(levels=20 if big else 60)
        if warmup_events is None:
            warmup_events = 20 if big else 200
        for spec in specs:
            rng = random.Random(f"kunb.sim.market:{seed}:{spec.symbol}")
            start_seq = rng.randrange(10**9, 10**10)  # KuCoin-like magnitudes
            book = OrderBook(spec.symbol, start_sequence=start_seq, ids=self._ids)
            mid = spec.to_ticks(spec.initial_price)
            lot_value = float(spec.price_increment) * float(spec.base_increment)
            model = FlowModel(book, rng, mid=mid, lot_value=lot_value, params=default_params)
            market = Market(spec, book, Tape(mid), model)
            self.markets[spec.symbol] = market
            model.seed_book()
            for _ in range(warmup_events):
                self._run_model(market, start_ns)
            market.last_touch = market.touch
        t = start_ns
        while t < now_ns:  # simulated past: real trades with past timestamps
            t = min(now_ns, t + 1_000_000_000)
            self.advance(t)
        self.collect()  # history is not news: no client has seen it, none will get pushes for it

    # ------------------------------------------------------------------ synthetic flow
    def advance(self, now_ns: int) -> None:
        """Run each symbol's synthetic flow from the previous time up to ``now_ns``."""
        dt_s = max(0, now_ns - self.now_ns) / 1e9
        self.now_ns = max(self.now_ns, now_ns)
        if not self.rate or not dt_s:
            return
        for market in self.markets.values():
            market.budget += market.spec.events_per_second * self.rate * dt_s
            n = int(market.budget)
            market.budget -= n
            for _ in range(n):
                self._run_model(market, now_ns)

    def run_events(self, symbol: str, n: int, now_ns: int) -> None:
        """Run exactly ``n`` synthetic events on one symbol (firehose mode and tests)."""
        market = self.market(symbol)
        self.now_ns = max(self.now_ns, now_ns)
        for _ in range(n):
            self._run_model(market, now_ns)

    # ------------------------------------------------------------------ user orders
    def add_fill_listener(self, listener: FillListener) -> None:
        """Be told about every fill that touches a user-owned order (see module docstring)."""
        self._listeners.append(listener)

    def new_order_id(self) -> str:
        """A fresh KuCoin-style order id (24 hex digits), unique across all symbols."""
        return self._ids()

    def place_limit(
        self,
        symbol: str,
        side: Side,
        price: int,
        size: int,
        *,
        owner: str,
        now_ns: int,
        order_id: str | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
    ) -> OrderResult:
        """Place a user limit order (ticks, lots); fills are recorded and listeners told before return."""
        market = self.market(symbol)
        result = market.book.add_limit(
            side,
            price,
            size,
            owner=owner,
            order_id=order_id,
            time_in_force=time_in_force,
            post_only=post_only,
        )
        self._settle(market, result, now_ns)
        return result

    def place_market(
        self,
        symbol: str,
        side: Side,
        *,
        owner: str,
        now_ns: int,
        size: int | None = None,
        funds: int | None = None,
        order_id: str | None = None,
    ) -> OrderResult:
        """Place a user market order by size (lots) or funds (notional units)."""
        market = self.market(symbol)
        result = market.book.add_market(side, size=size, funds=funds, owner=owner, order_id=order_id)
        self._settle(market, result, now_ns)
        return result

    def cancel(self, symbol: str, order_id: str) -> Order | None:
        """Cancel a resting order; returns it (remaining size) or None when unknown / already done."""
        return self.market(symbol).book.cancel(order_id)

    # ------------------------------------------------------------------ reading
    def market(self, symbol: str) -> Market:
        try:
            return self.markets[symbol]
        except KeyError:
            raise ConfigurationError(f"unknown symbol {symbol!r}") from None

    def collect(self, symbols: Iterable[str] | None = None) -> list[MarketEvents]:
        """Drain every symbol's (or the given symbols') L2 delta and trades since the last collect."""
        out = []
        markets = self.markets.values() if symbols is None else (self.markets[s] for s in symbols)
        for market in markets:
            if not market.book.undrained and not market.pending_trades:
                continue
            touch = market.touch
            changed = touch != market.last_touch
            market.last_touch = touch
            trades, market.pending_trades = market.pending_trades, []
            out.append(MarketEvents(market.spec.symbol, market.book.drain(), trades, changed))
        return out

    # ------------------------------------------------------------------ internals
    def _run_model(self, market: Market, now_ns: int) -> None:
        result = market.model.step()
        if result is not None:
            self._settle(market, result, now_ns)

    def _settle(self, market: Market, result: OrderResult, now_ns: int) -> None:
        for fill in result.fills:
            trade = Trade(
                fill.sequence,
                fill.price,
                fill.size,
                fill.taker_side,
                now_ns,
                fill.maker_order_id,
                fill.taker_order_id,
            )
            market.tape.record(trade)
            market.pending_trades.append(trade)
            if fill.maker_owner is not None or fill.taker_owner is not None:
                for listener in self._listeners:
                    listener(market.spec.symbol, fill, now_ns)


class _OrderIds:
    """Deterministic KuCoin-looking order ids: 8 hex digits of 'time' + a 16-digit counter."""

    def __init__(self, rng: random.Random) -> None:
        self._prefix = format(rng.randrange(0x60000000, 0x70000000), "08x")
        self._n = rng.randrange(1 << 40)

    def __call__(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n:016x}"
