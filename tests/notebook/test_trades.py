"""live_trades: the tape shows the newest trades first, coloured by side, with readable sizes."""

from __future__ import annotations

import asyncio
import re

import httpx
from nbfakes import trade_msg
from support import until

import kunb.notebook as nb
from kunb.notebook.formats import Precision
from kunb.notebook.status import Health
from kunb.notebook.tradespanel import TapeRow, tape_table


def test_tape_rows_are_coloured_by_side_with_sizes_readable():
    rows = [
        TapeRow(1_700_000_000_123_000_000, "BTC-USDT", "sell", 67_255.3, 0.00012, "t2"),
        TapeRow(1_700_000_000_000_000_000, "BTC-USDT", "buy", 67_255.2, 1.5, "t1"),
    ]
    html = tape_table(rows, lambda s: Precision(price=1, size=8))
    first, second = re.findall(r"<tr data-trade-id=.*?</tr>", html)
    assert 'data-trade-id="t2" data-side="sell"' in first and 'data-trade-id="t1" data-side="buy"' in second
    assert ">0.00012<" in first and ">67,255.3<" in first and "2023-11-14 22:13:20.123 UTC" in first
    assert "color:#b42318" in first and "color:#1a7f37" in second
    assert ">1.5<" in second and ">100,882.80<" in second  # value in the quote currency


async def test_the_tape_follows_pushed_trades(fake_source):
    live = nb.live_trades("BTC-USDT", source=fake_source, rows=3, max_hz=50)
    await asyncio.wait_for(fake_source.started.wait(), 5)
    assert fake_source.subscribed == ["/market/match:BTC-USDT"]
    for i in range(5):
        fake_source.push(trade_msg("BTC-USDT", i, side="buy" if i % 2 else "sell", size=0.1 * (i + 1)))
    await until(lambda: 'data-trade-id="t4"' in live.panel.tape.value)
    ids = re.findall(r'data-trade-id="(t\d)"', live.panel.tape.value)
    assert ids == ["t4", "t3", "t2"]  # newest first, three rows
    assert [t["trade_id"] for t in live.snapshot()["trades"]] == ["t4", "t3", "t2"]
    assert len(live.df) == 5 and live.health is Health.LIVE
    assert 'data-buy="0.4"' in live.panel.tape.value  # t3 bought 0.4 (of the trades shown)
    await live.aclose()


async def test_trades_on_the_embedded_exchange_are_its_trades(exchange):
    """Every trade on the tape is one the exchange lists in its recent trades; a bad symbol is named and
    left out while the good one streams."""
    live = nb.live_trades(["BTC-USDT", "NOPE-USDT"], url=exchange.url, max_hz=50)
    await until(lambda: len(live.snapshot()["trades"]) >= 3, timeout=10)
    assert live.symbols == ["BTC-USDT"] and "NOPE-USDT" in live.notice
    tape = live.snapshot()["trades"]
    async with httpx.AsyncClient(base_url=exchange.url) as http:
        recent = (await http.get("/api/v1/market/histories", params={"symbol": "BTC-USDT"})).json()["data"]
    listed = {(float(t["price"]), float(t["size"]), t["side"]) for t in recent}
    assert all((t["price"], t["size"], t["side"]) in listed for t in tape[:3])
    await live.aclose()
