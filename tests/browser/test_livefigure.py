"""LiveFigure in a real page: plotly.js arrives and is evaluated once, updates draw, hidden figures wait.

JupyterLab (and Notebook 7) in headless Chromium with a notebook of three LiveFigures: two visible, one on
a tab that is not selected. Checked in the page: the plotly.js bundle is parsed once however many
figures (Chromium's own script events, not kunb's counters), a FigureWidget added later is parsed again
(the check can see a second bundle), ``extend`` reaches the drawn figure as float64 on a date axis, the
page sends nothing back while streaming, the hidden figure does not draw until its tab is shown and
then draws the current data, and a reloaded page draws the current window after asking for plotly.js
once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from labserver import JupyterServer
from notebookpage import NotebookPage, lab_page, notebook7_page
from pagewatch import REGISTRY_STATS, Watch

__all__: list[str] = []

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "livefigure.ipynb"
WINDOW = 40  # points kept per trace

SETUP = f"""import asyncio, time
import numpy as np
import ipywidgets as w
from kunb.notebook.figure import LiveFigure

def make(name):
    t = time.time() * 1000 - 100.0 * np.arange(10, 0, -1)
    traces = [{{"type": "scatter", "mode": "lines", "name": name, "x": t, "y": np.arange(10.0)}},
              {{"type": "scatter", "mode": "lines", "fill": "tozeroy", "x": t, "y": np.ones(10)}}]
    return LiveFigure(traces, {{"xaxis": {{"type": "date"}}, "height": 200, "title": {{"text": name}}}})

async def stream(figures):
    i = 0
    while True:
        i += 1
        now = time.time() * 1000
        for f in figures:
            with f.batch():
                f.extend(0, {{"x": [now], "y": [float(i)]}}, max_points={WINDOW})
                f.extend(1, {{"x": [now], "y": [1.0]}}, max_points={WINDOW})
        await asyncio.sleep(0.1)
