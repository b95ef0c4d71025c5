"""Chaos run: stream books, tickers, trades and a private account through a seeded storm of every fault.

A ``kunb.sim`` exchange (in this process) injects, on a random schedule drawn from ``--seed``, every
fault kind it has (``kunb.sim.faults.FAULT_NAMES``) while a :class:`kunb.feed.Stream` follows several
symbols (level2 books on the signed full snapshot, ticker, match, 24 h snapshot), a
:class:`kunb.account.Account` follows the private balance and order channels, and a
:class:`kunb.client.Trade` places, fills and cancels orders. With ``--protocol uta`` the stream and the
account speak KuCoin's UTA protocol instead (``obu`` ``increment@10ms`` books that resync by
resubscribing, ``ticker``, ``trade``; ``orderAll``, ``execution`` and ``balance`` after ``op:auth``) while
the trader still places orders over classic REST, so every order crosses from one protocol to the other.
Each fault is injected while everything is live and then settled (the reconnect, the gap, the bad frame
is seen) so that what was injected and what the client reports can be compared one to one. At the end:

* every book equals the exchange's own book at the same sequence (checked in-process on every push
  whose sequence matches the server's, and once more after the storm);
* the Account holds every order placed during the run with REST's status and filled size, and every
  balance equal to REST's;
* gaps detected >= level2 pushes the exchange dropped; reconnects >= link-killing faults; bad frames
  counted == malformed frames sent;
* no task, socket or memory left behind (counts before/after; RSS sampled, and what the exchange keeps:
  orders, fills, tokens, all bounded by its retention limits, see ``kunb.sim.core.trading.Retention``).

Orders the exchange has forgotten by the end (more finished orders than its retention keeps) are
counted, not compared; forgetting any while it keeps fewer than its limit is a failure.

Usage: ``.venv/bin/python bench/chaos.py [--minutes 10] [--seed 7] [--symbols 3] [--protocol uta]``
(prints the figures; exit status 1 when a check fails). ``tests/reliability/test_chaos.py`` (classic) and
``test_chaos_uta.py`` run the same engine for ~10 s (and ~60 s with ``--runslow`` / ``CI=true``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psutil

from kunb.account import Account, AccountState
from kunb.client import Market, Trade
from kunb.events import BookDelta, BookSnapshot
from kunb.exceptions import KunbError
from kunb.model.book import BookState, OrderBook
from kunb.net.connection import ConnectionState
from kunb.signing import Credentials
from kunb.sim import Exchange
from kunb.sim.faults import FAULT_NAMES
from kunb.sim.wire.market import orderbook_snapshot
from kunb.sim.wire.uta import INCREMENT_LEVELS
from kunb.stream import Stream

__all__ = ["ChaosReport", "main", "run_chaos"]

SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "KCS-USDT"]
FAST = {"backoff_base": 0.05, "backoff_cap": 0.5, "stable_after": 0.5, "request_timeout": 3.0}
# Faults that end every live link at once (the client must reconnect, resubscribe, resync, re-seed);
# delay_snapshots ends them too, so that the resubscriptions meet the late snapshots.
KILLERS = ("disconnect", "close", "expire_tokens", "bullet_errors", "delay_snapshots")
PROTOCOLS = ("classic", "uta")
SETTLE_S = 30.0  # longest wait for one fault's effect (a storm never waits forever)


@dataclass
class ChaosReport:
    """Figures of one run (printed by the bench, asserted by the test)."""

    seconds: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    killers: int = 0
    reconnects_stream: int = 0
    reconnects_account: int = 0
    account_disconnects: int = 0
    account_reseeds: int = 0
    book_resyncs: int = 0
    book_gaps: int = 0
    book_snapshots: int = 0
    level2_skipped: int = 0
    level2_holes: int = 0
    malformed_sent: int = 0
    bad_frames: int = 0
    messages: int = 0
    book_checks: int = 0
    mismatches: list[str] = field(default_factory=list)
    orders_placed: int = 0
    orders_cancelled: int = 0
    order_errors: int = 0
    fills: int = 0
    account_problems: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    tasks_before: int = 0
    tasks_after: int = 0
    sockets_before: int = 0
    sockets_after: int = 0
    sockets_peak: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    fds_before: int = 0
    fds_after: int = 0
    rss_mb: list[float] = field(default_factory=list)
    kept: list[tuple[int, int, int]] = field(default_factory=list)  # exchange's orders, fills, tokens
    traced_mb: list[dict[str, float]] = field(default_factory=list)  # --tracemalloc: live MB by area
    orders_forgotten: int = 0  # placed orders the exchange no longer keeps at the end (retention)
    memory_top: list[str] = field(default_factory=list)  # tracemalloc growth by line (--tracemalloc)

    def problems(self) -> list[str]:
        """Every failed check, as text (empty: the run passed)."""
        out = [*self.mismatches[:5], *self.account_problems[:10], *self.unsettled[:5]]
        if self.book_checks == 0:
            out.append("no book was ever compared with the exchange")
        if self.book_gaps < self.level2_holes:
            out.append(
                f"{self.level2_holes} holes made in level2 streams, only {self.book_gaps} gaps detected"
            )
        for name, n in (("stream", self.reconnects_stream), ("account", self.reconnects_account)):
            if n < self.killers:
                out.append(f"{name}: {n} reconnects for {self.killers} link-killing faults")
        if self.account_disconnects < self.killers:
            out.append(f"account counted {self.account_disconnects} outages for {self.killers} injected")
        if self.bad_frames != self.malformed_sent:
            out.append(f"{self.malformed_sent} malformed frames sent, {self.bad_frames} counted")
        if self.tasks_after > self.tasks_before:
            out.append(f"tasks: {self.tasks_before} before, {self.tasks_after} after")
        if self.sockets_after > self.sockets_before:
            out.append(f"sockets: {self.sockets_before} before, {self.sockets_after} after")
        return out

    def lines(self) -> list[str]:
        rss = self.rss_mb
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        lost = (
            f"{self.level2_skipped} level2 pushes dropped by the exchange in {self.level2_holes} holes -> "
            f"{self.book_gaps} gaps detected"
        )
        return [
            f"duration                {self.seconds:.1f} s",
            f"faults injected         {sum(self.faults.values())} ({faults})",
            f"link-killing faults     {self.killers}",
            f"reconnects              stream {self.reconnects_stream}, account {self.reconnects_account}",
            f"account outages/reseeds {self.account_disconnects} / {self.account_reseeds}",
            f"book resyncs/snapshots  {self.book_resyncs} / {self.book_snapshots}",
            f"messages lost/injected  {lost}",
            f"malformed frames        {self.malformed_sent} sent, {self.bad_frames} counted",
            f"messages received       {self.messages}",
            f"book checks vs server   {self.book_checks} (mismatches {len(self.mismatches)})",
            f"orders                  {self.orders_placed} placed, {self.orders_cancelled} cancelled, "
            f"{self.fills} crossed, {self.order_errors} refused {dict(self.refusals)}",
            f"account vs REST         {len(self.account_problems)} differences",
            f"tasks before/after      {self.tasks_before} / {self.tasks_after}",
            f"sockets before/peak/after {self.sockets_before} / {self.sockets_peak} / {self.sockets_after} "
            f"(fds {self.fds_before} / {self.fds_after})",
            f"RSS MB first/max/last   {rss[0]:.1f} / {max(rss):.1f} / {rss[-1]:.1f}" if rss else "RSS -",
            "RSS MB samples          " + " ".join(f"{x:.0f}" for x in rss),
            "exchange kept           orders/fills/tokens per sample: "
            + " ".join(f"{o}/{f}/{t}" for o, f, t in self.kept),
            f"orders forgotten        {self.orders_forgotten} (exchange retention)",
            *(
                f"traced MB {area:<13} " + " ".join(f"{t[area]:.1f}" for t in self.traced_mb)
                for area in (AREAS if self.traced_mb else ())
            ),
            *self.memory_top,
        ]


class BookChecker:
    """A Stream sink: after each book event, a live local book whose sequence equals the server's must
    equal it (``stream`` is set once the stream exists). ``depth``: compare that many levels per side (UTA's
    10 ms book keeps the top 500), ``None`` the whole book."""

    def __init__(self, ex: Exchange, report: ChaosReport, depth: int | None = None) -> None:
        self.ex = ex
        self.report = report
        self.depth = depth
        self.last_checked: dict[str, int] = {}
        self.stream: Stream | None = None

    def sink(self, event: Any) -> None:
        if isinstance(event, BookDelta | BookSnapshot) and self.stream is not None:
            book = self.stream.books.get(event.symbol)
            if book is not None:
                self(event.symbol, book)

    def __call__(self, symbol: str, book: OrderBook) -> None:
        if book.state is not BookState.LIVE or book.last_sequence is None:
            return
        market = self.ex.core.markets[symbol]
        if market.book.sequence != book.last_sequence:
            return
        server = orderbook_snapshot(market, self.depth, 0)
        local = (book.levels("bid"), book.levels("ask"))
        want = (
            {float(p): float(s) for p, s in server["bids"]},
            {float(p): float(s) for p, s in server["asks"]},
        )
        self.report.book_checks += 1
        self.last_checked[symbol] = book.last_sequence
        if local != want:
            self.report.mismatches.append(f"{symbol}@{book.last_sequence} differs from the exchange")


async def _until(condition: Callable[[], bool], seconds: float = SETTLE_S) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _sockets() -> int:
    return sum(
        1 for c in psutil.Process().net_connections(kind="inet") if c.status == psutil.CONN_ESTABLISHED
    )


class _Trader:
    """Places, crosses and cancels orders at random (seeded) until stopped."""

    def __init__(self, ex: Exchange, creds: Credentials, symbols: list[str], rng: random.Random) -> None:
        self.trade = Trade(credentials=creds, url=ex.url)
        self.market = Market(url=ex.url)
        self.symbols = symbols
        self.rng = rng
        self.placed: list[str] = []
        self.open: list[str] = []
        self.cancelled = 0
        self.errors = 0
        self.reasons: Counter[str] = Counter()
        self.fills = 0
        self.min_size: dict[str, Decimal] = {}

    async def prepare(self) -> None:
        for symbol in self.symbols:
            self.min_size[symbol] = Decimal((await self.market.aget_symbol_detail(symbol))["baseMinSize"])

    async def step(self) -> None:
        rng = self.rng
        symbol = rng.choice(self.symbols)
        try:
            roll = rng.random()
            if roll < 0.25 and self.open:
                oid = self.open.pop(rng.randrange(len(self.open)))
                await self.trade.acancel_order(oid)
                self.cancelled += 1
                return
            ticker = await self.market.aget_ticker(symbol)
            if not ticker.get("bestBid") or not ticker.get("bestAsk"):
                self.reasons["one side of the book empty"] += 1
                return  # the flow (or our crossing orders) emptied a side for a moment
            bid, ask = Decimal(ticker["bestBid"]), Decimal(ticker["bestAsk"])
            if roll < 0.45:  # cross the spread: a taker fill
                side, price = rng.choice([("buy", ask), ("sell", bid)])
                self.fills += 1
            else:  # rest near the touch: the synthetic flow may fill it later
                side = rng.choice(["buy", "sell"])
                price = bid if side == "buy" else ask
            size = self.min_size[symbol] * rng.randint(1, 5)
            order = await self.trade.acreate_limit_order(symbol, side, str(size), str(price))
            self.placed.append(order["orderId"])
            if roll >= 0.45:
                self.open.append(order["orderId"])  # resting: a later cancel may still find it open
        except KunbError as exc:
            # refused (order already done when cancelled, size below the minimum...): counted, not fatal
            self.errors += 1
            self.reasons[getattr(exc, "msg", type(exc).__name__)[:40]] += 1

    async def run(self, stop: asyncio.Event, every: float) -> None:
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def aclose(self) -> None:
        await self.trade.aclose()
        await self.market.aclose()


async def _inject(name: str, ex: Exchange, rng: random.Random, report: ChaosReport) -> dict[str, Any]:
    """Inject one fault; returns what to wait for."""
    faults = ex.faults
    # Connections without a user: the market stream's (silence spares private pushes anyway).
    market_links = [s.id for s in ex.connections() if s.user_id is None]
    if name == "disconnect":
        faults.disconnect(abrupt=rng.random() < 0.7)
    elif name == "close":
        faults.close(code=rng.choice([1000, 1001, 1011, 4000]), reason="chaos")
    elif name == "drop_pongs":
        return {"hold": rng.uniform(1.0, 3.0), "call": lambda s: faults.drop_pongs(seconds=s)}
    elif name == "drop_acks":
        return {"hold": rng.uniform(0.5, 2.0), "call": lambda s: faults.drop_acks(seconds=s)}
    elif name == "delay_acks":
        return {"hold": rng.uniform(0.5, 2.0), "call": lambda s: faults.delay_acks(delay=0.5, seconds=s)}
    elif name == "stall":
        return {"hold": rng.uniform(0.3, 3.0), "call": lambda s: faults.stall(seconds=s)}
    elif name == "silence":

        def silence(seconds: float) -> None:
            for conn in market_links:
                faults.silence(seconds=seconds, conn=conn)

        return {"hold": rng.uniform(0.3, 2.0), "call": silence}
    elif name == "delay_snapshots":
        faults.delay_snapshots(delay=rng.uniform(0.3, 2.0), seconds=3.0)
        faults.disconnect(abrupt=rng.random() < 0.5)  # the reconnect's resubscriptions meet late snapshots
    elif name == "skip_level2":
        pushes = rng.randint(1, 3)
        return {
            "skip": pushes,
            "call": lambda _: faults.skip_level2(pushes=pushes, symbol=rng.choice(list(ex.core.markets))),
        }
    elif name == "send_malformed":
        report.malformed_sent += faults.send_malformed()
    elif name == "send_unknown_type":
        faults.send_unknown_type()
    elif name == "expire_tokens":
        faults.expire_tokens()
        faults.disconnect(abrupt=True)  # the next dial must not reuse a dead token
    elif name == "bullet_errors":
        faults.bullet_errors(status=rng.choice([500, 502, 503]), count=rng.randint(1, 3))
        faults.disconnect(abrupt=True)  # redials meet 5xx bullets first
    elif name == "clear":
        faults.clear()
    return {}


async def run_chaos(
    seconds: float,
    *,
    seed: int = 7,
    symbols: int = 3,
    fault_gap: tuple[float, float] = (0.2, 1.5),
    order_every: float = 0.15,
    sample_every: float = 5.0,
    cover_all: bool = True,
    trace_memory: bool = False,
    progress: Callable[[str], None] | None = None,
    protocol: str = "classic",
) -> ChaosReport:
    """Run the storm for ``seconds`` and return its figures (see the module docstring).

    ``cover_all``: the schedule starts with every fault kind once (in a seeded order) and runs past
    ``seconds`` if needed until each was injected, so even a short run exercises them all.
    ``protocol``: what the stream and the account speak, ``classic`` or ``uta``.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    uta = protocol == "uta"
    rng = random.Random(seed)
    first = rng.sample(FAULT_NAMES, len(FAULT_NAMES)) if cover_all else []
    report = ChaosReport()
    process = psutil.Process()
    names = list(SYMBOLS[:symbols])
    async with Exchange(
        seed=seed, symbols=names, tick_ms=20, ping_interval_ms=1_000, ping_timeout_ms=1_000
    ) as ex:
        creds = ex.create_account(balances={"USDT": "10000000", **{s.split("-")[0]: "1000" for s in names}})
        gc.collect()
        baseline_tasks = asyncio.all_tasks()
        report.tasks_before = len(baseline_tasks)
        report.sockets_before = _sockets()
        report.fds_before = process.num_fds()
        checker = BookChecker(ex, report, depth=INCREMENT_LEVELS if uta else None)
        if uta:
            stream = Stream(names, url=ex.url, protocol="uta", ws_url=ex.uta_url, top_interval=None, **FAST)
            account = Account(
                creds, url=ex.url, protocol="uta", ws_url=ex.uta_private_url, symbols=names, **FAST
            )
        else:
            stream = Stream(names, url=ex.url, credentials=creds, top_interval=None, **FAST)
            account = Account(creds, url=ex.url, **FAST)
        checker.stream = stream
        stream.add_sink(checker.sink)
        trader = _Trader(ex, creds, names, random.Random(seed + 1))
        stop = asyncio.Event()
        started = time.monotonic()
        try:
            await stream.astart()
            await account.astart()
            await stream.wait_live(SETTLE_S)
            await account.wait_live(SETTLE_S)
            await trader.prepare()
            trading = asyncio.create_task(trader.run(stop, order_every))

            def live() -> bool:
                conn_s, conn_a = stream.connection, account.connection
                return (
                    conn_s is not None
                    and conn_a is not None
                    and conn_s.state is ConnectionState.LIVE
                    and conn_a.state is ConnectionState.LIVE
                    and all(b.state is BookState.LIVE for b in stream.books.values())
                    and account.state is AccountState.LIVE
                )

            def reconnects() -> tuple[int, int]:
                return stream.connection.counters.reconnects, account.connection.counters.reconnects  # type: ignore[union-attr]

            def bad() -> int:
                return stream.connection.counters.bad_frames + account.connection.counters.bad_frames  # type: ignore[union-attr]

            def gaps() -> int:
                return sum(b.stats.gaps for b in stream.books.values())

            def skipped() -> int:  # book-delta pushes the exchange dropped (skip_level2)
                return ex.publisher.level2_skipped + ex.uta_publisher.deltas_skipped

            next_sample = 0.0
            warm: tracemalloc.Snapshot | None = None
            while time.monotonic() - started < seconds or first:
                if time.monotonic() >= next_sample:
                    report.rss_mb.append(process.memory_info().rss / 2**20)
                    kept = ex.stats()
                    report.kept.append((kept["orders_kept"], kept["fills_kept"], kept["tokens_kept"]))
                    report.sockets_peak = max(report.sockets_peak, _sockets())
                    if trace_memory:
                        snapshot = tracemalloc.take_snapshot()
                        report.traced_mb.append(_by_area(snapshot))
                        if warm is None and time.monotonic() - started > seconds / 10:
                            warm = snapshot  # after warm-up: buffers are filling from here
                    next_sample = time.monotonic() + sample_every
                    if progress:
                        progress(f"{time.monotonic() - started:6.0f} s  faults {sum(report.faults.values())}")
                await asyncio.sleep(rng.uniform(*fault_gap))  # the schedule's own pace, not a sync wait
                if not await _until(live):
                    report.unsettled.append(f"not live again after {report.faults.most_common(3)}")
                    break
                name = first.pop() if first else rng.choice(FAULT_NAMES)
                report.faults[name] += 1
                before = (reconnects(), gaps(), skipped(), bad(), report.malformed_sent)
                plan = await _inject(name, ex, rng, report)
                if "call" in plan:
                    plan["call"](plan.get("hold", 0.0))
                if name in KILLERS:
                    report.killers += 1
                    ok = await _until(
                        lambda b=before: (
                            all(n > m for n, m in zip(reconnects(), b[0], strict=True)) and live()
                        )
                    )
                elif name == "skip_level2":
                    report.level2_holes += 1  # consecutive pushes of one symbol: one hole, one gap
                    ok = await _until(
                        lambda b=before, k=plan["skip"]: skipped() >= b[2] + k and gaps() > b[1] and live()
                    )
                elif name == "send_malformed":
                    ok = await _until(lambda b=before: bad() >= b[3] + report.malformed_sent - b[4])
                else:
                    hold = plan.get("hold", 0.0)
                    await asyncio.sleep(hold)  # a lasting fault lasts this long: part of the schedule
                    ok = await _until(live)
                if not ok:
                    report.unsettled.append(f"{name} did not settle within {SETTLE_S} s")
            # the storm is over: everything must come back and agree with the exchange
            ex.faults.clear()
            stop.set()
            await trading
            if not await _until(live):
                report.unsettled.append("not live after the storm")
            ends = {s: ex.sequence(s) for s in names}
            if not await _until(lambda: all(checker.last_checked.get(s, -1) >= ends[s] for s in names)):
                report.unsettled.append("books never matched the exchange after the storm")
            await _settle_account(account, trader, report, ex, balance_type="unified" if uta else None)
            if warm is not None:
                report.memory_top = _growth(warm, tracemalloc.take_snapshot())
        finally:
            stop.set()
            report.seconds = time.monotonic() - started
            conn_s, conn_a = stream.connection, account.connection
            if conn_s is not None and conn_a is not None:
                report.reconnects_stream = conn_s.counters.reconnects
                report.reconnects_account = conn_a.counters.reconnects
                report.bad_frames = conn_s.counters.bad_frames + conn_a.counters.bad_frames
                report.messages = conn_s.counters.messages + conn_a.counters.messages
            report.account_disconnects = account.counters.disconnects
            report.account_reseeds = account.counters.reseeds
            for book in stream.books.values():
                report.book_resyncs += book.stats.resyncs
                report.book_gaps += book.stats.gaps
                report.book_snapshots += book.stats.snapshots
            report.level2_skipped = ex.publisher.level2_skipped + ex.uta_publisher.deltas_skipped
            report.orders_placed = len(trader.placed)
            report.orders_cancelled = trader.cancelled
            report.order_errors = trader.errors
            report.refusals = trader.reasons
            report.fills = trader.fills
            await stream.aclose()
            await account.aclose()
            await trader.aclose()
            gc.collect()
            await _until(lambda: len(asyncio.all_tasks() - baseline_tasks) <= 1, 5.0)  # <= 1: this task
            report.tasks_after = (
                len(asyncio.all_tasks() - baseline_tasks - {asyncio.current_task()}) + report.tasks_before
            )
            await _until(lambda: _sockets() <= report.sockets_before, 5.0)
            report.sockets_after = _sockets()
            report.fds_after = process.num_fds()
            report.rss_mb.append(process.memory_info().rss / 2**20)
    return report


