"""Whole-market scale (issue 16 item 3): every ticker of ~1,300 pairs plus the 100 busiest level-2 books.

The embedded exchange runs alone in a child process (``python -m kunb.sim --symbols N``: KuCoin-like
pairs, each at its own rate of book events); each consumer runs in its own child process too, so CPU
and RSS are its own:

- ``kunb``: what a user writes - a :class:`kunb.Stream` of every symbol's ticker (``book=False``, the
  ticks in a TickerFrame) and a Stream of the 100 busiest symbols' books (``ticker=False``; snapshots
  from REST ``level2_100``, weight 2 each in KuCoin's public pool: 200 for all 100). Measured: time from
  the start until every book is live, then CPU share of one core and RSS over ``--seconds``.
- ``baseline``: picows + ``orjson.loads`` of every push on the same topics (as many connections as
  KuCoin's 400 topics per connection need): the least any consumer of the same feed can do. Its CPU share
  is the same-run baseline the kunb figure is divided by.

The busiest symbols are the first 100 by 24 h quote volume (REST ``allTickers``), as a user would pick
them. Rounds interleave (baseline, kunb, baseline, kunb...) against one exchange process.

Run: ``python bench/scale.py`` (about 5 minutes); rewrites the ``## Whole-market scale
(bench/scale.py)`` section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.report import machine, write_section

__all__ = ["main"]

HERE = Path(__file__).resolve()
BOOKS = 100
TOPICS_PER_CONNECTION = 400  # classic-protocol.md#topics-and-limits
SYMBOLS_PER_REQUEST = 100


@contextmanager
def exchange(symbols: int, rate: float, tick_ms: int, seed: int) -> Iterator[str]:
    """The embedded exchange in a child process; yields its REST URL."""
    cmd = [sys.executable, "-m", "kunb.sim", "--symbols", str(symbols), "--rate", str(rate)]
    cmd += ["--tick-ms", str(tick_ms), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("KUNB_SIM_URL="):
            raise RuntimeError(f"kunb sim did not start: {line!r}")
        yield line.split("=", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)["data"]


def market(url: str, books: int) -> tuple[list[str], list[str]]:
    """Every symbol, and the ``books`` busiest by 24 h quote volume."""
    tickers = _get(f"{url}/api/v1/market/allTickers")["ticker"]
    every = sorted(t["symbol"] for t in tickers)
    busiest = sorted(tickers, key=lambda t: float(t.get("volValue") or 0), reverse=True)[:books]
    return every, [t["symbol"] for t in busiest]


def _usage() -> tuple[float, int]:
    import psutil

    proc = psutil.Process()
    cpu = proc.cpu_times()
    return cpu.user + cpu.system, proc.memory_info().rss


async def _measure(seconds: float, count: Any) -> dict[str, Any]:
    cpu0, _ = _usage()
    n0, t0 = count(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, rss = _usage()
    n1, t1 = count(), time.perf_counter()
    wall = t1 - t0
    return {"cpu_share": (cpu1 - cpu0) / wall, "rate": (n1 - n0) / wall, "rss_mib": rss / 2**20}


# -- the consumers (child processes) -----------------------------------------------------------------
async def run_kunb(
    url: str, every: list[str], busiest: list[str], seconds: float, warmup: float
) -> dict[str, Any]:
    from kunb.stream import Stream

    start = time.perf_counter()
    tickers = Stream(every, url=url, book=False, ticker=True, trades=False, stats=False, open_timeout=120)
    books = Stream(busiest, url=url, book=True, ticker=False, trades=False, stats=False, open_timeout=120)
    async with tickers, books:
        await books.wait_live(180)
        live_after = time.perf_counter() - start
        await asyncio.sleep(warmup)

        def received() -> int:
            return sum(s.connection.counters.messages for s in (tickers, books))

        out = await _measure(seconds, received)
        out["live_after_s"] = live_after
        out["connections"] = sum(len(s.connection.connections) for s in (tickers, books))
        out["symbols_ticked"] = len({*tickers.ticks.categories("symbol")}) if tickers.ticks else 0
        out["books_live"] = sum(b.state.value == "live" for b in books.books.values())
        out["resyncs"] = sum(b.stats.resyncs for b in books.books.values())
        out["snapshots"] = books.snapshots_fetched
        out["drops"] = sum(s.connection.counters.drops for s in (tickers, books))
    return out


async def run_baseline(
    url: str, every: list[str], busiest: list[str], seconds: float, warmup: float
) -> dict[str, Any]:
    from picows import WSListener, WSMsgType, ws_connect

    topics = [
        f"/market/ticker:{','.join(every[i : i + SYMBOLS_PER_REQUEST])}" for i in range(0, len(every), 100)
    ]
    topics += [f"/market/level2:{','.join(busiest)}"]
    units = [len(t.split(":", 1)[1].split(",")) for t in topics]
    loads = orjson.loads
    count = 0

    class Counter(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            nonlocal count
            loads(frame.get_payload_as_bytes())
            count += 1

    transports = []
    request = urllib.request.Request(f"{url}/api/v1/bullet-public", method="POST", data=b"")
    try:
        group: list[str] = []
        held = 0
        groups: list[list[str]] = []
        for topic, n in zip(topics, units, strict=True):
            if held + n > TOPICS_PER_CONNECTION:
                groups.append(group)
                group, held = [], 0
            group.append(topic)
            held += n
        groups.append(group)
        for group in groups:
            data = await asyncio.to_thread(
                lambda: json.load(urllib.request.urlopen(request, timeout=30))["data"]
            )
            endpoint = data["instanceServers"][0]["endpoint"]
            transport, _ = await ws_connect(
                Counter, f"{endpoint}?token={data['token']}&connectId=bench", use_aiofastnet=False
            )
            transports.append(transport)
            for i, topic in enumerate(group):
                message = {"id": str(i), "type": "subscribe", "topic": topic, "response": True}
                transport.send(WSMsgType.TEXT, orjson.dumps(message))
                await asyncio.sleep(0.11)  # KuCoin's uplink limit: 100 messages per 10 s
        await asyncio.sleep(warmup)
        out = await _measure(seconds, lambda: count)
        out["connections"] = len(transports)
        return out
    finally:
        for transport in transports:
            transport.disconnect()


def child(role: str, url: str, every: list[str], busiest: list[str], seconds: float, warmup: float) -> None:
    run = run_kunb if role == "kunb" else run_baseline

    async def report() -> None:
        try:
            result = await run(url, every, busiest, seconds, warmup)
        except Exception as exc:  # reported to the harness
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print("RESULT " + json.dumps(result), flush=True)
        os._exit(0)

    asyncio.run(report())


# -- the harness ---------------------------------------------------------------------------------------
def consume(
    role: str, url: str, every: list[str], busiest: list[str], seconds: float, warmup: float
) -> dict[str, Any]:
    spec = json.dumps({"url": url, "every": every, "busiest": busiest, "seconds": seconds, "warmup": warmup})
    cmd = [sys.executable, str(HERE), "--child", role]
    try:
        done = subprocess.run(cmd, input=spec, capture_output=True, text=True, timeout=seconds + warmup + 300)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])  # type: ignore[no-any-return]
    return {"error": f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"}


def render(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace, load: str, info: str) -> str:
    kunb = [r for r in results["kunb"] if "cpu_share" in r]
    base = [r for r in results["baseline"] if "cpu_share" in r]
    pairs = zip(results["kunb"], results["baseline"], strict=False)
    ratios = [k["cpu_share"] / b["cpu_share"] for k, b in pairs if "cpu_share" in k and b.get("cpu_share")]
    lines = [
        f"Machine: {load}",
        "",
        f"Feed: `python -m kunb.sim --symbols {args.symbols} --rate {args.rate:g} --tick-ms {args.tick_ms}` "
        f"(its own process); {info}. {args.rounds} interleaved rounds; each consumer measured over "
        f"{args.seconds:g} s after a {args.warmup:g} s warm-up, in its own process.",
        "",
        "| consumer | round | msg/s | CPU (one core = 100 %) | RSS MiB | books live after | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for i in range(args.rounds):
        for role in ("baseline", "kunb"):
            r = results[role][i] if i < len(results[role]) else {"error": "missing"}
            name = "picows + `orjson.loads` (baseline)" if role == "baseline" else "**kunb** (two Streams)"
            if "cpu_share" not in r:
                lines.append(f"| {name} | {i + 1} | FAIL: {r.get('error')} | | | | |")
                continue
            live = f"{r['live_after_s']:.1f} s" if "live_after_s" in r else "-"
            notes = f"{r['connections']} connections"
            if role == "kunb":
                notes += (
                    f"; {r['symbols_ticked']:,} symbols ticked, {r['books_live']} books live, "
                    f"{r['snapshots']} snapshots, {r['resyncs']} resyncs, {r['drops']} drops"
                )
            lines.append(
                f"| {name} | {i + 1} | {r['rate']:,.0f} | {r['cpu_share']:.1%} | {r['rss_mib']:.0f} | {live} "
                f"| {notes} |"
            )
    if kunb:
        cpu = statistics.median(r["cpu_share"] for r in kunb)
        rss = max(r["rss_mib"] for r in kunb)
        live = max(r["live_after_s"] for r in kunb)
        lines += [
            "",
            f"kunb: median CPU {cpu:.1%} of one core (target <= 50 %: "
            f"{'**met**' if cpu <= 0.5 else '**MISSED**'}), RSS at most {rss:.0f} MiB (target <= 1 GB: "
            f"{'**met**' if rss <= 1024 else '**MISSED**'}), every book live within {live:.1f} s.",
        ]
        if ratios and base:
            lines.append(
                f"CPU against the same round's baseline: {statistics.median(ratios):.2f}x "
                f"({min(ratios):.2f}..{max(ratios):.2f}); the baseline decodes the same pushes and keeps "
                "nothing."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--symbols", type=int, default=1300)
    parser.add_argument("--rate", type=float, default=1.0, help="the exchange's event-rate multiplier")
    parser.add_argument("--tick-ms", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", choices=["kunb", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(sys.stdin.read())
        child(args.child, spec["url"], spec["every"], spec["busiest"], spec["seconds"], spec["warmup"])
        return 0
    load = machine(("picows", "orjson", "numpy", "pandas"))
    results: dict[str, list[dict[str, Any]]] = {"kunb": [], "baseline": []}
    with exchange(args.symbols, args.rate, args.tick_ms, args.seed) as url:
        every, busiest = market(url, BOOKS)
        info = f"{len(every):,} pairs, books of the {len(busiest)} busiest ({busiest[0]}...)"
        for rnd in range(args.rounds):
            for role in ("baseline", "kunb"):
                out = consume(role, url, every, busiest, args.seconds, args.warmup)
                results[role].append(out)
                print(f"round {rnd + 1} {role}: {out}", flush=True)
    body = render(results, args, load, info)
    print()
    print(body)
    if not args.no_write:
        write_section("Whole-market scale (bench/scale.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
