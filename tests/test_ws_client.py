"""kunb.ws_client.KucoinWsClient against kunb.sim: streaming, faults, sharding, callbacks, clean close."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings

import pytest
from support import client_tasks, until

from kunb.client import Market
from kunb.exceptions import ClosedError, ConfigurationError, SubscribeError
from kunb.net.connection import ConnectionState, EventKind
from kunb.ws_client import KucoinWsClient

TIMEOUT = 10.0
FAST = {"backoff_base": 0.05, "backoff_cap": 0.5, "stable_after": 0.5, "request_timeout": 5.0}


class TokenCounter(Market):
    """A Market that remembers every token it fetched (to prove each dial gets a fresh one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tokens: list[str] = []

    async def aget_ws_token(self, is_private: bool = False):
        data = await super().aget_ws_token(is_private)
        self.tokens.append(data["token"])
        return data


class Recorder:
    """Callback that timestamps every message; also collects lifecycle events."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict]] = []
        self.events = []

    def __call__(self, msg: dict) -> None:
        self.messages.append((time.monotonic(), msg))

    def on_event(self, event) -> None:
        self.events.append(event)

    def kinds(self):
        return [e.kind for e in self.events]

    def level2(self):
        return [(t, m["data"]) for t, m in self.messages if m["topic"] == "/market/level2:BTC-USDT"]


async def make(exchange, rec: Recorder, **kw) -> tuple[KucoinWsClient, TokenCounter]:
    market = TokenCounter(url=exchange.url)
    client = await KucoinWsClient.create(None, market, rec, on_event=rec.on_event, **{**FAST, **kw})
    return client, market


async def test_stream_callback_contract(exchange):
    """Only message frames reach the callback, exactly as sent; ticker data carries its symbol;
    topics is an ordered, duplicate-free view."""
    rec = Recorder()
    client, market = await make(exchange, rec)
    async with client:
        await client.subscribe("/market/ticker:BTC-USDT,ETH-USDT")
        await client.subscribe("/market/level2:BTC-USDT")
        await client.subscribe("/market/ticker:ETH-USDT")  # already there: no-op
        assert list(client.topics) == [
            "/market/ticker:BTC-USDT",
            "/market/ticker:ETH-USDT",
            "/market/level2:BTC-USDT",
        ]
        await until(lambda: {m["topic"] for _, m in rec.messages} >= set(client.topics))
        assert all(m["type"] == "message" for _, m in rec.messages)
        for _, m in rec.messages:
            if m["subject"] == "trade.ticker":
                assert m["data"]["symbol"] == m["topic"].split(":")[1]
            else:
                assert m["subject"] == "trade.l2update" and "changes" in m["data"]
        assert client.state is ConnectionState.LIVE
        assert client.counters.messages == len(rec.messages)
        assert client.counters.age("/market/ticker:BTC-USDT") < TIMEOUT
    assert client.state is ConnectionState.CLOSED
    await market.aclose()


async def test_async_callback_and_unsubscribe(exchange):
    """An async callback works; after unsubscribe no more messages for that topic arrive."""
    seen: list[dict] = []
    got = asyncio.Event()

    async def handler(msg):
        seen.append(msg)
        got.set()

    market = Market(url=exchange.url)
    client = await KucoinWsClient.create(asyncio.get_running_loop(), market, handler, **FAST)
    try:
        await client.subscribe("/market/ticker:BTC-USDT")
        await asyncio.wait_for(got.wait(), TIMEOUT)
        await client.unsubscribe("/market/ticker:BTC-USDT")
        assert list(client.topics) == []
        await until(lambda: exchange.connections() and not exchange.connections()[0].topics)
    finally:
        await client.close()
        await market.aclose()


async def test_bad_topic_raises_typed_and_others_keep_streaming(exchange):
    """A bad topic raises SubscribeError with KuCoin's code; the good topic keeps streaming."""
    rec = Recorder()
    client, market = await make(exchange, rec)
    async with client:
        await client.subscribe("/market/ticker:BTC-USDT")
        with pytest.raises(SubscribeError) as info:
            await client.subscribe("/market/level2:NOPE-USDT")
        assert info.value.code == 404
        assert list(client.topics) == ["/market/ticker:BTC-USDT"]
        n = len(rec.messages)
        await until(lambda: len(rec.messages) > n + 2)
        assert client.state is ConnectionState.LIVE
    await market.aclose()


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (123, "123"),
        (None, "None"),
        (b"/market/ticker:BTC-USDT", "b'/market/ticker:BTC-USDT'"),
        ({"topic": "/market/ticker:BTC-USDT"}, "{'topic'"),
        ([123], "123"),
        ("", "''"),
        ("BTC-USDT", "'/market/ticker:BTC-USDT'"),  # a symbol: the error shows the topic it may mean
        (["BTC-USDT"], "'/market/ticker:BTC-USDT'"),
        ("/market/ticker:", "'/market/ticker:'"),
    ],
)
async def test_what_is_not_a_topic_is_refused_at_once_naming_it(exchange, bad, named):
    """subscribe() of a number, None, bytes, a dict, a symbol... raises a ConfigurationError (a ValueError)
    that shows what was passed, before anything is sent; unsubscribe() the same."""
    client, market = await make(exchange, Recorder())
    async with client:
        for call in (client.subscribe, client.unsubscribe):
            with pytest.raises(ConfigurationError) as info:
                await asyncio.wait_for(call(bad), 1.0)
            assert named in str(info.value), str(info.value)
        assert list(client.topics) == []
        await client.subscribe("/market/ticker:BTC-USDT")  # the client is unharmed
    await market.aclose()


