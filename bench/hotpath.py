"""Where the connection's time goes per message (issue 16): each step of ConnectWebsocket's hot path, in ns.

In one process, on one core's CPU time (``time.process_time``, so a busy machine moves it little), for
ticker and level2 pushes rendered by ``bench/feed_server.py``, handed over in batches of 120 pushes (one
32 KiB socket read of the picows link, which delivers a read's messages in one call):

- the baseline: ``orjson.loads`` and a count, the work of issue 16's picows + orjson consumer once picows
  has parsed the frame;
- the real path: ``ConnectWebsocket``'s sink for a read (decode, checks, counters, the ticker's
  ``data['symbol']``, the callback called right there) with a counting callback, as ``KucoinWsClient``
  gives it to SDK users, and as a driver's connection (``ticker_symbol=False``) gives it to a Stream;
- a replica of that path with one step taken out at a time: what each step costs. The replica's total is
  printed beside the real path's, so a replica that drifted from ``kunb/net/connection.py`` shows.

The frame parsing itself (picows, or kunb's links) is measured end to end by ``bench/run.py``.

Run: ``python bench/hotpath.py`` (about a minute); rewrites the ``## Connection hot path
(bench/hotpath.py)`` section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.feed_server import L2Book, Ticker
from bench.report import machine, write_section
from kunb.net.connection import ConnectWebsocket
from kunb.protocol import classic

__all__ = ["main"]

BATCH = 120  # pushes per 32 KiB read
STEPS = {
    "counters": "counters (`bytes`, `messages`: a local sum per push, added once per read)",
    "checks": "`type` and `topic` checks (`.get`, compare, `str` test)",
    "last": "`last_message[topic] = now` (one clock read per read)",
    "symbol": "ticker `data['symbol']` (SDK users only; the topic's symbol remembered per topic)",
    "callback": "calling the callback, awaitable test",
}


def _pushes(shape: str, n: int) -> list[bytes]:
    source = Ticker("BTC-USDT", seed=2) if shape == "ticker" else L2Book("BTC-USDT", seed=1)
    return [source.push(1_700_000_000_000 + i) for i in range(n)]


async def _drive(
    data: list[bytes], on_read: Callable[[list[bytes]], None], delivered: Callable[[], int]
) -> float:
    """CPU seconds to hand every push over in read-sized batches (turning the loop between reads)."""
    batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
    start = time.process_time()
    for batch in batches:
        on_read(batch)
        await asyncio.sleep(0)  # the loop turns between reads
    while delivered() < len(data):  # noqa: ASYNC110 - turning the loop is the point (CPU time, no clock)
        await asyncio.sleep(0)
    return time.process_time() - start


async def baseline(data: list[bytes]) -> float:
    loads = orjson.loads
    count = 0

    def on_read(raws: list[bytes]) -> None:
        nonlocal count
        for raw in raws:
            loads(raw)
            count += 1

    return await _drive(data, on_read, lambda: count)


class _NoToken:
    async def aget_ws_token(self, private: bool = False) -> dict[str, Any]:
        await asyncio.Event().wait()  # never dials: only the sink runs
        raise AssertionError


async def real_path(data: list[bytes], *, ticker_symbol: bool = True) -> float:
    count = 0

    def callback(message: dict[str, Any]) -> None:
        nonlocal count
        count += 1

    conn = ConnectWebsocket(None, _NoToken(), callback, queue_size=10_000, ticker_symbol=ticker_symbol)
    try:
        return await _drive(data, conn._frame_sink(), lambda: count)
    finally:
        await conn.close()


_REPLICA = """
def build(loads, decode_error, isawaitable, time, counters, last, callback, symbols, symbol_of):
    clock = time.monotonic

    def on_read(raws):
        now = clock()
        size = received = 0
        for raw in raws:
            size += len(raw)  # step:counters
            try:
                frame = loads(raw)
                kind = frame["type"]  # step:checks
                kind = "message"  # unless:checks
            except KeyError:
                kind = None
            except (decode_error, TypeError):
                continue
            if kind != "message":
                continue
            try:
                topic = frame["topic"]
            except KeyError:
                topic = None
            if topic.__class__ is not str:  # step:checks
                continue  # step:checks
            received += 1  # step:counters
            last[topic] = now  # step:last
            symbol = symbols.get(topic)  # step:symbol
            if symbol is None:  # step:symbol
                symbol = symbol_of(topic)  # step:symbol
            if symbol:  # step:symbol
                data = frame.get("data")  # step:symbol
                if data.__class__ is dict and "symbol" not in data:  # step:symbol
                    data["symbol"] = symbol  # step:symbol
            try:  # step:callback
                result = callback(frame)  # step:callback
            except Exception:  # step:callback
                continue  # step:callback
            if result is not None and isawaitable(result):  # step:callback
                raise AssertionError  # step:callback
            counters.delivered += 1  # unless:callback
        counters.bytes += size
        counters.messages += received

    return on_read
