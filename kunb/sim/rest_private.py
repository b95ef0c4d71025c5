"""The embedded exchange's signed REST endpoints and private feed wiring (the trading layer's I/O shell).

:func:`install` is called once by :class:`kunb.sim.Exchange` (its plugin hook). It creates the accounts
(a funded demo user whose key is ``ex.credentials``), the :class:`~kunb.sim.trading.Trading` layer over the
exchange's core, registers the private topics, adds the routes below and flushes private pushes after every
market step. Every route here verifies KuCoin's signature against the raw request (``kunb.sim.auth``) and
only ever reads the signing user's own data. Answers use KuCoin's envelope (``kucoin-protocol.md`` 4.1).

Endpoints (4.3 and what ccxt probes at start-up): bullet-private, full level2 (v3), accounts, orders
(classic and HF: place, cancel by id / clientOid, cancel all, list, get), fills, fee rates,
``hf/accounts/opened`` (false), ``ua/v1/account/mode`` (CLASSIC), margin/isolated symbols (empty).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..exceptions import ApiError, OrderError
from ..signing import Credentials
from .accounts import Accounts, User
from .auth import SignedRequest, verify
from .private import PRIVATE_TOPICS, Push
from .private_views import account_item, fill_item, order_item, page
from .rest import error, ok
from .trading import Trading
from .wire import orderbook_snapshot

if TYPE_CHECKING:
    from .server import Exchange

__all__ = ["MAX_BODY_BYTES", "PrivateApi", "install", "routes"]

#: Largest request body accepted (an order is ~300 bytes); bigger bodies get HTTP 413.
MAX_BODY_BYTES = 64 * 1024
_DEFAULT_FEE_RATE = "0.001"
_ACCOUNT_TYPES = ("main", "trade")


class _BodyTooLarge(ApiError):
    def __init__(self) -> None:
        super().__init__("413000", f"Request body too large (max {MAX_BODY_BYTES} bytes)", 413)


class PrivateApi:
    """Users, their trading, and delivery of their private pushes on one :class:`Exchange`.

    Attributes:
        accounts: the users and their ledger.
        trading: user orders over the exchange's books.
        demo: the demo user created at start (``ex.credentials`` is its key).
    """

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.accounts = Accounts(seed=exchange.core.seed)
        self.trading = Trading(self.accounts, exchange.core)
        self.demo = self.accounts.create()

    def create_account(
        self,
        *,
        balances: dict[str, object] | None = None,
        key_version: int = 2,
        credentials: Credentials | None = None,
    ) -> Credentials:
        """Another funded user; returns its key (see :meth:`Accounts.create`)."""
        return self.accounts.create(
            balances=balances, key_version=key_version, credentials=credentials
        ).credentials

    def user_id(self, credentials: Credentials) -> str:
        """The user id behind a key (what private pushes carry as ``userId``)."""
        user = self.accounts.by_key(credentials.key)
        if user is None:
            raise KeyError("no account has this API key")
        return user.user_id

    def deliver(self, pushes: list[Push]) -> None:
        """Send private frames to their users' subscribed sessions, in order."""
        hub = self.exchange.hub
        for push in pushes:
            hub.publish_private(push.user_id, push.topic, push.message)

    def on_tick(self, now_ns: int) -> None:
        """After every market step: expire due GTT orders, deliver what synthetic fills did to user orders."""
        pushes = self.trading.expire(now_ns).pushes
        if pushes:
            self.deliver(pushes)


