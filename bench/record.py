"""The recording benchmark (issue 14): bytes on disk per message, and what recording costs.

Workloads: the real KuCoin session in ``shared/recorded`` (4,721 frames), and a synthetic classic feed
from ``kunb.sim`` (level2, ticker, match and 1min candle pushes of several symbols, with a REST snapshot
per symbol), decoded once by the classic decoder into normalized events.

* Disk: bytes per message of the raw frames (the baseline), of the raw layer (zstd JSON lines) and of
  the normalized Parquet tables (compacted), and of both together.
* Loop side: ns per ``recorder(event)`` call (while the writer thread works) against ``list.append`` (the
  floor) and a naive recorder that serialises and writes each event on the loop (``orjson`` + ``write``).
* Writer thread: events/s from the queue to flushed journals, against pandas ``DataFrame`` +
  ``to_parquet`` per flush (the naive way to write Parquet from Python objects).
* Format decisions: float64 against decimal128(38, 18) for prices (bytes, build + write time, a DuckDB
  aggregate), and an Arrow IPC journal append against one Parquet file per partition per flush.

Rounds are interleaved; each table shows the median and the ratio to its baseline from the same run.
Run: ``python bench/record.py`` (about two minutes) or ``--quick``; rewrites the ``## Recording
(bench/record.py)`` section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from bench.report import fmt_rate, machine, write_section
from kunb.events import Event, Tick
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.record import Recorder
from kunb.record.files import Journal
from kunb.record.raw import RawLog
from kunb.record.tables import SCHEMAS, TABLE_OF, to_batch
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.symbols import catalogue
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.publisher import Publisher
from kunb.sim.feed.session import FaultState
from kunb.sim.wire.market import orderbook_snapshot

RECORDED = (
    Path(os.environ.get("KUNB_SHARED") or Path(__file__).resolve().parents[2] / "shared")
    / "recorded"
    / "kucoin-2021-04-25"
)
PACKAGES = ("pyarrow", "duckdb", "zstandard", "orjson", "pandas")


# -- workloads -------------------------------------------------------------------------------------
class _Tap:
    """A hub subscriber that keeps every frame it is sent."""

    def __init__(self) -> None:
        self.id = 0
        self.topics: set[str] = set()
        self.faults = FaultState()
        self.user_id = None
        self.frames: list[bytes] = []

    def enqueue(self, frame: bytes) -> None:
        self.frames.append(frame)


class Workload:
    """Frames (bytes) with receive times, REST snapshots, and the events the decoder makes of them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[tuple[int, bytes]] = []
        self.rest: list[tuple[int, str, bytes]] = []  # (ns, url, body)
        self.events: list[Event] = []

    @property
    def messages(self) -> int:
        return len(self.frames) + len(self.rest)

    @property
    def raw_bytes(self) -> int:
        return sum(len(f) for _, f in self.frames) + sum(len(b) for _, _, b in self.rest)


