"""The feed's KuCoin protocol with a raw websockets client: welcome, ping/pong, acks, error frames, limits."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from simclient import bullet, open_ws, recv, request, send, wait_for
from support import seconds
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def test_bullet_public_shape(exchange):
    """bullet-public names a ws:// endpoint with encrypt null and the configured ping settings."""
    data = await bullet(exchange.url)
    (server,) = data["instanceServers"]
    assert server == {
        "endpoint": exchange.ws_url,
        "encrypt": None,
        "protocol": "websocket",
        "pingInterval": 1000,
        "pingTimeout": 1000,
    }
    assert isinstance(data["token"], str) and len(data["token"]) > 100
    assert server["endpoint"].startswith("ws://127.0.0.1:")


async def test_welcome_uses_connect_id_and_any_path_and_extra_params(exchange):
    """The welcome's id is the connectId; any path and unknown query params are accepted."""
    data = await bullet(exchange.url)
    query = f"token={data['token']}&connectId=xyz&privateChannel=false&acceptUserMessage=true"
    url = f"{exchange.ws_url}some/path?{query}"
    async with connect(url) as ws:
        assert await recv(ws) == {"id": "xyz", "type": "welcome"}


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_unknown_token_gets_401_then_close(exchange, token):
    """A missing or unknown token: error frame 401 'token is expired', then the server closes."""
    ws = await open_ws(exchange.url, token=token, welcome=False)
    msg = await recv(ws)
    assert msg["type"] == "error" and msg["code"] == 401 and msg["data"] == "token is expired"
    with pytest.raises(ConnectionClosed):
        await recv(ws)


async def test_expired_token_by_ttl():
    """A token past its TTL is refused like an unknown one."""
    from kunb.sim import Exchange

    now = [1_700_000_000 * 10**9]
    async with Exchange(symbols=["BTC-USDT"], token_ttl_s=5, clock=lambda: now[0]) as ex:
        data = await bullet(ex.url)
        now[0] += 6 * 10**9
        ws = await open_ws(ex.url, token=data["token"], welcome=False)
        assert (await recv(ws))["code"] == 401
        await ws.close()


@pytest.mark.parametrize(
    ("sent", "echoed"), [("abc-1", "abc-1"), (12345, "12345"), ("  spaced ", "  spaced ")]
)
async def test_ping_pong_echoes_id_as_string(exchange, sent, echoed):
    """JSON ping -> pong with the same id as a string."""
    ws = await open_ws(exchange.url)
    assert await request(ws, {"id": sent, "type": "ping"}) == {"id": echoed, "type": "pong"}
    await ws.close()


@pytest.mark.parametrize(
    ("sent", "echoed"), [("1545910660739", "1545910660739"), (1, "1"), ("/m@@A,B", "/m@@A,B")]
)
async def test_ack_id_echoed_byte_for_byte(exchange, sent, echoed):
    """subscribe with response:true is acked with the request id as a string."""
    ws = await open_ws(exchange.url)
    msg = {"id": sent, "type": "subscribe", "topic": "/market/ticker:BTC-USDT", "response": True}
    assert await request(ws, msg) == {"id": echoed, "type": "ack"}
    await ws.close()


async def test_no_ack_without_response_true(exchange):
    """Without response:true the server subscribes silently (the next answer is the ping's pong)."""
    ws = await open_ws(exchange.url)
    await send(ws, {"id": "s", "type": "subscribe", "topic": "/market/ticker:BTC-USDT"})
    assert await request(ws, {"id": "p", "type": "ping"}) == {"id": "p", "type": "pong"}
    assert exchange.connections()[0].topics == {"/market/ticker:BTC-USDT"}
    await ws.close()


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        ("/market/nothing:BTC-USDT", 404),
        ("/market/ticker:NOPE-USDT", 404),
        ("/market/level2:BTC-USDT,NOPE-USDT", 404),
        ("/market/candles:BTC-USDT_2min", 404),
        ("/market/ticker:", 404),
        ("/market/ticker", 404),
    ],
)
async def test_unknown_topic_or_symbol_is_404(exchange, topic, code):
    """Unknown prefixes, symbols or candle types get error 404 naming the topic; nothing is subscribed."""
    ws = await open_ws(exchange.url)
    msg = await request(ws, {"id": "e1", "type": "subscribe", "topic": topic, "response": True})
    assert msg == {"id": "e1", "type": "error", "code": code, "data": f"topic {topic} is not found"}
    assert exchange.connections()[0].topics == set()
    await ws.close()


