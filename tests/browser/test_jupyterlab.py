"""The live panels in a real browser: JupyterLab and Notebook 7 in headless Chromium, asserted in the page.

What only a browser shows: the plotly figure is drawn, its price trace gains points while the kernel
streams (updates reach the page), its x axes stay date axes, the badge says live, the quotes table agrees
with the exchange's own book, the console stays clean, and Stop really stops the updates. A negative
control then drops the figure's update messages in the kernel and shows the growth check failing.
Figures draw only while they are on screen, so every check scrolls its panel into view first.
Screenshots go to ``build/screenshots/``. Recipe and traps: jupyter-notes.md 6.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from labserver import JupyterServer
from notebookpage import MS, NotebookPage, lab_page, notebook7_page
from pagewatch import FIND

__all__: list[str] = []

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SYMBOL = "BTC-USDT"
TICKER = ".kunb-ticker"
QUICKSTART = "01-quickstart.ipynb"
# The ticker sends at most 5 updates a second (kunb.notebook.throttle.DEFAULT_MAX_HZ) and the embedded
# exchange pushes tickers every 100 ms (sim tick_ms); the page draws as often as its budget allows (8 % of
# the main thread: a draw that took 400 ms on a loaded machine waits 5 s for the next). 20 s is several
# draws even then; a panel whose updates never reach the page gains none.
GROWTH_WINDOW_S = 20.0
# After Stop: no new point for 2 s (10 redraw slots, 20 exchange ticks), within 6 s of the click.
QUIET_S = 2.0
QUIET_DEADLINE_S = 6.0
# Notebook 7.6.5 raises this while its page loads, before any cell has run (so no kunb code is involved):
# its shortcuts extension reads the schema of a settings plugin it does not have
NOTEBOOK7_LOAD_ERRORS = {"uncaught: Cannot read properties of undefined (reading 'schema')"}

# What the negative control runs in the kernel: every LiveFigure drops its update messages, so data keeps
# flowing in Python (badge, table, the kernel's copy of the figure) but nothing reaches the page.
BREAK_RENDERER = """
from kunb.notebook.figure import LiveFigure
def _drop(self):
    self._ops.clear()
    self._buffers.clear()