def sim_workload(frames: int, symbols: int) -> Workload:
    """A synthetic classic feed: every push the sim publishes for ``symbols`` symbols, ``frames`` of them."""
    specs = catalogue(symbols)
    start = 1_700_000_000_000_000_000
    core = ExchangeCore(specs, seed=1, now_ns=start, rate=40.0)
    tap = _Tap()
    hub = Hub(FaultState())
    topics = []
    for spec in specs:
        s = spec.symbol
        topics += [
            f"/market/level2:{s}",
            f"/market/ticker:{s}",
            f"/market/match:{s}",
            f"/market/candles:{s}_1min",
        ]
    hub.subscribe(tap, topics)  # type: ignore[arg-type]
    publisher = Publisher(core, hub)
    work = Workload(f"kunb.sim, {symbols} symbols (level2, ticker, match, candles)")
    decoder = ClassicDecoder()
    for spec in specs:
        body = orjson.dumps(
            {"code": "200000", "data": orderbook_snapshot(core.market(spec.symbol), None, start // 10**6)}
        )
        work.rest.append((start, f"https://sim/api/v3/market/orderbook/level2?symbol={spec.symbol}", body))
        work.events.append(decoder.book_snapshot(spec.symbol, orjson.loads(body)["data"], start))
    now = start
    while len(tap.frames) < frames:
        now += 10_000_000
        core.advance(now)
        publisher.publish(core.collect(), now)
        for frame in tap.frames[len(work.frames) :]:
            work.frames.append((now, frame))
    del work.frames[frames:]
    for ns, frame in work.frames:
        work.events.extend(decoder.decode(orjson.loads(frame), ns))
    return work


def recorded_workload() -> Workload | None:
    """The real 2021 session: received frames and REST snapshots."""
    if not RECORDED.is_dir():
        return None
    work = Workload("real KuCoin session, 2021-04-25 (10 symbols)")
    decoder = ClassicDecoder()
    rows: list[tuple[int, str, Any]] = []
    for line in (RECORDED / "KUCOIN.ws.1.0").read_text().splitlines():
        if line and not line.startswith("wss://"):
            stamp, _, body = line.partition(": ")
            rows.append((int(Decimal(stamp) * 10**9), "ws", body.encode()))
    for line in (RECORDED / "KUCOIN.http.0.0").read_text().splitlines():
        if line:
            head, _, body = line.partition(": ")
            url, _, stamp = head.partition(" -> ")
            rows.append((int(Decimal(stamp) * 10**9), url, body.encode()))
    rows.sort(key=lambda row: row[0])
    for ns, kind, body in rows:
        if kind == "ws":
            work.frames.append((ns, body))
            frame = orjson.loads(body)
            if frame.get("type") == "message":
                work.events.extend(decoder.decode(frame, ns))
        else:
            work.rest.append((ns, kind, body))
            symbol = kind.split("symbol=")[1]
            work.events.append(decoder.book_snapshot(symbol, orjson.loads(body)["data"], ns))
    return work


# -- disk ------------------------------------------------------------------------------------------
def _size(root: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in root.rglob(f"*{suffix}"))


def disk(work: Workload) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
        out = Path(tmp)
        with RawLog(out) as raw:
            for ns, url, body in work.rest:
                raw.rest("rest", ns, "GET", url, 200, body)
            for ns, frame in work.frames:
                raw.received("ws-1", ns, (frame,))
        with Recorder(out, rotate_seconds=None, snapshot_every=None) as recorder:
            for event in work.events:
                recorder(event)
        raw_layer = _size(out / "raw", ".zst")
        parquet = _size(out, ".parquet")
        files = len(list(out.rglob("*.parquet")))
    n = work.messages
    return {
        "messages": n,
        "json": work.raw_bytes / n,
        "raw": raw_layer / n,
        "parquet": parquet / n,
        "files": files,
    }


# -- loop and thread cost --------------------------------------------------------------------------
def loop_side(work: Workload, rounds: int) -> dict[str, list[float]]:
    """ns per event handed to each sink (and per frame decoded, for scale), interleaved rounds."""
    events = work.events
    frames = [frame for _, frame in work.frames]
    results: dict[str, list[float]] = {"decode": [], "append": [], "naive": [], "idle": [], "busy": []}
    for _ in range(rounds):
        decoder = ClassicDecoder()
        start = time.perf_counter_ns()
        for frame in frames:
            decoder.decode(orjson.loads(frame), 0)
        results["decode"].append((time.perf_counter_ns() - start) / len(frames))

        sink: list[Event] = []
        start = time.perf_counter_ns()
        append = sink.append
        for event in events:
            append(event)
        results["append"].append((time.perf_counter_ns() - start) / len(events))

        with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
            with open(Path(tmp) / "naive.jsonl", "wb") as handle:
                dumps, write = orjson.dumps, handle.write
                start = time.perf_counter_ns()
                for event in events:
                    write(dumps(event, default=str) + b"\n")
                results["naive"].append((time.perf_counter_ns() - start) / len(events))
            # the thread idle (no flush due, queue far from half full): the call alone
            recorder = Recorder(Path(tmp) / "idle", capacity=2 * len(events) + 2, flush_interval=3600)
            start = time.perf_counter_ns()
            for event in events:
                recorder(event)
            results["idle"].append((time.perf_counter_ns() - start) / len(events))
            recorder.close()
            # the thread draining and writing meanwhile (every 50 ms): it shares the GIL with the caller
            recorder = Recorder(Path(tmp) / "busy", capacity=len(events) + 1, flush_interval=0.05)
            start = time.perf_counter_ns()
            for event in events:
                recorder(event)
            results["busy"].append((time.perf_counter_ns() - start) / len(events))
            recorder.close()
            assert recorder.dropped == 0
    return results


def thread_side(events: list[Event], rounds: int, flush_every: int) -> dict[str, list[float]]:
    """events/s from Python objects to flushed files: kunb's batch builders + journal, against pandas."""
    groups: dict[str, list[Event]] = {}
    for event in events:
        groups.setdefault(TABLE_OF[event.__class__], []).append(event)
    results: dict[str, list[float]] = {"pandas": [], "journal": [], "end_to_end": [], "convert": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
            out = Path(tmp)
            start = time.perf_counter()
            for n, (name, rows) in enumerate(groups.items()):
                for k in range(0, len(rows), flush_every):
                    frame = pd.DataFrame(rows[k : k + flush_every])
                    for column in frame.columns:
                        if frame[column].dtype == object and isinstance(
                            frame[column].iloc[0], (tuple, Decimal)
                        ):
                            frame[column] = frame[column].astype(str)
                    frame.to_parquet(out / f"{name}-{n}-{k}.parquet", compression="zstd")
            results["pandas"].append(len(events) / (time.perf_counter() - start))

            start = time.perf_counter()
            journals = {name: Journal(out / f"{name}.arrows", SCHEMAS[name]) for name in groups}
            for name, rows in groups.items():
                for k in range(0, len(rows), flush_every):
                    journals[name].write(to_batch(name, rows[k : k + flush_every]))
                    journals[name].flush()
            for journal in journals.values():
                journal.close()
            results["journal"].append(len(events) / (time.perf_counter() - start))

            start = time.perf_counter()
            rec = Recorder(out / "rec", capacity=len(events) + 1, snapshot_every=None, rotate_seconds=None)
            for event in events:
                rec(event)
            rec.flush()
            results["end_to_end"].append(len(events) / (time.perf_counter() - start))
            start = time.perf_counter()
            rec.close()  # journals -> Parquet pieces -> one file per partition and hour
            results["convert"].append(len(events) / (time.perf_counter() - start))
    return results


# -- format decisions ------------------------------------------------------------------------------
def price_types(events: list[Event], rounds: int) -> dict[str, dict[str, Any]]:
    """float64 vs decimal128(38, 18) for the book_deltas price/size columns."""
    prices = [
        c[0] for e in events if type(e).__name__ == "BookDelta" for side in (e.bids, e.asks) for c in side
    ]
    sizes = [
        c[1] for e in events if type(e).__name__ == "BookDelta" for side in (e.bids, e.asks) for c in side
    ]
    out: dict[str, dict[str, Any]] = {}
    kinds: dict[str, Callable[[list[float]], pa.Array]] = {
        "float64": lambda xs: pa.array(xs, pa.float64()),
        "decimal128(38, 18)": lambda xs: pa.array([Decimal(repr(x)) for x in xs], pa.decimal128(38, 18)),
    }
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
        for _ in range(rounds):
            for kind, build in kinds.items():
                start = time.perf_counter()
                table = pa.table({"price": build(prices), "size": build(sizes)})
                path = Path(tmp) / f"{kind}.parquet"
                pq.write_table(table, path, compression="zstd")
                timings[kind].append((time.perf_counter() - start) * 1e9 / (2 * len(prices)))
        for kind in kinds:
            path = Path(tmp) / f"{kind}.parquet"
            con = duckdb.connect()
            try:
                con.execute(f"SELECT sum(price * size) FROM '{path}'").fetchall()
                notional = "ok"
            except duckdb.Error as exc:
                notional = type(exc).__name__
            out[kind] = {
                "bytes": path.stat().st_size / len(prices),
                "ns": statistics.median(timings[kind]),
                "notional": notional,
            }
    return out


def flush_formats(rounds: int) -> dict[int, dict[str, float]]:
    """ms per flush: one IPC journal append for all symbols vs a Parquet file per symbol partition."""
    schema = SCHEMAS["ticks"]
    out: dict[int, dict[str, float]] = {}
    for symbols in (10, 100):
        events = [
            Tick(f"S{i % symbols}-USDT", 1_700_000_000_000_000_000 + i, 0, i, 1.5, 1.0, 1.4, 2.0, 1.6, 3.0)
            for i in range(symbols * 50)
        ]
        batch = to_batch("ticks", events)
        table = pa.Table.from_batches([batch])
        parts = [table.filter(pa.compute.equal(table["symbol"], f"S{i}-USDT")) for i in range(symbols)]
        parquet, journal = [], []
        with (
            tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp,
            open(Path(tmp) / "j.arrows", "wb") as sink,
        ):
            writer = ipc.new_stream(sink, schema)
            for r in range(rounds * 3):
                start = time.perf_counter()
                for i, part in enumerate(parts):
                    tmp_path = Path(tmp) / f".p{i}-{r}.tmp"
                    pq.write_table(part, tmp_path, compression="zstd")
                    os.replace(tmp_path, Path(tmp) / f"p{i}-{r}.parquet")
                parquet.append(time.perf_counter() - start)
                start = time.perf_counter()
                writer.write_batch(batch)
                sink.flush()
                journal.append(time.perf_counter() - start)
        out[symbols] = {
            "parquet": statistics.median(parquet) * 1e3,
            "journal": statistics.median(journal) * 1e3,
        }
    return out


# -- report ----------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    return statistics.median(values)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _smaller(base: float, value: float) -> str:
    return f"{value:.1f} B ({base / value:.1f}x smaller)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="synthetic frames")
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50,000 frames, 3 rounds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.rounds = 50_000, 3
    header = machine(PACKAGES)
    workloads = [w for w in (recorded_workload(), sim_workload(args.frames, args.symbols)) if w is not None]
    lines = [f"Machine: {header}.", ""]

    lines += [
        "### Bytes on disk per message",
        "",
        _row("workload", "messages", "raw JSON (baseline)", "raw layer, zstd JSON lines", "Parquet tables")
        + " both layers | Parquet files |",
        "|---|---|---|---|---|---|---|",
    ]
    for work in workloads:
        d = disk(work)
        json_size = d["json"]
        cells = [work.name, f"{d['messages']:,}", f"{json_size:.1f} B", _smaller(json_size, d["raw"])]
        cells += [_smaller(json_size, d["parquet"]), _smaller(json_size, d["raw"] + d["parquet"]), d["files"]]
        lines.append(_row(*cells))

    synthetic = workloads[-1]
    events = synthetic.events
    loop = loop_side(synthetic, args.rounds)
    floor = _median(loop["append"])
    idle, busy, naive = _median(loop["idle"]), _median(loop["busy"]), _median(loop["naive"])
    lines += [
        "",
        f"### Loop side: one `recorder(event)` call ({len(events):,} events of the synthetic feed, "
        f"median of {args.rounds})",
        "",
        "| on the event loop | ns per event | vs `list.append` |",
        "|---|---|---|",
        _row(
            "for scale: `orjson.loads` + classic decoder, per frame (what the feed pays already)",
            f"{_median(loop['decode']):.0f}",
            "",
        ),
        _row("`list.append` (the floor)", f"{floor:.0f}", "1.0x"),
        _row(
            "naive: `orjson.dumps` + `file.write` per event on the loop",
            f"{naive:.0f}",
            f"{naive / floor:.1f}x",
        ),
        _row(
            "**`Recorder.__call__`**, writer thread idle (the call itself)",
            f"{idle:.0f}",
            f"{idle / floor:.1f}x",
        ),
        _row(
            "**`Recorder.__call__`**, writer thread converting and writing meanwhile (shares the GIL)",
            f"{busy:.0f}",
            f"{busy / floor:.1f}x",
        ),
    ]

    thread = thread_side(events, args.rounds, flush_every=20_000)
    base = _median(thread["pandas"])
    rows = [
        ("naive: `pandas.DataFrame(events).to_parquet()` per flush and table", base),
        ("**kunb batch builders + Arrow IPC journal** (`to_batch`, `Journal.write`, flush)", None),
        (
            "**`Recorder` end to end**: `recorder(event)` for all, then `flush()` (queue, thread, journals)",
            None,
        ),
        ("**journals to Parquet** (`close()`: split by partition and hour, zstd, one file each)", None),
    ]
    rates = [base, _median(thread["journal"]), _median(thread["end_to_end"]), _median(thread["convert"])]
    lines += [
        "",
        f"### Writer thread: events/s from Python objects to flushed files (median of {args.rounds}; "
        "20,000-event flushes)",
        "",
        "| path | events/s | vs pandas |",
        "|---|---|---|",
        *(
            _row(label, fmt_rate(rate), f"{rate / base:.1f}x")
            for (label, _), rate in zip(rows, rates, strict=True)
        ),
    ]

    types = price_types(events, args.rounds)
    lines += [
        "",
        "### Prices: float64 or decimal128(38, 18)? (`book_deltas` price and size of the synthetic feed)",
        "",
        _row(
            "type",
            "bytes per value on disk (zstd)",
            "build + write, ns per value",
            "DuckDB `sum(price * size)`",
        ),
        "|---|---|---|---|",
        *(
            _row(kind, f"{row['bytes'] / 2:.2f}", f"{row['ns']:.0f}", row["notional"])
            for kind, row in types.items()
        ),
    ]

    flushes = flush_formats(args.rounds)
    lines += [
        "",
        "### Crash-safe flushing: one Arrow IPC journal append or one Parquet file per partition?",
        "",
        "50 ticks per symbol per flush.",
        "",
        _row("symbols", "Parquet file per symbol, .tmp + rename (ms per flush)")
        + " IPC journal append + flush (ms) | ratio |",
        "|---|---|---|---|",
        *(
            _row(
                n, f"{row['parquet']:.2f}", f"{row['journal']:.3f}", f"{row['parquet'] / row['journal']:.0f}x"
            )
            for n, row in flushes.items()
        ),
    ]
    lines += [
        "",
        "Reading: the raw layer is the exact record (every frame, for replay) and the Parquet tables the",
        "queryable copy; each is several times smaller than the JSON that came over the wire (the real",
        "session's many small partitions and full-book snapshots weigh more than the synthetic feed's).",
        "Prices are float64: the events already carry floats (exact for KuCoin's at most 15 significant",
        "digits), decimal128 costs a `Decimal` per value to build and its `price * size` overflows",
        "DuckDB's DECIMAL(38) without a cast; account amounts (few rows, summed exactly) are",
        "decimal128(38, 18), which Spark, DuckDB and Polars read. Journals: a flush is one append",
        "whatever the number of symbols, where Parquet files per partition grow with it (and leave",
        "thousands of small files to compact).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Recording (bench/record.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
