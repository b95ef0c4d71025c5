"""Benchmark: order book level changes per second with a best bid/ask read after every change.

Two tables, each with its baselines measured in the same run:

1. *Structures* on pre-decoded floats (the workload of ``perf-baselines.md``: updates over 2000 price
   levels, 20 % deletions): a plain dict sorted on every read, ``sortedcontainers.SortedDict``, a dict
   with lazy-deletion heaps, and the layout :mod:`kunb.model.book` uses (dict + sorted list, best last).
2. *End to end* on wire-shaped pushes (decoded JSON: string prices and sizes, one change per push, as in
   every level-2 push of the recorded KuCoin session): kunb's classic decoder (the ``BookDelta`` event) plus
   :meth:`kunb.model.book.OrderBook.on_delta`, against handlers a typical client writes (continuity check,
   float parsing) on SortedDict and on a dict.

Usage: ``.venv/bin/python bench/book.py [--n 300000] [--runs 3] [--no-write]`` (about 40 s).
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from bisect import bisect_left, insort
from collections.abc import Callable, MutableMapping
from pathlib import Path

from sortedcontainers import SortedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import fmt_rate, machine, median_rate, write_section
from kunb.model.book import OrderBook
from kunb.protocol.classic_decoder import ClassicDecoder

__all__ = ["main"]

Op = tuple[bool, float, float]  # (is_bid, price, size); size 0 deletes


def workload(n: int, *, levels: int = 2000, deletions: float = 0.2, seed: int = 7) -> list[Op]:
    rnd = random.Random(seed)
    ops = []
    for _ in range(n):
        is_bid = rnd.random() < 0.5
        tick = rnd.randrange(levels // 2)
        price = 43000.0 - 0.5 - tick * 0.5 if is_bid else 43000.0 + 0.5 + tick * 0.5
        size = 0.0 if rnd.random() < deletions else round(rnd.random() * 5 + 0.0001, 4)
        ops.append((is_bid, price, size))
    return ops


# -- table 1: structures --------------------------------------------------------------------------


def run_dict_sort(ops: list[Op]) -> int:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for is_bid, price, size in ops:
        side = bids if is_bid else asks
        if size:
            side[price] = size
        else:
            side.pop(price, None)
        _ = sorted(bids)[-1] if bids else None, sorted(asks)[0] if asks else None
    return len(ops)


def run_sorteddict(ops: list[Op]) -> int:
    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()
    for is_bid, price, size in ops:
        side = bids if is_bid else asks
        if size:
            side[price] = size
        else:
            side.pop(price, None)
        _ = bids.peekitem(-1)[0] if bids else None, asks.peekitem(0)[0] if asks else None
    return len(ops)


def run_heaps(ops: list[Op]) -> int:
    sides = ({}, {})  # price -> size; heaps hold candidates (bids negated), stale ones popped lazily
    heaps: tuple[list[float], list[float]] = ([], [])
    queued: tuple[set[float], set[float]] = (set(), set())
    for is_bid, price, size in ops:
        i = 0 if is_bid else 1
        key = -price if is_bid else price
        if size:
            if price not in queued[i]:
                heapq.heappush(heaps[i], key)
                queued[i].add(price)
            sides[i][price] = size
        else:
            sides[i].pop(price, None)
        for j, sign in ((0, -1.0), (1, 1.0)):
            heap = heaps[j]
            while heap and sign * heap[0] not in sides[j]:
                queued[j].discard(sign * heapq.heappop(heap))
        _ = -heaps[0][0] if heaps[0] else None, heaps[1][0] if heaps[1] else None
    return len(ops)


def run_sorted_list(ops: list[Op]) -> int:
    """kunb.model.book's layout: dict + sorted list per side with the best price last (asks negated)."""
    bid_keys: list[float] = []
    ask_keys: list[float] = []
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for is_bid, price, size in ops:
        if is_bid:
            levels, keys, key = bids, bid_keys, price
        else:
            levels, keys, key = asks, ask_keys, -price
        if size:
            if price not in levels:
                insort(keys, key)
            levels[price] = size
        elif levels.pop(price, None) is not None:
            del keys[bisect_left(keys, key)]
        _ = bid_keys[-1] if bid_keys else None, -ask_keys[-1] if ask_keys else None
    return len(ops)


# -- table 2: end to end on wire-shaped pushes ------------------------------------------------------


def wire_pushes(ops: list[Op], first: int = 1001) -> list[dict]:
    pushes = []
    for seq, (is_bid, price, size) in enumerate(ops, start=first):
        row = [f"{price:.1f}", "0" if not size else f"{size:.4f}", str(seq)]
        changes = {"asks": [], "bids": [row]} if is_bid else {"asks": [row], "bids": []}
        pushes.append(
            {"changes": changes, "sequenceStart": seq, "sequenceEnd": seq, "symbol": "BTC-USDT", "time": seq}
        )
    return pushes


def e2e_kunb(pushes: list[dict]) -> int:
    """Decode each push into a BookDelta (kunb's classic decoder), apply it, read the BBO."""
    decoder = ClassicDecoder()
    decode = decoder.decode
    book = OrderBook("BTC-USDT")
    book.on_snapshot(decoder.book_snapshot("BTC-USDT", {"sequence": "1000", "bids": [], "asks": []}, 0))
    on_delta = book.on_delta
    for data in pushes:
        for delta in decode({"topic": "/market/level2:BTC-USDT", "data": data}, 0):
            on_delta(delta)  # type: ignore[arg-type]
        _ = book.best_bid, book.best_ask
    assert book.stats.pushes_applied == len(pushes)
    return len(pushes)


