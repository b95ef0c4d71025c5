"""kunb.compat.blocking.BlockingWsClient against a thread-backed kunb.sim: construction, topics, books,
callbacks, close. The sim's synthetic flow is frozen (``rate=0``): pushes come from the orders placed here."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time

import pytest
from support import blocking_threads, point_env_at, until_sync

import kunb.sim
from kunb.client import Market, Trade
from kunb.compat.blocking import BlockingWsClient
from kunb.exceptions import ClosedError, ConfigurationError, SubscribeError

DEADLINE = 15.0


@pytest.fixture(scope="module")
def sim():
    handle = kunb.sim.start(seed=5, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=20, rate=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def env(sim, monkeypatch):
    return point_env_at(sim, monkeypatch)


def nudge(sim, symbol: str = "BTC-USDT") -> None:
    """One level-2 change and one ticker push: add size at the best bid."""
    with Trade(url=sim.url, credentials=sim.credentials) as t, Market(url=sim.url) as m:
        bid = m.get_ticker(symbol)["bestBid"]
        t.create_limit_order(symbol, "buy", "0.001" if symbol == "BTC-USDT" else "0.01", bid)


def nudge_until(sim, predicate, what: str):
    """Nudge the market until ``predicate`` holds: a book only shows once synced, on the push after."""
    deadline = time.monotonic() + DEADLINE
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        nudge(sim)
    return value


def test_constructor_takes_the_sdk_credential_spellings(env):
    """Positional, key=/api_key= and **dict spellings give the same key; conflicts are refused; nothing
    starts before the first _socket and repr shows no secret."""
    creds = env.credentials
    spellings = [
        BlockingWsClient(creds.key, creds.secret, creds.passphrase),
        BlockingWsClient(key=creds.key, secret=creds.secret, passphrase=creds.passphrase),
        BlockingWsClient(
            **{"api_key": creds.key, "api_secret": creds.secret, "api_passphrase": creds.passphrase}
        ),
    ]
    for client in spellings:
        assert client._market.credentials == creds and client.url == env.url
        assert creds.secret not in repr(client) and creds.passphrase not in repr(client)
        client.close()
    assert blocking_threads() == []
    with pytest.raises(ConfigurationError):
        BlockingWsClient(key="a", api_key="b")
    with pytest.raises(ConfigurationError):
        BlockingWsClient(book_depth=0)


def test_level2_pushes_carry_a_live_book_equal_to_the_exchange(env):
    """Every delivered level-2 push has the synced book's top; after a gap the push that revealed it is
    held back, the book resyncs, and the next delivered top equals the exchange's book exactly."""
    sim = env
    got: list[dict] = []
    with BlockingWsClient(book_depth=5) as ws:
        ws._socket("/market/level2:BTC-USDT", lambda text: got.append(json.loads(text)))
        nudge_until(sim, lambda: got, "a level-2 push with the synced book")
        sim.exchange.faults.skip_level2(pushes=1, symbol="BTC-USDT")
        nudge(sim)  # skipped: a gap
        held = ws.held_level2
        nudge(sim)  # reveals the gap: held back while the book resyncs
        until_sync(lambda: ws.held_level2 > held, "the gap push to be held")
        count = len(got)
        nudge_until(sim, lambda: len(got) > count, "a push after the resync")
        server = sim.exchange.snapshot("BTC-USDT", 5)  # final: nothing moves by itself (rate=0)
        last = until_sync(
            lambda: got[-1]["kunb"]["sequence"] == int(server["sequence"]) and got[-1], "the last push"
        )
        assert last["data"]["bids"] == [[p, s] for p, s, *_ in server["bids"]]
        assert last["data"]["asks"] == [[p, s] for p, s, *_ in server["asks"]]
        for message in got:
            bids, asks = message["data"]["bids"], message["data"]["asks"]
            assert "changes" in message["data"] and len(bids) <= 5
            assert float(bids[0][0]) < float(asks[0][0])
            assert [float(p) for p, _ in bids] == sorted((float(p) for p, _ in bids), reverse=True)


def test_bad_topic_raises_and_other_topics_keep_streaming(env):
    """A refused topic raises SubscribeError from _socket; the ticker already subscribed keeps coming,
    with 24 h stats added and tagged."""
    sim = env
    ticks: list[dict] = []
    with BlockingWsClient() as ws:
        ws._socket("/market/ticker:ETH-USDT", lambda text: ticks.append(json.loads(text)))
        with pytest.raises(SubscribeError):
            ws._socket("/market/nope:ETH-USDT", print)
        nudge(sim, "ETH-USDT")
        tick = until_sync(lambda: ticks and ticks[-1], "a ticker push")
        assert tick["data"]["symbol"] == "ETH-USDT" and float(tick["data"]["vol"]) >= 0
        assert "changeRate" in tick["kunb"]["added"] and ws.topics == ["/market/ticker:ETH-USDT"]


