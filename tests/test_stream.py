"""Stream against kunb.sim: books equal the server's book through gaps and dropped connections, for
several symbols at once; rolling frames and snapshot() fill from the live feed."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from support import until

from kunb.client import Market
from kunb.events import BookDelta, BookSnapshot, Integrity
from kunb.exceptions import (
    AuthenticationError,
    ClosedError,
    ConfigurationError,
    KunbError,
    SubscribeError,
)
from kunb.model.book import BookState, OrderBook
from kunb.signing import Credentials
from kunb.sim import Exchange
from kunb.sim.wire.market import orderbook_snapshot
from kunb.stream import Stream, StreamState

SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
FAST = {"backoff_base": 0.02, "backoff_cap": 0.2}  # reconnect at once in tests


Levels = tuple[dict[float, float], dict[float, float]]


def levels(snapshot: dict[str, Any]) -> Levels:
    return (
        {float(p): float(s) for p, s in snapshot["bids"]},
        {float(p): float(s) for p, s in snapshot["asks"]},
    )


class Checker:
    """A Stream sink: after every book event, compares the live local book with the server's whenever both
    are at the same sequence, and keeps recent local states so REST snapshots can be compared at their
    sequence. ``stream`` is set once the stream exists."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.stream: Stream | None = None
        self.compared: Counter[str] = Counter()
        self.mismatches: list[str] = []
        self.history: dict[str, dict[int, Levels]] = {}
        self.rest_checked: Counter[str] = Counter()
        self.changed = asyncio.Event()

    def sink(self, event: Any) -> None:
        if isinstance(event, BookDelta | BookSnapshot | Integrity) and self.stream is not None:
            book = self.stream.books.get(getattr(event, "symbol", ""))
            if book is not None:
                self(book.symbol, book)
            else:
                self.changed.set()

    def __call__(self, symbol: str, book: OrderBook) -> None:
        self.changed.set()
        if book.state is not BookState.LIVE or book.last_sequence is None:
            return
        local = (book.levels("bid"), book.levels("ask"))
        history = self.history.setdefault(symbol, {})
        history[book.last_sequence] = local
        if len(history) > 500:
            del history[next(iter(history))]
        market = self.ex.core.markets[symbol]
        if market.book.sequence == book.last_sequence:
            if local != levels(orderbook_snapshot(market, None, 0)):
                self.mismatches.append(f"{symbol}@{book.last_sequence} differs from the server")
            self.compared[symbol] += 1

    async def wait(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def rest_check(self, market: Market, symbol: str, stream: Stream) -> None:
        """Fetch the full REST book and compare it with the local book at the same sequence."""
        book = stream.books[symbol]
        for _ in range(20):  # a snapshot taken while the book was resyncing has no local twin: retry
            snap = await market.aget_aggregated_orderv3(symbol)
            sequence = int(snap["sequence"])
            await self.wait(lambda s=sequence: book.state is not BookState.LIVE or book.last_sequence >= s)
            local = self.history.get(symbol, {}).get(sequence)
            if local is not None:
                if local != levels(snap):
                    self.mismatches.append(f"{symbol}@{sequence} differs from the REST snapshot")
                self.rest_checked[symbol] += 1
                return
            await stream.wait_live(10)
        raise AssertionError(f"never compared {symbol} against a REST snapshot")


@pytest.fixture
async def busy_exchange():
    """Three symbols and a fast market (about a hundred level changes per second per symbol)."""
    async with Exchange(seed=3, symbols=SYMBOLS, tick_ms=10, rate=8.0) as ex:
        yield ex


async def test_books_match_the_server_through_gaps_and_disconnects(busy_exchange: Exchange) -> None:
    """Injected sequence gaps and abrupt disconnects are each detected and resynced, and every book
    equals the server's (in-process and through the full REST snapshot) after every resync."""
    ex = busy_exchange
    checker = Checker(ex)
    stream = Stream(SYMBOLS, url=ex.url, credentials=ex.credentials, **FAST)
    checker.stream = stream
    stream.add_sink(checker.sink)
    async with Market(url=ex.url, credentials=ex.credentials) as market, stream:
        await stream.wait_live(20)
        for symbol in SYMBOLS:
            await checker.rest_check(market, symbol, stream)
        for round_ in range(2):
            for symbol in SYMBOLS:
                gaps = stream.books[symbol].stats.gaps
                ex.faults.skip_level2(pushes=1, symbol=symbol)
                await checker.wait(lambda s=symbol, g=gaps: stream.books[s].stats.gaps > g)
            await stream.wait_live(20)
            for symbol in SYMBOLS:
                await checker.rest_check(market, symbol, stream)
            resyncs = {s: b.stats.resyncs for s, b in stream.books.items()}
            assert ex.faults.disconnect(abrupt=True) >= 1, round_
            await checker.wait(lambda r=resyncs: all(b.stats.resyncs > r[s] for s, b in stream.books.items()))
            await stream.wait_live(20)
            for symbol in SYMBOLS:
                await checker.rest_check(market, symbol, stream)
        await checker.wait(lambda: sum(b.stats.updates_applied for b in stream.books.values()) >= 3000, 30)
        assert not checker.mismatches, checker.mismatches[:5]
        for symbol, book in stream.books.items():
            assert checker.compared[symbol] > 20, checker.compared
            assert checker.rest_checked[symbol] == 5
            assert book.stats.gaps >= 2 and book.stats.resyncs >= 4, book.stats
            assert book.stats.crossed == 0
        assert stream.snapshots_fetched >= 4 * len(SYMBOLS)
    assert stream.state is StreamState.CLOSED and stream.connection is None


async def test_frames_and_snapshot_fill_from_the_feed(exchange: Exchange) -> None:
    """Ticks, trades, book tops and candles are recorded; snapshot() has a row per symbol with the
    book's best prices, the 24 h change and volume."""
    symbols = ["BTC-USDT", "ETH-USDT"]
    stream = Stream(symbols, url=exchange.url, candles="1min", top_interval=0.0, **FAST)
    async with stream:
        await stream.wait_live(20)
        assert stream.ticks is not None and stream.trades is not None and stream.tops is not None
        frames = (stream.ticks, stream.trades, stream.tops)
        await until(lambda: all(len(f) >= 2 for f in frames) and all(s in stream._stats for s in symbols))
        snap = stream.snapshot()
        assert list(snap.index) == symbols
        for symbol in symbols:
            row = snap.loc[symbol]
            book = stream.books[symbol]
            assert row["book"] == "live"
            assert row["bid"] < row["ask"] and math.isclose(row["spread"], row["ask"] - row["bid"])
            assert row["price"] > 0 and row["volume_24h"] >= 0 and not math.isnan(row["change_24h"])
            assert book.best_bid is not None and row["bid"] <= book.best_ask
        assert set(stream.ticks.df["symbol"].astype(str)) <= set(symbols)
        assert stream.tops.df["bid_0"].notna().all()
        assert stream.candles is not None
        await until(lambda: len(stream.candles) >= 1)
        assert stream.candles.df["interval"].astype(str).unique().tolist() == ["1min"]
        # Without credentials the books sync from the public level2_100 snapshot.
        assert stream.snapshots_fetched >= len(symbols)
    assert stream.state is StreamState.CLOSED


async def test_refused_full_book_falls_back_to_the_public_snapshot(exchange: Exchange) -> None:
    """A key the exchange refuses for the signed v3 book does not stop the books: level2_100 syncs them."""
    wrong = Credentials("key-nope", "secret-nope", "pass-nope")
    async with Stream(
        "BTC-USDT", url=exchange.url, credentials=wrong, ticker=False, trades=False, **FAST
    ) as s:
        await s.wait_live(20)
        assert isinstance(s.error, AuthenticationError)
        assert s.books["BTC-USDT"].best_bid is not None


async def test_errors_and_misuse(exchange: Exchange) -> None:
    """Bad arguments are refused; an unknown symbol fails the start and closes; a stream starts once."""
    with pytest.raises(ConfigurationError):
        Stream([])
    with pytest.raises(ConfigurationError):
        Stream("BTC-USDT", snapshot_depth=50)
    bad = Stream(["NOPE-USDT"], url=exchange.url, **FAST)
    with pytest.raises(Exception) as info:
        await bad.astart()
    assert bad.state is StreamState.CLOSED and bad.error is info.value
    with pytest.raises(ClosedError):
        await bad.wait_live(1)
    with pytest.raises(ClosedError):
        await bad.astart()
    assert "closed" in repr(bad)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (123, "123"),
        ([None], "None"),
        (["BTC-USDT", 5], "5"),
        (b"BTC-USDT", "b'BTC-USDT'"),
        ("", "''"),
        ("/market/ticker:BTC-USDT", "'/market/ticker:BTC-USDT'"),  # a topic, not a symbol
        ("BTC-USDT,ETH-USDT", "'BTC-USDT,ETH-USDT'"),  # one string, not a list
    ],
)
def test_what_is_not_a_symbol_is_refused_at_once_naming_it(bad: Any, named: str) -> None:
    """Stream() of a number, bytes, a topic or a comma-joined string raises a ConfigurationError that
    shows what was passed, before anything connects."""
    with pytest.raises(ConfigurationError) as info:
        Stream(bad, url="http://127.0.0.1:9")
    assert named in str(info.value), str(info.value)