def _typical_handler(bids: MutableMapping, asks: MutableMapping, best: Callable[[], None]) -> Callable:
    """What a typical client writes: continuity check, float parsing, then its BBO read."""
    state = {"last": 1000}

    def handle(data: dict) -> None:
        if data["sequenceStart"] > state["last"] + 1:
            raise RuntimeError("gap")
        for side, rows in ((bids, data["changes"]["bids"]), (asks, data["changes"]["asks"])):
            for price, size, _seq in rows:
                p, s = float(price), float(size)
                if not p:
                    continue
                if s:
                    side[p] = s
                else:
                    side.pop(p, None)
        state["last"] = data["sequenceEnd"]
        best()

    return handle


def e2e_sorteddict(pushes: list[dict]) -> int:
    bids: SortedDict = SortedDict()
    asks: SortedDict = SortedDict()

    def best() -> None:
        _ = bids.peekitem(-1)[0] if bids else None, asks.peekitem(0)[0] if asks else None

    handle = _typical_handler(bids, asks, best)
    for data in pushes:
        handle(data)
    return len(pushes)


def e2e_dict_sort(pushes: list[dict]) -> int:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}

    def best() -> None:
        _ = max(bids) if bids else None, min(asks) if asks else None

    handle = _typical_handler(bids, asks, best)
    for data in pushes:
        handle(data)
    return len(pushes)


SORTED_QUIET = 0.935e6  # SortedDict with a BBO read per change on a quiet machine (perf-baselines.md)


def _target(rate: float, vs_sorted: float) -> str:
    """Issue 16's bar (>= 2 M level changes/s with a best bid/ask read after each), judged on the absolute
    rate and on the ratio to the same run's SortedDict scaled to its quiet-machine rate (a busy shared
    machine slows both rows alike, so the ratio is the fair reading when the load is high)."""
    scaled = vs_sorted * SORTED_QUIET
    ok = rate >= 2e6 or scaled >= 2e6
    how = "met" if rate >= 2e6 else ("met on the ratio" if ok else "NOT met")
    return (
        f"Target (issue 16: >= 2 M level changes/s with a best bid/ask read after each; issue 5 asked 1 M): "
        f"kunb's structure {fmt_rate(rate)}/s in this run, {vs_sorted:.2f}x the same run's SortedDict, which "
        f"measured {fmt_rate(SORTED_QUIET)}/s on a quiet machine (`perf-baselines.md`): "
        f"{fmt_rate(scaled)}/s at that scale ({how})."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="level changes per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per row (median reported)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    box = machine()
    ops = workload(args.n)
    slow_ops = ops[: max(1, args.n // 20)]  # the per-read sort is ~50x slower: fewer ops, same rate
    pushes = wire_pushes(ops)
    slow_pushes = pushes[: len(slow_ops)]

    structures = [
        ("dict, `sorted()` on every read (naive)", lambda: run_dict_sort(slow_ops)),
        ("`sortedcontainers.SortedDict` (`peekitem`)", lambda: run_sorteddict(ops)),
        ("dict + lazy-deletion heaps", lambda: run_heaps(ops)),
        ("**dict + sorted list, best last (kunb.model.book)**", lambda: run_sorted_list(ops)),
    ]
    e2e = [
        ("dict handler, `max`/`min` per read (naive)", lambda: e2e_dict_sort(slow_pushes)),
        ("SortedDict handler (typical client)", lambda: e2e_sorteddict(pushes)),
        ("**kunb: decode + `OrderBook.on_delta`**", lambda: e2e_kunb(pushes)),
    ]
    tables = []
    medians: dict[str, float] = {}
    ratios: dict[str, float] = {}  # kunb's row / the same run's SortedDict row
    for title, rows, baseline in (
        ("Structures, pre-decoded floats", structures, 1),
        ("End to end, wire-shaped pushes", e2e, 1),
    ):
        results = [(label, median_rate(fn, args.runs)) for label, fn in rows]
        medians[title] = results[-1][1][0]  # kunb's row is last
        base = results[baseline][1][0]
        ratios[title] = medians[title] / base
        naive = results[0][1][0]
        lines = [
            f"### {title}",
            "",
            "| implementation | changes/s with BBO read (median) | min..max | vs SortedDict | vs naive |",
            "|---|---|---|---|---|",
        ]
        for label, (med, low, high) in results:
            lines.append(
                f"| {label} | {fmt_rate(med)} | {fmt_rate(low)}..{fmt_rate(high)} "
                f"| {med / base:.2f}x | {med / naive:.1f}x |"
            )
        tables.append("\n".join(lines))
        print("\n".join(lines), "\n", flush=True)
    body = "\n\n".join(
        [
            f"Machine: {box}.",
            f"Workload: {args.n:,} level changes over 2000 price levels (20 % deletions), "
            f"median of {args.runs} runs; the naive rows run {len(slow_ops):,} changes.",
            *tables,
            _target(medians["Structures, pre-decoded floats"], ratios["Structures, pre-decoded floats"]),
            f"End to end: {fmt_rate(medians['End to end, wire-shaped pushes'])} level changes/s including "
            "wire parsing and checks, which the target's pre-decoded baseline does not pay.",
            "Reading: the structure table is the choice of data structure (same workload as "
            "`perf-baselines.md`, where SortedDict measured ~0.9 M/s); the end-to-end table adds what "
            "every push costs in Python (dict lookups, parsing string prices through a per-book cache, "
            "the continuity check, counters), which dominates once the structure is cheap. The "
            "WebSocket framing alone costs ~5 us per message (~200 k msg/s, `perf-baselines.md`), so the "
            "book is not the bottleneck of a live feed.",
        ]
    )
    if not args.no_write:
        write_section("Order book (bench/book.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
