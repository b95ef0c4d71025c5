"""``ex.faults`` on the UTA sockets: disconnects (abrupt and clean), dropped and late pongs and answers, a
stall, a silent server, a skipped delta (a gap), malformed and unknown frames, late snapshots.

Each test watches the fault from a raw UTA client (``utasim``) on a frozen market that moves only when the
test moves it, so what arrives is exactly what the fault let through.
"""

from __future__ import annotations

import asyncio

import pytest
from utasim import before_pong, open_uta, recv, recv_raw, request, send, subscribe, until, wait_for
from websockets.exceptions import ConnectionClosed

from kunb.sim import Exchange
from kunb.sim.core.orderbook import Side

SYM = "BTC-USDT"


@pytest.fixture
async def frozen():
    async with Exchange(
        seed=2, symbols=[SYM], rate=0, tick_ms=20, ping_interval_ms=5_000, ping_timeout_ms=5_000
    ) as ex:
        yield ex


def is_obu(m: dict) -> bool:
    return m.get("T") == "obu.SPOT"


def move(ex: Exchange, n: int = 1) -> None:
    """n book changes at the best ask's neighbour, each published on its own (one delta each)."""
    book = ex.core.market(SYM).book
    ask = book.best_ask()[0]
    for i in range(n):
        book.set_maker_liquidity(Side.SELL, ask + 1, 1 + i + book.level_size(Side.SELL, ask + 1))
        ex.publish()


@pytest.mark.parametrize(("abrupt", "code"), [(True, 1006), (False, 1001)])
async def test_disconnect_reaches_uta_sockets(frozen, abrupt, code) -> None:
    public, _ = await open_uta(frozen.uta_url)
    private, _ = await open_uta(frozen.uta_private_url)
    assert frozen.faults.disconnect(abrupt=abrupt) == 2
    for ws in (public, private):
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == code


async def test_a_clean_close_with_a_code_on_one_connection(frozen) -> None:
    closing, welcome = await open_uta(frozen.uta_url)
    survivor, _ = await open_uta(frozen.uta_url)
    # the welcome's sessionId is the connection id faults take
    assert frozen.faults.close(code=4000, reason="chaos", conn=welcome["sessionId"]) == 1
    await asyncio.wait_for(closing.wait_closed(), 5)
    assert (closing.close_code, closing.close_reason) == (4000, "chaos")
    assert await before_pong(survivor) == []
    await survivor.close()


async def test_dropped_pongs_and_answers(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    frozen.faults.drop_pongs()
    frozen.faults.drop_acks()
    await send(ws, {"id": "lost", "type": "ping"})
    await send(ws, {"id": "lost2", "op": "ping"})
    await send(ws, subscribe("ticker", SYM) | {"id": "unanswered"})
    session = frozen.connections()[0]
    await until(lambda: len(session.uplink) == 3)  # the server has read all three
    frozen.faults.clear()
    await send(ws, {"id": "back", "type": "ping"})
    assert (await recv(ws))["id"] == "back"  # nothing answered the three frames sent under the faults
    assert f"ticker.SPOT:{SYM}" in frozen.connections()[0].topics  # the subscription itself happened
    await ws.close()


async def test_late_answers_and_a_stall(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    loop = asyncio.get_running_loop()
    frozen.faults.delay_acks(delay=0.3)
    sent = loop.time()
    frame = subscribe("obu", SYM, depth="5")
    await send(ws, frame)
    answer = await wait_for(ws, lambda m: m.get("id") == frame["id"])
    assert answer["result"] is True and loop.time() - sent >= 0.25
    frozen.faults.clear()
    frozen.faults.stall(seconds=0.4)
    sent = loop.time()
    await before_pong(ws)
    assert loop.time() - sent >= 0.35
    await ws.close()


async def test_the_snapshot_waits_for_a_late_answer(frozen) -> None:
    """A snapshot never overtakes the answer to its subscription."""
    ws, _ = await open_uta(frozen.uta_url)
    frozen.faults.delay_acks(delay=0.2)
    frame = subscribe("obu", SYM, depth="increment@10ms")
    await send(ws, frame)
    first, second = await recv(ws), await recv(ws)
    assert first == {"id": frame["id"], "result": True} and second["t"] == "snapshot"
    await ws.close()


async def test_delayed_snapshots(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    loop = asyncio.get_running_loop()
    frozen.faults.delay_snapshots(delay=0.5)
    frame = subscribe("obu", SYM, depth="increment@10ms")
    assert (await request(ws, frame))["result"] is True
    answered = loop.time()
    assert [m for m in await before_pong(ws) if is_obu(m)] == []  # not yet
    move(frozen)  # a delta before the snapshot: a client drops it (its C <= the snapshot's)
    delta = await wait_for(ws, is_obu)
    snapshot = await wait_for(ws, is_obu)
    assert delta["t"] == "delta" and snapshot["t"] == "snapshot"
    assert loop.time() - answered >= 0.45 and snapshot["d"]["C"] >= delta["d"]["C"]
    move(frozen)
    after = await wait_for(ws, is_obu)
    assert after["d"]["O"] == snapshot["d"]["C"] + 1
    await ws.close()


@pytest.mark.parametrize("depth", ["increment@10ms", "increment"])
async def test_a_skipped_delta_is_a_gap(frozen, depth) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    await request(ws, subscribe("obu", SYM, depth=depth))
    if depth != "increment":
        await wait_for(ws, is_obu)  # the snapshot
    move(frozen)
    first = await wait_for(ws, is_obu)
    frozen.faults.skip_level2(pushes=1, symbol=SYM)
    move(frozen, 2)
    after = await wait_for(ws, is_obu)
    assert after["d"]["O"] == first["d"]["C"] + 2  # one delta (one sequence) never came
    assert frozen.stats()["uta_deltas_skipped"] == 1
    await ws.close()


async def test_silence_drops_market_data_but_answers_pings(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    await request(ws, subscribe("obu", SYM, depth="5"))
    await wait_for(ws, is_obu)
    frozen.faults.silence()
    await before_pong(ws)  # whatever was queued before the fault is through
    session = frozen.connections()[0]
    dropped = session.dropped
    await until(lambda: session.dropped >= dropped + 2)  # two 100 ms snapshots swallowed
    assert [m for m in await before_pong(ws) if is_obu(m)] == []
    frozen.faults.clear()
    assert (await wait_for(ws, is_obu))["t"] == "snapshot"
    await ws.close()


async def test_malformed_and_unknown_frames_are_binary_like_every_uta_frame(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    assert frozen.faults.send_malformed() == 1
    raw = await recv_raw(ws)
    assert isinstance(raw, bytes) and raw.startswith(b"{") and not raw.endswith(b"}")
    frozen.faults.send_unknown_type()
    assert isinstance(raw := await recv_raw(ws), bytes) and b"surprise" in raw
    await ws.close()
