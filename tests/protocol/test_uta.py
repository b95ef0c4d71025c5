"""kunb.protocol.uta: the sans-I/O UTA session, tested with plain values (no loop, no sockets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import itertools

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from uta_frames import golden

from kunb.exceptions import ConfigurationError, InsecureTransportError, ProtocolError
from kunb.protocol.classic import Session
from kunb.protocol.uta import (
    MAX_TOPICS_PRIVATE,
    MAX_TOPICS_PUBLIC,
    MIN_PING_INTERVAL,
    PRIVATE_URL,
    PUBLIC_FUTURES_URL,
    PUBLIC_SPOT_URL,
    SILENCE_AFTER,
    UPLINK_LIMIT_PRIVATE,
    UPLINK_LIMIT_PUBLIC,
    UPLINK_PERIOD,
    Ack,
    AuthResult,
    Message,
    Notice,
    Pong,
    RequestError,
    RequestKind,
    UtaSession,
    UtaTopic,
    Welcome,
    auth_message,
    dial_target,
    orderbook_depth,
    orderbook_path,
    parse_action,
    parse_bullet_private,
    parse_topic,
    push_key,
    topic,
)
from kunb.signing import Credentials

CREDS = Credentials(key="the-key", secret="the-secret", passphrase="the-pass")
OBU = "obu.SPOT:BTC-USDT:increment@10ms"


def session(*, private: bool = False, **kw) -> UtaSession:
    s = UtaSession(private=private, ids=itertools.count(1), **kw)
    s.reset(0.0)
    return s


def subscribed(s: UtaSession, key: str, now: float) -> Ack:
    pending, _ = s.request(RequestKind.SUBSCRIBE, key, now)
    event = s.receive({"id": pending.id, "result": True}, now)
    assert isinstance(event, Ack)
    return event


def random_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))


# -- topics -----------------------------------------------------------------------------------------------
def test_topic_keys_name_channel_qualifier_symbol_and_param():
    """Every supported channel has a key; defaults are SPOT for public and UNIFIED for private."""
    assert topic("obu", "BTC-USDT", depth="increment@10ms") == OBU
    assert topic("obu", "BTC-USDT", depth=50) == "obu.SPOT:BTC-USDT:50"
    assert topic("kline", "ETH-USDT", interval="1min") == "kline.SPOT:ETH-USDT:1min"
    assert topic("ticker", "BTC-USDT") == "ticker.SPOT:BTC-USDT"
    assert topic("trade", "XBTUSDTM", trade_type="FUTURES") == "trade.FUTURES:XBTUSDTM"
    assert topic("orderall") == "orderAll.UNIFIED"
    assert topic("order", "BTC-USDT") == "order.UNIFIED:BTC-USDT"
    assert topic("execution") == "execution.UNIFIED"
    assert topic("execution.lite", trade_type="SPOT") == "execution.lite.SPOT"
    assert topic("balance") == "balance.UNIFIED"
    assert topic("balance", account_type="FUNDING") == "balance.FUNDING"


def test_parse_topic_canonicalizes_spelling():
    """Channel case is KuCoin's, qualifiers upper-case, spaces trimmed: one identity per subscription."""
    assert parse_topic(" OBU.spot: BTC-USDT :50 ") == UtaTopic("obu", "SPOT", "BTC-USDT", "50")
    assert parse_topic("ORDERALL.unified").key == "orderAll.UNIFIED"
    assert parse_topic("Execution.Lite.unified") == UtaTopic("execution.lite", "UNIFIED")
    assert parse_topic("balance.funding").private


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("nope.SPOT:BTC-USDT", "unknown UTA topic"),
        ("obu:BTC-USDT:50", "unknown UTA topic"),  # no qualifier
        ("obu.SPOT:BTC-USDT,ETH-USDT:50", "one symbol"),  # kucoin-uta.md 2: symbols not supported for obu
        ("obu.SPOT:BTC-USDT:20", "depth"),  # depth 20 -> "invalid request data" (live)
        ("obu.SPOT:BTC-USDT", "depth"),
        ("kline.SPOT:BTC-USDT:2min", "interval"),
        ("kline.FUTURES:XBTUSDTM:6hour", "spot only"),
        ("ticker.SPOT", "needs a symbol"),
        ("ticker.UNIFIED:BTC-USDT", "SPOT or FUTURES"),
        ("orderAll.SPOT", "UNIFIED"),
        ("orderAll.UNIFIED:BTC-USDT", "unexpected"),
        ("balance.MARGIN", "UNIFIED or FUNDING or ISOLATED"),
        ("ticker.SPOT:BTC USDT", "one symbol"),
    ],
)
def test_parse_topic_refuses_what_kucoin_would_refuse(key, words):
    """Bad topics fail before anything is sent, with a message naming the problem."""
    with pytest.raises(ValueError, match=words):
        parse_topic(key)


