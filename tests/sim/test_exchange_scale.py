"""Thousands of symbols: ticker:all covers them, allTickers lists them, the feed keeps up."""

from __future__ import annotations

import httpx
from simclient import open_ws, request, wait_for

from kunb.sim import Exchange


async def test_ticker_all_over_1500_symbols():
    """With 1,500 pairs (KuCoin's ticker:all size), pushes arrive for most of them within seconds."""
    async with Exchange(symbols=1500, seed=2, tick_ms=100) as ex:
        async with httpx.AsyncClient(base_url=ex.url, timeout=10) as c:
            tickers = (await c.get("/api/v1/market/allTickers")).json()["data"]["ticker"]
        assert len(tickers) == 1500 and len({t["symbol"] for t in tickers}) == 1500
        ws = await open_ws(ex.url)
        await request(ws, {"id": "a", "type": "subscribe", "topic": "/market/ticker:all", "response": True})
        seen: set[str] = set()
        while len(seen) < 750:
            msg = await wait_for(ws, lambda m: m.get("type") == "message", within=10)
            assert msg["topic"] == "/market/ticker:all"
            seen.add(msg["subject"])
        await ws.close()
