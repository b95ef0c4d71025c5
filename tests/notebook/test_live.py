"""live_ticker on a running loop: returns at once, streams into the figure, replaces itself, stops cleanly."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from nbfakes import FakeMarketSource, symbol_item, ticker_msg
from support import until

import kunb.notebook as nb
from kunb.exceptions import SubscribeError
from kunb.notebook.runtime import live_objects
from kunb.notebook.status import Health
from kunb.sources.base import LinkStatus


def _prices(live) -> list[float]:
    return live.panel.figure.columns(0).get("y", []).tolist()


async def test_live_ticker_returns_at_once_and_streams_into_the_figure(fake_source):
    """The call returns before any data; pushed tickers then reach the figure through the throttle."""
    live = nb.live_ticker(["BTC-USDT"], source=fake_source, max_hz=50)
    assert live.received == 0 and live.running
    await asyncio.wait_for(fake_source.started.wait(), 5)
    assert fake_source.subscribed == ["/market/ticker:BTC-USDT", "/market/snapshot:BTC-USDT"]
    for i in range(20):
        fake_source.push(ticker_msg("BTC-USDT", i))
    await until(lambda: len(_prices(live)) == 20)
    assert _prices(live)[-1] == 119.0
    assert live.health is Health.LIVE
    assert 'data-status="live"' in live.panel.badge.value
    assert live.throttle.renders < live.received  # coalesced: fewer frames than messages
    snap = live.snapshot()
    assert snap["symbols"]["BTC-USDT"]["price"] == 119.0 and snap["messages"] == 20
    assert len(live.df) == 20
    await live.aclose()


async def test_snapshot_push_fills_24h_change_and_volume(fake_source):
    """A /market/snapshot push (numbers in data.data) becomes 24 h change and volume."""
    live = nb.live_ticker("ETH-USDT", source=fake_source, max_hz=50)
    fake_source.push(
        {
            "type": "message",
            "topic": "/market/snapshot:ETH-USDT",
            "subject": "trade.snapshot",
            "data": {"sequence": "1", "data": {"symbol": "ETH-USDT", "changeRate": -0.02, "vol": 321.5}},
        }
    )
    await until(lambda: live.snapshot()["symbols"]["ETH-USDT"]["volume_24h"] == 321.5)
    await until(lambda: "-2.00%" in live.panel.table.value)
    await live.aclose()


async def test_the_badge_reads_stopped_from_stop_on_whatever_the_driver_still_says(fake_source):
    """Health is derived from the user's stop and the driver, never stored: from the moment stop()
    returns it reads stopped, before the tasks have ended, through a late link report of the driver
    winding down, and after wait_stopped() (issue 17: a badge said live after stop on a busy machine)."""
    live = nb.live_ticker(["BTC-USDT"], source=fake_source, max_hz=50)
    fake_source.push(ticker_msg("BTC-USDT", 1))
    await until(lambda: live.health is Health.LIVE)
    live.stop()
    assert live.running and live.health is Health.STOPPED  # the tasks have not ended yet
    fake_source.set_link(LinkStatus.RESTORED, "late")
    assert live.health is Health.STOPPED
    await live.wait_stopped()
    assert live.health is Health.STOPPED and 'data-status="stopped"' in live.panel.badge.value


async def test_stop_ends_every_task_and_closes_the_source(fake_source):
    """stop() cancels the driver and render tasks, which closes the source; the badge then reads stopped."""
    live = nb.live_ticker(["BTC-USDT"], source=fake_source)
    await asyncio.wait_for(fake_source.started.wait(), 5)
    tasks = live.tasks
    assert len(tasks) == 2
    live.stop()
    await live.wait_stopped()
    assert all(t.done() for t in tasks) and not live.running
    assert fake_source.active == 0 and fake_source.closed.is_set()
    assert 'data-status="stopped"' in live.panel.badge.value
    assert live not in live_objects()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]


async def test_rerunning_the_same_call_replaces_the_previous_object():
    """Ten calls with the same key leave exactly one open source."""
    sources = [FakeMarketSource() for _ in range(10)]
    lives = [nb.live_ticker(["BTC-USDT"], source=s) for s in sources]
    await asyncio.wait_for(sources[-1].started.wait(), 5)
    await asyncio.gather(*(lv.wait_stopped() for lv in lives[:-1]))
    assert sum(s.active for s in sources) == 1 and sources[-1].active == 1
    assert live_objects() == [lives[-1]]
    await lives[-1].aclose()


async def test_toggle_and_window_controls(fake_source):
    """The stop/start toggle stops the stream and opens the same source again; the window control bounds
    the series."""
    live = nb.live_ticker(["BTC-USDT"], source=fake_source, window=2000, max_hz=50)
    await asyncio.wait_for(fake_source.started.wait(), 5)
    live.panel.controls.toggle.value = False
    await live.wait_stopped()
    assert live.health is Health.STOPPED and fake_source.active == 0
    live.panel.controls.toggle.value = True
    await until(lambda: fake_source.runs == 2 and fake_source.active == 1)
    live.panel.controls.window.value = 500
    for i in range(600):
        fake_source.push(ticker_msg("BTC-USDT", i))
    await until(lambda: live.model.messages == 600)
    await until(lambda: len(_prices(live)) == 500)
    await live.aclose()


async def test_symbol_picker_resubscribes(fake_source):
    """Typing other symbols restarts the stream on their topics with a new figure."""
    live = nb.live_ticker(["BTC-USDT"], source=fake_source, max_hz=50)
    await asyncio.wait_for(fake_source.started.wait(), 5)
    live.panel.controls.symbols.value = "eth-usdt, ada-usdt"
    await until(lambda: fake_source.runs == 2 and fake_source.active == 1)
    assert fake_source.subscribed[0] == "/market/ticker:ETH-USDT,ADA-USDT"
    assert live.symbols == ["ETH-USDT", "ADA-USDT"]
    await live.aclose()


async def test_source_failure_is_shown_not_hidden():
    """A source that cannot subscribe stops the object and the badge shows the error."""

    class Broken(FakeMarketSource):
        async def open(self, channels, on_frame, on_link, *, within):
            raise SubscribeError(404, "unknown symbol XYZ-USDT")

    live = nb.live_ticker(["XYZ-USDT"], source=Broken())
    await live.wait_stopped()
    assert live.health is Health.STOPPED
    assert "unknown symbol XYZ-USDT" in live.panel.badge.value


def test_in_a_script_a_helper_thread_runs_the_loop():
    """Without a running loop, the live object runs on kunb's helper thread and the call returns."""
    live = None
    try:
        source = FakeMarketSource()
        live = nb.live_ticker(["BTC-USDT"], source=source, max_hz=50)
        assert any(t.name == "kunb-loop" for t in threading.enumerate())
        source.opened.wait(5)
        assert source.opened.is_set()
        source.push(ticker_msg("BTC-USDT", 1))  # from this thread: handed to the helper loop
        tick = threading.Event()  # never set: wait(0.01) is a bounded poll interval
        for _ in range(500):
            if live.model.messages == 1:
                break
            tick.wait(0.01)
        assert live.model.messages == 1
    finally:
        if live is not None:
            asyncio.run(live.aclose())
    assert not live.running


