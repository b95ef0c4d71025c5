"""Recording while streaming, and replaying (issue 14): what recording costs the full feed, what it leaves
on disk, and how fast a recording replays.

* Full feed: ``bench/feed_server.py`` firehoses N pushes (level2 and ticker shapes) at kunb's full feed
  (``kunb.Stream``, ``bench/consumers.py`` row ``feed``), without recording, recording both layers on
  writer threads (``feed_rec``: ``Recording(out)``) and in a writer process (``feed_proc``:
  ``Recording(out, process=True)``, what ``record_to=`` a directory opens); rounds interleaved, every
  consumer its own process. Also the bytes each recording left per message against the raw JSON of the
  pushes, and whether it dropped anything.
* Replay: ``kunb.replay`` of a recording as fast as it goes (a synthetic classic feed of the embedded
  exchange's core recorded through both layers, and the real 2021 session imported), against the same
  frames applied to a ``Stream`` from memory (``Stream.ingest``: decode and apply, no files).

Run: ``python bench/record_feed.py`` (about 10 minutes) or ``--quick``; rewrites the ``## Recording
while streaming (bench/record_feed.py)`` section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import pyarrow as pa

from bench.feed_server import L2Book, Ticker
from bench.record import RECORDED, sim_workload
from bench.report import fmt_rate, machine, write_section
from bench.run import consume, server
from kunb.playback import replay
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.record import Recorder
from kunb.record.derive import Deriver
from kunb.record.files import write_parquet
from kunb.record.importer import import_cryptofeed
from kunb.record.process import Shipper
from kunb.record.raw import RawLog, read_recording
from kunb.record.tables import TABLE_OF, to_batch
from kunb.sources.base import LinkChange, LinkStatus, MarketChannels
from kunb.sources.replay import recorded_market
from kunb.stream import Stream

PACKAGES = ("pyarrow", "zstandard", "orjson", "websockets")
ROWS = {
    "feed": "full feed, not recording (**the baseline**)",
    "feed_busy": "full feed, not recording, beside a busy process at the lowest priority (a control: "
    "`nice 19` CPU loop, nothing of kunb)",
    "feed_rec": "full feed recording both layers, writer threads (`Recording(out)`)",
    "feed_proc": "full feed recording both layers, writer process (`record_to=DIR`, "
    "`Recording(out, process=True)`)",
    "feed_proc_nice": "full feed recording both layers, writer process at a lower priority "
    "(`Recording(process=True, writer_nice=10)`)",
}
SHAPES = ("level2", "ticker")


# -- full feed ----------------------------------------------------------------------------------------
def feed_runs(n: int, rounds: int, log: Any = print) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with server("--n", str(n), "--symbols", "0") as port:
        for rnd in range(rounds):
            for shape in SHAPES:
                for row in ROWS:
                    with busy() if row == "feed_busy" else contextlib.nullcontext():
                        consumer = "feed" if row == "feed_busy" else row
                        result = consume(consumer, port, 300, "--n", str(n), "--shape", shape)
                    out.setdefault((row, shape), []).append(result)
                    shown = fmt_rate(result["rate"]) + " msg/s" if "rate" in result else result.get("error")
                    log(f"round {rnd + 1}/{rounds} {row:9} {shape:6} {shown}")
    return out


@contextlib.contextmanager
def busy() -> Iterator[None]:
    """A process that only burns CPU at the lowest priority (``nice 19``) for the duration of the block:
    what any CPU-bound neighbour, a writer process included, does to the feed on this machine."""
    loop = subprocess.Popen([sys.executable, "-c", "import os\nos.nice(19)\nwhile True: pass"])
    try:
        yield
    finally:
        loop.kill()
        loop.wait()


def json_bytes(shape: str, n: int) -> float:
    """Mean bytes of the firehose's pushes (what came over the wire, as JSON)."""
    return sum(len(f) for f in _frames(shape, n)) / n


