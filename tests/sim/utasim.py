"""Test helper (not a test module): a raw websockets client for kunb.sim's UTA sockets, with bounded waits.

Independent of kunb's UTA client: frames are built here, and the ``op:auth`` signature with the test's own
HMAC, so a test of the exchange cannot pass because client and server share a mistake.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from kunb.signing import Credentials, auth_headers

TIMEOUT = 5.0
_ids = itertools.count(1)


async def open_uta(url: str, *, token: str | None = None) -> tuple[ClientConnection, dict[str, Any]]:
    """Dial a UTA socket (``?token=`` for V1) and read the welcome."""
    target = url if token is None else f"{url}?token={token}"
    ws = await connect(target, open_timeout=TIMEOUT, max_size=None, max_queue=None)
    return ws, await recv(ws)


async def recv_raw(ws: ClientConnection, within: float = TIMEOUT) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), within)


async def recv(ws: ClientConnection, within: float = TIMEOUT) -> Any:
    return orjson.loads(await recv_raw(ws, within))


async def send(ws: ClientConnection, msg: dict[str, Any] | str | bytes, *, binary: bool = False) -> None:
    if isinstance(msg, dict):
        raw = orjson.dumps(msg)
        await ws.send(raw if binary else raw.decode())
    else:
        await ws.send(msg)


async def wait_for(ws: ClientConnection, pred: Callable[[Any], bool], within: float = TIMEOUT) -> Any:
    """The first frame matching ``pred`` within ``within`` seconds (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError("no matching frame")
        msg = await recv(ws, left)
        if pred(msg):
            return msg


async def collect(ws: ClientConnection, pred: Callable[[Any], bool], within: float = TIMEOUT) -> list[Any]:
    """Every frame received up to and including the first one matching ``pred``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    seen = []
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"no matching frame among {len(seen)}")
        seen.append(await recv(ws, left))
        if pred(seen[-1]):
            return seen


async def until(condition: Callable[[], bool], within: float = TIMEOUT) -> None:
    """Wait (bounded) until ``condition()`` holds: for server-side state a socket cannot show."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def pinging(ws: ClientConnection, every: float = 0.4) -> AsyncIterator[None]:
    """Keep a socket alive while a test waits longer than the exchange's idle limit (its pace, not a sync)."""

    async def keepalive() -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(every)
                await send(ws, {"id": f"k{next(_ids)}", "type": "ping"})

    task = asyncio.get_running_loop().create_task(keepalive())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


def subscribe(channel: str, symbol: str | None = None, **extra: Any) -> dict[str, Any]:
    """A subscribe frame as ccxt sends it (public: ``tradeType`` SPOT)."""
    msg: dict[str, Any] = {"id": f"r{next(_ids)}", "action": "subscribe", "channel": channel}
    if symbol is not None:
        msg["symbol"] = symbol
    msg.setdefault("tradeType", "SPOT")
    msg.update(extra)
    return msg


async def request(ws: ClientConnection, msg: dict[str, Any]) -> dict[str, Any]:
    """Send a request and return the reply carrying its id (pushes on the way are skipped)."""
    await send(ws, msg)
    return await wait_for(ws, lambda m: m.get("id") == msg["id"] and "T" not in m)  # type: ignore[no-any-return]


async def before_pong(ws: ClientConnection) -> list[Any]:
    """Send a ping; every frame received before its pong (the server answers in order)."""
    pid = f"p{next(_ids)}"
    await send(ws, {"id": pid, "type": "ping"})
    frames = await collect(ws, lambda m: m.get("type") == "pong" and m.get("id") == pid)
    return frames[:-1]


def _hmac(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def auth_frame(
    creds: Credentials, *, timestamp_ms: int | None = None, secret: str | None = None
) -> dict[str, Any]:
    """The V2 ``op:auth`` frame (uta-protocol.md#private-authentication), signed here."""
    ts = str(time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms)
    key = creds.secret if secret is None else secret
    return {
        "id": f"a{next(_ids)}",
        "op": "auth",
        "kc-api-key": creds.key,
        "kc-api-sign": _hmac(key, ts + "POST/api/websocket/users/verify"),
        "kc-api-timestamp": ts,
        "kc-api-passphrase": _hmac(creds.secret, creds.passphrase),
    }


async def open_private(url: str, creds: Credentials) -> ClientConnection:
    """A private UTA socket authenticated with ``op:auth`` (V2)."""
    ws, welcome = await open_uta(url)
    assert welcome["message"] == "welcome"
    frame = auth_frame(creds)
    assert await request(ws, frame) == {"id": frame["id"], "result": True}
    return ws


async def signed(
    url: str, creds: Credentials, method: str, target: str, body: dict[str, Any] | None = None
) -> Any:
    """A signed REST call; the ``data`` of a ``200000`` answer (asserted)."""
    text = "" if body is None else json.dumps(body)
    headers = auth_headers(creds, method, target, text, timestamp_ms=time.time_ns() // 1_000_000)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
        response = await http.request(method, target, content=text.encode(), headers=headers)
    payload = response.json()
    assert payload["code"] == "200000", payload
    return payload["data"]
