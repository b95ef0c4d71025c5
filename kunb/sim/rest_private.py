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

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..exceptions import ApiError
from ..signing import Credentials
from . import rest_orders as orders
from .accounts import Accounts, User
from .private import PRIVATE_TOPICS, Push
from .private_views import account_item
from .rest import error, ok
from .rest_signed import Handler, dispatch, private_api
from .trading import Trading
from .wire import orderbook_snapshot

if TYPE_CHECKING:
    from .server import Exchange

__all__ = ["PrivateApi", "install", "routes"]

_DEFAULT_FEE_RATE = "0.001"
_ACCOUNT_TYPES = ("main", "trade")


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


# ---------------------------------------------------------------------- handlers
async def bullet_private(request: Request, user: User, body: bytes) -> Response:
    """``POST /api/v1/bullet-private``: a token bound to the signing user."""
    exchange = private_api(request).exchange
    status = exchange.faults.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok(exchange.bullet(private=True, user_id=user.user_id))


async def level2_full(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v3/market/orderbook/level2?symbol=``: the whole book, signed (3)."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ApiError("400100", "symbol is required", 400)
    exchange = private_api(request).exchange
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
    ledger = private_api(request).accounts.ledger
    items = [
        account_item(a, ledger.balance(user.user_id, a.currency, a.type))
        for a in ledger.accounts_of(user.user_id)
        if (not currency or a.currency == currency) and (not account_type or a.type == account_type)
    ]
    return ok(items)


async def account_detail(request: Request, user: User, body: bytes) -> Response:
    """``GET /api/v1/accounts/{accountId}``: only the user's own accounts exist for them."""
    ledger = private_api(request).accounts.ledger
    account = ledger.by_id(request.path_params["accountId"])
    if account is None or account.user_id != user.user_id:
        raise ApiError("400100", "account not exists", 400)
    item = account_item(account, ledger.balance(user.user_id, account.currency, account.type))
    return ok({k: item[k] for k in ("currency", "balance", "available", "holds")})


def _fee_rates(request: Request, symbol: str) -> dict[str, str]:
    spec = private_api(request).trading.specs.get(symbol)
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
