"""The UTA protocol's decoder: KuCoin's UTA pushes and REST answers -> :mod:`kunb.events`, once.

Public ``ticker``, ``trade``, ``kline`` and ``obu`` pushes, private ``orderAll``/``order``, ``execution``
(and ``execution.lite``) and ``balance`` pushes, and the signed ``GET /api/ua/v1|v2/market/orderbook``
snapshot become the same normalized events the classic decoder makes (wire shapes:
``uta-protocol.md#public-pushes`` and ``#private-pushes``; what kunb accepts where the
sources disagree: ``uta-kunb.md``).

The decoder takes the parsed dict (text or binary frames are JSON-decoded alike before it). Integers are
exact whether sent as JSON numbers or strings: orjson parses numbers up to 2**64 as ``int``, and a float
(a larger number, or one with a fraction) is refused where an exact integer is due. ``T`` routes
case-insensitively, ``S`` is case-folded; pushes of channels kunb does not model decode to no event, and
a push its channel cannot read raises :class:`~kunb.exceptions.ProtocolError` naming the channel.

**Orders** (uta-protocol.md#private-pushes, ``os`` and ``eT``) map onto the classic kinds and statuses of
:class:`~kunb.events.OrderEvent`: status ``os`` 0 -> ``new``; 2 -> ``open``; 4 -> ``match``; 1, 3, 5, 6 ->
``done`` (1 is a conditional order that triggered: the order it creates arrives under its own id). Kind:
a ``MATCH``/``FILL`` event with a last fill size ``lS`` > 0 is a ``match`` (``ls``/``lS``/``ti``/``lR``
become ``match_price``/``match_size``/``trade_id``/``liquidity``), followed, when it ended the order, by
``filled`` (``os`` 3) or ``canceled`` (5, 6), as classic pushes ``match`` then ``filled``; otherwise
``OPEN`` -> ``received`` (``os`` 0) or ``open``, ``UPDATE``/``TRIGGER`` -> ``update``, ``CANCEL`` ->
``canceled``, and a missing or unknown ``eT`` takes the kind of its ``os`` (4 -> ``update``). Order
pushes make no :class:`~kunb.events.Fill`: fills come from the ``execution`` channel, with their fee.
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
    Tick,
    Trade,
)
from ..exceptions import ProtocolError
from .numbers import UNREADABLE, decimal, optional_decimal, optional_float, parse_price, parse_size

__all__ = ["INCREMENT_10MS_LEVELS", "UtaDecoder", "exact_int", "stamp_ns"]

# uta-protocol.md#order-book (AN1): increment@10ms keeps the top 500 levels per side
INCREMENT_10MS_LEVELS = 500
_MAX_EXACT_FLOAT = 2**53  # beyond this a JSON float has lost digits (uta-protocol.md#envelope)
_INF = float("inf")
_PRICE_CACHE = 16_384  # parsed prices kept per decoder: levels recur, and a dict hit is ~6x cheaper
_ROUTES = 4_096  # push types (T) whose handler and qualifier are remembered per decoder
_new = tuple.__new__  # an event NamedTuple built from its fields in order, without the __new__ frame
_SIDES = {"buy": "buy", "sell": "sell"}

# os -> the classic status after the event, and the kind an event of unknown eT takes (module docstring)
_STATUS = {0: "new", 1: "done", 2: "open", 3: "done", 4: "match", 5: "done", 6: "done"}
_KIND_OF_STATUS = {
    0: "received",
    1: "update",
    2: "open",
    3: "filled",
    4: "update",  # not "match": without eT MATCH/FILL nothing says this push is a new fill
    5: "canceled",
    6: "canceled",
}
# eT -> the status when os is missing
_STATUS_OF_EVENT = {
    "OPEN": "open",
    "UPDATE": "open",
    "MATCH": "match",
    "FILL": "match",
    "CANCEL": "done",
    "TRIGGER": "done",
}
_FILL_EVENTS = frozenset({"MATCH", "FILL"})
_ZERO = Decimal(0)

Handler = Callable[[str, Mapping[str, Any], Mapping[str, Any], int], tuple[Event, ...]]


def exact_int(value: Any) -> int:
    """An integer sent as a JSON number or a string of ASCII digits, exactly.

    Raises:
        ProtocolError: a float that is not integral or above 2**53 (its digits are lost), a bool, or a
            string that is not plain digits.
    """
    cls = value.__class__
    if cls is int:
        exact: int = value  # the common case, as it is (the identity test keeps bools out)
        return exact
    if cls is str:
        if value.isascii() and value.isdigit():
            return int(value)
        raise ProtocolError(f"not an integer: {value!r}")
    if cls is float and value.is_integer() and abs(value) <= _MAX_EXACT_FLOAT:
        return int(value)
    raise ProtocolError(f"not an exact integer: {value!r}")


def stamp_ns(value: Any) -> int:
    """A timestamp in nanoseconds, whatever unit it came in (s, ms, us or ns, told apart by magnitude).

    UTA mixes units in the same field (uta-protocol.md#classic-and-uta-compared: ``U`` is ns on UNIFIED
    balances and an ms string
    on FUNDING; the mark-price doc example has ``P`` in ms), and the ranges do not overlap for any date
    between 1973 and 5138.

    Raises:
        ProtocolError: not an exact integer.
    """
    stamp = exact_int(value)
    if stamp < 100_000_000_000:  # seconds
        return stamp * 1_000_000_000
    if stamp < 100_000_000_000_000:  # milliseconds
        return stamp * 1_000_000
    if stamp < 100_000_000_000_000_000:  # microseconds
        return stamp * 1_000
    return stamp


def _time(data: Mapping[str, Any], key: str, frame: Mapping[str, Any]) -> int:
    """``data[key]`` as ns, else the gateway's push time ``P``."""
    value = data.get(key)
    return stamp_ns(frame["P"] if value is None or value == "" else value)


