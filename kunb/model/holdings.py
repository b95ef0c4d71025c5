"""Holdings: one account's balances and order table, built from private pushes and REST snapshots (pure).

No I/O and no clock: :class:`kunb.account.Account` feeds it ``/account/balance`` and
``/spotMarket/tradeOrders`` push ``data`` (``kucoin-protocol.md`` 2.3) and the answers of
``GET /api/v1/accounts`` and ``GET /api/v1/orders`` (4.3). The merge rules are what make a REST re-seed
after a reconnect safe while pushes keep arriving (KuCoin does not replay private pushes):

* **Balances.** A push carries absolute ``total``/``available``/``hold``, so the newest push wins. A REST
  seed is opened with :meth:`Holdings.begin_seed` *before* the request goes out; its answer then skips
  every balance a push touched meanwhile. That is exact: the request is sent only once the private
  topics are subscribed, so every change after it is pushed, in order, and the last push of a balance
  is the latest state; a balance no push touched is exactly what REST saw.
* **Orders.** An order's filled size only grows and ``done`` is final, whatever order REST answers
  and pushes arrive in. Deal funds grow by ``matchPrice * matchSize`` on each ``match`` push that
  advances ``filledSize``; a REST order that has filled more replaces both numbers (KuCoin's
  ``dealSize``/``dealFunds``). A ``match`` whose ``filledSize`` jumps by more than its ``matchSize``
  reveals missed fills: the order is marked ``exact=False`` until REST refreshes it.
* **Duplicates.** Balance pushes are deduplicated by ``relationEventId`` together with the balance and
  the numbers they set, order pushes by (``orderId``, ``type``, ``tradeId``, ``ts``, ``filledSize``),
  each in a bounded memory of recent keys.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..exceptions import ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Balance", "Holdings", "Order", "OrderUpdate"]

_ZERO = Decimal(0)
_DONE_EVENTS = frozenset({"filled", "canceled"})  # kucoin-protocol.md 2.3: these close an order
_BALANCE_COLUMNS = ["total", "available", "hold", "source", "time"]
_ORDER_COLUMNS = [
    "symbol", "side", "order_type", "status", "event", "price", "size", "deal_size", "deal_funds",
    "remain_size", "client_oid", "exact", "source", "time",
]  # fmt: skip


def _dec(value: Any, default: Decimal | None = None) -> Decimal:
    """A wire decimal (KuCoin sends strings; numbers are accepted) as a Decimal."""
    if value is None or value == "":
        if default is None:
            raise ProtocolError("a decimal field is missing")
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ProtocolError(f"not a decimal: {value!r}") from exc


def _type_of_event(relation_event: str) -> str:
    """The account type a ``relationEvent`` names (``trade.hold`` -> ``trade``, 2.3)."""
    head = relation_event.partition(".")[0]
    return head if head in ("main", "trade", "margin") else head or "trade"


@dataclass(slots=True)
class Balance:
    """One currency in one account (``trade``, ``main``...): KuCoin's three numbers, and where they came
    from (``"rest"`` or the push's ``relationEvent``) and when (push time, ms; ``None`` for REST)."""

    currency: str
    account_type: str
    total: Decimal
    available: Decimal
    hold: Decimal
    account_id: str = ""
    source: str = "rest"
    time_ms: int | None = None


@dataclass(slots=True)
class Order:
    """The latest known state of one order.

    ``status`` is KuCoin's (``new``/``open``/``match``/``done``); ``event`` the last event type
    (``received``/``open``/``match``/``update``/``filled``/``canceled``; ``rest`` when it came from REST).
    ``deal_size``/``deal_funds`` are cumulative, as KuCoin's REST order has them; ``exact`` is False while
    fills are known to be missing (a REST refresh is due).
    """

    order_id: str
    symbol: str
    side: str
    order_type: str = ""
    price: Decimal | None = None
    size: Decimal | None = None
    client_oid: str = ""
    status: str = "new"
    event: str = ""
    deal_size: Decimal = _ZERO
    deal_funds: Decimal = _ZERO
    remain_size: Decimal | None = None
    order_time_ms: int | None = None
    updated_ns: int | None = None
    source: str = "push"
    exact: bool = True
    trade_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What one order push did: the order after it, and whether its fill advanced the order."""

    order: Order
    filled: Decimal = _ZERO  # size this push added to deal_size (0 for non-fills and stale pushes)
    missed_fills: bool = False  # filledSize jumped by more than matchSize: fills were not seen


class _Recent:
    """A bounded memory of recently seen ids."""

    __slots__ = ("_order", "_seen")

    def __init__(self, size: int) -> None:
        self._order: deque[Any] = deque(maxlen=size)
        self._seen: set[Any] = set()

    def __contains__(self, key: Any) -> bool:
        return key in self._seen

    def add(self, key: Any) -> bool:
        """Remember ``key``; False when it was already there."""
        if key in self._seen:
            return False
        if len(self._order) == self._order.maxlen:
            self._seen.discard(self._order[0])
        self._order.append(key)
        self._seen.add(key)
        return True


class Holdings:
    """Balances per (currency, account type) and orders per id of one account. See the module doc.

    Args:
        dedup_window: how many recent event ids are remembered for deduplication.
        max_done_orders: finished orders kept in :attr:`orders`; older ones are forgotten, oldest first,
            so a long session with an active bot stays bounded (open orders are always kept).
    """

    def __init__(self, *, dedup_window: int = 10_000, max_done_orders: int = 10_000) -> None:
        self.balances: dict[tuple[str, str], Balance] = {}
        self.orders: dict[str, Order] = {}
        self.max_done_orders = max_done_orders
        self.forgotten = 0  #: finished orders dropped from :attr:`orders` to keep memory bounded
        self._done_ids: deque[str] = deque()
        self.version = 0  #: grows with every change (renderers redraw when it moved)
        self.duplicates = 0  #: pushes ignored because their id was seen already
        self.corrections = 0  #: balances or orders a REST seed found different from the push-built state
        self.learned = 0  #: orders first known from REST (placed before the start or during an outage)
        self._account_types: dict[str, str] = {}  # accountId -> type, learnt from REST
        self._balance_ids = _Recent(dedup_window)
        self._order_ids = _Recent(dedup_window)
        self._pushed_since_seed: set[tuple[str, str]] | None = None

    # -- balances ------------------------------------------------------------------------------
    def begin_seed(self) -> None:
        """Call just before ``GET /api/v1/accounts`` goes out: pushes from now on win over its answer."""
        self._pushed_since_seed = set()

    def seed_balances(self, accounts: Iterable[Mapping[str, Any]]) -> int:
        """Apply ``GET /api/v1/accounts`` items (``id``, ``currency``, ``type``, ``balance``, ``available``,
        ``holds``); returns how many balances changed (counted in :attr:`corrections` when a balance was
        already known: an update a lost push would have brought).

        Raises:
            ProtocolError: an item lacks a field.
        """
        pushed = self._pushed_since_seed or set()
        self._pushed_since_seed = None
        changed = 0
        for item in accounts:
            try:
                currency, kind = str(item["currency"]), str(item.get("type") or "trade")
                if item.get("id"):
                    self._account_types[str(item["id"])] = kind
                fresh = Balance(
                    currency,
                    kind,
                    _dec(item["balance"]),
                    _dec(item["available"]),
                    _dec(item.get("holds", item.get("hold")), _ZERO),
                    str(item.get("id") or ""),
                )
            except (KeyError, TypeError) as exc:
                raise ProtocolError(f"unreadable account item: {exc!r}") from exc
            key = (currency, kind)
            if key in pushed:
                continue
            old = self.balances.get(key)
            if old is not None and (old.total, old.available, old.hold) == (
                fresh.total,
                fresh.available,
                fresh.hold,
            ):
                continue
            if old is not None:
                self.corrections += 1
            self.balances[key] = fresh
            changed += 1
        if changed:
            self.version += 1
        return changed

    def on_balance(self, data: Mapping[str, Any]) -> Balance | None:
        """Apply one ``/account/balance`` push ``data``; ``None`` when it is a duplicate.

        Raises:
            ProtocolError: a field is missing or not a decimal.
        """
        try:
            account_id = str(data.get("accountId") or "")
            relation = str(data.get("relationEvent") or "")
            kind = self._account_types.get(account_id) or _type_of_event(relation)
            stamp = data.get("time")
            balance = Balance(
                str(data["currency"]),
                kind,
                _dec(data["total"]),
                _dec(data["available"]),
                _dec(data["hold"]),
                account_id,
                relation or "push",
                None if stamp is None else int(stamp),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProtocolError(f"unreadable balance push: {exc!r}") from exc
        event_id = data.get("relationEventId")
        # One event can move several balances (a fill settles both currencies, kucoin-protocol.md 2.3) and
        # an order's hold and release may name the same event: only a push repeating the same change of
        # the same balance is a duplicate.
        seen = (str(event_id), account_id, balance.currency, balance.total, balance.available, balance.hold)
        if event_id and not self._balance_ids.add(seen):
            self.duplicates += 1
            return None
        key = (balance.currency, kind)
        self.balances[key] = balance
        if self._pushed_since_seed is not None:
            self._pushed_since_seed.add(key)
        self.version += 1
        return balance

    def balance(self, currency: str, account_type: str = "trade") -> Balance | None:
        """The balance of ``currency`` in ``account_type`` (``None``: never seen)."""
        return self.balances.get((currency, account_type))

    # -- orders --------------------------------------------------------------------------------
    def on_order(self, data: Mapping[str, Any]) -> OrderUpdate | None:
        """Apply one ``orderChange`` push ``data``; ``None`` when it is a duplicate.

        Raises:
            ProtocolError: a field is missing or unreadable.
        """
        try:
            order_id = str(data["orderId"])
            event = str(data["type"])
            key = (order_id, event, data.get("tradeId"), data.get("ts"), data.get("filledSize"))
            if key in self._order_ids:
                self.duplicates += 1
                return None
            order = self.orders.get(order_id)
            if order is None:
                order = self.orders[order_id] = Order(order_id, str(data["symbol"]), str(data["side"]))
            order.order_type = str(data.get("orderType") or order.order_type)
            if data.get("price") not in (None, ""):
                order.price = _dec(data["price"])
            size = data.get("originSize", data.get("size"))
            if size not in (None, "") and order.size is None:
                order.size = _dec(size)
            order.client_oid = str(data.get("clientOid") or order.client_oid)
            if data.get("orderTime") is not None:
                order.order_time_ms = int(data["orderTime"])
            update = self._advance(order, data, event)
            if not order.done:  # "done" is final: a late push cannot reopen an order
                order.status = str(data.get("status") or order.status)
                if event in _DONE_EVENTS:
                    order.status = "done"
                if data.get("remainSize") not in (None, ""):
                    order.remain_size = _dec(data["remainSize"])
                if order.done:
                    self._retire(order_id)
            order.event = event
            if data.get("ts") is not None:
                order.updated_ns = int(data["ts"])
            order.source = "push"
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"unreadable order push: {exc!r}") from exc
        self._order_ids.add(key)  # only once readable: a corrected re-send is then not a "duplicate"
        self.version += 1
        return update

    def _advance(self, order: Order, data: Mapping[str, Any], event: str) -> OrderUpdate:
        filled_text = data.get("filledSize")
        if filled_text in (None, ""):
            return OrderUpdate(order)
        filled = _dec(filled_text)
        added = filled - order.deal_size
        if added <= 0:
            return OrderUpdate(order)  # nothing new (a stale or repeated push, or no fill)
        missed = True
        if event == "match" and data.get("matchSize") not in (None, ""):
            match_size = _dec(data["matchSize"])
            order.deal_funds += match_size * _dec(data["matchPrice"])
            missed = added != match_size
            if data.get("tradeId"):
                order.trade_ids.append(str(data["tradeId"]))
        order.deal_size = filled
        if missed:
            order.exact = False
        return OrderUpdate(order, added, missed)

    def seed_orders(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Merge REST orders (``GET /api/v1/orders`` items or one ``GET /api/v1/orders/{id}``); returns
        how many were new or changed (those that were known are counted in :attr:`corrections`).

        Raises:
            ProtocolError: an item lacks a field.
        """
        changed = 0
        for item in items:
            try:
                order_id = str(item["id"])
                deal_size = _dec(item.get("dealSize"), _ZERO)
                deal_funds = _dec(item.get("dealFunds"), _ZERO)
                active = bool(item.get("isActive", item.get("active", False)))
                order = self.orders.get(order_id)
                known = order is not None
                if order is None:
                    order = self.orders[order_id] = Order(order_id, str(item["symbol"]), str(item["side"]))
                before = (order.status, order.deal_size, order.deal_funds, order.exact)
                order.order_type = str(item.get("type") or order.order_type)
                if order.price is None and _dec(item.get("price"), _ZERO):
                    order.price = _dec(item["price"])
                if order.size is None and _dec(item.get("size"), _ZERO):
                    order.size = _dec(item["size"])
                order.client_oid = str(item.get("clientOid") or order.client_oid)
                if item.get("createdAt") is not None:
                    order.order_time_ms = int(item["createdAt"])
                if deal_size > order.deal_size or (deal_size == order.deal_size and not order.exact):
                    order.deal_size, order.deal_funds, order.exact = deal_size, deal_funds, True
                order.event = order.event or "rest"
                if not order.done:
                    if active:
                        order.status = "open" if order.status in ("new", "open", "") else order.status
                    else:
                        order.status = "done"
                        order.event = "canceled" if item.get("cancelExist") else "filled"
                        order.remain_size = _ZERO
                        self._retire(order_id)
                if order.size is not None and order.status != "done":
                    order.remain_size = order.size - order.deal_size
                if (order.status, order.deal_size, order.deal_funds, order.exact) != before or not known:
                    order.source = "rest"
                    changed += 1
                    if known:
                        self.corrections += 1
                    else:
                        self.learned += 1
            except (KeyError, TypeError) as exc:
                raise ProtocolError(f"unreadable order item: {exc!r}") from exc
        if changed:
            self.version += 1
        return changed

    def _retire(self, order_id: str) -> None:
        """Note that ``order_id`` just finished; forget the oldest finished orders past the bound."""
        self._done_ids.append(order_id)
        while len(self._done_ids) > self.max_done_orders:
            old = self._done_ids.popleft()
            order = self.orders.get(old)
            if order is not None and order.done:
                del self.orders[old]
                self.forgotten += 1

    def open_orders(self) -> list[str]:
        """Ids of the orders not known to be done."""
        return [oid for oid, order in list(self.orders.items()) if not order.done]

    def inexact_orders(self) -> list[str]:
        """Ids of the orders with fills known to be missing."""
        return [oid for oid, order in list(self.orders.items()) if not order.exact]

    # -- tables --------------------------------------------------------------------------------
    def balances_frame(self) -> pd.DataFrame:
        """One row per (currency, account type): ``total``, ``available``, ``hold`` (float64), ``source``,
        ``time`` (of the last push; NaT for REST values)."""
        import pandas as pd

        rows = sorted(list(self.balances.values()), key=lambda b: (b.currency, b.account_type))
        index = pd.MultiIndex.from_tuples(
            [(b.currency, b.account_type) for b in rows], names=["currency", "type"]
        )
        return pd.DataFrame(
            {
                "total": [float(b.total) for b in rows],
                "available": [float(b.available) for b in rows],
                "hold": [float(b.hold) for b in rows],
                "source": [b.source for b in rows],
                "time": pd.to_datetime([b.time_ms for b in rows], unit="ms", utc=True),
            },
            index=index,
            columns=_BALANCE_COLUMNS,
        )

    def orders_frame(self) -> pd.DataFrame:
        """One row per order id: the latest state (decimals as float64; ``time`` of the last event)."""
        import pandas as pd

        rows = list(self.orders.values())

        def num(value: Decimal | None) -> float:
            return float("nan") if value is None else float(value)

        return pd.DataFrame(
            {
                "symbol": [o.symbol for o in rows],
                "side": [o.side for o in rows],
                "order_type": [o.order_type for o in rows],
                "status": [o.status for o in rows],
                "event": [o.event for o in rows],
                "price": [num(o.price) for o in rows],
                "size": [num(o.size) for o in rows],
                "deal_size": [float(o.deal_size) for o in rows],
                "deal_funds": [float(o.deal_funds) for o in rows],
                "remain_size": [num(o.remain_size) for o in rows],
                "client_oid": [o.client_oid for o in rows],
                "exact": [o.exact for o in rows],
                "source": [o.source for o in rows],
                "time": pd.to_datetime([o.updated_ns for o in rows], unit="ns", utc=True),
            },
            index=pd.Index([o.order_id for o in rows], name="order_id"),
            columns=_ORDER_COLUMNS,
        )
