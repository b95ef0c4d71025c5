"""Live prices of an account's currencies in one quote currency, for the account panel's value.

For each held currency the board finds the market that prices it (``CUR-QUOTE``, or ``QUOTE-CUR`` read
inverted) with :class:`~kunb.notebook.symbols.SymbolCatalog`, takes a first price from REST
(``GET /api/v1/market/orderbook/level1``) so the value shows at once, and follows those markets' tickers
with one :class:`kunb.Stream`. A price is the mid of the best bid and ask (the last trade when a side is
missing). When a currency appears that the stream does not cover, the stream is replaced by one that does.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from ..exceptions import KunbError
from ..net.rest import Market
from ..sources.base import MarketSource
from ..sources.classic import ClassicMarketSource
from ..stream import Stream
from .symbols import SymbolCatalog

__all__ = ["PriceBoard"]

_log = logging.getLogger(__name__)


def _mid(bid: float, ask: float, last: float) -> float:
    if bid > 0 and ask > 0:
        return (bid + ask) / 2
    return last if last > 0 else math.nan


class PriceBoard:
    """Prices in ``quote`` of the currencies asked for with :meth:`want`, kept live by :meth:`run`.

    Args:
        quote: the currency values are expressed in (``"USDT"``).
        url: the exchange's REST base URL (first prices; the default source's WebSocket).
        catalog: finds each currency's market; ``None``: assume ``CUR-QUOTE`` exists (tests, recordings).
        source: ``() -> MarketSource`` for each stream (default: the classic protocol at ``url``).
        market: a REST client for first prices; ``None``: one at ``url``.
        rest: take first prices from REST (False: a recording or a test, the stream only).
        on_change: called after a price changed or a stream was replaced (the panel sets its throttle's
            mark here).
    """

    def __init__(
        self,
        quote: str,
        *,
        url: str,
        catalog: SymbolCatalog | None,
        source: Callable[[], MarketSource] | None = None,
        market: Market | None = None,
        rest: bool = True,
        on_change: Callable[..., Any] = lambda *_: None,
    ) -> None:
        self.quote = quote
        self.url = url
        self.catalog = catalog
        self._source = source
        self._market = market
        self._rest = rest
        self.on_change = on_change
        self.pairs: dict[str, tuple[str, bool]] = {}  #: currency -> (symbol, inverted)
        self.unpriced: dict[str, str] = {}  #: currency -> why it has no price
        self.stream: Stream | None = None
        self.streams = 0  #: streams started so far (one more each time a new currency needs a market)
        self.error: BaseException | None = None  #: why the latest price stream could not start
        self._first: dict[str, float] = {}  # symbol -> first price from REST
        self._wanted: set[str] = set()
        self._wake = asyncio.Event()

    def _changed(self, *_event: object) -> None:
        self.on_change()

    # ---- reading --------------------------------------------------------------------------------

    def price(self, currency: str) -> float:
        """Quote per unit of ``currency`` (1 for the quote itself); NaN while unknown."""
        if currency == self.quote:
            return 1.0
        pair = self.pairs.get(currency)
        if pair is None:
            return math.nan
        symbol, inverted = pair
        value = math.nan
        tick = self.stream.last_tick(symbol) if self.stream is not None else None
        if tick is not None:
            value = _mid(tick.best_bid, tick.best_ask, tick.price)
        if math.isnan(value):
            value = self._first.get(symbol, math.nan)
        if inverted:
            return 1.0 / value if value > 0 else math.nan
        return value

    def want(self, currencies: Iterable[str]) -> None:
        """Price these currencies (more may be kept); wakes :meth:`run` when one is new."""
        new = {c for c in currencies if c != self.quote} - self._wanted
        if new:
            self._wanted |= new
            self._wake.set()

    # ---- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Find markets for new currencies and (re)start the ticker stream; until cancelled."""
        try:
            while True:
                self._wake.clear()
                await self._resolve(self._wanted - set(self.pairs) - set(self.unpriced))
                symbols = sorted({symbol for symbol, _ in self.pairs.values()})
                running = self.stream.symbols if self.stream is not None else []
                if symbols and symbols != running:
                    await self._restart(symbols)
                await self._wake.wait()
        finally:
            if self.stream is not None:
                await self.stream.aclose()

    async def _resolve(self, currencies: set[str]) -> None:
        wanted = sorted(currencies)
        if self.catalog is None:
            self.pairs.update({c: (f"{c}-{self.quote}", False) for c in wanted})
            return
        found = await asyncio.gather(*(self.catalog.pair(c, self.quote) for c in wanted))
        for currency, pair in zip(wanted, found, strict=True):
            if pair is None:
                self.unpriced[currency] = f"no {currency}-{self.quote} or {self.quote}-{currency} market"
            else:
                info, inverted = pair
                self.pairs[currency] = (info.symbol, inverted)

    async def _restart(self, symbols: list[str]) -> None:
        old, self.stream = self.stream, None
        if old is not None:
            await old.aclose()
        await self._first_prices([s for s in symbols if s not in self._first])
        source = (
            self._source()
            if self._source is not None
            else ClassicMarketSource(url=self.url, backoff_cap=10.0)
        )
        stream = Stream(
            symbols,
            book=False,
            ticker=True,
            trades=False,
            stats=False,
            window=16,
            open_timeout=None,
            source=source,
        )
        stream.add_sink(self._changed)
        self.stream = stream
        self.streams += 1
        self._changed()
        try:
            # open_timeout=None: an unreachable exchange is waited for (the prices stay the REST ones)
            await stream.astart()
        except KunbError as exc:  # a market refused: the value stays from first prices; say so, go on
            self.error = exc
            _log.warning("kunb live_account: prices of %s not streamed: %r", ", ".join(symbols), exc)

    async def _first_prices(self, symbols: list[str]) -> None:
        if not self._rest or not symbols:
            return
        market = self._market or Market(url=self.url, timeout=5.0)
        try:
            answers = await asyncio.gather(*(market.aget_ticker(s) for s in symbols), return_exceptions=True)
        finally:
            if self._market is None:
                await market.aclose()
        for symbol, level1 in zip(symbols, answers, strict=True):
            if isinstance(level1, BaseException):
                if not isinstance(level1, KunbError):
                    raise level1
                _log.info("kunb live_account: no first price of %s: %r", symbol, level1)
            elif isinstance(level1, dict):
                price = _mid(*(float(level1.get(k) or "nan") for k in ("bestBid", "bestAsk", "price")))
                if not math.isnan(price):
                    self._first[symbol] = price
        self._changed()
