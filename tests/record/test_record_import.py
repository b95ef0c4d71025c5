"""The real KuCoin session (shared/recorded/kucoin-2021-04-25) imported into a recording: its books,
rebuilt by DuckDB from the recorded snapshots and deltas, agree with every recorded ticker; the raw layer
keeps every frame exactly; Polars reads every table with hive partitioning."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from recordkit import RECORDED, all_readable

from kunb.record import TABLES
from kunb.record.dataset import Dataset
from kunb.record.importer import import_cryptofeed
from kunb.record.raw import raw_files, read_raw

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded session not found at {RECORDED}")


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("kucoin-2021")
    report = import_cryptofeed(RECORDED, out)
    return out, report


def _tickers_after_snapshots(dataset: Dataset) -> list[tuple[str, int, float, float]]:
    return dataset.sql(
        """
        SELECT t.symbol, t.sequence, t.best_bid, t.best_ask FROM ticks t
        JOIN (SELECT symbol, min(sequence) AS first FROM book_snapshots WHERE origin = 'feed'
              GROUP BY symbol) s ON s.symbol = t.symbol AND t.sequence >= s.first
        ORDER BY t.time, t.symbol
        """
    ).fetchall()


def _compare(dataset: Dataset, tickers: list) -> None:
    for symbol, sequence, best_bid, best_ask in tickers:
        book = dataset.book_at(symbol, sequence=sequence)
        assert book.complete, (symbol, sequence)
        assert (book.best_bid, book.best_ask) == (best_bid, best_ask), (symbol, sequence)


def test_the_import_decodes_every_frame(imported) -> None:
    out, report = imported
    assert report.frames_received == 4721 and report.snapshots == 9 and report.undecodable == 0
    assert report.events == 4707  # ticker, level2, match and candle pushes (the rest are acks)
    assert all_readable(out) > 0
    dataset = Dataset(out)
    assert set(dataset.tables) == {"ticks", "trades", "book_deltas", "book_snapshots", "candles"}
    assert dataset.table("ticks").count("*").fetchall() == [(830,)]
    assert dataset.sequence_gaps().empty  # the session's level2 pushes are contiguous (its README)
    zero_rows = dataset.sql("SELECT count(*) FROM book_deltas WHERE price = 0").fetchall()[0][0]
    assert zero_rows > 1000  # the price-0 rows that only advance the sequence are on record...
    book = dataset.book_at("BCHSV-USDT")
    assert 0.0 not in set(book.bids["price"]) | set(book.asks["price"])  # ...but never become levels
    assert book.best_bid < book.best_ask


def test_rebuilt_books_agree_with_a_sample_of_the_recorded_tickers(imported) -> None:
    dataset = Dataset(imported[0])
    tickers = _tickers_after_snapshots(dataset)
    assert len(tickers) == 819
    _compare(dataset, tickers[::8])


@pytest.mark.slow
def test_rebuilt_books_agree_with_every_recorded_ticker(imported) -> None:
    dataset = Dataset(imported[0])
    _compare(dataset, _tickers_after_snapshots(dataset))


def test_the_raw_layer_keeps_every_frame_exactly(imported) -> None:
    out, _ = imported
    records = {path.name.split(".")[0]: list(read_raw(path)) for path in raw_files(out)}
    assert set(records) == {"ws-1", "http-0", "rest"}
    ws = records["ws-1"]
    assert ws[1]["k"] == "open" and ws[1]["u"] == "wss://push-private.kucoin.com/endpoint?token=***"
    lines = (RECORDED / "KUCOIN.ws.1.0").read_text().splitlines()
    received = [line.partition(": ")[2] for line in lines if line and not line.startswith("wss://")]
    assert [r["d"] for r in ws if r["k"] == "recv"] == received
    stamps = [line.partition(": ")[0] for line in lines if line and not line.startswith("wss://")]
    times = [r["t"] for r in ws if r["k"] == "recv"]
    assert times == [int(Decimal(stamp) * 10**9) for stamp in stamps]  # exact ns, no float rounding
    assert sum(r["k"] == "rest" for r in records["http-0"]) == 9


def test_polars_reads_every_table_with_hive_partitioning(imported) -> None:
    out, _ = imported
    for table in TABLES:
        if not (out / table).is_dir():
            continue
        frame = pl.scan_parquet(out / table / "**" / "*.parquet", hive_partitioning=True).collect()
        assert frame.height > 0 and "symbol" in frame.columns and "date" in frame.columns, table
        assert frame.schema["time"] == pl.Datetime("us", "UTC")
    deltas = pl.scan_parquet(out / "book_deltas" / "**" / "*.parquet", hive_partitioning=True)
    per_symbol = deltas.group_by("symbol").agg(pl.len()).collect()
    assert per_symbol.height == 9