async def test_unknown_type_is_415(exchange):
    """An unknown message type gets error 415 with the request id."""
    ws = await open_ws(exchange.url)
    msg = await request(ws, {"id": "u1", "type": "openTunnel"})
    assert msg == {"id": "u1", "type": "error", "code": 415, "data": "type is not supported"}
    await ws.close()


async def test_more_than_100_topics_per_request_is_509():
    """A subscribe naming 101 topics gets 509 (100 per request); 100 are fine."""
    from kunb.sim import Exchange

    async with Exchange(symbols=150, tick_ms=50, rate=0) as big:
        ws = await open_ws(big.url)
        names = list(big.core.markets)[:101]
        topic = "/market/ticker:" + ",".join(names)
        msg = await request(ws, {"id": "b", "type": "subscribe", "topic": topic, "response": True})
        assert msg == {
            "id": "b",
            "type": "error",
            "code": 509,
            "data": "exceed max subscription count limitation of 100 per time",
        }
        assert big.connections()[0].topics == set()
        ok = "/market/ticker:" + ",".join(names[:100])
        assert (await request(ws, {"id": "c", "type": "subscribe", "topic": ok, "response": True}))[
            "type"
        ] == "ack"
        await ws.close()


async def test_more_than_400_topics_per_connection_is_509():
    """The 401st topic on one connection gets 509 (400 per session); the first 400 stay."""
    from kunb.sim import Exchange

    async with Exchange(symbols=120, tick_ms=50, rate=0) as ex:
        ws = await open_ws(ex.url)
        names = list(ex.core.markets)[:100]
        for i, prefix in enumerate(["/market/ticker", "/market/level2", "/market/match", "/market/snapshot"]):
            msg = {
                "id": str(i),
                "type": "subscribe",
                "topic": f"{prefix}:{','.join(names)}",
                "response": True,
            }
            assert (await request(ws, msg))["type"] == "ack"
        msg = {"id": "x", "type": "subscribe", "topic": "/spotMarket/level2Depth5:BTC-USDT", "response": True}
        err = await request(ws, msg)
        assert err["code"] == 509 and "400 per session" in err["data"]
        assert len(ex.connections()[0].topics) == 400
        await ws.close()


async def test_uplink_flood_gets_509_and_connection_survives(exchange):
    """More than 100 client messages in 10 s: 509 'exceed max permits per second', no disconnect."""
    ws = await open_ws(exchange.url)
    for i in range(105):
        await send(ws, {"id": str(i), "type": "ping"})
    answers = [await recv(ws) for _ in range(105)]
    pongs = [m for m in answers if m["type"] == "pong"]
    errors = [m for m in answers if m["type"] == "error"]
    assert len(pongs) == 100 and len(errors) == 5
    assert all(e["code"] == 509 and e["data"] == "exceed max permits per second" for e in errors)
    await ws.close()


async def test_unsubscribe_subset_stops_those_pushes(exchange):
    """Unsubscribing one of two symbols keeps the other; unsubscribe acks too."""
    ws = await open_ws(exchange.url)
    sub = {"id": "s", "type": "subscribe", "topic": "/market/level2:BTC-USDT,ETH-USDT", "response": True}
    assert (await request(ws, sub))["type"] == "ack"
    unsub = {"id": "u", "type": "unsubscribe", "topic": "/market/level2:ETH-USDT", "response": True}
    assert await request(ws, unsub) == {"id": "u", "type": "ack"}
    assert exchange.connections()[0].topics == {"/market/level2:BTC-USDT"}
    await ws.close()


async def test_spaces_around_args_are_trimmed(exchange):
    """cryptofeed's '/market/level2: A,B' form works (1.5)."""
    ws = await open_ws(exchange.url)
    msg = {"id": 1, "type": "subscribe", "topic": "/market/level2: BTC-USDT , ETH-USDT", "response": True}
    assert (await request(ws, msg))["type"] == "ack"
    assert exchange.connections()[0].topics == {"/market/level2:BTC-USDT", "/market/level2:ETH-USDT"}
    await ws.close()


@pytest.fixture
async def quick_idle():
    from kunb.sim import Exchange

    async with Exchange(symbols=["BTC-USDT"], tick_ms=50, ping_interval_ms=300, ping_timeout_ms=300) as ex:
        yield ex


async def test_idle_connection_is_closed(quick_idle):
    """No client message for pingInterval + pingTimeout (0.6 s here): the server closes the connection."""
    ws = await open_ws(quick_idle.url)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(ConnectionClosed):
        while True:
            await recv(ws, within=5)
    assert 0.4 < loop.time() - t0 < seconds(3)


