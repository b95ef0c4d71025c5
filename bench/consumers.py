"""One benchmark consumer per process: receive N pushes from ``bench/feed_server.py`` and print one JSON line.

Throughput rows (``--n`` pushes of ``--shape`` ticker or level2, timed with ``perf_counter`` from the first
data message to the N-th; token and handshake are not timed):

- ``ceiling``: websockets ``async for msg in ws``, counting only (the issue's ceiling);
- ``orjson``: the same loop plus ``orjson.loads``;
- ``sdk``: KuCoin's official ``kucoin-python`` (``KucoinWsClient`` + ``WsToken(url=...)``);
- ``ccxt``: ccxt.pro kucoin ``watch_ticker`` (ticker only); it conflates, so the count is the pushes its
  ``handle_message`` processed, not the tickers ``watch_ticker`` returned (reported beside it);
- ``picows`` / ``picows_orjson``: picows' frame callback counting, or decoding every frame with
  ``orjson.loads`` (the fastest receive path measured here: issue 16's bar);
- ``link_picows`` / ``link_frames``: one of kunb's links alone with ``orjson.loads`` and a count;
- ``kunb`` / ``kunb_picows`` / ``kunb_frames`` / ``kunb_ws``: kunb's ``KucoinWsClient`` with the
  counting callback, on the default link (picows when installed), picows', FrameLink (websockets'
  sans-I/O parser) or websockets' ``ClientConnection`` (``transport="websockets"``);
- ``feed`` / ``feed_frames``: kunb's full feed, ``kunb.Stream`` (level2: synchronised book + book-top
  frame; ticker: the ticker frame), counted after each message was recorded; default link or FrameLink;
  ``feed_rec`` / ``feed_proc``: the same recording both layers (``record_to=``, a temporary directory)
  on writer threads / in a writer process (``feed_proc_nice``: that process at a lower priority,
  ``writer_nice=10``), with drops, bytes and the writers' backlog reported.

Every throughput row reports wall-clock ``rate`` and ``cpu_rate`` (messages per second of this
process's CPU time, which a busy shared machine moves much less).

Paced rows (``--seconds`` against a paced server; pushes carry the server's ``time.time_ns()``):
``lat_raw`` (websockets + orjson, the baseline), ``lat_kunb`` / ``lat_feed`` (send -> callback / -> rolling
frame updated), ``scale_all`` (``/market/
ticker:all`` into a TickerFrame), ``scale_l2`` (a Stream of ``--books`` level2 books, sharded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

__all__ = ["main"]

SYMBOL = "BTC-USDT"


def _bullet(port: int) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/bullet-public", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = json.load(resp)["data"]
    return f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=bench"


def _topic(shape: str, symbol: str = SYMBOL) -> str:
    return f"/market/{'ticker' if shape == 'ticker' else 'level2'}:{symbol}"


# UTA (``--shape uta``): the feed server's /uta socket, obu increment@10ms of the firehose symbol; before
# the deltas come the welcome, the subscribe answer and the socket snapshot (uta-protocol.md#order-book)
UTA_SUBSCRIBE = {"id": "1", "action": "subscribe", "channel": "obu", "tradeType": "SPOT", "symbol": SYMBOL,
                 "depth": "increment@10ms"}  # fmt: skip


def _uta_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/uta"


def _dial(port: int, shape: str) -> tuple[str, bytes, int]:
    """The URL to dial, the subscribe frame, and the frames that come before the first counted one."""
    if shape == "uta":
        return _uta_url(port), orjson.dumps(UTA_SUBSCRIBE), 3  # welcome, answer, snapshot
    subscribe = orjson.dumps({"id": "1", "type": "subscribe", "topic": _topic(shape)})
    return _bullet(port), subscribe, 2  # welcome, ack


def _clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time: on a shared machine the CPU time per message is what a
    consumer costs, whatever share of a core it was given (rows report both)."""
    return time.perf_counter(), time.process_time()


