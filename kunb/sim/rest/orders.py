"""The embedded exchange's signed order endpoints: place, cancel, list and get orders, and fills.

Classic (``/api/v1/orders``) and HF (``/api/v1/hf/orders``) shapes as in
``classic-protocol.md#endpoints``; every
handler reads and changes only the signing user's orders (another user's order id does not exist for it).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kunb.exceptions import ApiError, OrderError
from kunb.sim.core.accounts import User
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import ok
from kunb.sim.rest.signed import json_object, now_ns, page_params, publish
from kunb.sim.wire.private_rest import fill_item, order_item, page

__all__ = [
    "cancel_all",
    "cancel_all_hf",
    "cancel_by_client_oid",
    "cancel_by_client_oid_hf",
    "cancel_order",
    "cancel_order_hf",
    "get_order",
    "get_order_by_client_oid",
    "list_fills",
    "list_fills_hf",
    "list_orders",
    "list_orders_hf_active",
    "list_orders_hf_done",
    "place_order",
    "place_order_hf",
    "recent_fills",
]

_NOT_FOUND = "order_not_exist_or_not_allow_to_cancel"


async def place_order(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/orders`` (classic): ``{"orderId": ...}``."""
    outcome = backend(request).trading.place(user.user_id, json_object(body), now_ns=now_ns(request))
    publish(request, outcome.events)
    assert outcome.order is not None
    return ok({"orderId": outcome.order.order_id})


async def place_order_hf(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/hf/orders``: ``{"orderId", "clientOid"}``; insufficient balance is 230003 (HF)."""
    try:
        outcome = backend(request).trading.place(user.user_id, json_object(body), now_ns=now_ns(request))
    except OrderError as exc:
        if exc.code == "200004":
            raise OrderError("230003", "Balance insufficient!", exc.status) from None
        raise
    publish(request, outcome.events)
    assert outcome.order is not None
    return ok({"orderId": outcome.order.order_id, "clientOid": outcome.order.request.client_oid})


def _cancel(request: Request, user: User, order_id: str) -> tuple[str, ...]:
    symbol = request.query_params.get("symbol")
    trading = backend(request).trading
    order = trading.order(user.user_id, order_id)
    if order is not None and symbol and order.symbol != symbol:
        raise OrderError("400100", _NOT_FOUND, 400)
    outcome = trading.cancel(user.user_id, order_id, now_ns=now_ns(request))
    publish(request, outcome.events)
    return outcome.canceled


def _order_id_by_client_oid(request: Request, user: User) -> str:
    order = backend(request).trading.order_by_client_oid(user.user_id, request.path_params["clientOid"])
    if order is None:
        raise OrderError("400100", _NOT_FOUND, 400)
    return order.order_id


async def cancel_order(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/orders/{orderId}``: ``{"cancelledOrderIds": [...]}``."""
    return ok({"cancelledOrderIds": list(_cancel(request, user, request.path_params["orderId"]))})


async def cancel_order_hf(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/hf/orders/{orderId}?symbol=``: ``{"orderId": ...}``."""
    return ok({"orderId": _cancel(request, user, request.path_params["orderId"])[0]})


async def cancel_by_client_oid(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/order/client-order/{clientOid}``."""
    order_id = _order_id_by_client_oid(request, user)
    _cancel(request, user, order_id)
    return ok({"cancelledOrderId": order_id, "clientOid": request.path_params["clientOid"]})


async def cancel_by_client_oid_hf(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/hf/orders/client-order/{clientOid}?symbol=``."""
    _cancel(request, user, _order_id_by_client_oid(request, user))
    return ok({"clientOid": request.path_params["clientOid"]})


async def cancel_all(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/orders[?symbol=]``: ``{"cancelledOrderIds": [...]}``."""
    symbol = request.query_params.get("symbol") or None
    outcome = backend(request).trading.cancel_all(user.user_id, now_ns=now_ns(request), symbol=symbol)
    publish(request, outcome.events)
    return ok({"cancelledOrderIds": list(outcome.canceled)})


async def cancel_all_hf(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/hf/orders?symbol=``: ``"success"``."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ApiError("400100", "symbol is required", 400)
    outcome = backend(request).trading.cancel_all(user.user_id, now_ns=now_ns(request), symbol=symbol)
    publish(request, outcome.events)
    return ok("success")


def _filtered_orders(request: Request, user: User, *, active: bool | None) -> list[dict[str, Any]]:
    query = request.query_params
    side, kind = query.get("side"), query.get("type")
    start, end = query.get("startAt"), query.get("endAt")
    orders = backend(request).trading.orders(user.user_id, active=active, symbol=query.get("symbol") or None)
    return [
        order_item(o)
        for o in orders
        if (not side or o.side.value == side)
        and (not kind or o.request.type == kind)
        and (not start or not start.isdigit() or o.created_ms >= int(start))
        and (not end or not end.isdigit() or o.created_ms <= int(end))
    ]


async def list_orders(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/orders?status=active|done`` (default done), paginated."""
    status = request.query_params.get("status") or "done"
    if status not in ("active", "done"):
        raise ApiError("400100", "status must be active or done", 400)
    items = _filtered_orders(request, user, active=status == "active")
    return ok(page(items, *page_params(request)))


async def list_orders_hf_active(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/hf/orders/active?symbol=``: a plain list."""
    return ok(_filtered_orders(request, user, active=True))


async def list_orders_hf_done(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/hf/orders/done?symbol=``: ``{"lastId", "items"}``."""
    items = _filtered_orders(request, user, active=False)[: _limit(request)]
    return ok({"lastId": 0, "items": items})


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit") or "20"
    return min(max(int(raw), 1), 100) if raw.isdigit() else 20


def _one_order(request: Request, user: User, order_id: str) -> Response:
    order = backend(request).trading.order(user.user_id, order_id)
    if order is None:
        raise ApiError("400100", "order not exist.", 400)
    return ok(order_item(order))


async def get_order(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/orders/{orderId}`` (and the HF twin)."""
    return _one_order(request, user, request.path_params["orderId"])


async def get_order_by_client_oid(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/order/client-order/{clientOid}`` (and the HF twin)."""
    order = backend(request).trading.order_by_client_oid(user.user_id, request.path_params["clientOid"])
    if order is None:
        raise ApiError("400100", "order not exist.", 400)
    return ok(order_item(order))


def _fills(request: Request, user: User) -> list[dict[str, Any]]:
    query = request.query_params
    side = query.get("side")
    fills = backend(request).trading.fills(
        user.user_id, symbol=query.get("symbol") or None, order_id=query.get("orderId") or None
    )
    return [fill_item(f) for f in fills if not side or f.side.value == side]


async def list_fills(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/fills[?orderId=&symbol=&side=]``, paginated."""
    return ok(page(_fills(request, user), *page_params(request)))


async def recent_fills(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/limit/fills``: the latest fills, a plain list."""
    return ok(_fills(request, user)[:1000])


async def list_fills_hf(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/hf/fills?symbol=``: ``{"items", "lastId"}``."""
    return ok({"items": _fills(request, user)[: _limit(request)], "lastId": 0})
