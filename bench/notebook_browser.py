"""What a live figure costs the browser: plotly's FigureWidget beside kunb's LiveFigure, in one JupyterLab.

A real kernel, JupyterLab and headless Chromium (Debian's /usr/bin/chromium via Playwright), the recipe of
``tests/browser``. Each round opens a fresh page and kernel and creates ticker-like panels
(``bench/figure_demo.py``: 4 traces, a full 2,000-point window) of both kinds, alternating which kind
goes first, then streams one panel at a time. Measured per kind:

* bytes the page receives over the kernel WebSocket while a panel cell runs (first panel of its kind in
  the page, later ones), and the time from running the cell to the first drawn chart;
* at steady state (window full, 5 redraws/s, 10 new points per symbol per second) for 20 s: bytes/s to
  the page, messages/s from the page to the kernel, kernel CPU, and the page's main-thread busy share
  (CDP ``Performance.getMetrics`` TaskDuration) with the panel visible and with it on a hidden tab;
  the same share with nothing streaming (idle baseline);
* the widget state a notebook saving widget state would store per panel (kernel-side manager state).

Run: ``.venv/bin/python bench/notebook_browser.py [--rounds 3] [--seconds 20]``; writes its section of
RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests" / "browser"))
from figure_demo import KINDS  # noqa: E402
from labserver import CHROMIUM, CHROMIUM_ARGS, start_jupyter  # noqa: E402
from notebookpage import NotebookPage, lab_page  # noqa: E402
from report import machine, write_section  # noqa: E402

LABEL = {"figurewidget": "plotly FigureWidget", "livefigure": "kunb LiveFigure"}
PANELS_PER_KIND = 2

SETUP = f"""import json, sys
sys.path.insert(0, {str(BENCH)!r})
import ipywidgets
from figure_demo import DemoPanel
panels = {{}}

def state_bytes():
    return len(json.dumps(ipywidgets.Widget.get_manager_state()))
"""

# ---- page scripts -----------------------------------------------------------------------------------

# Run cell `index` (scrolled to the top of the view first, so its output appears in view) and watch, every
# animation frame, for a drawn plotly chart in its output: window.__kunbBench.drawn is then the time in ms.
_RUN_CELL = """([index, watchChart]) => {
  const nb = window.__kunbNb;
  const cell = nb.content.widgets[index];
  nb.content.activeCellIndex = index;
  cell.node.scrollIntoView({block: 'start'});
  const bench = window.__kunbBench = {start: performance.now(), drawn: null};
  const watch = () => {
    const gd = cell.outputArea && cell.outputArea.node.querySelector('.js-plotly-plot');
    if (gd && gd._fullData && gd._fullData.length && gd.querySelector('.scatterlayer .trace path')) {
      bench.drawn = performance.now() - bench.start;
      return;
    }
    requestAnimationFrame(watch);
  };
  if (watchChart) requestAnimationFrame(watch);
  void window.jupyterapp.commands.execute('notebook:run-cell');
}"""

_CELL_DONE = """(index) => {
  const nb = window.__kunbNb;
  const cell = nb.content.widgets[index];
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  return window.__kunbBench.drawn !== null && cell.model.executionCount !== null
    && !!kernel && kernel.status === 'idle';
}"""

_SCROLL_TO = """(selector) => { document.querySelector(selector).scrollIntoView({block: 'start'}); }"""

# where a LiveFigure panel's first-chart time went: ms from running the cell to each of its page marks
_MARKS = """() => {
  const start = window.__kunbBench.start;
  const out = {};
  for (const m of performance.getEntriesByType('mark')) {
    const fresh = m.name.startsWith('kunb:') && m.startTime >= start && !(m.name in out);
    if (fresh) out[m.name] = m.startTime - start;
  }
  return out;
}"""

_STATS = """() => { const r = globalThis[Symbol.for('kunb.livefigure.v1')]; return r ? r.stats : null; }"""


class Wire:
    """Bytes and frames over the page's WebSockets (the kernel channel), counted as Playwright sees them."""

    def __init__(self, page: Any) -> None:
        self.received = 0
        self.sent_frames = 0
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)

    def _sent(self, _payload: str | bytes) -> None:
        self.sent_frames += 1


