"""kunb.net.connection.ConnectWebsocket against a tiny scripted KuCoin feed on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
import traceback
import warnings

import orjson
import pytest
from support import client_tasks, until
from websockets.asyncio.server import ServerConnection, serve

from kunb.exceptions import (
    ApiError,
    AuthenticationError,
    ConnectionClosed,
    RequestTimeout,
    SubscribeError,
    TransportError,
)
from kunb.net.connection import ConnectionState, ConnectWebsocket, EventKind

TIMEOUT = 5.0


class FakeKuCoin:
    """A scripted KuCoin feed: welcome, ping/pong, subscribe ack/error, pushes on demand, faults."""

    def __init__(self, *, ping_interval_ms: int = 18000, ping_timeout_ms: int = 10000) -> None:
        self.ping = (ping_interval_ms, ping_timeout_ms)
        self.tokens: list[str] = []  # tokens seen on connect
        self.issued = 0
        self.conns: list[ServerConnection] = []
        self.received: list[dict] = []
        self.bad_topics: set[str] = set()
        self.subscribed: dict[ServerConnection, set[str]] = {}
        self.welcome = True
        self.pong = True
        self.ack = True
        self.token_fail: Exception | None = None
        self.expired_tokens: set[str] = set()
        self.server = None
        self.port = 0

    async def __aenter__(self) -> FakeKuCoin:
        self.server = await serve(self._handler, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    # the token client -------------------------------------------------------------------------
    async def aget_ws_token(self, is_private: bool = False) -> dict:
        if self.token_fail is not None:
            raise self.token_fail
        self.issued += 1
        return {
            "token": f"secret-token-{self.issued}",
            "instanceServers": [
                {
                    "endpoint": f"ws://127.0.0.1:{self.port}/endpoint",
                    "encrypt": None,
                    "protocol": "websocket",
                    "pingInterval": self.ping[0],
                    "pingTimeout": self.ping[1],
                }
            ],
        }

    # server side -------------------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        token = ws.request.path.split("token=")[1].split("&")[0]
        self.tokens.append(token)
        if token in self.expired_tokens:
            await ws.send(json.dumps({"type": "error", "code": 401, "data": "token is expired"}))
            return
        self.conns.append(ws)
        self.subscribed[ws] = set()
        if self.welcome:
            await ws.send(json.dumps({"id": "c", "type": "welcome"}))
        async for raw in ws:
            msg = json.loads(raw)
            self.received.append(msg)
            kind = msg.get("type")
            if kind == "ping" and self.pong:
                await ws.send(json.dumps({"id": msg["id"], "type": "pong"}))
            elif kind in ("subscribe", "unsubscribe"):
                prefix, _, args = msg["topic"].partition(":")
                units = {f"{prefix}:{a}" if args else prefix for a in (args.split(",") if args else [""])}
                if units & self.bad_topics:
                    await ws.send(
                        json.dumps({"id": msg["id"], "type": "error", "code": 404, "data": "topic not found"})
                    )
                    continue
                if kind == "subscribe":
                    self.subscribed[ws] |= units
                else:
                    self.subscribed[ws] -= units
                if self.ack:
                    await ws.send(json.dumps({"id": msg["id"], "type": "ack"}))

    @property
    def live(self) -> ServerConnection:
        return self.conns[-1]

    async def push(self, topic: str, data: dict | None = None, subject: str = "trade.ticker") -> None:
        frame = {"type": "message", "topic": topic, "subject": subject, "data": data or {"price": "1"}}
        await self.live.send(orjson.dumps(frame).decode())

    def subscribe_frames(self) -> list[dict]:
        return [m for m in self.received if m.get("type") == "subscribe"]


class Sink:
    """Collects callback messages and lifecycle events."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.events = []

    def __call__(self, msg: dict) -> None:
        self.messages.append(msg)

    def on_event(self, event) -> None:
        self.events.append(event)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]


FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 2.0}


@contextlib.asynccontextmanager
async def connection(fake: FakeKuCoin, sink: Sink, **kw):
    opts = {**FAST, **kw}
    conn = ConnectWebsocket(None, fake, sink, on_event=sink.on_event, **opts)
    try:
        yield conn
    finally:
        await conn.close()


