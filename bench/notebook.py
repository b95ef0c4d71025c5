"""Feed 5,000 ticker messages per second into ``live_ticker`` for 30 s and measure what the kernel pays.

The exchange is ``kunb.sim`` in a child process (so its CPU is not counted): its normal market plus a pump
that publishes ``/market/ticker`` pushes - the sim's own encoder and WebSocket hub, real book state - at a
paced rate. This process plays the kernel: ``live_ticker`` runs on its event loop exactly as in a
notebook, with the throttled renderer (default 5 redraws/s), and the FigureWidget's comm is counted the
way a front end would receive it. Baseline, same run: the same panel redrawn on every message (what
peers do), for a shorter time.

Measured: kernel CPU share (process CPU time / wall time, one core = 100 %), messages received,
redraws sent to the front end (figure comm messages carrying data) and bytes, lag from message arrival
to figure data (p50/p99), and resident memory before and after.

Run: ``.venv/bin/python bench/notebook.py [--rate 5000] [--seconds 30]``; writes its section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section

SYMBOLS = ["BTC-USDT", "ETH-USDT"]


# ---- the exchange side (child process) --------------------------------------------------------


async def _serve(rate: float) -> None:
    import signal

    from kunb.sim import Exchange
    from kunb.sim.wire.envelope import message
    from kunb.sim.wire.market import ticker_push

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Exchange(seed=7, symbols=SYMBOLS) as ex:
        print(f"KUNB_SIM_URL={ex.url}", flush=True)
        markets = [ex.core.markets[s] for s in SYMBOLS]
        topics = [f"/market/ticker:{s}" for s in SYMBOLS]
        sent = 0
        start = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - start) * rate) - sent
            now_ms = time.time_ns() // 1_000_000
            for i in range(max(due, 0)):
                k = (sent + i) % len(markets)
                data = ticker_push(markets[k], now_ms)
                data["time"] = now_ms  # publish time: end-to-end lag is measured against it
                ex.hub.publish(topics[k], message(topics[k], "trade.ticker", data))
            sent += max(due, 0)
            await asyncio.sleep(0.002)  # pacing granularity of the pump


def _start_exchange(rate: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--rate", str(rate)], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not line.startswith("KUNB_SIM_URL="):
        proc.kill()
        raise RuntimeError(f"exchange did not start: {line!r}")
    return proc, line.split("=", 1)[1]


# ---- the kernel side ------------------------------------------------------------------------


class Probe:
    """Counts what reaches the figure and when."""

    def __init__(self, live: Any, *, naive: bool) -> None:

        # compact float64 arrays: the probe must not be what the memory column measures
        self.arrivals = array("d")  # perf_counter at ingest, per message
        self.stamps = array("d")  # the message's own time (ms, set by the pump), per message
        self.frames: list[tuple[float, int, float]] = []  # (perf_counter after render, messages in, wall ms)
        self.comm_messages = 0
        self.redraws_sent = 0
        self.bytes_sent = 0
        self.live = live
        render = live.panel.render
        arrivals, stamps, frames = self.arrivals, self.stamps, self.frames
        clock = time.perf_counter

        def probed_sink(event: Any) -> None:  # a Stream sink: runs after the stream applied the event
            arrivals.append(clock())
            stamps.append(getattr(event, "time_ns", 0) / 1e6)
            if naive:  # the baseline: redraw on every message
                probed_render(live.model, live.status())

        def probed_render(*args: Any) -> None:
            render(*args)
            frames.append((clock(), len(arrivals), time.time() * 1000))

        self._sink = probed_sink
        live.panel.render = probed_render
        self._hook(live.panel.figure)

    def _hook(self, figure: Any) -> None:
        send = figure.comm.send

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.comm_messages += 1
            state = (kwargs.get("data") or {}).get("state", {})
            if state.get("_py2js_update"):
                self.redraws_sent += 1
            self.bytes_sent += sum(memoryview(b).nbytes for b in kwargs.get("buffers") or [])
            return send(*args, **kwargs)

        figure.comm.send = counted

    def lags_ms(self, since: int) -> tuple[np.ndarray, np.ndarray]:
        """Per message after index ``since``: arrival -> figure data, and publish -> figure data (ms)."""
        arrivals = np.frombuffer(self.arrivals, dtype=np.float64)
        stamps = np.frombuffer(self.stamps, dtype=np.float64)
        done_at = np.asarray([f[0] for f in self.frames])
        covered = np.asarray([f[1] for f in self.frames])
        walls = np.asarray([f[2] for f in self.frames])
        idx = np.arange(since, len(arrivals))
        # the first frame whose message count includes message i
        k = np.searchsorted(covered, idx + 1, side="left")
        ok = k < len(done_at)
        idx, k = idx[ok], k[ok]
        return (done_at[k] - arrivals[idx]) * 1000, walls[k] - stamps[idx]


async def _measure(url: str, seconds: float, *, naive: bool, max_hz: float) -> dict[str, Any]:
    import gc

    from kunb.notebook.ticker import LiveTicker

    proc = psutil.Process(os.getpid())
    gc.collect()
    rss_before = proc.memory_info().rss  # kunb, plotly and ipywidgets already imported, as in a kernel
    live = LiveTicker(SYMBOLS, url=url, simulated=True, key=("bench", naive), max_hz=max_hz)
    probe = Probe(live, naive=naive)
    live.start()
    await live.wait_live()
    await live.wait_until(lambda: live.model.messages >= 100)
    await asyncio.sleep(1.0)  # settle: the window fills, caches warm
    n0, f0, r0, b0 = len(probe.arrivals), len(probe.frames), probe.redraws_sent, probe.bytes_sent
    c0 = probe.comm_messages
    rss_warm = proc.memory_info().rss
    cpu0, t0 = proc.cpu_times(), time.perf_counter()
    await asyncio.sleep(seconds)  # the measured interval: the loop serves the feed and the renderer
    cpu1, t1 = proc.cpu_times(), time.perf_counter()
    rss_after = proc.memory_info().rss
    n1 = len(probe.arrivals)
    lag_kernel, lag_total = probe.lags_ms(n0)
    await live.aclose()
    wall = t1 - t0
    return {
        "seconds": wall,
        "messages": n1 - n0,
        "msg_rate": (n1 - n0) / wall,
        "frames": len(probe.frames) - f0,
        "redraws": probe.redraws_sent - r0,
        "redraw_rate": (probe.redraws_sent - r0) / wall,
        "comm_messages": probe.comm_messages - c0,
        "mbytes": (probe.bytes_sent - b0) / 1e6,
        "cpu": ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / wall,
        "lag_p50": float(np.percentile(lag_kernel, 50)) if len(lag_kernel) else float("nan"),
        "lag_p99": float(np.percentile(lag_kernel, 99)) if len(lag_kernel) else float("nan"),
        "e2e_p50": float(np.percentile(lag_total, 50)) if len(lag_total) else float("nan"),
        "e2e_p99": float(np.percentile(lag_total, 99)) if len(lag_total) else float("nan"),
        "rss_before": rss_before / 2**20,
        "rss_warm": rss_warm / 2**20,
        "rss_after": rss_after / 2**20,
        "dropped": (live.feed.counters() or {}).get("drops", 0) if live.feed.connection else 0,
    }


def _row(name: str, r: dict[str, Any]) -> str:
    return (
        f"| {name} | {r['msg_rate']:,.0f} | {r['cpu']:.0%} | {r['redraw_rate']:.1f} ({r['redraws']:,}) | "
        f"{r['mbytes']:,.1f} MB | {r['lag_p50']:.0f} / {r['lag_p99']:.0f} ms | "
        f"{r['e2e_p50']:.0f} / {r['e2e_p99']:.0f} ms | "
        f"{r['rss_before']:.0f} -> {r['rss_warm']:.0f} -> {r['rss_after']:.0f} MiB |"
    )


async def _bench(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    kunb_run = await _measure(url, args.seconds, naive=False, max_hz=args.max_hz)
    naive_run = await _measure(url, args.baseline_seconds, naive=True, max_hz=args.max_hz)
    return kunb_run, naive_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="ticker messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured interval for live_ticker")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="measured interval, naive")
    parser.add_argument("--max-hz", type=float, default=5.0, help="live_ticker's redraw limit")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.rate))
        return 0
    header = machine(("numpy", "plotly", "ipywidgets", "anywidget", "websockets"))
    proc, url = _start_exchange(args.rate)
    try:
        ours, naive = asyncio.run(_bench(url, args))
    finally:
        proc.terminate()
        proc.wait(10)
    table = "\n".join(
        [
            "| renderer | msg/s received | kernel CPU | redraws/s sent (total) | figure data sent | "
            "lag arrival -> figure p50 / p99 | lag publish -> figure p50 / p99 | "
            "RSS before -> warm -> after |",
            "|---|---|---|---|---|---|---|---|",
            _row(f"**kunb `live_ticker`, throttled to {args.max_hz:g} Hz** ({ours['seconds']:.0f} s)", ours),
            _row(f"naive: redraw on every message ({naive['seconds']:.0f} s)", naive),
        ]
    )
    body = f"""
