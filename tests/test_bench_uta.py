"""bench/uta_feed.py end to end on a tiny run (no timing asserted); its UTA book frames keep one book."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from kunb.model.book import BookState, OrderBook
from kunb.protocol.uta_decoder import UtaDecoder

ROOT = Path(__file__).resolve().parents[1]


def test_uta_feed_smoke_every_row_reports_numbers_and_checks_its_book() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "uta_feed.py"), "--n", "2000", "--rounds", "1", "--no-write"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "msg/s" not in line]
    assert len(rows) == 4, done.stdout
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1][0].isdigit() and cells[3][0].isdigit(), row  # msg/s and level changes/s measured
    assert [r.rsplit("|", 2)[1].strip() for r in rows[1:]] == ["yes", "yes", "yes"]  # every book complete


def test_the_bench_uta_book_frames_keep_one_book() -> None:
    """Snapshot then batched deltas: O == previous C + 1, and kunb's decoder and book end at the
    generator's own state."""
    sys.path.insert(0, str(ROOT))
    try:
        from bench.uta_feed import UtaBook
    finally:
        sys.path.remove(str(ROOT))
    source = UtaBook(seed=3)
    decoder = UtaDecoder()
    book = OrderBook("BTC-USDT")
    [snapshot] = decoder.decode(orjson.loads(source.snapshot(0)), 0)
    book.on_snapshot(snapshot)
    last = snapshot.sequence
    for i in range(500):
        frame = orjson.loads(source.delta(1 + i % 9, i)[0])
        assert frame["d"]["O"] == last + 1
        last = frame["d"]["C"]
        [delta] = decoder.decode(frame, 0)
        book.on_delta(delta)
    assert book.state is BookState.LIVE and book.last_sequence == source.seq == last
    want_bids = {p / 100: float(s) for p, s in source.bids.items() if s != "0"}
    want_asks = {p / 100: float(s) for p, s in source.asks.items() if s != "0"}
    assert (book.levels("bid"), book.levels("ask")) == (want_bids, want_asks)