async def test_connects_subscribes_and_delivers_only_messages():
    """Welcome -> live; subscribe awaits the ack; only message frames reach the callback,
    ticker data gains its symbol, and the topic string is as KuCoin sent it."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT,ETH-USDT")
            assert conn.state is ConnectionState.LIVE
            assert list(conn.topics) == ["/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT"]
            sub = fake.subscribe_frames()[-1]
            assert sub["topic"] == "/market/ticker:BTC-USDT,ETH-USDT" and sub["response"] is True
            await fake.push("/market/ticker:ETH-USDT")
            await fake.live.send(json.dumps({"type": "notice", "data": "hello"}))
            await fake.live.send(json.dumps({"id": "zz", "type": "error", "code": 500, "data": "x"}))
            await fake.push("/market/ticker:BTC-USDT")
            await until(lambda: len(sink.messages) == 2 or conn.state is not ConnectionState.LIVE)
            assert conn.state is ConnectionState.LIVE and conn.counters.reconnects == 0  # stray error: kept
            assert sink.messages[0]["topic"] == "/market/ticker:ETH-USDT"
            assert sink.messages[0]["data"] == {"price": "1", "symbol": "ETH-USDT"}
            assert all(m["type"] == "message" for m in sink.messages)
            assert conn.counters.messages == 2 and conn.counters.age("/market/ticker:ETH-USDT") >= 0
            kinds = sink.kinds()
            assert kinds[:3] == [EventKind.CONNECTED, EventKind.WELCOME, EventKind.SUBSCRIBED]
        assert conn.state is ConnectionState.CLOSED and sink.kinds()[-1] is EventKind.CLOSED


async def test_subscribe_is_idempotent_and_unsubscribe_forgets():
    """Subscribing twice sends once; unsubscribe of unknown topics is a no-op."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT")
            await conn.subscribe(" /market/ticker: BTC-USDT")
            assert len(fake.subscribe_frames()) == 1
            await conn.unsubscribe("/market/ticker:BTC-USDT,NOPE-USDT")
            assert list(conn.topics) == []
            unsubs = [m for m in fake.received if m["type"] == "unsubscribe"]
            assert [m["topic"] for m in unsubs] == ["/market/ticker:BTC-USDT"]
            await conn.unsubscribe("/market/ticker:XYZ-USDT")
            assert len([m for m in fake.received if m["type"] == "unsubscribe"]) == 1


async def test_bad_topic_raises_subscribe_error_others_keep_streaming():
    """An error frame answers subscribe with SubscribeError(code); other topics keep streaming."""
    async with FakeKuCoin() as fake:
        fake.bad_topics = {"/market/level2:BAD-USDT"}
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT")
            with pytest.raises(SubscribeError) as info:
                await conn.subscribe("/market/level2:BAD-USDT")
            assert info.value.code == 404
            assert list(conn.topics) == ["/market/ticker:BTC-USDT"]
            await fake.push("/market/ticker:BTC-USDT")
            await until(lambda: len(sink.messages) == 1)
            assert conn.state is ConnectionState.LIVE


async def test_missing_ack_times_out_typed():
    """No ack within the timeout raises RequestTimeout and the topic is not recorded."""
    async with FakeKuCoin() as fake:
        fake.ack = False
        async with connection(fake, Sink()) as conn:
            with pytest.raises(RequestTimeout):
                await conn.subscribe("/market/ticker:BTC-USDT", timeout=0.2)
            assert list(conn.topics) == []


async def test_batches_respect_100_per_request():
    """350 symbols go out as 4 subscribe requests of <=100 symbols each."""
    async with FakeKuCoin() as fake, connection(fake, Sink()) as conn:
        syms = [f"S{i}-USDT" for i in range(350)]
        await conn.subscribe([f"/market/ticker:{s}" for s in syms])
        sizes = [len(m["topic"].split(":")[1].split(",")) for m in fake.subscribe_frames()]
        assert sizes == [100, 100, 100, 50]
        assert len(conn.topics) == 350


