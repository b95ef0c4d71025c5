"""The UTA full feed beside the classic one (issue 13): msg/s and level changes/s into a synchronised book.

Classic: ``bench/feed_server.py``'s level2 firehose (one change per ``trade.l2update`` push, the REST
snapshot first) into kunb's full feed, ``kunb.Stream`` (the ``feed`` row of ``bench/run.py``). UTA: a
pre-framed ``obu`` ``increment@10ms`` server in this file (a binary welcome, the ``result`` answer, one
socket snapshot of 100 levels a side, then N binary deltas written at once, ``O == previous C + 1``) into
``kunb.Stream(..., protocol="uta")``. UTA deltas gather what changed in 10 ms, so a push may carry several
levels: rows with ``--batch`` 1 (one change per push, like classic) and a batched shape (``--batched``
sequences per push, distinct prices, the last size per price). Baseline: websockets + ``orjson.loads`` on
the same UTA frames. Every row is its own process; rounds are interleaved; medians and min..max. Each
consumer checks its book reached the server's last sequence (every push applied).

Run: ``python bench/uta_feed.py`` (about 3 minutes; ``--quick``) rewrites the
``## UTA full feed (bench/uta_feed.py)`` section of ``bench/RESULTS.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.feed_server import ws_frame
from bench.report import fmt_rate, machine, write_section
from bench.run import consume as consume_classic
from bench.run import server as classic_server

__all__ = ["UtaBook", "main"]

HERE = Path(__file__).resolve()
SYMBOL = "BTC-USDT"
LEVELS = 100  # per side, as bench/feed_server.py
BASE_SEQ = 1_000
PACKAGES = ("websockets", "orjson", "numpy", "pandas")


class UtaBook:
    """One symbol's book as UTA ``obu`` pushes: a snapshot, then deltas of ``batch`` sequences each."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.seq = BASE_SEQ
        centre = 40_000_00 + self.rng.randrange(1_000_00)  # cents
        self.bids = {centre - 1 - i: self._size() for i in range(LEVELS)}
        self.asks = {centre + i: self._size() for i in range(LEVELS)}
        self._bid_prices, self._ask_prices = list(self.bids), list(self.asks)

    def _size(self) -> str:
        return f"{self.rng.randrange(1, 50_000) / 10_000:.4f}"

    def snapshot(self, now_ns: int) -> bytes:
        bids = [[f"{p / 100:.2f}", s] for p, s in sorted(self.bids.items(), reverse=True) if s != "0"]
        asks = [[f"{p / 100:.2f}", s] for p, s in sorted(self.asks.items()) if s != "0"]
        d = {"s": SYMBOL, "O": self.seq, "C": self.seq, "M": now_ns, "a": asks, "b": bids}
        return orjson.dumps({"T": "obu.SPOT", "dp": "increment@10ms", "t": "snapshot", "P": now_ns, "d": d})

    def delta(self, batch: int, now_ns: int) -> tuple[bytes, int]:
        """The next delta covering ``batch`` sequences, and how many level rows it carries."""
        rng = self.rng
        bids: dict[int, str] = {}
        asks: dict[int, str] = {}
        first = self.seq + 1
        for _ in range(batch):
            self.seq += 1
            size = "0" if rng.random() < 0.2 else self._size()
            if rng.random() < 0.5:
                price = self._bid_prices[int(rng.random() * LEVELS)]
                self.bids[price] = bids[price] = size
            else:
                price = self._ask_prices[int(rng.random() * LEVELS)]
                self.asks[price] = asks[price] = size
        d = {
            "s": SYMBOL,
            "O": first,
            "C": self.seq,
            "M": now_ns,
            "a": [[f"{p / 100:.2f}", s] for p, s in sorted(asks.items())],
            "b": [[f"{p / 100:.2f}", s] for p, s in sorted(bids.items(), reverse=True)],
        }
        push = {"T": "obu.SPOT", "dp": "increment@10ms", "t": "delta", "P": now_ns, "d": d}
        return orjson.dumps(push), len(bids) + len(asks)