LiveFigure._flush = _drop
"""

# ---- page scripts -----------------------------------------------------------------------------------

# The figure as plotly.js drew it: traces (name, meta, points, array kind, x range) and x-axis types.
_FIGURE = """(panel) => {
  const gd = document.querySelector(panel + ' .js-plotly-plot');
  if (!gd || !gd.data || !gd._fullLayout) return null;
  const axes = {};
  for (const k of Object.keys(gd._fullLayout)) {
    if (/^xaxis\\d*$/.test(k)) axes[k] = gd._fullLayout[k].type;
  }
  const traces = gd.data.map(t => {
    const x = t.x || [];
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < x.length; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
    return {name: t.name, meta: t.meta, n: x.length, ny: (t.y || []).length,
            kind: Object.prototype.toString.call(x), xmin: x.length ? lo : null, xmax: x.length ? hi : null};
  });
  return {traces, xaxes: axes};
}"""

_POINTS = """([panel, meta]) => {
  const gd = document.querySelector(panel + ' .js-plotly-plot');
  const t = gd && gd.data && gd.data.find(t => t.meta === meta);
  return t && t.x ? t.x.length : -1;
}"""

_GREW = """([panel, meta, n0]) => {
  const gd = document.querySelector(panel + ' .js-plotly-plot');
  const t = gd && gd.data && gd.data.find(t => t.meta === meta);
  return !!(t && t.x && t.x.length > n0);
}"""

# true once the trace's point count has not changed for `quiet` ms (state kept on window between polls)
_QUIET = """([panel, meta, quiet]) => {
  const gd = document.querySelector(panel + ' .js-plotly-plot');
  const t = gd && gd.data && gd.data.find(t => t.meta === meta);
  const n = t && t.x ? t.x.length : -1;
  const now = performance.now();
  if (window.__kunbQuietN !== n) { window.__kunbQuietN = n; window.__kunbQuietT = now; }
  return now - window.__kunbQuietT >= quiet;
}"""


_BADGE = """(panel) => {
  FIND
  const el = find(panel, 'span.kunb-status');
  const url = document.querySelector(panel + ' span.kunb-url');
  const src = document.querySelector(panel + ' span.kunb-source');
  return el ? {status: el.dataset.status, url: url && url.textContent,
               simulated: src && src.dataset.simulated} : null;
}""".replace("FIND", FIND)

_QUOTE = """([panel, symbol]) => {
  FIND
  const row = find(panel, `table.kunb-quotes tr[data-symbol="${symbol}"]`);
  if (!row) return null;
  const v = cls => { const td = row.querySelector('td.' + cls); return td ? td.dataset.value : null; };
  return {bid: v('kunb-bid'), ask: v('kunb-ask'), spread: v('kunb-spread')};
}""".replace("FIND", FIND)


def _badge_is(panel: str, status: str) -> str:
    return f"() => {{ const b = ({_BADGE})('{panel}'); return !!b && b.status === '{status}'; }}"


def _quote_differs(panel: str, symbol: str, old: dict[str, Any] | None) -> str:
    old_key = "" if old is None else f"{old['bid']}/{old['ask']}"
    return (
        f"() => {{ const q = ({_QUOTE})(['{panel}', '{symbol}']);"
        f" return !!q && !!q.spread && (q.bid + '/' + q.ask) !== '{old_key}'; }}"
    )


# ---- the exchange's side ----------------------------------------------------------------------------


class Level1Sampler:
    """Reads the exchange's level 1 every ~20 ms on a thread.

    ``samples``: (monotonic time, bid, ask); ``tickers``: how many times the fields a ticker push carries
    (best bid/ask with sizes, last trade price and size) changed - the exchange pushes a ticker on each.
    """

    def __init__(self, url: str) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self.tickers = 0
        self._last: tuple[str, ...] | None = None
        self._stop = threading.Event()
        self._http = httpx.Client(base_url=url, timeout=5.0)
        self._thread = threading.Thread(target=self._run, name="level1-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            body = self._http.get("/api/v1/market/orderbook/level1", params={"symbol": SYMBOL}).json()
            d = body["data"]
            self.samples.append((time.monotonic(), float(d["bestBid"]), float(d["bestAsk"])))
            fields = tuple(
                str(d[k]) for k in ("bestBid", "bestBidSize", "bestAsk", "bestAskSize", "price", "size")
            )
            self.tickers += self._last is not None and fields != self._last
            self._last = fields
            self._stop.wait(0.02)  # sampling period

    def __enter__(self) -> Level1Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._http.close()
        assert not self._thread.is_alive()


# ---- the checks -------------------------------------------------------------------------------------


def show(nb: NotebookPage, panel: str) -> None:
    """Scroll ``panel``'s figure into view: a figure off screen does not draw (LiveFigure)."""
    figure = nb.page.locator(f"{panel} .kunb-live-figure").first
    figure.scroll_into_view_if_needed()
    nb.wait(
        f"() => document.querySelector('{panel} .kunb-live-figure').dataset.visible === 'true'",
        within=10,
        what=f"{panel}'s figure is on screen",
    )


def check_figure(nb: NotebookPage) -> None:
    """The ticker's plotly figure is drawn with the price and spread traces of both symbols."""
    show(nb, TICKER)
    nb.wait(f"() => !!document.querySelector('{TICKER} .js-plotly-plot')", within=30, what="plotly figure")
    figure = nb.eval(_FIGURE, TICKER)
    metas = {t["meta"] for t in figure["traces"]}
    assert {f"price:{SYMBOL}", "price:ETH-USDT", f"spread:{SYMBOL}", "spread:ETH-USDT"} <= metas, figure


def check_live_badge(nb: NotebookPage, panel: str = TICKER) -> dict[str, Any]:
    """The badge reaches ``live`` and labels the data simulated; returns it (with the exchange's URL)."""
    nb.wait(_badge_is(panel, "live"), within=30, what=f"{panel} badge reads live")
    badge = nb.eval(_BADGE, panel)
    assert badge["simulated"] == "true", badge
    assert badge["url"].startswith("http://127.0.0.1:"), badge
    return badge


def check_points_grow(nb: NotebookPage) -> None:
    """The price trace gains points, twice, while data streams: updates reach the figure in the page."""
    meta = f"price:{SYMBOL}"
    show(nb, TICKER)
    for _ in range(2):
        n = nb.eval(_POINTS, [TICKER, meta])
        assert n >= 0, "no price trace"
        nb.wait(_GREW, [TICKER, meta, n], within=GROWTH_WINDOW_S, what=f"price trace points grow beyond {n}")


def check_date_axes(nb: NotebookPage) -> None:
    """After many redraws every x axis is still a date axis, and x travelled as binary float64 epoch ms."""
    figure = nb.eval(_FIGURE, TICKER)
    assert figure["xaxes"] and set(figure["xaxes"].values()) == {"date"}, figure["xaxes"]
    price = next(t for t in figure["traces"] if t["meta"] == f"price:{SYMBOL}")
    assert price["kind"] == "[object Float64Array]", price  # jupyter-notes.md 0.4: binary, not JSON
    assert price["n"] == price["ny"] > 0, price
    assert abs(price["xmax"] / 1000 - time.time()) < 3600, price  # epoch ms of now, not indexes or seconds