def test_parse_topic_refuses_non_strings():
    with pytest.raises(ValueError):
        parse_topic(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("frame", "key"),
    [
        ("ticker_spot", "ticker.SPOT:BTC-USDT"),
        ("trade_spot", "trade.SPOT:BTC-USDT"),
        ("kline_spot", "kline.SPOT:ETH-USDT:1min"),
        ("obu_snapshot_50", "obu.SPOT:ETH-USDT:50"),
        ("obu_delta_10ms", OBU),
        ("obu_delta_increment", "obu.SPOT:BTC-USDT:increment"),
        ("order_fill", "orderAll.UNIFIED"),
        ("execution", "execution.UNIFIED"),
        ("execution_lite", "execution.lite.UNIFIED"),
        ("balance_unified", "balance.UNIFIED"),
        ("mark_price", "mark-price"),  # not modelled: its T is its identity
        ("welcome", None),
        ("ack", None),
    ],
)
def test_push_key_matches_the_subscription_key(frame, key):
    """The key derived from a golden push is the key its subscription has (so silence and sharding work)."""
    assert push_key(golden(frame)) == key
    if key is not None and key != "mark-price":
        assert parse_topic(key).key == key


def test_push_key_of_a_single_symbol_order_push():
    """``order`` (one symbol) pushes ``order.UNIFIED`` with ``d.s``: the key carries the symbol."""
    frame = golden("order_fill")
    frame["T"] = "order.UNIFIED"
    assert push_key(frame) == topic("order", "BTC-USDT")


@given(st.data())
def test_push_key_routes_t_case_insensitively(data):
    """KuCoin writes ``obu.spot`` as well as ``obu.SPOT`` (kucoin-uta.md 3.1): same key either way."""
    frame = golden("obu_delta_10ms")
    frame["T"] = random_case(data.draw, "obu.SPOT")
    assert push_key(frame) == OBU


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("subscribe", RequestKind.SUBSCRIBE),
        ("SUBSCRIBE", RequestKind.SUBSCRIBE),
        (" Subscribe ", RequestKind.SUBSCRIBE),
        ("unsubscribe", RequestKind.UNSUBSCRIBE),
        ("UnSubscribe", RequestKind.UNSUBSCRIBE),
    ],
)
def test_parse_action_is_case_insensitive(action, kind):
    """ccxt sends lowercase, the docs uppercase (kucoin-uta.md 2 [!]): both mean the same."""
    assert parse_action(action) is kind


def test_parse_action_refuses_others():
    with pytest.raises(ValueError, match="subscribe or unsubscribe"):
        parse_action("watch")


# -- requests ---------------------------------------------------------------------------------------------
def test_subscribe_frame_is_the_documented_one():
    """kunb's obu subscribe equals the documented frame (kucoin-uta.md 2), id aside."""
    s = session()
    pending, text = s.request(RequestKind.SUBSCRIBE, OBU, 1.0)
    expected = golden("subscribe_obu")
    expected["id"] = pending.id
    assert orjson.loads(text) == expected
    assert list(orjson.loads(text)) == list(expected)  # same key order too
    assert pending.units == (OBU,) and pending.sent_at == 1.0 and s.pending[pending.id] is pending