@pytest.mark.parametrize("symbols", [[], ""])
def test_no_symbols_is_a_clear_error(symbols, fake_source):
    """live_ticker without symbols raises ConfigurationError before starting anything."""
    from kunb.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError):
        nb.live_ticker(symbols or [], source=fake_source)


def _quote(symbol: str, bid: str, ask: str, vol: str) -> list[dict]:
    """A ticker push and a 24 h snapshot push of ``symbol``."""
    tick = {
        "type": "message",
        "topic": f"/market/ticker:{symbol}",
        "subject": "trade.ticker",
        "data": {"sequence": "1", "price": ask, "size": "0.00000044", "bestBid": bid, "bestBidSize": "1",
                 "bestAsk": ask, "bestAskSize": "0.00000044", "time": 1_700_000_000_000},
    }  # fmt: skip
    stats = {
        "type": "message",
        "topic": f"/market/snapshot:{symbol}",
        "subject": "trade.snapshot",
        "data": {"sequence": "1", "data": {"symbol": symbol, "changeRate": 0.01, "vol": vol}},
    }
    return [tick, stats]


async def test_numbers_shown_are_rounded_to_the_symbols_increments():
    """67254.7 - 67254.1 is 0.5999999999985448 in floats: the snapshot and the quotes table show 0.6 (the
    price increment 0.1), volumes to the size increment (the table: at most 4 decimals of it); the
    DataFrame keeps the raw floats."""
    source = FakeMarketSource(symbol_items=[symbol_item("BTC-USDT", price_increment="0.1")])
    live = nb.live_ticker(["BTC-USDT"], source=source, max_hz=50)
    await until(lambda: "BTC-USDT" in live.stream.symbol_info)
    for frame in _quote("BTC-USDT", "67254.1", "67254.7", "2.07994970000001"):
        source.push(frame)
    await until(lambda: live.snapshot()["symbols"]["BTC-USDT"]["volume_24h"] is not None)
    btc = live.snapshot()["symbols"]["BTC-USDT"]
    assert btc["spread"] == 0.6 and btc["bid"] == 67254.1 and btc["volume_24h"] == 2.0799497, btc
    assert btc["spread_bps"] == 0.09, btc
    row = live.stream.snapshot().loc["BTC-USDT"]
    assert row["spread"] == 0.6 and row["mid"] == 67254.4 and row["volume_24h"] == 2.0799497
    await until(lambda: ">0.6<" in live.panel.table.value)
    assert re.search(r'<td class="kunb-spread[^"]*" data-value="[^"]*">0\.6<', live.panel.table.value)
    assert ">2.0799<" in live.panel.table.value  # the size increment's decimals, at most 4 in the table
    assert live.df["spread"].iloc[-1] == 67254.7 - 67254.1  # frames keep raw floats for computation
    await live.aclose()