def _rates(n: int, start: tuple[float, float], end: tuple[float, float]) -> dict[str, Any]:
    seconds, cpu = end[0] - start[0], end[1] - start[1]
    return {
        "n": n,
        "seconds": seconds,
        "rate": (n - 1) / seconds,
        "cpu_seconds": cpu,
        "cpu_rate": (n - 1) / cpu if cpu > 0 else None,
    }


class Timer:
    """First-message-to-N-th timing shared by the rows."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.t0 = (0.0, 0.0)
        self.t1 = (0.0, 0.0)
        self.done = asyncio.get_running_loop().create_future()

    def tick(self, _message: object = None) -> None:
        """Count one message (also usable as the callback itself: one call, like the ceiling's count)."""
        self.count += 1
        if self.count == 1:
            self.t0 = _clocks()
        elif self.count == self.n:
            self.t1 = _clocks()
            if not self.done.done():
                self.done.set_result(None)

    def result(self, **extra: Any) -> dict[str, Any]:
        out = _rates(self.n, self.t0, self.t1)
        # CPU of this process (every thread) per message between the first and the N-th: what a message
        # costs the consumer whether or not it had a core to itself (bench/record_feed.py reads it)
        out["cpu_us"] = out["cpu_seconds"] / (self.n - 1) * 1e6
        return {**out, **extra}


# -- raw websockets ---------------------------------------------------------------------------------
async def raw(port: int, n: int, shape: str, decode: bool) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    async with connect(_bullet(port), ping_interval=None, max_size=2**24) as ws:
        await ws.recv()  # welcome
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "topic": _topic(shape)}).decode())
        await ws.recv()  # ack
        count = 0
        loads = orjson.loads
        t0 = (0.0, 0.0)
        if decode:
            async for msg in ws:
                loads(msg)
                count += 1
                if count == 1:
                    t0 = _clocks()
                elif count == n:
                    break
        else:
            async for _msg in ws:
                count += 1
                if count == 1:
                    t0 = _clocks()
                elif count == n:
                    break
        t1 = _clocks()
    return _rates(n, t0, t1)


# -- raw picows -------------------------------------------------------------------------------------
async def raw_picows(port: int, n: int, shape: str, decode: bool) -> dict[str, Any]:
    """picows' frame callback, counting (``decode``: plus ``orjson.loads`` of every payload): the fastest
    receive path measured here, the ceiling kunb is held to (issue 16)."""
    from picows import WSListener, WSMsgType, ws_connect

    loop = asyncio.get_running_loop()
    done: asyncio.Future[dict[str, Any]] = loop.create_future()
    loads = orjson.loads

    url, subscribe, first = _dial(port, shape)

    class Counter(WSListener):  # type: ignore[misc]
        def __init__(self) -> None:
            self.count = -first  # the welcome and the ack (UTA: and the snapshot) come first
            self.t0 = (0.0, 0.0)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if decode:
                loads(frame.get_payload_as_bytes())
            self.count += 1
            count = self.count
            if count == 1:
                self.t0 = _clocks()
            elif count == n:
                done.set_result(_rates(n, self.t0, _clocks()))

    transport, _ = await ws_connect(Counter, url, max_redirects=0, use_aiofastnet=False)
    try:
        transport.send(WSMsgType.TEXT, subscribe)
        result = await asyncio.wait_for(done, 120)
    finally:
        transport.disconnect()
    return result


# -- kunb's links alone -----------------------------------------------------------------------------
async def link_only(port: int, n: int, shape: str, kind: str) -> dict[str, Any]:
    """One of kunb's links (``kunb.net.link.open_link``) with ``orjson.loads`` and a count as its
    ``on_messages``: the ceiling's work through kunb's link, without the connection above it."""
    from kunb.net.link import open_link

    loop = asyncio.get_running_loop()
    done: asyncio.Future[dict[str, Any]] = loop.create_future()
    loads = orjson.loads
    url, subscribe, first = _dial(port, shape)
    count = -first  # the welcome and the ack (UTA: and the snapshot) come first
    t0 = (0.0, 0.0)

    def on_messages(raws: list[bytes]) -> None:
        nonlocal count, t0
        for raw in raws:
            loads(raw)
            count += 1
            if count == 1:
                t0 = _clocks()
            elif count == n:
                done.set_result(_rates(n, t0, _clocks()))

    link = await open_link(url, on_messages, kind=kind)  # type: ignore[arg-type]
    try:
        await link.send(subscribe.decode())
        return await asyncio.wait_for(done, 120)
    finally:
        await link.close()


