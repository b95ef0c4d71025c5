"""The record toggle of a live panel: pressing it records the panel's stream from its first frame (the
driver restarts), the label shows files and size, pressing it again closes the files; the recording
replays; a recording that drops events says so on the badge."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nbfakes import FakeAccountSource, FakeMarketSource, ticker_msg
from support import until

import kunb
import kunb.notebook as nb
from kunb.model.book import BookState
from kunb.notebook.record import RecordToggle, record_label_html
from kunb.notebook.status import Health
from kunb.record import Recording
from kunb.record.worker import WriterState


async def test_the_toggle_records_the_panel_and_the_recording_replays(
    exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default directory is recordings/ beside the notebook
    live = nb.live_book("BTC-USDT", url=exchange.url, max_hz=50)
    await until(lambda: live.health is Health.LIVE, timeout=15)
    first_driver = live.driver
    toggle = live.record_toggle()
    assert isinstance(toggle, RecordToggle) and live.record_toggle() is toggle
    assert toggle.widget in live.panel.controls.box.children  # on the panel's control row
    assert 'data-recording="false"' in toggle.label.value

    toggle.toggle.value = True  # the user presses "record"
    recording = live.recording
    assert recording is not None and recording.out.parent == Path("recordings")
    assert recording.out.name.startswith("book-")
    await until(lambda: live.driver is not first_driver and live.health is Health.LIVE, timeout=15)
    assert live.driver.recording is recording  # a new driver: it records from its first frame
    await until(lambda: recording.stats().events >= 50, timeout=20)
    await until(lambda: 'data-recording="true"' in toggle.label.value, timeout=5)
    assert "recording:" in toggle.label.value and "MB" in toggle.label.value

    toggle.toggle.value = False  # pressed again: recording stops, the files close, the panel goes on
    assert live.recording is None
    await until(lambda: recording.state is WriterState.CLOSED, timeout=30)
    await until(lambda: live.health is Health.LIVE and live.driver.recording is None, timeout=15)
    assert 'data-recording="false"' in toggle.label.value
    assert recording.stats().files > 0
    await live.aclose()

    replayed = kunb.replay(tmp_path / recording.out)
    async with replayed:
        await replayed.source.wait_finished(30)  # type: ignore[attr-defined]
    assert replayed.books["BTC-USDT"].state is BookState.LIVE


async def test_dropped_recording_events_are_on_the_badge(tmp_path: Path) -> None:
    source = FakeMarketSource()
    live = nb.live_ticker(["BTC-USDT"], source=source, max_hz=50)
    await asyncio.wait_for(source.started.wait(), 5)
    recording = Recording(tmp_path / "tiny", capacity=1, flush_interval=60)  # one event per queue
    live.record(recording)
    await until(lambda: live.driver.recording is recording and live.running, timeout=10)
    await asyncio.wait_for(source.started.wait(), 5)
    for i in range(50):
        source.push(ticker_msg("BTC-USDT", i))
    await until(lambda: recording.stats().dropped > 0, timeout=10)
    await until(lambda: "recording dropped" in live.panel.badge.value, timeout=10)
    assert "queue full" in live.status().detail
    toggle = live.record_toggle()
    assert toggle.toggle.value is True and "dropped</b> (queue full)" in toggle.label.value
    assert f'data-dropped="{recording.stats().dropped}"' in record_label_html(recording.stats(), "x")
    await live.aclose()
    assert live.recording is None and recording.state is WriterState.CLOSED


async def test_a_stopped_panel_records_from_its_next_start(tmp_path: Path) -> None:
    source = FakeMarketSource()
    live = nb.live_ticker(["BTC-USDT"], source=source, max_hz=50)
    await asyncio.wait_for(source.started.wait(), 5)
    live.stop()
    await live.wait_stopped()
    recording = live.record(tmp_path / "later")
    assert not live.running and recording.state is WriterState.RUNNING  # nothing restarted
    live.start()
    await until(lambda: live.running and live.driver.recording is recording, timeout=10)
    source.push(ticker_msg("BTC-USDT", 1))
    await until(lambda: recording.stats().events >= 1, timeout=10)
    live.stop()
    await live.wait_stopped()
    live.stop_recording()  # a stopped panel: the files close at once
    await until(lambda: recording.state is WriterState.CLOSED, timeout=30)
    await live.aclose()


@pytest.mark.parametrize("panel", ["ticker", "book", "candles", "trades", "account"])
async def test_every_panel_shows_its_record_toggle_on_its_control_row(panel: str) -> None:
    source = FakeMarketSource()
    make = {
        "ticker": lambda: nb.live_ticker(["BTC-USDT"], source=source),
        "book": lambda: nb.live_book("BTC-USDT", source=source),
        "candles": lambda: nb.live_candles("BTC-USDT", source=source),
        "trades": lambda: nb.live_trades(["BTC-USDT"], source=source),
    }
    creds = kunb.Credentials("key", "secret", "passphrase")
    live = nb.live_account(creds, source=FakeAccountSource()) if panel == "account" else make[panel]()
    try:
        assert live.record_toggle().widget in live.panel.controls.box.children
    finally:
        await live.aclose()
