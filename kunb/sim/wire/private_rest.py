"""JSON shapes of the embedded exchange's private REST answers: accounts, orders, fills, pages (pure).

Field names and JSON types follow ``classic-protocol.md#endpoints``
(decimals as strings, ``createdAt`` ms as a
number). One order view serves the classic and the HF endpoints: it carries both vocabularies
(``isActive``/``cancelExist`` and ``active``/``inOrderBook``/``remainSize``/``cancelledSize``...).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kunb.sim.core.accounts import Account, Balance, format_decimal
from kunb.sim.core.orders import OrderState, TradeFill, UserOrder

__all__ = ["account_item", "fill_item", "order_item", "page"]

_ZERO = Decimal(0)


def account_item(account: Account, balance: Balance) -> dict[str, Any]:
    """One element of ``GET /api/v1/accounts`` (``holds`` here, ``hold`` in the WS push)."""
    return {
        "id": account.id,
        "currency": account.currency,
        "type": account.type,
        "balance": format_decimal(balance.total),
        "available": format_decimal(balance.available),
        "holds": format_decimal(balance.hold),
    }


def order_item(order: UserOrder) -> dict[str, Any]:
    """``GET /api/v1/orders/{id}`` and one element of the order lists."""
    request = order.request
    funds = request.funds if request.funds is not None else _ZERO
    remain_funds = (
        _ZERO if order.state is OrderState.DONE or request.funds is None else funds - order.deal_funds
    )
    return {
        "id": order.order_id,
        "symbol": request.symbol,
        "opType": "DEAL",
        "type": request.type,
        "side": request.side.value,
        "price": format_decimal(request.price if request.price is not None else _ZERO),
        "size": format_decimal(request.size if request.size is not None else _ZERO),
        "funds": format_decimal(funds),
        "dealFunds": format_decimal(order.deal_funds),
        "dealSize": format_decimal(order.filled_size),
        "fee": format_decimal(order.fee),
        "feeCurrency": order.fee_currency,
        "stp": request.stp,
        "stop": "",
        "stopTriggered": False,
        "stopPrice": "0",
        "timeInForce": request.time_in_force.value,
        "postOnly": request.post_only,
        "hidden": request.hidden,
        "iceberg": request.iceberg,
        "visibleSize": format_decimal(request.visible_size),
        "cancelAfter": max(request.cancel_after, 0),
        "channel": "API",
        "clientOid": request.client_oid,
        "remark": request.remark or None,
        "tags": None,
        "isActive": order.active,
        "cancelExist": bool(order.canceled_size or order.canceled_funds),
        "createdAt": order.created_ms,
        "tradeType": "TRADE",
        # HF vocabulary (GET /api/v1/hf/orders/...)
        "active": order.active,
        "inOrderBook": order.state is OrderState.OPEN,
        "remainSize": format_decimal(order.remain_size),
        "remainFunds": format_decimal(remain_funds),
        "cancelledSize": format_decimal(order.canceled_size),
        "cancelledFunds": format_decimal(order.canceled_funds),
        "lastUpdatedAt": order.updated_ms,
    }


def fill_item(fill: TradeFill) -> dict[str, Any]:
    """One element of ``GET /api/v1/fills``."""
    return {
        "symbol": fill.symbol,
        "tradeId": fill.trade_id,
        "orderId": fill.order_id,
        "counterOrderId": fill.counter_order_id,
        "side": fill.side.value,
        "liquidity": fill.liquidity,
        "forceTaker": False,
        "price": format_decimal(fill.price),
        "size": format_decimal(fill.size),
        "funds": format_decimal(fill.funds),
        "fee": format_decimal(fill.fee),
        "feeRate": format_decimal(fill.fee_rate),
        "feeCurrency": fill.fee_currency,
        "stop": "",
        "tradeType": "TRADE",
        "type": fill.order_type,
        "createdAt": fill.created_ms,
    }


def page(items: Sequence[dict[str, Any]], current_page: int, page_size: int) -> dict[str, Any]:
    """KuCoin's paginated ``data``: ``currentPage``, ``pageSize``, ``totalNum``, ``totalPage``, ``items``."""
    total = len(items)
    start = (current_page - 1) * page_size
    return {
        "currentPage": current_page,
        "pageSize": page_size,
        "totalNum": total,
        "totalPage": (total + page_size - 1) // page_size,
        "items": list(items[start : start + page_size]),
    }
