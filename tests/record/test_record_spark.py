"""Spark (pyspark, local mode) reads every table of a recording as it is, with partition discovery:
microsecond UTC timestamps, float64 prices, decimal(38, 18) account amounts, the date and symbol
partition columns, and the same rows DuckDB sees. Slow (starts a JVM); Java comes from ``.ci/run``."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from recordkit import SECOND, T0, Market, one_of_each, read_table

from kunb.record import TABLES, Recorder

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    # in CI the test must run: .ci/run installs Java and the test extra brings pyspark, so a missing one
    # fails there instead of skipping unseen
    pytest.mark.skipif(
        shutil.which("java") is None and not IN_CI, reason="Spark needs Java (.ci/run installs it)"
    ),
]


@pytest.fixture(scope="module")
def spark():
    if IN_CI:
        import pyspark.sql as pyspark_sql  # the test extra installs it: a missing pyspark fails CI
    else:
        pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("kunb-record-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_reads_every_table_with_partition_discovery(spark, tmp_path: Path) -> None:
    from pyspark.sql import types as T

    with Recorder(tmp_path, snapshot_every=5.0) as recorder:
        for event in one_of_each("ETH-USDT"):
            recorder(event)
        for event in Market("BTC-USDT").events(50, T0, SECOND):
            recorder(event)
    for table in TABLES:
        frame = spark.read.parquet(str(tmp_path / table))
        fields = {f.name: f.dataType for f in frame.schema.fields}
        assert fields["time"] == T.TimestampType() and fields["date"] == T.DateType(), table
        assert fields["time_ns"] == T.LongType()
        assert frame.count() == read_table(tmp_path, table).count("*").fetchall()[0][0], table
    ticks = spark.read.parquet(str(tmp_path / "ticks"))
    assert {r.symbol for r in ticks.select("symbol").distinct().collect()} == {"BTC-USDT", "ETH-USDT"}
    assert dict(ticks.dtypes)["best_bid"] == "double"
    first = ticks.where("symbol = 'ETH-USDT'").collect()[0]
    assert first.time.timestamp() == T0 / 1e9 and first.time_ns == T0
    balances = spark.read.parquet(str(tmp_path / "balances"))
    assert dict(balances.dtypes)["total"] == "decimal(38,18)"
    assert balances.collect()[0].total == Decimal("1000.123456789")
    assert {r.currency for r in balances.collect()} == {"USDT"}
    # the partition filter prunes directories, as on a cluster
    deltas = spark.read.parquet(str(tmp_path / "book_deltas")).where(
        "symbol = 'BTC-USDT' AND date = '2023-11-14'"
    )
    assert deltas.count() == 50
