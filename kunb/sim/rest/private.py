"""The embedded exchange's signed REST endpoints (and ccxt's margin probes): accounts, orders, fills, fees.

Every signed route verifies KuCoin's signature against the raw request (:mod:`kunb.sim.rest.signed`) and
only ever reads the signing user's own data. Answers use KuCoin's envelope
(``classic-protocol.md#rest-envelope``).

Endpoints (4.3 and what ccxt probes at start-up): bullet-private, full level2 (v3), accounts, orders
(classic and HF: place, cancel by id / clientOid, cancel all, list, get), fills, fee rates,
``hf/accounts/opened`` (false), ``ua/v1/account/mode`` (CLASSIC), margin/isolated symbols (empty).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kunb.exceptions import ApiError
from kunb.sim.core.accounts import User
from kunb.sim.rest import orders
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import error, ok
from kunb.sim.rest.signed import Handler, dispatch
from kunb.sim.wire.market import orderbook_snapshot
from kunb.sim.wire.private_rest import account_item

__all__ = ["private_routes"]

_DEFAULT_FEE_RATE = "0.001"
_ACCOUNT_TYPES = ("main", "trade")


# ---------------------------------------------------------------------- handlers
async def bullet_private(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/bullet-private``: a token bound to the signing user."""
    api = backend(request)
    status = api.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok(api.bullet(private=True, user_id=user.user_id))


async def level2_full(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v3/market/orderbook/level2?symbol=``: the whole book, signed (3)."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ApiError("400100", "symbol is required", 400)
    api = backend(request)
    market = api.markets.get(symbol)
    if market is None:
        raise ApiError("900001", "symbol not exists", 400)
    return ok(orderbook_snapshot(market, None, api.now_ns() // 1_000_000))


async def accounts_list(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/accounts[?currency=&type=]``."""
    currency = request.query_params.get("currency")
    account_type = request.query_params.get("type")
    if account_type and account_type not in _ACCOUNT_TYPES:
        return ok([])  # margin, trade_hf... exist on KuCoin, never on this exchange
    ledger = backend(request).accounts.ledger
    items = [
        account_item(a, ledger.balance(user.user_id, a.currency, a.type))
        for a in ledger.accounts_of(user.user_id)
        if (not currency or a.currency == currency) and (not account_type or a.type == account_type)
    ]
    return ok(items)


async def account_detail(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/accounts/{accountId}``: only the user's own accounts exist for them."""
    ledger = backend(request).accounts.ledger
    account = ledger.by_id(request.path_params["accountId"])
    if account is None or account.user_id != user.user_id:
        raise ApiError("400100", "account not exists", 400)
    item = account_item(account, ledger.balance(user.user_id, account.currency, account.type))
    return ok({k: item[k] for k in ("currency", "balance", "available", "holds")})


def _fee_rates(request: Request, symbol: str) -> dict[str, str]:
    spec = backend(request).trading.specs.get(symbol)
    if spec is None:
        raise ApiError("900001", "symbol not exists", 400)
    return {
        "symbol": symbol,
        "takerFeeRate": getattr(spec, "taker_fee_rate", _DEFAULT_FEE_RATE),
        "makerFeeRate": getattr(spec, "maker_fee_rate", _DEFAULT_FEE_RATE),
    }


async def trade_fees(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/trade-fees?symbols=A,B``."""
    symbols = [s for s in (request.query_params.get("symbols") or "").split(",") if s]
    if not symbols:
        raise ApiError("400100", "symbols is required", 400)
    return ok([_fee_rates(request, s) for s in symbols[:10]])


async def base_fee(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/base-fee``."""
    return ok({"takerFeeRate": _DEFAULT_FEE_RATE, "makerFeeRate": _DEFAULT_FEE_RATE})


async def hf_accounts_opened(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/hf/accounts/opened`` -> false: classic accounts (ccxt then uses /api/v1/orders)."""
    return ok(False)


async def account_mode(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/ua/v1/account/mode``: not a unified-trading account (ccxt's UTA probe)."""
    return ok({"selfAccountMode": "CLASSIC"})


async def margin_symbols(request: Request) -> Response:
    """``GET /api/v3/margin/symbols``: no margin trading here (ccxt's load_markets asks)."""
    return ok({"timestamp": backend(request).now_ns() // 1_000_000, "items": []})


async def isolated_symbols(request: Request) -> Response:
    """``GET /api/v1/isolated/symbols``: no isolated margin here."""
    return ok([])


def private_routes() -> list[BaseRoute]:
    """The signed endpoints (and ccxt's margin probes)."""
    signed = [
        ("/api/v1/bullet-private", bullet_private, "POST"),
        ("/api/v3/market/orderbook/level2", level2_full, "GET"),
        ("/api/v1/accounts", accounts_list, "GET"),
        ("/api/v1/accounts/{accountId}", account_detail, "GET"),
        ("/api/v1/orders", orders.place_order, "POST"),
        ("/api/v1/orders", orders.list_orders, "GET"),
        ("/api/v1/orders", orders.cancel_all, "DELETE"),
        ("/api/v1/orders/{orderId}", orders.get_order, "GET"),
        ("/api/v1/orders/{orderId}", orders.cancel_order, "DELETE"),
        ("/api/v1/order/client-order/{clientOid}", orders.get_order_by_client_oid, "GET"),
        ("/api/v1/order/client-order/{clientOid}", orders.cancel_by_client_oid, "DELETE"),
        ("/api/v1/hf/orders", orders.place_order_hf, "POST"),
        ("/api/v1/hf/orders", orders.cancel_all_hf, "DELETE"),
        ("/api/v1/hf/orders/active", orders.list_orders_hf_active, "GET"),
        ("/api/v1/hf/orders/done", orders.list_orders_hf_done, "GET"),
        ("/api/v1/hf/orders/client-order/{clientOid}", orders.get_order_by_client_oid, "GET"),
        ("/api/v1/hf/orders/client-order/{clientOid}", orders.cancel_by_client_oid_hf, "DELETE"),
        ("/api/v1/hf/orders/{orderId}", orders.get_order, "GET"),
        ("/api/v1/hf/orders/{orderId}", orders.cancel_order_hf, "DELETE"),
        ("/api/v1/fills", orders.list_fills, "GET"),
        ("/api/v1/limit/fills", orders.recent_fills, "GET"),
        ("/api/v1/hf/fills", orders.list_fills_hf, "GET"),
        ("/api/v1/trade-fees", trade_fees, "GET"),
        ("/api/v1/base-fee", base_fee, "GET"),
        ("/api/v1/hf/accounts/opened", hf_accounts_opened, "GET"),
        ("/api/ua/v1/account/mode", account_mode, "GET"),
    ]
    # One Route per path (starlette matches the first path, then checks methods): group methods by path.
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in signed:
        by_path.setdefault(path, {})[method] = handler
    out: list[BaseRoute] = [
        Route(path, dispatch(handlers), methods=list(handlers)) for path, handlers in by_path.items()
    ]
    out += [
        Route("/api/v3/margin/symbols", margin_symbols),
        Route("/api/v1/isolated/symbols", isolated_symbols),
    ]
    return out