# -- the parts, one at a time, in this process -----------------------------------------------------------
def _frames(shape: str, n: int) -> list[bytes]:
    if shape == "level2":
        book = L2Book("BTC-USDT", seed=1)
        return [book.push(1_700_000_000_000 + i // 10) for i in range(n)]
    ticker = Ticker("BTC-USDT", seed=2)
    return [ticker.push(1_700_000_000_000 + i) for i in range(n)]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def feed_side(shape: str, n: int) -> float:
    """CPU us per frame this process spends on recording with a writer process: the wire tap's call
    (``Shipper.received``: the read's head and one ``writev`` to the pipe) and the shipping thread, with
    the writer process on whatever core is free: what the feed's interpreter pays, without the contention
    of a shared core. Reads of 120 frames: what the firehose's socket reads held (1,718 reads for 200,000
    ticker pushes, 1,489 for level2, counted in the tap)."""
    frames = _frames(shape, n)
    reads = [tuple(frames[at : at + 120]) for at in range(0, n, 120)]
    clock = time.time_ns
    with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
        shipper = Shipper(Path(tmp) / "rec", {"raw": True})
        received = shipper.received
        start = _cpu()
        for _read in reads:  # the loop without the tap: subtracted below
            clock()
        bare = _cpu() - start
        start = _cpu()
        for read in reads:
            received("public-1", clock(), read)
        shipper.flush(300)
        spent = _cpu() - start
        shipper.close(300)
    return (spent - bare) / n * 1e6


def writer_stages(shape: str, n: int) -> dict[str, float]:
    """CPU us per frame of each thing the writer process does, run alone in this process."""
    frames = _frames(shape, n)
    ns0 = time.time_ns()
    out: dict[str, float] = {}
    deriver = Deriver()
    start = _cpu()
    events = [e for i, f in enumerate(frames) for e in deriver.frame(f, ns0 + i)]
    out["derive"] = _cpu() - start
    table = TABLE_OF[type(events[0])]
    items = [("public-1", ns0 + i * 1_500, f) for i, f in enumerate(frames)]
    with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
        for level in (1, 3):
            raw = RawLog(Path(tmp) / f"raw{level}", level=level)
            # the log's thread first recovers what a killed writer left (.tmp files): let it finish before
            # this thread writes files of its own in the log's place
            raw.flush()
            start = _cpu()
            for at in range(0, n, 10_000):  # what the raw log's thread does with a shipment
                raw._handle(items[at : at + 10_000])
                if at % 100_000 == 0:
                    raw._flush()
            raw._flush()
            out[f"raw zstd {level}"] = _cpu() - start
            raw.close()
            out[f"raw zstd {level} bytes"] = raw.stats().bytes * 1e-6  # B/frame once divided below
        start = _cpu()
        batches = [to_batch(table, events[at : at + 65_536]) for at in range(0, len(events), 65_536)]
        out["arrow"] = _cpu() - start
        start = _cpu()
        write_parquet(pa.Table.from_batches(batches), Path(tmp) / "piece.parquet")
        out["parquet"] = _cpu() - start
    return {k: v / n * 1e6 for k, v in out.items()}


def part_runs(rounds: int, n: int) -> dict[str, Any]:
    sides: dict[str, list[float]] = {}
    stages: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for shape in SHAPES:
            sides.setdefault(shape, []).append(feed_side(shape, n))
            for key, value in writer_stages(shape, n).items():
                stages.setdefault(shape, {}).setdefault(key, []).append(value)
    return {"side": sides, "stages": stages}


# -- replay ---------------------------------------------------------------------------------------------
def synthetic_recording(out: Path, frames: int, symbols: int) -> int:
    """The synthetic feed written as kunb records it: raw layer (subscribes, REST snapshots, frames) and
    tables; returns the number of data frames."""
    work = sim_workload(frames, symbols)
    names = sorted(
        {f["topic"].split(":")[1].split("_")[0] for f in (orjson.loads(b) for _, b in work.frames)}
    )
    joined = ",".join(names)
    with RawLog(out) as raw:
        first = work.frames[0][0] - 1_000_000
        for i, prefix in enumerate(("level2", "ticker", "match")):
            topic = f"/market/{prefix}:{joined}"
            raw.sent("public-1", first, orjson.dumps({"id": str(i), "type": "subscribe", "topic": topic}))
        raw.sent(
            "public-1",
            first,
            orjson.dumps(
                {
                    "id": "9",
                    "type": "subscribe",
                    "topic": "/market/candles:" + ",".join(f"{s}_1min" for s in names),
                }
            ),
        )
        for ns, url, body in work.rest:
            raw.rest("rest", ns, "GET", url, 200, body)
        for ns, frame in work.frames:
            raw.received("public-1", ns, (frame,))
    with Recorder(out, rotate_seconds=None, snapshot_every=None) as recorder:
        for event in work.events:
            recorder(event)
    return len(work.frames)


async def replay_rate(out: Path) -> tuple[float, int]:
    stream = replay(out, window=1_000, top_interval=None)
    start = time.perf_counter()
    async with stream:
        await stream.source.wait_finished(600)  # type: ignore[attr-defined]
    progress = stream.source.connection_detail()
    return progress.frames / (time.perf_counter() - start), progress.frames


class _Memory:
    """A source of nothing: the baseline stream is fed through ``Stream.ingest``."""

    protocol = "classic"
    url = "memory"
    worked_around = None

    def __init__(self) -> None:
        self.decoder = ClassicDecoder()

    def topics(self, channels: MarketChannels) -> list[str]:
        return []

    async def open(
        self, channels: MarketChannels, on_frame: Any, on_link: Any, *, within: float | None
    ) -> None:
        on_link(LinkChange(LinkStatus.LIVE, "memory"))

    async def stats(self, symbol: str) -> None:
        return None

    async def snapshot(self, symbol: str) -> None:
        return None

    def connection_detail(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def memory_rate(out: Path) -> float:
    """The same frames decoded and applied from memory: the floor a replay's file reading is added to."""
    market = recorded_market(out)
    frames = [orjson.loads(record["d"]) for _, record in read_recording(out) if record["k"] == "recv"]
    frames = [f for f in frames if f.get("type") == "message"]
    stream = Stream(market.symbols, source=_Memory(), window=1_000, top_interval=None, candles=market.candles)
    async with stream:
        start = time.perf_counter()
        ingest = stream.ingest
        for frame in frames:
            ingest(frame)
        return len(frames) / (time.perf_counter() - start)


def replay_runs(rounds: int, frames: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kunb-bench-") as tmp:
        paths: dict[str, Path] = {}
        synthetic = Path(tmp) / "synthetic"
        synthetic_recording(synthetic, frames, 5)
        paths[f"kunb.sim core, 5 symbols, {frames:,} frames (level2, ticker, match, candles)"] = synthetic
        if RECORDED.is_dir():
            real = Path(tmp) / "real"
            import_cryptofeed(RECORDED, real)
            paths["real KuCoin session, 2021-04-25 (10 symbols, 4,721 frames)"] = real
        for name, path in paths.items():
            replays, memories = [], []
            for _ in range(rounds):
                rate, count = asyncio.run(replay_rate(path))
                replays.append(rate)
                memories.append(asyncio.run(memory_rate(path)))
            out[name] = {"replay": replays, "memory": memories, "frames": count}
    return out


# -- report ---------------------------------------------------------------------------------------------
def _cell(results: list[dict[str, Any]]) -> tuple[float | None, str]:
    rates = [r["rate"] for r in results if "rate" in r]
    if not rates:
        return None, "FAIL: " + str(results[0].get("error", ""))[:60]
    return statistics.median(
        rates
    ), f"{fmt_rate(statistics.median(rates))} ({fmt_rate(min(rates))}..{fmt_rate(max(rates))})"


def _paired(results: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> list[float]:
    """Each round's msg/s over the baseline's in the same round (rounds where both ran)."""
    pairs = zip(results, baseline, strict=True)
    return [r["rate"] / b["rate"] for r, b in pairs if "rate" in r and "rate" in b]


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else None


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def render(
    feed: dict[tuple[str, str], list[dict[str, Any]]],
    replays: dict[str, dict[str, Any]],
    parts: dict[str, Any],
    n: int,
    rounds: int,
    part_n: int,
) -> str:
    lines = [f"Machine: {machine(PACKAGES)}.", ""]
    lines += [
        f"### Full feed with and without recording (N = {n:,} pushes per run, median of {rounds} "
        "interleaved rounds, min..max)",
        "",
        "'vs baseline': the median over rounds of the row's msg/s divided by the baseline's in the same",
        "round (min..max), the verdict's figure: the machine's speed drifts between rounds (see the",
        "baseline's own min..max), and a ratio taken within one round cancels that drift; 'ratio of",
        "medians' divides the two columns' medians instead.",
        "",
        "| consumer | level2 msg/s | vs baseline | ratio of medians | ticker msg/s | vs baseline | "
        "ratio of medians |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {shape: _cell(feed[("feed", shape)])[0] for shape in SHAPES}
    verdicts = []
    for row, label in ROWS.items():
        cells = [label]
        for shape in SHAPES:
            rate, text = _cell(feed[(row, shape)])
            cells.append(text)
            paired = _paired(feed[(row, shape)], feed[("feed", shape)])
            if paired:
                middle = statistics.median(paired)
                cells.append(f"{middle:.2f}x ({min(paired):.2f}..{max(paired):.2f})")
                if row != "feed":
                    verdicts.append((row, shape, 1 - middle))
            else:
                cells.append("")
            cells.append(f"{rate / base[shape]:.2f}x" if rate and base[shape] else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Overhead of recording in msg/s (target <= 15 %; the median of the same-round ratios):", ""]
    for row, shape, overhead in verdicts:
        if row == "feed_busy":  # a control, not a recording: what a neighbour alone costs
            lines.append(f"- control (feed_busy, no recording), {shape}: {overhead * 100:.0f} % lost")
            continue
        met = "**met**" if overhead <= 0.15 else "not met"
        lines.append(f"- {ROWS[row].split(', ', 1)[1]} ({row}), {shape}: {overhead * 100:.0f} % {met}")
    lines += [
        "",
        "### CPU per message (the same runs, median): the consumer process (every thread) and the writer "
        "process",
        "",
        "| consumer | shape | consumer CPU us/msg | vs baseline | writer process CPU us/msg (whole life) |",
        "|---|---|---|---|---|",
    ]
    for shape in SHAPES:
        base_cpu = _median(feed[("feed", shape)], "cpu_us")
        for row in ROWS:
            cpu = _median(feed[(row, shape)], "cpu_us")
            writer = _median(feed[(row, shape)], "writer_cpu_us")
            ratio = f"{cpu / base_cpu:.2f}x" if cpu and base_cpu else ""
            lines.append(
                f"| {row} | {shape} | {_us(cpu)} | {ratio} | {_us(writer) if writer is not None else ''} |"
            )
    med = statistics.median
    lines += [
        "",
        f"### The parts alone (this process, {part_n:,} frames, median of {rounds})",
        "",
        "The feed's side of a writer process (`Shipper.received` as the tap calls it with reads of 120 "
        "frames: the read's head and one `writev` to the pipe; the writer process on whatever core is "
        "free), and what the "
        "writer process does with a frame, each stage run alone (CPU us per frame):",
        "",
        "| shape | feed side (tap + ship) | derive (orjson + the driver's decoder) "
        "| raw layer, zstd 1 | raw layer, zstd 3 | Arrow batches | Parquet |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape in SHAPES:
        st = {k: med(v) for k, v in parts["stages"][shape].items()}
        lines.append(
            f"| {shape} | {med(parts['side'][shape]):.2f} | {st['derive']:.2f} "
            f"| {st['raw zstd 1']:.2f} ({st['raw zstd 1 bytes']:.1f} B) "
            f"| {st['raw zstd 3']:.2f} ({st['raw zstd 3 bytes']:.1f} B) "
            f"| {st['arrow']:.2f} | {st['parquet']:.2f} |"
        )
    lines += [
        "",
        "### What the recordings left on disk, per message (the same runs)",
        "",
        "| recording | shape | raw JSON over the wire | raw layer (zstd JSON lines) | both layers "
        "| dropped | not yet written at the N-th push |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ("feed_rec", "feed_proc", "feed_proc_nice"):
        for shape in SHAPES:
            done = [r for r in feed[(row, shape)] if "bytes" in r]
            if not done:
                continue
            wire = json_bytes(shape, min(n, 20_000))
            raw = statistics.median(r["raw_bytes"] / r["n"] for r in done)
            both = statistics.median(r["bytes"] / r["n"] for r in done)
            dropped = max(r["dropped"] for r in done)
            backlog = statistics.median(r["backlog"] for r in done)
            lines.append(
                f"| {row} | {shape} | {wire:.0f} B | {raw:.1f} B ({wire / raw:.1f}x smaller) | "
                f"{both:.1f} B ({wire / both:.1f}x smaller) | {dropped} | {backlog:,.0f} |"
            )
    lines += [
        "",
        f"### Replay speed (`kunb.replay(out)`, as fast as it goes; median of {rounds})",
        "",
        "| recording | data frames | replay msg/s | from memory (`Stream.ingest`) msg/s | replay / memory |",
        "|---|---|---|---|---|",
    ]
    for name, row in replays.items():
        rep, mem = statistics.median(row["replay"]), statistics.median(row["memory"])
        lines.append(f"| {name} | {row['frames']:,} | {fmt_rate(rep)} | {fmt_rate(mem)} | {rep / mem:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500_000, help="pushes per run (the writers must work)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replay-frames", type=int, default=200_000)
    parser.add_argument("--part-frames", type=int, default=100_000, help="frames of the parts alone")
    parser.add_argument("--quick", action="store_true", help="50,000 pushes, 3 rounds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds, args.replay_frames, args.part_frames = 50_000, 3, 50_000, 20_000
    started = time.monotonic()
    feed = feed_runs(args.n, args.rounds)
    parts = part_runs(args.rounds, args.part_frames)
    replays = replay_runs(args.rounds, args.replay_frames)
    body = render(feed, replays, parts, args.n, args.rounds, args.part_frames)
    body += f"\n\nRun: {time.monotonic() - started:.0f} s in all.\n"
    print(body)
    if not args.no_write:
        write_section("Recording while streaming (bench/record_feed.py)", body)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
