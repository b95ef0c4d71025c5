"""The simulator's public REST endpoints: server time and status, symbols, tickers, books, candles, trades.

Endpoints and shapes: ``classic-protocol.md#rest-envelope`` and ``#endpoints`` (JSON shapes in
:mod:`kunb.sim.wire.market`).
Public endpoints ignore auth headers (4.2: the official SDKs sign public calls too).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kunb.exceptions import ApiError
from kunb.sim.core.market import Market
from kunb.sim.core.tape import CANDLE_SECONDS
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import error, ok, param_error
from kunb.sim.wire import market as market_wire

__all__ = ["PUBLIC_ROUTES"]


def _market(request: Request, symbol: str | None = None) -> Market:
    symbol = symbol or request.query_params.get("symbol")
    if not symbol:
        raise param_error("symbol is required")
    market = backend(request).markets.get(symbol)
    if market is None:
        raise ApiError("900001", "symbol not exists", 400)
    return market


def _now_ms(request: Request) -> int:
    return backend(request).now_ns() // 1_000_000


# ---------------------------------------------------------------------- handlers
async def bullet_public(request: Request) -> Response:
    api = backend(request)
    status = api.bullet_failure()
    if status:
        return error("500000", "Internal Server Error", status)
    return ok(api.bullet(private=False))


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
    specs = (m.spec for m in backend(request).markets.values())
    return [market_wire.symbol_item(s, v2=v2) for s in specs if market is None or s.market == market]


async def symbol_v2(request: Request) -> Response:
    return ok(market_wire.symbol_item(_market(request, request.path_params["symbol"]).spec, v2=True))


async def all_tickers(request: Request) -> Response:
    now_ms = _now_ms(request)
    markets = backend(request).markets.values()
    return ok({"time": now_ms, "ticker": [market_wire.all_tickers_item(m, now_ms) for m in markets]})


async def level1(request: Request) -> Response:
    return ok(market_wire.level1(_market(request), _now_ms(request)))


async def level2_20(request: Request) -> Response:
    return ok(market_wire.orderbook_snapshot(_market(request), 20, _now_ms(request)))


async def level2_100(request: Request) -> Response:
    return ok(market_wire.orderbook_snapshot(_market(request), 100, _now_ms(request)))


async def stats(request: Request) -> Response:
    return ok(market_wire.stats(_market(request), _now_ms(request)))


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
    return ok([market_wire.candle_row(market.spec, c) for c in rows])


async def histories(request: Request) -> Response:
    market = _market(request)
    return ok([market_wire.history_item(market.spec, t) for t in market.tape.history])


async def currencies(request: Request) -> Response:
    seen: dict[str, int] = {}
    for market in backend(request).markets.values():
        spec = market.spec
        seen.setdefault(spec.base, spec.size_decimals)
        seen.setdefault(spec.quote, 8)
    return ok([market_wire.currency_item(c, p) for c, p in seen.items()])


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
