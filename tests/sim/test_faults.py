"""Fault injection: each fault does what it says, is scoped, and is reversible."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from simclient import bullet, open_ws, recv, request, send, wait_for
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK

from kunb.exceptions import ConfigurationError


async def _subscribe(ws, topic: str) -> None:
    assert (await request(ws, {"id": "s", "type": "subscribe", "topic": topic, "response": True}))[
        "type"
    ] == "ack"


async def _drain_until_closed(ws) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await recv(ws)
    return info.value


async def test_abrupt_disconnect_sends_no_close_frame(exchange):
    """disconnect(abrupt=True) aborts the transport: the client sees no close frame (1006)."""
    ws = await open_ws(exchange.url)
    assert exchange.faults.disconnect(abrupt=True) == 1
    exc = await _drain_until_closed(ws)
    assert isinstance(exc, ConnectionClosedError) and exc.rcvd is None


async def test_clean_close_with_code_for_one_connection(exchange):
    """close(code=..., conn=connectId) closes that connection only, with the code."""
    a = await open_ws(exchange.url, connect_id="a")
    b = await open_ws(exchange.url, connect_id="b")
    assert exchange.faults.close(code=4000, reason="bye", conn="a") == 1
    exc = await _drain_until_closed(a)
    assert exc.rcvd is not None and exc.rcvd.code == 4000 and exc.rcvd.reason == "bye"
    assert await request(b, {"id": "p", "type": "ping"}) == {"id": "p", "type": "pong"}
    await b.close()


async def test_unknown_connection_is_a_typed_error(exchange):
    """Targeting a connection that does not exist raises ConfigurationError."""
    with pytest.raises(ConfigurationError):
        exchange.faults.close(conn="nobody")


async def test_drop_pongs_for_a_while(exchange):
    """drop_pongs(seconds=...) swallows pongs, then they come back by themselves."""
    ws = await open_ws(exchange.url)
    exchange.faults.drop_pongs(seconds=0.3)
    await send(ws, {"id": "lost", "type": "ping"})
    with pytest.raises(TimeoutError):
        await wait_for(ws, lambda m: m.get("type") == "pong", within=0.2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3
    while True:  # poll with a bounded deadline until the fault lapses
        await send(ws, {"id": "back", "type": "ping"})
        try:
            assert (await wait_for(ws, lambda m: m.get("type") == "pong", within=0.2))["id"] == "back"
            break
        except TimeoutError:
            assert loop.time() < deadline, "pongs never came back"
    await ws.close()


async def test_drop_and_delay_acks_then_clear(exchange):
    """drop_acks swallows acks (the subscription still happens); delay_acks delays them; clear() undoes."""
    ws = await open_ws(exchange.url)
    exchange.faults.drop_acks()
    await send(ws, {"id": "a1", "type": "subscribe", "topic": "/market/ticker:BTC-USDT", "response": True})
    assert (await request(ws, {"id": "p", "type": "ping"}))["type"] == "pong"  # no ack came first
    assert "/market/ticker:BTC-USDT" in exchange.connections()[0].topics
    exchange.faults.clear()
    exchange.faults.delay_acks(delay=0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await send(ws, {"id": "a2", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True})
    ack = await wait_for(ws, lambda m: m.get("type") == "ack")
    assert ack["id"] == "a2" and loop.time() - t0 >= 0.25
    exchange.faults.clear()
    assert (
        await request(
            ws, {"id": "a3", "type": "unsubscribe", "topic": "/market/level2:BTC-USDT", "response": True}
        )
    )["id"] == "a3"
    await ws.close()


async def test_skip_level2_makes_a_gap_for_one_connection(exchange):
    """skip_level2 drops pushes for one connection: its next push leaves a gap; the other stays contiguous."""
    a = await open_ws(exchange.url, connect_id="a")
    b = await open_ws(exchange.url, connect_id="b")
    await _subscribe(a, "/market/level2:BTC-USDT")
    await _subscribe(b, "/market/level2:BTC-USDT")
    first = await wait_for(a, lambda m: m.get("type") == "message")
    exchange.faults.skip_level2(pushes=2, symbol="BTC-USDT", conn="a")
    nxt = await wait_for(a, lambda m: m.get("type") == "message")
    assert nxt["data"]["sequenceStart"] > first["data"]["sequenceEnd"] + 1
    # b's stream stays contiguous over the same period
    prev = await wait_for(b, lambda m: m.get("type") == "message")
    for _ in range(4):
        cur = await wait_for(b, lambda m: m.get("type") == "message")
        assert cur["data"]["sequenceStart"] == prev["data"]["sequenceEnd"] + 1
        prev = cur
    assert exchange.stats()["level2_skipped"] == 2
    await a.close()
    await b.close()


async def test_malformed_and_unknown_type_frames(exchange):
    """send_malformed sends non-JSON text; send_unknown_type a JSON type KuCoin never sends."""
    ws = await open_ws(exchange.url)
    assert exchange.faults.send_malformed() == 1
    raw = await asyncio.wait_for(ws.recv(), 5)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert exchange.faults.send_unknown_type() == 1
    assert (await recv(ws))["type"] == "surprise"
    await ws.close()


async def test_expire_tokens(exchange):
    """expire_tokens(): a token issued before is refused with 401; a fresh bullet works."""
    data = await bullet(exchange.url)
    assert exchange.faults.expire_tokens() >= 1
    ws = await open_ws(exchange.url, token=data["token"], welcome=False)
    assert (await recv(ws)) == {"id": "cid-1", "type": "error", "code": 401, "data": "token is expired"}
    await ws.close()
    fresh = await open_ws(exchange.url)
    await fresh.close()


async def test_bullet_errors_by_count(exchange):
    """bullet_errors(count=2) fails the next two bullet requests with the status, then recovers."""
    exchange.faults.bullet_errors(status=503, count=2)
    async with httpx.AsyncClient(base_url=exchange.url) as c:
        statuses = [(await c.post("/api/v1/bullet-public")).status_code for _ in range(3)]
        failed = await c.post("/api/v1/bullet-public")
    assert statuses == [503, 503, 200] and failed.status_code == 200
    with pytest.raises(ConfigurationError):
        exchange.faults.bullet_errors(status=404)


async def test_stall_then_recover(exchange):
    """stall(seconds=...) holds every frame (even pongs) until it lapses; then they flow again."""
    ws = await open_ws(exchange.url)
    exchange.faults.stall(seconds=0.4)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await send(ws, {"id": "p", "type": "ping"})
    pong = await wait_for(ws, lambda m: m.get("type") == "pong")
    assert pong["id"] == "p" and loop.time() - t0 >= 0.3
    await ws.close()


async def test_admin_route_off_by_default_and_on_when_enabled():
    """POST /admin/faults/{name} exists only with admin=True and applies the fault."""
    from kunb.sim import Exchange

    async with Exchange(symbols=["BTC-USDT"], admin=True, tick_ms=50) as ex:
        ws = await open_ws(ex.url)
        async with httpx.AsyncClient(base_url=ex.url) as c:
            r = await c.post("/admin/faults/disconnect", json={"abrupt": True})
            assert r.json() == {"code": "200000", "data": 1}
            bad = await c.post("/admin/faults/explode", json={})
            assert bad.status_code == 400 and bad.json()["code"] == "400100"
            bad_args = await c.post("/admin/faults/drop_pongs", json={"bogus": 1})
            assert bad_args.status_code == 400
        exc = await _drain_until_closed(ws)
        assert not isinstance(exc, ConnectionClosedOK)


def test_faults_from_another_thread():
    """With the thread runner, faults are applied on the exchange's loop and return its result."""
    import kunb.sim

    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50) as sim:
        assert sim.faults.disconnect() == 0
        sim.faults.drop_pongs(seconds=1)
        assert sim.exchange.hub.everyone.no_pong_until > 0
        sim.faults.clear()
        assert sim.exchange.hub.everyone.no_pong_until == 0