def _task_seconds(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def _kernel_process(server: Any) -> psutil.Process:
    kernels = psutil.Process(server.process.pid).children(recursive=True)
    assert len(kernels) == 1, f"expected one kernel, found {kernels}"
    return kernels[0]


def _settle(nb: NotebookPage, seconds: float) -> None:
    """Let events flow for ``seconds`` (Playwright delivers page events while it waits)."""
    nb.page.wait_for_timeout(seconds * 1000)


def _window(
    nb: NotebookPage, wire: Wire, cdp: Any, kernel: psutil.Process, seconds: float
) -> dict[str, float]:
    d0 = (nb.eval(_STATS) or {}).get("draws", 0)
    b0, f0, t0 = wire.received, wire.sent_frames, _task_seconds(cdp)
    c0, w0 = kernel.cpu_times(), time.monotonic()
    _settle(nb, seconds)
    b1, f1, t1 = wire.received, wire.sent_frames, _task_seconds(cdp)
    c1, wall = kernel.cpu_times(), time.monotonic() - w0
    d1 = (nb.eval(_STATS) or {}).get("draws", 0)
    return {
        "livefigure_draws_per_s": (d1 - d0) / wall,
        "bytes_per_s": (b1 - b0) / wall,
        "sent_per_s": (f1 - f0) / wall,
        "busy": (t1 - t0) / wall,
        "kernel_cpu": ((c1.user - c0.user) + (c1.system - c0.system)) / wall,
    }


def _notebook(order: tuple[str, ...]) -> tuple[nbformat.NotebookNode, list[tuple[str, int, int]]]:
    cells = [nbformat.v4.new_code_cell(SETUP)]
    plan = []
    for kind in order:
        for k in range(PANELS_PER_KIND):
            name = f"{kind}{k}"
            cells.append(
                nbformat.v4.new_code_cell(
                    f"panels[{name!r}] = DemoPanel({kind!r}, seed={k + 1})\npanels[{name!r}]"
                )
            )
            plan.append((kind, k, len(cells) - 1))
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return nbformat.v4.new_notebook(cells=cells, metadata=meta), plan


def _state_bytes(nb: NotebookPage) -> int:
    """The kernel's widget manager state as JSON (what a notebook saving widget state stores)."""
    return int(nb.evaluate("state_bytes()"))


def _round(browser: Any, server: Any, r: int, seconds: float) -> dict[str, dict[str, Any]]:
    order = KINDS if r % 2 == 0 else tuple(reversed(KINDS))
    notebook, plan = _notebook(order)
    name = f"round{r}.ipynb"
    nbformat.write(notebook, server.root / name)
    out: dict[str, dict[str, Any]] = {kind: {"create": []} for kind in KINDS}
    with lab_page(browser, server) as nb:
        wire = Wire(nb.page)
        cdp = nb.page.context.new_cdp_session(nb.page)
        cdp.send("Performance.enable")
        nb.open(name)
        nb.eval(_RUN_CELL, [0, False])
        nb.wait(
            "() => window.__kunbNb.content.widgets[0].model.executionCount !== null", within=60, what="setup"
        )
        kernel = _kernel_process(server)
        state = _state_bytes(nb)
        for kind, k, index in plan:
            b0 = wire.received
            nb.eval(_RUN_CELL, [index, True])
            nb.wait(_CELL_DONE, index, within=90, what=f"{kind} panel {k} drawn")
            _settle(nb, 1.0)  # what the page sends back after drawing, and its answers, belong to the panel
            new_state = _state_bytes(nb)
            out[kind]["create"].append(
                {
                    "bytes": wire.received - b0,
                    "drawn_s": nb.eval("() => window.__kunbBench.drawn") / 1000,
                    "state_bytes": new_state - state,
                    "marks_ms": nb.eval(_MARKS),
                }
            )
            state = new_state
        out["livefigure"]["page_stats_after_create"] = nb.eval(_STATS)
        out["idle"] = _window(nb, wire, cdp, kernel, seconds)
        for kind in order:
            panel = f"panels['{kind}0']"
            nb.eval(_SCROLL_TO, f".kunb-demo-{kind}")
            nb.execute(f"{panel}.start()")
            _settle(nb, 3.0)  # warm-up: the first redraws, caches
            out[kind]["visible"] = _window(nb, wire, cdp, kernel, seconds)
            nb.execute(f"{panel}.hide()")
            _settle(nb, 2.0)
            out[kind]["hidden"] = _window(nb, wire, cdp, kernel, seconds)
            nb.execute(f"{panel}.show(); {panel}.stop()")
            _settle(nb, 1.0)
        out["livefigure"]["page_stats"] = nb.eval(_STATS)
        out["errors"] = list(nb.errors)
        nb.close()
        server.shutdown_kernels()
    return out


_EVALUATE_PLOTLY = """(source) => {
  const start = performance.now();
  const module = {exports: {}};
  new Function('module', 'exports', source)(module, module.exports);
  if (typeof module.exports.newPlot !== 'function') throw new Error('not plotly.js');
  return performance.now() - start;
}"""


def _bare_plotly_seconds(browser: Any) -> float:
    """How long this browser takes to evaluate the installed plotly.min.js in an empty page: the floor
    of any first chart, whatever delivers the bundle."""
    from importlib import resources

    source = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_text()
    context = browser.new_context()
    try:
        return context.new_page().evaluate(_EVALUATE_PLOTLY, source) / 1000
    finally:
        context.close()


@contextlib.contextmanager
def _browser(run_id: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, "KUNB_BROWSER_TEST_RUN": run_id},
        )
        try:
            yield chromium
        finally:
            chromium.close()


