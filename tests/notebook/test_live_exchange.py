"""live_ticker on the classic protocol against the embedded exchange: data, truthful badge, clean stop."""

from __future__ import annotations

import asyncio
import socket

import httpx
from support import until

import kunb.notebook as nb
from kunb.events import Integrity
from kunb.notebook.status import Health


async def test_live_ticker_streams_the_exchange_quotes(exchange):
    """Prices, bid/ask and 24 h stats reach the model; the spread matches the exchange's level 1."""
    live = nb.live_ticker(["BTC-USDT", "ETH-USDT"], url=exchange.url, max_hz=20)
    await until(lambda: live.health is Health.LIVE and live.model.messages >= 10, timeout=10)
    await until(lambda: live.snapshot()["symbols"]["BTC-USDT"]["volume_24h"] is not None, timeout=10)
    await until(lambda: len(live.panel.figure.columns(0).get("y", [])) >= 5, timeout=10)
    snap = live.snapshot()["symbols"]["BTC-USDT"]
    assert snap["bid"] < snap["ask"]
    assert live.simulated and 'data-simulated="true"' in live.panel.badge.value  # kunb.sim knows its URL
    async with httpx.AsyncClient(base_url=exchange.url) as http:
        stats = (await http.get("/api/v1/market/stats", params={"symbol": "BTC-USDT"})).json()["data"]
    assert float(stats["vol"]) >= snap["volume_24h"] > 0
    await live.aclose()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]


async def test_badge_reports_reconnecting_then_live_after_a_drop(exchange):
    """An abrupt disconnect shows reconnecting (not live) when the panel is told of the outage, then live
    again once resubscribed."""
    seen: list[tuple[str, Health]] = []  # (integrity event, what the badge says as the panel is told of it)
    live = nb.live_ticker(["BTC-USDT"], url=exchange.url, max_hz=50)
    await until(lambda: live.health is Health.LIVE, timeout=10)

    def record(event) -> None:
        if isinstance(event, Integrity):
            seen.append((event.kind, live.health))

    live.stream.add_sink(record)
    exchange.faults.disconnect(abrupt=True)
    await until(lambda: ("outage", Health.RECONNECTING) in seen, timeout=10)
    await until(lambda: seen[-1] == ("reconnected", Health.LIVE), timeout=15)
    await until(lambda: live.health is Health.LIVE, timeout=5)
    assert live.stream.connection.counters.reconnects >= 1
    await live.aclose()


async def test_unreachable_exchange_is_said_plainly_while_retrying():
    """With nothing listening, the badge says unreachable and how to start the embedded exchange."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    live = nb.live_ticker(["BTC-USDT"], url=f"http://127.0.0.1:{port}", max_hz=50)
    await until(lambda: live.health is Health.UNREACHABLE, timeout=10)
    await until(lambda: "kunb.sim.start()" in live.panel.badge.value, timeout=5)
    connection = live.stream.connection
    await until(lambda: connection.counters.reconnects >= 1, timeout=10)  # dialed again after the failure
    assert live.running and live.health is Health.UNREACHABLE  # still retrying, still said plainly
    await live.aclose()


async def test_an_unknown_symbol_is_named_and_the_good_ones_stream(exchange):
    """The trial's bug: an unknown symbol stopped every symbol and showed a negative rate. Now it is left
    out and named in the badge, the others stream, and the rate is a rate."""
    live = nb.live_ticker(["BTC-USDT", "NOPE-USDT", "ETH-USDT"], url=exchange.url, max_hz=50)
    await until(lambda: live.health is Health.LIVE and live.model.messages >= 20, timeout=10)
    assert live.symbols == ["BTC-USDT", "ETH-USDT"]
    assert "NOPE-USDT" in live.notice and "900001" in live.notice
    assert 'class="kunb-notice"' in live.panel.badge.value and "NOPE-USDT" in live.panel.badge.value
    await until(lambda: live.msg_rate > 0, timeout=10)
    assert live.panel.figure.trace_count == 4  # two symbols drawn, the unknown one is not
    # typing another unknown symbol keeps the good one streaming too
    live.set_symbols(["ETH-USDT", "ALSO-BAD"])
    await until(lambda: live.symbols == ["ETH-USDT"] and live.health is Health.LIVE, timeout=10)
    messages = live.model.messages
    await until(lambda: live.model.messages > messages + 5, timeout=10)
    assert live.msg_rate >= 0 and "ALSO-BAD" in live.notice
    await live.aclose()


async def test_only_unknown_symbols_stop_the_panel_with_their_names(exchange):
    live = nb.live_ticker(["NOPE-USDT"], url=exchange.url)
    await live.wait_stopped()
    assert live.health is Health.STOPPED
    assert "nothing to stream" in live.panel.badge.value and "NOPE-USDT" in live.panel.badge.value
