"""ConnectWebsocket and the pool speaking UTA (a UtaDialect) against a scripted UTA server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import until
from utafeed import KEY, PASSPHRASE, SECRET, UtaFeed, obu, ticker

from kunb.exceptions import AuthenticationError, ConfigurationError, SubscribeError
from kunb.net.connection import ConnectionState, ConnectWebsocket, EventKind, LifecycleEvent
from kunb.net.dialect import ClassicDialect, UtaDialect
from kunb.net.pool import KucoinWsClient
from kunb.signing import Credentials

FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 2.0}
CREDS = Credentials(KEY, SECRET, PASSPHRASE)
OBU = "obu.SPOT:BTC-USDT:increment@10ms"


class Sink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.events: list[LifecycleEvent] = []

    def __call__(self, msg: dict[str, Any]) -> None:
        self.messages.append(msg)

    def on_event(self, event: LifecycleEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]


@contextlib.asynccontextmanager
async def connection(dialect: UtaDialect, sink: Sink, **kw: Any) -> AsyncIterator[ConnectWebsocket]:
    conn = ConnectWebsocket(None, None, sink, on_event=sink.on_event, dialect=dialect, **{**FAST, **kw})
    try:
        yield conn
    finally:
        await conn.close()


async def test_public_subscribes_one_symbol_per_frame_and_delivers_binary_pushes() -> None:
    """Binary welcome -> live without a token; a two-symbol subscribe is two frames in kunb's spelling;
    binary pushes reach the callback untouched, control frames never do; the limits are UTA's."""
    async with UtaFeed() as feed:
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink) as conn:
            await conn.wait_live(5)
            assert feed.paths == ["/"]  # no token, no REST call for public data
            await conn.subscribe(["ticker.SPOT:BTC-USDT", "ticker.spot:ETH-USDT", OBU])
            subs = feed.frames(action="subscribe")
            assert [(f["channel"], f["tradeType"], f["symbol"]) for f in subs] == [
                ("ticker", "SPOT", "BTC-USDT"),
                ("ticker", "SPOT", "ETH-USDT"),
                ("obu", "SPOT", "BTC-USDT"),
            ]
            assert subs[2]["depth"] == "increment@10ms"
            assert list(conn.topics) == ["ticker.SPOT:BTC-USDT", "ticker.SPOT:ETH-USDT", OBU]
            await feed.push(ticker())
            await feed.push(obu("snapshot", 7, 7, bids=[("1", "2")], asks=[("3", "4")]))
            await until(lambda: len(sink.messages) == 2, what="two pushes")
            assert sink.messages[0]["P"] == 1768206966101166007  # exact above 2**53
            assert sink.messages[1]["dp"] == "increment@10ms"
            assert conn.counters.messages == 2 and conn.counters.bad_frames == 0
            assert set(conn.counters.last_message) == {"ticker.SPOT:BTC-USDT", OBU}
            assert conn._limiter.limit == 300 and conn.dialect.max_topics == 600
            assert conn.protocol == "uta" and conn.name.startswith("uta-public-")


async def test_text_frames_and_string_results_are_read_alike() -> None:
    """A server sending text frames and ``"result": "true"`` (the documentation's spelling) works too."""
    async with UtaFeed(binary=False) as feed:
        feed.string_result = True
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink) as conn:
            await conn.subscribe("trade.SPOT:BTC-USDT")
            await feed.push(ticker())
            await until(lambda: sink.messages, what="a text push")
            assert list(conn.topics) == ["trade.SPOT:BTC-USDT"]


async def test_refusal_names_the_reason_and_keeps_the_other_topics() -> None:
    async with UtaFeed() as feed:
        feed.refused.add("NOPE-USDT")
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink) as conn:
            with pytest.raises(SubscribeError, match="invalid request data"):
                await conn.subscribe(["ticker.SPOT:BTC-USDT", "ticker.SPOT:NOPE-USDT"])
            assert list(conn.topics) == ["ticker.SPOT:BTC-USDT"]
            assert conn.state is ConnectionState.LIVE