Machine: {header}.

Workload: `kunb.sim` in a child process publishing {args.rate:,.0f} `/market/ticker` pushes/s for
{len(SYMBOLS)} symbols (its own encoder and WebSocket hub, real book state), received by
`live_ticker({SYMBOLS!r})` on this process's event loop (the kernel's role), window 2,000 points per
symbol. "Redraws sent" counts the FigureWidget comm messages that carry trace data (what the browser
would receive); one redraw is one `batch_update` of float64 arrays (4 traces x 2,000 points). Lag
"arrival" starts when the message reaches the kernel's callback, lag "publish" when the exchange sent it
(queueing included). Memory: resident set before `live_ticker` (kunb, plotly, ipywidgets imported),
after the warm-up (window full), and at the end of the measured interval.

{table}

Ratios (naive / kunb): redraws {naive["redraw_rate"] / max(ours["redraw_rate"], 1e-9):,.0f}x more,
kernel CPU {naive["cpu"] / max(ours["cpu"], 1e-9):.1f}x, messages received
{ours["msg_rate"] / max(naive["msg_rate"], 1e-9):.2f}x (kunb / naive: the naive kernel cannot keep up).

Reading: the throttle coalesces everything that arrived since the last frame into one redraw, so the
front end gets a bounded {args.max_hz:g} redraws/s whatever the message rate, and the kernel spends its time
on ingest (about {ours["cpu"] / max(ours["msg_rate"], 1) * 1e6:.0f} us of CPU per message, WebSocket decode
included). The lag arrival -> figure is bounded by the frame interval ({1000 / args.max_hz:.0f} ms) plus the
redraw itself.
"""
    print(body)
    if not args.no_write:
        write_section("Notebook live panels (bench/notebook.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
