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
from kunb.protocol.classic_decoder import ClassicDecoder

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


# -- the decoder's fast paths give what the field-by-field reading gives -------------------------------

_EDGE_INTS = st.sampled_from([0, 1, -1, -3, 2**63 - 1, 2**63, 9_223_372_036_854, 9_223_372_036_855, 10**30])
_INTS = st.integers(min_value=0, max_value=2**40) | _EDGE_INTS
_NUMBER_TEXT = st.sampled_from(["43000.5", "0", "1e5", " 7", "-1", "nan", "inf", "", "x", "5.0", "9" * 30])
_NUMBERS = _INTS.map(str) | _NUMBER_TEXT | st.floats(allow_nan=True, allow_infinity=True) | _INTS
_ROW = st.tuples(_NUMBERS, _NUMBERS, _INTS.map(str) | _NUMBERS).map(list)
_ROWS = st.lists(_ROW, max_size=3)
_ABSENT = object()

_SHAPES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "ticker": {
        "time": _INTS, "sequence": _INTS.map(str) | _INTS, "price": _NUMBERS, "size": _NUMBERS,
        "bestBid": _NUMBERS, "bestBidSize": _NUMBERS, "bestAsk": _NUMBERS, "bestAskSize": _NUMBERS,
    },
    "level2": {
        "symbol": st.sampled_from(["BTC-USDT", ""]), "time": _INTS, "sequenceStart": _INTS,
        "sequenceEnd": _INTS,
        "changes": st.fixed_dictionaries({"bids": _ROWS, "asks": _ROWS}),
    },
    "match": {
        "symbol": st.sampled_from(["BTC-USDT", ""]), "time": _INTS.map(str) | _INTS,
        "sequence": _INTS.map(str),
        "tradeId": st.text(max_size=3), "side": st.sampled_from(["buy", "sell"]), "price": _NUMBERS,
        "size": _NUMBERS,
    },
}  # fmt: skip


def _outcome(read: Any, arg: str, frame: dict[str, Any]) -> Any:
    try:
        return read(arg, frame, 7)
    except Exception as exc:  # the exception's kind is the outcome (its text may name another field)
        return type(exc)


@fuzz(3000)
@given(st.sampled_from(sorted(_SHAPES)), st.sampled_from(["BTC-USDT", "all"]), st.data())
def test_fast_paths_read_what_the_field_by_field_reading_reads(channel: str, arg: str, draw: Any) -> None:
    """A push in KuCoin's shape, with edge values and now and then a field absent or of any JSON kind:
    the fast path gives exactly the event of the careful reading, or hands the push to it (the same
    kind of error)."""
    shape = _SHAPES[channel]
    data = draw.draw(st.fixed_dictionaries(shape))
    for name in draw.draw(st.lists(st.sampled_from(sorted(shape)), max_size=2, unique=True)):
        value = draw.draw(st.just(_ABSENT) | json_values)
        if value is _ABSENT:
            del data[name]
        else:
            data[name] = value
    frame = {"type": "message", "topic": f"/market/{channel}:{arg}", "subject": "ETH-USDT", "data": data}
    got = _outcome(getattr(ClassicDecoder(), f"_{channel}"), arg, frame)
    want = _outcome(getattr(ClassicDecoder(), f"_{channel}_checked"), arg, frame)
    assert repr(got) == repr(want)  # repr: a NaN field reads the same on both sides