# ---- report ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    med = format(_median(values), fmt)
    return med if len(values) == 1 else f"{med} ({format(min(values), fmt)}..{format(max(values), fmt)})"


def _summary(rounds: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    s: dict[str, dict[str, list[float]]] = {}
    for kind in KINDS:
        d: dict[str, list[float]] = {}
        for r in rounds:
            first, *later = r[kind]["create"]
            d.setdefault("first_kb", []).append(first["bytes"] / 1e3)
            d.setdefault("first_s", []).append(first["drawn_s"])
            d.setdefault("state_kb", []).extend(c["state_bytes"] / 1e3 for c in r[kind]["create"])
            d.setdefault("later_kb", []).extend(c["bytes"] / 1e3 for c in later)
            d.setdefault("later_s", []).extend(c["drawn_s"] for c in later)
            for where in ("visible", "hidden"):
                w = r[kind][where]
                d.setdefault(f"{where}_kbps", []).append(w["bytes_per_s"] / 1e3)
                d.setdefault(f"{where}_busy", []).append(w["busy"] * 100)
                d.setdefault(f"{where}_sent", []).append(w["sent_per_s"])
                d.setdefault(f"{where}_cpu", []).append(w["kernel_cpu"] * 100)
                d.setdefault(f"{where}_draws", []).append(w["livefigure_draws_per_s"])
        s[kind] = d
    s["idle"] = {
        "busy": [r["idle"]["busy"] * 100 for r in rounds],
        "kbps": [r["idle"]["bytes_per_s"] / 1e3 for r in rounds],
    }
    return s


ROWS = [
    ("bytes to the page, first panel of its kind", "first_kb", ",.0f", "KB"),
    ("bytes to the page, each later panel", "later_kb", ",.0f", "KB"),
    ("run cell -> first drawn chart, first panel", "first_s", ".2f", "s"),
    ("run cell -> first drawn chart, later panels", "later_s", ".2f", "s"),
    ("widget state a saved notebook stores, per panel", "state_kb", ",.0f", "KB"),
    ("streaming, visible: bytes/s to the page", "visible_kbps", ",.1f", "KB/s"),
    ("streaming, visible: page main thread busy", "visible_busy", ".1f", "%"),
    ("streaming, visible: messages/s page -> kernel", "visible_sent", ".1f", "/s"),
    ("streaming, visible: kernel CPU", "visible_cpu", ".1f", "%"),
    ("streaming, visible: draws/s in the page (LiveFigure only)", "visible_draws", ".1f", "/s"),
    ("streaming, hidden tab: bytes/s to the page", "hidden_kbps", ",.1f", "KB/s"),
    ("streaming, hidden tab: page main thread busy", "hidden_busy", ".1f", "%"),
    ("streaming, hidden tab: messages/s page -> kernel", "hidden_sent", ".1f", "/s"),
]


def _table(s: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        f"| per panel | {LABEL['figurewidget']} | **{LABEL['livefigure']}** | FigureWidget / LiveFigure |",
        "|---|---|---|---|",
    ]
    fw, lf = s["figurewidget"], s["livefigure"]
    for label, key, fmt, unit in ROWS:
        a, b = _median(fw[key]), _median(lf[key])
        ratio = f"{a / b:,.1f}x" if b > 0 and a == a and b == b else "–"
        fw_cell = "–" if key.endswith("_draws") else _span(fw[key], fmt)  # counted by LiveFigure only
        if key.endswith("_draws"):
            ratio = "–"
        lines.append(f"| {label} ({unit}) | {fw_cell} | **{_span(lf[key], fmt)}** | {ratio} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh page + kernel per round (alternating order)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each steady-state window")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--json", type=Path, help="also dump the raw per-round numbers here")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    header = machine(("plotly", "anywidget", "ipywidgets", "jupyterlab", "playwright"))
    run_id = uuid.uuid4().hex
    rounds = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_jupyter(Path(tmp), run_id) as server,
        _browser(run_id) as browser,
    ):
        for r in range(args.rounds):
            rounds.append(_round(browser, server, r, args.seconds))
            rounds[-1]["bare_plotly_s"] = _bare_plotly_seconds(browser)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))
    s = _summary(rounds)
    lf = s["livefigure"]
    stats = rounds[-1]["livefigure"].get("page_stats") or {}
    errors = sorted({e for r in rounds for e in r["errors"]})
    marks = [r["livefigure"]["create"][0]["marks_ms"] for r in rounds]
    received = [m["kunb:plotly-received"] / 1000 for m in marks if "kunb:plotly-received" in m]
    ready = [m["kunb:plotly-ready"] / 1000 for m in marks if "kunb:plotly-ready" in m]
    evaluate = [(m["kunb:plotly-ready"] - m["kunb:plotly-received"]) / 1000 for m in marks if len(m) >= 2]
    bare = [r["bare_plotly_s"] for r in rounds]
    load_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    visible_above = [b - i for b, i in zip(lf["visible_busy"], s["idle"]["busy"], strict=True)]
    hidden_above = [b - i for b, i in zip(lf["hidden_busy"], s["idle"]["busy"], strict=True)]
    targets = [
        ("later panels < 600 KB each", max(lf["later_kb"]) < 600, f"max {max(lf['later_kb']):,.0f} KB"),
        (
            "first chart <= 2 s on loopback",
            max(lf["first_s"]) <= 2.0,
            f"first panel {_span(lf['first_s'], '.2f')} s, of which plotly.js evaluating itself "
            f"{_span(evaluate, '.2f')} s (in an empty page: {_span(bare, '.2f')} s); later panels "
            f"{_span(lf['later_s'], '.2f')} s",
        ),
        (
            "steady state <= 60 KB/s per ticker panel (full 2,000-point window, 5 updates/s)",
            max(lf["visible_kbps"]) <= 60,
            f"max {max(lf['visible_kbps']):.1f} KB/s",
        ),
        (
            "main thread <= 10 % per visible streaming panel",
            _median(visible_above) <= 10,
            f"{_span(visible_above, '.1f')} % above the idle page per round; the whole page "
            f"{_span(lf['visible_busy'], '.1f')} %; drawing {_span(lf['visible_draws'], '.1f')} times/s",
        ),
        (
            "~0 for a hidden one",
            _median(hidden_above) <= 1,
            f"{_span(hidden_above, '.1f')} % above the idle page per round; no draws",
        ),
    ]
    body = f"""
Machine: {header}; load average {load_end} at the end; Chromium {browser_version()} headless
(`--disable-gpu`), JupyterLab on 127.0.0.1.

Workload (`bench/figure_demo.py`): a ticker-like figure with 2 symbols (2 price rows and a spread row,
4 line traces on a shared date axis, tick-label overflow checks off for both), its 2,000-point window full
from the start; while streaming, 10 new points per symbol per second sent in 5 updates per second.
FigureWidget redraws the way kunb's panels do today (whole float64 arrays in one `batch_update`);
LiveFigure sends the new points (`extend(..., max_points=2000)` in one `batch`) and draws within its
default budget of 7 % of the page's main thread (`draw_budget`). {args.rounds} rounds, each a fresh page
and kernel with {PANELS_PER_KIND} panels of each kind, alternating which kind goes first; steady-state
windows of {args.seconds:g} s after a forced garbage collection, one panel streaming at a time; median
(min..max) over the rounds and panels. Bytes are WebSocket frames the page received while the cell ran
until the chart was drawn plus 1 s; "messages/s page -> kernel" counts every frame the page sent.

{_table(s)}

Idle page (panels shown, nothing streaming): main thread {_span(s["idle"]["busy"], ".1f")} % busy,
{_span(s["idle"]["kbps"], ",.1f")} KB/s received.

Why this mechanism (jupyter-notes.md lists the options): plotly's own way puts the bundle into every
figure's state (the FigureWidget column: 5.2 MB per panel, 5.1 MB per panel in a saved notebook); one
carrier widget holding the bundle in its state would send it once but still save 4.8 MB of JavaScript
into every notebook saved with widget state; an `_esm` URL needs a server route for an installed
package's file, which Jupyter does not have without a server or lab extension (the jupyterlab-plotly
extension's chunk, which JupyterLab parses with every page, is a webpack chunk that exports no
`Plotly`). kunb's carrier pushes the installed `plotly.min.js` once per kernel as one gzip binary message
(1.47 MB instead of 4.8 MB, no CDN, never in any state; a reloaded page asks for it once), and each
figure's own front end is a few KB. A redraw's cost is plotly.js's, not the transport's: in a bare page
here `Plotly.react`, `extendTraces` and `animate` each took 40-100 ms per redraw of this figure on the
loaded machine, hence the per-view draw budget instead of a redraw per update.

Where the first LiveFigure's chart time goes (from running the cell): plotly.js received at
{_span(received, ".2f")} s (kernel builds the figure, compresses the bundle once, 1.5 MB over the socket),
evaluated by {_span(ready, ".2f")} s, drawn at {_span(lf["first_s"], ".2f")} s. Evaluating plotly.min.js
in an empty page of the same browser takes {_span(bare, ".2f")} s: the floor of any first chart,
whichever way the bundle arrives; both move with the machine's load (at load average 5-6 on these 2 cores
the first chart took 2.2-3.9 s, plotly.js evaluating itself 1.7-3.2 s of it). FigureWidget evaluates its
own 5 MB bundle for every figure.

LiveFigure draws per second while streaming: visible {_span(lf["visible_draws"], ".1f")}, hidden
{_span(lf["hidden_draws"], ".1f")} (5 updates/s arrive; a visible view draws as often as its budget
allows, coalescing the rest; a hidden one keeps the data and draws once it is visible again).
In the last round's page: plotly.js bundles received {stats.get("bundles")}, evaluated
{stats.get("evaluations")}, asked for {stats.get("requests")} times. Console errors in the page:
{errors or "none"}.

Targets (issue 15, "Done when"):
{chr(10).join(f"- {name}: {'met' if ok else 'NOT met'} ({detail})" for name, ok, detail in targets)}
"""
    print(body)
    if not args.no_write:
        write_section("Live figures in the browser (bench/notebook_browser.py)", body)
    return 0


def browser_version() -> str:
    import subprocess

    out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=False).stdout
    return out.strip().split()[-1] if out.strip() else "?"


if __name__ == "__main__":
    sys.exit(main())
