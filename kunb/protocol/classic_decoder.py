"""The classic protocol's decoder: KuCoin's data frames and REST answers -> :mod:`kunb.events`, once.

Every wire shape of the classic protocol that kunb reads is parsed here and nowhere else: pushes of the
public channels (``/market/ticker``, ``/market/level2``, ``/market/match``, ``/market/candles``,
``/market/snapshot``, ``/spotMarket/level2Depth5|50``) and the private ones (``/account/balance``,
``/spotMarket/tradeOrders[V2]``), REST level-2 snapshots, account lists and order lists
(wire shapes: ``classic-protocol.md#public-channels``, ``#private-channels`` and ``#rest``).

Pure: no I/O and no clock; the caller passes the local receive time. A frame that does not carry what its
channel promises raises :class:`~kunb.exceptions.ProtocolError` naming the topic; frames of channels kunb
does not model decode to no event at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
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

__all__ = ["ClassicDecoder", "parse_price", "parse_size"]

_MS = 1_000_000  # ns per ms
_S = 1_000_000_000  # ns per s
_INF = float("inf")
_NAN = float("nan")
# A float holds any decimal with this many significant digits exactly (IEEE 754 double, DBL_DIG): distinct
# wire prices then stay distinct floats in the same order, so a book can key its levels on them.
_MAX_DIGITS = 15
_PRICE_CACHE = 65_536  # parsed prices kept per decoder: levels recur, and a dict hit is ~6x cheaper
_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, InvalidOperation)
_DONE_EVENTS = frozenset({"filled", "canceled"})

Handler = Callable[[str, Mapping[str, Any], int], tuple[Event, ...]]


def parse_price(text: Any) -> float:
    """A wire price as a float, refused when it is not finite and non-negative or has more significant
    digits than a float keeps exactly (two levels would silently merge)."""
    value = float(text)
    if not 0.0 <= value < _INF:  # NaN, infinities and negatives are not prices (NaN breaks sorting)
        raise ProtocolError(f"price {text!r} is not a finite, non-negative number")
    if isinstance(text, str) and len(text) > _MAX_DIGITS and _significant_digits(text) > _MAX_DIGITS:
        raise ProtocolError(f"price {text!r} has more than {_MAX_DIGITS} significant digits")
    return value


def parse_size(text: Any) -> float:
    """A wire size as a float; not finite or negative is a ProtocolError."""
    value = float(text)
    if not 0.0 <= value < _INF:
        raise ProtocolError(f"size {text!r} is not a finite, non-negative number")
    return value


def _significant_digits(text: str) -> int:
    try:
        return len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        raise ProtocolError(f"unreadable price {text!r}") from None


_INT64 = 2**63


def _time(value: Any, unit: int = 1) -> int:
    """A wire time (int or string) in ``unit`` ns steps, as int ns; refused outside int64 (a recorder, a
    rolling frame and Parquet all keep times as int64)."""
    ns = int(value) * unit
    if not 0 <= ns < _INT64:
        raise ProtocolError(f"time {value!r} is out of range")
    return ns


def _sequence(value: Any) -> int:
    number = int(value)
    if not 0 <= number < _INT64:
        raise ProtocolError(f"sequence {value!r} is out of range")
    return number


def _float(value: Any) -> float:
    """An optional wire number (string or number); missing or empty is NaN."""
    if value is None or value == "":
        return _NAN
    return float(value)


def _dec(value: Any) -> Decimal:
    if value is None or value == "":
        raise ProtocolError("a decimal field is missing")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ProtocolError(f"not a finite decimal: {value!r}")
    return number


def _dec_or_none(value: Any) -> Decimal | None:
    return None if value is None or value == "" else _dec(value)


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
        prefix, _, arg = topic.partition(":")
        handler = self._handlers.get(prefix)
        if handler is None:
            return ()
        try:
            return handler(arg, frame, received_ns)
        except ProtocolError:
            raise
        except _ERRORS as exc:
            raise ProtocolError(f"unreadable {prefix} push: {exc!r}") from exc

    def _price(self, text: str) -> float:
        price = self._prices.get(text)
        if price is None:
            cache = self._prices
            if len(cache) >= _PRICE_CACHE:
                cache.clear()
            price = cache[text] = parse_price(text)
        return price

    def _changes(self, rows: Iterable[Sequence[Any]]) -> tuple[LevelChange, ...]:
        price = self._price
        out = []
        for row in rows:
            size = float(row[1])
            if not 0.0 <= size < _INF:
                raise ProtocolError(f"size {row[1]!r} is not a finite, non-negative number")
            out.append((price(row[0]), size, _sequence(row[2])))
        return tuple(out)

    def _levels(self, rows: Iterable[Sequence[Any]]) -> tuple[Level, ...]:
        price = self._price
        return tuple((price(row[0]), parse_size(row[1])) for row in rows)

    def _level2(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        changes = data["changes"]
        return (
            BookDelta(
                str(data.get("symbol") or arg),
                # 0 (unknown) when absent: KuCoin's level2 pushes had no time before 2022 (the real
                # session in shared/recorded, 2021-04-25, has none)
                _time(data.get("time") or 0, _MS),
                received_ns,
                _sequence(data["sequenceStart"]),
                _sequence(data["sequenceEnd"]),
                self._changes(changes["bids"]),
                self._changes(changes["asks"]),
            ),
        )

    def _ticker(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        # /market/ticker:all names the symbol in the subject (classic-protocol public channels)
        symbol = frame["subject"] if arg == "all" else arg
        sequence = data.get("sequence")
        return (
            Tick(
                symbol,
                _time(data["time"], _MS),
                received_ns,
                None if sequence is None else _sequence(sequence),
                _float(data.get("price")),
                _float(data.get("size")),
                _float(data["bestBid"]),  # null when that side of the book is empty (kunb.sim sends it)
                _float(data.get("bestBidSize")),
                _float(data["bestAsk"]),
                _float(data.get("bestAskSize")),
            ),
        )

    def _match(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        sequence = data.get("sequence")
        return (
            Trade(
                str(data.get("symbol") or arg),
                _time(data["time"]),  # a string of ns
                received_ns,
                None if sequence is None else _sequence(sequence),
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
                _time(start, _S),
                _time(data["time"]),  # ns (the docs say us; the values are ns)
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
                0 if stamp is None else _time(stamp, _MS),
                received_ns,
                _float(data.get("lastTradedPrice")),
                _float(data.get("changeRate")),
                _float(data.get("changePrice")),
                _float(data.get("high")),
                _float(data.get("low")),
                _float(data.get("vol")),
                _float(data.get("volValue")),
            ),
        )

    def _depth(self, arg: str, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        data = frame["data"]
        depth = 5 if frame["topic"].startswith("/spotMarket/level2Depth5:") else 50
        return (
            BookSnapshot(
                arg,
                _time(data["timestamp"], _MS),
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
                _dec(data["total"]),
                _dec(data["available"]),
                _dec(data["hold"]),
                _dec_or_none(data.get("availableChange")),
                _dec_or_none(data.get("holdChange")),
                relation,
                str(data.get("relationEventId") or ""),
                str(context.get("orderId") or ""),
                _time(data["time"], _MS),  # a string of ms
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
            _dec_or_none(data.get("price")),
            _dec_or_none(data.get("originSize", data.get("size"))),
            _dec_or_none(data.get("filledSize")),
            _dec_or_none(data.get("remainSize")),
            _dec_or_none(data.get("canceledSize")),
            _dec_or_none(data.get("matchPrice")),
            _dec_or_none(data.get("matchSize")),
            str(data.get("tradeId") or ""),
            str(data.get("liquidity") or ""),
            None if order_time in (None, "") else _time(order_time, _MS),  # ms
            _time(data["ts"]),  # ns
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
                0 if stamp is None else _time(stamp, _MS),
                received_ns,
                _sequence(data["sequence"]),
                self._levels(data["bids"]),
                self._levels(data["asks"]),
                depth,
            )
        except ProtocolError:
            raise
        except _ERRORS as exc:
            raise ProtocolError(f"unreadable level-2 snapshot of {symbol}: {exc!r}") from exc

    def stats(self, symbol: str, data: Mapping[str, Any], received_ns: int) -> Stats:
        """``GET /api/v1/market/stats`` as a :class:`~kunb.events.Stats` (the same numbers as the push)."""
        try:
            stamp = data.get("time")
            return Stats(
                symbol,
                0 if stamp is None else _time(stamp, _MS),
                received_ns,
                _float(data.get("last")),
                _float(data.get("changeRate")),
                _float(data.get("changePrice")),
                _float(data.get("high")),
                _float(data.get("low")),
                _float(data.get("vol")),
                _float(data.get("volValue")),
            )
        except _ERRORS as exc:
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
            steps = [_dec(data[name]) for name in ("priceIncrement", "baseIncrement", "quoteIncrement")]
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
        except _ERRORS as exc:
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
                        _dec(item["balance"]),
                        _dec(item["available"]),
                        _dec(item.get("holds", item.get("hold", "0"))),
                    )
                )
            except ProtocolError:
                raise
            except _ERRORS as exc:
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
                price = _dec_or_none(item.get("price"))
                size = _dec_or_none(item.get("size"))
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
                        _dec_or_none(item.get("dealSize")) or Decimal(0),
                        _dec_or_none(item.get("dealFunds")) or Decimal(0),
                        bool(item.get("isActive", item.get("active", False))),
                        bool(item.get("cancelExist")),
                        None if created in (None, "") else _time(created, _MS),
                    )
                )
            except ProtocolError:
                raise
            except _ERRORS as exc:
                raise ProtocolError(f"unreadable order item: {exc!r}") from exc
        return out