async def test_a_symbol_in_lower_case_is_refused_with_a_hint_about_case(exchange):
    """KuCoin's 404 for /market/ticker:btc-usdt says only "not found": the error adds that symbols are
    upper case and which spelling was meant."""
    client, market = await make(exchange, Recorder())
    async with client:
        with pytest.raises(SubscribeError) as info:
            await client.subscribe("/market/ticker:btc-usdt,ETH-USDT")
        assert info.value.code == 404
        assert "upper case" in info.value.data and "'BTC-USDT'" in info.value.data, info.value.data
        with pytest.raises(SubscribeError) as unknown:  # an unknown upper-case symbol gets no such hint
            await client.subscribe("/market/ticker:NOPE-USDT")
        assert "upper case" not in str(unknown.value)
    await market.aclose()


async def _outage(exchange, inject, *, silent_ok: bool = False, **kw) -> dict:
    """Stream, inject a fault, wait for messages to resume on a new connection; measure the gap."""
    rec = Recorder()
    client, market = await make(exchange, rec, **kw)
    try:
        await client.subscribe(["/market/ticker:BTC-USDT", "/market/level2:BTC-USDT"])
        await until(lambda: len(rec.level2()) >= 3)
        before = len(rec.messages)
        last_before = rec.level2()[-1]
        t_fault = time.monotonic()
        inject(exchange)
        await until(lambda: client.counters.reconnects >= 1 and client.state is ConnectionState.LIVE)
        await until(lambda: rec.level2() and rec.level2()[-1][0] > t_fault and len(rec.messages) > before)
        after = next((t, d) for t, d in rec.level2() if t > t_fault and d is not last_before[1])
        first_after = [(t, d) for t, d in rec.level2() if t > t_fault]
        # resubscribed everything on the new connection
        sessions = exchange.connections()
        assert len(sessions) == 1
        assert set(sessions[0].topics) >= {"/market/ticker:BTC-USDT", "/market/level2:BTC-USDT"}
        assert len(market.tokens) >= 2 and len(set(market.tokens)) == len(market.tokens)  # fresh token
        assert EventKind.RESUBSCRIBED in rec.kinds() and EventKind.DISCONNECTED in rec.kinds()
        start = first_after[0][1]["sequenceStart"]
        missed = max(0, start - last_before[1]["sequenceEnd"] - 1)
        result = {"outage_s": round(after[0] - last_before[0], 3), "l2_updates_missed": missed}
        print(f"fault outage: {result}")
        return result
    finally:
        await client.close()
        await market.aclose()


async def test_abrupt_disconnect_recovers(exchange):
    """TCP abort without close frame: reconnect with a new token, resubscribe, messages resume."""
    result = await _outage(exchange, lambda ex: ex.faults.disconnect(abrupt=True))
    assert result["outage_s"] < 5.0


async def test_server_close_recovers(exchange):
    """A clean server close (1011): same recovery."""
    result = await _outage(exchange, lambda ex: ex.faults.close(code=1011, reason="restart"))
    assert result["outage_s"] < 5.0


async def test_silent_server_recovers(exchange):
    """A server that stops sending anything (no pongs, no pushes) is declared dead after
    pingTimeout and replaced; the stalled session is the old one only."""

    def stall(ex):
        conn = ex.connections()[0].id
        ex.faults.drop_pongs(conn=conn)
        ex.faults.stall(seconds=30.0, conn=conn)

    result = await _outage(exchange, stall)
    assert result["outage_s"] < 6.0


