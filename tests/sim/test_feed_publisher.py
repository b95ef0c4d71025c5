"""Every public channel's push: topic form, subject, fields and JSON types (kucoin-protocol.md 2.1-2.2)."""

from __future__ import annotations

import re

import httpx
import pytest
from simclient import open_ws, request, wait_for

DEC = re.compile(r"^-?\d+(\.\d+)?$")  # KuCoin decimal strings: no exponent, no trailing dot


def _dec(value) -> bool:
    return isinstance(value, str) and bool(DEC.match(value))


async def _first_push(exchange, topic: str, push_topic: str, subject: str | None = None):
    ws = await open_ws(exchange.url)
    ack = await request(ws, {"id": "s", "type": "subscribe", "topic": topic, "response": True})
    assert ack == {"id": "s", "type": "ack"}
    msg = await wait_for(ws, lambda m: m.get("type") == "message" and m["topic"] == push_topic)
    await ws.close()
    assert set(msg) == {"type", "topic", "subject", "data"}
    if subject is not None:
        assert msg["subject"] == subject
    return msg["data"]


async def test_ticker(exchange):
    """/market/ticker:A,B pushes per symbol with string decimals, string sequence, int ms time."""
    data = await _first_push(
        exchange, "/market/ticker:BTC-USDT,ETH-USDT", "/market/ticker:ETH-USDT", "trade.ticker"
    )
    assert set(data) == {
        "sequence",
        "price",
        "size",
        "bestAsk",
        "bestAskSize",
        "bestBid",
        "bestBidSize",
        "time",
    }
    assert all(_dec(data[k]) for k in ("price", "size", "bestAsk", "bestAskSize", "bestBid", "bestBidSize"))
    assert isinstance(data["sequence"], str) and data["sequence"].isdigit()
    assert isinstance(data["time"], int) and data["time"] > 1_600_000_000_000
    assert float(data["bestBid"]) < float(data["bestAsk"])


async def test_ticker_all_keeps_topic_and_puts_symbol_in_subject(exchange):
    """/market/ticker:all pushes keep that topic; the subject is the symbol."""
    ws = await open_ws(exchange.url)
    await request(ws, {"id": "s", "type": "subscribe", "topic": "/market/ticker:all", "response": True})
    subjects = set()
    while subjects != {"BTC-USDT", "ETH-USDT"}:
        msg = await wait_for(ws, lambda m: m.get("type") == "message")
        assert msg["topic"] == "/market/ticker:all"
        assert set(msg["data"]) >= {"sequence", "price", "bestAsk", "bestBid", "time"}
        subjects.add(msg["subject"])
    await ws.close()


async def test_level2_increment(exchange):
    """/market/level2: rows [price, size, seq] all strings inside [sequenceStart, sequenceEnd] numbers."""
    data = await _first_push(exchange, "/market/level2:BTC-USDT", "/market/level2:BTC-USDT", "trade.l2update")
    assert set(data) == {"changes", "sequenceEnd", "sequenceStart", "symbol", "time"}
    assert data["symbol"] == "BTC-USDT" and isinstance(data["time"], int)
    start, end = data["sequenceStart"], data["sequenceEnd"]
    assert isinstance(start, int) and isinstance(end, int) and start <= end
    rows = data["changes"]["asks"] + data["changes"]["bids"]
    assert rows and set(data["changes"]) == {"asks", "bids"}
    for price, size, seq in rows:
        assert _dec(price) and _dec(size) and isinstance(seq, str)
        assert start <= int(seq) <= end


async def test_level1(exchange):
    """/spotMarket/level1: best ask and bid as [price, size] strings, ms timestamp, never crossed."""
    topic = "/spotMarket/level1:BTC-USDT"
    data = await _first_push(exchange, topic, topic, "level1")
    assert set(data) == {"asks", "bids", "timestamp"} and isinstance(data["timestamp"], int)
    (ask, ask_size), (bid, bid_size) = data["asks"], data["bids"]
    assert all(_dec(x) for x in (ask, ask_size, bid, bid_size)) and float(bid) < float(ask)


@pytest.mark.parametrize("depth", [5, 50])
async def test_depth_snapshots(exchange, depth):
    """/spotMarket/level2DepthN: N levels each side, asks ascending, bids descending, ms timestamp."""
    topic = f"/spotMarket/level2Depth{depth}:ETH-USDT"
    data = await _first_push(exchange, topic, topic, "level2")
    assert set(data) == {"asks", "bids", "timestamp"}
    asks = [float(p) for p, _ in data["asks"]]
    bids = [float(p) for p, _ in data["bids"]]
    assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
    assert 0 < len(asks) <= depth and 0 < len(bids) <= depth
    assert all(_dec(p) and _dec(s) for p, s in data["asks"] + data["bids"])


async def test_match(exchange):
    """/market/match: taker side, string ns time, string sequence and trade id, order ids."""
    data = await _first_push(exchange, "/market/match:BTC-USDT", "/market/match:BTC-USDT", "trade.l3match")
    assert set(data) == {
        "makerOrderId",
        "price",
        "sequence",
        "side",
        "size",
        "symbol",
        "takerOrderId",
        "time",
        "tradeId",
        "type",
    }
    assert data["type"] == "match" and data["side"] in ("buy", "sell") and data["symbol"] == "BTC-USDT"
    assert isinstance(data["time"], str) and len(data["time"]) == 19
    assert _dec(data["price"]) and _dec(data["size"]) and data["sequence"].isdigit()
    assert (
        re.fullmatch(r"[0-9a-f]{24}", data["makerOrderId"]) and data["makerOrderId"] != data["takerOrderId"]
    )