def install(exchange: Exchange) -> PrivateApi:
    """Wire accounts, trading, private topics and signed routes into ``exchange`` (before it starts).

    Afterwards the exchange has: ``credentials`` (the demo user's :class:`~kunb.signing.Credentials`),
    ``create_account(balances=None, key_version=2, credentials=None) -> Credentials``, ``accounts``
    (:class:`~kunb.sim.accounts.Accounts`), ``trading`` (:class:`~kunb.sim.trading.Trading`), ``private``
    (this :class:`PrivateApi`) and ``env["KUNB_SIM_KEY"|"KUNB_SIM_SECRET"|"KUNB_SIM_PASSPHRASE"]``.
    """
    api = PrivateApi(exchange)
    exchange.private = api  # type: ignore[attr-defined]
    exchange.accounts = api.accounts  # type: ignore[attr-defined]
    exchange.trading = api.trading  # type: ignore[attr-defined]
    exchange.create_account = api.create_account  # type: ignore[attr-defined]
    exchange.credentials = api.demo.credentials
    exchange.env.update(
        KUNB_SIM_KEY=api.demo.credentials.key,
        KUNB_SIM_SECRET=api.demo.credentials.secret,
        KUNB_SIM_PASSPHRASE=api.demo.credentials.passphrase,
    )
    for topic in sorted(PRIVATE_TOPICS):
        exchange.hub.register_private(topic)
    exchange.add_tick_hook(api.on_tick)
    exchange.add_routes(routes())
    return api


# ---------------------------------------------------------------------- request plumbing
def _api(request: Request) -> PrivateApi:
    return request.app.state.exchange.private


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _target(request: Request) -> str:
    # The target exactly as received (kucoin-protocol.md 4.2): ASGI's raw_path plus the raw query string.
    raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query = request.scope.get("query_string", b"")
    if query:
        raw = raw + b"?" + query
    return raw.decode("utf-8", errors="replace")


Handler = Callable[[Request, User, bytes], Awaitable[Response]]


def _signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Verify the signature over the raw request, then call ``handler(request, user, body)``."""

    async def endpoint(request: Request) -> Response:
        api = _api(request)
        body = await _body(request)
        signed = SignedRequest(request.method, _target(request), body, request.headers)
        user = verify(signed, api.accounts.by_key, now_ms=api.exchange.now_ns() // 1_000_000)
        return await handler(request, user, body)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        # parse_float=Decimal keeps JSON numbers exact (ccxt and some bots send prices as numbers).
        params = json.loads(body or b"{}", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("400100", "The request body is not valid JSON.", 400) from None
    if not isinstance(params, dict):
        raise ApiError("400100", "The request body must be a JSON object.", 400)
    return params


def _page_params(request: Request) -> tuple[int, int]:
    query = request.query_params
    try:
        current = int(query.get("currentPage") or 1)
        size = int(query.get("pageSize") or 50)
    except ValueError:
        raise ApiError("400100", "currentPage and pageSize must be integers.", 400) from None
    # KuCoin: pageSize 10..500 (kucoin-protocol.md 4.3); clamp like the real API rather than refuse.
    return max(current, 1), min(max(size, 10), 500)


def _now_ns(request: Request) -> int:
    return _api(request).exchange.now_ns()


def _publish(request: Request, pushes: list[Push]) -> None:
    api = _api(request)
    api.deliver(pushes)
    api.exchange.publish()  # public side at once: level2, match, ticker (and any synthetic pushes)


# ---------------------------------------------------------------------- handlers
async def bullet_private(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/bullet-private``: a token bound to the signing user."""
    exchange = _api(request).exchange
    status = exchange.faults.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok(exchange.bullet(private=True, user_id=user.user_id))