# -- the server (a child process) ---------------------------------------------------------------------
async def _serve(n: int, batch: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.protocol import State

    book = UtaBook()
    now = time.time_ns()
    snapshot = ws_frame(book.snapshot(now), opcode=0x2)
    deltas = [book.delta(batch, now + i * 10_000_000) for i in range(n)]
    blob = b"".join(ws_frame(payload, opcode=0x2) for payload, _ in deltas)
    rows = sum(r for _, r in deltas)

    async def handle(ws: ServerConnection) -> None:
        welcome = {"sessionId": "bench", "message": "welcome", "pingInterval": 18_000, "pingTimeout": 10_000}
        await ws.send(orjson.dumps(welcome))
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("type") == "ping":
                await ws.send(orjson.dumps({"type": "pong", "id": msg["id"], "ts": time.time_ns()}))
            elif str(msg.get("action", "")).lower() == "subscribe":
                await ws.send(orjson.dumps({"id": msg["id"], "result": True}))
                if msg.get("channel") == "obu" and msg.get("symbol") == SYMBOL and ws.state is State.OPEN:
                    ws.transport.write(snapshot + blob)  # pre-framed: the server is not what is measured
            elif "action" in msg:
                await ws.send(orjson.dumps({"id": msg["id"], "result": True}))

    async with serve(handle, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port} {book.seq} {rows}", flush=True)
        await asyncio.Future()


@contextmanager
def uta_server(n: int, batch: int) -> Iterator[tuple[int, int, int]]:
    """The UTA server for the block: ``(port, last sequence, level rows in all deltas)``."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE), "serve", "--n", str(n), "--batch", str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"UTA server did not start: {line!r}")
        yield int(line[1]), int(line[2]), int(line[3])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the consumers (child processes) ------------------------------------------------------------------
async def _raw(port: int, n: int) -> dict[str, Any]:
    """websockets + orjson: the snapshot and n deltas decoded, counted from the first delta."""
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}", ping_interval=None, max_size=2**24, compression=None) as ws:
        await ws.recv()  # welcome
        sub = {"id": "1", "action": "subscribe", "channel": "obu", "tradeType": "SPOT", "symbol": SYMBOL,
               "depth": "increment@10ms"}  # fmt: skip
        await ws.send(orjson.dumps(sub).decode())
        await ws.recv()  # result
        orjson.loads(await ws.recv())  # snapshot
        count, t0, loads = 0, 0.0, orjson.loads
        async for msg in ws:
            loads(msg)
            count += 1
            if count == 1:
                t0 = time.perf_counter()
            elif count == n:
                break
        seconds = time.perf_counter() - t0
    return {"n": n, "seconds": seconds, "rate": (n - 1) / seconds}


async def _feed(port: int, n: int) -> dict[str, Any]:
    """kunb's full feed over UTA: ``Stream(protocol="uta")``, book + book-top frame, counted per delta."""
    from kunb.stream import Stream

    loop = asyncio.get_running_loop()
    done = loop.create_future()
    marks = {"count": 0, "t0": 0.0, "t1": 0.0}

    class CountingStream(Stream):
        def _on_frame(self, message: Any) -> None:
            super()._on_frame(message)
            if message.get("t") == "delta":
                marks["count"] += 1
                if marks["count"] == 1:
                    marks["t0"] = time.perf_counter()
                elif marks["count"] == n:
                    marks["t1"] = time.perf_counter()
                    if not done.done():
                        done.set_result(None)

    stream = CountingStream(
        SYMBOL, protocol="uta", ws_url=f"ws://127.0.0.1:{port}", ticker=False, trades=False, stats=False,
        max_buffer=n + 10,
    )  # fmt: skip
    async with stream:
        await asyncio.wait_for(done, 120)
        book = stream.books[SYMBOL]
        sequence, rows = book.last_sequence, len(stream.tops or ())
    seconds = marks["t1"] - marks["t0"]
    rate = (n - 1) / seconds
    return {"n": n, "seconds": seconds, "rate": rate, "book_sequence": sequence, "frame_rows": rows}


def _consume(role: str, port: int, n: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE), role, "--port", str(port), "--n", str(n)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])  # type: ignore[no-any-return]
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {done.returncode}: {tail[0][:200]}"}


# -- the driver -----------------------------------------------------------------------------------
ROWS = {
    "raw": "websockets + `orjson.loads`, UTA deltas (baseline)",
    "classic": "kunb full feed `Stream`, classic level2 (one change per push)",
    "uta1": 'kunb full feed `Stream(protocol="uta")`, one change per delta',
    "utaN": 'kunb full feed `Stream(protocol="uta")`, {batch} sequences per delta',
}


