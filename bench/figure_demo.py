"""A ticker-like panel fed by synthetic data, drawn with plotly's FigureWidget or kunb's LiveFigure.

Imported inside the kernel by ``bench/notebook_browser.py`` (and the browser test), so both renderers get
exactly the same figure: a price row per symbol and a spread row (``2 * symbols`` traces, shared date
x axis, :func:`date_template`), a full window from the start, and a feed task that adds
``ticks_hz`` points per symbol per second and redraws ``redraw_hz`` times a second, the way kunb's
throttled panels do. FigureWidget redraws by assigning whole arrays in one ``batch_update`` (today's
panels); LiveFigure sends the new points with ``extend(..., max_points=window)`` in one ``batch``.

Each panel sits in an ``ipywidgets.Tab`` whose second tab is a placeholder, so ``hide()`` / ``show()``
switch the figure out of and into view the way a dashboard's tabs do.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kunb.notebook.figure import DEFAULT_DRAW_BUDGET, LiveFigure

__all__ = ["KINDS", "DemoPanel"]

KINDS = ("figurewidget", "livefigure")


def date_template() -> go.layout.Template:
    """A template whose x axes are dates: the FigureWidget baseline needs it (jupyter-notes.md 0.5: when
    trace data is replaced after display, plotly.js re-guesses axis types and ignores a type set in
    ``layout.xaxis``; a type set in the template survives). LiveFigure hands its layout over on every
    draw and needs no such trick; both kinds get the same template here so they draw the same figure."""
    return go.layout.Template(
        layout={"xaxis": {"type": "date"}, "margin": {"l": 60, "r": 20, "t": 40, "b": 30}}
    )


class _Series:
    """Per trace, the newest ``window`` points as float64 (epoch ms, value): a random walk."""

    def __init__(self, traces: int, window: int, ticks_hz: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.window = window
        self.step_ms = 1000.0 / ticks_hz
        now = time.time() * 1000.0
        self.t = now - self.step_ms * np.arange(window, 0, -1, dtype=np.float64)
        self.y = [100.0 + np.cumsum(self.rng.standard_normal(window)) for _ in range(traces)]
        self.last_t = float(self.t[-1])

    def advance(self, now_ms: float) -> tuple[np.ndarray, list[np.ndarray]]:
        """The points due since the last call (at ``ticks_hz``), appended to the window; returns them."""
        n = int((now_ms - self.last_t) // self.step_ms)
        if n <= 0:
            return np.empty(0), [np.empty(0) for _ in self.y]
        t_new = self.last_t + self.step_ms * np.arange(1, n + 1, dtype=np.float64)
        self.last_t = float(t_new[-1])
        y_new = [y[-1] + np.cumsum(self.rng.standard_normal(n)) for y in self.y]
        self.t = np.concatenate((self.t, t_new))[-self.window :]
        self.y = [np.concatenate((y, add))[-self.window :] for y, add in zip(self.y, y_new, strict=True)]
        return t_new, y_new


def _layout(symbols: int, title: str) -> go.Figure:
    fig = make_subplots(rows=symbols + 1, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for i in range(symbols):
        fig.add_trace(go.Scatter(mode="lines", name=f"SYM{i}", meta=f"price:SYM{i}"), row=i + 1, col=1)
    for i in range(symbols):
        trace = go.Scatter(mode="lines", name=f"SYM{i} spread", meta=f"spread:SYM{i}")
        fig.add_trace(trace, row=symbols + 1, col=1)
    # plotly.js hides tick labels that overflow the figure by measuring each one after every redraw;
    # with these margins none overflows, and skipping the check makes a redraw cheaper (both renderers)
    template = date_template()
    for axis in ("xaxis", "yaxis"):
        template.layout[axis].ticklabeloverflow = "allow"
    fig.update_layout(
        template=template, height=170 * (symbols + 1) + 90, title={"text": title}, showlegend=False
    )
    return fig


class DemoPanel:
    """One ticker-like figure of ``kind`` (``"figurewidget"`` or ``"livefigure"``) in a two-tab ``Tab``."""

    def __init__(
        self,
        kind: str,
        *,
        symbols: int = 2,
        window: int = 2000,
        ticks_hz: float = 10.0,
        redraw_hz: float = 5.0,
        seed: int = 1,
        draw_budget: float | None = DEFAULT_DRAW_BUDGET,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.window = window
        self.redraw_hz = redraw_hz
        self.series = _Series(2 * symbols, window, ticks_hz, seed)
        spec = _layout(symbols, f"{kind} demo")
        if kind == "figurewidget":
            self.figure: Any = go.FigureWidget(spec)
            with self.figure.batch_update():
                for i, trace in enumerate(self.figure.data):
                    trace.x, trace.y = self.series.t.copy(), self.series.y[i].copy()
        else:
            traces = [
                {**t.to_plotly_json(), "x": self.series.t, "y": self.series.y[i]}
                for i, t in enumerate(spec.data)
            ]
            self.figure = LiveFigure(traces, spec.layout, draw_budget=draw_budget)
        self.widget = widgets.Tab(children=[self.figure, widgets.HTML("the figure is on the other tab")])
        self.widget.titles = ("chart", "elsewhere")
        self.widget.add_class(f"kunb-demo-{kind}")
        self.redraws = 0
        self._task: asyncio.Task[None] | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def redraw(self) -> None:
        """Add the points due by now and send them, the way each renderer does it."""
        t_new, y_new = self.series.advance(time.time() * 1000.0)
        if not len(t_new):
            return
        if self.kind == "figurewidget":
            with self.figure.batch_update():
                for i, trace in enumerate(self.figure.data):
                    trace.x, trace.y = self.series.t.copy(), self.series.y[i].copy()
        else:
            with self.figure.batch():
                for i, y in enumerate(y_new):
                    self.figure.extend(i, {"x": t_new, "y": y}, max_points=self.window)
        self.redraws += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(1.0 / self.redraw_hz)
            self.redraw()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def hide(self) -> None:
        self.widget.selected_index = 1

    def show(self) -> None:
        self.widget.selected_index = 0