async def test_expired_tokens_recover(exchange):
    """Every issued token expires and the link drops: the client never reuses a token."""

    def expire(ex):
        ex.faults.expire_tokens()
        ex.faults.disconnect(abrupt=False)

    result = await _outage(exchange, expire)
    assert result["outage_s"] < 5.0


async def test_bullet_5xx_for_a_while_recovers(exchange):
    """The token endpoint answers 503 for a second while the link is down: backoff, then recover."""

    def fail(ex):
        ex.faults.bullet_errors(status=503, seconds=1.0)
        ex.faults.disconnect(abrupt=True)

    result = await _outage(exchange, fail)
    assert 0.9 < result["outage_s"] < 6.0


async def test_token_renewal_before_expiry():
    """With a short token lifetime the client renews proactively and streaming continues."""
    from kunb.sim import Exchange

    async with Exchange(seed=2, symbols=["BTC-USDT"], tick_ms=20, token_ttl_s=1.5) as ex:
        rec = Recorder()
        client, market = await make(ex, rec, token_renewal=0.5)
        async with client:
            await client.subscribe("/market/ticker:BTC-USDT")
            await until(lambda: rec.kinds().count(EventKind.TOKEN_RENEWED) >= 3)
            n = len(rec.messages)
            await until(lambda: len(rec.messages) > n)
            assert len(set(market.tokens)) >= 4
        await market.aclose()


async def test_raising_and_sleeping_callbacks_keep_stream_and_keepalive(exchange):
    """A callback that raises and one that sleeps: no reconnect, pings answered, messages counted."""
    errors = 0

    def raising(msg):
        nonlocal errors
        errors += 1
        raise RuntimeError("user bug")

    async def sleeping(msg):
        await asyncio.sleep(0.2)

    market = Market(url=exchange.url)
    a = await KucoinWsClient.create(None, market, raising, queue_size=50, **FAST)
    b = await KucoinWsClient.create(None, market, sleeping, queue_size=50, **FAST)
    try:
        for c in (a, b):
            await c.subscribe(["/market/ticker:BTC-USDT", "/market/level2:BTC-USDT"])
        # several ping intervals (sim: 1 s interval, 1 s timeout) with a flowing stream
        start = b.counters.frames
        await until(lambda: a.counters.callback_errors > 20 and b.counters.drops > 0, timeout=15)
        await until(lambda: b.counters.frames > start + 50)
        for c in (a, b):
            assert c.state is ConnectionState.LIVE and c.counters.reconnects == 0
        assert a.counters.callback_errors == errors
    finally:
        await a.close()
        await b.close()
        await market.aclose()


async def test_close_leaves_nothing_and_recreation_does_not_leak(exchange, caplog):
    """close() ends every task and socket; 10 create/subscribe/close cycles leak no task, no server
    connection, no ResourceWarning, and no 'Task was destroyed' message."""
    market = Market(url=exchange.url)
    before = asyncio.all_tasks()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            client = await KucoinWsClient.create(None, market, lambda m: None, **FAST)
            await client.subscribe("/market/ticker:BTC-USDT")
            await client.close()
        gc.collect()
    await until(lambda: exchange.stats()["connections"] == 0)
    assert client_tasks(asyncio.all_tasks() - before) == []
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert "Task was destroyed" not in caplog.text
    with pytest.raises(ClosedError):
        await client.subscribe("/market/ticker:ETH-USDT")
    await market.aclose()


async def test_no_secret_in_logs_or_reprs_at_debug(exchange, caplog):
    """At DEBUG, through a reconnect, no token appears in kunb logs, reprs or event texts."""
    rec = Recorder()
    with caplog.at_level(logging.DEBUG):
        client, market = await make(exchange, rec)
        async with client:
            await client.subscribe("/market/ticker:BTC-USDT")
            exchange.faults.disconnect(abrupt=True)
            await until(lambda: client.counters.reconnects >= 1 and client.state is ConnectionState.LIVE)
            reprs = [repr(client), repr(market), *map(repr, client.connections)]
        await market.aclose()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("kunb")]
    texts = ours + reprs + [f"{e!r}" for e in rec.events]
    assert market.tokens
    for token in market.tokens:
        assert not [t for t in texts if token in t]