def _side(value: Any) -> str:
    side = _SIDES.get(str(value).lower())
    if side is None:
        raise ProtocolError(f"side {value!r} is neither buy nor sell")
    return side


def _text(value: Any) -> str:
    """An id sent as a string or a number (``ti`` is both, uta-protocol.md#trades), exactly."""
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    return str(exact_int(value))


def _lower(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _symbol(data: Mapping[str, Any]) -> str:
    symbol = data["s"]
    if symbol.__class__ is not str or not symbol:
        raise ProtocolError(f"symbol {symbol!r} is not a non-empty string")
    return symbol


class UtaDecoder:
    """Decodes UTA pushes and REST answers into normalized events (see the module docstring).

    One decoder per driver: it keeps a cache of parsed price strings, which recur constantly in a book.

    Args:
        on_snapshot: called with the symbol of every ``obu`` snapshot decoded (a source learns that the
            snapshot a subscription promised has come; uta-protocol.md#order-book-sync).
    """

    def __init__(self, on_snapshot: Callable[[str], None] | None = None) -> None:
        self.on_snapshot = on_snapshot
        self._prices: dict[str, float] = {}
        self._handlers: dict[str, Handler] = {
            "ticker": self._ticker,
            "trade": self._trade,
            "kline": self._kline,
            "obu": self._obu,
            "orderall": self._order,
            "order": self._order,
            "execution": self._execution,
            "execution.lite": self._execution,
            "balance": self._balance,
        }
        # Canonical spellings too, so the usual T finds its handler without lower-casing it.
        self._handlers.update({"orderAll": self._order})
        self._routes: dict[str, tuple[Handler | None, str]] = {}  # T -> (handler, qualifier)

    # -- pushes ----------------------------------------------------------------------------------
    def decode(self, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        """The events of one data push ``{"T", "P", "d"}`` (no event for channels kunb does not model).

        Raises:
            ProtocolError: no ``T``, or the push lacks a field its channel has or has an unreadable one.
        """
        push_type = frame.get("T")
        if push_type.__class__ is not str:
            raise ProtocolError(f"push without a T: {push_type!r}")
        route = self._routes.get(push_type)
        if route is None:
            route = self._route(push_type)
        handler, qualifier = route
        if handler is None:
            return ()
        data = frame.get("d")
        if data.__class__ is not dict:
            raise ProtocolError(f"{push_type} push whose d is not an object")
        try:
            return handler(qualifier, frame, data, received_ns)
        except ProtocolError as exc:
            raise ProtocolError(f"unreadable {push_type} push: {exc}") from exc
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable {push_type} push: {exc!r}") from exc

    def _route(self, push_type: str) -> tuple[Handler | None, str]:
        name, dot, qualifier = push_type.rpartition(".")
        if not dot:
            name = push_type  # fixed T (mark-price, funding-fee...): no qualifier
        handlers = self._handlers
        routes = self._routes
        if len(routes) >= _ROUTES:
            routes.clear()
        route = routes[push_type] = (handlers.get(name) or handlers.get(name.lower()), qualifier)
        return route

    def _price(self, text: str) -> float:
        price = self._prices.get(text)
        if price is None:
            cache = self._prices
            if len(cache) >= _PRICE_CACHE:
                cache.clear()
            price = cache[text] = parse_price(text)
        return price

    def _levels(self, rows: Iterable[Sequence[Any]], *, bids: bool) -> tuple[Level, ...]:
        """Snapshot levels, best first (bids descending, asks ascending): KuCoin sends them so (live
        probe), but uta-protocol.md#order-book says to apply by price anyway. Size ``"0"`` is no level."""
        price = self._price
        levels = [(price(row[0]), parse_size(row[1])) for row in rows]  # futures RPI: [p, non-RPI, RPI]
        levels = [level for level in levels if level[1] > 0.0]
        levels.sort(reverse=bids)
        return tuple(levels)

    def _changes(self, rows: Sequence[Sequence[Any]], sequence: int) -> tuple[LevelChange, ...]:
        if not rows:
            return ()
        prices = self._prices
        out = []
        for row in rows:  # the hot loop of a 10 ms book: parse_size inlined, the price cache read here
            size = float(row[1])
            if not 0.0 <= size < _INF:
                raise ProtocolError(f"size {row[1]!r} is not a finite, non-negative number")
            price = prices.get(row[0])
            if price is None:
                price = self._price(row[0])
            out.append((price, size, sequence))
        return tuple(out)

    def _ticker(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        sequence = data.get("E")
        return (
            Tick(
                _symbol(data),
                _time(data, "M", frame),
                rx,
                None if sequence is None else exact_int(sequence),
                optional_float(data.get("l")),
                optional_float(data.get("q")),
                float(data["b"]),  # uta-protocol.md#ticker: b is the bid (ccxt swaps a and b: its bug)
                optional_float(data.get("B")),
                float(data["a"]),
                optional_float(data.get("A")),
            ),
        )

    def _trade(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        sequence = data.get("E")
        trade_id = data.get("ti")
        return (
            Trade(
                _symbol(data),
                _time(data, "M", frame),
                rx,
                None if sequence is None else exact_int(sequence),
                _text(sequence if trade_id is None or trade_id == "" else trade_id),  # spot: E == ti
                _side(data["S"]),
                float(data["p"]),
                float(data["q"]),
            ),
        )

    def _kline(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        return (
            Candle(
                _symbol(data),
                str(data["i"]),
                stamp_ns(data["O"]),  # seconds on the wire (uta-protocol.md#klines)
                stamp_ns(frame["P"]),  # a kline carries no other time
                rx,
                float(data["o"]),
                float(data["c"]),
                float(data["h"]),
                float(data["l"]),
                float(data["v"]),
                float(data["a"]),
            ),
        )

    def _obu(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        depth_name = frame.get("dp")
        kind = frame.get("t")
        if kind is None:  # depths 1/5/50 only ever send snapshots, the increments only deltas
            snapshot = depth_name.__class__ is str and depth_name.isdigit()
        else:
            snapshot = str(kind).lower() == "snapshot"
            if not snapshot and str(kind).lower() != "delta":
                raise ProtocolError(f"t must be snapshot or delta, not {kind!r}")
        first = exact_int(data["O"])
        last = exact_int(data["C"])
        if first > last:
            raise ProtocolError(f"O {first} after C {last}")
        symbol = _symbol(data)
        time_ns = _time(data, "M", frame)
        if snapshot:
            if self.on_snapshot is not None:
                self.on_snapshot(symbol)
            return (
                BookSnapshot(
                    symbol,
                    time_ns,
                    rx,
                    last,  # O == C on snapshots (uta-protocol.md#order-book)
                    self._levels(data["b"], bids=True),
                    self._levels(data["a"], bids=False),
                    _snapshot_depth(depth_name),
                ),
            )
        # Every change of a delta gets sequence C: sizes are absolute for the whole O..C range.
        bids = self._changes(data["b"], last)
        asks = self._changes(data["a"], last)
        return (_new(BookDelta, (symbol, time_ns, rx, first, last, bids, asks)),)

    def _order(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        raw_status = data.get("os")
        os_ = None if raw_status is None or raw_status == "" else exact_int(raw_status)
        event_type = str(data.get("eT") or "").upper()
        if os_ is not None and os_ not in _STATUS:
            raise ProtocolError(f"unknown order status os={os_}")
        if os_ is None and event_type not in _STATUS_OF_EVENT:
            raise ProtocolError(f"order push with neither a status os nor a known event eT ({event_type!r})")
        status = _STATUS[os_] if os_ is not None else _STATUS_OF_EVENT[event_type]
        last_size = optional_decimal(data.get("lS"))
        base = OrderEvent(
            _text(data["oi"]),
            _text(data.get("ci")),
            _symbol(data),
            _side(data["S"]),
            _lower(data.get("oT")),
            "",
            status,
            optional_decimal(data.get("p")),  # "" for market orders
            None
            if str(data.get("qU") or "").upper() == "QUOTECCY"
            else optional_decimal(data.get("q")),  # q in funds
            optional_decimal(data.get("fS")),
            optional_decimal(data.get("rS")),
            optional_decimal(data.get("cS")),  # canceled size (ccxt, TG; the universal SDK says status [!])
            None,
            None,
            "",
            "",
            None if data.get("O") in (None, "") else stamp_ns(data["O"]),
            _time(data, "U", frame),
            rx,
        )
        if event_type in _FILL_EVENTS and last_size is not None and last_size > _ZERO:
            match = base._replace(
                kind="match",
                status="match",
                match_price=decimal(data["ls"]),  # the last fill's price (ls == aP in the doc example [!])
                match_size=last_size,
                trade_id=_text(data.get("ti")),
                liquidity=_lower(data.get("lR")),
            )
            if status != "done":
                return (match,)
            return (match, base._replace(kind=_KIND_OF_STATUS[os_] if os_ is not None else "filled"))
        if event_type == "OPEN":
            kind = "received" if os_ == 0 else "open"
        elif event_type in ("UPDATE", "TRIGGER"):
            kind = "update"
        elif event_type == "CANCEL":
            kind = "canceled"
        elif os_ is not None:
            kind = _KIND_OF_STATUS[os_]
        else:
            kind = "filled"  # a FILL/MATCH without a fill size and without os: the order is at its end
        return (base._replace(kind=kind),)

    def _execution(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        return (
            Fill(
                _text(data["oi"]),  # "0" for liquidation, ADL and settlement fills
                _text(data["ti"]),
                _symbol(data),
                _side(data["S"]),
                decimal(data["p"]),
                decimal(data["q"]),
                optional_decimal(data.get("f")),  # execution.lite carries no fee
                str(data.get("fC") or ""),
                _lower(data.get("lR")),
                _time(data, "E", frame),
                rx,
            ),
        )

    def _balance(
        self, qualifier: str, frame: Mapping[str, Any], data: Mapping[str, Any], rx: int
    ) -> tuple[Event, ...]:
        currency = data["c"]
        if currency.__class__ is not str or not currency:
            raise ProtocolError(f"currency {currency!r} is not a non-empty string")
        return (
            BalanceChange(
                currency,
                qualifier.lower() or "unified",  # balance.UNIFIED / balance.FUNDING / balance.ISOLATED
                "",
                decimal(data["b"]),  # the balance (ccxt's total); e is equity and may be null
                decimal(data["a"]),
                decimal(data["h"]),
                None,
                None,
                "",
                "",
                "",
                _time(data, "U", frame),  # ns on UNIFIED, an ms string on FUNDING
                rx,
            ),
        )

    # -- REST answers ----------------------------------------------------------------------------
    def book_snapshot(
        self,
        data: Mapping[str, Any],
        received_ns: int,
        *,
        depth: int | None = None,
        symbol: str | None = None,
    ) -> BookSnapshot:
        """``data`` of the signed ``GET /api/ua/v1|v2/market/orderbook`` (``limit`` FULL: ``depth``
        ``None``; 20/100: that number, see :func:`kunb.protocol.uta.orderbook_depth`).

        Raises:
            ProtocolError: no readable ``sequence``, ``bids`` or ``asks``.
        """
        name = symbol or data.get("symbol") or "?"
        try:
            stamp = data.get("time")
            return BookSnapshot(
                str(symbol or data["symbol"]),
                0 if stamp is None else stamp_ns(stamp),  # the v1 answer has no time
                received_ns,
                exact_int(data["sequence"]),
                self._levels(data["bids"], bids=True),
                self._levels(data["asks"], bids=False),
                depth,
            )
        except ProtocolError as exc:
            raise ProtocolError(f"unreadable UTA order book snapshot of {name}: {exc}") from exc
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable UTA order book snapshot of {name}: {exc!r}") from exc

    @staticmethod
    def account_balances(data: Mapping[str, Any]) -> list[AccountBalance]:
        """``data`` of ``GET /api/ua/v1/{accountMode}/account/balance``: ``{"accountType", "ts",
        "accounts": [{"currencies": [{"currency", "balance", "available", "hold", ...}]}]}`` (ccxt
        ``fetch_uta_balance``). The account type is lower-cased, as the ``balance.UNIFIED`` push has it.

        Raises:
            ProtocolError: the answer or one of its currencies lacks a field.
        """
        try:
            account_type = str(data.get("accountType") or "unified").lower()
            out = []
            for account in data.get("accounts") or ():
                for item in account.get("currencies") or ():
                    out.append(
                        AccountBalance(
                            str(item["currency"]),
                            account_type,
                            str(account.get("accountSubtype") or ""),
                            decimal(item["balance"]),
                            decimal(item["available"]),
                            decimal(item.get("hold", "0")),
                        )
                    )
            return out
        except ProtocolError:
            raise
        except UNREADABLE as exc:
            raise ProtocolError(f"unreadable UTA balance answer: {exc!r}") from exc

    @staticmethod
    def order_states(items: Iterable[Mapping[str, Any]]) -> list[OrderState]:
        """Items of the UTA order lists (``GET /api/ua/v1/{accountMode}/order/open-list`` and ``/history``)
        or one ``/order/detail``: ``status`` is the push's ``os`` (0 and 2 and 4 active; 5 and 6 canceled),
        ``orderTime`` in ns; the funds dealt are ``filledSize * avgPrice``.

        Raises:
            ProtocolError: an item lacks a field or has an unknown status.
        """
        out = []
        for item in items:
            try:
                status = exact_int(item["status"])
                if status not in _STATUS:
                    raise ProtocolError(f"unknown order status {status}")
                price = optional_decimal(item.get("price"))
                size = (
                    None
                    if str(item.get("sizeUnit") or "").upper() == "QUOTECCY"
                    else optional_decimal(item.get("size"))
                )
                filled = optional_decimal(item.get("filledSize")) or _ZERO
                average = optional_decimal(item.get("avgPrice")) or _ZERO
                created = item.get("orderTime")
                out.append(
                    OrderState(
                        _text(item["orderId"]),
                        _text(item.get("clientOid")),
                        _symbol({"s": item["symbol"]}),
                        _side(item["side"]),
                        _lower(item.get("orderType")),
                        price or None,  # market orders: "" (or "0")
                        size or None,
                        filled,
                        filled * average,
                        status in (0, 2, 4),
                        status in (5, 6),
                        None if created in (None, "") else stamp_ns(created),
                    )
                )
            except ProtocolError:
                raise
            except UNREADABLE as exc:
                raise ProtocolError(f"unreadable UTA order item: {exc!r}") from exc
        return out


def _snapshot_depth(depth_name: Any) -> int | None:
    """Levels per side an obu snapshot has at most: ``dp`` 1/5/50, 500 for ``increment@10ms``."""
    if depth_name is None or depth_name == "increment":
        return None
    if depth_name == "increment@10ms":
        return INCREMENT_10MS_LEVELS
    if depth_name.__class__ is str and depth_name.isascii() and depth_name.isdigit():
        return int(depth_name)
    raise ProtocolError(f"unknown obu depth dp={depth_name!r}")
