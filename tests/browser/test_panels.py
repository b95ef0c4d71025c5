"""The new panels and all panels together in JupyterLab (headless Chromium), asserted in the page.

* candles: the history and the live candles are drawn as candlesticks on a date axis, the page holds
  exactly the kernel's candles (the forming one replaced in place, not appended again), and the closed
  candles are the exchange's own;
* account: the portfolio value in the page is the account's worth at the exchange's mid prices, each
  holding has its value, and the equity chart draws;
* every panel at once (ticker, book, candles, trades, account and a dashboard of all of them): plotly.js
  reaches the page and is evaluated once; for 30 s of streaming the kernel reports no error and writes
  nothing to stderr (what JupyterLab's log console shows) and the console stays clean; figures on a tab
  that is not selected never draw, nor are their tables written; after a reload every panel draws again
  with plotly.js asked for once.
Screenshots of each panel go to ``build/screenshots/`` (docs/img takes them from there).
"""

from __future__ import annotations

import ast
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from labserver import JupyterServer
from notebookpage import NotebookPage, lab_page, notebook7_page
from pagewatch import FIND, IOPUB_PROBLEMS, REGISTRY_STATS, Watch, watch_iopub

__all__: list[str] = []

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

QUIET_S = 30.0  # the window: every panel streaming, nothing in the kernel's log

EVERY_PANEL = "every-panel.ipynb"
EVERY_PANEL_CELLS = [
    "import kunb\nimport kunb.sim\n\nsim = kunb.sim.start(history_s=600)",
    "ticker = kunb.live_ticker(['BTC-USDT', 'ETH-USDT'])\nticker",
    "book = kunb.live_book('BTC-USDT', depth=30)\nbook",
    "candles = kunb.live_candles('BTC-USDT')\ncandles",
    "trades = kunb.live_trades(['BTC-USDT', 'ETH-USDT'])\ntrades",
    "account = kunb.live_account()\naccount",
    "dash = kunb.dashboard(['BTC-USDT', 'ETH-USDT'], layout='tabs')\ndash",
]

VIEWS = 2 * 4  # the figures of ticker, book, candles and the account's equity; the dashboard's again

# ---- page scripts -----------------------------------------------------------------------------------

# every LiveFigure view: whether it is laid out (not inside display:none), on screen, how often it drew
_VIEWS = """() => [...document.querySelectorAll('.kunb-live-figure')].map((el, i) => ({
  i, shown: el.offsetParent !== null, visible: el.dataset.visible === 'true', draws: +(el.dataset.draws || 0),
  tab: !!el.closest('.kunb-dash-tabs'),
  panel: (el.closest('.kunb-live') || {className: ''}).className.split(' ').pop(),
  status: (el.querySelector('.kunb-figure-status') || {}).textContent || '',
  size: [Math.round(el.getBoundingClientRect().width), Math.round(el.getBoundingClientRect().height)],
}))"""

# every LiveHTML (the panels' tables and badges): laid out or not, how often the page wrote it
_HTML_VIEWS = """() => [...document.querySelectorAll('.kunb-live-html')].map(el => ({
  shown: el.offsetParent !== null, tab: !!el.closest('.kunb-dash-tabs'), renders: +(el.dataset.renders || 0),
}))"""

_SCROLL_TO_VIEW = (
    """(i) => document.querySelectorAll('.kunb-live-figure')[i].scrollIntoView({block: 'center'})"""
)

# scrolled to again while it is not on screen: outputs above it may still grow (a tape filling up)
_VIEW_DREW = """([i, n]) => {
  const el = document.querySelectorAll('.kunb-live-figure')[i];
  if (el.dataset.visible !== 'true') el.scrollIntoView({block: 'center'});
  return +(el.dataset.draws || 0) > n;
}"""

# the drawn trace with this meta inside the first element matching `panel`: points and the date axis type
_TRACE = """([panel, meta]) => {
  const gd = document.querySelector(panel + ' .js-plotly-plot');
  const t = gd && gd.data && gd.data.find(t => t.meta === meta);
  if (!t) return null;
  const col = k => (t[k] ? Array.from(t[k]) : []);
  return {n: (t.x || []).length, x: col('x'), close: col('close'), y: col('y'), type: t.type,
          kind: Object.prototype.toString.call(t.x), xaxis: gd._fullLayout.xaxis.type};
}"""