def test_request_frames_of_each_channel():
    """kline carries interval, balance accountType without tradeType, unsubscribe the lowercase action."""
    s, p = session(), session(private=True)
    _, text = s.request(RequestKind.UNSUBSCRIBE, "kline.SPOT:ETH-USDT:1min", 0.0)
    assert orjson.loads(text) == {
        "id": orjson.loads(text)["id"],
        "action": "unsubscribe",
        "channel": "kline",
        "tradeType": "SPOT",
        "symbol": "ETH-USDT",
        "interval": "1min",
    }
    _, text = p.request(RequestKind.SUBSCRIBE, "balance.UNIFIED", 0.0)
    body = orjson.loads(text)
    del body["id"]
    assert body == {"action": "subscribe", "channel": "balance", "accountType": "UNIFIED"}
    _, text = p.request(RequestKind.SUBSCRIBE, "orderAll.UNIFIED", 0.0)
    body = orjson.loads(text)
    del body["id"]
    assert body == {"action": "subscribe", "channel": "orderAll", "tradeType": "UNIFIED"}


def test_requests_stay_on_their_socket():
    """A private topic on the public socket (or back) is refused before sending."""
    with pytest.raises(ValueError, match="not a public topic"):
        session().request(RequestKind.SUBSCRIBE, "orderAll.UNIFIED", 0.0)
    with pytest.raises(ValueError, match="not a private topic"):
        session(private=True).request(RequestKind.SUBSCRIBE, OBU, 0.0)


def test_ids_never_repeat_across_reconnects():
    s = session()
    first, _ = s.request(RequestKind.SUBSCRIBE, OBU, 0.0)
    s.reset(1.0)
    assert s.pending == {}
    second, _ = s.request(RequestKind.SUBSCRIBE, OBU, 1.0)
    assert first.id != second.id


def test_units_and_batches_one_topic_per_frame():
    """UTA takes one symbol per frame: a unit is a topic, a batch is a unit, duplicates dropped."""
    assert UtaSession.units("OBU.spot:BTC-USDT:50") == ["obu.SPOT:BTC-USDT:50"]
    assert UtaSession.batches(["a", "b", "a"]) == ["a", "b"]
    assert UtaSession.data_key(golden("ticker_spot")) == "ticker.SPOT:BTC-USDT"


# -- answers ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("result", [True, "true", "TRUE", " True "])
def test_ack_as_bool_or_string(result):
    """``result`` true or "true" (the docs' spelling, kucoin-uta.md 2.2 [!]) accepts the request."""
    s = session()
    pending, _ = s.request(RequestKind.SUBSCRIBE, OBU, 0.0)
    event = s.receive({"id": pending.id, "result": result})
    assert event == Ack(pending) and s.pending == {}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("refused_message", "invalid request data"),
        ("refused_environment", 'topic Obu type = "public_spot" not allowed in current environment'),
        ("refused_symbols", "symbols are not supported for topic obu"),
        ("refused_position", "missing `symbol` for topic: Position"),
    ],
)
def test_refusals_carry_the_reason(name, reason):
    """Golden refusals (``message`` or ``reason``) become RequestError with KuCoin's text."""
    s = session()
    frame = golden(name)
    pending, _ = s.request(RequestKind.SUBSCRIBE, OBU, 0.0)
    frame["id"] = pending.id
    assert s.receive(frame) == RequestError(pending, 0, reason)


def test_refusal_variants():
    """``msg`` (TG), a string "false", a code, no reason, an unreadable result: all refusals."""
    s = session()
    cases = [
        ({"result": False, "msg": "nope"}, 0, "nope"),
        ({"result": "false", "message": "bad", "code": "400"}, 400, "bad"),
        ({"result": False}, 0, "refused without a reason"),
        ({"result": None}, 0, "unreadable result None"),
        ({"result": 1}, 0, "unreadable result 1"),
    ]
    for body, code, reason in cases:
        pending, _ = s.request(RequestKind.SUBSCRIBE, OBU, 0.0)
        assert s.receive({"id": pending.id, **body}) == RequestError(pending, code, reason)


