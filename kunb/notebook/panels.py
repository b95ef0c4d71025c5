"""ipywidgets + plotly FigureWidget panels: each renders only the data it is given, in one batched update."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .model import Quote, TickerView
from .status import StatusView, badge_html

__all__ = ["WINDOW_CHOICES", "Controls", "TickerPanel", "date_template", "fmt_num"]

WINDOW_CHOICES = (500, 2000, 5000, 20000)
_CELL = "padding:2px 12px;text-align:right"


def date_template(**axis_types: str) -> go.layout.Template:
    """A template whose x axes are dates, except those named in ``axis_types`` (``xaxis="linear"``).

    jupyter.md#date-axis: when trace data is replaced after display, plotly.js re-guesses the type of
    the axes and ignores a type set in ``layout.xaxis``; an epoch-ms date axis turns ``linear`` and a
    price axis turns ``date`` (seen in Chromium). A type set in the *template* survives. plotly.js reads
    a numbered axis from the template's own key (``xaxis2``) before falling back to ``xaxis``.
    """
    layout: dict[str, object] = {"xaxis": {"type": "date"}, "margin": {"l": 60, "r": 20, "t": 40, "b": 30}}
    for axis, kind in axis_types.items():
        layout[axis] = {"type": kind}
    if axis_types.get("xaxis", "date") != "date":
        # the base key now says something else: give every other numbered axis its date type explicitly
        layout.update({f"xaxis{i}": {"type": "date"} for i in range(2, 9) if f"xaxis{i}" not in axis_types})
    return go.layout.Template(layout=layout)


def fmt_num(x: float | None, ref: float | None = None, decimals: int | None = None) -> str:
    """A price-like number with ``decimals`` (the symbol's increment's), else as many decimals as its
    magnitude (or ``ref``'s) needs; ``–`` for unknown."""
    if x is None or math.isnan(x):
        return "–"
    if decimals is None:
        scale = abs(ref if ref is not None and not math.isnan(ref) else x)
        decimals = 2 if scale >= 1000 else 4 if scale >= 1 else 8
    return f"{x:,.{decimals}f}"


def _colour(i: int) -> str:
    """The i-th colour of plotly's default palette: a symbol keeps its colour in every subplot."""
    palette: list[str] = pc.qualitative.Plotly
    return palette[i % len(palette)]


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:+.2%}"


def _vol(x: float, decimals: int | None = None) -> str:
    return "–" if math.isnan(x) else f"{x:,.{2 if decimals is None else decimals}f}"


class Controls:
    """Start/stop, symbol picker and window length; callbacks are set by the live object."""

    def __init__(self, symbols: Sequence[str], *, window: int, with_window: bool = True) -> None:
        self.toggle = widgets.ToggleButton(value=True, description="Stop", icon="stop", tooltip="stop/start")
        self.toggle.add_class("kunb-toggle")
        self.symbols = widgets.Text(
            value=", ".join(symbols),
            description="Symbols",
            continuous_update=False,
            layout=widgets.Layout(width="320px"),
        )
        self.symbols.add_class("kunb-symbols")
        options = sorted({*WINDOW_CHOICES, window})
        self.window = widgets.Dropdown(
            options=[(f"{n:,} points", n) for n in options],
            value=window,
            description="Window",
            layout=widgets.Layout(width="200px"),
        )
        self.window.add_class("kunb-window")
        children: list[widgets.Widget] = [self.toggle, self.symbols]
        if with_window:
            children.append(self.window)
        self.box = widgets.HBox(children)
        self.box.add_class("kunb-controls")
        self.toggle.observe(self._relabel, names="value")

    def _relabel(self, change: dict[str, Any]) -> None:
        running = bool(change["new"])
        self.toggle.description = "Stop" if running else "Start"
        self.toggle.icon = "stop" if running else "play"

    def on_toggle(self, callback: Callable[[bool], None]) -> None:
        self.toggle.observe(lambda ch: callback(bool(ch["new"])), names="value")

    def on_symbols(self, callback: Callable[[list[str]], None]) -> None:
        def parse(change: dict[str, Any]) -> None:
            text = str(change["new"]).replace(";", ",")
            symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
            if symbols:
                callback(symbols)

        self.symbols.observe(parse, names="value")

    def on_window(self, callback: Callable[[int], None]) -> None:
        self.window.observe(lambda ch: callback(int(ch["new"])), names="value")


