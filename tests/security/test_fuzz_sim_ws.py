"""Hostile client frames against kunb.sim's WebSocket feed: the server answers with KuCoin error frames
(400 malformed / too long, 415 binary or unknown type, 509 over the uplink limit), closes only the
offending connection for a frame over its hard size limit, and keeps serving everyone else.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hostile import fuzz, raw_frames
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 5.0
KNOWN_TYPES = {"welcome", "pong", "ack", "error", "message"}


@pytest.fixture(scope="module")
def sim():
    from kunb.sim import start

    handle = start(make_default=False, seed=6, symbols=["BTC-USDT"], tick_ms=50)
    try:
        yield handle
    finally:
        handle.stop()


_bullets: dict[str, dict[str, Any]] = {}


@contextlib.contextmanager
def dial(url: str) -> Iterator[ClientConnection]:
    if url not in _bullets:  # one token serves every dial (KuCoin's tokens are reusable for 24 h)
        _bullets[url] = httpx.post(f"{url}/api/v1/bullet-public", timeout=TIMEOUT).json()["data"]
    data = _bullets[url]
    endpoint = data["instanceServers"][0]["endpoint"]
    target = f"{endpoint}?token={data['token']}&connectId=fuzz"
    with connect(target, open_timeout=TIMEOUT, close_timeout=2, max_size=None) as ws:
        assert orjson.loads(ws.recv(TIMEOUT))["type"] == "welcome"
        yield ws


def text(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def until_pong(ws: ClientConnection, pid: str) -> list[dict[str, Any]]:
    """Every frame up to the pong for ``pid`` (bounded)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        frame = orjson.loads(ws.recv(max(deadline - time.monotonic(), 0.01)))
        seen.append(frame)
        if frame.get("type") == "pong" and frame.get("id") == pid:
            return seen


@pytest.fixture(scope="module")
def bystander(sim):
    """A well-behaved subscriber that must keep receiving pushes whatever others send."""
    with dial(sim.url) as ws:
        ws.send(text({"id": "s", "type": "subscribe", "topic": "/market/ticker:BTC-USDT", "response": True}))
        yield ws


_last_check = [0.0]


def still_served(ws: ClientConnection, *, every: float = 0.0) -> None:
    """The bystander still gets pongs (its push backlog is read on the way). ``every``: skip the
    check when the last one was more recent (the bystander has an uplink limit too)."""
    now = time.monotonic()
    if now - _last_check[0] < every:
        return
    _last_check[0] = now
    pid = f"b{time.monotonic_ns()}"
    ws.send(text({"id": pid, "type": "ping"}))
    assert until_pong(ws, pid)


@fuzz(2000)
@given(st.lists(raw_frames, min_size=1, max_size=5))
def test_any_client_frame_gets_an_answer_and_the_connection_lives(sim, bystander, frames: list[bytes]):
    with dial(sim.url) as ws:
        for raw in frames:
            try:
                ws.send(raw.decode())
            except UnicodeDecodeError:
                ws.send(raw)  # binary frame
        ws.send(text({"id": "last", "type": "ping"}))
        seen = until_pong(ws, "last")
        assert all(isinstance(f, dict) and f.get("type") in KNOWN_TYPES for f in seen)
        errors = [f for f in seen if f["type"] == "error"]
        assert all(isinstance(f.get("code"), int) and isinstance(f.get("data"), str) for f in errors)
    still_served(bystander, every=0.5)


def test_binary_malformed_and_long_frames_get_kucoin_error_codes(sim, bystander) -> None:
    with dial(sim.url) as ws:
        ws.send(b'{"id":"1","type":"ping"}')  # binary
        ws.send("{not json")
        ws.send('{"id":"2","type":"surprise"}')
        ws.send('{"id":"3","type":"ping","pad":"' + "x" * 70_000 + '"}')  # over the 64 KiB request limit
        ws.send("[1,2]")
        ws.send(text({"id": "4", "type": "ping"}))
        codes = [f.get("code") for f in until_pong(ws, "4") if f["type"] == "error"]
        assert codes == [415, 400, 415, 400, 400]
    still_served(bystander)


def test_a_frame_over_the_hard_limit_closes_only_that_connection(sim, bystander) -> None:
    with dial(sim.url) as ws, pytest.raises(ConnectionClosed) as info:
        ws.send("x" * (2**20 + 1))  # websockets' max_size on the server: close 1009
        while True:
            ws.recv(TIMEOUT)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    still_served(bystander)
    with dial(sim.url) as again:  # the server still accepts connections
        again.send(text({"id": "p", "type": "ping"}))
        assert until_pong(again, "p")


def test_uplink_flood_is_answered_509_past_100_messages_in_10_s(sim, bystander) -> None:
    """kucoin-protocol.md 1.8: 100 client messages per 10 s per connection; more get 509 and the
    connection stays open."""
    with dial(sim.url) as ws:
        for i in range(150):
            ws.send(text({"id": f"f{i}", "type": "ping"}))
        answers = []
        deadline = time.monotonic() + TIMEOUT
        while len(answers) < 150:
            answers.append(orjson.loads(ws.recv(max(deadline - time.monotonic(), 0.01))))
        pongs = [a for a in answers if a["type"] == "pong"]
        limited = [a for a in answers if a["type"] == "error" and a["code"] == 509]
        assert len(pongs) == 100 and len(limited) == 50
    still_served(bystander)