def test_answers_nobody_waits_for_are_notices():
    """A late ack (its request timed out) or one without an id is informational."""
    s = session()
    frame = golden("ack")
    assert s.receive(frame) == Notice(frame)
    assert s.receive({"result": True}) == Notice({"result": True})
    assert s.receive({"hello": 1}) == Notice({"hello": 1})


@given(st.one_of(st.integers(min_value=0, max_value=2**63), st.text(min_size=1, max_size=20)))
def test_answers_match_by_id_as_text(rid):
    """Ids are compared as strings: a server echoing ``7`` for ``"7"`` still matches."""
    s = UtaSession(ids=iter([rid]))
    s.reset(0.0)
    pending, text = s.request(RequestKind.SUBSCRIBE, OBU, 0.0)
    assert orjson.loads(text)["id"] == str(rid)
    assert s.receive({"id": rid, "result": True}) == Ack(pending)


def test_data_pushes_are_messages():
    frame = golden("obu_delta_10ms")
    assert session().receive(frame) == Message(frame)


# -- welcome and keepalive --------------------------------------------------------------------------------
def test_golden_welcome_sets_session_and_timing():
    """``message: welcome`` (live form) welcomes; its pingInterval (ms) schedules the first ping."""
    s = UtaSession(ping_interval=5.0)
    s.reset(100.0)
    assert not s.welcomed
    assert s.receive(golden("welcome")) == Welcome("e8e46556-ae1d-4871-be0b-4efeaa5f2f6a")
    assert s.welcomed and s.session_id == "e8e46556-ae1d-4871-be0b-4efeaa5f2f6a"
    assert s.ping_interval == 18.0 and s.next_wakeup() == 118.0
    assert not s.ping_due(117.9) and s.ping_due(118.0)


@pytest.mark.parametrize(
    "frame",
    [
        {"message": "welcome"},
        {"type": "welcome", "id": "c1"},
        {"op": "WELCOME"},
        {"data": "Welcome"},
    ],
)
def test_welcome_forms(frame):
    """ccxt keys on ``message``; the universal SDK also on op/type/data, any case (kucoin-uta.md 1.3)."""
    s = session()
    assert isinstance(s.receive(frame), Welcome) and s.welcomed


def test_welcome_timing_rules():
    """pingTimeout applies; values under 1 s are clamped (KuCoin drops > 1 ping/s); garbage is ignored;
    an interval pinned by reset() wins over the welcome."""
    s = session()
    s.receive({"message": "welcome", "pingInterval": 30000, "pingTimeout": 4000})
    assert (s.ping_interval, s.ping_timeout) == (30.0, 4.0)
    s.reset(0.0)
    s.receive({"message": "welcome", "pingInterval": 200})
    assert s.ping_interval == MIN_PING_INTERVAL
    for bad in ("soon", -5, 0, None, True, float("inf")):
        s.reset(0.0)
        s.receive({"message": "welcome", "pingInterval": bad, "pingTimeout": bad})
        assert (s.ping_interval, s.ping_timeout) == (MIN_PING_INTERVAL, 4.0)
    s.reset(0.0, ping_interval=7.0)
    s.receive({"message": "welcome", "pingInterval": 30000, "pingTimeout": 9000})
    assert (s.ping_interval, s.ping_timeout) == (7.0, 9.0)