async def test_bad_topics_are_refused_before_sending() -> None:
    async with UtaFeed() as feed, connection(UtaDialect(url=feed.url), Sink()) as conn:
        await conn.wait_live(5)
        with pytest.raises(ValueError, match="depth"):
            await conn.subscribe("obu.SPOT:BTC-USDT:20")
        with pytest.raises(ValueError, match="not a public topic"):
            await conn.subscribe("orderAll.UNIFIED")  # a private topic on the public socket
        assert feed.frames(action="subscribe") == []


@pytest.mark.parametrize("style", ["type", "op"])
async def test_pings_in_either_style_are_answered_and_keep_the_link(style: str) -> None:
    async with UtaFeed() as feed:
        sink = Sink()
        dialect = UtaDialect(url=feed.url, ping_style=style)
        async with connection(dialect, sink, ping_interval=0.05, ping_timeout=1.0) as conn:
            await conn.wait_live(5)
            key = "type" if style == "type" else "op"
            await until(lambda: len(feed.frames(**{key: "ping"})) >= 3, what="three pings")
            pings = feed.frames(**{key: "ping"})
            if style == "op":
                assert all(isinstance(p["timestamp"], int) for p in pings)
            assert conn.counters.reconnects == 0 and EventKind.DISCONNECTED not in sink.kinds()


async def test_dead_link_reconnects_and_resubscribes() -> None:
    """No pong and no frame after a ping: the link is dropped, redialed and every topic sent again."""
    async with UtaFeed() as feed:
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink, ping_interval=0.05, ping_timeout=0.2) as conn:
            await conn.subscribe([OBU, "kline.SPOT:BTC-USDT:1min"])
            feed.pong = False
            await until(lambda: EventKind.DISCONNECTED in sink.kinds(), what="the dead link dropped")
            feed.pong = True
            await until(lambda: EventKind.RESUBSCRIBED in sink.kinds(), what="resubscribed")
            again = feed.frames(conn=len(feed.conns) - 1, action="subscribe")
            assert {(f["channel"], f["symbol"]) for f in again} == {
                ("obu", "BTC-USDT"),
                ("kline", "BTC-USDT"),
            }
            assert conn.counters.reconnects >= 1


