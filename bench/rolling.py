"""Benchmark: rolling-frame appends per second, DataFrame materialisation time, and memory over 10 M appends.

Baselines measured in the same run: growing a DataFrame with ``pd.concat`` per tick (the naive way,
trimmed to the window each time), and a list of dicts turned into a DataFrame on read.

Usage: ``.venv/bin/python bench/rolling.py [--n 1000000] [--runs 3] [--memory 10000000] [--no-write]``
(about 40 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import fmt_rate, machine, median_rate, write_section
from kunb.model.rolling import TickerFrame
from kunb.protocol.classic_decoder import ClassicDecoder

__all__ = ["main"]

T0 = 1_729_816_425_625_000_000
WINDOW = 10_000
COLUMNS = ["price", "size", "best_bid", "best_bid_size", "best_ask", "best_ask_size"]


def append_kunb(n: int) -> int:
    frame = TickerFrame(maxlen=WINDOW)
    append = frame.append
    for i in range(n):
        append(T0 + i, "BTC-USDT", 43000.0, 0.01, 42999.5, 1.0, 43000.5, 2.0)
    assert frame.appended == n
    return n


def add_kunb_wire(pushes: list[dict]) -> int:
    """Decode each wire push into a Tick (the classic decoder) and append it: what a Stream does."""
    frame = TickerFrame(maxlen=WINDOW)
    add = frame.add
    decode = ClassicDecoder().decode
    for frame_ in pushes:
        for event in decode(frame_, 0):
            add(event)
    return len(pushes)


def append_concat(n: int) -> int:
    frame = pd.DataFrame(columns=["time", *COLUMNS])
    for i in range(n):
        row = pd.DataFrame([[T0 + i, 43000.0, 0.01, 42999.5, 1.0, 43000.5, 2.0]], columns=frame.columns)
        frame = pd.concat([frame, row], ignore_index=True).iloc[-WINDOW:]
    return n


def append_dicts(n: int) -> int:
    rows: list[dict] = []
    for i in range(n):
        rows.append({"time": T0 + i, "price": 43000.0, "size": 0.01, "best_bid": 42999.5})
        if len(rows) > 2 * WINDOW:  # keep it bounded like the ring
            del rows[:WINDOW]
    return n


def time_call(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="appends per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per row (median reported)")
    parser.add_argument("--memory", type=int, default=10_000_000, help="appends in the memory run")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    box = machine()
    naive_n = 2_000
    wire = [
        {
            "topic": "/market/ticker:BTC-USDT",
            "data": {
                "sequence": str(i),
                "price": "43000.1",
                "size": "0.011",
                "bestAsk": "43000.5",
                "bestAskSize": "0.18",
                "bestBid": "42999.5",
                "bestBidSize": "0.036",
                "time": 1704873323416 + i,
            },
        }
        for i in range(args.n // 4)
    ]
    rows = [
        ("`pd.concat` per tick, trimmed to the window (naive)", lambda: append_concat(naive_n)),
        ("list of dicts (cheap to append, each read pays: see below)", lambda: append_dicts(args.n)),
        ("**decode + `TickerFrame.add(tick)`** from wire frames", lambda: add_kunb_wire(wire)),
        ("**`TickerFrame.append(...)`** (numbers)", lambda: append_kunb(args.n)),
    ]
    results = [(label, median_rate(fn, args.runs)) for label, fn in rows]
    naive = results[0][1][0]
    lines = [
        "| appending ticks | ticks/s (median) | min..max | vs naive |",
        "|---|---|---|---|",
    ]
    for label, (med, low, high) in results:
        lines.append(
            f"| {label} | {fmt_rate(med)} | {fmt_rate(low)}..{fmt_rate(high)} | {med / naive:,.0f}x |"
        )
    appends = "\n".join(lines)
    print(appends, "\n", flush=True)

    frame = TickerFrame(maxlen=WINDOW)
    for i in range(WINDOW + 1234):  # wrapped, so the read has to stitch the ring's two halves
        frame.append(
            T0 + i * 1_000_000, "BTC-USDT" if i % 3 else "ETH-USDT", 43000.0 + i, 0.01, 1.0, 1.0, 2.0, 2.0
        )
    dicts = [
        {"time": T0 + i, "symbol": "BTC-USDT", **dict.fromkeys(COLUMNS, 1.0), "spread": 1.0, "mid": 1.0}
        for i in range(WINDOW)
    ]
    df_kunb = time_call(lambda: frame.df, 200)
    df_dicts = time_call(lambda: pd.DataFrame(dicts), 20)
    last = time_call(lambda: frame.last(500, "time", "mid", "price"), 500)
    last_symbol = time_call(lambda: frame.last(500, "time", "mid", symbol="BTC-USDT"), 500)
    reads = "\n".join(
        [
            "| reading a 10,000-row window | time (median) | vs naive |",
            "|---|---|---|",
            f"| `pd.DataFrame(list_of_dicts)` (naive) | {df_dicts * 1e3:.3f} ms | 1x |",
            f"| **`TickerFrame.df`** (typed: UTC index, categorical symbol, derived spread/mid) "
            f"| {df_kunb * 1e3:.3f} ms | {df_dicts / df_kunb:.0f}x |",
            f"| **`TickerFrame.last(500, 'time', 'mid', 'price')`** (float64 arrays for a renderer) "
            f"| {last * 1e3:.3f} ms | |",
            f"| **`TickerFrame.last(500, ..., symbol=...)`** | {last_symbol * 1e3:.3f} ms | |",
        ]
    )
    print(reads, "\n", flush=True)

    frame = TickerFrame(maxlen=WINDOW)
    append = frame.append
    checkpoints = []
    step = max(1, args.memory // 5)
    start = time.perf_counter()
    for i in range(args.memory):
        append(T0 + i, "BTC-USDT", 43000.0, 0.01, 42999.5, 1.0, 43000.5, 2.0)
        if i % step == step - 1:
            checkpoints.append(rss_bytes())
    elapsed = time.perf_counter() - start
    memory = (
        f"Memory: {args.memory:,} appends into a {WINDOW:,}-row `TickerFrame` ({elapsed:.1f} s, "
        f"{fmt_rate(args.memory / elapsed)} ticks/s): process RSS at each fifth "
        f"{', '.join(f'{b / 2**20:.1f}' for b in checkpoints)} MiB "
        f"(growth {(checkpoints[-1] - checkpoints[0]) / 2**10:+.0f} KiB); the ring itself is "
        f"{frame._rows.nbytes / 2**10:.0f} KiB, allocated once."
    )
    print(memory, flush=True)
    append_rate = results[-1][1][0]
    growth = checkpoints[-1] - checkpoints[0]
    verdicts = [
        f">= 2 M appended ticks/s: {fmt_rate(append_rate)} ({'met' if append_rate >= 2e6 else 'NOT met'})",
        f"10,000-row DataFrame < 1 ms: {df_kunb * 1e3:.3f} ms ({'met' if df_kunb < 1e-3 else 'NOT met'})",
        f"memory flat over {args.memory:,} appends: {growth / 2**10:+.0f} KiB "
        f"({'met' if growth <= 1 << 20 else 'NOT met'})",
    ]
    targets = "Targets (issue 5): " + "; ".join(verdicts) + "."
    print(targets)
    body = "\n\n".join(
        [
            f"Machine: {box}.",
            f"Appends: {args.n:,} per run (the naive concat row: {naive_n:,}), median of {args.runs} runs, "
            f"window {WINDOW:,} rows.",
            appends,
            reads,
            memory,
            targets,
        ]
    )
    if not args.no_write:
        write_section("Rolling frames (bench/rolling.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