async def test_candles(exchange):
    """/market/candles:{sym}_{type}: the current bucket as 7 strings, ns time."""
    topic = "/market/candles:BTC-USDT_1min"
    data = await _first_push(exchange, topic, topic, "trade.candles.update")
    assert set(data) == {"symbol", "candles", "time"}
    start, o, c, h, low, vol, turnover = data["candles"]
    assert int(start) % 60 == 0 and all(_dec(x) for x in (o, c, h, low, vol, turnover))
    assert float(low) <= min(float(o), float(c)) <= max(float(o), float(c)) <= float(h)
    assert isinstance(data["time"], int) and data["time"] > 10**18


async def test_snapshot(exchange):
    """/market/snapshot:{sym}: string sequence, numbers (not strings) inside data.data."""
    topic = "/market/snapshot:BTC-USDT"
    data = await _first_push(exchange, topic, topic, "trade.snapshot")
    assert set(data) == {"sequence", "data"} and data["sequence"].isdigit()
    inner = data["data"]
    for key in (
        "buy",
        "sell",
        "high",
        "low",
        "vol",
        "volValue",
        "lastTradedPrice",
        "changeRate",
        "askSize",
        "bidSize",
    ):
        assert isinstance(inner[key], (int, float)), key
    assert (
        inner["symbol"] == "BTC-USDT" and inner["baseCurrency"] == "BTC" and inner["quoteCurrency"] == "USDT"
    )
    assert isinstance(inner["datetime"], int) and inner["trading"] is True
    assert set(inner["marketChange24h"]) == {
        "changePrice",
        "changeRate",
        "high",
        "low",
        "open",
        "vol",
        "volValue",
    }


async def test_rest_snapshot_plus_pushes_tracks_the_server_book(exchange):
    """KuCoin's sync recipe end to end: buffer level2, REST snapshot, replay -> equals the server's book."""
    from kunb.sim.core.orderbook import Side

    ws = await open_ws(exchange.url)
    await request(ws, {"id": "s", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True})
    first = await wait_for(ws, lambda m: m.get("type") == "message")
    async with httpx.AsyncClient(base_url=exchange.url) as c:
        snap = (await c.get("/api/v1/market/orderbook/level2_100", params={"symbol": "BTC-USDT"})).json()[
            "data"
        ]
    book = exchange.core.market("BTC-USDT").book
    seq = int(snap["sequence"])
    assert first["data"]["sequenceStart"] <= seq + 1
    local = {"bids": {p: s for p, s in snap["bids"]}, "asks": {p: s for p, s in snap["asks"]}}
    spec = exchange.core.market("BTC-USDT").spec
    compared = 0
    pending = [first]
    while compared < 3:
        msg = pending.pop() if pending else await wait_for(ws, lambda m: m.get("type") == "message")
        data = msg["data"]
        if data["sequenceEnd"] <= seq:
            continue
        assert data["sequenceStart"] <= seq + 1, "gap"
        for side in ("asks", "bids"):
            for price, size, row_seq in data["changes"][side]:
                if int(row_seq) <= seq or price == "0":
                    continue
                if size == "0":
                    local[side].pop(price, None)
                else:
                    local[side][price] = size
        seq = data["sequenceEnd"]
        if seq == exchange.sequence("BTC-USDT"):  # nothing moved since this push: compare with the server
            server = exchange.snapshot("BTC-USDT")
            assert local["bids"] == dict(server["bids"]) and local["asks"] == dict(server["asks"])
            assert {spec.to_ticks(p) for p in local["bids"]} == {p for p, _ in book.depth(Side.BUY)}
            compared += 1
    await ws.close()


async def test_depth_pushed_only_on_change():
    """A change below the top 5 levels sends no level2Depth5 push; a change in them does (2.1)."""
    from kunb.sim import Exchange
    from kunb.sim.core.orderbook import Side

    async with Exchange(symbols=["BTC-USDT"], rate=0, tick_ms=20) as ex:
        ws = await open_ws(ex.url)
        topic = "/spotMarket/level2Depth5:BTC-USDT"
        await request(ws, {"id": "s", "type": "subscribe", "topic": topic, "response": True})
        book = ex.core.market("BTC-USDT").book
        spec = ex.core.market("BTC-USDT").spec
        best = book.best_bid()[0]
        book.add_limit(Side.BUY, best, 7)  # top level: pushed
        ex.publish()
        first = await wait_for(ws, lambda m: m.get("topic") == topic)
        deep = book.depth(Side.BUY)[-1][0]
        book.add_limit(Side.BUY, deep, 7)  # far below the top 5: no push
        ex.publish()
        book.add_limit(Side.SELL, book.best_ask()[0] + 1, 5)  # second ask level: pushed
        ex.publish()
        second = await wait_for(ws, lambda m: m.get("topic") == topic)
        assert first["data"]["bids"][0][0] == spec.price_str(best)
        assert second["data"]["asks"] != first["data"]["asks"]
        assert second["data"]["bids"] == first["data"]["bids"]
        await ws.close()
