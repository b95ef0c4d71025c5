"""The Recorder sink: partition layout, every table readable by DuckDB with hive partitioning, exact
values, overflow counted and on record, journals converted and hours compacted, failures reported."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from recordkit import SECOND, T0, Market, all_readable, one_of_each, parquet_files, read_table

from kunb.events import BalanceChange, BookDelta, Integrity, Tick
from kunb.exceptions import ClosedError, ConfigurationError, RecordingError
from kunb.record import TABLES, Recorder, WriterState
from kunb.record.files import journal_paths


def test_every_table_lands_in_its_hive_partition_and_reads_back(tmp_path: Path) -> None:
    with Recorder(tmp_path) as recorder:
        for event in one_of_each():
            recorder(event)
    day = "date=2023-11-14"
    expected = {
        "ticks": f"ticks/{day}/symbol=BTC-USDT/22.parquet",
        "trades": f"trades/{day}/symbol=BTC-USDT/22.parquet",
        "book_snapshots": f"book_snapshots/{day}/symbol=BTC-USDT/22.parquet",
        "book_deltas": f"book_deltas/{day}/symbol=BTC-USDT/22.parquet",
        "candles": f"candles/{day}/symbol=BTC-USDT/22.parquet",
        "stats": f"stats/{day}/symbol=BTC-USDT/22.parquet",
        "balances": f"balances/{day}/currency=USDT/22.parquet",
        "orders": f"orders/{day}/symbol=BTC-USDT/22.parquet",
        "fills": f"fills/{day}/symbol=BTC-USDT/22.parquet",
        "integrity": f"integrity/{day}/22.parquet",
    }
    assert set(expected) == set(TABLES)
    files = {str(p.relative_to(tmp_path)) for p in parquet_files(tmp_path)}
    assert files == set(expected.values())
    assert not journal_paths(tmp_path)
    for table in TABLES:
        rows = read_table(tmp_path, table).df()
        assert len(rows) >= 1, table
        assert (rows["date"].astype(str) == "2023-11-14").all()
        assert rows["time"].iloc[0] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_columns_hold_the_exact_values(tmp_path: Path) -> None:
    events = one_of_each()
    with Recorder(tmp_path) as recorder:
        for event in events:
            recorder(event)
    tick = read_table(tmp_path, "ticks").df().iloc[0]
    assert (tick.symbol, tick.sequence, tick.best_bid, tick.best_ask_size) == ("BTC-USDT", 7, 100.0, 2.5)
    assert tick.time_ns == T0 and tick.received.value == T0  # microseconds: the 5 ns are cut
    deltas = read_table(tmp_path, "book_deltas").order("side").df()
    assert deltas[["side", "price", "size", "sequence"]].values.tolist() == [
        ["ask", 101.0, 0.0, 12],
        ["bid", 100.0, 0.5, 11],
    ]
    assert set(deltas["sequence_start"]) == {11} and set(deltas["sequence_end"]) == {12}
    snap = read_table(tmp_path, "book_snapshots").order("side DESC, level").df()
    assert snap[["side", "level", "price", "size"]].values.tolist() == [
        ["bid", 0, 100.0, 1.0],
        ["bid", 1, 99.0, 2.0],
        ["ask", 0, 101.0, 3.0],
    ]
    assert set(snap["origin"]) == {"feed"} and snap["depth"].isna().all()
    # decimals stay exact (pandas would turn them into floats: fetch them as Python values)
    balance = read_table(tmp_path, "balances").select("total, available_change").fetchall()
    assert balance == [(Decimal("1000.123456789"), Decimal("-100.123456789"))]
    order = read_table(tmp_path, "orders").select("price, match_price, order_time").df().iloc[0]
    assert order.price == 100.1 and order.match_price != order.match_price  # NaN: null
    assert order.order_time.value == T0 - SECOND
    fill = read_table(tmp_path, "fills").select("size, fee").fetchall()
    assert fill == [(Decimal("0.4"), None)]
    integrity = read_table(tmp_path, "integrity").df().iloc[0]
    assert (integrity.kind, integrity.symbol, integrity.sequence) == ("gap", "BTC-USDT", 13)


def test_an_unknown_exchange_time_is_null_and_time_falls_back_to_received(tmp_path: Path) -> None:
    with Recorder(tmp_path) as recorder:
        recorder(Tick("BTC-USDT", 0, T0, 1, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0))
    assert read_table(tmp_path, "ticks").select("epoch_ns(time), time_ns").fetchall() == [(T0, None)]


def test_an_amount_with_more_than_18_decimals_is_rounded_and_reported(tmp_path: Path) -> None:
    tiny = Decimal("0.1234567890123456789")
    with Recorder(tmp_path) as recorder:
        z = Decimal(0)
        recorder(BalanceChange("BTC", "trade", "a", tiny, tiny, z, None, None, "", "", "", T0, T0))
    assert read_table(tmp_path, "balances").select("total").fetchall() == [(Decimal("0.123456789012345679"),)]
    integrity = read_table(tmp_path, "integrity").df()
    assert integrity["kind"].tolist() == ["rounded"] and "total=0.1234567890123456789" in integrity.detail[0]


def test_overflow_is_counted_and_written_as_an_integrity_row(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, capacity=10, flush_interval=3600)
    # The writer thread waits up to an hour between flushes, but wakes at half capacity: hold the GIL
    # long enough by queueing in one go; whatever the thread drains meanwhile, 1,000 cannot all fit.
    ticks = [Tick("BTC-USDT", T0 + i, T0 + i, i, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0) for i in range(1_000)]
    for tick in ticks:
        recorder(tick)
    dropped = recorder.dropped
    assert dropped > 0 and recorder.stats().dropped == dropped
    assert recorder.accepted + dropped == 1_000
    recorder.close()
    assert read_table(tmp_path, "ticks").count("*").fetchall()[0][0] == recorder.accepted
    rows = read_table(tmp_path, "integrity").df()
    assert rows["kind"].tolist() == ["overflow"]
    assert rows.detail[0] == f"recorder queue full: {dropped} events dropped"


def test_flush_makes_queued_events_durable_in_the_journal_and_visible_live(tmp_path: Path) -> None:
    from kunb.record.dataset import Dataset

    with Recorder(tmp_path, flush_interval=3600, rotate_seconds=3600) as recorder:
        for event in Market("ETH-USDT").events(50, T0, SECOND):
            recorder(event)
        recorder.flush()
        assert journal_paths(tmp_path) and not parquet_files(tmp_path)
        assert Dataset(tmp_path).table("ticks").count("*").fetchall()[0][0] == 50
        assert Dataset(tmp_path, live=False).table("ticks").count("*").fetchall()[0][0] == 0
        recorder.checkpoint()  # journals -> Parquet
        assert not journal_paths(tmp_path) and parquet_files(tmp_path)
        assert Dataset(tmp_path, live=False).table("ticks").count("*").fetchall()[0][0] == 50


def test_pieces_of_a_closed_hour_are_compacted_into_one_file(tmp_path: Path) -> None:
    now = [T0]
    recorder = Recorder(tmp_path, flush_interval=3600, rotate_seconds=60, clock=lambda: now[0])
    market = Market("BTC-USDT")
    for round_ in range(3):  # three rotations within hour 22: three pieces per partition
        for event in market.events(10, T0 + round_ * 60 * SECOND, SECOND):
            recorder(event)
        recorder.checkpoint()
    folder = tmp_path / "ticks" / "date=2023-11-14" / "symbol=BTC-USDT"
    assert len(list(folder.glob("22-*.parquet"))) == 3 and not (folder / "22.parquet").exists()
    now[0] = T0 + 3600 * SECOND  # 23:13: hour 22 is closed (and a rotation's grace has passed)
    recorder.checkpoint()
    assert [p.name for p in folder.iterdir()] == ["22.parquet"]
    assert pq.read_table(folder / "22.parquet").num_rows == 30
    recorder.close()
    assert [p.name for p in folder.iterdir()] == ["22.parquet"]


def test_a_compaction_gives_arrows_freed_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kunb.record import convert

    released: list[int] = []
    monkeypatch.setattr(convert, "release_memory", lambda: released.append(1))
    now = [T0]
    with Recorder(tmp_path, flush_interval=3600, rotate_seconds=60, clock=lambda: now[0]) as recorder:
        for round_ in range(2):  # two pieces of hour 22: a compaction that merges
            for event in Market("BTC-USDT").events(10, T0 + round_ * 60 * SECOND, SECOND):
                recorder(event)
            recorder.checkpoint()
        assert released == []  # conversions alone release nothing
        now[0] = T0 + 3600 * SECOND
        recorder.checkpoint()
        assert released  # the closed hour was merged, then the memory released


def test_a_day_of_one_symbol_is_one_file_per_hour(tmp_path: Path) -> None:
    with Recorder(tmp_path, rotate_seconds=None) as recorder:
        for hour in range(24):
            start = T0 - T0 % (86_400 * SECOND) + hour * 3600 * SECOND
            recorder(Tick("BTC-USDT", start, start, hour, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0))
            if hour % 6 == 0:
                recorder.checkpoint()
    folder = tmp_path / "ticks" / "date=2023-11-14" / "symbol=BTC-USDT"
    assert sorted(p.name for p in folder.iterdir()) == [f"{h:02d}.parquet" for h in range(24)]


def test_periodic_snapshots_equal_the_book_built_from_the_deltas(tmp_path: Path) -> None:
    market = Market("BTC-USDT", levels=5)
    with Recorder(tmp_path, snapshot_every=10.0) as recorder:
        events = list(market.events(100, T0, SECOND))
        for event in events:
            recorder(event)
    snaps = read_table(tmp_path, "book_snapshots").filter("origin = 'recorder'").df()
    sequences = sorted(set(snaps["sequence"]))
    assert len(sequences) == 10  # deltas over 100 s: one snapshot every 10 s after the feed's
    for sequence in sequences:
        rows = snaps[snaps["sequence"] == sequence]
        for side in ("bid", "ask"):
            recorded = rows[rows.side == side].sort_values("level")
            levels = list(zip(recorded.price, recorded["size"], strict=True))
            assert levels == replayed(events, sequence, side)


def replayed(events: list, sequence: int, side: str) -> list[tuple[float, float]]:
    """The side of the book after applying the deltas up to ``sequence`` to the first snapshot."""
    levels = dict(getattr(events[0], side + "s"))
    for event in events[1:]:
        if isinstance(event, BookDelta) and event.sequence_end <= sequence:
            for price, size, _ in getattr(event, side + "s"):
                if size:
                    levels[price] = size
                else:
                    levels.pop(price, None)
    return sorted(levels.items(), reverse=side == "bid")


def test_a_gap_stops_periodic_snapshots_until_the_next_feed_snapshot(tmp_path: Path) -> None:
    market = Market("BTC-USDT")
    with Recorder(tmp_path, snapshot_every=1.0) as recorder:
        recorder(market.snapshot(T0))
        recorder(market.delta(T0 + SECOND))  # periodic snapshot at 1001
        recorder.flush()  # (across tables, order is kept between flushes, not within one)
        market.sequence += 3  # three pushes lost: the deltas no longer continue the book
        for i in range(2, 4):
            recorder(market.delta(T0 + i * SECOND))
        recorder(market.snapshot(T0 + 4 * SECOND))  # the feed resynced (sequence 1006)
        recorder(market.delta(T0 + 5 * SECOND))  # periodic snapshot at 1007
        recorder.flush()
        recorder(Integrity("outage", "", "connection lost", None, T0 + 6 * SECOND))
        recorder.flush()  # the driver said data was lost: the books are dropped...
        for i in range(7, 9):
            recorder(market.delta(T0 + i * SECOND))  # ...even if the sequences look contiguous
    snaps = read_table(tmp_path, "book_snapshots").filter("origin = 'recorder'").df()
    assert sorted(set(snaps["sequence"])) == [1001, 1007]


def test_recording_the_wrong_type_fails_at_once(tmp_path: Path) -> None:
    with Recorder(tmp_path) as recorder, pytest.raises(TypeError, match="does not record dict"):
        recorder({"topic": "/market/ticker:BTC-USDT"})  # type: ignore[arg-type]


def test_one_recorder_per_directory(tmp_path: Path) -> None:
    with Recorder(tmp_path), pytest.raises(ConfigurationError, match="another recorder"):
        Recorder(tmp_path)
    Recorder(tmp_path).close()  # the lock went with the first one


@pytest.mark.parametrize(
    "kwargs", [{"capacity": 0}, {"flush_interval": 0}, {"rotate_seconds": -1}, {"snapshot_every": 0}]
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        Recorder(tmp_path, **kwargs)


def test_a_write_failure_is_reported_not_lost(tmp_path: Path) -> None:
    (tmp_path / "ticks").write_text("a file where a directory must go")
    recorder = Recorder(tmp_path)
    recorder(one_of_each()[0])
    with pytest.raises(RecordingError, match="cannot write"):
        recorder.close()
    assert recorder.state is WriterState.FAILED
    recorder(one_of_each()[0])
    assert recorder.dropped == 1  # refused after the failure, counted
    with pytest.raises(RecordingError):
        recorder.flush()


def test_close_is_idempotent_and_flush_after_close_is_refused(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.close()
    recorder.close()
    assert recorder.state is WriterState.CLOSED
    with pytest.raises(ClosedError):
        recorder.flush()


async def test_async_context_closes_without_blocking_the_loop(tmp_path: Path) -> None:
    async with Recorder(tmp_path) as recorder:
        for event in one_of_each():
            recorder(event)
    assert recorder.state is WriterState.CLOSED
    assert all_readable(tmp_path) >= len(TABLES)
    assert not [t for t in threading.enumerate() if t.name == "kunb-recorder"]
