"""The embedded exchange's UTA REST endpoints: the V1 socket token, the signed book, the unified account.

What ccxt 4.5's UTA mode and kunb's UTA client call (``uta-kunb.md#uta-rest``), every one signed like a
classic private call and reading only the signing user's data:

* ``POST /api/v2/bullet-private`` (empty body): ``{"token"}`` for the private UTA socket's ``?token=``
  (uta-protocol.md#private-authentication, V1);
* ``GET /api/ua/v1/market/orderbook`` and ``/api/ua/v2/...`` (``symbol``, ``tradeType``, ``limit``
  ``FULL``/``20``/``100``): the snapshot of the deprecated ``increment`` depth, same sequence as classic;
* ``GET /api/ua/v1/{accountMode}/account/balance`` and ``/api/ua/v1/account/balance?accountType=``;
* ``GET /api/ua/v1/{accountMode}/order/open-list``, ``/order/history``, ``/order/detail``;
* ``POST /api/ua/v1/{accountMode}/order/place`` and ``/order/cancel``.

The unified account *is* the user's trade account and UTA orders go to the same
:class:`~kunb.sim.core.trading.Trading` as classic ones, so either API sees every order and both
protocols' private channels push them. ``accountMode`` may be ``unified`` or ``classic`` (the same data).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kunb.exceptions import ApiError, OrderError
from kunb.sim.core.accounts import User
from kunb.sim.core.market import Market
from kunb.sim.core.orders import UserOrder
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import error, ok, param_error
from kunb.sim.rest.signed import Handler, dispatch, json_object, now_ns, publish
from kunb.sim.wire import uta_rest

__all__ = ["uta_routes"]

_LIMITS = {"FULL": None, "20": 20, "100": 100}
_ACCOUNT_MODES = ("unified", "classic")
#: accountType -> the exchange's account holding it (UNIFIED and SPOT trade from the trade account)
_ACCOUNT_TYPES = {"UNIFIED": "trade", "SPOT": "trade", "FUNDING": "main"}
_PAGE_SIZE_DEFAULT, _PAGE_SIZE_MAX = 50, 200
_NOT_FOUND = "order not exist."


def _trade_type(value: Any) -> None:
    """Only spot is listed here: ``tradeType`` is ``SPOT`` or absent."""
    if value not in (None, "", "SPOT"):
        raise param_error(f"tradeType {value} is not supported by the embedded exchange (SPOT only)")


def _account_mode(request: Request) -> None:
    if request.path_params.get("accountMode") not in _ACCOUNT_MODES:
        raise ApiError("404000", "Not Found", 404)


def _market(request: Request, symbol: str | None) -> Market:
    if not symbol:
        raise param_error("symbol is required")
    market = backend(request).markets.get(symbol)
    if market is None:
        raise ApiError("900001", "symbol not exists", 400)
    return market


# ---------------------------------------------------------------------- token and book
async def bullet_private_v2(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v2/bullet-private``: a private token bound to the signing user, no server list."""
    api = backend(request)
    status = api.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok({"token": api.bullet(private=True, user_id=user.user_id)["token"]})


