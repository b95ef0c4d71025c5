"""Hostile server frames against a live KucoinWsClient over a real socket (a scripted feed on 127.0.0.1).

The contract (kunb.websocket): the callback only ever sees ``message`` frames that are JSON objects
with a string ``topic``; every other frame is classified (ack/pong/notice...) or counted in
``counters.bad_frames`` and logged, not once per frame; the connection survives (or reconnects, for
an oversized frame) and nothing hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

import orjson
import pytest
from hostile import BackgroundLoop, ScriptedFeed, dumps, fuzz, raw_frames
from hypothesis import given
from hypothesis import strategies as st

from kunb.net.connection import ConnectionState, ConnectWebsocket
from kunb.protocol.classic import add_ticker_symbol
from kunb.ws_client import KucoinWsClient

TIMEOUT = 10.0
TOPIC = "/market/ticker:BTC-USDT"
FAST = {"backoff_base": 0.02, "backoff_cap": 0.2, "stable_after": 0.2, "request_timeout": 5.0}


class Sink:
    """The user callback: records every frame and signals when sentinel ``n`` arrived."""

    def __init__(self) -> None:
        self.frames: list[Any] = []
        self.seen = 0
        self.cond = threading.Condition()

    def __call__(self, frame: Any) -> None:
        self.frames.append(frame)
        data = frame.get("data") if isinstance(frame, dict) else None
        if isinstance(data, dict) and isinstance(data.get("sentinel"), int):
            with self.cond:
                self.seen = max(self.seen, data["sentinel"])
                self.cond.notify_all()

    def wait(self, n: int, timeout: float = TIMEOUT, *, quiet: bool = False) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.seen >= n, timeout) and not quiet:
                raise AssertionError(f"sentinel {n} not delivered within {timeout} s")


def sentinel(n: int) -> bytes:
    frame = {"type": "message", "topic": TOPIC, "subject": "trade.ticker", "data": {"sentinel": n}}
    return orjson.dumps(frame)


def is_clean(frame: Any) -> bool:
    """What a callback may receive: a JSON object of type message with a string topic."""
    return type(frame) is dict and frame.get("type") == "message" and isinstance(frame.get("topic"), str)


def ends_link(raw: bytes) -> bool:
    """A connection-level error frame (no id, or code 401: kucoin-protocol.md 1.7): the client drops the
    link at once, so frames pushed behind it on that link are never read (nor counted)."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if type(frame) is not dict or frame.get("type") != "error":
        return False
    try:
        code = int(frame.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        code = 0
    return frame.get("id") is None or code == 401


def not_an_object(raw: bytes) -> bool:
    try:
        return type(orjson.loads(raw)) is not dict
    except orjson.JSONDecodeError:
        return True


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def live():
    """One scripted feed and one subscribed client per test, shared by its hypothesis examples."""
    bg = BackgroundLoop()
    feed = ScriptedFeed()
    sink = Sink()
    handler = Records()
    kunb_log = logging.getLogger("kunb")
    kunb_log.addHandler(handler)
    old_level = kunb_log.level
    kunb_log.setLevel(logging.DEBUG)

    async def start() -> KucoinWsClient:
        await feed.__aenter__()
        client = await KucoinWsClient.create(None, feed.token_client, sink, **FAST)
        await client.subscribe(TOPIC)
        return client

    client = bg.run(start())
    state = {"n": 0}
    try:
        yield bg, feed, sink, client, handler, state
    finally:
        bg.run(client.close())
        bg.run(feed.__aexit__(None, None, None))
        bg.close()
        kunb_log.removeHandler(handler)
        kunb_log.setLevel(old_level)


def _round(live, frames: list[bytes]) -> None:
    bg, feed, sink, client, _, state = live
    state["n"] += 1
    n = state["n"]
    start = len(sink.frames)
    bad_before = bg.call(lambda: client.counters.bad_frames)
    bg.run(client.wait_live(TIMEOUT))
    dials = feed.dials
    assert bg.run(feed.push([*frames, sentinel(n)])) == 1
    deadline = time.monotonic() + TIMEOUT
    repushed = False
    while not sink.seen >= n:
        assert time.monotonic() < deadline, f"sentinel {n} not delivered within {TIMEOUT} s"
        if not repushed and feed.dials > dials and bg.call(lambda: client.state) is ConnectionState.LIVE:
            # A connection-level error frame (no id: kucoin-protocol.md 1.7) made the client redial;
            # the sentinel went down with the old link. It must deliver on the new one.
            repushed = True
            bg.run(feed.push([sentinel(n)]))
        sink.wait(n, 0.02, quiet=True)
    delivered = sink.frames[start:]
    assert [f for f in delivered if not is_clean(f)] == [], "the callback saw garbage"
    assert bg.call(lambda: client.state) is not ConnectionState.CLOSED
    if not any(map(ends_link, frames)):  # frames behind a link-ending error are never read
        bad = bg.call(lambda: client.counters.bad_frames) - bad_before
        assert bad >= sum(map(not_an_object, frames))


def is_message(raw: bytes) -> bool:
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return type(frame) is dict and frame.get("type") == "message"


@fuzz(2000)
@given(st.lists(raw_frames, min_size=1, max_size=5))
def test_garbage_frames_never_reach_the_callback_and_the_link_survives(live, frames: list[bytes]) -> None:
    _round(live, frames)


@fuzz(1000)
@given(st.lists(raw_frames.filter(lambda raw: not is_message(raw)), min_size=1, max_size=5))
def test_garbage_that_is_not_a_message_never_reaches_the_callback(live, frames: list[bytes]) -> None:
    """Frames that are not messages (a denser search than the test above): non-JSON, invalid UTF-8,
    binary, deep nesting, huge numbers, JSON that is not an object, acks/pongs/errors/unknown types."""
    _round(live, frames)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "topic": ["x"], "data": {}},  # unhashable topic: killed the read task
        {"type": "message", "topic": 5, "subject": "trade.ticker", "data": {}},  # killed the dispatcher
        {"type": "message", "data": {}},  # no topic: the callback saw it
    ],
    ids=["list-topic", "int-topic", "no-topic"],
)
def test_message_frames_with_a_bad_topic_are_dropped_not_fatal(live, frame: dict[str, Any]) -> None:
    _round(live, [dumps(frame)])


