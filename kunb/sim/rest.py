"""The simulator's public REST API: a starlette app with KuCoin's envelope, codes and field types.

Endpoints and shapes: ``kucoin-protocol.md`` 4.1 and 4.3. Success is HTTP 200
``{"code": "200000", "data": ...}``; errors are ``{"code": "...", "msg": "..."}`` (404000 unknown
path, 400100 bad or missing parameter, 900001 unknown symbol). Public endpoints ignore auth headers
(4.2: the official SDKs sign public calls too).

Other modules add routes with :func:`build_app`'s ``extra_routes`` (the trading layer's private
endpoints); handlers reach the exchange as ``request.app.state.exchange``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kunb.exceptions import ApiError, ConfigurationError
from kunb.sim import wire
from kunb.sim.tape import CANDLE_SECONDS

if TYPE_CHECKING:
    from kunb.sim.exchange import Market
    from kunb.sim.server import Exchange

__all__ = ["build_app", "error", "ok", "param_error"]

log = logging.getLogger("kunb.sim.rest")


class _Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any) -> Response:
    """KuCoin's success envelope (4.1): ``code`` is the string ``"200000"``."""
    return _Json({"code": "200000", "data": data})


def error(code: str, msg: str, status: int = 400) -> Response:
    """KuCoin's error envelope (4.1)."""
    return _Json({"code": code, "msg": msg}, status_code=status)


def param_error(msg: str = "Parameter Error") -> ApiError:
    """A 400100 to raise from a handler."""
    return ApiError("400100", msg, 400)


def _exchange(request: Request) -> Exchange:
    return request.app.state.exchange


def _market(request: Request, symbol: str | None = None) -> Market:
    symbol = symbol or request.query_params.get("symbol")
    if not symbol:
        raise param_error("symbol is required")
    market = _exchange(request).core.markets.get(symbol)
    if market is None:
        raise ApiError("900001", "symbol not exists", 400)
    return market


def _now_ms(request: Request) -> int:
    return _exchange(request).now_ns() // 1_000_000


# ---------------------------------------------------------------------- handlers
async def bullet_public(request: Request) -> Response:
    ex = _exchange(request)
    status = ex.faults.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok(ex.bullet(private=False))


async def timestamp(request: Request) -> Response:
    return ok(_now_ms(request))


async def status(request: Request) -> Response:
    return ok({"status": "open", "msg": ""})


async def symbols_v1(request: Request) -> Response:
    return ok(_symbols(request, v2=False))


async def symbols_v2(request: Request) -> Response:
    return ok(_symbols(request, v2=True))


def _symbols(request: Request, *, v2: bool) -> list[dict[str, Any]]:
    market = request.query_params.get("market")
    specs = (m.spec for m in _exchange(request).core.markets.values())
    return [wire.symbol_item(s, v2=v2) for s in specs if market is None or s.market == market]


async def symbol_v2(request: Request) -> Response:
    return ok(wire.symbol_item(_market(request, request.path_params["symbol"]).spec, v2=True))


async def all_tickers(request: Request) -> Response:
    now_ms = _now_ms(request)
    markets = _exchange(request).core.markets.values()
    return ok({"time": now_ms, "ticker": [wire.all_tickers_item(m, now_ms) for m in markets]})


async def level1(request: Request) -> Response:
    return ok(wire.level1(_market(request), _now_ms(request)))


async def level2_20(request: Request) -> Response:
    return ok(wire.orderbook_snapshot(_market(request), 20, _now_ms(request)))


async def level2_100(request: Request) -> Response:
    return ok(wire.orderbook_snapshot(_market(request), 100, _now_ms(request)))


async def stats(request: Request) -> Response:
    return ok(wire.stats(_market(request), _now_ms(request)))


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise param_error(f"{name} must be an integer") from None
    if value < 0:
        raise param_error(f"{name} must be >= 0")
    return value


async def candles(request: Request) -> Response:
    market = _market(request)
    kind = request.query_params.get("type")
    if kind not in CANDLE_SECONDS:
        raise param_error("type is invalid")
    start, end = _int_param(request, "startAt"), _int_param(request, "endAt")
    if end and start > end:
        raise param_error("startAt must not be after endAt")
    rows = market.tape.candles(kind, start, end + 1 if end else 0)
    return ok([wire.candle_row(market.spec, c) for c in rows])


async def histories(request: Request) -> Response:
    market = _market(request)
    return ok([wire.history_item(market.spec, t) for t in market.tape.history])


async def currencies(request: Request) -> Response:
    seen: dict[str, int] = {}
    for market in _exchange(request).core.markets.values():
        spec = market.spec
        seen.setdefault(spec.base, spec.size_decimals)
        seen.setdefault(spec.quote, 8)
    return ok([wire.currency_item(c, p) for c, p in seen.items()])


async def admin_fault(request: Request) -> Response:
    """``POST /admin/faults/{name}`` with keyword arguments as a JSON object (only with admin=True)."""
    client = request.client
    if client is None or client.host not in ("127.0.0.1", "::1"):
        return error("400007", "Access denied", 403)
    body = await request.body()
    try:
        kwargs = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise param_error("body must be a JSON object") from None
    if not isinstance(kwargs, dict):
        raise param_error("body must be a JSON object")
    try:
        result = _exchange(request).faults.apply(request.path_params["name"], kwargs)
    except ConfigurationError as exc:
        raise param_error(str(exc)) from None
    return ok(result)


PUBLIC_ROUTES: list[BaseRoute] = [
    Route("/api/v1/bullet-public", bullet_public, methods=["POST"]),
    Route("/api/v1/timestamp", timestamp),
    Route("/api/v1/status", status),
    Route("/api/v1/symbols", symbols_v1),
    Route("/api/v2/symbols", symbols_v2),
    Route("/api/v2/symbols/{symbol}", symbol_v2),
    Route("/api/v1/market/allTickers", all_tickers),
    Route("/api/v1/market/orderbook/level1", level1),
    Route("/api/v1/market/orderbook/level2_20", level2_20),
    Route("/api/v1/market/orderbook/level2_100", level2_100),
    Route("/api/v1/market/stats", stats),
    Route("/api/v1/market/candles", candles),
    Route("/api/v1/market/histories", histories),
    Route("/api/v3/currencies", currencies),
]


# ---------------------------------------------------------------------- errors
async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error(exc.code, exc.msg, exc.status or 400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error("404000", "Not Found", 404)
    if exc.status_code == 405:
        return error("405000", "Method Not Allowed", 405)
    return error(f"{exc.status_code}000", str(exc.detail), exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("kunb.sim REST handler failed on %s", request.url.path)
    return error("500000", "Internal Server Error", 500)


def build_app(
    exchange: Exchange, *, extra_routes: Iterable[BaseRoute] = (), admin: bool = False
) -> Starlette:
    """The REST app over ``exchange``: public routes, ``extra_routes``, and the admin route if enabled."""
    routes = [*PUBLIC_ROUTES, *extra_routes]
    if admin:
        routes.append(Route("/admin/faults/{name}", admin_fault, methods=["POST"]))
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.exchange = exchange
    return app
