"""The official KuCoin SDK (kucoin-python, unmodified) against kunb.sim: token, ticker and level2 pushes.

The SDK fetches its token with blocking ``requests`` inside its coroutine, so the exchange runs on
its own thread (``kunb.sim.start``), as it would for a notebook user. The SDK also sleeps 1-2 s
before its first connect and swallows ``CancelledError`` in its read loop (kucoin-protocol.md 5.1,
peers.md), so the clean-up below closes its socket first and then cancels its task, within a bound.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

import kunb.sim

kucoin_client = pytest.importorskip("kucoin.client")
kucoin_ws = pytest.importorskip("kucoin.ws_client")


async def _stop_sdk(sdk) -> None:
    """Close the SDK's socket, then cancel its run_forever task until it is really gone (bounded)."""
    conn = sdk._conn
    tasks = [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").startswith("ConnectWebsocket.")
        and t.get_coro().cr_frame is not None
        and t.get_coro().cr_frame.f_locals.get("self") is conn
    ]
    if conn._socket is not None:
        await conn._socket.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while any(not t.done() for t in tasks) and loop.time() < deadline:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=0.2)
    for t in tasks:  # mark their exceptions retrieved (the SDK's own errors are not under test)
        if t.done() and not t.cancelled():
            t.exception()
    assert all(t.done() for t in tasks), "the SDK task did not stop"


def test_market_rest_with_the_sdk():
    """kucoin.client.Market (sync requests) reads tickers, the book and symbols from the simulator."""
    with kunb.sim.start(seed=1, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=50) as sim:
        market = kucoin_client.Market(url=sim.url)
        ticker = market.get_ticker("BTC-USDT")
        assert float(ticker["bestBid"]) < float(ticker["bestAsk"]) and ticker["sequence"].isdigit()
        book = market.get_part_order("20", "ETH-USDT")
        assert len(book["bids"]) == 20 and int(book["sequence"]) > 0
        assert {s["symbol"] for s in market.get_symbol_list()} == {"BTC-USDT", "ETH-USDT"}
        assert market.get_server_timestamp() > 1_600_000_000_000


async def test_official_ws_client_receives_ticker_and_level2():
    """KucoinWsClient.create(None, WsToken(url=...), cb) gets a public token and receives both channels."""
    sim = kunb.sim.start(seed=1, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=50)
    got: dict[str, list[dict]] = {"/market/ticker:BTC-USDT": [], "/market/level2:ETH-USDT": []}
    both = asyncio.Event()
    errors: list[dict] = []

    async def callback(msg: dict) -> None:
        if msg.get("type") == "error":
            errors.append(msg)
        topic = msg.get("topic")
        if topic in got:
            got[topic].append(msg)
        if all(len(v) >= 3 for v in got.values()):
            both.set()

    sdk = None
    try:
        sdk = await kucoin_ws.KucoinWsClient.create(
            None, kucoin_client.WsToken(url=sim.url), callback, private=False
        )
        await sdk.subscribe("/market/ticker:BTC-USDT")
        await sdk.subscribe("/market/level2:ETH-USDT")
        await asyncio.wait_for(both.wait(), timeout=20)
    finally:
        if sdk is not None:
            await _stop_sdk(sdk)
        sim.stop()
    assert errors == []
    tick = got["/market/ticker:BTC-USDT"][0]
    assert tick["subject"] == "trade.ticker" and float(tick["data"]["bestBid"]) < float(
        tick["data"]["bestAsk"]
    )
    l2 = [m["data"] for m in got["/market/level2:ETH-USDT"]]
    for prev, nxt in itertools.pairwise(l2):
        assert nxt["sequenceStart"] == prev["sequenceEnd"] + 1
