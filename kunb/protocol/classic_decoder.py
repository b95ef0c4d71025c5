"""The classic protocol's decoder: KuCoin's data frames and REST answers -> :mod:`kunb.events`, once.

Every wire shape of the classic protocol that kunb reads is parsed here and nowhere else: pushes of the
public channels (``/market/ticker``, ``/market/level2``, ``/market/match``, ``/market/candles``,
``/market/snapshot``, ``/spotMarket/level2Depth5|50``) and the private ones (``/account/balance``,
``/spotMarket/tradeOrders[V2]``), REST level-2 snapshots, account lists and order lists
(wire shapes: ``classic-protocol.md#public-channels``, ``#private-channels`` and ``#rest``).

Pure: no I/O and no clock; the caller passes the local receive time. A frame that does not carry what its
channel promises raises :class:`~kunb.exceptions.ProtocolError` naming the topic; frames of channels kunb
does not model decode to no event at all.

The frequent pushes (ticker, level2, match) are read by a fast path that assumes the shape KuCoin sends
and checks only what it must (ranges, finite sizes); any surprise (a missing or null field, an odd type)
hands the push to the field-by-field reading, which gives the same event or the precise error. Events are
built with ``tuple.__new__``, without their NamedTuple ``__new__`` frame (a third of the cost of a tick),
and each topic's handler and argument are remembered (bounded), so a push's topic is not split again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..events import (
    AccountBalance,
    BalanceChange,
    BookDelta,
    BookSnapshot,
    Candle,
    Event,
    Fill,
    Level,
    LevelChange,
    OrderEvent,
    OrderState,
    Stats,
    SymbolInfo,
    Tick,
    Trade,
)
from ..exceptions import ProtocolError
from .numbers import (
    UNREADABLE,
    decimal,
    int64,
    optional_decimal,
    optional_float,
    parse_price,
    parse_size,
    time_ns,
)

__all__ = ["ClassicDecoder"]

_MS = 1_000_000  # ns per ms
_S = 1_000_000_000  # ns per s
_INF = float("inf")  # the size check is inlined on the level-2 hot path (a call costs more than it)
_INT64 = 2**63  # sequences and times are checked inline on the fast paths (kunb.protocol.numbers.int64)
_PRICE_CACHE = 16_384  # parsed prices kept per decoder (each cache): levels recur, a dict hit is ~6x cheaper
_ROUTES = 16_384  # topics whose handler and argument are remembered per decoder
_new = tuple.__new__  # an event NamedTuple built from its fields in order, without the __new__ frame
_DONE_EVENTS = frozenset({"filled", "canceled"})

Handler = Callable[[str, Mapping[str, Any], int], tuple[Event, ...]]


def _decimals(step: Decimal) -> int:
    """Decimals a number on ``step`` needs: ``0.1`` -> 1, ``0.00000001`` -> 8, ``10`` -> 0."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _account_type(relation_event: str) -> str:
    """The account a ``relationEvent`` names (``trade.hold`` -> ``trade``)."""
    head = relation_event.partition(".")[0]
    return head if head in ("main", "trade", "margin") else head or "trade"