"""


class _Counters:
    __slots__ = ("bytes", "delivered", "messages")

    def __init__(self) -> None:
        self.bytes = self.messages = self.delivered = 0


def _replica_source(without: str | None) -> str:
    """The replica's code with one step's lines removed (``# step:X``), and what stands in for it
    (``# unless:X``: kept only when X is removed)."""
    kept = []
    for line in _REPLICA.splitlines():
        code, _, tag = line.partition("  # ")
        if tag.startswith("step:") and tag[5:] == without:
            continue
        if tag.startswith("unless:") and tag[7:] != without:
            continue
        kept.append(code if tag.startswith(("step:", "unless:")) else line)
    return "\n".join(kept)


async def replica(data: list[bytes], without: str | None) -> float:
    """ConnectWebsocket's classic sink as written in kunb/net/connection.py, minus one step."""
    namespace: dict[str, Any] = {}
    exec(_replica_source(without), namespace)  # generated from the template above, nothing external
    counters = _Counters()

    def callback(message: dict[str, Any]) -> None:
        counters.delivered += 1

    on_read = namespace["build"](
        orjson.loads,
        orjson.JSONDecodeError,
        inspect.isawaitable,
        time,
        counters,
        {},
        callback,
        classic.ticker_symbols,
        classic.ticker_symbol,
    )
    return await _drive(data, on_read, lambda: counters.delivered)


async def measure(n: int, runs: int) -> dict[str, dict[str, float]]:
    """ns per push for every variant and shape: the best of ``runs`` interleaved runs, and under
    ``d:<name>`` the median over runs of a difference paired within one run (what a step costs)."""
    out: dict[str, dict[str, float]] = {}
    for shape in ("ticker", "level2"):
        data = _pushes(shape, n)
        variants: dict[str, Callable[[], Any]] = {
            "baseline": lambda data=data: baseline(data),
            "real": lambda data=data: real_path(data),
            "driver": lambda data=data: real_path(data, ticker_symbol=False),
            "replica": lambda data=data: replica(data, None),
        }
        for step in STEPS:
            variants[step] = lambda data=data, step=step: replica(data, step)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, run in variants.items():
                times[name].append(await run() / n * 1e9)
        res = {name: min(ns) for name, ns in times.items()}
        pairs = {
            "beyond": ("real", "baseline"),
            "driver_beyond": ("driver", "baseline"),
            **{step: ("replica", step) for step in STEPS},
        }
        for name, (a, b) in pairs.items():
            res[f"d:{name}"] = statistics.median(x - y for x, y in zip(times[a], times[b], strict=True))
        res["ratio"] = statistics.median(b / a for a, b in zip(times["real"], times["baseline"], strict=True))
        out[shape] = res
    return out


def render(res: dict[str, dict[str, float]], n: int, runs: int, load: str) -> str:
    t, l2 = res["ticker"], res["level2"]
    lines = [
        f"Machine: {load}",
        "",
        f"{n:,} pushes per shape, in batches of {BATCH} (one 32 KiB read), best of {runs} interleaved runs;",
        "CPU ns per push, in one process (no socket: frame parsing is `bench/run.py`'s job).",
        "",
        "| | ticker ns/push | level2 ns/push |",
        "|---|---|---|",
        f"| `orjson.loads` + a count (picows + orjson's work after the frame parse) | {t['baseline']:.0f} | "
        f"{l2['baseline']:.0f} |",
        f"| **ConnectWebsocket's real path** (`KucoinWsClient`: sink, `data['symbol']`, counting callback) "
        f"| {t['real']:.0f} | {l2['real']:.0f} |",
        f"| a driver's connection (`ticker_symbol=False`, as a Stream's) | {t['driver']:.0f} | "
        f"{l2['driver']:.0f} |",
        f"| its replica, all steps (checks the replica against the real path) | {t['replica']:.0f} | "
        f"{l2['replica']:.0f} |",
        f"| **beyond the baseline** (real path - baseline) | {t['d:beyond']:.0f} | {l2['d:beyond']:.0f} |",
        f"| beyond the baseline, a driver's connection | {t['d:driver_beyond']:.0f} | "
        f"{l2['d:driver_beyond']:.0f} |",
        f"| baseline / real path (median of the runs' ratios) | {t['ratio']:.2f} | {l2['ratio']:.2f} |",
    ]
    for step, label in STEPS.items():
        lines.append(f"| step: {label} | {t['d:' + step]:.0f} | {l2['d:' + step]:.0f} |")
    lines += [
        "",
        "The first rows: the best run. 'Beyond the baseline' and each step: the median over runs of a",
        "difference taken within one run (real path - baseline; the replica - the replica without that",
        "step), so the machine's state moves both sides alike. What the steps leave of 'beyond the",
        "baseline' is the loop over a read's pushes; a busy machine (see the load above) blurs steps of a",
        "few tens of ns.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    load = machine(("orjson",))
    res = asyncio.run(measure(args.n, args.runs))
    body = render(res, args.n, args.runs, load)
    print(body)
    if not args.no_write:
        write_section("Connection hot path (bench/hotpath.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
