"""``POST /admin/faults/{name}``: fault injection over HTTP (``Exchange(admin=True)``, loopback only).

The body is the fault's keyword arguments as a JSON object (:mod:`kunb.sim.faults` lists them).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kunb.exceptions import ConfigurationError
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import error, ok, param_error

__all__ = ["ADMIN_ROUTE", "admin_fault"]


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
        result = backend(request).apply_fault(request.path_params["name"], kwargs)
    except ConfigurationError as exc:
        raise param_error(str(exc)) from None
    return ok(result)


ADMIN_ROUTE = Route("/admin/faults/{name}", admin_fault, methods=["POST"])
