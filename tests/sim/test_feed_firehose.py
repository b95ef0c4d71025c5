"""Firehose mode: pre-framed level2 pushes as fast as the client reads, contiguous and true to the book."""

from __future__ import annotations

import random

import httpx
import orjson
from simclient import open_ws, request

from kunb.sim import Exchange
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.orderbook import Side
from kunb.sim.core.symbols import catalogue
from kunb.sim.feed.firehose import Firehose, ws_text_frame


def _payload(frame: bytes) -> bytes:
    n = frame[1]
    return frame[2:] if n < 126 else frame[4:] if n == 126 else frame[10:]


def test_ws_text_frame_lengths():
    """Server frames: FIN+text opcode, unmasked, 7/16/64-bit lengths (RFC 6455 5.2)."""
    assert ws_text_frame(b"x" * 5)[:2] == b"\x81\x05"
    assert ws_text_frame(b"x" * 300)[:4] == b"\x81\x7e\x01\x2c"
    assert ws_text_frame(b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")


def test_firehose_frames_replay_to_the_server_book():
    """A snapshot plus the firehose pushes rebuilds the server's book exactly; pushes are contiguous."""
    core = ExchangeCore(catalogue(["ETH-USDT"]), seed=9, now_ns=10**18)
    core.collect()
    market = core.market("ETH-USDT")
    spec, book = market.spec, market.book
    local = {"bids": dict(book.depth(Side.BUY)), "asks": dict(book.depth(Side.SELL))}
    seq = book.sequence
    for frame in Firehose(market, random.Random(1)).frames(3_000, 1):
        msg = orjson.loads(_payload(frame))
        assert msg["topic"] == "/market/level2:ETH-USDT" and msg["subject"] == "trade.l2update"
        data = msg["data"]
        assert data["sequenceStart"] == seq + 1
        seq = data["sequenceEnd"]
        for side in ("bids", "asks"):
            for price, size, _ in data["changes"][side]:
                if size == "0":
                    local[side].pop(spec.to_ticks(price), None)
                else:
                    local[side][spec.to_ticks(price)] = spec.to_lots(size)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid[0] < ask[0]
    assert seq == book.sequence
    assert local == {"bids": dict(book.depth(Side.BUY)), "asks": dict(book.depth(Side.SELL))}


async def test_firehose_exchange_streams_contiguous_level2():
    """Exchange(firehose=...) sends thousands of contiguous level2 pushes quickly to a subscriber."""
    async with Exchange(symbols=["BTC-USDT"], firehose=500) as ex:
        ws = await open_ws(ex.url)
        await request(
            ws, {"id": "s", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True}
        )
        last = None
        n = 0
        while n < 5_000:
            msg = orjson.loads(await ws.recv())
            if msg.get("type") != "message":
                continue
            if last is not None:
                assert msg["data"]["sequenceStart"] == last + 1
            last = msg["data"]["sequenceEnd"]
            n += 1
        # Unsubscribe and read up to the ack, so the backlog is consumed before closing (a client
        # that stops reading holds its own close handshake behind the unread pushes).
        unsub = {"id": "u", "type": "unsubscribe", "topic": "/market/level2:BTC-USDT", "response": True}
        assert (await request(ws, unsub))["id"] == "u"
        async with httpx.AsyncClient(base_url=ex.url) as c:
            r = await c.get("/api/v1/market/orderbook/level2_20", params={"symbol": "BTC-USDT"})
        assert int(r.json()["data"]["sequence"]) >= last
        await ws.close()