async def market_orderbook(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v{1,2}/market/orderbook?symbol=&tradeType=SPOT&limit=FULL|20|100`` (signed)."""
    query = request.query_params
    _trade_type(query.get("tradeType"))
    limit = (query.get("limit") or "FULL").upper()
    if limit not in _LIMITS:
        raise param_error("limit must be FULL, 20 or 100")
    return ok(uta_rest.orderbook(_market(request, query.get("symbol")), _LIMITS[limit]))


# ---------------------------------------------------------------------- balances
def _balances(request: Request, user: User, account_type: str) -> Response:
    ledger = backend(request).accounts.ledger
    kind = _ACCOUNT_TYPES[account_type]
    currency = request.query_params.get("currency")
    rows = [
        (a.currency, ledger.balance(user.user_id, a.currency, kind))
        for a in ledger.accounts_of(user.user_id)
        if a.type == kind and (not currency or a.currency == currency)
    ]
    return ok(uta_rest.balance_answer(account_type, rows, backend(request).now_ns() // 1_000_000))


async def unified_balance(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/{accountMode}/account/balance``: the unified account (ccxt ``fetch_uta_balance``)."""
    _account_mode(request)
    return _balances(request, user, "UNIFIED")


async def account_balance(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/account/balance?accountType=UNIFIED|SPOT|FUNDING``."""
    account_type = (request.query_params.get("accountType") or "UNIFIED").upper()
    if account_type not in _ACCOUNT_TYPES:
        raise param_error(f"accountType {account_type} is not supported by the embedded exchange")
    return _balances(request, user, account_type)


# ---------------------------------------------------------------------- orders
def _page(request: Request) -> tuple[int, int]:
    query = request.query_params
    try:
        number = int(query.get("pageNumber") or 1)
        size = int(query.get("pageSize") or _PAGE_SIZE_DEFAULT)
    except ValueError:
        raise param_error("pageNumber and pageSize must be integers") from None
    return max(number, 1), min(max(size, 1), _PAGE_SIZE_MAX)


def _listed(request: Request, user: User, *, active: bool) -> Response:
    _account_mode(request)
    query = request.query_params
    _trade_type(query.get("tradeType"))
    symbol = query.get("symbol") or None
    if symbol is not None:
        _market(request, symbol)
    side = (query.get("side") or "").lower()
    start, end = query.get("startAt") or "", query.get("endAt") or ""
    orders = backend(request).trading.orders(user.user_id, active=active, symbol=symbol)
    items = [
        uta_rest.order_item(o)
        for o in orders
        if (not side or o.side.value == side)
        and (not start.isdigit() or o.updated_ms >= int(start))
        and (not end.isdigit() or o.updated_ms <= int(end))
    ]
    return ok(uta_rest.page(items, *_page(request)))


async def open_orders(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/{accountMode}/order/open-list[?symbol=&tradeType=SPOT&pageNumber=&pageSize=]``."""
    return _listed(request, user, active=True)


async def order_history(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/{accountMode}/order/history`` (``symbol``, ``startAt``/``endAt`` in ms, ``side``,
    ``pageNumber``, ``pageSize``)."""
    return _listed(request, user, active=False)


def _find(request: Request, user: User, params: Any) -> UserOrder:
    """The user's order named by ``orderId`` or ``clientOid`` (and of ``symbol`` when one is given)."""
    trading = backend(request).trading
    order_id, client_oid = params.get("orderId"), params.get("clientOid")
    if order_id:
        order = trading.order(user.user_id, str(order_id))
    elif client_oid:
        order = trading.order_by_client_oid(user.user_id, str(client_oid))
    else:
        raise param_error("orderId or clientOid is required")
    symbol = params.get("symbol")
    if order is None or (symbol and order.symbol != symbol):
        raise ApiError("400100", _NOT_FOUND, 400)
    return order


async def order_detail(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/{accountMode}/order/detail?orderId=|clientOid=&symbol=&tradeType=SPOT``."""
    _account_mode(request)
    _trade_type(request.query_params.get("tradeType"))
    return ok(uta_rest.order_item(_find(request, user, request.query_params)))


def _classic_params(body: dict[str, Any]) -> dict[str, Any]:
    """A UTA order body in the words the exchange's order parser knows (``sizeUnit`` QUOTECCY: funds)."""
    _trade_type(body.get("tradeType"))
    unit = str(body.get("sizeUnit") or "BASECCY").upper()
    if unit not in ("BASECCY", "QUOTECCY"):
        raise param_error("sizeUnit must be BASECCY or QUOTECCY")
    params: dict[str, Any] = {
        key: body[key]
        for key in ("symbol", "clientOid", "price", "timeInForce", "postOnly", "stp", "cancelAfter")
        if key in body
    }
    params["side"] = str(body.get("side") or "").lower()
    params["type"] = str(body.get("orderType") or "").lower()
    params["funds" if unit == "QUOTECCY" else "size"] = body.get("size")
    if isinstance(body.get("tags"), str):
        params["remark"] = body["tags"]
    return params


async def place_order(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/ua/v1/{accountMode}/order/place``: ``{"orderId", "tradeType", "ts", "clientOid"}``."""
    _account_mode(request)
    now = now_ns(request)
    params = _classic_params(json_object(body))
    if not params["type"]:
        raise param_error("orderType is required")
    outcome = backend(request).trading.place(user.user_id, params, now_ns=now)
    publish(request, outcome.events)
    assert outcome.order is not None
    order = outcome.order
    return ok(
        {"orderId": order.order_id, "tradeType": "SPOT", "ts": now, "clientOid": order.request.client_oid}
    )


async def cancel_order(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/ua/v1/{accountMode}/order/cancel`` (``orderId`` or ``clientOid``, ``symbol``)."""
    _account_mode(request)
    params = json_object(body)
    _trade_type(params.get("tradeType"))
    if not params.get("symbol"):
        raise param_error("symbol is required")
    order = _find(request, user, params)
    try:
        outcome = backend(request).trading.cancel(user.user_id, order.order_id, now_ns=now_ns(request))
    except OrderError:
        raise ApiError("400100", _NOT_FOUND, 400) from None
    publish(request, outcome.events)
    return ok({"orderId": order.order_id, "clientOid": order.request.client_oid, "tradeType": "SPOT"})


def uta_routes() -> list[BaseRoute]:
    """The signed UTA endpoints (see the module docstring)."""
    signed: list[tuple[str, Handler, str]] = [
        ("/api/v2/bullet-private", bullet_private_v2, "POST"),
        ("/api/ua/v1/market/orderbook", market_orderbook, "GET"),
        ("/api/ua/v2/market/orderbook", market_orderbook, "GET"),
        ("/api/ua/v1/account/balance", account_balance, "GET"),
        ("/api/ua/v1/{accountMode}/account/balance", unified_balance, "GET"),
        ("/api/ua/v1/{accountMode}/order/open-list", open_orders, "GET"),
        ("/api/ua/v1/{accountMode}/order/history", order_history, "GET"),
        ("/api/ua/v1/{accountMode}/order/detail", order_detail, "GET"),
        ("/api/ua/v1/{accountMode}/order/place", place_order, "POST"),
        ("/api/ua/v1/{accountMode}/order/cancel", cancel_order, "POST"),
    ]
    return [Route(path, dispatch({method: handler}), methods=[method]) for path, handler, method in signed]
