"""Embedded exchange memory: RSS of a ``kunb sim`` child process through a long busy run with faults.

The exchange runs alone in a child process (``python -m kunb.sim --admin``), so its RSS is its own and
nothing the client keeps counts. This process drives it the way ``bench/chaos.py`` does: a
:class:`kunb.feed.Stream` (level2 books, ticker, trades) and a :class:`kunb.account.Account` on the demo
key, a trader that places, crosses and cancels orders every 0.15 s, and a fault every ~2 s through the
admin route (abrupt and clean disconnects, expired tokens, failing bullets, level2 skips, malformed
frames), so orders, fills, tokens and sessions keep churning. The child's RSS is sampled every
``--every`` seconds; after the warm-up (``--warmup``, default ``max(2 min, 10 %)``; it should cover the
time the exchange needs to reach its retention limits) it is flat when it grew less than 5 %.

``--baseline DIR`` runs a second exchange from another source tree (e.g. ``git worktree add /tmp/old
<commit>``) side by side with an identical workload, so both are measured in the same run on the same
machine. Writes the ``## Embedded exchange memory (bench/sim_memory.py)`` section of RESULTS.md.

Run: ``python bench/sim_memory.py --minutes 20 [--baseline DIR]`` (a bench, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine, write_section
from kunb.account import Account
from kunb.client import Market, Trade
from kunb.exceptions import KunbError
from kunb.signing import Credentials
from kunb.stream import Stream

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
FAST = {"backoff_base": 0.05, "backoff_cap": 0.5, "stable_after": 0.5, "request_timeout": 5.0}
FAULTS = (
    ("disconnect", {"abrupt": True}),
    ("disconnect", {"abrupt": False}),
    ("close", {"code": 1011, "reason": "bench"}),
    ("expire_tokens", {}),
    ("bullet_errors", {"status": 503, "count": 2}),
    ("skip_level2", {"pushes": 2}),
    ("send_malformed", {}),
)


@dataclass
class Run:
    """One exchange child and what was measured of it."""

    label: str
    source: Path
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    credentials: Credentials | None = None
    rss_mb: list[float] = field(default_factory=list)
    orders: int = 0
    faults: int = 0

    def start(self, seed: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.source)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kunb.sim",
                "--admin",
                "--seed",
                str(seed),
                "--symbols",
                ",".join(SYMBOLS),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.source,
        )
        assert self.proc.stdout is not None
        # kunb sim prints KEY=VALUE lines, the URL first; the credentials follow somewhere in the
        # next dozen (the UTA sockets were added between them), so read until they are all there.
        lines: dict[str, str] = {}
        wanted = {"KUNB_SIM_URL", "KUNB_SIM_KEY", "KUNB_SIM_SECRET", "KUNB_SIM_PASSPHRASE"}
        for _ in range(32):
            line = self.proc.stdout.readline().strip()
            if "=" in line:
                key, value = line.split("=", 1)
                lines[key] = value
            if wanted <= lines.keys() or not line:
                break
        missing = wanted - lines.keys()
        if missing:
            raise RuntimeError(f"kunb sim did not print {sorted(missing)}")
        self.url = lines["KUNB_SIM_URL"]
        self.credentials = Credentials(
            lines["KUNB_SIM_KEY"], lines["KUNB_SIM_SECRET"], lines["KUNB_SIM_PASSPHRASE"]
        )

    def sample(self) -> None:
        assert self.proc is not None
        self.rss_mb.append(psutil.Process(self.proc.pid).memory_info().rss / 2**20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _trade(run: Run, rng: random.Random, stop: asyncio.Event) -> None:
    """Place, cross and cancel orders every 0.15 s (bench/chaos.py's trader, without its bookkeeping)."""
    assert run.credentials is not None
    async with Trade(credentials=run.credentials, url=run.url) as trade, Market(url=run.url) as market:
        minimum = {s: Decimal((await market.aget_symbol_detail(s))["baseMinSize"]) for s in SYMBOLS}
        resting: list[str] = []
        while not stop.is_set():
            symbol = rng.choice(SYMBOLS)
            roll = rng.random()
            with contextlib.suppress(KunbError):
                if roll < 0.25 and resting:
                    await trade.acancel_order(resting.pop(rng.randrange(len(resting))))
                else:
                    ticker = await market.aget_ticker(symbol)
                    if ticker.get("bestBid") and ticker.get("bestAsk"):
                        bid, ask = Decimal(ticker["bestBid"]), Decimal(ticker["bestAsk"])
                        side = rng.choice(["buy", "sell"])
                        crossing = roll < 0.45
                        price = (
                            (ask if side == "buy" else bid) if crossing else (bid if side == "buy" else ask)
                        )
                        size = minimum[symbol] * rng.randint(1, 5)
                        order = await trade.acreate_limit_order(symbol, side, str(size), str(price))
                        run.orders += 1
                        if not crossing:
                            resting.append(order["orderId"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.15)


async def _faults(run: Run, rng: random.Random, stop: asyncio.Event) -> None:
    """One fault every 1-3 s through the admin route."""
    async with httpx.AsyncClient(base_url=run.url, timeout=10) as http:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(1.0, 3.0))
            if stop.is_set():
                break
            name, kwargs = rng.choice(FAULTS)
            with contextlib.suppress(httpx.HTTPError):
                await http.post(f"/admin/faults/{name}", json=kwargs)
                if name in ("expire_tokens", "bullet_errors"):  # make the next dial meet it
                    await http.post("/admin/faults/disconnect", json={"abrupt": True})
                run.faults += 1


async def measure(runs: list[Run], *, seed: int, minutes: float, every: float) -> None:
    stop = asyncio.Event()
    clients = []
    tasks = []
    for run in runs:
        assert run.credentials is not None
        stream = Stream(SYMBOLS, url=run.url, credentials=run.credentials, top_interval=None, **FAST)
        account = Account(run.credentials, url=run.url, **FAST)
        await stream.astart()
        await account.astart()
        clients += [stream, account]
        tasks += [
            asyncio.create_task(_trade(run, random.Random(seed + 1), stop)),
            asyncio.create_task(_faults(run, random.Random(seed + 2), stop)),
        ]
    start = time.monotonic()
    try:
        while True:
            for run in runs:
                run.sample()
            elapsed = time.monotonic() - start
            print(
                f"{elapsed:6.0f} s  " + "  ".join(f"{r.label} {r.rss_mb[-1]:.1f} MB" for r in runs),
                flush=True,
            )
            if elapsed >= minutes * 60:
                break
            await asyncio.sleep(every)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.aclose()


def _report(runs: list[Run], minutes: float, every: float, warmup_min: float | None) -> str:
    warm = 60 * warmup_min if warmup_min is not None else max(120.0, minutes * 6)  # s: 10 %, >= 2 min
    first = round(warm / every)
    lines = [
        f"Machine: {machine(('websockets', 'uvicorn', 'starlette', 'sortedcontainers'))}",
        "",
        f"Workload: one `python -m kunb.sim --admin` child per exchange ({', '.join(SYMBOLS)}, 100 ms",
        "ticks); this process drives each with a Stream (books, ticker, trades) and an Account on the demo",
        "key, a trader placing/crossing/cancelling every 0.15 s, and a fault every 1-3 s through the admin",
        "route (abrupt/clean disconnects, closes, expired tokens, failing bullets, level2 skips, malformed",
        "frames).",
        f"Duration {minutes:g} minutes; RSS of each child every {every:g} s; warm-up {warm / 60:.1f} min.",
        "",
        "| minute | " + " | ".join(f"{r.label} RSS MiB" for r in runs) + " |",
        "|---" * (len(runs) + 1) + "|",
    ]
    for i in range(len(runs[0].rss_mb)):
        lines.append(f"| {i * every / 60:.1f} | " + " | ".join(f"{r.rss_mb[i]:.1f}" for r in runs) + " |")
    lines.append("")
    for r in runs:
        base = r.rss_mb[min(first, len(r.rss_mb) - 1)]
        growth = (r.rss_mb[-1] - base) / base * 100
        peak = (max(r.rss_mb[first:] or r.rss_mb) - base) / base * 100
        verdict = "flat" if growth < 5 and peak < 5 else "growing"
        lines.append(
            f"{r.label}: {r.orders:,} orders placed, {r.faults:,} faults; RSS after warm-up {base:.1f} -> "
            f"{r.rss_mb[-1]:.1f} MiB: {growth:+.1f} % (peak {peak:+.1f} %): {verdict}."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--warmup", type=float, help="minutes before the flatness check starts")
    parser.add_argument("--baseline", type=Path, help="source tree of an older kunb.sim to run beside")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    runs = [Run("this tree", ROOT)]
    if args.baseline:
        runs.append(Run(f"baseline ({args.baseline.name})", args.baseline.resolve()))
    try:
        for run in runs:
            run.start(args.seed)
        asyncio.run(measure(runs, seed=args.seed, minutes=args.minutes, every=args.every))
    finally:
        for run in runs:
            run.stop()
    body = _report(runs, args.minutes, args.every, args.warmup)
    print(body)
    if not args.no_write:
        write_section("Embedded exchange memory (bench/sim_memory.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
