"""kunb.replay: a recording played back through the same decoder and driver gives the books and frames
the live run had (classic against kunb.sim, gaps and a dropped link included; UTA against the scripted
UTA server), at full speed or at N x the recorded pace; the real 2021 KuCoin session, imported, replays
into books that agree with its recorded tickers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from recordkit import RECORDED
from utafeed import UtaFeed, obu, ticker

import kunb
from kunb.events import BookDelta, BookSnapshot, Integrity, Tick
from kunb.exceptions import ConfigurationError, SubscribeError
from kunb.model.book import BookState
from kunb.record.importer import import_cryptofeed
from kunb.record.raw import read_recording
from kunb.sources.replay import RecordedSnapshot, ReplaySource
from kunb.stream import Stream

SYMBOLS = ["BTC-USDT", "ETH-USDT"]
UTA_FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 2.0}


def watch_tops(stream: Stream, tops: dict[tuple[str, int], Any]) -> None:
    """After every delta or snapshot applied to a live book: its top 5 levels at its sequence."""

    def sink(event: Any) -> None:
        if event.__class__ in (BookDelta, BookSnapshot):
            book = stream.books.get(event.symbol)
            if book is not None and book.state is BookState.LIVE:
                tops[(event.symbol, book.last_sequence)] = book.top(5)

    stream.add_sink(sink)


def watch_integrity(stream: Stream, seen: list[Integrity]) -> None:
    stream.add_sink(lambda e: seen.append(e) if e.__class__ is Integrity else None)


async def replay_all(out: Path, **options: Any) -> tuple[Stream, dict[tuple[str, int], Any], list[Integrity]]:
    stream = kunb.replay(out, **options)
    tops: dict[tuple[str, int], Any] = {}
    integrity: list[Integrity] = []
    watch_tops(stream, tops)
    watch_integrity(stream, integrity)
    async with stream:
        await stream.source.wait_finished(60)  # type: ignore[attr-defined]
    return stream, tops, integrity


def same_tops(live: dict, replayed: dict) -> None:
    """Identical tops at every sequence both saw; the replay saw (nearly) every sequence the live run saw:
    a frame taken off the socket before a snapshot's answer but dispatched after it is buffered in the
    replay instead (its sequence applies inside the snapshot's replay, so no top is taken at it)."""
    common = live.keys() & replayed.keys()
    assert len(common) >= 0.95 * len(live) and len(common) > 100, (len(live), len(replayed), len(common))
    differing = [key for key in common if live[key] != replayed[key]]
    assert differing == []


def frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The rolling frames hold the same rows (the receive time is the recorded one in a replay)."""
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


async def test_a_live_run_and_its_replay_give_identical_book_tops_at_every_sequence(exchange, tmp_path):
    out = tmp_path / "session"
    live_tops: dict[tuple[str, int], Any] = {}
    live_integrity: list[Integrity] = []
    stream = Stream(SYMBOLS, url=exchange.url, credentials=exchange.credentials, record_to=out, span=None)
    watch_tops(stream, live_tops)
    watch_integrity(stream, live_integrity)
    async with stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: s.trades is not None and s.trades.appended >= 20, 30)
        exchange.faults.skip_level2(pushes=1, symbol="ETH-USDT")  # a gap: resync from a new snapshot
        await stream.wait_for(lambda s: s.books["ETH-USDT"].stats.resyncs >= 1 and s.live, 30)
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 200, 30)
    assert stream.recording is not None and stream.recording.state.value == "closed"

    replayed, tops, integrity = await replay_all(out)
    assert replayed.protocol == "replay" and replayed.source.recorded_protocol == "classic"  # type: ignore[attr-defined]
    same_tops(live_tops, tops)
    for symbol in SYMBOLS:
        live_book, book = stream.books[symbol], replayed.books[symbol]
        assert book.state is BookState.LIVE and book.last_sequence == live_book.last_sequence
        assert book.top(50) == live_book.top(50)
        assert book.stats.resyncs == live_book.stats.resyncs
    assert [(e.kind, e.symbol) for e in integrity if e.kind == "gap"] == [("gap", "ETH-USDT")]
    assert [(e.kind, e.symbol) for e in live_integrity if e.kind == "gap"] == [("gap", "ETH-USDT")]
    assert stream.ticks is not None and replayed.ticks is not None
    frames_equal(stream.ticks.df, replayed.ticks.df)
    assert stream.trades is not None and replayed.trades is not None
    frames_equal(stream.trades.df, replayed.trades.df)


async def test_a_dropped_link_in_the_recording_resyncs_the_replayed_books_as_it_did_live(exchange, tmp_path):
    out = tmp_path / "outage"
    live_tops: dict[tuple[str, int], Any] = {}
    stream = Stream(
        SYMBOLS, url=exchange.url, credentials=exchange.credentials, record_to=out, backoff_base=0.05
    )
    watch_tops(stream, live_tops)
    async with stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 60, 30)
        assert exchange.faults.disconnect(abrupt=True) >= 1
        await stream.wait_for(lambda s: s.books["BTC-USDT"].stats.resyncs >= 1 and s.live, 30)
        seen = stream.ticks.appended if stream.ticks is not None else 0
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= seen + 100, 30)

    replayed, tops, integrity = await replay_all(out)
    kinds = [e.kind for e in integrity]
    assert "outage" in kinds and "reconnected" in kinds
    assert kinds.index("outage") < kinds.index("reconnected")
    same_tops(live_tops, tops)
    for symbol in SYMBOLS:
        assert replayed.books[symbol].state is BookState.LIVE
        assert replayed.books[symbol].top(20) == stream.books[symbol].top(20)


async def test_replay_at_n_times_speed_follows_the_recorded_pace(exchange, tmp_path):
    out = tmp_path / "paced"
    async with Stream(SYMBOLS, url=exchange.url, record_to=out, book=False, stats=False) as stream:
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 1, 15)
        first = time.monotonic()
        await stream.wait_for(lambda s: time.monotonic() - first >= 1.5, 15)
    stamps = [record["t"] for _, record in read_recording(out) if record["k"] == "recv"]
    span = (stamps[-1] - stamps[0]) / 1e9
    assert span >= 1.5
    started = time.monotonic()
    paced, _, _ = await replay_all(out, speed=4.0)
    took = time.monotonic() - started
    assert took >= span / 4 * 0.9, (took, span)  # never ahead of the recorded pace
    assert paced.ticks is not None and stream.ticks is not None
    assert paced.ticks.appended == stream.ticks.appended
    started = time.monotonic()
    await replay_all(out)  # as fast as possible: far quicker than the recording took
    assert time.monotonic() - started < span


async def test_symbols_and_channels_can_be_chosen(exchange, tmp_path):
    out = tmp_path / "choose"
    async with Stream(SYMBOLS, url=exchange.url, record_to=out, candles="1min") as stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: s.trades is not None and s.trades.appended >= 10, 30)
    replayed = kunb.replay(out)
    assert replayed.symbols == SYMBOLS and replayed.channels.candles == "1min" and replayed.channels.stats
    one, _, _ = await replay_all(out, symbols="ETH-USDT", ticker=False)
    assert list(one.books) == ["ETH-USDT"] and one.ticks is None
    assert one.trades is not None and set(one.trades.df["symbol"].astype(str)) == {"ETH-USDT"}
    with pytest.raises(ConfigurationError, match="did not record DOGE-USDT"):
        kunb.replay(out, symbols=["DOGE-USDT"])
    with pytest.raises(ConfigurationError, match="speed"):
        kunb.replay(out, speed=0)
    with pytest.raises(ConfigurationError, match="no raw layer"):
        kunb.replay(tmp_path / "nothing")
    with pytest.raises(ConfigurationError, match="record before starting"):
        stream.record(tmp_path / "late")


async def test_a_replay_is_its_own_symbol_list(exchange, tmp_path):
    """symbols() of the source seam: the recording's symbol-list answers give the increments of what it
    holds, a symbol it does not hold is unlisted, so a Stream over it is refused naming that symbol."""
    out = tmp_path / "listed"
    async with Stream(SYMBOLS, url=exchange.url, record_to=out) as stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: set(s.symbol_info) == set(SYMBOLS), 10)
    listed = await ReplaySource(out).symbols([*SYMBOLS, "DOGE-USDT"])
    assert listed == {**stream.symbol_info, "DOGE-USDT": None}
    refused = Stream([*SYMBOLS, "DOGE-USDT"], source=ReplaySource(out))
    with pytest.raises(SubscribeError, match="DOGE-USDT is not a symbol") as caught:
        await refused.astart()
    await refused.aclose()
    assert caught.value.symbols == ("DOGE-USDT",)


async def test_a_uta_recording_replays_through_the_uta_decoder(tmp_path):
    out = tmp_path / "uta"
    book = (10, [("100", "1"), ("99", "2")], [("101", "1"), ("102", "3")])
    live_tops: dict[tuple[str, int], Any] = {}
    async with UtaFeed() as feed:
        feed.books["BTC-USDT"] = book
        stream = Stream("BTC-USDT", protocol="uta", ws_url=feed.url, stats=False, record_to=out, **UTA_FAST)
        watch_tops(stream, live_tops)
        async with stream:
            await stream.wait_live(5)
            sequence = 10
            for step in range(150):
                sequence += 1
                price = f"{100 + (step % 7) * 0.1:.1f}"
                await feed.push(obu("delta", sequence, sequence, bids=[(price, str(step % 4))]))
                if step % 10 == 0:
                    await feed.push(ticker(price=price))
            await stream.wait_for(lambda s: s.books["BTC-USDT"].last_sequence == sequence, 5)
    replayed, tops, _ = await replay_all(out)
    assert replayed.source.recorded_protocol == "uta"  # type: ignore[attr-defined]
    assert replayed.books["BTC-USDT"].top(10) == stream.books["BTC-USDT"].top(10)
    assert tops == live_tops and len(tops) == 151  # the socket snapshot and every delta
    assert replayed.ticks is not None and stream.ticks is not None
    assert replayed.ticks.appended == stream.ticks.appended == 15


async def test_recorded_rest_snapshots_reach_the_stream_at_their_place(tmp_path, exchange):
    """The replay hands a recorded REST answer over as a frame its decoder turns into the snapshot; the
    source itself never answers a snapshot request."""
    out = tmp_path / "snap"
    async with Stream("BTC-USDT", url=exchange.url, record_to=out) as stream:
        await stream.wait_live(15)
    source = ReplaySource(out)
    assert await source.snapshot("BTC-USDT") is None
    frames: list[Any] = []
    replayed = Stream("BTC-USDT", source=source)
    replayed.add_frame_listener(frames.append)
    async with replayed:
        await source.wait_finished(30)
    snapshots = [f for f in frames if isinstance(f, RecordedSnapshot)]
    assert len(snapshots) == stream.snapshots_fetched == 1
    assert snapshots[0]["type"] == "rest" and snapshots[0]["symbol"] == "BTC-USDT"
    assert replayed.books["BTC-USDT"].stats.snapshots == 1


@pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded session not found at {RECORDED}")
async def test_the_real_2021_session_imported_replays_into_books_that_match_its_tickers(tmp_path):
    """What tests/test_replay_recorded.py finds from the capture itself, through import + kunb.replay:
    every symbol with a snapshot goes live with no resync, no price-0 row becomes a level, and every
    recorded ticker at the book's sequence has the book's best bid and ask."""
    out = tmp_path / "kucoin-2021"
    import_cryptofeed(RECORDED, out)
    stream = kunb.replay(out)
    compared = 0
    received: list[int] = []

    def check(event: Any) -> None:
        nonlocal compared
        received.append(event.received_ns)
        if event.__class__ is Tick:
            book = stream.books.get(event.symbol)
            if book is not None and book.state is BookState.LIVE and book.last_sequence == event.sequence:
                assert (book.best_bid, book.best_ask) == (event.best_bid, event.best_ask)
                compared += 1

    stream.add_sink(check)
    async with stream:
        await stream.source.wait_finished(60)  # type: ignore[attr-defined]
    assert compared > 100
    progress = stream.source.connection_detail()
    assert progress.frames == 4707 and progress.snapshots == 9 and progress.bad_frames == 0
    live = [s for s, b in stream.books.items() if b.stats.snapshots]
    assert len(live) == 9
    for symbol in live:
        book = stream.books[symbol]
        assert book.state is BookState.LIVE, book
        stats = book.stats
        assert (stats.resyncs, stats.gaps, stats.crossed, stats.stale_snapshots) == (0, 0, 0, 0)
        assert 0.0 not in book.levels("bid") and 0.0 not in book.levels("ask")
        assert book.best_bid is not None and book.best_ask is not None and book.best_bid < book.best_ask
    assert stream.trades is not None and stream.trades.df.index.min().year == 2021
    # decoded with the recorded receive times, not the replay's clock
    assert {pd.Timestamp(ns, unit="ns").year for ns in received} == {2021}