def _views(nb: NotebookPage) -> list[dict[str, Any]]:
    return nb.eval(_VIEWS)


def _draw_every_shown_view(nb: NotebookPage) -> None:
    """Scroll to every figure that is laid out and wait for it to draw (figures off screen do not)."""
    for view in _views(nb):
        if view["shown"]:
            nb.eval(_SCROLL_TO_VIEW, view["i"])
            try:
                nb.wait(_VIEW_DREW, [view["i"], 0], within=30, what=f"figure {view['i']} draws on screen")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {_views(nb)[view['i']]}; console: {nb.errors}") from None


def _kernel_float(nb: NotebookPage, expression: str) -> float:
    return float(nb.evaluate(expression))


def _kernel_json(nb: NotebookPage, expression: str) -> Any:
    """``expression`` evaluated in the kernel, through JSON (its repr comes back as a quoted string)."""
    return json.loads(ast.literal_eval(nb.evaluate(f"__import__('json').dumps({expression})")))


@pytest.fixture
def lab(browser: Any, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    with lab_page(browser, jupyter_server) as page:
        yield page
        page.close()
        jupyter_server.shutdown_kernels()
        assert not page.load_errors, f"console errors while JupyterLab loaded: {page.load_errors}"


def test_candles_panel_draws_the_exchanges_candles(lab: NotebookPage) -> None:
    nb = lab
    panel = ".kunb-candles"
    nb.open("04-candles-and-trades.ipynb")
    nb.run(within=180)
    nb.page.locator(f"{panel} .kunb-live-figure").first.scroll_into_view_if_needed()
    nb.wait(
        f"() => {{ const t = ({_TRACE})(['{panel}', 'candles']); return !!t && t.n >= 15; }}",
        within=30,
        what="the candlesticks are drawn with the 20 minutes of history",
    )
    drawn = nb.eval(_TRACE, [panel, "candles"])
    assert drawn["type"] == "candlestick" and drawn["xaxis"] == "date", drawn
    assert drawn["kind"] == "[object Float64Array]", drawn  # binary float64 columns, not JSON
    assert abs(drawn["x"][-1] / 1000 - time.time()) < 180, drawn["x"][-1]  # epoch ms of now
    # the forming candle is replaced in place: after several redraws the page holds exactly the kernel's
    # candles (a page that appended it again would hold more)
    redraws = int(nb.evaluate("candles.panel.redraws"))
    for _ in range(100):
        if int(nb.evaluate("candles.panel.redraws")) >= redraws + 3:
            break
        nb.page.wait_for_timeout(100)  # poll interval while the exchange trades (bounded: 10 s)
    assert int(nb.evaluate("candles.panel.redraws")) >= redraws + 3, "the forming candle was not redrawn"
    kernel_starts = _kernel_json(nb, "candles.panel.figure.columns(0)['x'].tolist()")
    nb.wait(
        f"() => ({_TRACE})(['{panel}', 'candles']).n === {len(kernel_starts)}",
        within=10,
        what="the page holds as many candles as the kernel",
    )
    page_starts = nb.eval(_TRACE, [panel, "candles"])["x"]
    assert page_starts == kernel_starts  # no candle twice, none missing, in order
    # closed candles are the exchange's: compare the page with the REST candles of the same starts
    nb.execute(
        "import httpx\n_q = {'symbol': 'BTC-USDT', 'type': '1min'}\n"
        "_rest = {int(r[0]) * 1000: float(r[2])"
        " for r in httpx.get(URL + '/api/v1/market/candles', params=_q).json()['data'][1:]}"
    )
    rest = {int(k): v for k, v in _kernel_json(nb, "_rest").items()}
    page = nb.eval(_TRACE, [panel, "candles"])
    compared = [(t, c) for t, c in zip(page["x"], page["close"], strict=True) if int(t) in rest]
    assert len(compared) >= 15 and all(rest[int(t)] == c for t, c in compared), compared[:3]
    nb.screenshot(panel, "live-candles.png")
    nb.eval("() => document.querySelector('.kunb-trades').scrollIntoView({block: 'start'})")
    nb.wait(f"() => {{ {FIND} return !!find('.kunb-trades', 'table.kunb-trades tr[data-trade-id]'); }}",
            within=20, what="trades on the tape")  # fmt: skip
    nb.screenshot(".kunb-trades", "live-trades.png")
    assert not nb.errors, f"browser console errors: {nb.errors}"


_REST_VALUE = """
def _rest_value():
    import httpx
    from kunb.client import User
    total = 0.0
    for a in User(url=URL, credentials=creds).get_account_list(account_type="trade"):
        amount, cur = float(a["balance"]), a["currency"]
        if cur == "USDT":
            total += amount
            continue
        l1 = httpx.get(URL + "/api/v1/market/orderbook/level1", params={"symbol": f"{cur}-USDT"}).json()
        l1 = l1.get("data")  # no market (USDC-USDT on the embedded exchange): not valued, as the panel says
        if l1:
            total += amount * (float(l1["bestBid"]) + float(l1["bestAsk"])) / 2
    return total
"""


def test_account_value_in_the_page_is_the_accounts_worth(lab: NotebookPage) -> None:
    nb = lab
    panel = ".kunb-account"
    nb.open("03-account-and-trading.ipynb")
    nb.run(upto=nb.cell_index("kunb.dashboard("), within=120)
    nb.page.locator(f"{panel} .kunb-live-figure").first.scroll_into_view_if_needed()
    nb.wait(
        f"() => {{ {FIND} const v = find('{panel}', 'div.kunb-portfolio-value');"
        " return !!v && +v.dataset.value > 10000; }",
        within=30,
        what="the portfolio value is shown",
    )
    nb.execute(_REST_VALUE)
    page_value = float(
        nb.eval(f"() => {{ {FIND} return find('{panel}', 'div.kunb-portfolio-value').dataset.value; }}")
    )
    rest_value = _kernel_float(nb, "_rest_value()")
    # the same account at the exchange's mid prices, read a moment apart (the market moves a few bps)
    assert page_value == pytest.approx(rest_value, rel=3e-3), (page_value, rest_value)
    assert (
        nb.eval(f"() => document.querySelector('{panel} div.kunb-portfolio-value').dataset.quote") == "USDT"
    )
    btc = nb.eval(
        f"() => {{ {FIND} return +find('{panel}', 'table.kunb-balances tr[data-currency=BTC] td.kunb-value')"
        ".dataset.value; }"
    )
    assert btc > 0 and math.isfinite(btc)
    nb.wait(
        f"() => {{ const t = ({_TRACE})(['{panel}', 'equity']); return !!t && t.n >= 2; }}",
        within=20,
        what="the equity chart draws the value over time",
    )
    nb.wait(
        f"() => {{ {FIND} return !!find('{panel}', 'table.kunb-fills tr[data-trade-id]'); }}",
        within=10,
        what="the market buy's fills are listed",
    )
    nb.screenshot(panel, "live-account.png")
    assert not nb.errors, f"browser console errors: {nb.errors}"


def _write_every_panel(server: JupyterServer) -> None:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    cells = [nbformat.v4.new_code_cell(c) for c in EVERY_PANEL_CELLS]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=meta), server.root / EVERY_PANEL)


