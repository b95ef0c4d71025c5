"""Test helper (not a test module): synthetic normalized events and readers for recording tests."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from kunb.events import (
    BalanceChange,
    BookDelta,
    BookSnapshot,
    Candle,
    Event,
    Fill,
    Integrity,
    OrderEvent,
    Stats,
    Tick,
    Trade,
)

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC, in ns
SECOND = 1_000_000_000
# shared/ sits beside the repository (as in CI); KUNB_SHARED points elsewhere (a worktree elsewhere)
SHARED = Path(os.environ.get("KUNB_SHARED") or Path(__file__).resolve().parents[3] / "shared")
RECORDED = SHARED / "recorded" / "kucoin-2021-04-25"


def one_of_each(symbol: str = "BTC-USDT", t: int = T0) -> list[Event]:
    """One event of every recorded type."""
    return [
        Tick(symbol, t, t + 5, 7, 100.5, 0.25, 100.0, 1.5, 101.0, 2.5),
        Trade(symbol, t, t + 5, 8, "tid-1", "buy", 100.5, 0.25),
        BookSnapshot(symbol, t, t + 5, 10, ((100.0, 1.0), (99.0, 2.0)), ((101.0, 3.0),), None),
        BookDelta(symbol, t, t + 5, 11, 12, ((100.0, 0.5, 11),), ((101.0, 0.0, 12),)),
        Candle(symbol, "1min", t - t % (60 * SECOND), t, t + 5, 100.0, 100.5, 101.0, 99.5, 3.0, 301.0),
        Stats(symbol, t, t + 5, 100.5, 0.01, 1.0, 102.0, 98.0, 1000.0, 100_000.0),
        BalanceChange(
            "USDT",
            "trade",
            "acc-1",
            Decimal("1000.123456789"),
            Decimal("900"),
            Decimal("100.123456789"),
            Decimal("-100.123456789"),
            Decimal("100.123456789"),
            "trade.hold",
            "rel-1",
            "ord-1",
            t,
            t + 5,
        ),
        OrderEvent(
            "ord-1",
            "cid-1",
            symbol,
            "buy",
            "limit",
            "open",
            "open",
            Decimal("100.1"),
            Decimal("1"),
            Decimal("0"),
            Decimal("1"),
            Decimal("0"),
            None,
            None,
            "",
            "",
            t - SECOND,
            t,
            t + 5,
        ),
        Fill("ord-1", "tid-9", symbol, "buy", Decimal("100.1"), Decimal("0.4"), None, "", "maker", t, t + 5),
        Integrity("gap", symbol, "pushes missed", 13, t + 5),
    ]


class Market:
    """A random but consistent book: a full snapshot, then contiguous one-change deltas, with ticks and
    trades; each event's exchange time advances by ``step_ns``."""

    def __init__(self, symbol: str, *, seed: int = 1, start_sequence: int = 1_000, levels: int = 20) -> None:
        self.symbol = symbol
        self.rng = random.Random(seed)
        self.sequence = start_sequence
        self.bids = {100.0 - i: float(i + 1) for i in range(levels)}
        self.asks = {101.0 + i: float(i + 1) for i in range(levels)}

    def snapshot(self, t: int) -> BookSnapshot:
        return BookSnapshot(
            self.symbol,
            t,
            t,
            self.sequence,
            tuple(sorted(self.bids.items(), reverse=True)),
            tuple(sorted(self.asks.items())),
            None,
        )

    def delta(self, t: int) -> BookDelta:
        self.sequence += 1
        side = self.rng.choice(("bid", "ask"))
        book = self.bids if side == "bid" else self.asks
        low = 80 if side == "bid" else 101
        price = float(self.rng.randint(low, low + 20))
        size = 0.0 if (price in book and self.rng.random() < 0.3) else float(self.rng.randint(1, 50)) / 4
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        change = ((price, size, self.sequence),)
        return BookDelta(
            self.symbol,
            t,
            t,
            self.sequence,
            self.sequence,
            change if side == "bid" else (),
            change if side == "ask" else (),
        )

    def tick(self, t: int) -> Tick:
        bid = max(self.bids) if self.bids else float("nan")
        ask = min(self.asks) if self.asks else float("nan")
        return Tick(self.symbol, t, t, self.sequence, bid, 1.0, bid, self.bids.get(bid, 0.0), ask, 1.0)

    def trade(self, t: int, n: int) -> Trade:
        price = float(self.rng.randint(95, 105)) + self.rng.randint(0, 9) / 10
        return Trade(self.symbol, t, t, n, f"t{n}", self.rng.choice(("buy", "sell")), price, 0.5 + n % 3)

    def events(self, n: int, start_ns: int, step_ns: int) -> Iterator[Event]:
        """A snapshot, then ``n`` rounds of delta + tick (+ a trade every third round)."""
        yield self.snapshot(start_ns)
        for i in range(n):
            t = start_ns + (i + 1) * step_ns
            yield self.delta(t)
            yield self.tick(t)
            if i % 3 == 0:
                yield self.trade(t, i)


def read_table(out: Path, table: str) -> duckdb.DuckDBPyRelation:
    """Every Parquet file of ``table`` with hive partitioning, as DuckDB reads it."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(f"SELECT * FROM read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)")


def parquet_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.parquet"))


def all_readable(out: Path) -> int:
    """Reads every Parquet file under ``out`` (raises if one is not readable); returns the row count."""
    return sum(pq.read_table(path).num_rows for path in parquet_files(out))