def test_ping_type_form_and_pong_both_forms():
    """Default ping ``{"id","type":"ping"}``; a pong of either form clears the deadline."""
    s = session(ping_interval=10.0, ping_timeout=3.0)
    text = s.ping(10.0, rx_count=0)
    frame = orjson.loads(text)
    assert frame == {"id": frame["id"], "type": "ping"}
    pong = golden("pong")
    pong["id"] = frame["id"]
    assert s.receive(pong) == Pong(frame["id"], True)
    assert not s.link_dead(20.0, rx_count=0)  # answered: no deadline
    op_ping = orjson.loads(s.ping(20.0, rx_count=1))
    assert s.receive({"op": "pong", "id": op_ping["id"]}) == Pong(op_ping["id"], True)
    assert s.receive({"type": "PONG", "id": "stray"}) == Pong("stray", False)


def test_ping_op_form():
    """``ping_style="op"`` sends the universal SDK's form, with the wall-clock timestamp when given."""
    s = session(ping_style="op")
    frame = orjson.loads(s.ping(0.0, 0, timestamp_ms=1790000000000))
    assert frame == {"id": frame["id"], "op": "ping", "timestamp": 1790000000000}
    assert orjson.loads(s.ping(1.0, 0)) == {"id": str(int(frame["id"]) + 1), "op": "ping"}
    with pytest.raises(ConfigurationError):
        UtaSession(ping_style="json")


def test_unanswered_ping_with_silence_is_a_dead_link():
    """The classic keepalive rule holds: dead only when nothing at all arrived within pingTimeout."""
    s = session(ping_timeout=3.0)
    s.ping(10.0, rx_count=5)
    assert not s.link_dead(12.9, rx_count=5)
    assert s.link_dead(13.0, rx_count=5)
    s.ping(20.0, rx_count=9)
    assert not s.link_dead(30.0, rx_count=10)  # a push arrived: alive


# -- auth -------------------------------------------------------------------------------------------------
def test_auth_frame_is_signed_as_documented():
    """sign = b64(HMAC_SHA256(secret, ts + "POST/api/websocket/users/verify")), passphrase HMAC-signed."""
    s = session(private=True)
    frame = orjson.loads(s.authenticate(CREDS, 1790000000123))

    def mac(message: str) -> str:
        return base64.b64encode(hmac.new(b"the-secret", message.encode(), hashlib.sha256).digest()).decode()

    assert frame == {
        "id": frame["id"],
        "op": "auth",
        "kc-api-key": "the-key",
        "kc-api-sign": mac("1790000000123POST/api/websocket/users/verify"),
        "kc-api-timestamp": "1790000000123",
        "kc-api-passphrase": mac("the-pass"),
    }
    assert s.receive({"id": frame["id"], "result": True}) == AuthResult(True, "")
    assert s.authenticated


def test_auth_refusal_and_reset():
    """A refusal carries KuCoin's reason; reset() forgets the authentication."""
    s = session(private=True)
    rid = orjson.loads(s.authenticate(CREDS, 1))["id"]
    assert s.receive({"id": rid, "result": "false", "reason": "invalid sign"}) == AuthResult(
        False, "invalid sign"
    )
    assert not s.authenticated
    rid = orjson.loads(s.authenticate(CREDS, 2))["id"]
    s.receive({"id": rid, "result": True})
    s.reset(5.0)
    assert not s.authenticated
    assert s.receive({"id": rid, "result": True}) == Notice({"id": rid, "result": True})  # forgotten


def test_auth_needs_a_private_session_and_full_credentials():
    with pytest.raises(ConfigurationError, match="private"):
        session().authenticate(CREDS, 1)
    with pytest.raises(ConfigurationError, match="credentials"):
        session(private=True).authenticate(Credentials(key="k", secret="", passphrase="p"), 1)
    with pytest.raises(ConfigurationError):
        auth_message(Credentials(key="", secret="s", passphrase="p"), 1, "1")


def test_no_secret_in_reprs():
    s = session(private=True)
    s.authenticate(CREDS, 1)
    target = dial_target(private=True, token="tok-SECRET")
    for text in (repr(s), repr(target), str(target)):
        assert "the-secret" not in text and "the-pass" not in text and "tok-SECRET" not in text