async def test_thousand_topics_shard_stream_survive_reconnect_and_unsubscribe():
    """1,000 topics: three connections (400/400/200), all stream, all come back after every link is
    cut, and unsubscribing everything closes the extra connections."""
    from kunb.sim import Exchange

    async with Exchange(seed=3, symbols=500, tick_ms=100, rate=0.5) as ex:
        rec = Recorder()
        client, market = await make(ex, rec, request_timeout=20.0)
        async with client:
            symbols = [s["symbol"] for s in await market.aget_symbol_list()][:500]
            topics = [f"/market/ticker:{s}" for s in symbols] + [f"/market/level2:{s}" for s in symbols]
            t0 = time.perf_counter()
            await client.subscribe(topics)
            print(f"subscribe 1000 topics: {time.perf_counter() - t0:.2f}s")
            assert len(client.topics) == 1000
            assert sorted(len(c.topics) for c in client.connections) == [200, 400, 400]
            assert sorted(len(s.topics) for s in ex.connections()) == [200, 400, 400]
            where = {t: client.connection_of(t) for t in topics}
            await until(lambda: len({m["topic"] for _, m in rec.messages}) >= 500, timeout=30)
            ex.faults.disconnect(abrupt=True)
            await until(lambda: client.counters.reconnects >= 3 and client.state is ConnectionState.LIVE, 30)
            assert sum(len(s.topics) for s in ex.connections()) == 1000
            assert {t: client.connection_of(t) for t in topics} == where  # map kept
            t_cut = time.monotonic()
            await until(lambda: len({m["topic"] for t, m in rec.messages if t > t_cut}) >= 300, timeout=30)
            await client.unsubscribe(topics)
            assert list(client.topics) == [] and len(client.connections) == 1
            await until(lambda: sum(len(s.topics) for s in ex.connections()) == 0)
        await market.aclose()


async def test_private_channels_and_no_credentials_in_logs(exchange, caplog):
    """A private client (User + private=True) gets balance and order pushes for its own orders; a
    private topic on a public connection is refused with a typed error; at DEBUG no key, secret,
    passphrase, signature or token shows up anywhere."""
    from kunb.client import Trade, User

    creds = exchange.credentials
    assert creds is not None
    rec = Recorder()
    tokens: list[str] = []

    class TokenUser(User):
        async def aget_ws_token(self, is_private=False):
            data = await super().aget_ws_token(is_private)
            tokens.append(data["token"])
            return data

    with caplog.at_level(logging.DEBUG):
        user = TokenUser(creds.key, creds.secret, creds.passphrase, url=exchange.url)
        trader = Trade(credentials=creds, url=exchange.url)
        client = await KucoinWsClient.create(None, user, rec, private=True, on_event=rec.on_event, **FAST)
        public, market = await make(exchange, Recorder())
        async with client, public:
            await client.subscribe(["/account/balance", "/spotMarket/tradeOrders", "/market/ticker:BTC-USDT"])
            with pytest.raises(SubscribeError):
                await public.subscribe("/account/balance")
            bid = float((await market.aget_ticker("BTC-USDT"))["bestBid"])
            order = await trader.acreate_limit_order("BTC-USDT", "buy", "0.001", str(round(bid * 0.9, 1)))
            await until(
                lambda: any(
                    m["topic"] == "/spotMarket/tradeOrders" and m["data"]["orderId"] == order["orderId"]
                    for _, m in rec.messages
                )
            )
            assert any(m["topic"] == "/account/balance" for _, m in rec.messages)
            assert any(m["topic"] == "/market/ticker:BTC-USDT" for _, m in rec.messages)
            await trader.acancel_all_orders(symbol="BTC-USDT")
            exchange.faults.disconnect(abrupt=True)
            await until(lambda: client.counters.reconnects >= 1 and client.state is ConnectionState.LIVE)
            reprs = [repr(client), repr(user), repr(trader), *map(repr, client.connections)]
        for c in (user, trader, market):
            await c.aclose()
    # the client side only: the simulator's own server logs (websockets.server, uvicorn) are not ours
    server = ("websockets.server", "uvicorn", "kunb.sim")
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(server)]
    texts = ours + reprs + [repr(e) for e in rec.events]
    secrets = [creds.key, creds.secret, creds.passphrase, *tokens]
    assert len(tokens) >= 2
    for secret in secrets:
        assert not [t for t in texts if secret in t]


async def test_official_sdk_token_client_works_without_blocking_the_loop(exchange):
    """KuCoin's own SDK client (blocking requests) can be passed as `client`: its token call runs in a
    worker thread, so the loop (and the simulator on it) keeps running."""
    from kucoin.client import WsToken as SdkWsToken

    rec = Recorder()
    client = await KucoinWsClient.create(None, SdkWsToken(url=exchange.url), rec, **FAST)
    async with client:
        await client.subscribe("/market/ticker:BTC-USDT")
        await until(lambda: len(rec.messages) >= 2)
        exchange.faults.disconnect(abrupt=True)
        await until(lambda: client.counters.reconnects >= 1 and client.state is ConnectionState.LIVE)
        n = len(rec.messages)
        await until(lambda: len(rec.messages) > n)