def test_an_unknown_symbol_names_the_topic_asked_for_and_the_symbol(env):
    """_socket('/market/ticker:FOO-BAR') also follows /market/snapshot:FOO-BAR (the 24 h numbers added to
    tickers): the error names the topic the caller passed and the symbol, never the other topic."""
    with BlockingWsClient() as ws:
        with pytest.raises(SubscribeError) as info:
            ws._socket("/market/ticker:FOO-BAR", print)
        text = str(info.value)
        assert info.value.data.startswith("/market/ticker:FOO-BAR: "), text
        assert "FOO-BAR is not a symbol" in text and "/market/snapshot" not in text, text
        assert info.value.symbols == ("FOO-BAR",)
        assert ws.topics == []


def test_private_topic_needs_credentials(env):
    """A private topic without a key is a clear ConfigurationError, not a hang."""
    with BlockingWsClient() as ws, pytest.raises(ConfigurationError):
        ws._socket("/account/balance", print, is_private=True)
    assert blocking_threads() == []


def test_a_second_order_topic_version_is_refused_not_silent(env):
    """The account follows one order topic; asking for the other version raises instead of never firing."""
    sim = env
    with BlockingWsClient(sim.credentials.key, sim.credentials.secret, sim.credentials.passphrase) as ws:
        ws._socket("/spotMarket/tradeOrders", print, is_private=True)
        with pytest.raises(ConfigurationError, match="tradeOrdersV2"):
            ws._socket("/spotMarket/tradeOrdersV2", print, is_private=True)
        ws._socket("/spotMarket/tradeOrders", print, is_private=True)  # the same version is fine


def test_slow_and_failing_callbacks_do_not_stall_the_stream(env):
    """Callbacks run on their own thread: while one blocks, the connection keeps reading and stays live;
    the queued messages arrive after it returns; a callback that raises is counted and the others run."""
    sim = env
    release = threading.Event()
    seen: list[str] = []

    def slow(text: str) -> None:
        release.wait(DEADLINE)
        seen.append(text)

    def failing(text: str) -> None:
        raise RuntimeError("callback bug")

    with BlockingWsClient() as ws:
        ws._socket("/market/ticker:BTC-USDT", slow)
        ws._socket("/market/ticker:BTC-USDT", failing)
        (stream,) = ws._streams  # the second _socket of the same topic reuses the first one's Stream
        before = stream.connection.counters.messages
        for _ in range(3):
            nudge(sim)
        until_sync(
            lambda: stream.connection.counters.messages >= before + 3, "pushes read while the callback blocks"
        )
        assert stream.connection.state.value == "live" and seen == []
        release.set()
        until_sync(lambda: len(seen) >= 3, "the queued messages")
        until_sync(lambda: ws.callback_errors >= 3, "the failing callback's errors counted")
        sub = ws._socket("/market/ticker:BTC-USDT", seen.append)
        sub.close()
        assert ws._callbacks["/market/ticker:BTC-USDT"] == [slow, failing]


def test_close_leaves_nothing_and_refuses_use(env, caplog):
    """close() ends both threads and every server session; it is idempotent; _socket afterwards raises."""
    sim = env
    before = {s.id for s in sim.exchange.connections()}
    ws = BlockingWsClient(sim.credentials.key, sim.credentials.secret, sim.credentials.passphrase)
    try:
        ws._socket("/market/ticker:BTC-USDT", print)
        ws._socket("/account/balance", print, is_private=True)
        mine = {s.id for s in sim.exchange.connections()} - before
        assert len(mine) == 2 and len(blocking_threads()) == 2
    finally:
        ws.close()
    ws.close()
    assert blocking_threads() == []
    until_sync(lambda: not mine & {s.id for s in sim.exchange.connections()}, "the server sessions to close")
    with pytest.raises(ClosedError):
        ws._socket("/market/ticker:BTC-USDT", print)
    del ws
    gc.collect()
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]


async def test_direct_construction_builds_the_facade_and_create_stays_async(exchange):
    """``KucoinWsClient(...)`` called directly is the blocking facade; ``await KucoinWsClient.create(...)``
    still builds the async client, and subclasses construct normally."""
    from kunb.ws_client import KucoinWsClient

    direct = KucoinWsClient(url=exchange.url)
    assert isinstance(direct, BlockingWsClient) and direct.url == exchange.url
    direct.close()
    async with Market(url=exchange.url) as market:
        client = await KucoinWsClient.create(None, market, lambda message: None)
        try:
            assert type(client) is KucoinWsClient and client.topics is not None
        finally:
            await client.close()

    class Custom(KucoinWsClient):
        pass

    assert type(Custom()) is Custom