def _quotes_table(quotes: Sequence[Quote], rates: dict[str, float] | None = None) -> str:
    head = "".join(
        f'<th style="{_CELL}">{h}</th>'
        for h in ("symbol", "last", "bid", "ask", "spread", "spread bps", "24h change", "24h volume")
    )
    rows = []
    for q in quotes:
        # the symbol's increments when known (prices to the tick, volumes to the size step)
        dp, ds = (q.info.price_decimals, q.info.size_decimals) if q.info is not None else (None, None)
        cells = [
            ("kunb-last", fmt_num(q.price, decimals=dp), q.price),
            ("kunb-bid", fmt_num(q.bid, decimals=dp), q.bid),
            ("kunb-ask", fmt_num(q.ask, decimals=dp), q.ask),
            ("kunb-spread", fmt_num(q.spread, q.bid, dp), q.spread),
            ("kunb-spread-bps", "–" if math.isnan(q.spread_bps) else f"{q.spread_bps:.2f}", q.spread_bps),
            ("kunb-change", _pct(q.change_rate), q.change_rate),
            ("kunb-volume", _vol(q.volume, ds), q.volume),
        ]
        # data-value: the unformatted number, for scripts and browser tests reading the page
        tds = f'<td class="kunb-symbol" style="{_CELL}">{html.escape(q.symbol)}</td>' + "".join(
            f'<td class="{c}" data-value="{"" if math.isnan(x) else repr(x)}" style="{_CELL}">{v}</td>'
            for c, v, x in cells
        )
        rows.append(f'<tr data-symbol="{html.escape(q.symbol)}">{tds}</tr>')
    return (
        '<table class="kunb-quotes" style="font-variant-numeric:tabular-nums;border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


class TickerPanel:
    """Last price per symbol over the window, spread in bps, a quotes table and the status badge.

    One FigureWidget: a row per symbol (traces named ``"<SYMBOL>"``, meta ``price:<SYMBOL>``) and a last
    row with the spread in bps (traces named ``"<SYMBOL> spread bps"``, meta ``spread:<SYMBOL>``), so
    each frame is exactly one ``batch_update``.
    """

    def __init__(self, symbols: Sequence[str], *, window: int, simulated: bool) -> None:
        self.simulated = simulated
        self.controls = Controls(symbols, window=window)
        self.badge = widgets.HTML()
        self.badge.add_class("kunb-badge-widget")
        self.table = widgets.HTML()
        self.table.add_class("kunb-quotes-widget")
        self.symbols: list[str] = []
        self.figure = self._build_figure(symbols)
        self.widget = widgets.VBox([self.badge, self.controls.box, self.table, self.figure])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-ticker")
        self.frames = 0  # render calls (badge and table refreshed)
        self.redraws = 0  # of those, the ones that sent new trace data
        self._drawn: tuple[int, int, int] | None = None

    def _build_figure(self, symbols: Sequence[str]) -> go.FigureWidget:
        self.symbols = list(symbols)
        n = len(self.symbols)
        label = " (simulated)" if self.simulated else ""
        titles = [f"{s} last price{label}" for s in self.symbols] + [f"spread, bps{label}"]
        fig = make_subplots(
            rows=n + 1, cols=1, shared_xaxes=True, vertical_spacing=0.06, subplot_titles=titles
        )
        empty = np.empty(0)
        for i, s in enumerate(self.symbols, start=1):
            line = {"color": _colour(i - 1), "width": 1.5}
            trace = go.Scatter(x=empty, y=empty, mode="lines", name=s, meta=f"price:{s}", line=line)
            fig.add_trace(trace, row=i, col=1)
        for i, s in enumerate(self.symbols):
            line = {"color": _colour(i), "width": 1}
            trace = go.Scatter(
                x=empty, y=empty, mode="lines", name=f"{s} spread bps", meta=f"spread:{s}", line=line
            )
            fig.add_trace(trace, row=n + 1, col=1)
        fig.update_layout(
            template=date_template(),
            margin={"t": 80},  # room for the title above the first subplot's own title
            height=170 * (n + 1) + 90,
            title={"text": f"kunb live ticker{' · simulated data' if self.simulated else ''}"},
            showlegend=False,
            uirevision="kunb",  # keep the user's zoom across redraws
        )
        widget = go.FigureWidget(fig)
        return widget

    def set_symbols(self, symbols: Sequence[str]) -> None:
        """Rebuild the figure for a new symbol list (the picker changed)."""
        old, self.figure = self.figure, self._build_figure(symbols)
        self.widget.children = (*self.widget.children[:-1], self.figure)
        old.close()  # out of the layout: close its comm so the kernel does not keep it alive

    def render(self, model: TickerView, status: StatusView) -> None:
        """Show ``model`` and ``status``: one ``batch_update`` on the figure, two HTML assignments."""
        self.badge.value = badge_html(status)
        self.table.value = _quotes_table([model.quote(s) for s in self.symbols if s in model.symbols])
        self.frames += 1
        drawn = (id(self.figure), id(model), model.version)
        if drawn == self._drawn:
            return  # a heartbeat frame: nothing new, so no arrays go to the browser
        n = len(self.symbols)
        with self.figure.batch_update():
            for i, s in enumerate(self.symbols):
                if s not in model.symbols:
                    continue
                t, price, spread_bps = model.series(s)
                # float64 arrays travel as binary buffers
                # (jupyter.md#throttled-redraws); copy because the ring
                # keeps writing into its storage after this frame is sent
                self.figure.data[i].x = t.copy()
                self.figure.data[i].y = price.copy()
                self.figure.data[n + i].x = t.copy()
                self.figure.data[n + i].y = spread_bps.copy()
        self._drawn = drawn
        self.redraws += 1
