"""The fields kunb adds to pushes for KuCoin's older blocking examples, which read fields KuCoin never sends.

Pure: each function takes a push (a dict as KuCoin sent it) and what kunb knows, and returns a *new* dict;
the push itself is never changed. Every addition is listed in the message's extra top-level ``"kunb"``
object (``{"added": [...], "source": ...}``) so a reader can always tell KuCoin's fields from kunb's:

* ``/market/ticker:{symbol}``: ``data["symbol"]`` as KuCoin's SDK connection adds it (:func:`with_symbol`;
  a Stream's connection leaves frames as KuCoin sent them, and this is what the SDK-shaped
  ``KucoinWsClient`` delivers too, so it is not listed under ``"kunb"``).
* ``/market/ticker:{symbol}`` (a ticker push has no 24 h numbers): ``changeRate``, ``changePrice``,
  ``vol``, ``volValue``, ``high``, ``low`` from the symbol's latest :class:`~kunb.events.Stats` (the
  ``/market/snapshot:{symbol}`` push, or REST ``GET /api/v1/market/stats`` until the first one arrives).
* ``/market/level2:{symbol}`` (only ``changes``): ``bids`` and ``asks``, the best levels of a local
  :class:`~kunb.model.book.OrderBook` that applied this very push, as ``[[price, size], ...]`` strings,
  best first (as REST snapshots). Only a *live* book is shown: the caller holds pushes back while the book
  syncs, never showing a wrong book.
* ``/spotMarket/tradeOrders`` (per-event ``matchSize``/``matchPrice`` only): ``dealSize`` and
  ``dealFunds``, the order's cumulative filled size and funds (KuCoin's REST order fields), from
  :class:`~kunb.model.holdings.Holdings` - sums of its ``match`` events, or REST's numbers after a re-seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..protocol.classic import add_ticker_symbol

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Stats
    from ..model.book import OrderBook
    from ..model.holdings import Order

__all__ = ["STATS_FIELDS", "decimal_text", "with_book_top", "with_deal", "with_stats", "with_symbol"]

#: 24 h statistics copied into ticker pushes: KuCoin's names (snapshot and REST stats) -> Stats fields.
STATS_FIELDS = {
    "changeRate": "change_rate",
    "changePrice": "change_price",
    "vol": "volume",
    "volValue": "volume_value",
    "high": "high",
    "low": "low",
}


def decimal_text(value: Any) -> str:
    """KuCoin's decimal text for a number or numeric string: plain notation, no exponent."""
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, then made plain by Decimal
    number = Decimal(str(value))
    if number.is_zero():
        return "0"
    return format(number.normalize(), "f")


def _tagged(
    message: Mapping[str, Any], data: dict[str, Any], added: list[str], source: str
) -> dict[str, Any]:
    out = dict(message)
    out["data"] = data
    out["kunb"] = {"added": added, "source": source}
    return out


def with_symbol(message: Mapping[str, Any]) -> dict[str, Any]:
    """A ticker push whose ``data`` has ``symbol`` (:func:`kunb.protocol.classic.add_ticker_symbol`), as a
    copy; other pushes are copied unchanged."""
    out = dict(message)
    data = out.get("data")
    if isinstance(data, dict) and "symbol" not in data:
        out["data"] = dict(data)
        add_ticker_symbol(out)
    return out


def with_stats(message: Mapping[str, Any], stats: Stats | None, source: str) -> dict[str, Any]:
    """A ticker push with :data:`STATS_FIELDS` added from ``stats``; unchanged (a copy) when ``stats`` is
    ``None``. Fields the push already has, and numbers ``stats`` does not know (NaN), are left out."""
    if stats is None:
        return dict(message)
    data = dict(message.get("data") or {})
    added = []
    for name, attribute in STATS_FIELDS.items():
        value = getattr(stats, attribute)
        if math.isnan(value) or name in data:
            continue
        data[name] = decimal_text(value)
        added.append(name)
    return _tagged(message, data, added, source)


def with_book_top(message: Mapping[str, Any], book: OrderBook, depth: int) -> dict[str, Any]:
    """A level-2 push with ``bids``/``asks``: the best ``depth`` levels of ``book`` after this push."""
    bids, asks = book.top(depth)
    data = dict(message.get("data") or {})
    data["bids"] = [[decimal_text(p), decimal_text(s)] for p, s in bids]
    data["asks"] = [[decimal_text(p), decimal_text(s)] for p, s in asks]
    out = _tagged(message, data, ["bids", "asks"], "local order book")
    out["kunb"]["sequence"] = book.last_sequence
    return out


def with_deal(message: Mapping[str, Any], order: Order) -> dict[str, Any]:
    """An order push with the order's cumulative ``dealSize`` and ``dealFunds``."""
    data = dict(message.get("data") or {})
    data["dealSize"] = decimal_text(order.deal_size)
    data["dealFunds"] = decimal_text(order.deal_funds)
    out = _tagged(message, data, ["dealSize", "dealFunds"], f"order table ({order.source})")
    out["kunb"]["exact"] = order.exact
    return out
