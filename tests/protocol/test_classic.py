"""kunb.protocol.classic: the sans-I/O session, tested with plain values (no loop, no sockets)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kunb.exceptions import ProtocolError
from kunb.protocol.classic import (
    MAX_TOPICS_PER_REQUEST,
    Ack,
    ConnectionErrorFrame,
    Message,
    Notice,
    Pong,
    RequestError,
    RequestKind,
    Session,
    UplinkLimiter,
    Welcome,
    add_ticker_symbol,
    decode,
    expand_topic,
    is_private_topic,
    join_units,
    topic_key,
)

symbols = st.lists(st.from_regex(r"[A-Z]{2,5}-USDT", fullmatch=True), min_size=1, max_size=250, unique=True)


def test_decode_rejects_non_json_and_non_objects():
    """Bad frames raise ProtocolError with the cause chained, never a bare orjson error."""
    with pytest.raises(ProtocolError) as info:
        decode(b"{nope")
    assert info.value.__cause__ is not None
    with pytest.raises(ProtocolError):
        decode(b"[1, 2]")
    assert decode(b'{"type":"welcome","id":"x"}') == {"type": "welcome", "id": "x"}


def test_expand_topic_units_trimmed_and_deduplicated():
    """A multi-symbol topic becomes per-symbol units; spaces trimmed, duplicates dropped, order kept."""
    assert expand_topic("/market/ticker:BTC-USDT, ETH-USDT,BTC-USDT") == [
        "/market/ticker:BTC-USDT",
        "/market/ticker:ETH-USDT",
    ]
    assert expand_topic("/account/balance") == ["/account/balance"]
    assert expand_topic("/market/ticker:all") == ["/market/ticker:all"]


@pytest.mark.parametrize("bad", ["market/ticker:BTC-USDT", "/market/ticker:BTC-USDT,,ETH-USDT", "", 5])
def test_expand_topic_rejects_malformed(bad):
    """Malformed topics raise ValueError before anything is sent."""
    with pytest.raises(ValueError):
        expand_topic(bad)


def test_topic_key_stable_across_spellings_and_all_special():
    """Order, whitespace and duplicates do not change identity; ':all' is kept, not split again."""
    assert topic_key("/market/ticker:ETH-USDT, BTC-USDT") == topic_key("/market/ticker:BTC-USDT,ETH-USDT")
    assert topic_key("/market/ticker:BTC-USDT,BTC-USDT") == "/market/ticker:BTC-USDT"
    assert topic_key("/market/ticker:all") == "/market/ticker:all"
    assert topic_key("/account/balance") == "/account/balance"


@settings(max_examples=40)
@given(symbols)
def test_join_units_respects_request_limit_and_round_trips(syms):
    """Joined request topics carry <=100 args each and expand back to exactly the units."""
    units = [f"/market/ticker:{s}" for s in syms]
    topics = join_units(units)
    assert all(len(expand_topic(t)) <= MAX_TOPICS_PER_REQUEST for t in topics)
    assert [u for t in topics for u in expand_topic(t)] == units
    assert len(topics) == -(-len(units) // MAX_TOPICS_PER_REQUEST)


def test_join_units_keeps_non_joinable_alone():
    """':all', arg-less private topics and candles are never joined with others."""
    units = [
        "/market/ticker:all",
        "/market/ticker:BTC-USDT",
        "/account/balance",
        "/market/candles:BTC-USDT_1min",
        "/market/candles:ETH-USDT_1min",
        "/market/ticker:ETH-USDT",
    ]
    assert join_units(units) == [
        "/market/ticker:all",
        "/market/ticker:BTC-USDT,ETH-USDT",
        "/account/balance",
        "/market/candles:BTC-USDT_1min",
        "/market/candles:ETH-USDT_1min",
    ]


def test_private_topics():
    """Account and order channels are private; market channels are not."""
    assert is_private_topic("/account/balance")
    assert is_private_topic("/spotMarket/tradeOrdersV2")
    assert not is_private_topic("/market/ticker:BTC-USDT")


def test_add_ticker_symbol_from_topic_and_subject():
    """Ticker pushes gain data['symbol'] from the topic, or the subject for ticker:all; others untouched."""
    one = {"type": "message", "topic": "/market/ticker:BTC-USDT", "subject": "trade.ticker", "data": {}}
    assert add_ticker_symbol(one)["data"]["symbol"] == "BTC-USDT"
    every = {"type": "message", "topic": "/market/ticker:all", "subject": "ETH-USDT", "data": {"price": "1"}}
    assert add_ticker_symbol(every)["data"] == {"price": "1", "symbol": "ETH-USDT"}
    l2 = {"type": "message", "topic": "/market/level2:BTC-USDT", "subject": "trade.l2update", "data": {}}
    assert add_ticker_symbol(l2)["data"] == {}
    kept = {"topic": "/market/ticker:X-Y", "subject": "trade.ticker", "data": {"symbol": "ORIG"}}
    assert add_ticker_symbol(kept)["data"]["symbol"] == "ORIG"


def test_request_ids_unique_and_shared_across_reset():
    """Ids never repeat, also after reset() for a new connection."""
    s = Session()
    seen = set()
    for i in range(5):
        s.reset(float(i))
        for _ in range(20):
            _, text = s.request(RequestKind.SUBSCRIBE, "/market/ticker:BTC-USDT", 0.0)
            seen.add(json.loads(text)["id"])
            seen.add(json.loads(s.ping(0.0, 0))["id"])
    assert len(seen) == 200


def test_ids_source_is_injectable():
    """Two sessions sharing one id source never collide."""
    ids = itertools.count(1)
    a, b = Session(ids=ids), Session(ids=ids)
    assert {a.next_id(), b.next_id(), a.next_id()} == {"1", "2", "3"}


def test_subscribe_encoding_and_private_channel_flag():
    """Subscribe frames carry id/type/topic/response; privateChannel only for private topics on a
    private connection (peers.md bug 9)."""
    s = Session(private=True)
    _, text = s.request(RequestKind.SUBSCRIBE, "/account/balance", 1.0)
    msg = json.loads(text)
    assert msg["type"] == "subscribe" and msg["response"] is True and msg["privateChannel"] is True
    _, text = s.request(RequestKind.UNSUBSCRIBE, "/market/ticker:BTC-USDT", 1.0)
    msg = json.loads(text)
    assert msg["type"] == "unsubscribe" and msg["privateChannel"] is False
    _, text = Session(private=False).request(RequestKind.SUBSCRIBE, "/account/balance", 1.0)
    assert json.loads(text)["privateChannel"] is False


def test_request_refuses_more_than_100_units():
    """A request topic above KuCoin's per-request limit is refused before sending."""
    topic = "/market/ticker:" + ",".join(f"S{i}-USDT" for i in range(101))
    with pytest.raises(ValueError):
        Session().request(RequestKind.SUBSCRIBE, topic, 0.0)


