"""Private events of the exchange core: what happened to one user's order or balance, frozen at that moment.

Pure. :class:`~kunb.sim.core.trading.Trading` emits them in the order KuCoin sends the matching pushes
(``classic-protocol.md#private-channels``); the wire layer turns each into
frames of each protocol (classic: :mod:`kunb.sim.wire.private_push`; UTA:
:mod:`kunb.sim.wire.uta_private`), so the core never knows a topic name or a JSON field. An order event
copies the order's numbers when it happens: later fills of the same order do not change it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from kunb.sim.core.accounts import BalanceChange
from kunb.sim.core.orders import OrderRequest, OrderState, UserOrder

__all__ = ["BalanceEvent", "Match", "OrderEvent", "OrderEventType", "PrivateEvent"]


class OrderEventType(enum.StrEnum):
    """KuCoin's order event words (the exchange has no amendment, so never ``update``)."""

    RECEIVED = "received"
    OPEN = "open"
    MATCH = "match"
    FILLED = "filled"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class Match:
    """The execution a ``match`` event reports."""

    trade_id: str
    price: Decimal
    size: Decimal
    liquidity: str  # "taker" | "maker"
    fee: Decimal = Decimal(0)  # this execution's fee, in the quote currency (UTA's execution push has it)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One order event with the order's state and amounts right after it."""

    type: OrderEventType
    user_id: str
    order_id: str
    request: OrderRequest
    created_ms: int
    state: OrderState
    size: Decimal
    filled_size: Decimal
    remain_size: Decimal
    canceled_size: Decimal
    deal_funds: Decimal
    canceled_funds: Decimal
    ts_ns: int
    match: Match | None = None
    fee: Decimal = Decimal(0)  # fees paid so far (UTA order pushes carry them: ``f``/``fC``)
    fee_currency: str = ""

    @classmethod
    def of(
        cls, order: UserOrder, event: OrderEventType, *, ts_ns: int, match: Match | None = None
    ) -> OrderEvent:
        """Freeze ``order`` (already updated by the event) into an event."""
        return cls(
            type=event,
            user_id=order.user_id,
            order_id=order.order_id,
            request=order.request,
            created_ms=order.created_ms,
            state=order.state,
            size=order.size,
            filled_size=order.filled_size,
            remain_size=order.remain_size,
            canceled_size=order.canceled_size,
            deal_funds=order.deal_funds,
            canceled_funds=order.canceled_funds,
            ts_ns=ts_ns,
            match=match,
            fee=order.fee,
            fee_currency=order.fee_currency,
        )


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """One ledger change of one user, with KuCoin's ``relationEventId`` and the time it happened."""

    change: BalanceChange
    event_id: str
    time_ms: int

    @property
    def user_id(self) -> str:
        return self.change.user_id


PrivateEvent = OrderEvent | BalanceEvent
