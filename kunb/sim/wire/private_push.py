"""Classic private push frames: ``/account/balance`` and ``/spotMarket/tradeOrders[V2]`` from core events.

Pure: frames are built from the core's frozen :mod:`~kunb.sim.core.events`. Shapes, field
names and JSON types follow ``classic-protocol.md#private-channels`` and its
"Universal SDK" section: every decimal is a
string, balance ``time`` is a string of ms, ``orderTime`` ms and ``ts`` ns are numbers, and ``received``
exists only on V2 (the universal SDK's V1 parser rejects it). Each frame is addressed to one user.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from kunb.sim.core.accounts import format_decimal
from kunb.sim.core.events import BalanceEvent, OrderEvent, OrderEventType, PrivateEvent
from kunb.sim.core.orders import OrderState

__all__ = [
    "BALANCE_TOPIC",
    "ORDERS_TOPIC",
    "ORDERS_V2_TOPIC",
    "PRIVATE_TOPICS",
    "Push",
    "balance_frame",
    "frames",
    "order_frames",
]

BALANCE_TOPIC = "/account/balance"
ORDERS_TOPIC = "/spotMarket/tradeOrders"
ORDERS_V2_TOPIC = "/spotMarket/tradeOrdersV2"
#: Topics that need a private token (classic-protocol.md#private-channels); none takes arguments.
PRIVATE_TOPICS: frozenset[str] = frozenset(
    {BALANCE_TOPIC, ORDERS_TOPIC, ORDERS_V2_TOPIC, "/spotMarket/advancedOrders"}
)

# Events that close an order: their status is "done" (classic-protocol.md#private-channels table).
_DONE_EVENTS = (OrderEventType.FILLED, OrderEventType.CANCELED)


class Push(NamedTuple):
    """One frame for one user's connections subscribed to ``topic``."""

    user_id: str
    topic: str
    message: dict[str, Any]


def _envelope(user_id: str, topic: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "topic": topic,
        "subject": subject,
        "userId": user_id,
        "channelType": "private",
        "data": data,
    }


def balance_frame(event: BalanceEvent) -> Push:
    """The ``/account/balance`` push for one ledger change (``trade.hold``, ``trade.setted``...)."""
    change, event_id, time_ms = event.change, event.event_id, event.time_ms
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


def _order_data(event: OrderEvent) -> dict[str, Any]:
    request, match = event.request, event.match
    kind = event.type
    if kind is OrderEventType.RECEIVED:
        status = "new"
    elif kind in _DONE_EVENTS:
        status = "done"
    elif kind is OrderEventType.MATCH:
        # A taker's fills report "match", a resting maker's "open" (classic-protocol.md#private-channels).
        status = "match" if match is not None and match.liquidity == "taker" else "open"
    else:
        status = "done" if event.state is OrderState.DONE else "open"
    data: dict[str, Any] = {
        "symbol": request.symbol,
        "orderType": request.type,
        "side": request.side.value,
        "orderId": event.order_id,
        "type": kind.value,
        "orderTime": event.created_ms,
        # The universal SDK's V1 model requires ``size``: always sent (the filled size for market-by-funds).
        "size": format_decimal(event.size),
        "originSize": format_decimal(event.size),
        "filledSize": format_decimal(event.filled_size),
        "remainSize": format_decimal(event.remain_size),
        "canceledSize": format_decimal(event.canceled_size),
        "clientOid": request.client_oid,
        "status": status,
        "ts": event.ts_ns,
    }
    if request.price is not None:
        data["price"] = format_decimal(request.price)
    if request.funds is not None:
        data["originFunds"] = format_decimal(request.funds)
        remain = Decimal(0) if event.state is OrderState.DONE else request.funds - event.deal_funds
        data["remainFunds"] = format_decimal(remain)
        data["canceledFunds"] = format_decimal(event.canceled_funds)
    if match is not None:
        data.update(
            matchPrice=format_decimal(match.price),
            matchSize=format_decimal(match.size),
            tradeId=match.trade_id,
            liquidity=match.liquidity,
            feeType=f"{match.liquidity}Fee",
        )
    return data


def order_frames(event: OrderEvent) -> list[Push]:
    """The ``orderChange`` pushes for one order event, for V1 and V2 (``received`` goes to V2 only)."""
    data = _order_data(event)
    topics = (ORDERS_V2_TOPIC,) if event.type is OrderEventType.RECEIVED else (ORDERS_TOPIC, ORDERS_V2_TOPIC)
    return [
        Push(event.user_id, topic, _envelope(event.user_id, topic, "orderChange", dict(data)))
        for topic in topics
    ]


def frames(events: Iterable[PrivateEvent]) -> list[Push]:
    """Every push of ``events``, in order."""
    out: list[Push] = []
    for event in events:
        if isinstance(event, BalanceEvent):
            out.append(balance_frame(event))
        else:
            out.extend(order_frames(event))
    return out
