"""User trading on the embedded exchange: holds, matching in the public book, settlement, private events.

Pure: no I/O, no clock (``now_ns`` is an argument). User orders rest in the same
:class:`~kunb.sim.core.orderbook.OrderBook` as the synthetic market, so they show in level2 pushes and trades.
Every call returns an :class:`Outcome`: the private :mod:`~kunb.sim.core.events` to deliver (in order) and
the fills (the core already put them on the public tape). Money
(``classic-protocol.md#private-channels``, 4.3):

* placing holds the worst case: a buy ``price * size * (1 + takerFeeRate)`` of quote (the docs' example
  holds 0.5005 USDT for 0.00001 BTC at 50000), a sell ``size`` of base; market orders hold exactly what the
  book can give them, found by walking it before matching (nothing runs in between);
* each fill moves hold to the counterparty (``trade.setted`` for both currencies) and pays the fee, in the
  quote currency, to the exchange (:attr:`Ledger.fees`);
* a done order releases what it still holds (``trade.hold``).

The synthetic market maker is the counterparty of fills against its orders; its net flow is kept in
:attr:`Trading.market_flow`, so ``ledger totals + fees + market_flow`` is constant per currency.

History is bounded (:class:`Retention`): finished orders and fills are kept per user up to a count and
an age, oldest forgotten first, so a demo left running for days does not grow; active orders are
always kept (at most :data:`MAX_ACTIVE_ORDERS` per user and symbol).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from kunb.exceptions import ConfigurationError, OrderError
from kunb.sim.core.accounts import Accounts, BalanceChange
from kunb.sim.core.events import BalanceEvent, Match, OrderEvent, OrderEventType, PrivateEvent
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.orderbook import Fill, OrderBook, OrderResult, Side
from kunb.sim.core.orders import OrderRequest, OrderState, TradeFill, UserOrder, parse_order
from kunb.sim.core.symbols import SymbolSpec

__all__ = ["FEE_QUANTUM", "MAX_ACTIVE_ORDERS", "Outcome", "Retention", "Trading"]

#: Fees are rounded to 12 decimals: down when charged, up when held, so a hold always covers its fills.
FEE_QUANTUM = Decimal("1e-12")
#: Active orders per user and symbol (KuCoin HF allows 2000 per pair).
MAX_ACTIVE_ORDERS = 2000
_DEFAULT_FEE_RATE = "0.001"  # KuCoin's standard spot fee (symbols' takerFeeRate/makerFeeRate)
_ZERO = Decimal(0)
_NOT_FOUND = "order_not_exist_or_not_allow_to_cancel"
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Retention:
    """How much finished history :class:`Trading` keeps per user; beyond it the oldest is forgotten.

    KuCoin lists done orders and fills only within a 7-day range (longer ranges are refused) and its
    "recent" endpoints (``/api/v1/limit/orders``, ``/api/v1/limit/fills``) return the last 1,000 of the
    past 24 h (KuCoin REST docs, Orders: "List Orders", "Recent Orders"; Fills: "List Fills", "Recent
    Fills"): that much is what a client can rely on, so that much is kept. A forgotten order answers
    like one that never existed (``400100``), as an expired one does on KuCoin.

    Attributes:
        done_orders: finished (filled or canceled) orders kept per user.
        fills: executions kept per user.
        max_age_ms: finished orders and fills older than this are forgotten too.
    """

    done_orders: int = 1_000
    fills: int = 1_000
    max_age_ms: int = 7 * _DAY_MS


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one trading call did.

    Attributes:
        events: private events, in the order KuCoin emits their pushes.
        trades: the book fills the call made (already recorded as public trades by the core).
        order: the order placed (``place``), or ``None``.
        canceled: ids of the orders cancelled (``cancel``/``cancel_all``).
    """

    events: list[PrivateEvent] = field(default_factory=list)
    trades: tuple[Fill, ...] = ()
    order: UserOrder | None = None
    canceled: tuple[str, ...] = ()


def _fee(funds: Decimal, rate: Decimal, rounding: str) -> Decimal:
    return (funds * rate).quantize(FEE_QUANTUM, rounding=rounding)


def _fee_rate(spec: SymbolSpec, liquidity: str) -> Decimal:
    # SymbolSpec's maker/taker rates (requested from the market model); KuCoin's 0.1% until they exist.
    return Decimal(getattr(spec, f"{liquidity}_fee_rate", _DEFAULT_FEE_RATE))


class Trading:
    """The user side of the exchange over the shared market core.

    Registers itself as the core's fill listener, so a fill touching a user order is settled the moment
    the book makes it, whoever placed the taker (a user, or the synthetic flow during ``core.advance``).
    Private events collect in an outbox: every call returns what is pending, and :meth:`drain_events`
    hands out what the synthetic flow produced in between.

    Args:
        accounts: users and their ledger.
        core: the market core owning the public books (:class:`~kunb.sim.core.market.ExchangeCore`).
        retention: how many finished orders and fills to keep, and how long (:class:`Retention`).
    """

    def __init__(self, accounts: Accounts, core: ExchangeCore, *, retention: Retention = Retention()) -> None:
        if retention.done_orders < 0 or retention.fills < 0 or retention.max_age_ms < 0:
            raise ConfigurationError("retention limits must be >= 0")
        self.retention = retention
        self.accounts = accounts
        self.ledger = accounts.ledger
        self.core = core
        self.specs: dict[str, SymbolSpec] = {name: m.spec for name, m in core.markets.items()}
        #: Net quantity the synthetic market maker received (negative: gave) per currency.
        self.market_flow: dict[str, Decimal] = {}
        self._orders: dict[str, UserOrder] = {}  # every order kept, by id
        self._placed: dict[str, dict[str, UserOrder]] = {}  # per user, in placement order
        self._active: dict[str, dict[str, UserOrder]] = {}  # per user, oldest first: keeps checks O(active)
        self._done: dict[str, dict[str, UserOrder]] = {}  # per user, in the order they finished
        self._fills: dict[str, deque[TradeFill]] = {}
        self._outbox: list[PrivateEvent] = []
        self._expiring: list[UserOrder] = []  # GTT orders with a cancelAfter
        self._event_seq = 0
        core.add_fill_listener(self._on_fill)

    def drain_events(self) -> list[PrivateEvent]:
        """The private events produced since the last call (fills by the synthetic flow), in order."""
        events, self._outbox = self._outbox, []
        return events

    def sizes(self) -> dict[str, int]:
        """How much is kept: orders (active and finished), finished orders, fills, pending events."""
        return {
            "orders": len(self._orders),
            "done_orders": sum(len(d) for d in list(self._done.values())),
            "fills": sum(len(f) for f in list(self._fills.values())),
            "outbox": len(self._outbox),
        }

    # -- queries ---------------------------------------------------------------------------------------

    def order(self, user_id: str, order_id: str) -> UserOrder | None:
        """The user's order with this id (another user's order is ``None``, as if it did not exist)."""
        order = self._orders.get(order_id)
        return order if order is not None and order.user_id == user_id else None

    def order_by_client_oid(self, user_id: str, client_oid: str) -> UserOrder | None:
        """The user's latest order with this clientOid."""
        for order in reversed(list(self._placed.get(user_id, {}).values())):
            if order.request.client_oid == client_oid:
                return order
        return None

    def orders(
        self, user_id: str, *, active: bool | None = None, symbol: str | None = None
    ) -> list[UserOrder]:
        """The user's orders, newest first, optionally only active/done ones of one symbol."""
        # list() copies in one C call: a notebook thread may read while the exchange's thread trades.
        if active:
            candidates = list(self._active.get(user_id, {}).values())
        else:
            candidates = list(self._placed.get(user_id, {}).values())
        return [
            o
            for o in reversed(candidates)
            if (active is None or o.active == active) and (symbol is None or o.symbol == symbol)
        ]

    def fills(
        self, user_id: str, *, symbol: str | None = None, order_id: str | None = None
    ) -> list[TradeFill]:
        """The user's executions, newest first."""
        return [
            f
            for f in reversed(list(self._fills.get(user_id, ())))
            if (symbol is None or f.symbol == symbol) and (order_id is None or f.order_id == order_id)
        ]

    # -- placing ---------------------------------------------------------------------------------------

    def place(
        self, user_id: str, params: Mapping[str, Any], *, now_ns: int, order_id: str | None = None
    ) -> Outcome:
        """Validate, hold, match and rest one order.

        Args:
            user_id: the (authenticated) owner.
            params: the request body as decoded JSON.
            now_ns: the exchange clock.
            order_id: the id to give the order; default a fresh one from the core.

        Returns:
            The outcome: the order, its fills (already on the public tape) and every pending event.

        Raises:
            OrderError: 400100/900001 for bad parameters, 200004 for insufficient balance, 200003 for too
                many active orders. Nothing changed when it raises.
        """
        request = parse_order(params, self.specs)
        spec = self.specs[request.symbol]
        book = self.core.market(request.symbol).book
        active = self._active.get(user_id, {}).values()
        if request.client_oid and any(o.request.client_oid == request.client_oid for o in active):
            raise OrderError("400100", "The clientOid already exists in an active order.", 400)
        if sum(o.symbol == request.symbol for o in active) >= MAX_ACTIVE_ORDERS:
            raise OrderError("200003", f"Exceeded the limit of {MAX_ACTIVE_ORDERS} active orders.", 200)
        hold_currency, hold = self._hold_for(request, spec, book)
        order_id = order_id or self.core.new_order_id()
        now_ms = now_ns // 1_000_000
        order = UserOrder(
            order_id=order_id,
            user_id=user_id,
            request=request,
            created_ms=now_ms,
            updated_ms=now_ms,
            hold_currency=hold_currency,
            hold_left=hold,
            fee_currency=spec.quote,
        )
        context = {"symbol": request.symbol, "orderId": order_id}
        change = self.ledger.hold(user_id, hold_currency, hold, context)  # raises 200004: nothing changed yet
        self._orders[order_id] = order
        self._placed.setdefault(user_id, {})[order_id] = order
        self._active.setdefault(user_id, {})[order_id] = order
        self._balance(change, now_ms)
        self._outbox.append(OrderEvent.of(order, OrderEventType.RECEIVED, ts_ns=now_ns))
        result = self._submit(request, spec, order_id, user_id, now_ns)  # fills settle in _on_fill
        if result.resting is not None:
            order.state = OrderState.OPEN
            self._outbox.append(OrderEvent.of(order, OrderEventType.OPEN, ts_ns=now_ns))
            if request.cancel_after > 0:
                self._expiring.append(order)
        elif order.active:
            self._finish(order, now_ns)
        return Outcome(self.drain_events(), result.fills, order)

    def _hold_for(self, request: OrderRequest, spec: SymbolSpec, book: OrderBook) -> tuple[str, Decimal]:
        # Hold the larger of the two rates: a resting order may fill as maker or as taker.
        rate = max(_fee_rate(spec, "taker"), _fee_rate(spec, "maker"))
        if request.side is Side.SELL:
            if request.size is not None:
                return spec.base, request.size
            # Market sell by funds: exactly the base the bids will take (same walk as the book's).
            assert request.funds is not None
            notional_left, lots = spec.to_notional(request.funds), 0
            for price, size in book.depth(Side.BUY):
                take = min(notional_left // price, size)
                if take <= 0:
                    break
                lots += take
                notional_left -= take * price
            return spec.base, Decimal(spec.size_str(lots))
        if request.type == "limit":
            assert request.price is not None and request.size is not None
            funds = request.price * request.size
        elif request.funds is not None:
            funds = request.funds
        else:
            # Market buy by size: exactly what the asks cost.
            assert request.size is not None
            lots, notional = spec.to_lots(request.size), 0
            for price, size in book.depth(Side.SELL):
                take = min(lots, size)
                notional += take * price
                lots -= take
                if not lots:
                    break
            funds = Decimal(spec.funds_str(notional))
        return spec.quote, funds + _fee(funds, rate, ROUND_UP)

    def _submit(
        self, request: OrderRequest, spec: SymbolSpec, order_id: str, user_id: str, now_ns: int
    ) -> OrderResult:
        if request.type == "limit":
            assert request.price is not None and request.size is not None
            return self.core.place_limit(
                request.symbol,
                request.side,
                spec.to_ticks(request.price),
                spec.to_lots(request.size),
                owner=user_id,
                now_ns=now_ns,
                order_id=order_id,
                time_in_force=request.time_in_force,
                post_only=request.post_only,
            )
        if request.size is not None:
            size, funds = spec.to_lots(request.size), None
        else:
            assert request.funds is not None
            size, funds = None, spec.to_notional(request.funds)
            if funds <= 0:
                return OrderResult(order_id, request.side, user_id, (), None, 0, funds_left=0)
        return self.core.place_market(
            request.symbol,
            request.side,
            owner=user_id,
            now_ns=now_ns,
            size=size,
            funds=funds,
            order_id=order_id,
        )

    # -- cancelling ------------------------------------------------------------------------------------

    def cancel(self, user_id: str, order_id: str, *, now_ns: int) -> Outcome:
        """Cancel one of the user's resting orders.

        Raises:
            OrderError: 400100 ``order_not_exist_or_not_allow_to_cancel`` for an unknown, done or
                foreign order.
        """
        order = self.order(user_id, order_id)
        if order is None or not order.active:
            raise OrderError("400100", _NOT_FOUND, 400)
        self._cancel(order, now_ns)
        return Outcome(self.drain_events(), (), None, (order_id,))

    def cancel_all(self, user_id: str, *, now_ns: int, symbol: str | None = None) -> Outcome:
        """Cancel every active order of the user (of one symbol when given), oldest first."""
        ids = []
        for order in reversed(self.orders(user_id, active=True, symbol=symbol)):
            self._cancel(order, now_ns)
            ids.append(order.order_id)
        return Outcome(self.drain_events(), (), None, tuple(ids))

    def expire(self, now_ns: int) -> Outcome:
        """Time passes: cancel the GTT orders whose ``cancelAfter`` seconds are over, and forget finished
        orders and fills older than :attr:`Retention.max_age_ms` (call it as time goes by)."""
        now_ms, ids, keep = now_ns // 1_000_000, [], []
        for order in self._expiring:
            if not order.active:
                continue
            if order.created_ms + order.request.cancel_after * 1000 <= now_ms:
                self._cancel(order, now_ns)
                ids.append(order.order_id)
            else:
                keep.append(order)
        self._expiring = keep
        self._forget_older_than(now_ms - self.retention.max_age_ms)
        return Outcome(self.drain_events(), (), None, tuple(ids))

    def _cancel(self, order: UserOrder, now_ns: int) -> None:
        self.core.cancel(order.symbol, order.order_id)
        self._finish(order, now_ns)

    # -- settlement -----------------------------------------------------------------------------------

    def _on_fill(self, symbol: str, fill: Fill, now_ns: int) -> None:
        """The core's fill listener: settle each user side of one fill, the market maker's flow otherwise."""
        spec = self.specs[symbol]
        price, size = Decimal(spec.price_str(fill.price)), Decimal(spec.size_str(fill.size))
        trade_id = str(fill.sequence)
        taker, maker = fill.taker_order_id, fill.maker_order_id
        sides = (
            (taker, fill.taker_owner, fill.taker_side, "taker", maker),
            (maker, fill.maker_owner, fill.taker_side.opposite, "maker", taker),
        )
        for order_id, owner, side, liquidity, counter in sides:
            order = self._orders.get(order_id) if owner is not None else None
            if order is None:
                self._market_side(spec, side, price, size)
            else:
                self._settle(order, spec, price, size, liquidity, trade_id, counter, now_ns)

    def _market_side(self, spec: SymbolSpec, side: Side, price: Decimal, size: Decimal) -> None:
        sign = 1 if side is Side.BUY else -1
        flow = self.market_flow
        flow[spec.base] = flow.get(spec.base, _ZERO) + sign * size
        flow[spec.quote] = flow.get(spec.quote, _ZERO) - sign * price * size

    def _settle(
        self,
        order: UserOrder,
        spec: SymbolSpec,
        price: Decimal,
        size: Decimal,
        liquidity: str,
        trade_id: str,
        counter_order_id: str,
        now_ns: int,
    ) -> None:
        now_ms = now_ns // 1_000_000
        rate = _fee_rate(spec, liquidity)
        funds = price * size
        fee = _fee(funds, rate, ROUND_DOWN)
        context = {"symbol": spec.symbol, "orderId": order.order_id, "tradeId": trade_id}
        user = order.user_id
        if order.side is Side.BUY:
            cost = funds + fee
            quote = self.ledger.settle(user, spec.quote, from_hold=cost, credit=_ZERO, context=context)
            base = self.ledger.settle(user, spec.base, from_hold=_ZERO, credit=size, context=context)
            order.hold_left -= cost
        else:
            base = self.ledger.settle(user, spec.base, from_hold=size, credit=_ZERO, context=context)
            quote = self.ledger.settle(user, spec.quote, from_hold=_ZERO, credit=funds - fee, context=context)
            order.hold_left -= size
        self.ledger.collect_fee(spec.quote, fee)
        order.filled_size += size
        order.deal_funds += funds
        order.fee += fee
        order.updated_ms = now_ms
        fills = self._fills.get(user)
        if fills is None:
            fills = self._fills[user] = deque(maxlen=self.retention.fills)
        fills.append(
            TradeFill(
                trade_id=trade_id,
                order_id=order.order_id,
                counter_order_id=counter_order_id,
                symbol=spec.symbol,
                side=order.side,
                liquidity=liquidity,
                price=price,
                size=size,
                funds=funds,
                fee=fee,
                fee_rate=rate,
                fee_currency=spec.quote,
                order_type=order.request.type,
                created_ms=now_ms,
            )
        )
        match = Match(trade_id, price, size, liquidity, fee)
        self._outbox.append(OrderEvent.of(order, OrderEventType.MATCH, ts_ns=now_ns, match=match))
        self._balance(base, now_ms)
        self._balance(quote, now_ms)
        # A user maker is done when its last lot fills; a taker is closed by place() after matching.
        if liquidity == "maker" and order.remain_size <= 0:
            self._finish(order, now_ns)

    def _finish(self, order: UserOrder, now_ns: int) -> None:
        """Close an order: ``filled`` when nothing is left, else ``canceled``; release what it still holds."""
        request = order.request
        if request.size is not None:
            order.canceled_size = request.size - order.filled_size
        elif request.funds is not None:
            order.canceled_funds = request.funds - order.deal_funds
        # A market order by funds is filled when the book could not give it a further lot.
        filled = order.canceled_size == 0 and (request.funds is None or order.filled_size > 0)
        order.state = OrderState.DONE
        self._active[order.user_id].pop(order.order_id, None)
        order.updated_ms = now_ns // 1_000_000
        done = self._done.setdefault(order.user_id, {})
        done[order.order_id] = order
        while len(done) > self.retention.done_orders:
            self._forget(done.pop(next(iter(done))))
        kind = OrderEventType.FILLED if filled else OrderEventType.CANCELED
        self._outbox.append(OrderEvent.of(order, kind, ts_ns=now_ns))
        if order.hold_left:
            context = {"symbol": order.symbol, "orderId": order.order_id}
            change = self.ledger.release(order.user_id, order.hold_currency, order.hold_left, context)
            order.hold_left = _ZERO
            self._balance(change, order.updated_ms)

    # -- retention ------------------------------------------------------------------------------------

    def _forget(self, order: UserOrder) -> None:
        """Drop a finished order from every index (it answers as unknown from now on)."""
        self._orders.pop(order.order_id, None)
        placed = self._placed.get(order.user_id)
        if placed is not None:
            placed.pop(order.order_id, None)

    def _forget_older_than(self, cutoff_ms: int) -> None:
        for done in self._done.values():
            while done:
                oldest = next(iter(done.values()))
                if oldest.updated_ms >= cutoff_ms:
                    break
                self._forget(done.pop(oldest.order_id))
        for fills in self._fills.values():
            while fills and fills[0].created_ms < cutoff_ms:
                fills.popleft()

    def _balance(self, change: BalanceChange, now_ms: int) -> None:
        if not change.available_change and not change.hold_change:
            return
        self._event_seq += 1
        self._outbox.append(BalanceEvent(change, f"{now_ms}{self._event_seq:06d}", now_ms))