# -- limits and silence -----------------------------------------------------------------------------------
def test_limits_per_socket():
    """300/100 messages per 10 s and 600/400 topics, public/private (kucoin-uta.md 1.6)."""
    public, private = session(), session(private=True)
    assert (public.uplink_limit, public.max_topics) == (UPLINK_LIMIT_PUBLIC, MAX_TOPICS_PUBLIC) == (300, 600)
    assert (
        (private.uplink_limit, private.max_topics) == (UPLINK_LIMIT_PRIVATE, MAX_TOPICS_PRIVATE) == (100, 400)
    )
    limiter = public.limiter()
    for i in range(UPLINK_LIMIT_PUBLIC):
        assert limiter.delay(i * 0.001) == 0.0
        limiter.record(i * 0.001)
    assert limiter.delay(0.5) == pytest.approx(UPLINK_PERIOD - 0.5)
    assert limiter.delay(UPLINK_PERIOD) == 0.0


def test_silent_topic_reported_once_after_its_ack():
    """An obu topic acked with no data for SILENCE_AFTER seconds is named once (kucoin-uta.md 2.3)."""
    s = session()
    subscribed(s, OBU, 1.0)
    assert s.silent_topics(1.0 + SILENCE_AFTER - 0.1, {}) == []
    assert s.silent_topics(1.0 + SILENCE_AFTER, {}) == [OBU]
    assert s.silent_topics(100.0, {}) == []  # once


def test_topic_that_spoke_is_not_silent():
    """Data since the request (even before the ack) counts; older data from a previous life does not."""
    s = session()
    subscribed(s, OBU, 10.0)
    assert s.silent_topics(50.0, {OBU: 10.0}) == []  # arrived with the ack
    s.reset(50.0)
    pending, _ = s.request(RequestKind.SUBSCRIBE, OBU, 50.0)
    s.receive({"id": pending.id, "result": True}, 52.0)
    assert s.silent_topics(80.0, {OBU: 51.0}) == []  # the snapshot overtook the ack
    s.reset(60.0)
    subscribed(s, OBU, 60.0)
    assert s.silent_topics(90.0, {OBU: 10.0}) == [OBU]  # the last data predates this subscription


def test_only_channels_that_promise_data_are_watched():
    """Tickers and trades push only on trades, the full ``increment`` only deltas: silence is normal."""
    s = session()
    for key in ("ticker.SPOT:BTC-USDT", "trade.SPOT:BTC-USDT", "obu.SPOT:BTC-USDT:increment"):
        subscribed(s, key, 0.0)
    subscribed(s, "kline.SPOT:BTC-USDT:1min", 0.0)
    subscribed(s, "obu.SPOT:BTC-USDT:5", 0.0)
    assert sorted(s.silent_topics(100.0, {})) == ["kline.SPOT:BTC-USDT:1min", "obu.SPOT:BTC-USDT:5"]
    p = session(private=True)
    subscribed(p, "orderAll.UNIFIED", 0.0)
    assert p.silent_topics(100.0, {}) == []


def test_unsubscribe_and_reset_stop_the_watch():
    s = session()
    subscribed(s, OBU, 0.0)
    pending, _ = s.request(RequestKind.UNSUBSCRIBE, OBU, 1.0)
    s.receive({"id": pending.id, "result": True})
    assert s.silent_topics(100.0, {}) == []
    subscribed(s, OBU, 0.0)
    s.reset(1.0)
    assert s.silent_topics(100.0, {}) == []


def test_ack_time_defaults_to_the_request_time():
    s = session()
    pending, _ = s.request(RequestKind.SUBSCRIBE, OBU, 3.0)
    s.receive({"id": pending.id, "result": True})  # no arrival time given
    assert s.silent_topics(3.0 + SILENCE_AFTER, {}) == [OBU]


