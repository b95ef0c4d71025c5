"""The embedded exchange's UTA sockets: KuCoin's UTA connection protocol over websockets' asyncio server.

One :class:`UtaFeedServer` serves the public spot socket, another the private one (two ports, like
KuCoin's two hosts). Each connection is a :class:`~kunb.sim.feed.session.Session` in the same hub as the
classic ones, so pushes, private events and every fault reach it. Rules (``uta-protocol.md``):

* the request line is ``GET /``; the private socket also takes ``?token=`` from ``POST
  /api/v2/bullet-private`` (V1: an unknown or expired token closes the socket, code 1008), or, without a
  token, a V2 ``op:auth`` frame after the welcome (again on every connection);
* the welcome comes first: ``{"sessionId", "message": "welcome", "pingInterval", "pingTimeout"}``;
* every frame the server sends is binary (``#framing-and-lifetime``; ``binary=False`` sends text), and it
  reads text and binary frames alike;
* ``{"id", "type": "ping"}`` is answered ``{"type": "pong", "id", "ts"}`` and ``{"id", "op": "ping"}``
  ``{"op": "pong", "id"}``;
* ``action`` ``subscribe``/``unsubscribe`` in any case is answered ``{"id", "result": true}`` or ``false``
  with ``message`` or ``reason`` (:mod:`kunb.sim.feed.uta_topics`); an unlisted symbol is acknowledged and
  then silent; an ``obu`` subscription at a snapshot depth is followed by its snapshot;
* input that is not a JSON object gets no answer (counted in :attr:`UtaFeedServer.bad_inputs`); a JSON
  object that is no request gets ``invalid request data`` when it has an ``id``;
* limits: 300 (public) / 100 (private) client messages per 10 s, 600 / 400 topics per connection; a
  connection silent for ``pingInterval + pingTimeout`` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from kunb.sim.core.accounts import User
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.session import Session
from kunb.sim.feed.tokens import TokenRegistry
from kunb.sim.feed.uta_auth import AuthRefused, verify_auth
from kunb.sim.feed.uta_publisher import UtaPublisher
from kunb.sim.feed.uta_topics import (
    MAX_TOPICS_PRIVATE,
    MAX_TOPICS_PUBLIC,
    Refusal,
    Subscription,
    parse_key,
    parse_subscription,
)
from kunb.sim.wire import uta

__all__ = ["MAX_MESSAGE_BYTES", "UPLINK_LIMIT_PRIVATE", "UPLINK_LIMIT_PUBLIC", "UtaFeedServer"]

UPLINK_LIMIT_PUBLIC = 300  # uta-protocol.md#limits: client messages per 10 s, pings included
UPLINK_LIMIT_PRIVATE = 100
UPLINK_WINDOW_S = 10.0
MAX_MESSAGE_BYTES = 64 * 1024
_INVALID = "invalid request data"
_session_numbers = itertools.count(1)


class UtaFeedServer:
    """The connection handler of one UTA socket (public or private): one :meth:`handle` per connection.

    Args:
        hub: the feed's fan-out (shared with the classic feed).
        publisher: the UTA publisher (snapshots after subscriptions).
        symbols: the listed symbols.
        private: the private (account) socket.
        tokens: V1 tokens (private socket).
        lookup: finds the user of an API key (V2 ``op:auth``).
        ping_interval_ms, ping_timeout_ms: advertised in the welcome; idle connections are closed after
            their sum.
        wall_ns: the exchange clock.
        max_connection_s: close every connection this long after it opened (``None``: never).
        binary: send binary frames (KuCoin's); False sends text.
    """

    def __init__(
        self,
        hub: Hub,
        publisher: UtaPublisher,
        symbols: Collection[str],
        *,
        private: bool,
        tokens: TokenRegistry,
        lookup: Callable[[str], User | None],
        ping_interval_ms: int,
        ping_timeout_ms: int,
        wall_ns: Callable[[], int] = time.time_ns,
        max_connection_s: float | None = None,
        binary: bool = True,
    ) -> None:
        self.hub = hub
        self.publisher = publisher
        self.symbols = frozenset(symbols)
        self.private = private
        self.tokens = tokens
        self.lookup = lookup
        self.ping_interval_ms, self.ping_timeout_ms = ping_interval_ms, ping_timeout_ms
        self.idle_s = (ping_interval_ms + ping_timeout_ms) / 1000
        self.wall_ns = wall_ns
        self.max_connection_s = max_connection_s
        self.binary = binary
        self.uplink_limit = UPLINK_LIMIT_PRIVATE if private else UPLINK_LIMIT_PUBLIC
        self.max_topics = MAX_TOPICS_PRIVATE if private else MAX_TOPICS_PUBLIC
        self.connections_total = 0
        self.refusals_sent = 0  # result: false answers
        self.bad_inputs = 0  # frames that were not a JSON object (no answer)
        self.auth_refused = 0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one connection until it closes (token check, welcome, then the request loop)."""
        self.connections_total += 1
        token_value = (parse_qs(urlsplit(ws.request.path if ws.request else "").query).get("token") or [""])[
            0
        ]
        token = None
        if self.private and token_value:
            token = self.tokens.check(token_value, self.wall_ns())
            if token is None or not token.private:
                with contextlib.suppress(ConnectionClosed):
                    await ws.close(1008, "token is expired")
                return
        session_id = f"{self.wall_ns():x}-{next(_session_numbers)}"
        session = Session(ws, token, session_id, self.hub.everyone, binary=self.binary)
        session.last_seen = self._now()
        welcome = uta.welcome(session_id, self.ping_interval_ms, self.ping_timeout_ms)
        session.enqueue(orjson.dumps(welcome), control=True)
        self.hub.add(session)
        writer = asyncio.get_running_loop().create_task(session.writer(self._now))
        try:
            await self._serve(session)
        except ConnectionClosed:
            pass
        finally:
            self.hub.remove(session)
            writer.cancel()
            await asyncio.wait([writer])

    async def _serve(self, session: Session) -> None:
        ws = session.ws
        loop = asyncio.get_running_loop()
        end_of_life = loop.time() + self.max_connection_s if self.max_connection_s else float("inf")
        while True:
            try:
                raw = await asyncio.wait_for(
                    ws.recv(), timeout=max(0.0, min(self.idle_s, end_of_life - loop.time()))
                )
            except TimeoutError:
                reason = "connection lifetime exceeded" if loop.time() >= end_of_life else "ping timeout"
                await ws.close(1000, reason)
                return
            now = self._now()
            session.last_seen = now
            msg = self._parse(raw)
            if msg is None:
                self.bad_inputs += 1
                continue  # uta-protocol.md#framing-and-lifetime: non-JSON input gets no answer
            if not session.allow_uplink(now, self.uplink_limit, UPLINK_WINDOW_S):
                self._reply(session, msg, f"exceed max permits: {self.uplink_limit} per 10 s", now)
                continue
            self._dispatch(session, msg, now)

    @staticmethod
    def _parse(raw: str | bytes) -> dict[str, Any] | None:
        if len(raw) > MAX_MESSAGE_BYTES:
            return None
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return msg if isinstance(msg, dict) else None

    @staticmethod
    def _id(msg: dict[str, Any]) -> str | None:
        value = msg.get("id")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        return str(value)

    def _send(self, session: Session, frame: dict[str, Any]) -> None:
        session.enqueue(orjson.dumps(frame), control=True)

    def _reply(
        self, session: Session, msg: dict[str, Any], reason: str, now: float, *, key: str = "message"
    ) -> None:
        """A ``result: false`` answer (only to a frame with an id: there is nothing to answer otherwise)."""
        request_id = self._id(msg)
        if request_id is None:
            self.bad_inputs += 1
            return
        self.refusals_sent += 1
        self._answer(session, uta.result(request_id, False, reason, key=key), now)

    def _answer(self, session: Session, frame: dict[str, Any], now: float) -> float | None:
        """Send a result under the ack faults; returns its delay, ``None`` when it was dropped."""
        delay = session.reply_delay(now)
        if delay is None:
            return None
        raw = orjson.dumps(frame)
        if delay > 0:
            asyncio.get_running_loop().call_later(
                delay, functools.partial(session.enqueue, raw, control=True)
            )
        else:
            session.enqueue(raw, control=True)
        return delay

    def _dispatch(self, session: Session, msg: dict[str, Any], now: float) -> None:
        request_id = self._id(msg)
        kind, op = msg.get("type"), msg.get("op")
        if kind == "ping" or op == "ping":
            if request_id is None:
                self._reply(session, msg, _INVALID, now)
            elif not session.no_pong(now):
                pong = (
                    uta.pong_type(request_id, self.wall_ns()) if kind == "ping" else uta.pong_op(request_id)
                )
                self._send(session, pong)
            return
        if op == "auth":
            self._auth(session, msg, now)
            return
        action = msg.get("action")
        if isinstance(action, str) and action.lower() in ("subscribe", "unsubscribe"):
            self._subscription(session, msg, action.lower() == "subscribe", now)
            return
        self._reply(session, msg, _INVALID, now)

    def _auth(self, session: Session, msg: dict[str, Any], now: float) -> None:
        if not self.private:
            self._reply(session, msg, _INVALID, now)
            return
        try:
            user = verify_auth(msg, self.lookup, now_ms=self.wall_ns() // 1_000_000)
        except AuthRefused as exc:
            self.auth_refused += 1
            self._reply(session, msg, str(exc), now)
            return
        session.user_id = user.user_id
        request_id = self._id(msg)
        if request_id is not None:
            self._answer(session, uta.result(request_id, True), now)

    def _subscription(self, session: Session, msg: dict[str, Any], subscribe: bool, now: float) -> None:
        if self._id(msg) is None:
            self.bad_inputs += 1
            return
        try:
            sub = parse_subscription(msg, self.symbols, private=self.private)
        except Refusal as exc:
            self._reply(session, msg, exc.reason, now, key=exc.key)
            return
        if sub.private and session.user_id is None:
            self._reply(session, msg, "authentication required: send op:auth first", now)
            return
        if subscribe:
            new = [k for k in sub.keys if k not in session.topics and k not in session.ghosts]
            if len(session.topics) + len(session.ghosts) + len(new) > self.max_topics:
                self._reply(
                    session,
                    msg,
                    f"exceed max subscription count limitation of {self.max_topics} per session",
                    now,
                )
                return
            self._subscribe(session, sub, new)
        else:
            self.hub.unsubscribe(session, sub.keys)
            session.ghosts.difference_update(sub.keys)
            new = []
        request_id = self._id(msg)
        assert request_id is not None
        delay = self._answer(session, uta.result(request_id, True), now)
        for key in new:
            if sub.listed and parse_key(key)[0] == "obu" and parse_key(key)[2] in uta.SNAPSHOT_DEPTHS:
                # the snapshot follows the answer (never before it), later under delay_snapshots
                wait = max(delay or 0.0, session.snapshot_delay(now))
                self._promise_snapshot(session, key, wait)

    def _subscribe(self, session: Session, sub: Subscription, new: list[str]) -> None:
        if not sub.listed:
            session.ghosts.update(new)  # uta-protocol.md#replies: acknowledged, then nothing
            return
        self.hub.subscribe(session, new)
        for key in new:
            self.publisher.subscribed(key)

    def _promise_snapshot(self, session: Session, key: str, wait: float) -> None:
        def send() -> None:
            self.publisher.send_snapshot(session, key, self.wall_ns())

        if wait > 0:
            asyncio.get_running_loop().call_later(wait, send)
        else:
            send()  # right after the answer just queued