async def test_abrupt_disconnect_reconnects_with_new_token_and_resubscribes():
    """An aborted TCP link: redial with a fresh token, resubscribe everything, messages resume."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe(["/market/ticker:BTC-USDT", "/market/level2:BTC-USDT"])
            first = fake.live
            first.transport.abort()
            await until(lambda: len(fake.conns) == 2 and conn.state is ConnectionState.LIVE)
            assert fake.tokens[0] != fake.tokens[1]
            assert fake.subscribed[fake.live] == {"/market/ticker:BTC-USDT", "/market/level2:BTC-USDT"}
            await fake.push("/market/ticker:BTC-USDT")
            await until(lambda: len(sink.messages) == 1)
            kinds = sink.kinds()
            assert EventKind.DISCONNECTED in kinds and EventKind.RESUBSCRIBED in kinds
            assert conn.counters.reconnects == 1


async def test_server_close_and_expired_token_redial():
    """A clean server close, then a 401 'token is expired' error frame: both end in a new live link."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT")
            fake.expired_tokens.add(f"secret-token-{fake.issued + 1}")
            await fake.live.close()
            await until(lambda: len(fake.conns) == 2 and conn.state is ConnectionState.LIVE)
            assert len(fake.tokens) == 3  # closed -> expired token refused -> fresh token
            assert fake.subscribed[fake.live] == {"/market/ticker:BTC-USDT"}


async def test_silent_server_declared_dead_by_pong_deadline():
    """No pong and no frame within pingTimeout after a ping: the link is dropped and redialed."""
    async with FakeKuCoin(ping_interval_ms=100, ping_timeout_ms=150) as fake:
        sink = Sink()
        async with connection(fake, sink) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT")
            pings_before = sum(m["type"] == "ping" for m in fake.received)
            fake.pong = False
            await until(lambda: len(fake.conns) == 2)
            fake.pong = True
            await until(lambda: conn.state is ConnectionState.LIVE and fake.subscribed[fake.live])
            dis = [e for e in sink.events if e.kind is EventKind.DISCONNECTED]
            assert isinstance(dis[0].error, RequestTimeout)
            assert sum(m["type"] == "ping" for m in fake.received) > pings_before


async def test_keepalive_pings_at_interval_with_unique_ids():
    """JSON pings go out every pingInterval with ids never reused."""
    async with FakeKuCoin(ping_interval_ms=50, ping_timeout_ms=1000) as fake, connection(fake, Sink()):
        await until(lambda: sum(m["type"] == "ping" for m in fake.received) >= 4)
        ids = [m["id"] for m in fake.received]
        assert len(ids) == len(set(ids))


async def test_no_welcome_times_out_and_retries():
    """A server that never welcomes: typed timeout, then retries (backoff) until it does."""
    async with FakeKuCoin() as fake:
        fake.welcome = False
        sink = Sink()
        # a first connection that keeps failing gives up after 2 s unless told to keep trying
        async with connection(fake, sink, welcome_timeout=0.1, unreachable_after=None) as conn:
            await until(lambda: len(fake.conns) >= 2)
            errors = [e.error for e in sink.events if e.kind is EventKind.DISCONNECTED]
            assert isinstance(errors[0], RequestTimeout)
            fake.welcome = True
            await conn.wait_live(TIMEOUT)


async def test_token_endpoint_failing_for_a_while_then_recovers():
    """Bullet 5xx: backoff and retry, then connect with the first token that works."""
    from kunb.exceptions import ApiError

    async with FakeKuCoin() as fake:
        fake.token_fail = ApiError("500000", "Internal error", 503)
        sink = Sink()
        async with connection(fake, sink, unreachable_after=None) as conn:
            await until(lambda: sum(e.kind is EventKind.RECONNECTING for e in sink.events) >= 3)
            assert conn.state is ConnectionState.CONNECTING
            fake.token_fail = None
            await conn.wait_live(TIMEOUT)
            assert conn.state is ConnectionState.LIVE