AREAS = ("exchange", "client", "libraries")


def _area(filename: str) -> str:
    """Who allocated: the exchange (kunb/sim), the client (the rest of kunb) or a library (by the line that
    called the allocator: a library called by the exchange counts as a library)."""
    name = filename.replace(os.sep, "/")
    return "exchange" if "/kunb/sim/" in name else "client" if "/kunb/" in name else "libraries"


def _by_area(snapshot: tracemalloc.Snapshot) -> dict[str, float]:
    """Live traced memory in MB per area."""
    areas = dict.fromkeys(AREAS, 0.0)
    for stat in snapshot.statistics("filename"):
        areas[_area(stat.traceback[0].filename)] += stat.size / 2**20
    return areas


def _growth(warm: tracemalloc.Snapshot, now: tracemalloc.Snapshot) -> list[str]:
    """Memory grown since warm-up by area (exchange, client, libraries), then the ten lines that grew most."""
    areas: Counter[str] = Counter()
    for stat in now.compare_to(warm, "filename"):
        areas[_area(stat.traceback[0].filename)] += stat.size_diff
    split = ", ".join(f"{a} {areas[a] / 2**10:+,.0f} KiB" for a in AREAS)
    lines = now.compare_to(warm, "lineno")[:10]
    return [f"growth after warm-up    {split}", *(f"  {stat}" for stat in lines)]