# -- kunb -------------------------------------------------------------------------------------------
async def kunb_client(port: int, n: int, shape: str, transport: str) -> dict[str, Any]:
    from kunb.client import Market
    from kunb.ws_client import KucoinWsClient

    timer = Timer(n)
    market = Market(url=f"http://127.0.0.1:{port}")
    if shape == "uta":  # the same client speaking UTA (a dialect), counting from the socket snapshot
        from kunb.net.dialect import UtaDialect

        dialect = UtaDialect(url=_uta_url(port))
        client = await KucoinWsClient.create(None, None, timer.tick, dialect=dialect, transport=transport)
        topic = "obu.SPOT:BTC-USDT:increment@10ms"
    else:
        client = await KucoinWsClient.create(None, market, timer.tick, transport=transport)
        topic = _topic(shape)
    try:
        await client.subscribe(topic)
        await asyncio.wait_for(timer.done, 120)
        drops = client.counters.drops
    finally:
        await client.close()
        await market.aclose()
    return timer.result(drops=drops)


async def profile(port: int, n: int, shape: str, row: str) -> dict[str, Any]:
    """The kunb row (or the full feed) under cProfile: the functions taking the most own time."""
    import cProfile
    import pstats
    from pathlib import Path

    import kunb.client
    import kunb.stream
    import kunb.ws_client  # noqa: F401 - imported before profiling: only the run is profiled

    prof = cProfile.Profile()
    prof.enable()
    out = await (kunb_client(port, n, shape, "auto") if row == "kunb" else feed(port, n, shape))
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values()) or 1.0
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    out["profile"] = [
        [f"{Path(file).parent.name}/{Path(file).name}:{func}" if line else func, tt / total, calls]
        for (file, line, func), (_, calls, tt, _, _) in top
    ]
    return out


def _stream(timer: Timer | None = None, on_record: Any = None) -> type:
    from kunb.stream import Stream

    class CountingStream(Stream):
        """Counts each message after the Stream recorded it (one extra call per message)."""

        def _on_frame(self, message: Any) -> None:
            super()._on_frame(message)
            if on_record is not None:
                on_record(message)
            if timer is not None:
                timer.tick()

    return CountingStream