async def test_bad_credentials_are_fatal_and_surface():
    """An authentication failure on the token call ends the connection and is raised to waiters."""
    async with FakeKuCoin() as fake:
        fake.token_fail = AuthenticationError("400003", "KC-API-KEY not exists", 401)
        sink = Sink()
        async with connection(fake, sink, private=True) as conn:
            with pytest.raises(AuthenticationError):
                await conn.subscribe("/account/balance")
            assert conn.state is ConnectionState.CLOSED
            assert sink.events[-1].kind is EventKind.CLOSED
            depths = []
            for _ in range(5):  # a retry loop re-raising the same error must not grow its traceback
                with pytest.raises(AuthenticationError) as info:
                    await conn.subscribe("/account/balance")
                depths.append(len(traceback.extract_tb(info.value.__traceback__)))
            assert len(set(depths)) == 1


async def test_max_reconnects_gives_up():
    """With max_reconnects set, a dead endpoint ends in CLOSED with a TransportError."""
    async with FakeKuCoin() as fake:
        fake.token_fail = TransportError("down")
        async with connection(fake, Sink(), max_reconnects=2) as conn:
            with pytest.raises(TransportError):
                await conn.wait_live(TIMEOUT)
            assert conn.state is ConnectionState.CLOSED


async def test_callback_errors_logged_once_per_burst_and_counted(caplog):
    """A raising callback is counted and logged once per burst; the stream continues."""
    async with FakeKuCoin() as fake:
        seen = []

        def bad(msg):
            seen.append(msg)
            raise KeyError("topic")

        sink = Sink()
        conn = ConnectWebsocket(None, fake, bad, on_event=sink.on_event, **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            with caplog.at_level(logging.ERROR, logger="kunb.net.connection"):
                for _ in range(50):
                    await fake.push("/market/ticker:BTC-USDT")
                await until(lambda: len(seen) == 50)
            assert conn.counters.callback_errors == 50
            assert sum("callback raised" in r.getMessage() for r in caplog.records) == 1
            assert sum(e.kind is EventKind.CALLBACK_ERROR for e in sink.events) == 1
            assert conn.state is ConnectionState.LIVE and conn.counters.reconnects == 0
        finally:
            await conn.close()


async def test_a_sync_callback_runs_as_each_read_is_parsed_in_order():
    """A synchronous callback is called by the link's read callback itself (no task, no queue): every
    message in order, nothing dropped, counters and per-topic ages up to date."""
    async with FakeKuCoin() as fake:
        got: list[int] = []
        tasks: set[object] = set()

        def record(msg: dict) -> None:
            got.append(msg["data"]["n"])
            tasks.add(asyncio.current_task())

        conn = ConnectWebsocket(None, fake, record, **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            for n in range(300):
                await fake.push("/market/ticker:BTC-USDT", {"n": n})
            await until(lambda: len(got) == 300)
            assert got == list(range(300))
            assert tasks == {None}  # called from the read, not from the dispatcher task
            assert conn.counters.messages == 300 and conn.counters.drops == 0
            assert conn.counters.age("/market/ticker:BTC-USDT") is not None
        finally:
            await conn.close()


async def test_a_callback_returning_an_awaitable_is_awaited_one_message_at_a_time():
    """A plain function that returns a coroutine is found out at its first call: from then on the
    dispatcher awaits each result before the next message, in order (as for an ``async def``)."""
    async with FakeKuCoin() as fake:
        got: list[int] = []
        running = 0
        overlaps = 0

        async def handle(n: int) -> None:
            nonlocal running, overlaps
            running += 1
            overlaps += running > 1
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            got.append(n)
            running -= 1

        conn = ConnectWebsocket(None, fake, lambda msg: handle(msg["data"]["n"]), **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            for n in range(100):
                await fake.push("/market/ticker:BTC-USDT", {"n": n})
            await until(lambda: len(got) == 100)
            assert got == list(range(100)) and overlaps == 0
        finally:
            await conn.close()


async def test_ticker_symbol_off_leaves_the_frame_as_kucoin_sent_it():
    """The drivers decode the topic themselves: their connections skip the SDK's data['symbol']."""
    async with FakeKuCoin() as fake:
        plain, sdk = Sink(), Sink()
        a = ConnectWebsocket(None, fake, plain, ticker_symbol=False, **FAST)
        b = ConnectWebsocket(None, fake, sdk, **FAST)
        try:
            for conn in (a, b):
                await conn.subscribe("/market/ticker:BTC-USDT")
            for ws in list(fake.conns):
                frame = {"type": "message", "topic": "/market/ticker:BTC-USDT", "subject": "trade.ticker"}
                await ws.send(orjson.dumps({**frame, "data": {"price": "1"}}).decode())
            await until(lambda: plain.messages and sdk.messages)
            assert plain.messages[0]["data"] == {"price": "1"}
            assert sdk.messages[0]["data"] == {"price": "1", "symbol": "BTC-USDT"}
        finally:
            await a.close()
            await b.close()


async def test_slow_callback_overflow_counted_keepalive_unaffected():
    """An async callback that sleeps: the bounded queue drops oldest (counted, reported once),
    pings and pongs keep flowing, the link stays up."""
    async with FakeKuCoin(ping_interval_ms=50, ping_timeout_ms=200) as fake:
        release = asyncio.Event()
        got = []

        async def slow(msg):
            got.append(msg["data"]["n"])
            await release.wait()

        sink = Sink()
        conn = ConnectWebsocket(None, fake, slow, on_event=sink.on_event, queue_size=10, **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            for n in range(100):
                await fake.push("/market/ticker:BTC-USDT", {"n": n})
            await until(lambda: conn.counters.messages == 100)
            pings = sum(m["type"] == "ping" for m in fake.received)
            await until(lambda: sum(m["type"] == "ping" for m in fake.received) >= pings + 3)
            assert conn.state is ConnectionState.LIVE and conn.counters.reconnects == 0
            assert conn.counters.drops >= 100 - 2 - 10  # the callback holds 1 (maybe 2) of them
            assert sum(e.kind is EventKind.QUEUE_OVERFLOW for e in sink.events) == 1
            release.set()
            await until(lambda: len(got) == 100 - conn.counters.drops)
            assert got[-10:] == list(range(90, 100))  # oldest dropped, newest kept, in order
            assert got == sorted(got)
        finally:
            await conn.close()


async def test_send_message_and_send_ping_sdk_compat():
    """send_message(subscribe) tracks the topic and awaits the ack; other messages get an id."""
    async with FakeKuCoin() as fake, connection(fake, Sink()) as conn:
        await conn.send_message({"type": "subscribe", "topic": "/market/match:BTC-USDT", "response": True})
        assert list(conn.topics) == ["/market/match:BTC-USDT"]
        await conn.send_ping()
        await conn.send_message({"type": "ping"})
        await until(lambda: sum(m["type"] == "ping" for m in fake.received) >= 2)
        assert all(m.get("id") for m in fake.received)


async def test_send_after_link_dropped_past_wait_live_retries_typed():
    """The link may drop between wait_live's wake-up and the send: a typed ConnectionClosed, so
    ``retry_count`` sends again on the next link (it was an AttributeError on the missing link)."""
    async with FakeKuCoin() as fake, connection(fake, Sink()) as conn:
        await conn.wait_live(TIMEOUT)
        wait_live = conn.wait_live
        drops = 0

        async def live_then_dropped(timeout: float | None = None) -> None:  # noqa: ASYNC109 - wait_live's
            nonlocal drops
            await wait_live(timeout)
            if not drops:
                drops += 1
                fake.token_fail = ApiError("500000", "Internal error", 503)  # no redial until cleared
                fake.live.transport.abort()
                await until(lambda: conn.state is ConnectionState.RECONNECTING, what="link down")
                fake.token_fail = None

        conn.wait_live = live_then_dropped
        await conn.send_message({"type": "ping", "id": "after-drop"}, retry_count=1)
        await until(lambda: any(m.get("id") == "after-drop" for m in fake.received), what="sent")
        assert len(fake.tokens) == 2  # sent on the second link

        drops = 0
        with pytest.raises(ConnectionClosed):
            await conn.send_ping()


async def test_subscribe_before_live_waits_for_connection():
    """A subscribe issued right after construction waits for welcome (no early-send drop)."""
    async with FakeKuCoin() as fake, connection(fake, Sink()) as conn:
        await conn.subscribe("/market/ticker:BTC-USDT")
        assert fake.subscribe_frames()[0]["topic"] == "/market/ticker:BTC-USDT"


async def test_sock_used_for_first_dial_only(caplog):
    """A given socket serves the first dial; reconnects make their own, with a warning."""
    async with FakeKuCoin() as fake:
        sock = socket.create_connection(("127.0.0.1", fake.port))
        with caplog.at_level(logging.WARNING, logger="kunb.net.connection"):
            async with connection(fake, Sink(), sock=sock) as conn:
                await conn.wait_live(TIMEOUT)
                fake.live.transport.abort()
                await until(lambda: len(fake.conns) == 2 and conn.state is ConnectionState.LIVE)
        assert any("first connection only" in r.getMessage() for r in caplog.records)
        assert sock.fileno() == -1  # closed with its connection


async def test_token_renewal_reconnects_proactively():
    """Past token_renewal seconds the connection renews with a fresh token and keeps its topics."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        async with connection(fake, sink, token_renewal=0.3) as conn:
            await conn.subscribe("/market/ticker:BTC-USDT")
            await until(lambda: EventKind.TOKEN_RENEWED in sink.kinds())
            assert len(set(fake.tokens)) >= 2
            await until(lambda: conn.state is ConnectionState.LIVE)
            assert fake.subscribed[fake.live] == {"/market/ticker:BTC-USDT"}


async def test_sdk_client_with_blocking_token_runs_in_thread():
    """A KuCoin-SDK-style client with only a blocking get_ws_token is called off the event loop."""
    import threading

    async with FakeKuCoin() as fake:
        loop = asyncio.get_running_loop()
        threads = []

        class Blocking:
            def get_ws_token(self, is_private=False):
                threads.append(threading.current_thread())
                return asyncio.run_coroutine_threadsafe(fake.aget_ws_token(is_private), loop).result(5)

        conn = ConnectWebsocket(loop, Blocking(), Sink(), **FAST)
        try:
            await conn.wait_live(TIMEOUT)
            assert threads and threads[0] is not threading.main_thread()
        finally:
            await conn.close()


async def test_close_ends_everything_and_repeated_creation_leaks_nothing(caplog):
    """close() cancels every task and closes the socket; 20 create/close cycles leave no task,
    no open server connection and no ResourceWarning."""
    async with FakeKuCoin() as fake:
        before = asyncio.all_tasks()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(20):
                conn = ConnectWebsocket(None, fake, Sink(), **FAST)
                await conn.subscribe("/market/ticker:BTC-USDT")
                await conn.close()
                await conn.close()  # idempotent
            gc.collect()
        await until(lambda: all(c.state.name == "CLOSED" for c in fake.conns))
        assert client_tasks(asyncio.all_tasks() - before) == []
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
        assert "Task was destroyed" not in caplog.text


async def test_no_secret_in_logs_reprs_or_errors(caplog):
    """At every level (kunb, websockets and picows loggers), no token appears in logs, reprs or event
    texts. Level 1: picows logs the request line at its own level 9, below DEBUG."""
    async with FakeKuCoin() as fake:
        sink = Sink()
        with caplog.at_level(1):
            async with connection(fake, sink) as conn:
                await conn.subscribe("/market/ticker:BTC-USDT")
                fake.live.transport.abort()
                await until(lambda: len(fake.conns) == 2 and conn.state is ConnectionState.LIVE)
                text = repr(conn)
        ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kunb"))
        texts = [ours, text, *(f"{e} {e.error!r}" for e in sink.events)]
        assert any("GET /endpoint?token=***" in t for t in texts)  # websockets' line, redacted
        for t in texts:
            assert "secret-token" not in t


@pytest.mark.parametrize("phase", ["backoff", "welcome", "live"])
async def test_close_is_prompt_in_every_phase(phase):
    """close() returns quickly whether the connection is backing off, waiting for welcome or live."""
    async with FakeKuCoin() as fake:
        if phase == "backoff":
            fake.token_fail = TransportError("down")
        if phase == "welcome":
            fake.welcome = False
        sink = Sink()
        slow = {**FAST, "backoff_base": 5.0, "unreachable_after": None}  # backing off: not giving up
        conn = ConnectWebsocket(None, fake, sink, on_event=sink.on_event, **slow)
        if phase == "live":
            await conn.wait_live(TIMEOUT)
        elif phase == "welcome":
            await until(lambda: fake.conns)
        else:
            await until(lambda: EventKind.RECONNECTING in sink.kinds())
        await asyncio.wait_for(conn.close(), 3.0)
        assert conn.state is ConnectionState.CLOSED and conn._task.done() and conn._dispatcher.done()


async def test_private_token_never_sent_in_clear_to_a_remote_host():
    """A private bullet naming ws:// on a non-loopback host is refused before any connection."""
    from kunb.exceptions import InsecureTransportError

    class Remote:
        calls = 0

        async def aget_ws_token(self, is_private=False):
            Remote.calls += 1
            server = {
                "endpoint": "ws://feed.example.com/",
                "encrypt": None,
                "pingInterval": 1,
                "pingTimeout": 1,
            }
            return {"token": "secret-token", "instanceServers": [server]}

    conn = ConnectWebsocket(None, Remote(), Sink(), private=True, **FAST)
    try:
        with pytest.raises(InsecureTransportError):
            await conn.wait_live(TIMEOUT)
        assert conn.state is ConnectionState.CLOSED and Remote.calls == 1
    finally:
        await conn.close()


async def test_callback_raising_cancelled_error_does_not_end_the_stream():
    """A callback that raises CancelledError (awaiting something cancelled) counts as a callback error;
    later messages are still delivered."""
    async with FakeKuCoin() as fake:
        seen = []

        async def handler(msg):
            seen.append(msg)
            if len(seen) == 1:
                raise asyncio.CancelledError()

        conn = ConnectWebsocket(None, fake, handler, **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            await fake.push("/market/ticker:BTC-USDT")
            await until(lambda: conn.counters.callback_errors == 1)
            await fake.push("/market/ticker:BTC-USDT")
            await until(lambda: len(seen) == 2)
        finally:
            await conn.close()
        assert conn._dispatcher.done()


async def test_sock_factory_called_on_every_dial(caplog):
    """A zero-argument callable given as sock= makes a fresh socket for every dial, without warning."""
    async with FakeKuCoin() as fake:
        made = []

        def factory():
            made.append(socket.create_connection(("127.0.0.1", fake.port)))
            return made[-1]

        with caplog.at_level(logging.WARNING, logger="kunb.net.connection"):
            async with connection(fake, Sink(), sock=factory) as conn:
                await conn.wait_live(TIMEOUT)
                fake.live.transport.abort()
                await until(lambda: len(fake.conns) == 2 and conn.state is ConnectionState.LIVE)
        assert len(made) == 2 and all(s.fileno() == -1 for s in made)
        assert not any("first connection only" in r.getMessage() for r in caplog.records)


async def test_uplink_limit_paces_requests():
    """Requests that cannot be joined (candles) are paced by the uplink limit, and the ack timeout
    counts from the last send, so a long paced subscribe does not time out."""
    async with FakeKuCoin() as fake, connection(fake, Sink(), uplink_limit=5, uplink_period=0.5) as conn:
        await conn.wait_live(TIMEOUT)
        loop = asyncio.get_running_loop()
        start = loop.time()
        topics = [f"/market/candles:S{i}-USDT_1min" for i in range(12)]
        await conn.subscribe(topics, timeout=0.3)
        assert loop.time() - start >= 0.9  # 5 at once, 5 after 0.5 s, 2 after 1.0 s
        assert len(fake.subscribe_frames()) == 12 and len(conn.topics) == 12
