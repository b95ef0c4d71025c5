"""Crash safety: a recorder killed at any moment leaves only readable files and loses at most about one
flush interval; the next recorder (or ``recover``) converts what the journals hold, without duplicates."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from recordkit import SECOND, T0, Market, all_readable, parquet_files, read_table

from kunb.exceptions import ConfigurationError
from kunb.record import Recorder, recover
from kunb.record.files import JOURNAL_DIR, Journal, journal_paths, read_journal
from kunb.record.tables import SCHEMAS, to_batch

CHILD = Path(__file__).with_name("recorder_child.py")
ROOT = Path(__file__).resolve().parents[2]


def test_a_journal_cut_at_any_byte_reads_as_its_complete_batches(tmp_path: Path) -> None:
    path = tmp_path / "ticks.x-1.arrows"
    journal = Journal(path, SCHEMAS["ticks"])
    ends = []  # file size after each flushed batch
    market = Market("BTC-USDT")
    for i in range(4):
        journal.write(to_batch("ticks", [market.tick(T0 + i * SECOND + k) for k in range(3)]))
        journal.flush()
        ends.append(journal.bytes)
    journal.close()
    data = path.read_bytes()
    cut = tmp_path / "cut.arrows"
    for size in range(len(data) + 1):
        cut.write_bytes(data[:size])
        table = read_journal(cut)
        complete = sum(1 for end in ends if end <= size)
        assert (0 if table is None else table.num_rows) == 3 * complete, size


def _run_child(out: Path, *, first: int, rotate: float, record_for: float) -> int:
    """Starts a recording child, lets it record for ``record_for`` s, SIGKILLs it; returns the kill time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(out), "1.0", str(rotate), str(first)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"  # bounded by the pytest timeout
        deadline = time.monotonic() + 30
        while not journal_paths(out):  # bounded poll: the first flush is on disk
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.01)
        time.sleep(record_for)  # the scenario: record this long, then die at an arbitrary moment
        killed = time.time_ns()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        return killed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def test_sigkill_mid_recording_leaves_readable_files_and_loses_about_a_second(tmp_path: Path) -> None:
    killed = _run_child(tmp_path, first=0, rotate=1.5, record_for=2.5)  # mid-way between two flushes
    before = {p: p.stat().st_size for p in parquet_files(tmp_path)}
    assert before and all_readable(tmp_path) > 0  # what the rotations wrote is readable as it is
    recover(tmp_path)  # the journals' complete batches (none if the kill came right after a rotation)
    assert not journal_paths(tmp_path)
    all_readable(tmp_path)
    ticks = read_table(tmp_path, "ticks")
    (newest,) = ticks.select("max(time_ns)").fetchall()[0]
    lost = (killed - newest) / 1e9
    assert 0 <= lost <= 1.5, f"the newest recorded tick is {lost:.2f} s older than the kill"
    rows, distinct = ticks.select("count(*), count(DISTINCT (symbol, sequence))").fetchall()[0]
    assert rows == distinct  # nothing converted twice
    assert not list((tmp_path / "ticks").rglob(".*.tmp"))


@pytest.mark.slow
def test_repeated_kills_at_random_moments_never_duplicate_or_lose_more_than_a_flush(tmp_path: Path) -> None:
    rng = random.Random(7)
    first = 0
    for _round in range(5):
        killed = _run_child(tmp_path, first=first, rotate=0.5, record_for=rng.uniform(0.5, 2.5))
        with Recorder(tmp_path):  # a new recorder recovers what the killed one left
            pass
        all_readable(tmp_path)
        ticks = read_table(tmp_path, "ticks")
        rows, distinct, newest = ticks.select(
            "count(*), count(DISTINCT (symbol, sequence)), max(time_ns)"
        ).fetchall()[0]
        assert rows == distinct
        # at most a flush interval plus one flush's work; the margin is for a saturated machine
        assert (killed - newest) / 1e9 <= 2.0
        first = 10**9 * (_round + 1)  # each child's sequences are its own


def test_recover_is_idempotent_across_every_interrupted_step(tmp_path: Path) -> None:
    market = Market("BTC-USDT")
    with Recorder(tmp_path, rotate_seconds=None) as recorder:
        for event in market.events(15, T0, SECOND):
            recorder(event)
        recorder.checkpoint()  # first pieces
        for event in market.events(15, T0 + 20 * SECOND, SECOND):
            recorder(event)
        recorder.flush()
        saved = {p.name: p.read_bytes() for p in journal_paths(tmp_path)}
    rows = read_table(tmp_path, "ticks").count("*").fetchall()[0][0]
    assert rows == 30
    # killed after writing the pieces but before deleting the journals: they come back
    (tmp_path / JOURNAL_DIR).mkdir()
    for name, data in saved.items():
        (tmp_path / JOURNAL_DIR / name).write_bytes(data)
    recover(tmp_path)
    assert read_table(tmp_path, "ticks").count("*").fetchall()[0][0] == rows
    # killed after the compacted file was renamed but before its pieces were deleted
    folder = tmp_path / "ticks" / "date=2023-11-14" / "symbol=BTC-USDT"
    (compacted,) = folder.glob("22.parquet")
    replaced = pq.read_schema(compacted).metadata[b"kunb.compacted_from"]
    for name in json.loads(replaced):
        pq.write_table(pq.read_table(compacted), folder / name)
    (folder / ".22-x.parquet.tmp").write_bytes(b"half a file")
    report = recover(tmp_path)
    assert report.replaced_pieces_removed >= 1 and report.temporaries_removed == 1
    assert read_table(tmp_path, "ticks").count("*").fetchall()[0][0] == rows
    assert [p.name for p in folder.iterdir()] == ["22.parquet"]


def test_recover_refuses_a_directory_being_recorded(tmp_path: Path) -> None:
    with Recorder(tmp_path), pytest.raises(ConfigurationError, match="is writing"):
        recover(tmp_path)
    with pytest.raises(ConfigurationError, match="no recording"):
        recover(tmp_path / "missing")


def test_a_journal_killed_before_its_schema_was_written_is_dropped(tmp_path: Path) -> None:
    folder = tmp_path / JOURNAL_DIR
    folder.mkdir()
    (folder / "ticks.x-1.arrows").write_bytes(b"\xff\xff")
    report = recover(tmp_path)
    assert report.journals_converted == 1 and report.rows_recovered == 0
    assert not journal_paths(tmp_path) and not parquet_files(tmp_path)