def check_spread_matches_exchange(nb: NotebookPage, url: str) -> None:
    """The quotes table's bid, ask and spread agree with the exchange's own level 1 at about the same time.

    The page lags the exchange by one push (100 ms tick), at most one redraw slot (200 ms) and delivery;
    the sampler reads level 1 every ~20 ms. So every page quote (a) is self-consistent (spread == ask - bid
    > 0); (b) has a mid within 10 bps of the exchange's mid at read time (the sim's BTC moves a few bps a
    second at most, while a wrong column or a bps-for-price mix-up is off by orders of magnitude); and
    (c) in at least half of the reads equals *exactly* a (bid, ask) pair the exchange reported in the 2 s
    before - 0.1-tick prices around 67,000 do not coincide by chance, and a quote that changed between
    two samples can still miss, hence "half", not "all".
    """
    reads: list[tuple[float, dict[str, Any]]] = []
    with Level1Sampler(url) as sampler:
        quote = None
        for _ in range(8):
            nb.wait(_quote_differs(TICKER, SYMBOL, quote), within=10, what="a new quote in the table")
            quote = nb.eval(_QUOTE, [TICKER, SYMBOL])
            reads.append((time.monotonic(), quote))
    assert len(sampler.samples) >= 20, "the exchange's level 1 was hardly sampled"
    exact = 0
    for seen, q in reads:
        bid, ask, spread = float(q["bid"]), float(q["ask"]), float(q["spread"])
        assert ask > bid and math.isclose(spread, ask - bid, rel_tol=1e-9, abs_tol=1e-9), q
        _t, ex_bid, ex_ask = min(sampler.samples, key=lambda s: abs(s[0] - seen))
        ex_mid = (ex_bid + ex_ask) / 2
        assert abs((bid + ask) / 2 - ex_mid) / ex_mid < 10e-4, (q, ex_bid, ex_ask)
        recent = {(b, a) for t, b, a in sampler.samples if seen - 2.0 <= t <= seen + 0.05}
        exact += (bid, ask) in recent
    assert exact * 2 >= len(reads), f"only {exact}/{len(reads)} page quotes match the exchange's level 1"


def check_stop(nb: NotebookPage, url: str) -> None:
    """Clicking Stop ends the updates: no new point for 2 s while the exchange keeps changing its book."""
    toggle = nb.page.locator(f"{TICKER} button.kunb-toggle")
    toggle.scroll_into_view_if_needed()
    toggle.click()
    nb.wait(_badge_is(TICKER, "stopped"), within=10, what="badge reads stopped after clicking Stop")
    with Level1Sampler(url) as sampler:
        nb.eval("() => { window.__kunbQuietN = undefined; }")
        nb.wait(
            _QUIET,
            [TICKER, f"price:{SYMBOL}", QUIET_S * MS],
            within=QUIET_DEADLINE_S,
            what=f"no new price points for {QUIET_S:g} s after Stop",
        )
    # the exchange kept pushing tickers meanwhile (~10 a second here), each one a point a live panel draws
    assert sampler.tickers >= 5, f"only {sampler.tickers} ticker changes at the exchange in the quiet window"
    assert "Start" in toggle.inner_text(), "the toggle offers Start after stopping"


def check_broken_renderer_is_caught(nb: NotebookPage) -> None:
    """Negative control: with the figure's sends dropped in the kernel, restarting streams data (badge
    live, table moving) but the growth check fails - so it does detect updates not reaching the page."""
    nb.execute(BREAK_RENDERER)
    meta = f"price:{SYMBOL}"
    before = nb.eval(_POINTS, [TICKER, meta])
    quote = nb.eval(_QUOTE, [TICKER, SYMBOL])
    nb.page.locator(f"{TICKER} button.kunb-toggle").click()  # Start again
    check_live_badge(nb)
    nb.wait(_quote_differs(TICKER, SYMBOL, quote), within=10, what="quotes table moves (HTML is unaffected)")
    with pytest.raises(AssertionError, match="price trace points grow"):
        check_points_grow(nb)
    assert nb.eval(_POINTS, [TICKER, meta]) == before


# ---- tests ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(browser: Any, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    """One JupyterLab page for the Lab tests (loading Lab takes seconds); notebooks open and close in it."""
    with lab_page(browser, jupyter_server) as page:
        yield page