"""
CELLS = [
    SETUP,
    # three figures in view: two shown, the third on the tab that is not selected
    "figs = [make(f'figure {i}') for i in range(3)]\n"
    "tab = w.Tab([w.HTML('the third figure is on the other tab'), figs[2]])\n"
    "w.VBox([figs[0], figs[1], tab])",
    # room to scroll every figure out of view
    'w.HTML(\'<div class="kunb-test-spacer" style="height: 2500px"></div>\')',
]

# ---- page scripts -----------------------------------------------------------------------------------

# every LiveFigure view in document order: VBox (figure 0, figure 1), then the tab's figure 2
_VIEWS = """() => [...document.querySelectorAll('.kunb-live-figure')].map(el => {
  const gd = el.querySelector('.js-plotly-plot');
  const t = gd && gd.data && gd.data[0];
  return {draws: +(el.dataset.draws || 0), plotted: !!gd, visible: el.dataset.visible,
          n: t ? t.y.length : -1, last: t ? t.y[t.y.length - 1] : null,
          kind: t ? Object.prototype.toString.call(t.x) : null,
          xaxis: gd && gd._fullLayout ? gd._fullLayout.xaxis.type : null};
})"""

_SCROLL_TO = "(selector) => document.querySelector(selector).scrollIntoView({block: 'start'})"

# the unselected tab's panel is inside the viewport: only the tab hides the third figure
_TAB_IN_VIEW = """() => {
  const r = document.querySelector('.jupyter-widgets.widget-tab').getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}"""

_STATS = REGISTRY_STATS


def _wait_for(nb: NotebookPage, condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Poll a condition on what Playwright delivered (CDP events) until true, or fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within:g} s: {what}"
        nb.page.wait_for_timeout(100)  # poll interval; Playwright delivers queued events meanwhile


def _views(nb: NotebookPage) -> list[dict[str, Any]]:
    return nb.eval(_VIEWS)


def _wait_views(nb: NotebookPage, condition: str, *, within: float, what: str) -> None:
    script = f"() => {{ const v = ({_VIEWS})(); return v.length === 3 && ({condition}); }}"
    nb.wait(script, within=within, what=what)


def _kernel_last(nb: NotebookPage, figure: int) -> float:
    return float(nb.evaluate(f"float(figs[{figure}].columns(0)['y'][-1])"))


def _write_notebook(server: JupyterServer) -> None:
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS], metadata=meta)
    nbformat.write(nb, server.root / NOTEBOOK)


@pytest.fixture
def lab(browser: Any, jupyter_server: JupyterServer) -> Iterator[NotebookPage]:
    _write_notebook(jupyter_server)
    with lab_page(browser, jupyter_server) as page:
        yield page
    jupyter_server.shutdown_kernels()


def test_bundle_once_updates_drawn_hidden_waits_and_reload_redraws(lab: NotebookPage) -> None:
    nb = lab
    watch = Watch(nb)
    nb.open(NOTEBOOK)
    nb.run()
    nb.eval(_SCROLL_TO, ".kunb-live-figure")
    _wait_views(nb, "v[0].plotted && v[1].plotted", within=30, what="the two visible figures are drawn")
    assert nb.eval(_TAB_IN_VIEW), "the tab holding the hidden figure should be inside the viewport"

    # plotly.js: one bundle message, evaluated once, one large script parsed for three figures
    stats = nb.eval(_STATS)
    assert (stats["bundles"], stats["evaluations"], stats["requests"]) == (1, 1, 0), stats
    assert len(watch.bundles) == 1, watch.bundles
    assert nb.eval("() => typeof window.Plotly") == "undefined"  # the page's global is left alone

    # streaming: visible figures draw the kernel's points, the hidden one does not draw at all
    nb.execute("task = asyncio.get_running_loop().create_task(stream(figs))")
    before = _views(nb)
    sent_before = watch.comm_sent
    _wait_views(
        nb,
        f"v[0].draws >= {before[0]['draws'] + 3} && v[1].draws >= {before[1]['draws'] + 3}"
        f" && v[0].n === {WINDOW}",
        within=30,
        what="visible figures redraw with a full window",
    )
    views = _views(nb)
    assert views[2]["draws"] == 0 and not views[2]["plotted"], views[2]
    assert watch.comm_sent == sent_before, "the page sent comm messages to the kernel while streaming"
    assert views[0]["kind"] == "[object Float64Array]" and views[0]["xaxis"] == "date", views[0]

    # scrolled out of view: no figure draws while the kernel keeps sending
    nb.eval("() => document.querySelector('.kunb-test-spacer').scrollIntoView({block: 'end'})")
    _wait_views(nb, "v.every(x => x.visible === 'false')", within=10, what="every figure is out of view")
    scrolled = _views(nb)
    sent = int(nb.evaluate("figs[0].messages_sent"))
    _wait_for(
        nb,
        lambda: int(nb.evaluate("figs[0].messages_sent")) >= sent + 10,
        within=20,
        what="the kernel sends 10 more updates",
    )
    assert [v["draws"] for v in _views(nb)] == [v["draws"] for v in scrolled], "a figure out of view drew"

    # the hidden tab is shown and scrolled to: it draws once, with the kernel's current window
    nb.execute("task.cancel()")
    last = _kernel_last(nb, 2)
    nb.execute("tab.selected_index = 1")
    nb.eval(_SCROLL_TO, ".kunb-live-figure")
    _wait_views(nb, f"v[2].plotted && v[2].last === {last}", within=20, what="the shown figure is current")
    assert _views(nb)[2]["n"] == WINDOW

    # reload: the saved outputs' views are restored from the kernel; plotly.js is asked for once
    nb.save()
    final = [_kernel_last(nb, i) for i in range(3)]
    nb.page.reload(wait_until="domcontentloaded")
    nb.start()
    nb.open(NOTEBOOK)
    nb.wait("() => !!document.querySelector('.kunb-live-figure')", within=45, what="views restored")
    nb.eval(_SCROLL_TO, ".kunb-live-figure")
    _wait_views(
        nb,
        f"v[0].plotted && v[1].plotted && v[2].plotted && v[0].last === {final[0]} && v[0].n === {WINDOW}",
        within=45,
        what="after a reload every figure draws its current window",
    )
    stats = nb.eval(_STATS)
    assert (stats["requests"], stats["bundles"], stats["evaluations"]) == (1, 1, 1), stats
    assert len(watch.bundles) == 2, watch.bundles  # one per page load
    assert not nb.errors, f"browser console errors: {nb.errors}"

    # negative control: a FigureWidget's model carries its own bundle, and the same check sees the page
    # parse it (anywidget loads a model's module when the model is created, displayed or not)
    nb.execute("import plotly.graph_objects as go\nfw = go.FigureWidget(go.Scatter(y=[1, 2]))")
    _wait_for(nb, lambda: len(watch.bundles) == 3, within=60, what="the FigureWidget's bundle is parsed")
    assert nb.eval(_STATS)["evaluations"] == 1
    nb.close()


def test_livefigure_in_notebook7(browser: Any, notebook7_server: JupyterServer) -> None:
    """Notebook 7 (``/notebooks/...``): the same figures draw, with one plotly.js evaluation."""
    _write_notebook(notebook7_server)
    with notebook7_page(browser, notebook7_server, NOTEBOOK) as nb:
        nb.run()
        nb.execute("tab.selected_index = 1")
        nb.eval(_SCROLL_TO, ".kunb-live-figure")
        _wait_views(nb, "v.every(x => x.plotted)", within=30, what="all three figures drawn in Notebook 7")
        stats = nb.eval(_STATS)
        assert (stats["bundles"], stats["evaluations"], stats["requests"]) == (1, 1, 0), stats
        nb.execute("figs[0].extend(0, {'x': [time.time() * 1000], 'y': [123.0]}, max_points=40)")
        _wait_views(nb, "v[0].last === 123", within=10, what="an extend reaches the drawn figure")
        assert not nb.errors, f"browser console errors: {nb.errors}"
