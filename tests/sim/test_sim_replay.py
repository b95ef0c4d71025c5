"""``kunb sim --replay DIR``: a recording served over the wire. kunb's Stream, ccxt.pro and KuCoin's
official SDK, unmodified, see the recorded market: the same pushes, and books that sync from the replay's
REST snapshots into the recorded books at every sequence."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

import kunb
from kunb.events import BookDelta, BookSnapshot
from kunb.exceptions import ConfigurationError
from kunb.model.book import BookState
from kunb.record.raw import read_recording
from kunb.sim import Exchange
from kunb.sim.replay import ReplayExchange

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["BTC-USDT", "ETH-USDT"]


def watch_tops(stream: kunb.Stream, tops: dict[tuple[str, int], Any]) -> None:
    def sink(event: Any) -> None:
        if event.__class__ in (BookDelta, BookSnapshot):
            book = stream.books[event.symbol]
            if book.state is BookState.LIVE:
                tops[(event.symbol, book.last_sequence)] = book.top(10)

    stream.add_sink(sink)


class Recorded:
    """A live run recorded against kunb.sim: where, its tops at every sequence, its final books."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tops: dict[tuple[str, int], Any] = {}
        self.final: dict[str, tuple[int | None, Any]] = {}
        self.ticks = 0


async def _record(out: Path) -> Recorded:
    recorded = Recorded(out)
    async with Exchange(seed=2, symbols=SYMBOLS, tick_ms=20) as ex:
        stream = kunb.Stream(SYMBOLS, url=ex.url, credentials=ex.credentials, record_to=out)
        watch_tops(stream, recorded.tops)
        async with stream:
            await stream.wait_live(15)
            await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 250, 30)
    recorded.final = {s: (b.last_sequence, b.top(10)) for s, b in stream.books.items()}
    recorded.ticks = stream.ticks.appended if stream.ticks is not None else 0
    return recorded


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return asyncio.run(_record(tmp_path_factory.mktemp("replay") / "session"))


async def test_a_kunb_stream_against_the_replay_sees_the_recorded_books(recording: Recorded) -> None:
    async with ReplayExchange(recording.out, speed=8) as replay:
        stream = kunb.Stream(SYMBOLS, url=replay.url)  # no key: public level2_100 snapshots of the replay
        tops: dict[tuple[str, int], Any] = {}
        watch_tops(stream, tops)
        async with stream:
            await stream.wait_live(20)
            await asyncio.wait_for(replay.finished.wait(), 60)
            last = {s: seq for s, (seq, _) in recording.final.items()}
            await stream.wait_for(lambda s: all(b.last_sequence == last[k] for k, b in s.books.items()), 10)
        assert replay.error is None
    # the client syncs while the replay runs at 8x: the pushes buffered until its snapshot came are
    # applied inside it, so no top is taken at their sequences; every other sequence is compared
    common = tops.keys() & recording.tops.keys()
    assert len(common) >= 0.75 * len(recording.tops)
    assert [key for key in common if tops[key] != recording.tops[key]] == []
    assert {s: (b.last_sequence, b.top(10)) for s, b in stream.books.items()} == recording.final
    assert stream.ticks is not None and stream.ticks.appended == recording.ticks  # every ticker push


async def test_ccxt_pro_syncs_its_book_from_the_replay(recording: Recorded) -> None:
    ccxt_pro = pytest.importorskip("ccxt.pro")
    async with ReplayExchange(recording.out, speed=4) as replay:
        pro = ccxt_pro.kucoin({"options": {"fetchMarkets": {"types": ["spot"]}, "uta": False}})
        for name in ("public", "private", "uta", "utaPrivate", "utaV2", "webExchange"):
            if name in pro.urls["api"]:
                pro.urls["api"][name] = replay.url
        try:
            markets = await pro.load_markets()
            assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
            assert markets["BTC/USDT"]["precision"]["price"] == 0.1  # the pair's real increment
            checked = 0
            for _ in range(20):
                book = await asyncio.wait_for(pro.watch_order_book("BTC/USDT", 100), 15)
                recorded = recording.tops.get(("BTC-USDT", book["nonce"]))
                if recorded is not None:
                    bids, asks = recorded
                    # ccxt keeps [price, size, sequence] per level
                    assert [list(level) for level in bids[:5]] == [row[:2] for row in book["bids"][:5]]
                    assert [list(level) for level in asks[:5]] == [row[:2] for row in book["asks"][:5]]
                    checked += 1
            assert checked >= 10
            ticker = await asyncio.wait_for(pro.watch_ticker("ETH/USDT"), 15)
            assert ticker["bid"] < ticker["ask"]
        finally:
            await pro.close()


