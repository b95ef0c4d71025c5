"""``kunb record`` against ``kunb sim`` (both as processes): a 10 s recording of two symbols and an account
reads in DuckDB with hive partitioning, its book deltas continue except where a new snapshot restarted
the book, and no secret reaches the disk; SIGINT ends it cleanly (exit 0, no temporaries left); a SIGKILL
after 8 s leaves only readable files and loses about a second at most."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from recordkit import all_readable, parquet_files

import kunb
from kunb.client import Market, Trade
from kunb.model.book import BookState
from kunb.record import Dataset, recover
from kunb.record.files import DirectoryLock
from kunb.record.raw import raw_files, read_raw, recover_raw
from kunb.record_cli import main
from kunb.signing import Credentials

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTC-USDT", "ETH-USDT")
MARKET_TABLES = ("ticks", "trades", "book_deltas", "book_snapshots", "candles")


class Sim:
    """``kunb sim`` in a process of its own: its URL and demo key."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str]) -> None:
        self.proc = proc
        self.url = env["KUNB_SIM_URL"]
        key, secret, passphrase = env["KUNB_SIM_KEY"], env["KUNB_SIM_SECRET"], env["KUNB_SIM_PASSPHRASE"]
        self.credentials = Credentials(key, secret, passphrase)

    def fault(self, name: str, **kwargs: object) -> None:
        answer = httpx.post(f"{self.url}/admin/faults/{name}", json=kwargs, timeout=10)
        assert answer.json()["code"] == "200000", answer.text


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kunb.sim", "--symbols", ",".join(SYMBOLS), "--tick-ms", "20", "--admin"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    timer = threading.Timer(60, proc.kill)  # bounds the wait for the first lines
    timer.start()
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        for line in proc.stdout:  # KEY=VALUE lines, the demo key among them (bounded by the timer)
            key, _, value = line.strip().partition("=")
            env[key] = value
            if {"KUNB_SIM_URL", "KUNB_SIM_KEY", "KUNB_SIM_SECRET", "KUNB_SIM_PASSPHRASE"} <= env.keys():
                break
    finally:
        timer.cancel()
    try:
        yield Sim(proc, env)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class Recorder:
    """``kunb record`` in a process of its own; its stderr lines arrive on a queue."""

    def __init__(self, sim: Sim, out: Path, *args: str, account: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if account:
            creds = sim.credentials
            env |= {"KUCOIN_API_KEY": creds.key, "KUCOIN_API_SECRET": creds.secret}
            env["KUCOIN_API_PASSPHRASE"] = creds.passphrase
        argv = ["--url", sim.url, "--symbols", ",".join(SYMBOLS), "--out", str(out), "--progress", "0", *args]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kunb.cli", "record", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The first stderr line containing ``text`` (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            self.seen.append(line)
            if text in line:
                return line
            assert line, f"kunb record ended before {text!r}: {''.join(self.seen)}"

    def finish(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def rest(self) -> str:
        """Every stderr line not read yet (after the process ended)."""
        out = []
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                break
            if not line:
                break
            out.append(line)
        return "".join(self.seen + out)


def hive(out: Path, table: str) -> duckdb.DuckDBPyRelation:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(f"SELECT * FROM read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)")


def temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob(".*") if p.name not in (".lock",)]


async def _trade(url: str, credentials: Credentials) -> None:
    """A resting order that is cancelled and a market order that fills (orders, fills, balances)."""
    async with Trade(url=url, credentials=credentials) as t, Market(url=url) as m:
        bid = float((await m.aget_ticker("BTC-USDT"))["bestBid"])
        low = str(round(bid * 0.8, 1))
        resting = (await t.acreate_limit_order("BTC-USDT", "buy", "0.001", low))["orderId"]
        await t.acancel_order(resting)
        await t.acreate_market_order("ETH-USDT", "sell", size="0.01")


def test_ten_seconds_of_two_symbols_and_an_account_read_in_duckdb(sim: Sim, tmp_path: Path) -> None:
    out = tmp_path / "session"
    channels = "ticker,level2,trades,candles,account"
    rec = Recorder(sim, out, "--channels", channels, "--duration", "10", account=True)
    try:
        rec.wait_for("books 2/2 live; account live")
        asyncio.run(_trade(sim.url, sim.credentials))
        sim.fault("skip_level2", pushes=1, symbol="ETH-USDT")  # a gap: the book restarts from a snapshot
        assert rec.finish() == 0, rec.rest()
    finally:
        rec.finish()
    log = rec.rest()
    assert "kunb record: stopped" in log, log
    assert temporaries(out) == [] and not (out / ".journal").exists()  # everything closed and converted

    for table in MARKET_TABLES:
        per_symbol = dict(hive(out, table).aggregate("symbol, count(*)").fetchall())
        assert set(per_symbol) == set(SYMBOLS) and min(per_symbol.values()) > 0, (table, per_symbol)
        assert "date" in hive(out, table).columns
    for table in ("balances", "orders", "fills"):
        assert hive(out, table).count("*").fetchall()[0][0] > 0, table
    assert {r[0] for r in hive(out, "orders").select("status").distinct().fetchall()} >= {"done"}
    kinds = hive(out, "integrity").filter("symbol = 'ETH-USDT'").select("kind").fetchall()
    assert ("gap",) in kinds

    # every break in a symbol's deltas is where the book restarted: the first full snapshot received after
    # the push before the break covers what the break missed (live, the pushes after a gap are kept and
    # the snapshot asked for comes at or past them)
    con = duckdb.connect()
    for table in ("book_deltas", "book_snapshots"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{out}/{table}/**/*.parquet', "
                    "hive_partitioning = true)")  # fmt: skip
    breaks = con.sql(
        """
        WITH pushes AS (SELECT DISTINCT symbol, sequence_start, sequence_end, received FROM book_deltas),
        ordered AS (SELECT *, lag(sequence_end) OVER w AS after, lag(received) OVER w AS after_received
                    FROM pushes WINDOW w AS (PARTITION BY symbol ORDER BY sequence_start))
        SELECT symbol, after, sequence_start,
               (SELECT arg_min(s.sequence, s.received) FROM book_snapshots s WHERE s.symbol = o.symbol
                AND s.origin = 'feed' AND s.depth IS NULL AND s.received >= o.after_received) AS restart
        FROM ordered o WHERE after IS NOT NULL AND sequence_start <> after + 1
        """
    ).fetchall()
    assert [b[0] for b in breaks] == ["ETH-USDT"], breaks  # the injected gap, and nothing else
    for symbol, after, start, restart in breaks:
        assert restart is not None and restart >= start - 1, (symbol, after, start, restart)
    assert not Dataset(out).sequence_gaps()["resynced"].eq(False).any()

    secrets = [s.encode() for s in (sim.credentials.key, sim.credentials.secret, sim.credentials.passphrase)]
    for path in parquet_files(out):
        assert not any(s in path.read_bytes() for s in secrets), path
    connections = set()
    for path in raw_files(out):
        for record in read_raw(path):
            text = str(record).encode()
            assert not any(s in text for s in secrets), (path, record)
            if record["k"] == "file":
                connections.add(str(record["connection"]).split("-")[0])
    assert connections == {"public", "private", "rest"}


def test_sigint_closes_the_files_and_exits_0(sim: Sim, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    rec = Recorder(sim, out, "--channels", "ticker,level2")
    try:
        rec.wait_for("books 2/2 live")
        rec.proc.send_signal(signal.SIGINT)
        assert rec.finish() == 0, rec.rest()
    finally:
        rec.finish()
    assert temporaries(out) == []
    assert all_readable(out) > 0
    stream = kunb.replay(out)
    asyncio.run(_replay(stream))
    assert all(book.state is BookState.LIVE for book in stream.books.values())


async def _replay(stream: kunb.Stream) -> None:
    async with stream:
        await stream.source.wait_finished(30)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["process", "in-process"])
def test_sigkill_after_8_s_leaves_readable_files_and_loses_about_a_second(
    sim: Sim, tmp_path: Path, mode: str
) -> None:
    out = tmp_path / "killed"
    rec = Recorder(
        sim, out, "--channels", "ticker,level2,trades", *(["--in-process"] if mode == "in-process" else [])
    )
    try:
        rec.wait_for("books 2/2 live")
        time.sleep(max(0.0, rec.started + 8.0 - time.monotonic()))  # the scenario: killed 8 s in
        killed = time.time_ns()
        rec.proc.send_signal(signal.SIGKILL)
        assert rec.finish() == -signal.SIGKILL
    finally:
        rec.finish()
    for path in parquet_files(out):
        pq.read_table(path)  # every Parquet file on disk is complete
    assert sum(1 for p in raw_files(out, open_files=True) for _ in read_raw(p)) > 0
    dataset = Dataset(out)  # a killed recording is queryable as it is (journals included)
    assert dataset.table("ticks").count("*").fetchall()[0][0] > 0
    # the writer process outlives its parent: it closes what it was sent, then lets the directory go
    lock = DirectoryLock(out)
    deadline = time.monotonic() + 60
    while not lock.acquire():  # bounded poll: the writer process finishing its files
        assert time.monotonic() < deadline, "the writer process did not finish"
        time.sleep(0.05)
    lock.release()
    for path in parquet_files(out):
        pq.read_table(path)
    recover(out)
    recover_raw(out)
    assert not [p for p in raw_files(out, open_files=True) if p.name.endswith(".tmp")]
    (newest,) = hive(out, "ticks").aggregate("max(time_ns)").fetchall()[0]
    lost = (killed - newest) / 1e9
    assert 0 <= lost <= 1.5, f"the newest recorded tick is {lost:.2f} s older than the kill"


def test_bad_arguments_exit_2_with_the_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--symbols", "BTC-USDT", "--channels", "level3", "--out", str(tmp_path)]) == 2
    assert "unknown channel 'level3'" in capsys.readouterr().err
    assert main(["--channels", "ticker", "--out", str(tmp_path)]) == 2
    assert "need --symbols" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing opened for a refused run
