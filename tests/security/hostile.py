"""Test helper (not a test module): hostile-input strategies, fuzz budgets and a scripted KuCoin feed.

``fuzz(n)`` scales hypothesis' example count: ``n`` in CI (``CI=true``), a tenth of it locally, or
``KUNB_FUZZ_EXAMPLES`` when set (exactly that many). :class:`ScriptedFeed` is a tiny KuCoin-shaped
WebSocket server on 127.0.0.1 (welcome, acks, pongs) that sends whatever frames a test hands it, so a
live :class:`kunb.ws_client.KucoinWsClient` can be fed garbage over a real socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = [
    "CI",
    "BackgroundLoop",
    "ScriptedFeed",
    "dumps",
    "fuzz",
    "hostile_frames",
    "json_values",
    "raw_frames",
    "wire_dicts",
]

_T = TypeVar("_T")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def fuzz(n: int, **kw: Any) -> settings:
    """Settings for ``n`` examples in CI (a tenth locally; ``KUNB_FUZZ_EXAMPLES`` overrides both)."""
    override = os.environ.get("KUNB_FUZZ_EXAMPLES")
    count = int(override) if override else (n if CI else max(n // 10, 20))
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,  # one live client per test, shared by its examples
        ],
        **kw,
    )


# -- values a hostile server can put in a frame ---------------------------------------------------

_HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 10**30, 2**64 + 7, -1, 0])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | _HUGE_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "1e999", "-1e999", "nan", "inf", "9" * 400, "0x10", "1_000", " 1", "١٢", "1abc"])
)
json_values = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=8,
)
"""Any JSON value (as Python), with huge numbers, odd numeric strings and nesting."""


def wire_dicts(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict where each known field is sometimes missing, sometimes right, sometimes any JSON value,
    plus a few unknown keys."""
    parts = {name: st.one_of(st.just(_MISSING), strategy, json_values) for name, strategy in fields.items()}
    extra = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
    return st.builds(
        lambda known, more: {**more, **{k: v for k, v in known.items() if v is not _MISSING}},
        st.fixed_dictionaries(parts),
        extra,
    )


_MISSING = object()

_TYPES = st.sampled_from(["message", "welcome", "ack", "error", "pong", "notice", "command", "ping", "x"])
_TOPICS = st.sampled_from(
    ["/market/ticker:BTC-USDT", "/market/level2:BTC-USDT", "/market/ticker:all", "/account/balance", ""]
)
_SUBJECTS = st.sampled_from(["trade.ticker", "trade.l2update", "BTC-USDT", "account.balance", ""])

hostile_frames = wire_dicts(
    {
        "type": _TYPES,
        "id": st.text(max_size=4) | st.integers(),
        "topic": _TOPICS,
        "subject": _SUBJECTS,
        "data": json_values,
        "code": st.integers(),
    }
)
"""Frame-shaped dicts with every field possibly missing, mistyped or unknown."""


def dumps(value: Any) -> bytes:
    """JSON bytes of any value (big integers too, which orjson refuses)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


raw_frames = st.one_of(
    hostile_frames.map(dumps),
    json_values.map(dumps),  # valid JSON that is not an object
    st.binary(max_size=64),  # anything, usually invalid UTF-8 / not JSON
    st.sampled_from(
        [
            b"",
            b"\xff\xfe\x00",
            b'{"type":"message","topic":',  # truncated
            b'{"type":"message","topic":"\xc3\x28"}',  # invalid UTF-8 inside a string
            b'{"a":1e999999}',
            b'{"type":"message","data":' + b"9" * 5000 + b"}",
            b"NaN",
            b'{"type":"message","topic":"/market/ticker:X","data":{}}' + b"x",
            _nested(100_000),
            _nested(300),
        ]
    ),
)
"""Raw frame bytes a hostile server might send."""


# -- a scripted KuCoin-shaped feed --------------------------------------------------------------


class ScriptedFeed:
    """A minimal KuCoin feed on 127.0.0.1: welcome, acks, pongs; ``push(frames)`` sends raw frames.

    Frames that are UTF-8 go as text frames, others as binary frames (a text frame cannot carry
    them). Use ``async with ScriptedFeed() as feed`` and hand ``feed.token_client`` to the client.
    """

    def __init__(self, *, ping_interval_ms: int = 2_000, ping_timeout_ms: int = 2_000) -> None:
        self.ping = (ping_interval_ms, ping_timeout_ms)
        self.connections: list[ServerConnection] = []
        self.dials = 0
        self._server: Server | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedFeed:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=2**20, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def token_client(self) -> Any:
        feed = self

        class _Tokens:
            async def aget_ws_token(self, is_private: bool = False) -> dict[str, Any]:
                return {
                    "token": "scripted-token",
                    "instanceServers": [
                        {
                            "endpoint": f"ws://127.0.0.1:{feed.port}/",
                            "pingInterval": feed.ping[0],
                            "pingTimeout": feed.ping[1],
                        }
                    ],
                }

        return _Tokens()

    async def _handle(self, ws: ServerConnection) -> None:
        self.dials += 1
        self.connections.append(ws)
        try:
            await ws.send(orjson.dumps({"id": "scripted", "type": "welcome"}).decode())
            async for raw in ws:
                try:
                    msg = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                kind = msg.get("type")
                if kind in ("subscribe", "unsubscribe"):
                    await ws.send(orjson.dumps({"id": msg["id"], "type": "ack"}).decode())
                elif kind == "ping":
                    await ws.send(orjson.dumps({"id": msg["id"], "type": "pong"}).decode())
        except ConnectionClosed:
            pass
        finally:
            self.connections.remove(ws)

    async def push(self, frames: list[bytes]) -> int:
        """Send ``frames`` on every open connection; returns how many connections got them."""
        sent = 0
        for ws in list(self.connections):
            try:
                for frame in frames:
                    try:
                        text = frame.decode()
                    except UnicodeDecodeError:
                        await ws.send(frame)  # binary frame
                    else:
                        await ws.send(text)
                sent += 1
            except ConnectionClosed:
                continue
        return sent


class BackgroundLoop:
    """An asyncio loop on a thread, so synchronous hypothesis tests can drive one long-lived client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], _T]) -> _T:
        async def wrap() -> _T:
            return fn()

        return self.run(wrap())

    def close(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
