"""Hostile UTA server frames against a live client speaking UTA (the scripted UTA server on 127.0.0.1).

The contract is classic's (test_fuzz_ws_client.py) in UTA's shapes: the callback only ever sees JSON
objects with a string ``T`` and an object or array ``d``; every other frame, binary or text, is classified
(welcome, pong, result...) or counted in ``counters.bad_frames``; the connection stays up and nothing hangs.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hostile import BackgroundLoop, dumps, fuzz, json_values, raw_frames
from hypothesis import given
from hypothesis import strategies as st
from utafeed import UtaFeed

from kunb.net.connection import ConnectionState
from kunb.net.dialect import UtaDialect
from kunb.net.pool import KucoinWsClient

TIMEOUT = 10.0
FAST = {"backoff_base": 0.02, "backoff_cap": 0.2, "stable_after": 0.2, "request_timeout": 5.0}

_T = st.sampled_from(["ticker.SPOT", "obu.spot", "OBU.SPOT", "trade.FUTURES", "orderAll.UNIFIED", "x", ""])
uta_frames = st.one_of(
    st.fixed_dictionaries(
        {"T": _T | json_values, "d": json_values}, optional={"P": json_values, "dp": json_values}
    ),
    st.fixed_dictionaries({"id": json_values, "result": json_values}, optional={"message": json_values}),
    st.fixed_dictionaries({"message": st.sampled_from(["welcome", "WELCOME"]), "pingInterval": json_values}),
    st.fixed_dictionaries({"type": st.sampled_from(["pong", "ping", "welcome", "error"]), "id": json_values}),
    st.fixed_dictionaries({"op": st.sampled_from(["pong", "auth", "ping"]), "id": json_values}),
).map(dumps)


def is_clean(frame: Any) -> bool:
    """What a UTA callback may receive: a JSON object with a string T and an object or array d."""
    return type(frame) is dict and type(frame.get("T")) is str and type(frame.get("d")) in (dict, list)


def not_an_object(raw: bytes) -> bool:
    try:
        return type(orjson.loads(raw)) is not dict
    except orjson.JSONDecodeError:
        return True


class Sink:
    def __init__(self) -> None:
        self.frames: list[Any] = []
        self.seen = 0

    def __call__(self, frame: Any) -> None:
        self.frames.append(frame)
        data = frame.get("d") if isinstance(frame, dict) else None
        if isinstance(data, dict) and isinstance(data.get("sentinel"), int):
            self.seen = max(self.seen, data["sentinel"])


def sentinel(n: int) -> bytes:
    return orjson.dumps({"T": "ticker.SPOT", "P": 1, "d": {"s": "BTC-USDT", "sentinel": n}})


@pytest.fixture
def live():
    """One scripted UTA server and one subscribed UTA client per test, shared by its examples."""
    bg = BackgroundLoop()
    feed = UtaFeed()
    sink = Sink()

    async def start() -> KucoinWsClient:
        await feed.__aenter__()
        client = await KucoinWsClient.create(None, None, sink, dialect=UtaDialect(url=feed.url), **FAST)
        await client.subscribe("ticker.SPOT:BTC-USDT")
        return client

    client = bg.run(start())
    state = {"n": 0}
    try:
        yield bg, feed, sink, client, state
    finally:
        bg.run(client.close())
        bg.run(feed.__aexit__(None, None, None))
        bg.close()


def _round(live, frames: list[bytes], *, text: bool = False) -> None:
    bg, feed, sink, client, state = live
    state["n"] += 1
    n = state["n"]
    start = len(sink.frames)
    bad_before = bg.call(lambda: client.counters.bad_frames)
    bg.run(client.wait_live(TIMEOUT))

    async def push() -> None:
        for raw in [*frames, sentinel(n)]:
            await feed.send_raw(raw.decode("utf-8", "replace") if text else raw)

    bg.run(push())
    deadline = time.monotonic() + TIMEOUT
    while bg.call(lambda: sink.seen) < n:
        assert time.monotonic() < deadline, f"sentinel {n} not delivered within {TIMEOUT} s"
        time.sleep(0.005)  # polling the loop thread's progress, bounded by the deadline
    delivered = bg.call(lambda: sink.frames[start:])
    assert [f for f in delivered if not is_clean(f)] == [], "the callback saw garbage"
    assert bg.call(lambda: client.state) is ConnectionState.LIVE
    assert len(feed.conns) == 1  # nothing a server says in a frame drops a UTA link
    bad = bg.call(lambda: client.counters.bad_frames) - bad_before
    assert bad >= sum(map(not_an_object, frames))


@fuzz(1000)
@given(st.lists(uta_frames | raw_frames, min_size=1, max_size=5))
def test_garbage_binary_frames_never_reach_the_callback_and_the_link_survives(
    live, frames: list[bytes]
) -> None:
    _round(live, frames)


@fuzz(300)
@given(st.lists(uta_frames, min_size=1, max_size=5))
def test_garbage_text_frames_are_read_like_binary_ones(live, frames: list[bytes]) -> None:
    _round(live, frames, text=True)


@pytest.mark.parametrize(
    "frame",
    [
        {"T": ["x"], "d": {}},  # unhashable T
        {"T": 5, "d": {}},
        {"T": "ticker.SPOT", "d": "not an object"},
        {"T": "ticker.SPOT"},  # no d
        {"T": "obu.SPOT", "dp": ["x"], "d": {"s": ["BTC"]}},  # a key made of odd parts: still a string
    ],
    ids=["list-T", "int-T", "str-d", "no-d", "odd-key"],
)
def test_pushes_with_an_unroutable_shape(live, frame: dict[str, Any]) -> None:
    _round(live, [dumps(frame)])


_PUSHES = st.fixed_dictionaries(
    {"T": _T | st.sampled_from(["kline.SPOT", "balance.UNIFIED", "mark-price"]) | json_values},
    optional={
        "dp": st.sampled_from(["increment@10ms", "5"]) | json_values,
        "d": st.fixed_dictionaries(
            {}, optional={"s": st.sampled_from(["BTC-USDT", "ETH-USDT"]) | json_values, "i": json_values}
        )
        | json_values,
    },
)


@fuzz(3000)
@given(st.lists(_PUSHES, min_size=1, max_size=6))
def test_the_dialect_s_remembered_push_keys_are_push_key_s(frames: list[dict[str, Any]]) -> None:
    """The connection keys each push's age on UtaDialect.key_of, which remembers push_key per
    (T, d.s, dp, d.i): for any frames, in any order, it answers what push_key answers."""
    from kunb.protocol.uta import push_key

    dialect = UtaDialect()
    for frame in frames + frames:  # the second time from the memo
        assert dialect.key_of(frame) == push_key(frame)