class ClassicDecoder:
    """Decodes classic frames and REST answers into normalized events (see the module docstring).

    One decoder per driver: it keeps a cache of parsed price strings, which recur constantly in a book.
    """

    def __init__(self) -> None:
        self._prices: dict[str, float] = {}
        self._quotes: dict[Any, float] = {}  # ticker price texts -> float(text): they recur too
        self._routes: dict[str, tuple[Handler | None, str, str]] = {}  # topic -> (handler, arg, prefix)
        self._handlers: dict[str, Handler] = {
            "/market/level2": self._level2,
            "/market/ticker": self._ticker,
            "/market/match": self._match,
            "/market/candles": self._candle,
            "/market/snapshot": self._stats,
            "/spotMarket/level2Depth5": self._depth,
            "/spotMarket/level2Depth50": self._depth,
            "/account/balance": self._balance,
            "/spotMarket/tradeOrders": self._order,
            "/spotMarket/tradeOrdersV2": self._order,
        }

    # -- pushes ----------------------------------------------------------------------------------
    def decode(self, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        """The events of one ``message`` frame (no event for channels kunb does not model).

        Raises:
            ProtocolError: the frame lacks a field its channel has, or a number in it is unreadable.
        """
        topic = frame.get("topic")
        if topic.__class__ is not str:
            raise ProtocolError(f"message frame without a topic: {topic!r}")
        route = self._routes.get(topic)
        if route is None:
            route = self._route(topic)
        handler, arg, prefix = route
        if handler is None:
            return ()
        try:
            return handler(arg, frame, received_ns)
        except ProtocolError:
            raise
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable {prefix} push: {exc!r}") from exc

    def _route(self, topic: str) -> tuple[Handler | None, str, str]:
        prefix, _, arg = topic.partition(":")
        routes = self._routes
        if len(routes) >= _ROUTES:
            routes.clear()
        route = routes[topic] = (self._handlers.get(prefix), arg, prefix)
        return route

    def _quote(self, text: Any) -> float:
        """``float(text)``, remembered for the next tick (bounded); zero is not remembered (``or``)."""
        value = float(text)
        quotes = self._quotes
        if len(quotes) >= _PRICE_CACHE:
            quotes.clear()
        if text.__class__ is str:
            quotes[text] = value
        return value

    def _price(self, text: str) -> float:
        price = self._prices.get(text)
        if price is None:
            cache = self._prices
            if len(cache) >= _PRICE_CACHE:
                cache.clear()
            price = cache[text] = parse_price(text)
        return price

    def _changes(self, rows: Sequence[Sequence[Any]]) -> tuple[LevelChange, ...]:
        if not rows:
            return ()
        prices = self._prices
        out = []
        for row in rows:  # the hot loop of a book: parse_size and _sequence inlined
            price = prices.get(row[0])
            if price is None:
                price = self._price(row[0])
            size = float(row[1])
            if not 0.0 <= size < _INF:
                raise ProtocolError(f"size {row[1]!r} is not a finite, non-negative number")
            sequence = int(row[2])
            if not 0 <= sequence < _INT64:
                raise ProtocolError(f"sequence {row[2]!r} is out of range")
            out.append((price, size, sequence))
        return tuple(out)

    def _levels(self, rows: Iterable[Sequence[Any]]) -> tuple[Level, ...]:
        price = self._price
        return tuple((price(row[0]), parse_size(row[1])) for row in rows)

    def _level2(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        changes = data["changes"]
        try:  # subscripts are cheaper than .get(); a push without these goes to the careful reading
            symbol = data["symbol"] or arg
            stamp = data["time"] or 0
            start = data["sequenceStart"]
            end = data["sequenceEnd"]
        except KeyError:
            return self._level2_checked(arg, frame, received_ns)
        if (
            symbol.__class__ is str
            and stamp.__class__ is int
            and start.__class__ is int
            and end.__class__ is int
        ):
            # the fast path: KuCoin's shape (symbol a string, times and sequences JSON integers)
            time_ns = stamp * _MS
            if 0 <= time_ns < _INT64 and 0 <= start < _INT64 and 0 <= end < _INT64:
                bids = changes["bids"]
                asks = changes["asks"]
                bids = self._changes(bids) if bids else ()  # one side is usually empty: no call for it
                asks = self._changes(asks) if asks else ()
                return (_new(BookDelta, (symbol, time_ns, received_ns, start, end, bids, asks)),)
        return self._level2_checked(arg, frame, received_ns)

    def _level2_checked(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        """:meth:`_level2` field by field: the same event, or the precise error."""
        data = frame["data"]
        changes = data["changes"]
        return (
            BookDelta(
                str(data.get("symbol") or arg),
                # 0 (unknown) when absent: KuCoin's level2 pushes had no time before 2022 (the real
                # session in shared/recorded, 2021-04-25, has none)
                time_ns(data.get("time") or 0, _MS),
                received_ns,
                int64(data["sequenceStart"]),
                int64(data["sequenceEnd"]),
                self._changes(changes["bids"]),
                self._changes(changes["asks"]),
            ),
        )

    def _ticker(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        # /market/ticker:all names the symbol in the subject (classic-protocol public channels)
        symbol = frame["subject"] if arg == "all" else arg
        try:  # the fast path: every field present and a number or numeric string
            time_ns = int(data["time"]) * _MS
            sequence = int(data["sequence"])
            quotes = self._quotes
            price = data["price"]
            bid = data["bestBid"]
            ask = data["bestAsk"]
            # prices recur (a dict hit is cheaper than float() of a string); sizes rarely do
            tick = _new(
                Tick,
                (
                    symbol,
                    time_ns,
                    received_ns,
                    sequence,
                    quotes.get(price) or self._quote(price),
                    float(data["size"]),
                    quotes.get(bid) or self._quote(bid),
                    float(data["bestBidSize"]),
                    quotes.get(ask) or self._quote(ask),
                    float(data["bestAskSize"]),
                ),
            )
        except (KeyError, TypeError, ValueError, OverflowError):  # missing, null, "": field by field
            pass
        else:
            if 0 <= time_ns < _INT64 and 0 <= sequence < _INT64:
                return (tick,)
        return self._ticker_checked(arg, frame, received_ns)

    def _ticker_checked(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        """:meth:`_ticker` field by field: the same event, or the precise error."""
        data = frame["data"]
        symbol = frame["subject"] if arg == "all" else arg
        sequence = data.get("sequence")
        return (
            Tick(
                symbol,
                time_ns(data["time"], _MS),
                received_ns,
                None if sequence is None else int64(sequence),
                optional_float(data.get("price")),
                optional_float(data.get("size")),
                optional_float(
                    data["bestBid"]
                ),  # null when that side of the book is empty (kunb.sim sends it)
                optional_float(data.get("bestBidSize")),
                optional_float(data["bestAsk"]),
                optional_float(data.get("bestAskSize")),
            ),
        )

    def _match(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        symbol = data.get("symbol") or arg
        trade_id = data.get("tradeId", "")
        side = data.get("side")
        if symbol.__class__ is str and trade_id.__class__ is str and side.__class__ is str:
            try:  # the fast path: KuCoin's shape (strings; time a string of ns)
                time_ns = int(data["time"])
                sequence = int(data["sequence"])
                trade = _new(
                    Trade,
                    (
                        symbol,
                        time_ns,
                        received_ns,
                        sequence,
                        trade_id,
                        side,
                        float(data["price"]),
                        float(data["size"]),
                    ),
                )
            except (KeyError, TypeError, ValueError, OverflowError):  # read field by field below
                pass
            else:
                if 0 <= time_ns < _INT64 and 0 <= sequence < _INT64:
                    return (trade,)
        return self._match_checked(arg, frame, received_ns)

    def _match_checked(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        """:meth:`_match` field by field: the same event, or the precise error."""
        data = frame["data"]
        sequence = data.get("sequence")
        return (
            Trade(
                str(data.get("symbol") or arg),
                time_ns(data["time"]),  # a string of ns
                received_ns,
                None if sequence is None else int64(sequence),
                str(data.get("tradeId", "")),
                str(data["side"]),
                float(data["price"]),
                float(data["size"]),
            ),
        )

    def _candle(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        symbol, _, interval = arg.rpartition("_")
        start, open_, close, high, low, volume, turnover = data["candles"]
        return (
            Candle(
                str(data.get("symbol") or symbol),
                interval,
                time_ns(start, _S),
                time_ns(data["time"]),  # ns (the docs say us; the values are ns)
                received_ns,
                float(open_),
                float(close),
                float(high),
                float(low),
                float(volume),
                float(turnover),
            ),
        )

    def _stats(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        outer = frame["data"]
        data = outer.get("data", outer)
        stamp = data.get("datetime")
        return (
            Stats(
                str(data.get("symbol") or arg),
                0 if stamp is None else time_ns(stamp, _MS),
                received_ns,
                optional_float(data.get("lastTradedPrice")),
                optional_float(data.get("changeRate")),
                optional_float(data.get("changePrice")),
                optional_float(data.get("high")),
                optional_float(data.get("low")),
                optional_float(data.get("vol")),
                optional_float(data.get("volValue")),
            ),
        )

    def _depth(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        depth = 5 if frame["topic"].startswith("/spotMarket/level2Depth5:") else 50
        return (
            BookSnapshot(
                arg,
                time_ns(data["timestamp"], _MS),
                received_ns,
                None,  # full replacements, no sequence (classic-protocol order-book sync)
                self._levels(data["bids"]),
                self._levels(data["asks"]),
                depth,
            ),
        )

    def _balance(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        relation = str(data.get("relationEvent") or "")
        context = data.get("relationContext") or {}
        return (
            BalanceChange(
                str(data["currency"]),
                _account_type(relation),
                str(data.get("accountId") or ""),
                decimal(data["total"]),
                decimal(data["available"]),
                decimal(data["hold"]),
                optional_decimal(data.get("availableChange")),
                optional_decimal(data.get("holdChange")),
                relation,
                str(data.get("relationEventId") or ""),
                str(context.get("orderId") or ""),
                time_ns(data["time"], _MS),  # a string of ms
                received_ns,
            ),
        )

    def _order(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        kind = str(data["type"])
        status = str(data.get("status") or "")
        if kind in _DONE_EVENTS:
            status = "done"
        order_time = data.get("orderTime")
        event = OrderEvent(
            str(data["orderId"]),
            str(data.get("clientOid") or ""),
            str(data["symbol"]),
            str(data["side"]),
            str(data.get("orderType") or ""),
            kind,
            status,
            optional_decimal(data.get("price")),
            optional_decimal(data.get("originSize", data.get("size"))),
            optional_decimal(data.get("filledSize")),
            optional_decimal(data.get("remainSize")),
            optional_decimal(data.get("canceledSize")),
            optional_decimal(data.get("matchPrice")),
            optional_decimal(data.get("matchSize")),
            str(data.get("tradeId") or ""),
            str(data.get("liquidity") or ""),
            None if order_time in (None, "") else time_ns(order_time, _MS),  # ms
            time_ns(data["ts"]),  # ns
            received_ns,
        )
        if kind != "match" or event.match_size is None or event.match_price is None:
            return (event,)
        fill = Fill(
            event.order_id,
            event.trade_id,
            event.symbol,
            event.side,
            event.match_price,
            event.match_size,
            None,  # classic order pushes carry no fee
            "",
            event.liquidity,
            event.time_ns,
            received_ns,
        )
        return (event, fill)

    # -- REST answers ----------------------------------------------------------------------------
    def book_snapshot(
        self, symbol: str, data: Mapping[str, Any], received_ns: int, *, depth: int | None = None
    ) -> BookSnapshot:
        """A REST level-2 snapshot (``level2_20``/``level2_100``: ``depth`` 20/100; v3 full book: ``None``).

        Raises:
            ProtocolError: no readable ``sequence``, ``bids`` or ``asks``.
        """
        try:
            stamp = data.get("time")
            return BookSnapshot(
                symbol,
                0 if stamp is None else time_ns(stamp, _MS),
                received_ns,
                int64(data["sequence"]),
                self._levels(data["bids"]),
                self._levels(data["asks"]),
                depth,
            )
        except ProtocolError:
            raise
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable level-2 snapshot of {symbol}: {exc!r}") from exc

    def stats(self, symbol: str, data: Mapping[str, Any], received_ns: int) -> Stats:
        """``GET /api/v1/market/stats`` as a :class:`~kunb.events.Stats` (the same numbers as the push)."""
        try:
            stamp = data.get("time")
            return Stats(
                symbol,
                0 if stamp is None else time_ns(stamp, _MS),
                received_ns,
                optional_float(data.get("last")),
                optional_float(data.get("changeRate")),
                optional_float(data.get("changePrice")),
                optional_float(data.get("high")),
                optional_float(data.get("low")),
                optional_float(data.get("vol")),
                optional_float(data.get("volValue")),
            )
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable 24 h stats of {symbol}: {exc!r}") from exc

    @staticmethod
    def symbol_info(data: Mapping[str, Any]) -> SymbolInfo:
        """One item of ``GET /api/v2/symbols`` (or ``/api/v2/symbols/{symbol}``) as a
        :class:`~kunb.events.SymbolInfo`.

        Raises:
            ProtocolError: the item lacks its symbol or an increment, or an increment is not a positive
                decimal.
        """
        try:
            steps = [decimal(data[name]) for name in ("priceIncrement", "baseIncrement", "quoteIncrement")]
            if min(steps) <= 0:
                raise ValueError("an increment is not positive")
            return SymbolInfo(
                str(data["symbol"]),
                float(steps[0]),
                float(steps[1]),
                float(steps[2]),
                _decimals(steps[0]),
                _decimals(steps[1]),
            )
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable symbol item {data.get('symbol')!r}: {exc!r}") from exc

    @staticmethod
    def account_balances(items: Iterable[Mapping[str, Any]]) -> list[AccountBalance]:
        """``GET /api/v1/accounts`` items (``holds`` there, ``hold`` in pushes).

        Raises:
            ProtocolError: an item lacks a field.
        """
        out = []
        for item in items:
            try:
                out.append(
                    AccountBalance(
                        str(item["currency"]),
                        str(item.get("type") or "trade"),
                        str(item.get("id") or ""),
                        decimal(item["balance"]),
                        decimal(item["available"]),
                        decimal(item.get("holds", item.get("hold", "0"))),
                    )
                )
            except ProtocolError:
                raise
            except UNREADABLE as exc:
                raise ProtocolError(f"unreadable account item: {exc!r}") from exc
        return out

    @staticmethod
    def order_states(items: Iterable[Mapping[str, Any]]) -> list[OrderState]:
        """``GET /api/v1/orders`` items (or one ``GET /api/v1/orders/{id}``).

        Raises:
            ProtocolError: an item lacks a field.
        """
        out = []
        for item in items:
            try:
                price = optional_decimal(item.get("price"))
                size = optional_decimal(item.get("size"))
                created = item.get("createdAt")
                out.append(
                    OrderState(
                        str(item["id"]),
                        str(item.get("clientOid") or ""),
                        str(item["symbol"]),
                        str(item["side"]),
                        str(item.get("type") or ""),
                        price or None,  # market orders list price "0"
                        size or None,
                        optional_decimal(item.get("dealSize")) or Decimal(0),
                        optional_decimal(item.get("dealFunds")) or Decimal(0),
                        bool(item.get("isActive", item.get("active", False))),
                        bool(item.get("cancelExist")),
                        None if created in (None, "") else time_ns(created, _MS),
                    )
                )
            except ProtocolError:
                raise
            except UNREADABLE as exc:
                raise ProtocolError(f"unreadable order item: {exc!r}") from exc
        return out
