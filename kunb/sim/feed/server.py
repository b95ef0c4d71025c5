"""The simulator's WebSocket feed: KuCoin's connection protocol over websockets' asyncio server.

:meth:`FeedServer.handle` serves one connection as a :class:`~kunb.sim.feed.session.Session` registered
with the :class:`~kunb.sim.feed.hub.Hub`. Protocol rules follow ``classic-protocol.md`` sections 1.2-1.8:
token required (else a 401 error frame, then close), welcome first with ``connectId`` as its id, JSON
ping -> pong with the id as a string, subscribe/unsubscribe with an ack when ``response`` is true, error
frames (404 unknown topic, 415 unknown type, 509 limits), idle connections closed after
``pingInterval + pingTimeout`` without a client message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from kunb.exceptions import SubscribeError
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.session import Session
from kunb.sim.feed.tokens import TokenRegistry
from kunb.sim.feed.topics import MAX_TOPICS_PER_CONNECTION, expand

__all__ = ["MAX_MESSAGE_BYTES", "UPLINK_LIMIT", "FeedServer"]


UPLINK_LIMIT = 100  # 1.8: client messages per 10 s
UPLINK_WINDOW_S = 10.0
MAX_MESSAGE_BYTES = 64 * 1024  # larger client frames get an error frame, not a dropped connection


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class FeedServer:
    """The connection handler: one :meth:`handle` call per WebSocket connection."""

    def __init__(
        self,
        hub: Hub,
        tokens: TokenRegistry,
        symbols: Iterable[str],
        *,
        ping_interval_ms: int,
        ping_timeout_ms: int,
        wall_ns: Callable[[], int] = time.time_ns,
        max_connection_s: float | None = None,
    ) -> None:
        self.hub = hub
        self.max_connection_s = max_connection_s
        self.tokens = tokens
        self.symbols = frozenset(symbols)
        self.idle_s = (ping_interval_ms + ping_timeout_ms) / 1000
        self.wall_ns = wall_ns
        self.connections_total = 0
        self.errors_sent = 0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _error(self, session: Session, req_id: Any, code: int, data: str) -> None:
        self.errors_sent += 1
        ident = session.connect_id if req_id is None else str(req_id)
        session.enqueue(_dumps({"id": ident, "type": "error", "code": code, "data": data}), control=True)

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one connection until it closes (token check, welcome, then the request loop)."""
        self.connections_total += 1
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        token_value = (query.get("token") or [""])[0]
        connect_id = (query.get("connectId") or [""])[0] or format(self.wall_ns(), "x")
        token = self.tokens.check(token_value, self.wall_ns())
        if token is None:
            # 1.1: KuCoin's frame for a stale/unknown token, then the connection ends.
            with contextlib.suppress(ConnectionClosed):
                frame = {"id": connect_id, "type": "error", "code": 401, "data": "token is expired"}
                await ws.send(_dumps(frame), text=True)
                await ws.close(1008, "token is expired")
            return
        session = Session(ws, token, connect_id, self.hub.everyone)
        session.last_seen = self._now()
        session.enqueue(_dumps({"id": connect_id, "type": "welcome"}), control=True)
        self.hub.add(session)
        writer = asyncio.get_running_loop().create_task(session.writer(self._now))
        try:
            await self._serve(session)
        except ConnectionClosed:
            pass
        finally:
            self.hub.remove(session)
            writer.cancel()
            await asyncio.wait([writer])  # the writer's own error/cancel is not ours to raise

    async def _serve(self, session: Session) -> None:
        ws = session.ws
        loop = asyncio.get_running_loop()
        end_of_life = loop.time() + self.max_connection_s if self.max_connection_s else float("inf")
        while True:
            timeout = min(self.idle_s, end_of_life - loop.time())
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.0, timeout))
            except TimeoutError:
                if loop.time() >= end_of_life:
                    # 1.1: KuCoin expects to drop every connection after about 24 h.
                    await ws.close(1000, "connection lifetime exceeded")
                else:
                    # 6.3: KuCoin drops connections that stay silent past pingInterval + pingTimeout.
                    await ws.close(1000, "ping timeout")
                return
            now = self._now()
            session.last_seen = now
            if not session.allow_uplink(now, UPLINK_LIMIT, UPLINK_WINDOW_S):
                self._error(session, None, 509, "exceed max permits per second")
                continue
            if isinstance(raw, bytes):
                self._error(session, None, 415, "binary frames are not supported")
                continue
            if len(raw) > MAX_MESSAGE_BYTES:
                self._error(session, None, 400, "message too long")
                continue
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self._error(session, None, 400, "malformed json")
                continue
            if not isinstance(msg, dict):
                self._error(session, None, 400, "message must be a JSON object")
                continue
            self._dispatch(session, msg, now)

    def _dispatch(self, session: Session, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("type")
        req_id = msg.get("id")
        if isinstance(req_id, (dict, list)):
            self._error(session, None, 400, "id must be a string or a number")
            return
        if kind == "ping":
            if session.no_pong(now):
                return
            pong: dict[str, Any] = {"id": "" if req_id is None else str(req_id), "type": "pong"}
            session.enqueue(_dumps(pong), control=True)
            return
        if kind in ("subscribe", "unsubscribe"):
            self._subscription(session, msg, kind, req_id, now)
            return
        self._error(session, req_id, 415, "type is not supported")

    def _subscription(
        self, session: Session, msg: dict[str, Any], kind: str, req_id: Any, now: float
    ) -> None:
        topic = msg.get("topic")
        if not isinstance(topic, str) or not topic:
            self._error(session, req_id, 400, "topic must be a non-empty string")
            return
        try:
            prefix, topics = expand(topic, self.symbols, private_prefixes=self.hub.private_prefixes)
        except SubscribeError as exc:
            self._error(session, req_id, exc.code, exc.data)
            return
        if kind == "subscribe":
            if prefix in self.hub.private_prefixes and (session.token is None or not session.token.private):
                self._error(session, req_id, 401, f"topic {topic} requires a private token")
                return
            if len(session.topics | set(topics)) > MAX_TOPICS_PER_CONNECTION:
                self._error(
                    session,
                    req_id,
                    509,
                    f"exceed max subscription count limitation of {MAX_TOPICS_PER_CONNECTION} per session",
                )
                return
            self.hub.subscribe(session, topics)
        else:
            self.hub.unsubscribe(session, topics)
        if msg.get("response") is True:
            self._ack(session, req_id, now)

    def _ack(self, session: Session, req_id: Any, now: float) -> None:
        delay = session.reply_delay(now)
        if delay is None:
            return
        frame = _dumps({"id": "" if req_id is None else str(req_id), "type": "ack"})
        if delay > 0:
            asyncio.get_running_loop().call_later(
                delay, functools.partial(session.enqueue, frame, control=True)
            )
        else:
            session.enqueue(frame, control=True)
