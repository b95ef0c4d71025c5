"""Recording: normalized events to a Parquet dataset, raw frames to compressed JSON lines, and queries.

* :class:`Recorder` is a sink of :mod:`kunb.events` that writes ``out/<table>/date=.../symbol=.../``
  Parquet files (read as they are by DuckDB, Spark, Polars, pyarrow and Dask);
* :class:`RawLog` keeps every frame received and sent and every REST answer, secrets removed, per
  connection, for exact replay;
* :class:`Dataset` queries a recording with DuckDB: tables, the book at a past time, candles from trades;
* :func:`recover` repairs a directory whose recorder was killed.
"""

from __future__ import annotations

from .files import Recovery, recover
from .tables import SCHEMAS, TABLES
from .worker import WriterState
from .writer import Recorder, RecorderStats

__all__ = [
    "SCHEMAS",
    "TABLES",
    "Recorder",
    "RecorderStats",
    "Recovery",
    "WriterState",
    "recover",
]
