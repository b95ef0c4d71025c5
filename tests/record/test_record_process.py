"""Recording(process=True): a writer process of its own writes both layers; the normalized events are
rebuilt there from the raw frames by the drivers' decoders, the driver's integrity events forwarded;
overflow and a dead writer process are never silent."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import pytest
from recordkit import read_table

import kunb
from kunb.exceptions import ConfigurationError, RecordingError
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.record import Dataset, Recording
from kunb.record.process import Shipper
from kunb.record.raw import raw_files, read_raw
from kunb.record.worker import WriterState
from kunb.stream import Stream

SYMBOLS = ["BTC-USDT", "ETH-USDT"]


async def test_a_writer_process_records_what_the_stream_saw(exchange, tmp_path: Path) -> None:
    out = tmp_path / "proc"
    recording = Recording(out, process=True)
    assert recording.process and recording.recorder is None and recording.raw is None
    stream = Stream(SYMBOLS, url=exchange.url, credentials=exchange.credentials, record_to=recording)
    async with stream:
        await stream.wait_live(15)
        await stream.wait_for(lambda s: s.ticks is not None and s.ticks.appended >= 60, 30)
        exchange.faults.skip_level2(pushes=1, symbol="ETH-USDT")
        await stream.wait_for(lambda s: s.books["ETH-USDT"].stats.resyncs >= 1 and s.live, 30)
    assert recording.state is WriterState.RUNNING  # shared: the stream leaves it open
    recording.flush()
    assert recording.stats().events > 0 and recording.stats().frames > 0
    recording.close()
    assert recording.state is WriterState.CLOSED

    frames = [orjson.loads(r["d"]) for p in raw_files(out) for r in read_raw(p) if r["k"] == "recv"]
    pushes = [f for f in frames if f.get("type") == "message"]
    tickers = [f for f in pushes if f["subject"] == "trade.ticker"]
    changes = sum(
        len(f["data"]["changes"]["bids"]) + len(f["data"]["changes"]["asks"])
        for f in pushes
        if f["subject"] == "trade.l2update"
    )
    assert read_table(out, "ticks").count("*").fetchall()[0][0] == len(tickers)
    assert read_table(out, "book_deltas").count("*").fetchall()[0][0] == changes
    snapshots = read_table(out, "book_snapshots").filter("origin = 'feed'")
    assert (
        snapshots.aggregate("count(DISTINCT (symbol, sequence))").fetchall()[0][0] == stream.snapshots_fetched
    )
    gaps = read_table(out, "integrity").filter("kind = 'gap'").select("symbol").fetchall()
    assert gaps == [("ETH-USDT",)]  # the driver's own event, forwarded
    assert not Dataset(out).sequence_gaps()["resynced"].eq(False).any()
    assert read_table(out, "stats").count("*").fetchall()[0][0] > 0  # pushes and the REST seed


def test_the_capacity_counts_frames_not_reads(tmp_path: Path) -> None:
    recording = Recording(tmp_path / "reads", process=True, capacity=10)
    tap = recording.tap
    assert tap is not None
    frame = b'{"type":"message","topic":"/market/ticker:X-Y","n":%d}'
    tap.received("public-1", time.time_ns(), tuple(frame % i for i in range(11)))  # one read, 11 frames
    assert recording.stats().dropped == 11  # refused whole, every frame counted
    tap.received("public-1", time.time_ns(), tuple(frame % i for i in range(10)))  # fits
    recording.close()
    records = [r for p in raw_files(tmp_path / "reads") for r in read_raw(p)]
    assert sum(r["k"] == "recv" for r in records) == 10
    assert sum(r["n"] for r in records if r["k"] == "overflow") == 11


def test_reads_and_other_records_keep_their_order_and_the_writer_process_exits_cleanly(
    tmp_path: Path,
) -> None:
    recording = Recording(tmp_path / "big", process=True)
    tap = recording.tap
    assert isinstance(tap, Shipper)
    frame = b'{"type":"message","topic":"/market/ticker:X-Y","n":%d}'
    for read in range(60):  # 6,000 frames, a text frame among them, a sent frame between two reads
        frames: list[bytes | str] = [frame % (read * 100 + i) for i in range(100)]
        if read == 7:
            frames[3] = frames[3].decode()  # type: ignore[union-attr]
        tap.received("public-1", time.time_ns(), tuple(frames))
        if read == 30:
            tap.sent("public-1", time.time_ns(), b'{"id":"1","type":"ping"}')
    recording.close()
    assert tap._process.returncode == 0  # no abort at exit (its pipe-reading thread was still reading)
    records = [r for p in raw_files(tmp_path / "big") for r in read_raw(p)]
    numbers = [orjson.loads(r["d"])["n"] for r in records if r["k"] == "recv"]
    assert numbers == list(range(6000))
    kinds = [r["k"] for r in records if r["k"] in ("recv", "sent")]
    assert kinds.index("sent") == 3100  # between the reads it came between
    assert recording.stats().dropped == 0


def test_overflow_and_a_dead_writer_process_are_never_silent(tmp_path: Path) -> None:
    recording = Recording(tmp_path / "small", process=True, capacity=10)
    tap = recording.tap
    assert isinstance(tap, Shipper)
    writer = tap._process
    writer.send_signal(signal.SIGSTOP)  # the writer process stops reading: the pipe fills, then the backlog
    try:
        padding = b"x" * 60_000
        for i in range(60):  # 3.6 MB: more than the pipe and a backlog of ten frames hold
            frame = b'{"type":"message","topic":"/market/ticker:X-Y","n":%d,"p":"%s"}' % (i, padding)
            tap.received("public-1", time.time_ns(), (frame,))
        refused = recording.stats().dropped
        assert refused == tap.dropped > 0
        assert tap.queued <= 10  # waiting here: at most the capacity
    finally:
        writer.send_signal(signal.SIGCONT)
    recording.close()
    dropped = recording.stats().dropped
    assert dropped >= refused  # the writer process's own queue (ten frames too) may have refused more
    overflow = [r for p in raw_files(tmp_path / "small") for r in read_raw(p) if r["k"] == "overflow"]
    assert sum(r["n"] for r in overflow) == dropped
    received = [r for p in raw_files(tmp_path / "small") for r in read_raw(p) if r["k"] == "recv"]
    assert len(received) + dropped == 60  # every frame is on disk or counted
    rows = read_table(tmp_path / "small", "integrity").filter("kind = 'overflow'").count("*").fetchall()
    assert rows[0][0] >= 1

    dying = Recording(tmp_path / "dying", process=True)
    shipper = dying.tap
    assert isinstance(shipper, Shipper)
    shipper._process.kill()  # the writer process dies
    shipper._process.wait()
    shipper.received("public-1", time.time_ns(), (b"{}", b"{}", b"{}"))  # the pipe is broken: counted
    shipper.sent("public-1", time.time_ns(), b'{"type":"ping"}')  # and so is what comes after it
    assert dying.stats().dropped == 4
    with pytest.raises(RecordingError, match="writer process"):
        dying.flush(timeout=30)
    assert dying.state is WriterState.FAILED
    with pytest.raises(RecordingError):
        dying.close()


def test_a_second_writer_on_a_directory_and_a_source_without_frames_are_refused(tmp_path: Path) -> None:
    with Recording(tmp_path / "taken", process=True):
        with pytest.raises(ConfigurationError, match="another recorder"):
            Recording(tmp_path / "taken", process=True)
        with pytest.raises(ConfigurationError, match="another recorder"):
            Recording(tmp_path / "taken")
    with Recording(tmp_path / "replayed", process=True) as recording:
        with pytest.raises(ConfigurationError, match="no raw layer"):
            kunb.replay(tmp_path / "taken")  # nothing was recorded there
        stream = Stream("BTC-USDT", source=_NoWire())
        with pytest.raises(ConfigurationError, match="process=False"):
            stream.record(recording)


class _NoWire:
    """A source with no connection to tap (a recording, a test)."""

    protocol = "replay"
    url = "nowhere"
    worked_around = None
    decoder = ClassicDecoder()
