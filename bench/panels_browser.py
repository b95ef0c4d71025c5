"""What each live panel costs the browser and the wire: kunb's real panels in a real kernel, JupyterLab and
headless Chromium (Debian's /usr/bin/chromium via Playwright), the recipe of ``tests/browser``.

The exchange is ``kunb.sim`` in a child process (``bench/notebook.py --serve``: its normal market, 10
minutes of history for the candles, and a ticker pump the bench turns up to fill the ticker's window).
Each round opens a fresh page and kernel and runs one cell per panel - ticker, book, candles, trades,
account, and a second ticker (a later panel of a kind already on the page) - measuring per cell:

* bytes the page receives over the kernel WebSocket while the cell runs, until its chart is drawn, plus
  1 s (the first cell's include plotly.js, once per kernel);
* the time from running the cell to the first drawn chart (the trades tape: its first row);

then, one panel streaming at a time (the others stopped), 20 s windows: bytes/s to the page, frames/s
from the page to the kernel, kernel CPU, and the page's main-thread busy share (CDP
``Performance.getMetrics`` TaskDuration) with the panel on screen and scrolled out of view; the same share
with every panel stopped (idle baseline). The ticker is measured with its 2,000-point window full.

Run: ``.venv/bin/python bench/panels_browser.py [--rounds 3] [--seconds 20]``; writes its section of
RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests" / "browser"))
from labserver import CHROMIUM, start_jupyter  # noqa: E402
from notebook import PumpedExchange  # noqa: E402
from notebook_browser import (  # noqa: E402
    _MARKS,
    Wire,
    _browser,
    _kernel_process,
    _settle,
    _span,
    _task_seconds,
    browser_version,
)
from notebookpage import NotebookPage, lab_page  # noqa: E402
from report import machine, write_section  # noqa: E402

PANELS = {  # name -> the cell that makes it (URL, CREDS from the setup cell)
    "ticker": "kunb.live_ticker(['BTC-USDT', 'ETH-USDT'], url=URL)",
    "book": "kunb.live_book('BTC-USDT', depth=30, url=URL)",
    "candles": "kunb.live_candles('BTC-USDT', url=URL)",
    "trades": "kunb.live_trades(['BTC-USDT', 'ETH-USDT'], url=URL)",
    "account": "kunb.live_account(CREDS, url=URL)",
    "ticker2": "kunb.live_ticker(['BTC-USDT', 'ETH-USDT'], url=URL)",
}
STREAMING = ("ticker", "book", "candles", "trades", "account")  # each measured streaming alone
WINDOW = 2000  # the ticker's points per symbol
FILL_RATE = 2000.0  # ticker pushes/s while the ticker's window fills

SETUP = """import os
import time
import kunb
URL = {url!r}
os.environ["KUNB_URL"], os.environ["KUNB_SIMULATED"] = URL, "1"  # the child exchange is simulated data
CREDS = kunb.Credentials({key!r}, {secret!r}, {passphrase!r})
panels = {{}}
_kunb_bench_times = {{}}  # seconds each panel's call took in the kernel
"""

# Run cell `index` (scrolled to the top of the view) and watch, every animation frame, for its output's
# first drawn chart (a LiveFigure that drew) or, for the tape, its first row: __kunbBench.drawn in ms.
_RUN_CELL = """([index, ready]) => {
  const nb = window.__kunbNb;
  const cell = nb.content.widgets[index];
  nb.content.activeCellIndex = index;
  cell.node.scrollIntoView({block: 'start'});
  const bench = window.__kunbBench = {start: performance.now(), drawn: null};
  const watch = () => {
    const out = cell.outputArea && cell.outputArea.node;
    if (ready === null || (out && out.querySelector(ready))) {
      bench.drawn = performance.now() - bench.start;
      return;
    }
    requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
  void window.jupyterapp.commands.execute('notebook:run-cell');
}"""

_CELL_DONE = """(index) => {
  const nb = window.__kunbNb;
  const cell = nb.content.widgets[index];
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  return window.__kunbBench.drawn !== null && cell.model.executionCount !== null
    && !!kernel && kernel.status === 'idle';
}"""

_SCROLL_TO_CELL = "(index) => window.__kunbNb.content.widgets[index].node.scrollIntoView({block: 'start'})"
_SCROLL_AWAY = "() => document.querySelector('.kunb-bench-spacer').scrollIntoView({block: 'end'})"


def _ready_selector(name: str) -> str:
    if name == "trades":
        return "table.kunb-trades tr[data-trade-id]"
    return ".kunb-live-figure[data-draws]"


def _notebook(exchange: PumpedExchange) -> tuple[nbformat.NotebookNode, dict[str, int]]:
    key, secret, passphrase = exchange.credentials
    setup = SETUP.format(url=exchange.url, key=key, secret=secret, passphrase=passphrase)
    cells = [nbformat.v4.new_code_cell(setup)]
    index = {}
    for name, make in PANELS.items():
        timed = (
            f"_t0 = time.perf_counter()\npanels[{name!r}] = {make}\n"
            f"_kunb_bench_times[{name!r}] = time.perf_counter() - _t0\npanels[{name!r}]"
        )
        cells.append(nbformat.v4.new_code_cell(timed))
        index[name] = len(cells) - 1
    spacer = (
        'import ipywidgets\nipywidgets.HTML(\'<div class="kunb-bench-spacer" style="height:3000px"></div>\')'
    )
    cells.append(nbformat.v4.new_code_cell(spacer))
    index["spacer"] = len(cells) - 1
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return nbformat.v4.new_notebook(cells=cells, metadata=meta), index


def _window(nb: NotebookPage, wire: Wire, cdp: Any, kernel: Any, seconds: float) -> dict[str, float]:
    b0, f0, t0 = wire.received, wire.sent_frames, _task_seconds(cdp)
    c0, w0 = kernel.cpu_times(), time.monotonic()
    _settle(nb, seconds)
    b1, f1, t1 = wire.received, wire.sent_frames, _task_seconds(cdp)
    c1, wall = kernel.cpu_times(), time.monotonic() - w0
    return {
        "kbps": (b1 - b0) / wall / 1e3,
        "sent_per_s": (f1 - f0) / wall,
        "busy": (t1 - t0) / wall * 100,
        "kernel_cpu": ((c1.user - c0.user) + (c1.system - c0.system)) / wall * 100,
    }


def _fill_ticker(nb: NotebookPage, exchange: PumpedExchange) -> None:
    """Turn the pump up until the ticker holds a full window for both symbols, then back to the market."""
    exchange.set_rate(FILL_RATE)
    deadline = time.monotonic() + 60
    try:
        points = "min(len(panels['ticker'].panel.figure.columns(i).get('x', [])) for i in (0, 1))"
        while int(nb.evaluate(points)) < WINDOW:
            assert time.monotonic() < deadline, "the ticker's window did not fill within 60 s"
            nb.page.wait_for_timeout(250)  # poll interval while the pump fills the window
    finally:
        exchange.set_rate(0)


def _round(
    browser: Any, server: Any, exchange: PumpedExchange, r: int, seconds: float, *, stream: bool = True
) -> dict[str, Any]:
    notebook, index = _notebook(exchange)
    name = f"panels{r}.ipynb"
    nbformat.write(notebook, server.root / name)
    out: dict[str, Any] = {"create": {}, "visible": {}, "hidden": {}}
    with lab_page(browser, server) as nb:
        wire = Wire(nb.page)
        cdp = nb.page.context.new_cdp_session(nb.page)
        cdp.send("Performance.enable")
        nb.open(name)
        nb.eval(_RUN_CELL, [0, None])  # the setup cell: nothing to wait for but the cell
        nb.wait(
            "() => window.__kunbNb.content.widgets[0].model.executionCount !== null", within=60, what="setup"
        )
        kernel = _kernel_process(server)
        for panel, i in index.items():
            if panel == "spacer":
                nb.eval(_RUN_CELL, [i, None])
                nb.wait(_CELL_DONE, i, within=60, what="spacer")
                continue
            b0 = wire.received
            nb.eval(_RUN_CELL, [i, _ready_selector(panel)])
            nb.wait(_CELL_DONE, i, within=90, what=f"{panel} drawn")
            drawn = nb.eval("() => window.__kunbBench.drawn") / 1000
            marks = nb.eval(_MARKS)
            _settle(nb, 1.0)
            out["create"][panel] = {"bytes": wire.received - b0, "drawn_s": drawn, "marks_ms": marks}
        out["kernel_s"] = json.loads(nb.evaluate("__import__('json').dumps(_kunb_bench_times)").strip("'"))
        nb.execute("panels.pop('ticker2').stop()\nfor p in panels.values(): p.stop()")
        _settle(nb, 2.0)
        nb.eval(_SCROLL_AWAY)
        out["idle"] = _window(nb, wire, cdp, kernel, seconds)
        for panel in STREAMING if stream else ():
            nb.execute(f"panels[{panel!r}].start()")
            nb.execute(f"await panels[{panel!r}].wait_live()")
            if panel == "ticker":
                _fill_ticker(nb, exchange)
            nb.eval(_SCROLL_TO_CELL, index[panel])
            _settle(nb, 3.0)  # warm-up: the first draws, caches
            out["visible"][panel] = _window(nb, wire, cdp, kernel, seconds)
            nb.eval(_SCROLL_AWAY)
            _settle(nb, 2.0)
            out["hidden"][panel] = _window(nb, wire, cdp, kernel, seconds)
            nb.execute(f"panels[{panel!r}].stop()")
            _settle(nb, 1.0)
        out["page_stats"] = nb.eval(
            "() => { const r = globalThis[Symbol.for('kunb.livefigure.v1')]; return r ? r.stats : null; }"
        )
        out["errors"] = list(nb.errors)
        nb.close()
        server.shutdown_kernels()
    return out


ROWS = [
    ("bytes to the page while the cell runs (KB)", "create", "bytes", 1e-3, ",.0f"),
    ("run cell -> first drawn chart (s)", "create", "drawn_s", 1, ".2f"),
    ("streaming, on screen: bytes/s to the page (KB/s)", "visible", "kbps", 1, ",.1f"),
    ("streaming, on screen: page main thread above idle (%)", "visible", "above", 1, ".1f"),
    ("streaming, on screen: frames/s page -> kernel", "visible", "sent_per_s", 1, ".1f"),
    ("streaming, on screen: kernel CPU (%)", "visible", "kernel_cpu", 1, ".1f"),
    ("streaming, scrolled away: bytes/s to the page (KB/s)", "hidden", "kbps", 1, ",.1f"),
    ("streaming, scrolled away: page main thread above idle (%)", "hidden", "above", 1, ".1f"),
]


def _values(rounds: list[dict[str, Any]], where: str, panel: str, key: str, scale: float) -> list[float]:
    out = []
    for r in rounds:
        cell = r[where].get(panel)
        if cell is None:
            continue
        value = cell["busy"] - r["idle"]["busy"] if key == "above" else cell[key]
        out.append(value * scale)
    return out


def _table(rounds: list[dict[str, Any]]) -> str:
    names = list(PANELS)
    lines = ["| per panel | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, where, key, scale, fmt in ROWS:
        cells = []
        for panel in names:
            values = _values(rounds, where, panel, key, scale)
            cells.append(_span(values, fmt) if values else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh page + kernel per round")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each steady-state window")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--json", type=Path, help="also dump the raw per-round numbers here")
    parser.add_argument("--create-only", action="store_true", help="measure creating the panels only")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    header = machine(("plotly", "anywidget", "ipywidgets", "jupyterlab", "playwright"))
    run_id = uuid.uuid4().hex
    rounds = []
    exchange = PumpedExchange(0.0, history_s=600.0)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            start_jupyter(Path(tmp), run_id) as server,
            _browser(run_id) as browser,
        ):
            for r in range(args.rounds):
                rounds.append(_round(browser, server, exchange, r, args.seconds, stream=not args.create_only))
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        exchange.close()
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))
    if args.create_only:  # no streaming windows to summarise (the medians below would have no data)
        for name in PANELS:
            kb = _span(_values(rounds, "create", name, "bytes", 1e-3), ",.0f")
            drawn = _span(_values(rounds, "create", name, "drawn_s", 1), ".2f")
            print(f"{name}: {kb} KB, first chart {drawn} s")
        return 0
    later_panels = ("book", "candles", "trades", "account", "ticker2")
    later = [v for name in later_panels for v in _values(rounds, "create", name, "bytes", 1e-3)]
    first = _values(rounds, "create", "ticker", "drawn_s", 1)
    ticker_kbps = _values(rounds, "visible", "ticker", "kbps", 1)
    visible = {p: statistics.median(_values(rounds, "visible", p, "above", 1)) for p in STREAMING}
    hidden = {p: statistics.median(_values(rounds, "hidden", p, "above", 1)) for p in STREAMING}
    idle = [r["idle"]["busy"] for r in rounds]
    errors = sorted({e for r in rounds for e in r["errors"]})
    stats = rounds[-1].get("page_stats") or {}
    load_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    targets = [
        ("later panels < 600 KB each", max(later) < 600, f"max {max(later):,.0f} KB"),
        (
            "first chart <= 2 s on loopback",
            max(first) <= 2.0,
            f"{_span(first, '.2f')} s (the first panel, plotly.js included)",
        ),
        (
            "steady state <= 60 KB/s per ticker panel with a full 2,000-point window",
            max(ticker_kbps) <= 60,
            f"max {max(ticker_kbps):.1f} KB/s",
        ),
        (
            "main thread <= 10 % per visible streaming panel",
            max(visible.values()) <= 10,
            ", ".join(f"{p} {v:.1f} %" for p, v in visible.items()) + " above the idle page (medians)",
        ),
        (
            "~0 for a hidden one",
            max(hidden.values()) <= 1,
            ", ".join(f"{p} {v:.1f} %" for p, v in hidden.items()),
        ),
    ]
    body = f"""
Machine: {header}; load average {load_end} at the end; Chromium {browser_version()} headless
(`--disable-gpu`), JupyterLab on 127.0.0.1, viewport 1280 x 1000.

Workload: `kunb.sim` in a child process (its market with 10 minutes of history; a ticker pump turned to
{FILL_RATE:,.0f} pushes/s only while the ticker's {WINDOW:,}-point windows fill), one cell per panel in a
fresh page and kernel per round: `live_ticker(['BTC-USDT', 'ETH-USDT'])`, `live_book('BTC-USDT',
depth=30)`, `live_candles('BTC-USDT')`, `live_trades(['BTC-USDT', 'ETH-USDT'])`, `live_account(...)`,
then a second `live_ticker` ("ticker2": a later panel of a kind already shown). Creating: bytes the page
received from running the cell until its chart was drawn (the tape: its first row) plus 1 s, and that
time. Streaming: one panel at a time at the exchange's own pace, its cell scrolled to the top of the
view ("on screen") or every panel scrolled out of view ("scrolled away"), {args.seconds:g} s windows;
main-thread shares are above the idle page (every panel stopped: {_span(idle, ".1f")} %).
{args.rounds} rounds; median (min..max).

{_table(rounds)}

Targets (issue 15, "Done when"):
{chr(10).join(f"- {name}: {'met' if ok else 'NOT met'} ({detail})" for name, ok, detail in targets)}

In the last round's page: plotly.js bundles received {stats.get("bundles")}, evaluated
{stats.get("evaluations")}, asked for {stats.get("requests")} times, for {len(PANELS)} panels. Console errors
in the page: {errors or "none"}.
"""
    print(body)
    if not args.no_write:
        write_section("Live panels in the browser (bench/panels_browser.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