async def test_private_v2_authenticates_after_every_welcome_before_resubscribing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The signed op:auth frame goes first on every connection; the secret appears in no log line."""
    caplog.set_level(logging.DEBUG)
    async with UtaFeed() as feed:
        sink = Sink()
        dialect = UtaDialect(private=True, url=feed.url, credentials=CREDS)
        async with connection(dialect, sink) as conn:
            await conn.subscribe(["orderAll.UNIFIED", "balance.UNIFIED", "execution.UNIFIED"])
            first = [f for n, f in feed.received if n == 0]
            assert first[0]["op"] == "auth" and [f["channel"] for f in first[1:]] == [
                "orderAll",
                "balance",
                "execution",
            ]
            assert first[2]["accountType"] == "UNIFIED" and "tradeType" not in first[2]
            assert conn._limiter.limit == 100 and dialect.max_topics == 400
            await feed.conns[0].close()  # the server drops the link
            await until(lambda: EventKind.RESUBSCRIBED in sink.kinds(), what="resubscribed")
            second = [f for n, f in feed.received if n == 1]
            assert second[0]["op"] == "auth" and {f["channel"] for f in second[1:]} == {
                "orderAll",
                "balance",
                "execution",
            }
            assert sink.kinds().count(EventKind.AUTHENTICATED) == 2
            assert feed.paths == ["/", "/"]
    assert SECRET not in caplog.text and PASSPHRASE not in caplog.text


async def test_refused_auth_is_fatal_and_not_retried() -> None:
    async with UtaFeed() as feed:
        feed.accept_auth = False
        sink = Sink()
        dialect = UtaDialect(private=True, url=feed.url, credentials=CREDS)
        async with connection(dialect, sink) as conn:
            with pytest.raises(AuthenticationError, match="signature verification failed"):
                await conn.wait_live(5)
            assert conn.state is ConnectionState.CLOSED
            assert len(feed.conns) == 1  # retrying cannot help a refused key
            closed = [e for e in sink.events if e.kind is EventKind.CLOSED]
            assert isinstance(closed[0].error, AuthenticationError)


async def test_private_v1_dials_with_a_fresh_token_and_sends_no_auth_frame() -> None:
    async with UtaFeed() as feed:
        issued: list[str] = []

        async def token() -> dict[str, str]:
            issued.append(f"tok{len(issued)}")
            return {"token": issued[-1]}

        sink = Sink()
        dialect = UtaDialect(private=True, url=feed.url, auth="v1", token=token)
        async with connection(dialect, sink) as conn:
            await conn.subscribe("balance.UNIFIED")
            await feed.conns[0].close()
            await until(lambda: EventKind.RESUBSCRIBED in sink.kinds(), what="resubscribed")
            assert feed.paths == ["/?token=tok0", "/?token=tok1"]
            assert feed.frames(op="auth") == []
            assert "tok" not in repr(conn) and "tok0" not in repr(dialect)


async def test_a_topic_silent_after_its_ack_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    """obu and kline promise data: silent ones are reported (event + log); a topic that spoke and a
    ticker (which pushes only on trades) are not."""
    caplog.set_level(logging.WARNING, logger="kunb.net.connection")
    async with UtaFeed() as feed:
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink, silence_after=0.3) as conn:
            await conn.subscribe([OBU, "obu.SPOT:ETH-USDT:50", "ticker.SPOT:BTC-USDT"])
            await feed.push(obu("snapshot", 1, 1, symbol="ETH-USDT", depth="50"))
            await until(lambda: EventKind.SILENT in sink.kinds(), what="a silence report")
            await until(lambda: conn.counters.messages == 1, what="the ETH push")
            silent = [e.detail for e in sink.events if e.kind is EventKind.SILENT]
            assert silent == [OBU]
            assert f"{OBU} sent nothing" in caplog.text


def test_dialects_refuse_what_cannot_work() -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        UtaDialect(private=True, url="ws://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="token source"):
        UtaDialect(private=True, url="ws://127.0.0.1:1", auth="v1")
    with pytest.raises(ConfigurationError):  # credentials over plain ws:// to a remote host
        UtaDialect(private=True, url="ws://example.com", credentials=CREDS)
    with pytest.raises(ConfigurationError, match="get_ws_token"):
        ClassicDialect(object())
    assert UtaDialect().url == "wss://x-push-spot.kucoin.com"
    assert UtaDialect(private=True, credentials=CREDS).url == "wss://wsapi-push.kucoin.com"


async def test_pool_shards_past_the_protocols_topic_limit() -> None:
    """The pool takes its per-connection limit from the dialect (UTA public: 600, above classic's 400)
    and opens another connection past the limit it is given."""
    async with UtaFeed() as feed:
        dialect = UtaDialect(url=feed.url)
        with pytest.raises(ConfigurationError, match=r"1\.\.600"):
            await KucoinWsClient.create(None, None, Sink(), dialect=dialect, max_topics_per_connection=601)
        pool = await KucoinWsClient.create(
            None, None, Sink(), dialect=dialect, max_topics_per_connection=2, **FAST
        )
        try:
            topics = [f"ticker.SPOT:S{i}-USDT" for i in range(5)]
            await pool.subscribe(topics)
            assert len(pool.connections) == 3
            assert [len(c.topics) for c in pool.connections] == [2, 2, 1]
            assert pool.connection_of("ticker.spot:S4-USDT") is pool.connections[2]
            assert "uta public" in repr(pool)
            await pool.unsubscribe(topics[4])
            assert len(pool.connections) == 2
        finally:
            await pool.close()


async def test_unreadable_frames_are_counted_not_delivered() -> None:
    async with UtaFeed() as feed:
        sink = Sink()
        async with connection(UtaDialect(url=feed.url), sink) as conn:
            await conn.subscribe("ticker.SPOT:BTC-USDT")
            await feed.send_raw(b"\xff not json")
            await feed.send_raw(b'{"T": 5, "d": {}}')
            await feed.send_raw(b'{"T": "ticker.SPOT", "d": "x"}')
            await feed.send_raw(b"[1, 2]")
            await feed.push(ticker())
            await until(lambda: sink.messages, what="the good push")
            assert conn.counters.bad_frames == 4 and len(sink.messages) == 1
            assert conn.state is ConnectionState.LIVE
