"""Private push frames of the embedded exchange: ``/account/balance`` and ``/spotMarket/tradeOrders[V2]``.

Pure: frames are built from ledger changes and order records, with the time passed in. Shapes, field
names and JSON types follow ``kucoin-protocol.md`` 2.3 and its "Universal SDK" section: every decimal is a
string, balance ``time`` is a string of ms, ``orderTime`` ms and ``ts`` ns are numbers, and ``received``
exists only on V2 (the universal SDK's V1 parser rejects it). Each frame is addressed to one user.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from .accounts import BalanceChange, format_decimal
from .orders import OrderState, UserOrder

__all__ = [
    "BALANCE_TOPIC",
    "ORDERS_TOPIC",
    "ORDERS_V2_TOPIC",
    "PRIVATE_TOPICS",
    "Match",
    "Push",
    "balance_frame",
    "order_frames",
]

BALANCE_TOPIC = "/account/balance"
ORDERS_TOPIC = "/spotMarket/tradeOrders"
ORDERS_V2_TOPIC = "/spotMarket/tradeOrdersV2"
#: Topics that need a private token (kucoin-protocol.md 2.3); none takes arguments.
PRIVATE_TOPICS: frozenset[str] = frozenset(
    {BALANCE_TOPIC, ORDERS_TOPIC, ORDERS_V2_TOPIC, "/spotMarket/advancedOrders"}
)

# Events that close an order: their status is "done" (kucoin-protocol.md 2.3 table).
_DONE_EVENTS = ("filled", "canceled")


class Push(NamedTuple):
    """One frame for one user's connections subscribed to ``topic``."""

    user_id: str
    topic: str
    message: dict[str, Any]


class Match(NamedTuple):
    """The execution a ``match`` event reports."""

    trade_id: str
    price: Decimal
    size: Decimal
    liquidity: str  # "taker" | "maker"


def _envelope(user_id: str, topic: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "topic": topic,
        "subject": subject,
        "userId": user_id,
        "channelType": "private",
        "data": data,
    }


def balance_frame(change: BalanceChange, *, event_id: str, time_ms: int) -> Push:
    """The ``/account/balance`` push for one ledger change (``trade.hold``, ``trade.setted``...)."""
    data = {
        "accountId": change.account.id,
        "currency": change.currency,
        "total": format_decimal(change.total),
        "available": format_decimal(change.available),
        "hold": format_decimal(change.hold),
        "availableChange": format_decimal(change.available_change),
        "holdChange": format_decimal(change.hold_change),
        "relationContext": dict(change.context),
        "relationEvent": change.relation_event,
        "relationEventId": event_id,
        "time": str(time_ms),
    }
    message = _envelope(change.user_id, BALANCE_TOPIC, "account.balance", data)
    message["id"] = event_id
    return Push(change.user_id, BALANCE_TOPIC, message)


def _order_data(order: UserOrder, event: str, ts_ns: int, match: Match | None) -> dict:
    request = order.request
    if event == "received":
        status = "new"
    elif event in _DONE_EVENTS:
        status = "done"
    elif event == "match":
        # A taker's fills report "match", a resting maker's "open" (kucoin-protocol.md 2.3).
        status = "match" if match is not None and match.liquidity == "taker" else "open"
    else:
        status = "done" if order.state is OrderState.DONE else "open"
    data: dict[str, Any] = {
        "symbol": request.symbol,
        "orderType": request.type,
        "side": request.side.value,
        "orderId": order.order_id,
        "type": event,
        "orderTime": order.created_ms,
        # The universal SDK's V1 model requires ``size``: always sent (the filled size for market-by-funds).
        "size": format_decimal(order.size),
        "originSize": format_decimal(order.size),
        "filledSize": format_decimal(order.filled_size),
        "remainSize": format_decimal(order.remain_size),
        "canceledSize": format_decimal(order.canceled_size),
        "clientOid": request.client_oid,
        "status": status,
        "ts": ts_ns,
    }
    if request.price is not None:
        data["price"] = format_decimal(request.price)
    if request.funds is not None:
        data["originFunds"] = format_decimal(request.funds)
        spent = order.deal_funds
        remain = Decimal(0) if order.state is OrderState.DONE else request.funds - spent
        data["remainFunds"] = format_decimal(remain)
        data["canceledFunds"] = format_decimal(order.canceled_funds)
    if match is not None:
        data.update(
            matchPrice=format_decimal(match.price),
            matchSize=format_decimal(match.size),
            tradeId=match.trade_id,
            liquidity=match.liquidity,
            feeType=f"{match.liquidity}Fee",
        )
    return data


def order_frames(
    order: UserOrder,
    event: str,
    *,
    ts_ns: int,
    match: Match | None = None,
) -> list[Push]:
    """The ``orderChange`` pushes for one order event, for V1 and V2 (``received`` goes to V2 only).

    Args:
        order: the order, already updated by the event.
        event: ``received``, ``open``, ``match``, ``filled`` or ``canceled`` (the exchange has no order
            amendment, so it never emits KuCoin's ``update``).
        ts_ns: the matching engine's time of the event, ns.
        match: the execution, for ``match`` events.
    """
    data = _order_data(order, event, ts_ns, match)
    topics = (ORDERS_V2_TOPIC,) if event == "received" else (ORDERS_TOPIC, ORDERS_V2_TOPIC)
    return [
        Push(order.user_id, topic, _envelope(order.user_id, topic, "orderChange", dict(data)))
        for topic in topics
    ]