async def test_a_symbol_in_lower_case_fails_the_start_with_a_hint_about_case(exchange: Exchange) -> None:
    """Stream(['btc-usdt']) fails at once, and the error says symbols are upper case."""
    bad = Stream(["btc-usdt"], url=exchange.url, **FAST)
    with pytest.raises(KunbError) as info:
        await asyncio.wait_for(bad.astart(), 5)
    assert "upper case" in str(info.value) and "'BTC-USDT'" in str(info.value), str(info.value)


async def test_an_unknown_symbol_among_others_is_named_not_the_joined_topic(exchange: Exchange) -> None:
    """Stream(['BTC-USDT', 'FOO-BAR']) fails at once with a SubscribeError that names FOO-BAR (and only
    it, in .symbols), not the topic /market/level2:BTC-USDT,FOO-BAR the stream made of both."""
    bad = Stream(["BTC-USDT", "FOO-BAR", "ETH-USDT"], url=exchange.url, **FAST)
    with pytest.raises(SubscribeError) as info:
        await asyncio.wait_for(bad.astart(), 5)
    text = str(info.value)
    assert "FOO-BAR" in text and "BTC-USDT" not in text, text
    assert info.value.symbols == ("FOO-BAR",)
    assert bad.state is StreamState.CLOSED and bad.error is info.value


