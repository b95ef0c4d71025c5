"""Which of a driver's symbols the exchange lists, with their increments: asked once per stream over REST.

A stream needs this twice: to round what it shows people to each symbol's price and size steps, and to
name the symbol the exchange does not know when a subscription is refused (KuCoin's refusal names the
joined topic, ``/market/level2:BTC-USDT,FOO-BAR``, not the symbol). Both protocols share KuCoin's spot
symbol list (``GET /api/v2/symbols``; ``docs/reference/classic-protocol.md#endpoints``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..events import SymbolInfo
from ..exceptions import SymbolError
from ..net.rest import Market
from ..protocol.classic_decoder import ClassicDecoder

__all__ = ["list_symbols"]

_ONE_BY_ONE = 20  # more symbols than this: one request for the whole list instead of one per symbol


async def list_symbols(market: Market, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
    """Per symbol, what the exchange's list says about it, or ``None`` when it does not list it.

    Raises:
        KunbError: the exchange could not be asked (network, refused, unreadable answer).
    """
    decode = ClassicDecoder.symbol_info
    if len(symbols) > _ONE_BY_ONE:
        items = await market.aget_symbol_list()
        listed = {item.get("symbol"): item for item in items or ()}
        return {s: decode(listed[s]) if s in listed else None for s in symbols}

    async def one(symbol: str) -> SymbolInfo | None:
        try:
            data = await market.aget_symbol_detail(symbol)
        except SymbolError:  # 900001 "symbol not exists"
            return None
        return decode(data) if data else None  # an empty answer for an unknown symbol: not listed either

    found = await asyncio.gather(*(one(s) for s in symbols))
    return dict(zip(symbols, found, strict=True))