def test_the_official_sdk_gets_the_recorded_pushes(recording: Recorded) -> None:
    """KuCoin's SDK fetches its token with blocking requests inside its coroutine: the replay runs on a
    thread of its own, as a notebook user's exchange would."""
    kucoin_client = pytest.importorskip("kucoin.client")
    kucoin_ws = pytest.importorskip("kucoin.ws_client")
    recorded = [
        orjson.loads(r["d"])
        for _, r in read_recording(recording.out)
        if r["k"] == "recv" and '"topic":"/market/ticker:BTC-USDT"' in r["d"]
    ]

    async def run(url: str) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        enough = asyncio.Event()

        async def callback(message: dict[str, Any]) -> None:
            if message.get("topic") == "/market/ticker:BTC-USDT":
                got.append(message)
                if len(got) >= 20:
                    enough.set()

        sdk = await kucoin_ws.KucoinWsClient.create(None, kucoin_client.WsToken(url=url), callback)
        try:
            await sdk.subscribe("/market/ticker:BTC-USDT")
            await asyncio.wait_for(enough.wait(), 30)
        finally:
            await _stop_sdk(sdk)
        return got

    replay = _ThreadedReplay(recording.out, speed=4)
    try:
        got = asyncio.run(run(replay.url))
    finally:
        replay.stop()
    assert got[:20] == recorded[:20]  # the recorded frames, in order, from the first one

    replay = _ThreadedReplay(recording.out, speed=50, play=True)
    try:
        market = kucoin_client.Market(url=replay.url)
        assert {s["symbol"] for s in market.get_symbol_list()} == set(SYMBOLS)
        book = market.get_part_order("20", "ETH-USDT")
        sequence, (bids, asks) = recording.final["ETH-USDT"]  # the book as the recording ended
        assert int(book["sequence"]) == sequence
        assert [(float(p), float(s)) for p, s in book["bids"][:10]] == bids
        assert [(float(p), float(s)) for p, s in book["asks"][:10]] == asks
    finally:
        replay.stop()


async def _stop_sdk(sdk: Any) -> None:
    """Close the SDK's socket, then cancel its tasks (it swallows CancelledError: bounded retries)."""
    conn = sdk._conn
    tasks = [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").startswith("ConnectWebsocket.")
        and t.get_coro().cr_frame is not None
        and t.get_coro().cr_frame.f_locals.get("self") is conn
    ]
    if conn._socket is not None:
        await conn._socket.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while any(not t.done() for t in tasks) and loop.time() < deadline:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=0.2)
    for t in tasks:
        if t.done() and not t.cancelled():
            t.exception()


class _ThreadedReplay:
    """A ReplayExchange on a thread of its own, for blocking clients; ``play``: played to its end at once
    (no subscription starts it), then serving the final books."""

    def __init__(self, out: Path, *, speed: float, play: bool = False) -> None:
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.url = ""
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(out, speed, play),), daemon=True)
        self._thread.start()
        assert self._ready.wait(30)

    async def _main(self, out: Path, speed: float, play: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with ReplayExchange(out, speed=speed) as replay:
            self.url = replay.url
            if play:
                replay.play()
                await asyncio.wait_for(replay.finished.wait(), 30)
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive()


def test_kunb_sim_replay_from_the_command_line(recording: Recorded, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kunb.sim", "--replay", str(recording.out), "--speed", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    timer = threading.Timer(30, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        rest = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        timer.cancel()
        assert first.startswith("KUNB_SIM_URL=http://127.0.0.1:"), first
        url = first.split("=", 1)[1]
        # a shell sourcing the lines points kunb's clients at the replay, labelled not live
        assert rest["KUNB_URL"] == url and rest["KUNB_SIMULATED"] == "1"
        assert rest["KUNB_SIM_WS_URL"].startswith("ws://127.0.0.1:")

        async def sync() -> None:
            async with kunb.Stream(SYMBOLS, url=url, stats=False) as stream:
                await stream.wait_live(20)

        asyncio.run(sync())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "kunb.sim", "--replay", str(empty)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and "no raw layer" in done.stderr
    with pytest.raises(ConfigurationError, match="speed"):
        ReplayExchange(recording.out, speed=0)
