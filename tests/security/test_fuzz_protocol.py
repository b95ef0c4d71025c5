"""Hostile input to kunb.protocol: decode, Session.receive, add_ticker_symbol and topic parsing.

Every frame a server could send either decodes to a dict or raises ProtocolError; every decoded dict
is classified into an Event without raising; nothing else escapes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hostile import fuzz, hostile_frames, json_values, raw_frames
from hypothesis import given
from hypothesis import strategies as st

from kunb.exceptions import ProtocolError
from kunb.protocol.classic import (
    Ack,
    ConnectionErrorFrame,
    Message,
    Notice,
    Pong,
    RequestError,
    RequestKind,
    Session,
    Welcome,
    add_ticker_symbol,
    decode,
    expand_topic,
    join_units,
    topic_key,
)

EVENTS = (Welcome, Pong, Ack, RequestError, ConnectionErrorFrame, Message, Notice)


@fuzz(3000)
@given(raw_frames)
def test_decode_returns_an_object_or_raises_protocol_error(raw: bytes) -> None:
    try:
        frame = decode(raw)
    except ProtocolError as exc:
        assert "frame" in str(exc)
        return
    assert type(frame) is dict


@pytest.mark.parametrize("depth", [1_100, 100_000])  # orjson refuses more than 1024 levels
def test_deep_nesting_is_a_protocol_error_not_a_crash(depth: int) -> None:
    raw = b'{"data":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ProtocolError):
        decode(raw)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'{"topic":"\xc3\x28"}', b'{"n":1e999999}', b"NaN", b""])
def test_invalid_utf8_and_non_json_numbers_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(raw)


@fuzz(2000)
@given(st.lists(hostile_frames, max_size=4))
def test_session_classifies_any_frame_without_raising(frames: list[dict[str, Any]]) -> None:
    session = Session(private=True)
    session.reset(0.0)
    pending, _ = session.request(RequestKind.SUBSCRIBE, "/market/ticker:BTC-USDT", 0.0)
    session.ping(0.0, 0)
    for frame in frames:
        event = session.receive(frame)
        assert isinstance(event, EVENTS)
        if isinstance(event, Message):
            assert event.frame is frame and frame.get("type") == "message"
        if isinstance(event, (RequestError, ConnectionErrorFrame)):
            assert isinstance(event.code, int) and isinstance(event.data, str)
        if isinstance(event, (Ack, RequestError)):
            assert event.request is pending  # only the id we sent can resolve a request
    # acks/errors for unknown ids never resolve anything; the pending map only shrinks
    assert set(session.pending) <= {pending.id}


@fuzz(2000)
@given(hostile_frames)
def test_add_ticker_symbol_never_raises_on_a_message_frame(frame: dict[str, Any]) -> None:
    """add_ticker_symbol runs on every delivered message: it must not raise on any dict whose
    topic is a string (kunb.websocket drops frames whose topic is not - see test_fuzz_ws_client)."""
    if not isinstance(frame.get("topic", ""), str):
        frame["topic"] = "/market/ticker:BTC-USDT"
    before = {k: v for k, v in frame.items() if k != "data"}
    out = add_ticker_symbol(frame)
    assert out is frame
    assert {k: v for k, v in frame.items() if k != "data"} == before


@fuzz(2000)
@given(st.text(max_size=40) | json_values)
def test_topic_parsing_raises_value_error_only(topic: Any) -> None:
    for fn in (expand_topic, topic_key):
        try:
            result = fn(topic)
        except ValueError:
            continue
        assert isinstance(topic, str) and topic.strip().startswith("/")
        assert result
    try:
        units = expand_topic(topic)
    except ValueError:
        return
    assert all(isinstance(u, str) for u in units)
    rejoined = join_units(units)
    assert sorted(u for t in rejoined for u in expand_topic(t)) == sorted(units)