def test_bad_frames_are_logged_but_not_once_per_frame(live) -> None:
    *_, handler, _ = live
    before = len(handler.records)
    _round(live, [b"not json"] * 50)
    new = [r for r in handler.records[before:] if r.levelno >= logging.INFO]
    mentions = [r for r in new if "frame" in r.getMessage()]
    assert 1 <= len(mentions) <= 2, [r.getMessage() for r in new]


async def test_oversized_frame_reconnects_and_streaming_resumes() -> None:
    """A frame over the client's 16 MiB limit closes that link (1009); the client redials,
    resubscribes and the next message arrives."""
    sink = Sink()
    async with ScriptedFeed() as feed:
        client = await KucoinWsClient.create(None, feed.token_client, sink, **FAST)
        async with client:
            await client.subscribe(TOPIC)
            big = b'{"type":"message","topic":"' + TOPIC.encode() + b'","data":"' + b"a" * (2**24) + b'"}'
            await feed.push([big])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + TIMEOUT
            while feed.dials < 2 or client.state is not ConnectionState.LIVE:
                assert loop.time() < deadline, "no reconnect after an oversized frame"
                await asyncio.sleep(0.01)
            await feed.push([sentinel(1)])
            while sink.seen < 1:
                assert loop.time() < deadline, "nothing delivered after the reconnect"
                await asyncio.sleep(0.01)
            assert client.counters.reconnects >= 1
            assert all(is_clean(f) and f["data"] != "a" for f in sink.frames)


async def test_flood_with_a_slow_callback_drops_and_counts_never_hangs() -> None:
    """20,000 pushes at a callback that blocks 1 ms each, queue of 100: drops are counted, the
    keepalive and the close still work."""
    got: list[dict] = []

    def slow(frame: dict) -> None:
        got.append(frame)
        time.sleep(0.001)

    async with ScriptedFeed() as feed:
        client = await KucoinWsClient.create(None, feed.token_client, slow, queue_size=100, **FAST)
        async with client:
            await client.subscribe(TOPIC)
            frame = orjson.dumps({"type": "message", "topic": TOPIC, "data": {"p": "1"}})
            await feed.push([frame] * 20_000)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + TIMEOUT
            while client.counters.messages < 20_000:
                assert loop.time() < deadline, f"read {client.counters.messages} of 20000"
                await asyncio.sleep(0.01)
            drops = client.counters.drops
            assert drops > 0
            while len(got) + drops < 20_000:
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            assert len(got) + drops == 20_000
            assert client.state is ConnectionState.LIVE


class _NeverDials:
    async def aget_ws_token(self, private: bool = False) -> dict[str, Any]:
        await asyncio.Event().wait()  # the read path is fed directly below: no socket
        raise AssertionError


def _expected(raws: list[bytes]) -> list[Any]:
    """What the read path must deliver: each frame that is a JSON object of type message with a string
    topic, in order, with add_ticker_symbol applied (the reference the path inlines)."""
    out = []
    for raw in raws:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if is_clean(frame):
            out.append(add_ticker_symbol(frame))
        elif isinstance(frame, dict) and frame.get("type") == "error":
            break  # a connection-level error frame may end the link: nothing after it is compared
    return out


_messages = st.fixed_dictionaries(
    {
        "type": st.just("message"),
        "topic": st.sampled_from(
            ["/market/ticker:BTC-USDT", "/market/ticker:all", "/market/level2:BTC-USDT", "/market/tickerX"]
        ),
        "subject": st.sampled_from(["trade.ticker", "ETH-USDT", "", "trade.l2update"]),
        "data": st.dictionaries(st.sampled_from(["symbol", "price", "x"]), st.text(max_size=3), max_size=3)
        | st.lists(st.integers(), max_size=2),
    }
).map(dumps)


@fuzz(1000)
@given(st.lists(raw_frames | _messages, max_size=12))
def test_the_read_path_delivers_what_add_ticker_symbol_makes_of_each_message(raws: list[bytes]) -> None:
    """One read's frames through the connection's hot path (sync callback, called from the read):
    exactly the message frames, in order, each as add_ticker_symbol makes it (SDK users' symbol)."""

    async def run() -> list[Any]:
        got: list[Any] = []
        conn = ConnectWebsocket(None, _NeverDials(), got.append)
        with contextlib.suppress(Exception):  # a connection-level error frame: the link would end
            conn._on_frame(list(raws))
        await conn.close()
        return got

    expected = _expected(raws)
    got = asyncio.run(run())
    assert got[: len(expected)] == expected
    assert len(got) == len(expected) or any(b'"error"' in raw for raw in raws)
