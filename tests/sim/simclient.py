"""Test helper (not a test module): a raw websockets client for kunb.sim with bounded waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 5.0


async def bullet(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as c:
        r = await c.post("/api/v1/bullet-public")
        r.raise_for_status()
        return r.json()["data"]


async def open_ws(url: str, *, connect_id: str = "cid-1", token: str | None = None, welcome: bool = True):
    """Connect to the feed named by a fresh public bullet; consume the welcome unless told not to."""
    data = await bullet(url)
    endpoint = data["instanceServers"][0]["endpoint"]
    tok = data["token"] if token is None else token
    # max_queue=None: a test that stops reading must not stall its own close handshake behind
    # unread pushes (websockets pauses reading when its receive queue is full).
    ws = await connect(
        f"{endpoint}?token={tok}&connectId={connect_id}", open_timeout=TIMEOUT, max_size=None, max_queue=None
    )
    if welcome:
        msg = await recv(ws)
        assert msg == {"id": connect_id, "type": "welcome"}
    return ws


async def recv(ws: ClientConnection, within: float = TIMEOUT) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), within))


async def send(ws: ClientConnection, msg: dict[str, Any] | str) -> None:
    await ws.send(msg if isinstance(msg, str) else orjson.dumps(msg).decode())


async def wait_for(ws: ClientConnection, pred: Callable[[Any], bool], within: float = TIMEOUT) -> Any:
    """The first message matching ``pred`` within ``within`` seconds (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError("no matching message")
        msg = await recv(ws, left)
        if pred(msg):
            return msg


async def request(ws: ClientConnection, msg: dict[str, Any]) -> Any:
    """Send a request and return the ack/error/pong frame answering it (pushes are skipped)."""
    await send(ws, msg)
    return await wait_for(ws, lambda m: m.get("type") in ("ack", "error", "pong"))
