"""What the panels know about a symbol before streaming it: does it exist, and its price and size ticks.

One REST call per symbol (``GET /api/v2/symbols/{symbol}``, classic-protocol.md#endpoints), made when a
panel starts: an unknown symbol (KuCoin's ``900001 symbol not exists``) is refused by name before any
subscription, so it cannot take the good symbols down with it; a known one brings its ``priceIncrement``
and ``baseIncrement``, from which the panels write prices and sizes (:mod:`kunb.notebook.formats`).
A lookup that fails for a passing reason (network, rate limit) refuses nothing: the symbol is streamed
and written by magnitude. Answers are kept for the kernel's life (a symbol's ticks rarely change).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ApiError, KunbError
from ..net.rest import Market
from .formats import Precision, decimals_of

__all__ = ["SymbolCatalog", "SymbolCheck", "SymbolInfo", "unknown_symbol_message"]

_SYMBOL_NOT_EXISTS = "900001"
_TIMEOUT = 5.0  # seconds per lookup: a slow exchange must not hold a panel back long

# (url, symbol) -> what the exchange said: its info, or why it is not a symbol there
_known: dict[tuple[str, str], SymbolInfo | str] = {}


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """A tradable symbol: its currencies and how many decimals its prices and sizes have."""

    symbol: str
    base: str
    quote: str
    precision: Precision

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> SymbolInfo:
        """From a ``/api/v2/symbols`` item (``baseCurrency``, ``priceIncrement``, ``baseIncrement``...)."""
        return cls(
            symbol=str(item.get("symbol", "")),
            base=str(item.get("baseCurrency", "")),
            quote=str(item.get("quoteCurrency", "")),
            precision=Precision(
                price=decimals_of(item.get("priceIncrement")), size=decimals_of(item.get("baseIncrement"))
            ),
        )


@dataclass(frozen=True, slots=True)
class SymbolCheck:
    """The outcome of checking symbols: ``info`` of those the exchange knows, ``rejected`` (symbol ->
    reason) of those it does not; a symbol in neither could not be checked (it is streamed anyway)."""

    info: dict[str, SymbolInfo] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)

    def usable(self, symbols: Iterable[str]) -> list[str]:
        """``symbols`` without the rejected ones, in order."""
        return [s for s in symbols if s not in self.rejected]


def unknown_symbol_message(rejected: Mapping[str, str], url: str) -> str:
    """The panel's words for refused symbols: which, and why."""
    names = ", ".join(sorted(rejected))
    reasons = sorted(set(rejected.values()))
    return f"not streamed: {names} ({'; '.join(reasons)} at {url})"


class SymbolCatalog:
    """Looks symbols up at one exchange (``url``); a ready ``market`` client may be passed (tests)."""

    def __init__(self, url: str, *, market: Market | None = None) -> None:
        self.url = url
        self._market: Market | None = market
        self.lookups = 0  #: REST requests made (cached answers make none)

    def cached(self, symbol: str) -> SymbolInfo | None:
        """What is already known of ``symbol`` (no request)."""
        found = _known.get((self.url, symbol))
        return found if isinstance(found, SymbolInfo) else None

    def precision(self, symbol: str) -> Precision:
        """The decimals of ``symbol`` if looked up already, else "by magnitude"."""
        info = self.cached(symbol)
        return info.precision if info is not None else Precision()

    async def check(self, symbols: Iterable[str]) -> SymbolCheck:
        """Look every symbol up (concurrently); see :class:`SymbolCheck`."""
        wanted = list(dict.fromkeys(symbols))
        async with self._client() as market:
            answers = await asyncio.gather(*(self._lookup(market, s) for s in wanted))
        result = SymbolCheck()
        for symbol, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, SymbolInfo):
                result.info[symbol] = answer
            elif isinstance(answer, str):
                result.rejected[symbol] = answer
        return result

    async def pair(self, base: str, quote: str) -> tuple[SymbolInfo, bool] | None:
        """The symbol pricing ``base`` in ``quote``: ``BASE-QUOTE`` (``inverted`` False) or ``QUOTE-BASE``
        (True: one base is worth 1 / its price); ``None`` when neither exists or could be checked."""
        async with self._client() as market:
            for symbol, inverted in ((f"{base}-{quote}", False), (f"{quote}-{base}", True)):
                answer = await self._lookup(market, symbol)
                if isinstance(answer, SymbolInfo):
                    return answer, inverted
        return None

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Market]:
        if self._market is not None:
            yield self._market
            return
        market = Market(url=self.url, timeout=_TIMEOUT)
        try:
            yield market
        finally:
            await market.aclose()

    async def _lookup(self, market: Market, symbol: str) -> SymbolInfo | str | None:
        key = (self.url, symbol)
        if key in _known:
            return _known[key]
        self.lookups += 1
        try:
            data = await market.aget_symbol_detail(symbol)
        except ApiError as exc:
            if exc.code == _SYMBOL_NOT_EXISTS or (exc.status is not None and 400 <= exc.status < 500):
                _known[key] = answer = f"unknown symbol: {exc.code} {exc.msg}"
                return answer
            return None  # a rate limit, an exchange error: try the stream anyway
        except KunbError:
            return None  # unreachable, timed out: the badge will say so
        if not isinstance(data, Mapping) or data.get("symbol") != symbol:
            # KuCoin may answer an unknown symbol with an empty result instead of 900001
            _known[key] = answer = "unknown symbol: the exchange lists no such symbol"
            return answer
        _known[key] = info = SymbolInfo.from_wire(data)
        return info