def run(n: int, rounds: int, batch: int, timeout: float, log: Any = print) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {row: [] for row in ROWS}
    for rnd in range(rounds):
        with classic_server("--n", str(n), "--symbols", "0") as port:
            result = consume_classic("feed", port, timeout, "--n", str(n), "--shape", "level2")
            result["levels"] = n  # one change per push
            result["ok"] = result.get("book_sequence") == BASE_SEQ + n
            out["classic"].append(result)
        for row, size in (("raw", 1), ("uta1", 1), ("utaN", batch)):
            with uta_server(n, size) as (port, last, levels):
                result = _consume("raw" if row == "raw" else "feed", port, n, timeout)
                result["levels"] = levels
                result["ok"] = row == "raw" or result.get("book_sequence") == last
                out[row].append(result)
        log(f"round {rnd + 1}/{rounds}: " + ", ".join(
            f"{row} {fmt_rate(r[-1]['rate']) + ' msg/s' if 'rate' in r[-1] else r[-1].get('error')}"
            for row, r in out.items()
        ))  # fmt: skip
    return out


def _median(results: list[dict[str, Any]], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in results if key in r]
    return statistics.median(values), min(values), max(values)


def report(out: dict[str, list[dict[str, Any]]], n: int, rounds: int, batch: int, seconds: float) -> str:
    lines = [
        f"Machine: {machine(PACKAGES)}",
        "",
        f"Run: N = {n:,} pushes per row, {rounds} interleaved rounds (median, min..max), over 127.0.0.1, "
        f"each server and consumer its own process; {seconds:.0f} s in all. Timed in the consumer from the "
        "first delta (after the snapshot) to the N-th, every push applied to the book; level changes/s "
        "counts the rows the book applied (a classic push carries one).",
        "",
        "| consumer | msg/s | min..max | level changes/s | vs classic, msg/s | vs classic, levels/s | book |",
        "|---|---|---|---|---|---|---|",
    ]
    classic_rate = _median(out["classic"], "rate")[0]
    for row, label in ROWS.items():
        results = [r for r in out[row] if "rate" in r]
        if not results:
            lines.append(f"| {label.format(batch=batch)} | – | {out[row][0].get('error')} | – | – | – | – |")
            continue
        rate, low, high = _median(results, "rate")
        per_msg = statistics.median(r["levels"] / n for r in results)
        checked = "yes" if all(r.get("ok") for r in results) else "NO"
        levels = rate * per_msg
        lines.append(
            f"| {label.format(batch=batch)} | {fmt_rate(rate)} | {fmt_rate(low)}..{fmt_rate(high)} | "
            f"{fmt_rate(levels)} | {rate / classic_rate:.2f}x | {levels / classic_rate:.2f}x | "
            f"{checked if row != 'raw' else '–'} |"
        )
    measured = [r for r in out["uta1"] if "rate" in r]
    one = f"{_median(measured, 'rate')[0] / classic_rate:.2f}x" if measured else "–"
    lines += [
        "",
        f"Reading: with one change per message the UTA full feed ran at {one} the classic one in this run "
        "(a UTA push needs no REST snapshot and carries its rows under `d`; a classic one is parsed from "
        "`changes`); KuCoin's 10 ms aggregation puts several changes in one UTA message, so fewer messages "
        'carry more level changes, and level changes/s is then the fair comparison. "book": the '
        "consumer's book reached the server's last sequence (every push applied). The book-top frame is "
        "updated after every push in both protocols.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="bench", choices=("bench", "serve", "raw", "feed"))
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1, help="serve: sequences per delta")
    parser.add_argument("--batched", type=int, default=8, help="sequences per delta of the batched row")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="N = 30,000, 3 rounds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.role == "serve":
        asyncio.run(_serve(args.n, args.batch))
        return 0
    if args.role in ("raw", "feed"):
        result = asyncio.run(_raw(args.port, args.n) if args.role == "raw" else _feed(args.port, args.n))
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    n, rounds = (30_000, 3) if args.quick else (args.n, args.rounds)
    started = time.monotonic()
    out = run(n, rounds, args.batched, timeout=240.0)
    body = report(out, n, rounds, args.batched, time.monotonic() - started)
    print(body)
    if not args.no_write:
        write_section("UTA full feed (bench/uta_feed.py)", body)
    return 0 if all(r.get("ok") for rows in out.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