def test_every_panel_one_bundle_a_quiet_kernel_log_hidden_tabs_idle_and_reload(
    lab: NotebookPage, jupyter_server: JupyterServer
) -> None:
    nb = lab
    _write_every_panel(jupyter_server)
    watch = Watch(nb)
    nb.open(EVERY_PANEL)
    nb.run(within=180)
    watch_iopub(nb)
    log_before = len(jupyter_server.log.read_text(errors="replace").splitlines())
    started = time.monotonic()
    # the cells have run; their outputs' views may still be on their way (a panel's figure is created as
    # its first data comes): every one of them is in the page before the checks below count them
    nb.wait(
        f"() => document.querySelectorAll('.kunb-live-figure').length >= {VIEWS}",
        within=60,
        what=f"the {VIEWS} figure views in the page",
    )
    _draw_every_shown_view(nb)

    # plotly.js: one bundle for every figure of every panel, evaluated once
    stats = nb.eval(REGISTRY_STATS)
    assert (stats["bundles"], stats["evaluations"], stats["requests"]) == (1, 1, 0), stats
    assert len(watch.bundles) == 1, watch.bundles
    views = _views(nb)
    assert len(views) == VIEWS, views

    # the dashboard's unselected tabs: their figures never draw while the kernel keeps sending
    hidden = [v for v in views if v["tab"] and not v["shown"]]
    assert len(hidden) >= 3 and all(v["draws"] == 0 for v in hidden), hidden
    sent = int(nb.evaluate("dash.book.panel.figure.messages_sent"))

    # 30 s of every panel streaming (scrolling through them so each one draws)
    while time.monotonic() - started < QUIET_S:
        for view in _views(nb):
            if view["shown"]:
                nb.eval(_SCROLL_TO_VIEW, view["i"])
                nb.page.wait_for_timeout(400)  # each figure on screen for a few redraws
    assert nb.eval(IOPUB_PROBLEMS) == [], "the kernel reported errors or wrote to stderr"
    new_log = jupyter_server.log.read_text(errors="replace").splitlines()[log_before:]
    assert not [line for line in new_log if "Traceback" in line or "Error" in line], new_log
    assert not nb.errors, f"browser console errors: {nb.errors}"
    assert int(nb.evaluate("dash.book.panel.figure.messages_sent")) > sent + 10  # the hidden tab got data
    # negative control: an error logged by a background task (as a panel's would be) is seen by the check
    nb.execute(
        "import asyncio, logging\n_log = logging.getLogger('kunb.test')\n"
        "asyncio.get_running_loop().call_later(0.1, _log.error, 'a background error')"
    )
    nb.wait(
        "() => (window.__kunbIopub || []).some(t => t.includes('a background error'))",
        within=10,
        what="the kernel-log check sees an error logged in the background",
    )
    assert [v["draws"] for v in _views(nb) if v["tab"] and not v["shown"]] == [0] * len(hidden)
    # and their tables and badges were written once, when created, however often the kernel sent them;
    # the ones on screen were rewritten as they changed
    tables = nb.eval(_HTML_VIEWS)
    hidden_tables = [t["renders"] for t in tables if t["tab"] and not t["shown"]]
    assert len(hidden_tables) >= 3 and max(hidden_tables) <= 1, tables
    assert max(t["renders"] for t in tables if t["shown"]) > 10, tables

    # screenshots for the docs: the dashboard as tabs, the ticker and the book
    nb.screenshot(".kunb-dashboard", "dashboard-tabs.png")
    nb.screenshot(".kunb-ticker", "live-ticker.png")
    nb.screenshot(".kunb-book", "live-book.png")

    # a reload restores every panel from the kernel: each draws again, plotly.js asked for once
    nb.save()
    nb.page.reload(wait_until="domcontentloaded")
    nb.start()
    nb.open(EVERY_PANEL)
    nb.wait(
        f"() => document.querySelectorAll('.kunb-live-figure').length === {VIEWS}",
        within=60,
        what="views restored",
    )
    _draw_every_shown_view(nb)
    stats = nb.eval(REGISTRY_STATS)
    assert (stats["requests"], stats["bundles"], stats["evaluations"]) == (1, 1, 1), stats
    assert not nb.errors, f"browser console errors after the reload: {nb.errors}"


def test_candles_and_trades_in_notebook7(browser: Any, notebook7_server: JupyterServer) -> None:
    """Notebook 7 (``/notebooks/...``): the candles draw from history and the tape fills."""
    with notebook7_page(browser, notebook7_server, "04-candles-and-trades.ipynb") as nb:
        nb.run(within=180)
        nb.page.locator(".kunb-candles .kunb-live-figure").first.scroll_into_view_if_needed()
        nb.wait(
            "() => { const t = (" + _TRACE + ")(['.kunb-candles', 'candles']); return !!t && t.n >= 15; }",
            within=30,
            what="candlesticks drawn in Notebook 7",
        )
        nb.wait(
            f"() => {{ {FIND} return !!find('.kunb-trades', 'tr[data-trade-id]'); }}",
            within=20,
            what="the tape",
        )
        assert not nb.errors, f"browser console errors: {nb.errors}"
