"""Test helper (not a test module): a small scripted UTA server on 127.0.0.1:0, speaking binary JSON frames.

It follows ``docs/reference/uta-protocol.md``: a ``message: welcome`` frame with ``pingInterval``, pongs in
the style of the ping (``type`` or ``op``), ``{"id", "result"}`` answers to subscribe/unsubscribe and to
the V2 ``op:auth`` frame (its signature checked with the test's own HMAC, not kunb's), and ``{"T","P","d"}``
pushes on demand. Knobs script the faults: refused topics, a refused auth, no pongs, a silent server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve

KEY, SECRET, PASSPHRASE = "uta-key", "uta-secret", "uta-pass"


def _hmac(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


class UtaFeed:
    """A scripted UTA socket (public or private: the same server answers both)."""

    def __init__(self, *, ping_interval_ms: int = 18000, binary: bool = True) -> None:
        self.ping_interval_ms = ping_interval_ms
        self.binary = binary  # UTA sends binary frames (uta-protocol.md#framing-and-lifetime)
        self.paths: list[str] = []
        self.conns: list[ServerConnection] = []
        self.received: list[tuple[int, dict[str, Any]]] = []  # (connection number, frame)
        self.refused: set[str] = set()  # symbols (or channels) whose subscribe is refused
        self.string_result = False  # answer "result": "true" (the documentation's spelling)
        self.accept_auth = True
        self.pong = True
        self.welcome = True
        self.subscribed: dict[int, set[tuple[str, str, str]]] = {}
        # symbol -> (sequence, bids, asks): an obu subscription is answered with this snapshot after its ack
        self.books: dict[str, tuple[int, list[tuple[str, str]], list[tuple[str, str]]]] = {}
        self.changed = asyncio.Event()
        self.server: Any = None
        self.port = 0

    async def __aenter__(self) -> UtaFeed:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def send(self, ws: ServerConnection, message: dict[str, Any]) -> None:
        raw = orjson.dumps(message)
        await ws.send(raw if self.binary else raw.decode())

    async def send_raw(self, data: bytes | str) -> None:
        await self.conns[-1].send(data)

    async def push(self, frame: dict[str, Any], conn: int = -1) -> None:
        """Send a push on connection ``conn`` (default: the latest)."""
        await self.send(self.conns[conn], frame)

    def connection_with(self, channel: str) -> int:
        """The number of the latest connection subscribed to ``channel``."""
        return max(n for n, keys in self.subscribed.items() if any(k[0] == channel for k in keys))

    def frames(self, conn: int | None = None, **match: Any) -> list[dict[str, Any]]:
        """Received frames (of connection ``conn``) whose keys equal ``match``."""
        return [
            f
            for n, f in self.received
            if (conn is None or n == conn) and all(f.get(k) == v for k, v in match.items())
        ]

    async def _handler(self, ws: ServerConnection) -> None:
        number = len(self.conns)
        self.paths.append(ws.request.path if ws.request is not None else "")
        self.conns.append(ws)
        self.subscribed[number] = set()
        self.changed.set()
        if self.welcome:
            welcome = {"sessionId": f"s{number}", "message": "welcome", "pingInterval": self.ping_interval_ms}
            await self.send(ws, welcome)
        async for raw in ws:
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # "non-JSON input gets no answer"
            self.received.append((number, msg))
            self.changed.set()
            await self._answer(ws, number, msg)

    async def _answer(self, ws: ServerConnection, number: int, msg: dict[str, Any]) -> None:
        if msg.get("type") == "ping":
            if self.pong:
                await self.send(ws, {"type": "pong", "id": msg["id"], "ts": 1790113111261396000})
            return
        if msg.get("op") == "ping":
            if self.pong:
                await self.send(ws, {"op": "pong", "id": msg["id"]})
            return
        if msg.get("op") == "auth":
            expected = _hmac(SECRET, f"{msg.get('kc-api-timestamp')}POST/api/websocket/users/verify")
            ok = (
                self.accept_auth
                and msg.get("kc-api-key") == KEY
                and msg.get("kc-api-sign") == expected
                and msg.get("kc-api-passphrase") == _hmac(SECRET, PASSPHRASE)
            )
            answer: dict[str, Any] = {"id": msg["id"], "result": ok}
            if not ok:
                answer["message"] = "signature verification failed"
            await self.send(ws, answer)
            return
        action = str(msg.get("action", "")).lower()
        if action in ("subscribe", "unsubscribe"):
            channel, symbol = str(msg.get("channel")), str(msg.get("symbol", ""))
            if symbol in self.refused or channel in self.refused:
                await self.send(ws, {"id": msg["id"], "result": False, "message": "invalid request data"})
                return
            key = (channel, symbol, str(msg.get("depth") or msg.get("interval") or ""))
            if action == "subscribe":
                self.subscribed[number].add(key)
            else:
                self.subscribed[number].discard(key)
            await self.send(ws, {"id": msg["id"], "result": "true" if self.string_result else True})
            book = self.books.get(symbol)
            if action == "subscribe" and channel == "obu" and book is not None and key[2] != "increment":
                seq, bids, asks = book
                await self.send(
                    ws, obu("snapshot", seq, seq, symbol=symbol, bids=bids, asks=asks, depth=key[2])
                )


def ticker(symbol: str = "BTC-USDT", price: str = "90968.2", seq: int = 25958853459) -> dict[str, Any]:
    """A ``ticker.SPOT`` push (uta-protocol.md#ticker), with a time above 2**53 as a JSON number."""
    return {
        "T": "ticker.SPOT",
        "P": 1768206966101166007,
        "d": {"s": symbol, "a": "90968.3", "A": "0.9", "b": "90968.1", "B": "0.02", "l": price, "q": "0.001",
              "S": "BUY", "E": seq, "M": 1768206966096000000},
    }  # fmt: skip


def obu(
    kind: str, first: int, last: int, *, symbol: str = "BTC-USDT", bids: Any = (), asks: Any = (),
    depth: str = "increment@10ms",
) -> dict[str, Any]:  # fmt: skip
    """An ``obu.SPOT`` push (uta-protocol.md#order-book)."""
    return {
        "T": "obu.SPOT", "dp": depth, "t": kind, "P": 1781672136338555550,
        "d": {"s": symbol, "O": first, "C": last, "M": 1781672136333000000,
              "b": [list(level) for level in bids], "a": [list(level) for level in asks]},
    }  # fmt: skip