async def test_start_from_a_cell_returns_at_once(exchange: Exchange) -> None:
    """In a running loop (a notebook cell) start() and stop() schedule work and return immediately."""
    stream = Stream("ETH-USDT", url=exchange.url, ticker=False, trades=False, stats=False, **FAST)
    assert stream.start() is stream
    assert stream.state is StreamState.STARTING
    await stream.wait_live(20)
    assert stream.live and stream.books["ETH-USDT"].best_bid is not None
    stream.stop()
    await until(lambda: stream.connection is None)
    assert stream.state is StreamState.CLOSED


def test_start_from_a_script_uses_a_helper_loop() -> None:
    """Without a running loop, start() runs the stream on a helper thread and waits for the subscribe."""
    from kunb.runtime import stop_helper_loop
    from kunb.sim import SimHandle

    handle = SimHandle(seed=2, symbols=["BTC-USDT"])
    try:
        stream = Stream("BTC-USDT", url=handle.url, trades=False, stats=False, **FAST).start()
        try:
            assert stream.state is StreamState.RUNNING
            assert stream.connection is not None
        finally:
            stream.stop()
        assert stream.state is StreamState.CLOSED and stream.connection is None
    finally:
        handle.stop()
        stop_helper_loop()


async def test_a_fed_stream_syncs_its_book_from_rest(exchange: Exchange) -> None:
    """A Stream never started but fed through ingest() fetches its book's snapshot from the exchange's
    REST on the caller's loop; aclose() ends the fetch and its REST client."""
    stream = Stream("BTC-USDT", url=exchange.url, ticker=False, trades=False, stats=False)
    push = {"sequenceStart": 1, "sequenceEnd": 1, "symbol": "BTC-USDT", "changes": {"bids": [], "asks": []}}
    stream.ingest({"topic": "/market/level2:BTC-USDT", "data": {**push, "time": 1}})
    book = stream.books["BTC-USDT"]
    await until(lambda: book.state is BookState.LIVE)
    assert stream.snapshots_fetched == 1 and stream.state is StreamState.NEW
    assert book.last_sequence is not None and book.last_sequence > 1
    await stream.aclose()
    assert stream.source._market is None  # type: ignore[attr-defined]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]


async def test_a_snapshot_fetcher_that_fails_for_a_while_is_retried(exchange: Exchange) -> None:
    """A custom snapshots= fetcher failing with a network error is recorded in .error and retried along
    the one backoff policy (kunb.net.backoff), until the book is live."""
    calls: list[int] = []
    rest = Market(url=exchange.url)

    async def flaky(symbol: str):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("the fetcher's connection dropped")
        return await rest.aget_part_order(100, symbol)

    stream = Stream("BTC-USDT", url=exchange.url, ticker=False, trades=False, stats=False, snapshots=flaky)
    push = {"sequenceStart": 1, "sequenceEnd": 1, "symbol": "BTC-USDT", "changes": {"bids": [], "asks": []}}
    stream.ingest({"topic": "/market/level2:BTC-USDT", "data": {**push, "time": 1}})
    book = stream.books["BTC-USDT"]
    await until(lambda: book.state is BookState.LIVE)
    assert len(calls) == 2 and isinstance(stream.error, ConnectionResetError)
    assert "BTC-USDT" not in stream.snapshot_errors  # cleared by the snapshot that worked
    await stream.aclose()
    await rest.aclose()


async def test_a_snapshot_fetcher_with_a_bug_is_reported_not_retried_forever(exchange: Exchange) -> None:
    """A fetcher raising a plain exception (a bug, not the network) is recorded, logged and reported to
    the sinks as an Integrity event; the stream does not retry it in a loop that would hide it."""
    calls: list[int] = []
    seen: list[Any] = []

    async def buggy(symbol: str):
        calls.append(1)
        raise RuntimeError("fetcher bug")

    stream = Stream("BTC-USDT", url=exchange.url, ticker=False, trades=False, stats=False, snapshots=buggy)
    stream.add_sink(seen.append)
    push = {"sequenceStart": 1, "sequenceEnd": 1, "symbol": "BTC-USDT", "changes": {"bids": [], "asks": []}}
    stream.ingest({"topic": "/market/level2:BTC-USDT", "data": {**push, "time": 1}})
    await until(lambda: "BTC-USDT" in stream.snapshot_errors and not stream._fetching)
    assert len(calls) == 1 and isinstance(stream.error, RuntimeError)
    assert [e.kind for e in seen if isinstance(e, Integrity)] == ["snapshot_failed"]
    assert stream.books["BTC-USDT"].needs_snapshot
    await stream.aclose()