def _raw_bytes(folder: str) -> int:
    """Bytes of the raw layer's files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*.zst"))


async def feed(port: int, n: int, shape: str, transport: str = "auto", *, record: str = "") -> dict[str, Any]:
    """The full feed; ``record``: recording both layers to a temporary directory, on writer threads in this
    process (``thread``) or in a writer process of its own (``process``; ``process_nice``: that process at
    a lower priority, ``writer_nice=10``)."""
    from kunb.record import Recording

    if shape == "uta":
        return await feed_uta(port, n, transport)

    level2 = shape == "level2"
    timer = Timer(n)
    cls = _stream(timer)
    scratch = tempfile.mkdtemp(prefix="kunb-bench-") if record else None
    recording = (
        None
        if scratch is None
        else Recording(
            os.path.join(scratch, "rec"),
            process=record.startswith("process"),
            writer_nice=10 if record == "process_nice" else 0,
        )
    )
    stream = cls(
        SYMBOL,
        url=f"http://127.0.0.1:{port}",
        book=level2,
        ticker=not level2,
        trades=False,
        stats=False,
        max_buffer=n + 10,  # the snapshot may come late in a firehose: keep every push for the replay
        transport=transport,
        record_to=recording,
    )
    backlog = 0
    async with stream:
        await asyncio.wait_for(timer.done, 120)
        if level2:
            book = stream.books[SYMBOL]
            if book.last_sequence != 1000 + n:  # pushes still buffered until the snapshot came: replayed
                await stream.wait_live(60)
                timer.t1 = _clocks()
            sequence = book.last_sequence
            rows = len(stream.tops or ())
        else:
            sequence = None
            rows = stream.ticks.appended if stream.ticks is not None else 0
        if recording is not None:  # what the writers had not taken yet when the N-th was applied
            backlog = recording.queued
    extra: dict[str, Any] = {}
    if recording is not None and scratch is not None:
        await asyncio.to_thread(recording.close)
        stats = recording.stats()
        extra = {"dropped": stats.dropped, "bytes": stats.bytes, "events": stats.events, "backlog": backlog}
        if record.startswith("process"):  # the writer process has ended: its whole life's CPU, per message
            child = resource.getrusage(resource.RUSAGE_CHILDREN)
            extra["writer_cpu_us"] = (child.ru_utime + child.ru_stime) / n * 1e6
        extra["raw_bytes"] = _raw_bytes(scratch)
        extra["frames"] = stats.frames
        shutil.rmtree(scratch, ignore_errors=True)
    return timer.result(book_sequence=sequence, frame_rows=rows, bad=stream.bad_messages, **extra)


async def feed_uta(port: int, n: int, transport: str = "auto") -> dict[str, Any]:
    """The full feed over UTA: a Stream's book on obu increment@10ms (the socket snapshot, then every
    delta applied with a best bid/ask and book-top row as for classic); also level changes per second."""
    timer = Timer(n + 1)  # the snapshot is a data frame too: it starts the clock
    cls = _stream(timer)
    stream = cls(
        SYMBOL,
        protocol="uta",
        url=f"http://127.0.0.1:{port}",
        ws_url=_uta_url(port),
        book=True,
        ticker=False,
        trades=False,
        stats=False,
        max_buffer=n + 10,
        transport=transport,
    )
    async with stream:
        await asyncio.wait_for(timer.done, 120)
        book = stream.books[SYMBOL]
        stats = book.stats
    out = timer.result(book_sequence=stats.last_sequence, frame_rows=len(stream.tops or ()))
    out["level_changes"] = stats.updates_applied
    out["changes_rate"] = stats.updates_applied / out["seconds"]
    out["changes_cpu_rate"] = stats.updates_applied / out["cpu_seconds"] if out["cpu_seconds"] else None
    out["state"] = book.state.value
    return out


# -- peers ------------------------------------------------------------------------------------------
async def sdk(port: int, n: int, shape: str) -> dict[str, Any]:
    from kucoin.client import WsToken
    from kucoin.ws_client import KucoinWsClient

    timer = Timer(n)
    tick = timer.tick

    async def callback(msg: dict[str, Any]) -> None:
        tick()

    token_client = WsToken(url=f"http://127.0.0.1:{port}")
    client = await KucoinWsClient.create(None, token_client, callback, private=False)
    await client.subscribe(_topic(shape))
    await asyncio.wait_for(timer.done, 120)
    return timer.result()  # the caller exits with os._exit: the SDK swallows CancelledError on shutdown


async def ccxt_pro(port: int, n: int, shape: str) -> dict[str, Any]:
    import ccxt.pro as ccxtpro

    if shape != "ticker":
        raise SystemExit("ccxt row: ticker only")
    loop = asyncio.get_running_loop()
    ex = ccxtpro.kucoin({"asyncio_loop": loop, "options": {"watchTicker": {"spotMethod": "/market/ticker"}}})
    for key in ("public", "private"):
        ex.urls["api"][key] = f"http://127.0.0.1:{port}"
    ex.set_markets(
        [
            {
                "id": SYMBOL,
                "symbol": "BTC/USDT",
                "base": "BTC",
                "quote": "USDT",
                "baseId": "BTC",
                "quoteId": "USDT",
                "type": "spot",
                "spot": True,
                "active": True,
                "precision": {"amount": 1e-8, "price": 0.1},
                "limits": {},
            }
        ]
    )
    timer = Timer(n)
    handle = ex.handle_message

    def counting(client: Any, message: Any) -> Any:
        result = handle(client, message)
        if isinstance(message, dict) and message.get("type") == "message":
            timer.tick()
        return result

    ex.handle_message = counting
    returned = 0

    async def watch() -> None:
        nonlocal returned
        while True:
            await ex.watch_ticker("BTC/USDT")
            returned += 1

    task = loop.create_task(watch())
    try:
        await asyncio.wait_for(timer.done, 120)
    finally:
        task.cancel()
        await ex.close()
    return timer.result(watch_ticker_returned=returned)


# -- paced rows -------------------------------------------------------------------------------------
def _percentiles(samples: list[int]) -> dict[str, float]:
    import numpy as np

    arr = np.asarray(samples, dtype=np.float64) / 1e6  # ms
    return {
        "samples": len(samples),
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "max_ms": float(arr.max()),
    }


async def lat_raw(port: int, seconds: float, warmup: float) -> dict[str, Any]:
    """The baseline: websockets ``async for`` + ``orjson.loads`` on the same paced feed."""
    from websockets.asyncio.client import connect

    samples: list[int] = []
    now = time.time_ns
    loads = orjson.loads
    async with connect(_bullet(port), ping_interval=None, max_size=2**24) as ws:
        await ws.recv()  # welcome
        topic = _topic("ticker", "LAT-USDT")
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "topic": topic}).decode())
        await ws.recv()  # ack
        loop = asyncio.get_running_loop()
        keep_from = loop.time() + warmup
        stop = keep_from + seconds
        async for raw in ws:
            msg = loads(raw)
            t = now()
            at = loop.time()
            if at >= keep_from:
                if at >= stop:
                    break
                samples.append(t - msg["ns"])
    return _percentiles(samples)


async def lat_kunb(port: int, seconds: float, warmup: float) -> dict[str, Any]:
    from kunb.client import Market
    from kunb.ws_client import KucoinWsClient

    samples: list[int] = []
    keep = False
    now = time.time_ns

    def callback(msg: dict[str, Any]) -> None:
        t = now()
        if keep:
            samples.append(t - msg["ns"])

    market = Market(url=f"http://127.0.0.1:{port}")
    client = await KucoinWsClient.create(None, market, callback)
    try:
        await client.subscribe(_topic("ticker", "LAT-USDT"))
        await asyncio.sleep(warmup)
        keep = True
        await asyncio.sleep(seconds)
        keep = False
    finally:
        await client.close()
        await market.aclose()
    return _percentiles(samples)


async def lat_feed(port: int, seconds: float, warmup: float) -> dict[str, Any]:
    samples: list[int] = []
    keep = [False]
    now = time.time_ns

    def recorded(message: Any) -> None:
        t = now()
        if keep[0]:
            samples.append(t - message["ns"])

    cls = _stream(None, recorded)
    stream = cls("LAT-USDT", url=f"http://127.0.0.1:{port}", book=False, trades=False, stats=False)
    async with stream:
        await asyncio.sleep(warmup)
        keep[0] = True
        await asyncio.sleep(seconds)
        keep[0] = False
    return _percentiles(samples)


def _usage() -> tuple[float, int]:
    import psutil

    proc = psutil.Process()
    cpu = proc.cpu_times()
    return cpu.user + cpu.system, proc.memory_info().rss


async def _measure(seconds: float, warmup: float, count: Any) -> dict[str, Any]:
    await asyncio.sleep(warmup)
    cpu0, _ = _usage()
    n0, t0 = count(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, rss = _usage()
    n1, t1 = count(), time.perf_counter()
    wall = t1 - t0
    return {
        "cpu_share": (cpu1 - cpu0) / wall,
        "rate": (n1 - n0) / wall,
        "rss_mib": rss / 2**20,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def scale_all(port: int, seconds: float, warmup: float) -> dict[str, Any]:
    from kunb.client import Market
    from kunb.model.rolling import TickerFrame
    from kunb.protocol.classic_decoder import ClassicDecoder
    from kunb.ws_client import KucoinWsClient

    frame = TickerFrame(maxlen=10_000)
    add = frame.add
    decode = ClassicDecoder().decode  # the frame takes Ticks (kunb.events) since issue 12
    clock = time.time_ns

    def callback(msg: dict[str, Any]) -> None:
        for tick in decode(msg, clock()):
            add(tick)

    market = Market(url=f"http://127.0.0.1:{port}")
    client = await KucoinWsClient.create(None, market, callback)
    try:
        await client.subscribe("/market/ticker:all")
        out = await _measure(seconds, warmup, lambda: frame.appended)
        out["symbols"] = len(set(frame.categories("symbol")))
        out["drops"] = client.counters.drops
    finally:
        await client.close()
        await market.aclose()
    return out


async def scale_l2(port: int, seconds: float, warmup: float, books: int) -> dict[str, Any]:
    from kunb.stream import Stream

    symbols = [f"B{i:04d}-USDT" for i in range(books)]
    stream = Stream(symbols, url=f"http://127.0.0.1:{port}", ticker=False, trades=False, stats=False)
    async with stream:
        started = time.perf_counter()
        await stream.wait_live(150)
        live_after = time.perf_counter() - started
        books = stream.books.values()
        out = await _measure(seconds, warmup, lambda: sum(b.stats.pushes_applied for b in books))
        client = stream.connection
        assert client is not None
        out["connections"] = len(client.connections)
        out["live_books"] = sum(1 for b in stream.books.values() if b.state.value == "live")
        out["resyncs"] = sum(b.stats.resyncs for b in stream.books.values())
        out["live_after_s"] = live_after
        out["drops"] = client.counters.drops
    return out


THROUGHPUT = {
    "ceiling": lambda a: raw(a.port, a.n, a.shape, decode=False),
    "orjson": lambda a: raw(a.port, a.n, a.shape, decode=True),
    "sdk": lambda a: sdk(a.port, a.n, a.shape),
    "ccxt": lambda a: ccxt_pro(a.port, a.n, a.shape),
    "picows": lambda a: raw_picows(a.port, a.n, a.shape, decode=False),
    "picows_orjson": lambda a: raw_picows(a.port, a.n, a.shape, decode=True),
    "link_picows": lambda a: link_only(a.port, a.n, a.shape, "picows"),
    "link_frames": lambda a: link_only(a.port, a.n, a.shape, "frames"),
    "kunb": lambda a: kunb_client(a.port, a.n, a.shape, "auto"),
    "kunb_picows": lambda a: kunb_client(a.port, a.n, a.shape, "picows"),
    "kunb_frames": lambda a: kunb_client(a.port, a.n, a.shape, "frames"),
    "kunb_ws": lambda a: kunb_client(a.port, a.n, a.shape, "websockets"),
    "feed": lambda a: feed(a.port, a.n, a.shape),
    "feed_frames": lambda a: feed(a.port, a.n, a.shape, "frames"),
    "feed_rec": lambda a: feed(a.port, a.n, a.shape, record="thread"),
    "feed_proc": lambda a: feed(a.port, a.n, a.shape, record="process"),
    "feed_proc_nice": lambda a: feed(a.port, a.n, a.shape, record="process_nice"),
    "profile_kunb": lambda a: profile(a.port, a.n, a.shape, "kunb"),
    "profile_feed": lambda a: profile(a.port, a.n, a.shape, "feed"),
}
PACED = {
    "lat_raw": lambda a: lat_raw(a.port, a.seconds, a.warmup),
    "lat_kunb": lambda a: lat_kunb(a.port, a.seconds, a.warmup),
    "lat_feed": lambda a: lat_feed(a.port, a.seconds, a.warmup),
    "scale_all": lambda a: scale_all(a.port, a.seconds, a.warmup),
    "scale_l2": lambda a: scale_l2(a.port, a.seconds, a.warmup, a.books),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("row", choices=[*THROUGHPUT, *PACED])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--shape", choices=["ticker", "level2", "uta"], default="ticker")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--books", type=int, default=500)
    args = parser.parse_args(argv)
    run = {**THROUGHPUT, **PACED}[args.row]

    async def report() -> None:
        try:
            result = await run(args)
        except Exception as exc:  # reported to the harness, which prints it in the table
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print("RESULT " + json.dumps(result), flush=True)
        sys.stdout.flush()
        os._exit(0)  # exit inside the loop: the official SDK swallows CancelledError and would hang

    asyncio.run(report())


if __name__ == "__main__":
    main()