async def level2_full(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v3/market/orderbook/level2?symbol=``: the whole book, signed (3)."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ApiError("400100", "symbol is required", 400)
    exchange = _api(request).exchange
    market = exchange.core.markets.get(symbol)
    if market is None:
        raise ApiError("900001", "symbol not exists", 400)
    return ok(orderbook_snapshot(market, None, exchange.now_ns() // 1_000_000))


async def accounts_list(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/accounts[?currency=&type=]``."""
    currency = request.query_params.get("currency")
    account_type = request.query_params.get("type")
    if account_type and account_type not in _ACCOUNT_TYPES:
        return ok([])  # margin, trade_hf... exist on KuCoin, never on this exchange
    ledger = _api(request).accounts.ledger
    items = [
        account_item(a, ledger.balance(user.user_id, a.currency, a.type))
        for a in ledger.accounts_of(user.user_id)
        if (not currency or a.currency == currency) and (not account_type or a.type == account_type)
    ]
    return ok(items)


async def account_detail(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/accounts/{accountId}``: only the user's own accounts exist for them."""
    ledger = _api(request).accounts.ledger
    account = ledger.by_id(request.path_params["accountId"])
    if account is None or account.user_id != user.user_id:
        raise ApiError("400100", "account not exists", 400)
    item = account_item(account, ledger.balance(user.user_id, account.currency, account.type))
    return ok({k: item[k] for k in ("currency", "balance", "available", "holds")})


async def place_order(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/orders`` (classic): ``{"orderId": ...}``."""
    outcome = _api(request).trading.place(user.user_id, _json_object(body), now_ns=_now_ns(request))
    _publish(request, outcome.pushes)
    assert outcome.order is not None
    return ok({"orderId": outcome.order.order_id})


async def place_order_hf(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/hf/orders``: ``{"orderId", "clientOid"}``; insufficient balance is 230003 (HF)."""
    try:
        outcome = _api(request).trading.place(user.user_id, _json_object(body), now_ns=_now_ns(request))
    except OrderError as exc:
        if exc.code == "200004":
            raise OrderError("230003", "Balance insufficient!", exc.status) from None
        raise
    _publish(request, outcome.pushes)
    assert outcome.order is not None
    return ok({"orderId": outcome.order.order_id, "clientOid": outcome.order.request.client_oid})


def _cancel(request: Request, user: User, order_id: str) -> tuple[str, ...]:
    symbol = request.query_params.get("symbol")
    trading = _api(request).trading
    order = trading.order(user.user_id, order_id)
    if order is not None and symbol and order.symbol != symbol:
        raise OrderError("400100", "order_not_exist_or_not_allow_to_cancel", 400)
    outcome = trading.cancel(user.user_id, order_id, now_ns=_now_ns(request))
    _publish(request, outcome.pushes)
    return outcome.canceled


def _order_id_by_client_oid(request: Request, user: User) -> str:
    order = _api(request).trading.order_by_client_oid(user.user_id, request.path_params["clientOid"])
    if order is None:
        raise OrderError("400100", "order_not_exist_or_not_allow_to_cancel", 400)
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
    outcome = _api(request).trading.cancel_all(user.user_id, now_ns=_now_ns(request), symbol=symbol)
    _publish(request, outcome.pushes)
    return ok({"cancelledOrderIds": list(outcome.canceled)})


async def cancel_all_hf(request: Request, user: User, body: bytes) -> Response:
    """``DELETE /api/v1/hf/orders?symbol=``: ``"success"``."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ApiError("400100", "symbol is required", 400)
    outcome = _api(request).trading.cancel_all(user.user_id, now_ns=_now_ns(request), symbol=symbol)
    _publish(request, outcome.pushes)
    return ok("success")


def _filtered_orders(request: Request, user: User, *, active: bool | None) -> list[dict[str, Any]]:
    query = request.query_params
    side, kind = query.get("side"), query.get("type")
    start, end = query.get("startAt"), query.get("endAt")
    orders = _api(request).trading.orders(user.user_id, active=active, symbol=query.get("symbol") or None)
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
    return ok(page(items, *_page_params(request)))


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
    order = _api(request).trading.order(user.user_id, order_id)
    if order is None:
        raise ApiError("400100", "order not exist.", 400)
    return ok(order_item(order))


async def get_order(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/orders/{orderId}`` (and the HF twin)."""
    return _one_order(request, user, request.path_params["orderId"])


async def get_order_by_client_oid(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/order/client-order/{clientOid}`` (and the HF twin)."""
    order = _api(request).trading.order_by_client_oid(user.user_id, request.path_params["clientOid"])
    if order is None:
        raise ApiError("400100", "order not exist.", 400)
    return ok(order_item(order))


def _fills(request: Request, user: User) -> list[dict[str, Any]]:
    query = request.query_params
    side = query.get("side")
    fills = _api(request).trading.fills(
        user.user_id, symbol=query.get("symbol") or None, order_id=query.get("orderId") or None
    )
    return [fill_item(f) for f in fills if not side or f.side.value == side]


async def list_fills(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/fills[?orderId=&symbol=&side=]``, paginated."""
    return ok(page(_fills(request, user), *_page_params(request)))


async def recent_fills(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/limit/fills``: the latest fills, a plain list."""
    return ok(_fills(request, user)[:1000])


async def list_fills_hf(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/hf/fills?symbol=``: ``{"items", "lastId"}``."""
    return ok({"items": _fills(request, user)[: _limit(request)], "lastId": 0})


def _fee_rates(request: Request, symbol: str) -> dict[str, str]:
    spec = _api(request).trading.specs.get(symbol)
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
    return ok({"timestamp": request.app.state.exchange.now_ns() // 1_000_000, "items": []})


async def isolated_symbols(request: Request) -> Response:
    """``GET /api/v1/isolated/symbols``: no isolated margin here."""
    return ok([])


def routes() -> list[BaseRoute]:
    """The signed endpoints (and ccxt's margin probes), for :meth:`Exchange.add_routes`."""
    signed = [
        ("/api/v1/bullet-private", bullet_private, "POST"),
        ("/api/v3/market/orderbook/level2", level2_full, "GET"),
        ("/api/v1/accounts", accounts_list, "GET"),
        ("/api/v1/accounts/{accountId}", account_detail, "GET"),
        ("/api/v1/orders", place_order, "POST"),
        ("/api/v1/orders", list_orders, "GET"),
        ("/api/v1/orders", cancel_all, "DELETE"),
        ("/api/v1/orders/{orderId}", get_order, "GET"),
        ("/api/v1/orders/{orderId}", cancel_order, "DELETE"),
        ("/api/v1/order/client-order/{clientOid}", get_order_by_client_oid, "GET"),
        ("/api/v1/order/client-order/{clientOid}", cancel_by_client_oid, "DELETE"),
        ("/api/v1/hf/orders", place_order_hf, "POST"),
        ("/api/v1/hf/orders", cancel_all_hf, "DELETE"),
        ("/api/v1/hf/orders/active", list_orders_hf_active, "GET"),
        ("/api/v1/hf/orders/done", list_orders_hf_done, "GET"),
        ("/api/v1/hf/orders/client-order/{clientOid}", get_order_by_client_oid, "GET"),
        ("/api/v1/hf/orders/client-order/{clientOid}", cancel_by_client_oid_hf, "DELETE"),
        ("/api/v1/hf/orders/{orderId}", get_order, "GET"),
        ("/api/v1/hf/orders/{orderId}", cancel_order_hf, "DELETE"),
        ("/api/v1/fills", list_fills, "GET"),
        ("/api/v1/limit/fills", recent_fills, "GET"),
        ("/api/v1/hf/fills", list_fills_hf, "GET"),
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
        Route(path, _dispatch(handlers), methods=list(handlers)) for path, handlers in by_path.items()
    ]
    out += [
        Route("/api/v3/margin/symbols", margin_symbols),
        Route("/api/v1/isolated/symbols", isolated_symbols),
    ]
    return out


async def _not_allowed(request: Request) -> Response:
    return error("405000", "Method Not Allowed", 405)


def _dispatch(handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    signed = {method: _signed(handler) for method, handler in handlers.items()}

    async def endpoint(request: Request) -> Response:
        # starlette answers HEAD on GET routes: treat it as the GET it stands for.
        return await signed.get(request.method, signed.get("GET", _not_allowed))(request)

    return endpoint