def test_ack_and_error_correlated_by_id():
    """An ack or error frame resolves exactly the request with that id; others stay pending."""
    s = Session()
    p1, _ = s.request(RequestKind.SUBSCRIBE, "/market/ticker:BTC-USDT", 0.0)
    p2, _ = s.request(RequestKind.SUBSCRIBE, "/market/level2:NOPE-USDT", 0.0)
    ev = s.receive({"id": p2.id, "type": "error", "code": 404, "data": "topic is not found"})
    assert ev == RequestError(p2, 404, "topic is not found")
    assert list(s.pending) == [p1.id]
    assert s.receive({"id": p1.id, "type": "ack"}) == Ack(p1)
    assert s.pending == {}
    # a duplicate ack is informational only
    assert isinstance(s.receive({"id": p1.id, "type": "ack"}), Notice)


def test_numeric_ids_in_frames_match_string_ids():
    """A server echoing the id as a JSON number still correlates."""
    s = Session()
    p, _ = s.request(RequestKind.SUBSCRIBE, "/market/ticker:BTC-USDT", 0.0)
    assert s.receive({"id": int(p.id), "type": "ack"}) == Ack(p)


def test_connection_level_error():
    """An error frame naming no pending request is about the connection (401 token expired)."""
    s = Session()
    ev = s.receive({"type": "error", "code": 401, "data": "token is expired"})
    assert ev == ConnectionErrorFrame(None, 401, "token is expired")
    ev = s.receive({"type": "error", "code": "x", "data": {"a": 1}})
    assert isinstance(ev, ConnectionErrorFrame) and ev.code == 0 and "a" in ev.data


