"""Plumbing of the embedded exchange's signed REST routes: body limit, raw target, verification, envelopes.

A signed route is written as ``handler(request, user, body)``; :func:`signed` reads the body (at most
:data:`MAX_BODY_BYTES`, else HTTP 413), rebuilds the request target exactly as received and verifies
KuCoin's signature (:func:`kunb.sim.rest.auth.verify`,
``classic-protocol.md#signing``) before calling it, so a
handler only ever sees an authenticated user.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kunb.exceptions import ApiError
from kunb.sim.core.accounts import User
from kunb.sim.core.events import PrivateEvent
from kunb.sim.rest.auth import SignedRequest, verify
from kunb.sim.rest.backend import backend
from kunb.sim.rest.envelope import error

__all__ = [
    "MAX_BODY_BYTES",
    "BodyTooLarge",
    "Handler",
    "dispatch",
    "json_object",
    "now_ns",
    "page_params",
    "publish",
    "raw_target",
    "read_body",
    "signed",
]

#: Largest request body accepted (an order is ~300 bytes); bigger bodies get HTTP 413.
MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(ApiError):
    """The request body exceeds :data:`MAX_BODY_BYTES` (HTTP 413)."""

    def __init__(self) -> None:
        super().__init__("413000", f"Request body too large (max {MAX_BODY_BYTES} bytes)", 413)


async def read_body(request: Request) -> bytes:
    """The raw body, refused with HTTP 413 beyond :data:`MAX_BODY_BYTES` (checked while streaming)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def raw_target(request: Request) -> str:
    """The request target exactly as received (classic-protocol.md#signing): ASGI's ``raw_path``, plus ``?``
    and the raw query string when there is one."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query: bytes = request.scope.get("query_string", b"")
    if query:
        raw = raw + b"?" + query
    return raw.decode("utf-8", errors="replace")


Handler = Callable[[Request, User, bytes], Awaitable[Response]]


def signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Verify the signature over the raw request, then call ``handler(request, user, body)``."""

    async def endpoint(request: Request) -> Response:
        api = backend(request)
        body = await read_body(request)
        received = SignedRequest(request.method, raw_target(request), body, request.headers)
        user = verify(received, api.accounts.by_key, now_ms=api.now_ns() // 1_000_000)
        return await handler(request, user, body)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers exact; a 400100 otherwise."""
    try:
        # parse_float=Decimal keeps JSON numbers exact (ccxt and some bots send prices as numbers).
        params = json.loads(body or b"{}", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("400100", "The request body is not valid JSON.", 400) from None
    if not isinstance(params, dict):
        raise ApiError("400100", "The request body must be a JSON object.", 400)
    return params


def page_params(request: Request) -> tuple[int, int]:
    """``(currentPage, pageSize)`` from the query, KuCoin's defaults 1 and 50."""
    query = request.query_params
    try:
        current = int(query.get("currentPage") or 1)
        size = int(query.get("pageSize") or 50)
    except ValueError:
        raise ApiError("400100", "currentPage and pageSize must be integers.", 400) from None
    # KuCoin: pageSize 10..500 (classic-protocol.md#endpoints); clamp like the real API rather than refuse.
    return max(current, 1), min(max(size, 10), 500)


def now_ns(request: Request) -> int:
    """The exchange clock."""
    return backend(request).now_ns()


def publish(request: Request, events: list[PrivateEvent]) -> None:
    """Deliver private events, then publish the public side of what the request changed at once."""
    backend(request).after_trade(events)


async def _not_allowed(request: Request) -> Response:
    return error("405000", "Method Not Allowed", 405)


def dispatch(handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for several methods of a path (starlette matches a path once), each signed."""
    endpoints = {method: signed(handler) for method, handler in handlers.items()}

    async def endpoint(request: Request) -> Response:
        # starlette answers HEAD on GET routes: treat it as the GET it stands for.
        return await endpoints.get(request.method, endpoints.get("GET", _not_allowed))(request)

    return endpoint