async def _settle_account(
    account: Account, trader: _Trader, report: ChaosReport, ex: Exchange, *, balance_type: str | None = None
) -> None:
    """Wait until the Account agrees with REST on every order placed and every balance (bounded).

    ``balance_type``: the account type the Account files trade-account balances under (UTA: ``unified``,
    whose pushes and seeds cover the trade account only); ``None``: REST's own types (classic).

    Every order still open is cancelled first, so nothing changes any more while the two are compared.
    Orders the exchange has forgotten (its retention keeps the newest finished ones) are counted; one
    forgotten while it keeps fewer finished orders than its limit is a problem.
    """
    for symbol in trader.symbols:
        await trader.trade.acancel_all_orders(symbol=symbol)
    rest_orders: dict[str, dict[str, Any]] = {}
    for oid in trader.placed:
        try:
            rest_orders[oid] = await trader.trade.aget_order_details(oid)
        except KunbError as exc:
            if getattr(exc, "code", None) == "400100":
                report.orders_forgotten += 1
            else:
                report.account_problems.append(f"REST lost order {oid}: {exc}")
    kept, limit = ex.stats()["done_orders_kept"], ex.trading.retention.done_orders
    if report.orders_forgotten and kept < limit:
        report.account_problems.append(
            f"{report.orders_forgotten} orders forgotten while the exchange keeps {kept} of {limit} finished"
        )
    balances = await _accounts(trader)

    def differences() -> list[str]:
        out = []
        for oid, rest in rest_orders.items():
            mine = account.order(oid)
            if mine is None:
                out.append(f"order {oid} unknown to the account")
            elif mine.done == rest["isActive"] or mine.deal_size != Decimal(rest["dealSize"]):
                out.append(
                    f"order {oid}: account done={mine.done} deal={mine.deal_size}, REST "
                    f"active={rest['isActive']} deal={rest['dealSize']}"
                )
        for item in balances:
            if balance_type is not None and item["type"] != "trade":
                continue  # the unified account is the trade account; main is FUNDING, not followed
            mine = account.balance(item["currency"], balance_type or item["type"])
            want = tuple(Decimal(item[k]) for k in ("balance", "available", "holds"))
            if mine is None or (mine.total, mine.available, mine.hold) != want:
                got = None if mine is None else (mine.total, mine.available, mine.hold)
                out.append(f"balance {item['currency']}/{item['type']}: account {got}, REST {want}")
        return out

    await _until(lambda: not differences(), 10.0)
    report.account_problems.extend(differences())


async def _accounts(trader: _Trader) -> list[dict[str, Any]]:
    from kunb.client import User

    async with User(credentials=trader.trade.credentials, url=trader.trade.url) as user:
        return await user.aget_account_list()  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the storm (default 10)")
    parser.add_argument("--seed", type=int, default=7, help="seeds the market and the fault schedule")
    parser.add_argument("--symbols", type=int, default=3, help=f"symbols streamed (1..{len(SYMBOLS)})")
    parser.add_argument("--tracemalloc", action="store_true", help="print where memory grew (slower)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="classic", help="what the clients speak")
    args = parser.parse_args(argv)
    if args.tracemalloc:
        tracemalloc.start()
    print(
        f"kunb chaos: {args.minutes} min, seed {args.seed}, {args.symbols} symbols, {args.protocol}, "
        f"pid {os.getpid()}"
    )
    report = asyncio.run(
        run_chaos(
            args.minutes * 60,
            seed=args.seed,
            symbols=args.symbols,
            sample_every=30.0,
            trace_memory=args.tracemalloc,
            progress=print,
            protocol=args.protocol,
        )
    )
    print("\n".join(report.lines()))
    problems = report.problems()
    print("checks: " + ("all passed" if not problems else "FAILED\n  " + "\n  ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