async def test_pings_keep_a_connection_alive(quick_idle):
    """Pinging every 0.2 s keeps the connection open well past the 0.6 s idle limit."""
    ws = await open_ws(quick_idle.url)
    for i in range(7):
        assert (await request(ws, {"id": str(i), "type": "ping"}))["type"] == "pong"
        await asyncio.sleep(0.2)  # the client's ping cadence, not synchronisation
    assert len(quick_idle.connections()) == 1
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", 400),
        ("[1, 2, 3]", 400),
        ('"just a string"', 400),
        (b"\x00\x01binary", 415),
        ('{"id": {"a": 1}, "type": "ping"}', 400),
        ('{"id": "t", "type": "subscribe", "topic": 42, "response": true}', 400),
        ('{"id": "t", "type": "subscribe", "response": true}', 400),
        ('{"id": "t"}', 415),
        ("x" * 70_000, 400),
    ],
)
async def test_bad_input_gets_an_error_frame_and_the_connection_lives(exchange, frame, code):
    """Malformed JSON, non-objects, binary and oversized frames, wrong field types: error frame, no crash."""
    ws = await open_ws(exchange.url)
    other = await open_ws(exchange.url, connect_id="bystander")
    await ws.send(frame)
    err = await wait_for(ws, lambda m: m.get("type") == "error")
    assert err["code"] == code and isinstance(err["data"], str)
    assert await request(ws, {"id": "alive", "type": "ping"}) == {"id": "alive", "type": "pong"}
    assert await request(other, {"id": "fine", "type": "ping"}) == {"id": "fine", "type": "pong"}
    await ws.close()
    await other.close()


async def test_huge_frame_closes_only_that_connection(exchange):
    """A frame beyond the 1 MiB hard limit closes that connection (1009); the server and others live on."""
    ws = await open_ws(exchange.url)
    other = await open_ws(exchange.url, connect_id="bystander")
    await ws.send("x" * (2**20 + 10))
    with pytest.raises(ConnectionClosed):
        await recv(ws)
    assert await request(other, {"id": "ok", "type": "ping"}) == {"id": "ok", "type": "pong"}
    ws3 = await open_ws(exchange.url, connect_id="later")
    await ws3.close()
    await other.close()


async def test_unknown_fields_are_ignored(exchange):
    """Extra fields (privateChannel on a public topic, tunnelId...) do not matter."""
    ws = await open_ws(exchange.url)
    msg = {
        "id": "x",
        "type": "subscribe",
        "topic": "/market/ticker:BTC-USDT",
        "privateChannel": True,
        "response": True,
        "tunnelId": "t",
        "extra": [1, 2],
    }
    assert await request(ws, msg) == {"id": "x", "type": "ack"}
    await ws.close()


async def test_pushes_are_serialised_once_for_every_subscriber(exchange):
    """Two subscribers of the same topic receive byte-identical frames."""
    a = await open_ws(exchange.url, connect_id="a")
    b = await open_ws(exchange.url, connect_id="b")
    for ws in (a, b):
        msg = {"id": "s", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True}
        assert (await request(ws, msg))["type"] == "ack"

    async def first_push(ws):
        while True:
            raw = await asyncio.wait_for(ws.recv(), 5)
            if orjson.loads(raw).get("type") == "message":
                return raw

    ra = await first_push(a)
    seq = orjson.loads(ra)["data"]["sequenceStart"]
    while True:
        rb = await first_push(b)
        if orjson.loads(rb)["data"]["sequenceStart"] >= seq:
            break
    if orjson.loads(rb)["data"]["sequenceStart"] == seq:
        assert ra == rb
    else:  # b started later; compare the next push of a with b's
        while orjson.loads(ra)["data"]["sequenceStart"] < orjson.loads(rb)["data"]["sequenceStart"]:
            ra = await first_push(a)
        assert ra == rb
    await a.close()
    await b.close()


async def test_connection_lifetime_limit():
    """max_connection_s closes a connection after that long even if it keeps pinging (KuCoin's 24 h)."""
    from kunb.sim import Exchange

    async with Exchange(symbols=["BTC-USDT"], tick_ms=50, max_connection_s=0.5) as ex:
        ws = await open_ws(ex.url)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(ConnectionClosed) as info:
            for i in range(50):
                await request(ws, {"id": str(i), "type": "ping"})
                await asyncio.sleep(0.1)  # the client's ping cadence, not synchronisation
        assert info.value.rcvd.reason == "connection lifetime exceeded"
        assert 0.3 < loop.time() - t0 < seconds(3)
