"""Holdings: one account's balances and order table, built from private pushes and REST snapshots (pure).

No I/O and no clock: :class:`kunb.account.Account` feeds it :class:`~kunb.events.BalanceChange` and
:class:`~kunb.events.OrderEvent` events (from private pushes) and :class:`~kunb.events.AccountBalance` /
:class:`~kunb.events.OrderState` seeds (from REST). The merge rules are what make a REST re-seed after a
reconnect safe while pushes keep arriving (KuCoin does not replay private pushes):

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..events import AccountBalance, BalanceChange, OrderEvent, OrderState

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Balance", "Holdings", "Order", "OrderUpdate"]

_ZERO = Decimal(0)
_BALANCE_COLUMNS = ["total", "available", "hold", "source", "time"]
_ORDER_COLUMNS = [
    "symbol", "side", "order_type", "status", "event", "price", "size", "deal_size", "deal_funds",
    "remain_size", "client_oid", "exact", "source", "time",
]  # fmt: skip


def _utc_times(stamps: list[int | None]) -> pd.DatetimeIndex:
    """Nanosecond stamps as UTC times, ``None`` as NaT (a nullable integer index keeps every digit, and the
    column is ``datetime64[ns, UTC]`` even when there are no rows)."""
    import pandas as pd

    return pd.to_datetime(pd.Index(stamps, dtype="Int64"), unit="ns", utc=True)


@dataclass(slots=True)
class Balance:
    """One currency in one account (``trade``, ``main``...): KuCoin's three numbers, and where they came
    from (``"rest"`` or the push's ``relationEvent``) and when (push time, ns; ``None`` for REST)."""

    currency: str
    account_type: str
    total: Decimal
    available: Decimal
    hold: Decimal
    account_id: str = ""
    source: str = "rest"
    time_ns: int | None = None


@dataclass(slots=True)
class Order:
    """The latest known state of one order.

    ``status`` is KuCoin's (``new``/``open``/``match``/``done``); ``event`` the last event type
    (``received``/``open``/``match``/``update``/``filled``/``canceled``; ``rest`` when it came from REST).
    ``deal_size``/``deal_funds`` are cumulative, as KuCoin's REST order has them; ``exact`` is False while
    fills are known to be missing (a REST refresh is due). Times are ns since the epoch.
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
    order_time_ns: int | None = None
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

    def seed_balances(self, accounts: Iterable[AccountBalance]) -> int:
        """Apply a REST account list; returns how many balances changed (counted in :attr:`corrections`
        when a balance was already known: an update a lost push would have brought)."""
        pushed = self._pushed_since_seed or set()
        self._pushed_since_seed = None
        changed = 0
        for item in accounts:
            if item.account_id:
                self._account_types[item.account_id] = item.account_type
            key = (item.currency, item.account_type)
            if key in pushed:
                continue
            old = self.balances.get(key)
            if old is not None and (old.total, old.available, old.hold) == (
                item.total,
                item.available,
                item.hold,
            ):
                continue
            if old is not None:
                self.corrections += 1
            self.balances[key] = Balance(
                item.currency, item.account_type, item.total, item.available, item.hold, item.account_id
            )
            changed += 1
        if changed:
            self.version += 1
        return changed

    def on_balance(self, change: BalanceChange) -> Balance | None:
        """Apply one :class:`~kunb.events.BalanceChange`; ``None`` when it is a duplicate."""
        kind = self._account_types.get(change.account_id) or change.account_type
        balance = Balance(
            change.currency,
            kind,
            change.total,
            change.available,
            change.hold,
            change.account_id,
            change.relation_event or "push",
            change.time_ns,
        )
        event_id = change.relation_event_id
        # One event can move several balances (a fill settles both currencies) and an order's hold and
        # release may name the same event: only a push repeating the same change of the same balance is a
        # duplicate.
        seen = (event_id, change.account_id, balance.currency, balance.total, balance.available, balance.hold)
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
    def on_order(self, event: OrderEvent) -> OrderUpdate | None:
        """Apply one :class:`~kunb.events.OrderEvent`; ``None`` when it is a duplicate."""
        order_id = event.order_id
        key = (order_id, event.kind, event.trade_id, event.time_ns, event.filled_size)
        if not self._order_ids.add(key):
            self.duplicates += 1
            return None
        order = self.orders.get(order_id)
        if order is None:
            order = self.orders[order_id] = Order(order_id, event.symbol, event.side)
        order.order_type = event.order_type or order.order_type
        if event.price is not None:
            order.price = event.price
        if event.size is not None and order.size is None:
            order.size = event.size
        order.client_oid = event.client_oid or order.client_oid
        if event.order_time_ns is not None:
            order.order_time_ns = event.order_time_ns
        update = self._advance(order, event)
        if not order.done:  # "done" is final: a late push cannot reopen an order
            order.status = event.status or order.status
            if event.remain_size is not None:
                order.remain_size = event.remain_size
            if order.done:
                self._retire(order_id)
        order.event = event.kind
        order.updated_ns = event.time_ns
        order.source = "push"
        self.version += 1
        return update

    def _advance(self, order: Order, event: OrderEvent) -> OrderUpdate:
        filled = event.filled_size
        if filled is None:
            return OrderUpdate(order)
        added = filled - order.deal_size
        if added <= 0:
            return OrderUpdate(order)  # nothing new (a stale or repeated push, or no fill)
        missed = True
        if event.kind == "match" and event.match_size is not None and event.match_price is not None:
            order.deal_funds += event.match_size * event.match_price
            missed = added != event.match_size
            if event.trade_id:
                order.trade_ids.append(event.trade_id)
        order.deal_size = filled
        if missed:
            order.exact = False
        return OrderUpdate(order, added, missed)

    def seed_orders(self, items: Iterable[OrderState]) -> int:
        """Merge REST orders; returns how many were new or changed (those that were known are counted in
        :attr:`corrections`)."""
        changed = 0
        for item in items:
            order_id = item.order_id
            order = self.orders.get(order_id)
            known = order is not None
            if order is None:
                order = self.orders[order_id] = Order(order_id, item.symbol, item.side)
            before = (order.status, order.deal_size, order.deal_funds, order.exact)
            order.order_type = item.order_type or order.order_type
            if order.price is None and item.price:
                order.price = item.price
            if order.size is None and item.size:
                order.size = item.size
            order.client_oid = item.client_oid or order.client_oid
            if item.created_ns is not None:
                order.order_time_ns = item.created_ns
            if item.deal_size > order.deal_size or (item.deal_size == order.deal_size and not order.exact):
                order.deal_size, order.deal_funds, order.exact = item.deal_size, item.deal_funds, True
            order.event = order.event or "rest"
            if not order.done:
                if item.active:
                    order.status = "open" if order.status in ("new", "open", "") else order.status
                else:
                    order.status = "done"
                    order.event = "canceled" if item.canceled else "filled"
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
                "time": _utc_times([b.time_ns for b in rows]),
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
                "time": _utc_times([o.updated_ns for o in rows]),
            },
            index=pd.Index([o.order_id for o in rows], name="order_id"),
            columns=_ORDER_COLUMNS,
        )