# -- dialing and REST -------------------------------------------------------------------------------------
def test_dial_targets():
    """Fixed hosts; private V2 authenticates by frame, V1 carries the token (kucoin-uta.md 1.1, 1.2)."""
    assert dial_target().url == PUBLIC_SPOT_URL and not dial_target().auth_frame
    assert dial_target(trade_type="futures").url == PUBLIC_FUTURES_URL
    v2 = dial_target(private=True)
    assert (v2.url, v2.auth_frame) == (PRIVATE_URL, True)
    v1 = dial_target(private=True, token="abc")
    assert (v1.url, v1.auth_frame) == (f"{PRIVATE_URL}?token=abc", False)
    sim = dial_target(private=True, token="abc", private_url="ws://127.0.0.1:9/uta?x=1")
    assert sim.url == "ws://127.0.0.1:9/uta?x=1&token=abc"
    assert dial_target(public_url="ws://example.invalid:1").url == "ws://example.invalid:1"


def test_dial_target_refusals():
    with pytest.raises(InsecureTransportError):
        dial_target(private=True, private_url="ws://example.com")
    with pytest.raises(ConfigurationError, match="no token"):
        dial_target(token="abc")
    with pytest.raises(ConfigurationError, match="SPOT or FUTURES"):
        dial_target(trade_type="MARGIN")
    with pytest.raises(ConfigurationError, match="empty"):
        dial_target(private=True, token="")


def test_bullet_private_answer():
    assert parse_bullet_private(golden("rest_bullet_private")["data"]) == "..."
    for bad in ({}, {"token": ""}, {"token": 5}, None, "tok"):
        with pytest.raises(ProtocolError, match="token"):
            parse_bullet_private(bad)


def test_orderbook_request():
    """The signed REST snapshot of the deprecated ``increment`` depth (kucoin-uta.md 3.5)."""
    assert (
        orderbook_path("BTC-USDT") == "/api/ua/v1/market/orderbook?symbol=BTC-USDT&tradeType=SPOT&limit=FULL"
    )
    assert orderbook_path("BTC-USDT", limit=100, version=2) == (
        "/api/ua/v2/market/orderbook?symbol=BTC-USDT&tradeType=SPOT&limit=100"
    )
    assert (orderbook_depth("full"), orderbook_depth(20), orderbook_depth("100")) == (None, 20, 100)
    with pytest.raises(ValueError, match="limit"):
        orderbook_path("BTC-USDT", limit=50)
    with pytest.raises(ValueError, match="version"):
        orderbook_path("BTC-USDT", version=3)


# -- the shared interface ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["reset", "request", "ping", "ping_due", "link_dead", "next_wakeup", "next_id", "receive"]
)
def test_takes_every_call_the_connection_makes_on_a_classic_session(name):
    """A connection can drive either session: each classic method exists with compatible parameters."""
    classic = inspect.signature(getattr(Session, name)).parameters
    uta = inspect.signature(getattr(UtaSession, name)).parameters
    assert list(classic) == list(uta)[: len(classic)]
    extra = list(uta)[len(classic) :]
    assert all(uta[p].default is not inspect.Parameter.empty for p in extra), extra


def test_drives_like_a_classic_session():
    """The same sequence of calls (reset, welcome, subscribe, ack, ping, pong) on both sessions."""
    for s, welcome, ack, pong in (
        (Session(), {"type": "welcome", "id": "w"}, {"type": "ack"}, {"type": "pong"}),
        (UtaSession(), golden("welcome"), {"result": True}, {"op": "pong"}),
    ):
        s.reset(0.0, ping_interval=5.0, ping_timeout=2.0)
        assert isinstance(s.receive(welcome), Welcome) and s.welcomed
        key = "/market/ticker:BTC-USDT" if isinstance(s, Session) else "ticker.SPOT:BTC-USDT"
        pending, _ = s.request(RequestKind.SUBSCRIBE, key, 1.0)
        assert s.receive({**ack, "id": pending.id}) == Ack(pending)
        assert s.next_wakeup() == 5.0 and s.ping_due(5.0)
        ping_id = orjson.loads(s.ping(5.0, 3))["id"]
        assert s.receive({**pong, "id": ping_id}) == Pong(ping_id, True)
        assert not s.link_dead(100.0, 3)
