"""Queries on a recording with DuckDB (embedded): tables, the book at a past moment, candles from trades.

Each table is a DuckDB view over ``read_parquet('<out>/<table>/**/*.parquet', hive_partitioning=true)``,
with the ``date`` and ``symbol`` (``currency``) partition columns, plus the complete batches of the
journals a running (or killed) recorder has not converted yet, so a live recording is queryable up to its
last flush. Times are UTC. The same directory reads as it is in Spark, Polars, pyarrow and Dask
(``recording-and-replay.md``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa

from ..exceptions import ConfigurationError
from .files import journal_paths, journal_table, read_journal
from .tables import PARTITION, SCHEMAS, TABLES, Table

__all__ = ["Dataset", "PastBook", "interval_seconds"]

TimeLike: TypeAlias = "str | dt.datetime | pd.Timestamp | int"  # naive times are UTC; int: ns
_UNITS = {"s": 1, "sec": 1, "min": 60, "hour": 3600, "day": 86_400, "week": 604_800}
_INTERVAL = re.compile(r"^(\d+)(s|sec|min|hour|day|week)$")
_MONDAY_US = 4 * 86_400 * 1_000_000  # the Unix epoch was a Thursday; KuCoin's weeks start on Monday


def interval_seconds(interval: str) -> int:
    """Seconds of a candle interval: KuCoin's names (``1min``, ``4hour``, ``1week``) or e.g. ``15s``.

    Raises:
        ConfigurationError: not an interval (``1month`` has no fixed length: use :meth:`Dataset.candles`).
    """
    match = _INTERVAL.match(interval)
    if not match or int(match.group(1)) <= 0:
        raise ConfigurationError(
            f"unknown candle interval {interval!r}: use <n>s, <n>min, <n>hour, <n>day, <n>week or 1month"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def _timestamp(value: TimeLike) -> pd.Timestamp:
    """A UTC timestamp from a string, datetime or ns integer (naive times are UTC)."""
    stamp = pd.Timestamp(value, unit="ns") if isinstance(value, int) else pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class PastBook(NamedTuple):
    """A book rebuilt from a recording: the nearest full snapshot and the deltas after it."""

    symbol: str
    sequence: int | None  #: the sequence the book is at
    time: pd.Timestamp | None  #: exchange time of the last delta applied (or of the snapshot)
    bids: pd.DataFrame  #: ``price``, ``size``; best first
    asks: pd.DataFrame
    snapshot_sequence: int | None  #: the snapshot it started from
    deltas: int  #: delta rows applied
    complete: bool  #: the deltas from the snapshot to ``sequence`` had no gap

    @property
    def best_bid(self) -> float | None:
        return None if self.bids.empty else float(self.bids["price"].iloc[0])

    @property
    def best_ask(self) -> float | None:
        return None if self.asks.empty else float(self.asks["price"].iloc[0])


class Dataset:
    """A recording opened for queries (read-only).

    Args:
        path: the recording directory (what :class:`~kunb.record.Recorder` wrote).
        live: also read the journals not yet converted to Parquet (a running or killed recorder's
            last minutes); call :meth:`refresh` to see newer data.
        connection: a DuckDB connection to register the views on (default: a new in-memory one).

    Raises:
        ConfigurationError: ``path`` is not a directory.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        live: bool = True,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ConfigurationError(f"no recording at {self.path}")
        self.live = live
        self.con = connection if connection is not None else duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.refresh()

    def refresh(self) -> None:
        """(Re)define every table's view: new Parquet files and journal batches become visible."""
        journals: dict[Table, list[pa.Table]] = {}
        if self.live:
            for path in journal_paths(self.path):
                data = read_journal(path)
                if data is not None and data.num_rows:
                    journals.setdefault(journal_table(path), []).append(data)
        for name in TABLES:
            self._define(name, journals.get(name, []))

    def _define(self, name: Table, journals: list[pa.Table]) -> None:
        parts = []
        root = self.path / name
        if any(root.glob("**/*.parquet")):
            types = {"date": "DATE"}
            column = PARTITION[name]
            if column is not None:
                types[column] = "VARCHAR"
            glob = str(root / "**" / "*.parquet").replace("'", "''")
            parts.append(
                f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true, "
                f"hive_types = {types!r})"
            )
        if journals:
            table = pa.concat_tables(journals, promote_options="default")
            self.con.register(f"_journal_{name}", table)
            parts.append(f"SELECT *, CAST(time AS DATE) AS date FROM _journal_{name}")
        if not parts:  # nothing recorded: an empty view with the table's columns
            empty = SCHEMAS[name].empty_table()
            self.con.register(f"_empty_{name}", empty)
            parts.append(f"SELECT *, CAST(time AS DATE) AS date FROM _empty_{name}")
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS " + " UNION ALL BY NAME ".join(parts))

    def _one(self, query: str, params: Any = None) -> tuple[Any, ...] | None:
        """The first row of a query (fetched to the end: DuckDB keeps an unfinished result busy)."""
        rows = self.con.execute(query, params).fetchall()
        return rows[0] if rows else None

    # -- tables ---------------------------------------------------------------------------------
    @property
    def tables(self) -> list[Table]:
        """Tables with at least one row."""
        return [name for name in TABLES if self._one(f"SELECT 1 FROM {name} LIMIT 1")]

    def table(self, name: Table) -> duckdb.DuckDBPyRelation:
        """A table as a DuckDB relation (lazy: filter, aggregate, ``.df()``, ``.arrow()``...)."""
        if name not in SCHEMAS:
            raise ConfigurationError(f"no table {name!r}; the tables are {', '.join(TABLES)}")
        return self.con.table(name)

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the tables (each table is a view of its own name)."""
        return self.con.sql(query, params=params)

    def df(
        self,
        name: Table,
        *,
        symbol: str | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame:
        """A table (or one symbol's rows between ``start`` and ``end``, end excluded) as pandas, in time
        order. Partition pruning keeps a narrow query cheap on a large recording."""
        self.table(name)  # checks the name
        where, params = self._where(name, symbol, start, end)
        query = f"SELECT * FROM {name}{where} ORDER BY time"
        return self.con.execute(query, params).df()

    def _where(
        self, name: Table, symbol: str | None, start: TimeLike | None, end: TimeLike | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if symbol is not None:
            column = PARTITION[name] or "symbol"
            clauses.append(f"{column} = ?")
            params.append(symbol)
        if start is not None:
            stamp = _timestamp(start)
            clauses += ["time >= ?", "date >= ?"]
            params += [stamp.to_pydatetime(), stamp.date()]
        if end is not None:
            stamp = _timestamp(end)
            clauses += ["time < ?", "date <= ?"]
            params += [stamp.to_pydatetime(), stamp.date()]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    # -- books ----------------------------------------------------------------------------------
    def book_at(
        self,
        symbol: str,
        at: TimeLike | None = None,
        *,
        sequence: int | None = None,
        depth: int | None = None,
    ) -> PastBook:
        """The book of ``symbol`` as it was at time ``at`` (exchange time) or at ``sequence``.

        Starts from the nearest earlier full snapshot (one the feed used, or one the recorder took) and
        applies the recorded deltas after it; ``complete`` is false when their sequences have a gap.
        With neither ``at`` nor ``sequence``: the last recorded book. ``depth`` limits levels per side.

        Raises:
            ConfigurationError: both ``at`` and ``sequence`` given, or no snapshot of ``symbol`` before.
        """
        if at is not None and sequence is not None:
            raise ConfigurationError("give at= or sequence=, not both")
        con = self.con
        limit = None  # the time bound, when at= is given
        if sequence is not None:
            snap = self._one(
                "SELECT sequence, max(time) FROM book_snapshots WHERE symbol = ? AND depth IS NULL "
                "AND sequence <= ? GROUP BY sequence ORDER BY sequence DESC LIMIT 1",
                [symbol, sequence],
            )
        else:
            limit = _timestamp(at).to_pydatetime() if at is not None else None
            snap = self._one(
                "SELECT sequence, max(time) FROM book_snapshots WHERE symbol = ? AND depth IS NULL "
                "AND sequence IS NOT NULL AND (? IS NULL OR time <= ?) GROUP BY sequence "
                "ORDER BY max(time) DESC, sequence DESC LIMIT 1",
                [symbol, limit, limit],
            )
        if snap is None:
            raise ConfigurationError(f"no full book snapshot of {symbol} recorded before that point")
        base, base_time = snap
        if sequence is not None:
            target = sequence
        else:
            row = self._one(
                "SELECT max(sequence_end) FROM book_deltas WHERE symbol = ? AND sequence_end > ? "
                "AND (? IS NULL OR time <= ?)",
                [symbol, base, limit, limit],
            )
            target = base if row is None or row[0] is None else int(row[0])
        applied, last_time = self._one(
            "SELECT count(*), max(time) FROM book_deltas WHERE symbol = ? AND sequence > ? AND sequence <= ?",
            [symbol, base, target],
        ) or (0, None)
        levels = con.execute(
            """
            WITH rows AS (
                SELECT side, price, size, sequence FROM book_snapshots
                WHERE symbol = $symbol AND sequence = $base AND depth IS NULL AND side IS NOT NULL
                UNION ALL
                SELECT side, price, size, sequence FROM book_deltas
                WHERE symbol = $symbol AND sequence > $base AND sequence <= $target AND side IS NOT NULL
            )
            SELECT side, price, arg_max(size, sequence) AS size FROM rows
            GROUP BY side, price HAVING arg_max(size, sequence) > 0 AND price > 0
            """,
            {"symbol": symbol, "base": base, "target": target},
        ).df()
        bids = levels[levels["side"] == "bid"].sort_values("price", ascending=False)
        asks = levels[levels["side"] == "ask"].sort_values("price")
        if depth is not None:
            bids, asks = bids.head(depth), asks.head(depth)
        return PastBook(
            symbol,
            target,
            pd.Timestamp(last_time if applied else base_time),
            bids[["price", "size"]].reset_index(drop=True),
            asks[["price", "size"]].reset_index(drop=True),
            base,
            int(applied),
            self._contiguous(symbol, base, target),
        )

    def _contiguous(self, symbol: str, after: int, until: int) -> bool:
        """True when the recorded deltas cover every sequence in ``(after, until]``."""
        if until <= after:
            return True
        gaps = self._one(
            """
            WITH ranges AS (
                SELECT DISTINCT sequence_start, sequence_end FROM book_deltas
                WHERE symbol = ? AND sequence_end > ? AND sequence_start <= ?
            ), ordered AS (
                SELECT sequence_start, sequence_end,
                       max(sequence_end) OVER (ORDER BY sequence_start, sequence_end
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
                FROM ranges
            )
            SELECT count(*) FILTER (WHERE sequence_start > coalesce(reached, ?) + 1),
                   max(sequence_end)
            FROM ordered
            """,
            [symbol, after, until, after],
        )
        return gaps is not None and gaps[0] == 0 and gaps[1] is not None and gaps[1] >= until

    def sequence_gaps(self, symbol: str | None = None) -> pd.DataFrame:
        """Where a symbol's recorded ``book_deltas`` do not continue the previous push's sequence:
        ``symbol``, ``after`` (the last sequence before), ``sequence_start`` and ``time`` of the next push,
        and ``resynced``: whether the book restarted from a snapshot, i.e. the first full feed snapshot
        received after the push before the break covers the sequences missed (its sequence is at least
        ``sequence_start - 1``). Live, a book that sees a gap keeps the pushes after it and asks for a
        snapshot, which comes with a sequence at or past them."""
        return self.con.execute(
            """
            WITH pushes AS (
                SELECT DISTINCT symbol, sequence_start, sequence_end, time, received FROM book_deltas
                WHERE $symbol IS NULL OR symbol = $symbol
            ), ordered AS (
                SELECT *, lag(sequence_end) OVER w AS after, lag(received) OVER w AS after_received
                FROM pushes WINDOW w AS (PARTITION BY symbol ORDER BY sequence_start)
            )
            SELECT o.symbol, o.after, o.sequence_start, o.time,
                   coalesce((SELECT arg_min(s.sequence, s.received) >= o.sequence_start - 1
                             FROM book_snapshots s WHERE s.symbol = o.symbol AND s.depth IS NULL
                             AND s.origin = 'feed' AND s.received >= o.after_received), false) AS resynced
            FROM ordered o WHERE o.after IS NOT NULL AND o.sequence_start <> o.after + 1
            ORDER BY o.symbol, o.sequence_start
            """,
            {"symbol": symbol},
        ).df()

    # -- candles --------------------------------------------------------------------------------
    def candles(
        self,
        symbol: str,
        interval: str = "1min",
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame:
        """Candles of any interval built from the recorded trades of ``symbol``.

        Indexed by the candle's start (UTC); ``open``, ``high``, ``low``, ``close``, ``volume`` (base),
        ``turnover`` (quote: sum of price x size), ``trades``. Weeks start on Monday, as KuCoin's;
        ``1month`` is calendar months. Only intervals with trades have a row.
        """
        where, params = self._where("trades", symbol, start, end)
        if interval == "1month":
            bucket = "date_trunc('month', time)"
        else:
            step = interval_seconds(interval) * 1_000_000
            offset = _MONDAY_US if interval.endswith("week") else 0
            bucket = f"make_timestamp((epoch_us(time) - {offset}) // {step} * {step} + {offset})::TIMESTAMPTZ"
        frame = self.con.execute(
            f"""
            SELECT {bucket} AS start,
                   first(price ORDER BY time, time_ns, sequence) AS open,
                   max(price) AS high, min(price) AS low,
                   last(price ORDER BY time, time_ns, sequence) AS close,
                   sum(size) AS volume, sum(price * size) AS turnover, count(*) AS trades
            FROM trades{where} GROUP BY ALL ORDER BY start
            """,
            params,
        ).df()
        return frame.set_index("start")
