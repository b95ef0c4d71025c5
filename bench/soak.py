"""Soak: a kunb Stream (level2 books + ticker frame) fed at a steady rate for N minutes; is it flat?

Starts ``bench/feed_server.py`` (paced, every push stamped) in a child process, runs a
:class:`kunb.Stream` in this process, and samples every ``--every`` seconds: RSS, asyncio task count,
open file descriptors, messages received, drops and book resyncs. A :class:`kunb.record.Recorder` is
attached as a sink (every event to Parquet in a temporary directory; ``--no-record`` leaves it off), so its
queue, journals and compactions are part of what must stay flat. After the warm-up (the rolling frames
and books fill up: ``max(120 s, 10 %)`` of the run), the run is flat when RSS grew less than 5 % and the
task and fd counts did not grow. Writes the ``## Soak (bench/soak.py)`` section of ``bench/RESULTS.md``.

Run: ``python bench/soak.py --minutes 30`` (a bench, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine, write_section
from kunb.record import Recorder
from kunb.stream import Stream

__all__ = ["main"]

HERE = Path(__file__).resolve().parent


def start_server(rate_per_symbol: float) -> tuple[subprocess.Popen[str], int]:
    """The paced feed server as a child process; returns it and its port."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "feed_server.py"), "--n", "0", "--rate", str(rate_per_symbol)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"feed server did not start: {line!r}")
    return proc, int(line.split()[1])


async def soak(
    port: int, symbols: int, minutes: float, every: float, record_to: Path | None
) -> list[dict[str, float]]:
    names = [f"K{i:03d}-USDT" for i in range(symbols)]
    proc = psutil.Process()
    samples: list[dict[str, float]] = []
    stream = Stream(names, url=f"http://127.0.0.1:{port}", trades=False, stats=False)
    recorder = None if record_to is None else Recorder(record_to)
    if recorder is not None:
        stream.add_sink(recorder)
    async with stream:
        await stream.wait_live(60)
        start = time.monotonic()
        end = start + minutes * 60
        while True:
            client = stream.connection
            assert client is not None
            counters = client.counters
            samples.append(
                {
                    "t": time.monotonic() - start,
                    "rss_mib": proc.memory_info().rss / 2**20,
                    "tasks": len(asyncio.all_tasks()),
                    "fds": proc.num_fds(),
                    "messages": counters.messages,
                    "drops": counters.drops,
                    "resyncs": sum(b.stats.resyncs for b in stream.books.values()),
                    "cpu_s": sum(proc.cpu_times()[:2]),
                    **_recorded(recorder),
                }
            )
            now = time.monotonic()
            if now >= end:
                break
            await asyncio.sleep(min(every, end - now))
    if recorder is not None:
        await recorder.aclose()
    return samples


def _recorded(recorder: Recorder | None) -> dict[str, float]:
    """The recorder's counters for a sample (zeros when it is off)."""
    if recorder is None:
        return {"recorded": 0, "record_dropped": 0, "record_mib": 0.0}
    stats = recorder.stats()
    return {"recorded": stats.written, "record_dropped": stats.dropped, "record_mib": stats.bytes / 2**20}


def verdict(samples: list[dict[str, float]], warmup: float) -> dict[str, float | bool]:
    """RSS growth after warm-up (end vs warm-up sample) and whether tasks/fds stayed put."""
    after = [s for s in samples if s["t"] >= warmup] or samples[-1:]
    base, last = after[0], after[-1]
    growth = (last["rss_mib"] - base["rss_mib"]) / base["rss_mib"]
    peak = (max(s["rss_mib"] for s in after) - base["rss_mib"]) / base["rss_mib"]
    tasks_flat = max(s["tasks"] for s in after) <= base["tasks"]
    fds_flat = max(s["fds"] for s in after) <= base["fds"]
    return {
        "growth": growth,
        "peak_growth": peak,
        "tasks_flat": tasks_flat,
        "fds_flat": fds_flat,
        "flat": growth < 0.05 and tasks_flat and fds_flat,
    }


def report(
    samples: list[dict[str, float]], warmup: float, rate: float, symbols: int, load: str, recording: bool
) -> str:
    v = verdict(samples, warmup)
    duration = samples[-1]["t"]
    wall = samples[-1]["t"] - samples[0]["t"] or 1.0
    msg_rate = (samples[-1]["messages"] - samples[0]["messages"]) / wall
    cpu = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / wall
    step = max(1, len(samples) // 12)
    rows = [
        f"| {s['t'] / 60:.1f} | {s['rss_mib']:.1f} | {s['tasks']:.0f} | {s['fds']:.0f} | "
        f"{s['messages']:,.0f} | {s['drops']:.0f} | {s['resyncs']:.0f} | {s['recorded']:,.0f} | "
        f"{s['record_dropped']:.0f} | {s['record_mib']:.1f} |"
        for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    ]
    met = "met" if v["flat"] else "MISSED"
    recorder = (
        "a `kunb.record.Recorder` attached as a sink (every event to Parquet on local disk)"
        if recording
        else "no recorder"
    )
    return f"""
Machine: {load}

Workload: a `kunb.Stream` of {symbols} symbols (level2 books with book-top frame + ticker frame, 10,000-row
windows), {recorder}, fed by `bench/feed_server.py` at {rate:g} pushes/s per symbol and channel; measured
{msg_rate:,.0f} msg/s received, {cpu:.1%} of one core for this process (the server is a separate process).
Duration: **{duration / 60:.1f} minutes** of streaming after the books were live;
warm-up {warmup / 60:.1f} min.

{HEADER}
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

RSS after warm-up {after_base(samples, warmup):.1f} MiB -> {samples[-1]["rss_mib"]:.1f} MiB at the end: growth
{v["growth"]:+.2%} (peak {v["peak_growth"]:+.2%}); tasks flat: {v["tasks_flat"]}; fds flat: {v["fds_flat"]}.

Target (issue 8: RSS growth under 5 % after warm-up, tasks and fds flat): {met}.
"""


HEADER = (
    "| minute | RSS MiB | asyncio tasks | open fds | messages | drops | book resyncs | events recorded "
    "| recorder drops | recorded MiB |"
)


def after_base(samples: list[dict[str, float]], warmup: float) -> float:
    after = [s for s in samples if s["t"] >= warmup] or samples[-1:]
    return after[0]["rss_mib"]


def _commit() -> str:
    """The checked-out commit (the soak runs long: say which code it measured)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10, cwd=HERE
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="pushes/s per symbol and channel")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--no-record", action="store_true", help="run without the recorder sink")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    load = machine(("websockets", "orjson", "numpy", "pandas")) + f"; kunb at commit {_commit()}"
    server, port = start_server(args.rate)
    try:
        with tempfile.TemporaryDirectory(prefix="kunb-soak-") as tmp:
            record_to = None if args.no_record else Path(tmp) / "recording"
            samples = asyncio.run(soak(port, args.symbols, args.minutes, args.every, record_to))
    finally:
        server.terminate()
        server.wait(10)
    warmup = max(120.0, 0.1 * args.minutes * 60) if args.minutes * 60 > 240 else args.minutes * 60 / 2
    body = report(samples, warmup, args.rate, args.symbols, load, not args.no_record)
    print(body)
    if not args.no_write:
        write_section("Soak (bench/soak.py)", body)
    return 0 if verdict(samples, warmup)["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
