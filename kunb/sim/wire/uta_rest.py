"""JSON shapes of the embedded exchange's UTA REST answers (pure): order book, balances, orders, pages.

The answers ccxt 4.5's UTA mode and kunb's UTA client read (``uta-kunb.md#uta-rest``): the signed
``/api/ua/v1|v2/market/orderbook``, ``/api/ua/v1/{accountMode}/account/balance``, the order lists, one
order, and the answers to placing and cancelling. Orders carry UTA's ``status`` (the push's ``os``,
:func:`~kunb.sim.wire.uta_private.order_status`), ``orderTime``/``updatedTime`` in ns and ``filledSize`` in
the base currency (also for orders by funds, as the pushes' ``fS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from kunb.sim.core.accounts import Balance, format_decimal
from kunb.sim.core.market import Market
from kunb.sim.core.orderbook import Side
from kunb.sim.core.orders import UserOrder
from kunb.sim.wire.uta_private import average_price, order_status

__all__ = ["balance_answer", "order_item", "orderbook", "page"]

_ZERO = Decimal(0)


def orderbook(market: Market, depth: int | None) -> dict[str, Any]:
    """``data`` of ``GET /api/ua/v1/market/orderbook`` (uta-protocol.md#order-book-sync): the book's
    ``sequence`` as a string, ``depth`` levels per side (``None``: the whole book)."""
    spec, book = market.spec, market.book
    return {
        "tradeType": "SPOT",
        "symbol": spec.symbol,
        "sequence": str(book.sequence),
        "bids": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.BUY, depth)],
        "asks": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.SELL, depth)],
    }


def balance_answer(account_type: str, balances: Iterable[tuple[str, Balance]], ts_ms: int) -> dict[str, Any]:
    """``data`` of the UTA balance endpoints: one account holding every currency of the type."""
    currencies = [
        {
            "currency": currency,
            "equity": format_decimal(balance.total),
            "hold": format_decimal(balance.hold),
            "balance": format_decimal(balance.total),
            "available": format_decimal(balance.available),
            "liability": "0",
        }
        for currency, balance in balances
    ]
    return {"accountType": account_type, "ts": ts_ms, "accounts": [{"currencies": currencies}]}


def order_item(order: UserOrder) -> dict[str, Any]:
    """One UTA order (``/order/detail`` and the items of ``/order/open-list`` and ``/order/history``)."""
    request = order.request
    by_funds = request.size is None
    quantity = request.funds if by_funds else request.size
    status = order_status(order.state, order.filled_size, order.canceled_size, by_funds)
    return {
        "orderId": order.order_id,
        "clientOid": request.client_oid,
        "symbol": request.symbol,
        "tradeType": "SPOT",
        "orderType": request.type.upper(),
        "side": request.side.value.upper(),
        "size": format_decimal(quantity if quantity is not None else _ZERO),
        "sizeUnit": "QUOTECCY" if by_funds else "BASECCY",
        "price": "" if request.price is None else format_decimal(request.price),
        "timeInForce": request.time_in_force.value,
        "tags": request.remark,
        "orderTime": order.created_ms * 1_000_000,
        "updatedTime": order.updated_ms * 1_000_000,
        "stp": request.stp,
        "cancelAfter": request.cancel_after if request.cancel_after > 0 else None,
        "postOnly": request.post_only,
        "reduceOnly": False,
        "triggerDirection": "",
        "triggerPrice": "",
        "triggerPriceType": "",
        "tpTriggerPrice": "",
        "tpTriggerPriceType": "",
        "slTriggerPrice": "",
        "slTriggerPriceType": "",
        "filledSize": format_decimal(order.filled_size),
        "avgPrice": average_price(order.filled_size, order.deal_funds),
        "fee": format_decimal(order.fee),
        "feeCurrency": order.fee_currency,
        "tax": "0",
        "triggerOrderId": "",
        "cancelReason": "USER" if status in (5, 6) else "",
        "cancelSize": format_decimal(order.canceled_size),
        "tradeId": "",
        "status": status,
    }


def page(items: Sequence[dict[str, Any]], page_number: int, page_size: int) -> dict[str, Any]:
    """A page of UTA orders: ``pageNumber``, ``pageSize``, ``totalNum``, ``totalPage``, ``items``."""
    total = len(items)
    start = (page_number - 1) * page_size
    return {
        "tradeType": "SPOT",
        "pageNumber": page_number,
        "pageSize": page_size,
        "totalNum": total,
        "totalPage": max((total + page_size - 1) // page_size, 1),
        "items": list(items[start : start + page_size]),
    }