@pytest.fixture
def lab_notebook(lab: NotebookPage, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    """After the test: the notebook's kernel (and the exchange it runs) is shut down; the Lab page loaded
    without console errors."""
    yield lab
    lab.close()
    jupyter_server.shutdown_kernels()
    assert not lab.load_errors, f"console errors while JupyterLab loaded: {lab.load_errors}"


def test_quickstart_streams_into_the_page_and_stops_in_jupyterlab(lab_notebook: NotebookPage) -> None:
    """Quick start in JupyterLab: figure, points grow on date axes, badge live, the exchange's spread, Stop;
    then the negative control."""
    nb = lab_notebook
    nb.open(QUICKSTART)
    nb.run()
    check_figure(nb)
    badge = check_live_badge(nb)
    check_points_grow(nb)
    check_date_axes(nb)
    check_spread_matches_exchange(nb, badge["url"])
    nb.screenshot(TICKER, "quickstart-lab.png")
    check_stop(nb, badge["url"])
    assert not nb.errors, f"browser console errors: {nb.errors}"
    check_broken_renderer_is_caught(nb)


def test_order_book_depth_chart_in_jupyterlab(lab_notebook: NotebookPage) -> None:
    """Order-book notebook: bids and asks traces drawn with points, every bid below every ask, book live."""
    nb = lab_notebook
    panel = ".kunb-book"
    nb.open("02-order-book.ipynb")
    nb.run()
    check_live_badge(nb, panel)
    show(nb, panel)
    nb.wait(
        f"""() => {{ const f = ({_FIGURE})('{panel}');
             const depth = f && f.traces.filter(t => t.meta.startsWith('depth:') && t.n > 0);
             return !!depth && depth.length === 2; }}""",
        within=20,
        what="depth chart has bid and ask points",
    )
    figure = nb.eval(_FIGURE, panel)
    depth = {t["meta"]: t for t in figure["traces"]}
    bids, asks = depth["depth:bid"], depth["depth:ask"]
    assert bids["n"] >= 5 and asks["n"] >= 5, (bids, asks)
    assert bids["xmax"] < asks["xmin"], f"crossed in the page: bid {bids['xmax']} >= ask {asks['xmin']}"
    # the depth chart's x axis holds prices, the spread-over-time's holds times
    assert figure["xaxes"] == {"xaxis": "linear", "xaxis2": "date"}, figure["xaxes"]
    nb.wait(
        f"() => {{ {FIND} const el = find('{panel}', 'span.kunb-book-state');"
        " return !!el && el.dataset.state === 'live'; }",
        within=10,
        what="the book table says the local book is live (in sync)",
    )
    nb.screenshot(panel, "order-book-lab.png")
    assert not nb.errors, f"browser console errors: {nb.errors}"


def test_account_panels_in_jupyterlab(lab_notebook: NotebookPage) -> None:
    """Account notebook: balances and both orders' final events show in the page (screenshot for the docs)."""
    nb = lab_notebook
    panel = ".kunb-account"
    nb.open("03-account-and-trading.ipynb")
    # the last cell adds a dashboard of all panels; the ticker and book are covered above
    nb.run(upto=nb.cell_index("kunb.dashboard("), within=90)
    check_live_badge(nb, panel)
    for event in ("filled", "canceled"):  # the market buy fills, the resting limit order is cancelled
        nb.wait(
            f"() => {{ {FIND} return !!find('{panel}', 'table.kunb-orders tr[data-type={event}]'); }}",
            within=20,
            what=f"an order event of type {event} in the order table",
        )
    nb.wait(
        f"() => {{ {FIND} return !!find('{panel}', 'table.kunb-balances tr[data-currency]'); }}",
        within=20,
        what="the balances table on screen",
    )
    currencies = nb.eval(
        f"() => [...document.querySelectorAll('{panel} table.kunb-balances tr[data-currency]')]"
        ".map(r => r.dataset.currency)"
    )
    assert {"BTC", "USDT"} <= set(currencies), currencies
    nb.screenshot(panel, "account-lab.png")
    assert not nb.errors, f"browser console errors: {nb.errors}"


def test_quickstart_in_notebook7(browser: Any, notebook7_server: JupyterServer) -> None:
    """The same quick-start checks in Notebook 7 (``/notebooks/...``)."""
    with notebook7_page(browser, notebook7_server, QUICKSTART) as nb:
        assert "/notebooks/" in nb.page.url
        nb.run()
        check_figure(nb)
        badge = check_live_badge(nb)
        check_points_grow(nb)
        check_date_axes(nb)
        check_spread_matches_exchange(nb, badge["url"])
        nb.screenshot(TICKER, "quickstart-notebook7.png")
        check_stop(nb, badge["url"])
        assert not nb.errors, f"browser console errors: {nb.errors}; server: {notebook7_server.warnings()}"
        assert set(nb.load_errors) <= NOTEBOOK7_LOAD_ERRORS, nb.load_errors
