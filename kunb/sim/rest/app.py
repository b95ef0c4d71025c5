"""The simulator's REST app: public, signed, UTA and (optionally) admin routes over one :class:`RestBackend`.

A starlette app with KuCoin's error envelope for every failure (``classic-protocol.md#rest-envelope``): an
:class:`~kunb.exceptions.ApiError` raised by a handler keeps its code and status, unknown paths are
404000, wrong methods 405000, and a handler bug is logged and answered 500000.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kunb.exceptions import ApiError
from kunb.sim.rest.admin import ADMIN_ROUTE
from kunb.sim.rest.backend import RestBackend
from kunb.sim.rest.envelope import error
from kunb.sim.rest.private import private_routes
from kunb.sim.rest.public import PUBLIC_ROUTES
from kunb.sim.rest.uta import uta_routes

__all__ = ["build_app"]

log = logging.getLogger("kunb.sim.rest")


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


def build_app(backend: RestBackend, *, admin: bool = False) -> Starlette:
    """The REST app over ``backend``: public and signed routes, and the admin route if ``admin``."""
    routes: list[BaseRoute] = [*PUBLIC_ROUTES, *private_routes(), *uta_routes()]
    if admin:
        routes.append(ADMIN_ROUTE)
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.state.backend = backend
    return app
