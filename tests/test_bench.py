"""bench/run.py end to end on a tiny run (no timing is asserted: the numbers are the bench's job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("psutil")


def test_run_smoke_every_path_reports_numbers():
    """Firehose server + ceiling/kunb/full-feed consumers + a paced latency run, as separate processes."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--no-write"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    table = out[out.index("### Throughput") :]
    for row in ("the ceiling", "kunb `KucoinWsClient`", "kunb full feed"):
        line = next(line for line in table.splitlines() if row in line)
        assert "FAIL" not in line  # a number in each cell, no error
        assert line.count("x |") == 2  # a ratio to the ceiling for both shapes
    assert "final sequence [3000] = 1000 + N" in out  # the level2 book applied every one of the 2,000 pushes
    latency = next(line for line in out.splitlines() if line.startswith("| 1,000 msg/s | **kunb callback**"))
    samples = int(latency.split("|")[3].replace(",", ""))
    assert samples > 100  # ~500 expected at 1,000 msg/s for 0.5 s


def test_feed_server_frames_match_kunb_book_rules():
    """The bench feed's level2 pushes keep one book: consecutive sequences, never crossed, snapshot exact."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from feed_server import L2Book
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import orjson

    from kunb.model.book import BookState, OrderBook
    from kunb.protocol.classic_decoder import ClassicDecoder

    decoder = ClassicDecoder()
    source = L2Book("X-USDT", seed=3)
    snapshot = decoder.book_snapshot("X-USDT", source.snapshot(0), 0)
    deltas = [decoder.decode(orjson.loads(source.push(i)), 0)[0] for i in range(2_000)]
    book = OrderBook("X-USDT")
    book.on_delta(deltas[0])
    book.on_snapshot(snapshot)
    for delta in deltas[1:]:
        book.on_delta(delta)
    assert book.state is BookState.LIVE and book.last_sequence == 1000 + 2_000
    final = source.snapshot(0)
    assert book.best_bid == float(final["bids"][0][0]) and book.best_ask == float(final["asks"][0][0])