def test_classify_welcome_message_notice():
    """welcome, message and notice frames are classified; unknown types are informational."""
    s = Session()
    assert s.receive({"id": "c1", "type": "welcome"}) == Welcome("c1") and s.welcomed
    frame = {"type": "message", "topic": "/market/ticker:BTC-USDT", "data": {}}
    ev = s.receive(frame)
    assert isinstance(ev, Message) and ev.frame is frame
    assert isinstance(s.receive({"type": "notice"}), Notice)
    assert isinstance(s.receive({"type": "brand-new"}), Notice)


def test_pong_matches_ping_and_clears_deadline():
    """A pong with the ping's id is expected and clears the deadline; a stray pong is flagged."""
    s = Session(ping_interval=18.0, ping_timeout=10.0)
    s.reset(0.0)
    assert not s.ping_due(17.9) and s.ping_due(18.0)
    pid = json.loads(s.ping(18.0, rx_count=5))["id"]
    assert s.next_wakeup() == 28.0
    assert s.receive({"id": "zzz", "type": "pong"}) == Pong("zzz", False)
    assert s.receive({"id": pid, "type": "pong"}) == Pong(pid, True)
    assert not s.link_dead(100.0, rx_count=5)
    assert s.next_wakeup() == 36.0


def test_link_dead_only_when_nothing_arrives_after_ping():
    """The link is dead when the deadline passes and no frame at all arrived since the ping."""
    s = Session(ping_interval=5.0, ping_timeout=2.0)
    s.reset(0.0)
    s.ping(5.0, rx_count=10)
    assert not s.link_dead(6.9, rx_count=10)
    assert s.link_dead(7.0, rx_count=10)
    # any frame after the ping counts as alive, even without the pong
    s.reset(0.0)
    s.ping(5.0, rx_count=10)
    assert not s.link_dead(8.0, rx_count=11)
    assert not s.link_dead(50.0, rx_count=11)


def test_reset_forgets_pending_and_pings():
    """A new connection starts with no pending requests and no pong deadline."""
    s = Session(ping_interval=5.0, ping_timeout=2.0)
    s.request(RequestKind.SUBSCRIBE, "/market/ticker:BTC-USDT", 0.0)
    s.ping(0.0, 0)
    s.reset(100.0, ping_interval=1.0, ping_timeout=0.5)
    assert s.pending == {} and not s.link_dead(1000.0, 0)
    assert s.ping_interval == 1.0 and s.next_wakeup() == 101.0


def test_uplink_limiter_sliding_window():
    """No window of `period` seconds ever holds more than `limit` sends."""
    lim = UplinkLimiter(limit=3, period=10.0)
    for t in (0.0, 1.0, 2.0):
        assert lim.delay(t) == 0.0
        lim.record(t)
    assert lim.delay(3.0) == pytest.approx(7.0)
    assert lim.delay(10.0) == 0.0


@settings(max_examples=30)
@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=400))
def test_uplink_limiter_property(gaps):
    """Following the limiter's delays, any 10 s window holds at most 100 messages."""
    lim = UplinkLimiter()
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        wait = lim.delay(now)
        now += wait
        assert lim.delay(now) == 0.0
        lim.record(now)
        sent.append(now)
    j = 0
    for i, t in enumerate(sent):
        while sent[j] <= t - 10.0:
            j += 1
        assert i - j + 1 <= 100
