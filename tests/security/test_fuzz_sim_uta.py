"""Hostile client frames against kunb.sim's UTA sockets: whatever a client sends, the connection survives,
input that is no JSON object gets no answer and is counted, every answer is a documented shape (a pong,
or ``{"id", "result"}`` with a text reason when false), and a well-behaved subscriber keeps its data.

Hypothesis draws raw bytes and text, JSON of any shape, and subscribe and ``op:auth`` frames whose every
field may be missing, mistyped or unknown (``hostile.wire_dicts``), sent as text or binary frames.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hostile import dumps, fuzz, json_values, raw_frames, wire_dicts
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 5.0
SYM = "BTC-USDT"

_channels = st.sampled_from(
    ["obu", "OBU", "ticker", "trade", "kline", "orderAll", "balance", "nope", "", "mark-price"]
)
subscribe_frames = wire_dicts(
    {
        "id": st.text(max_size=4) | st.integers(),
        "action": st.sampled_from(["subscribe", "UNSUBSCRIBE", "Subscribe", "x", ""]),
        "channel": _channels,
        "tradeType": st.sampled_from(["SPOT", "spot", "FUTURES", "UNIFIED", ""]),
        "symbol": st.sampled_from([SYM, "NOPE-USDT", "", "BTC-USDT:5"]) | st.text(max_size=12),
        "symbols": st.lists(st.sampled_from([SYM, "ETH-USDT", ""]) | st.text(max_size=6), max_size=4),
        "depth": st.sampled_from(["1", "5", "50", "increment", "increment@10ms", "20", ""]) | st.integers(),
        "interval": st.sampled_from(["1min", "1hour", "2min", ""]),
        "accountType": st.sampled_from(["UNIFIED", "unified", "FUNDING", "x"]),
    }
)
auth_frames = wire_dicts(
    {
        "id": st.text(max_size=4),
        "op": st.sampled_from(["auth", "AUTH", "ping", "pong", "x"]),
        "kc-api-key": st.text(max_size=24),
        "kc-api-sign": st.text(max_size=44),
        "kc-api-timestamp": st.sampled_from(["", "0", "1790000000000", "-1", "１２"]) | st.integers(),
        "kc-api-passphrase": st.text(max_size=44),
    }
)
any_frame = st.one_of(
    raw_frames,
    subscribe_frames.map(dumps),
    auth_frames.map(dumps),
    json_values.map(dumps),
)


@pytest.fixture(scope="module")
def sim():
    from kunb.sim import start

    handle = start(make_default=False, seed=6, symbols=[SYM, "ETH-USDT"], tick_ms=50)
    try:
        yield handle
    finally:
        handle.stop()


@contextlib.contextmanager
def dial(url: str) -> Iterator[ClientConnection]:
    with connect(url, open_timeout=TIMEOUT, close_timeout=2, max_size=None) as ws:
        assert orjson.loads(ws.recv(TIMEOUT))["message"] == "welcome"
        yield ws


def until_pong(ws: ClientConnection, pid: str) -> list[Any]:
    """Every frame up to the pong for ``pid`` (bounded)."""
    seen: list[Any] = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        raw = ws.recv(max(deadline - time.monotonic(), 0.01))
        assert isinstance(raw, bytes)  # every UTA frame is binary
        frame = orjson.loads(raw)
        seen.append(frame)
        if isinstance(frame, dict) and frame.get("type") == "pong" and frame.get("id") == pid:
            return seen


def documented(frame: Any) -> bool:
    """A pong, a ``{"id", "result"}`` answer (a text reason when false), or a push."""
    if not isinstance(frame, dict):
        return False
    if frame.get("type") == "pong" or frame.get("op") == "pong":
        return isinstance(frame.get("id"), str)
    if "T" in frame:
        return isinstance(frame.get("d"), dict) and isinstance(frame.get("P"), int)
    if frame.get("result") is True:
        return set(frame) == {"id", "result"} and isinstance(frame["id"], str)
    if frame.get("result") is False:
        reasons = [frame[k] for k in ("message", "reason") if k in frame]
        return (
            len(reasons) == 1
            and isinstance(reasons[0], str)
            and reasons[0]
            and set(frame) <= {"id", "result", "message", "reason"}
        )
    return False


@pytest.fixture(scope="module")
def bystander(sim):
    """A well-behaved subscriber to a 5-level book (a snapshot every 100 ms) that must keep its data."""
    with dial(sim.uta_url) as ws:
        frame = {
            "id": "s",
            "action": "subscribe",
            "channel": "obu",
            "tradeType": "SPOT",
            "symbol": SYM,
            "depth": "5",
        }
        ws.send(orjson.dumps(frame))
        yield ws


_last_check = [0.0]


def still_served(ws: ClientConnection, *, every: float = 0.0) -> None:
    """The bystander still gets book snapshots and pongs (read on the way). ``every``: skip when checked
    more recently (the bystander has an uplink limit too)."""
    now = time.monotonic()
    if now - _last_check[0] < every:
        return
    _last_check[0] = now
    pid = f"b{time.monotonic_ns()}"
    ws.send(orjson.dumps({"id": pid, "type": "ping"}))
    seen = until_pong(ws, pid)
    assert any(isinstance(f, dict) and f.get("T") == "obu.SPOT" for f in seen) or len(seen) == 1


def send(ws: ClientConnection, raw: bytes, as_text: bool) -> None:
    if as_text:
        try:
            ws.send(raw.decode())
            return
        except UnicodeDecodeError:
            pass
    ws.send(raw)


@fuzz(2000)
@given(st.lists(st.tuples(any_frame, st.booleans()), min_size=1, max_size=5), st.booleans())
def test_any_client_frame_gets_a_documented_answer_or_none_and_the_connection_lives(
    sim, bystander, frames: list[tuple[bytes, bool]], private: bool
) -> None:
    url = sim.uta_private_url if private else sim.uta_url
    with dial(url) as ws:
        for raw, as_text in frames:
            send(ws, raw, as_text)
        ws.send(orjson.dumps({"id": "last", "type": "ping"}))
        seen = until_pong(ws, "last")
        assert all(documented(f) for f in seen), seen
    still_served(bystander, every=0.5)


def test_junk_is_counted_not_answered(sim, bystander) -> None:
    before = sim.exchange.stats()["uta_bad_inputs"]
    with dial(sim.uta_url) as ws:
        for junk in (b"{not json", b"\xff", b"[1]", b"null", b'{"a":1e999999}', b"x" * 70_000):
            ws.send(junk)
        ws.send(orjson.dumps({"id": "p", "type": "ping"}))
        assert [f for f in until_pong(ws, "p") if f.get("type") != "pong"] == []
    assert sim.exchange.stats()["uta_bad_inputs"] - before == 6
    still_served(bystander)


def test_a_frame_over_the_hard_limit_closes_only_that_connection(sim, bystander) -> None:
    with dial(sim.uta_url) as ws, pytest.raises(ConnectionClosed) as info:
        ws.send(b"x" * (2**20 + 1))  # websockets' max_size on the server: close 1009
        while True:
            ws.recv(TIMEOUT)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    still_served(bystander)
    with dial(sim.uta_url) as again:
        again.send(orjson.dumps({"id": "p", "type": "ping"}))
        assert until_pong(again, "p")


def test_no_private_data_without_auth_whatever_is_sent(sim) -> None:
    """A stream of hostile frames on the private socket never authenticates: private subscriptions stay
    refused (a wrong auth frame is refused, never half-accepted)."""
    with dial(sim.uta_private_url) as ws:
        key, passphrase = sim.credentials.key, sim.credentials.passphrase
        for frame in (
            {"id": "a", "op": "auth", "kc-api-key": key},
            {"id": "b", "op": "auth", "kc-api-key": key, "kc-api-sign": "", "kc-api-timestamp": 1,
             "kc-api-passphrase": passphrase},
            {"id": "c", "op": "AUTH", "kc-api-key": key},
        ):  # fmt: skip
            ws.send(orjson.dumps(frame))
        ws.send(
            orjson.dumps({"id": "s", "action": "subscribe", "channel": "orderAll", "tradeType": "UNIFIED"})
        )
        ws.send(orjson.dumps({"id": "p", "type": "ping"}))
        answers = {f["id"]: f for f in until_pong(ws, "p") if "result" in f}
        assert answers["a"]["result"] is False and answers["b"]["result"] is False
        assert answers["c"]["result"] is False and answers["s"]["result"] is False
        assert sim.credentials.secret not in str(answers)
