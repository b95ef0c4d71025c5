"""The ticker panel: last price per symbol and the spread in bps over the window, a quotes table, the badge.

One :class:`~kunb.notebook.figure.LiveFigure`: a row per symbol (traces named ``"<SYMBOL>"``, meta
``price:<SYMBOL>``) and a last row with every symbol's spread in bps (``"<SYMBOL> spread bps"``, meta
``spread:<SYMBOL>``, with a legend: they share the axis). A redraw sends only the ticks recorded since the
previous one (``extend``, one message); the whole window goes again only when the window or the symbols
change, or the ticks outran the stream's ring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from plotly.subplots import make_subplots

from .figure import LiveFigure
from .formats import MISSING, Precision, fmt_pct, fmt_price, fmt_size, fmt_time
from .htmltable import Cell, Column, table
from .livehtml import LiveHTML
from .model import Quote, TickerView
from .panels import TABLE_INTERVAL, Controls
from .status import StatusView, badge_html
from .style import BUY, SELL, base_layout, colour, price_axis, time_axis, value_axis

__all__ = ["TickerPanel", "quotes_table"]

_EMPTY_SPAN_MS = 60_000.0  # the time axis before the first tick: the last minute, not January 2000

_QUOTE_COLUMNS = (
    Column("symbol", "symbol", numeric=False),
    Column("last", "last"),
    Column("bid", "bid"),
    Column("ask", "ask"),
    Column("spread", "spread"),
    Column("spread-bps", "spread bps"),
    Column("change", "24h change"),
    Column("volume", "24h volume"),
    Column("time", "last tick", numeric=False),
)


def quotes_table(quotes: Sequence[Quote], precision: Callable[[str], Precision]) -> str:
    """``table.kunb-quotes``: a row per symbol (``tr[data-symbol]``), prices to the symbol's tick."""
    rows = []
    for q in quotes:
        p = precision(q.symbol)
        change = q.change_rate
        colour_css = "" if math.isnan(change) or change == 0 else f"color:{BUY if change > 0 else SELL}"
        cells = [
            Cell(q.symbol),
            Cell(fmt_price(q.price, p.price), q.price),
            Cell(fmt_price(q.bid, p.price), q.bid),
            Cell(fmt_price(q.ask, p.price), q.ask),
            Cell(fmt_price(q.spread, p.price, ref=q.bid), q.spread),
            Cell(MISSING if math.isnan(q.spread_bps) else f"{q.spread_bps:,.2f}", q.spread_bps),
            Cell(fmt_pct(change), change, colour_css),
            Cell(fmt_size(q.volume, 2 if p.size is None else min(p.size, 4)), q.volume),
            Cell(MISSING if math.isnan(q.time_ms) else fmt_time(q.time_ms * 1e6), q.time_ms),
        ]
        rows.append(({"data-symbol": q.symbol}, cells))
    return table("kunb-quotes", _QUOTE_COLUMNS, rows, empty="waiting for the first tick")


class TickerPanel:
    """Badge, controls, quotes table and the figure; :meth:`render` shows a :class:`TickerView`.

    Args:
        symbols: the symbols drawn (a row each).
        window: points per symbol kept in the figure.
        simulated: label the data simulated.
        precision: ``symbol -> Precision`` (decimals of its prices and sizes), asked at each redraw.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        window: int,
        simulated: bool,
        precision: Callable[[str], Precision] = lambda _symbol: Precision(),
    ) -> None:
        self.simulated = simulated
        self.precision = precision
        self.controls = Controls(symbols, window=window)
        self.badge = LiveHTML()
        self.badge.add_class("kunb-badge-widget")
        self.table = LiveHTML(min_interval=TABLE_INTERVAL)
        self.table.add_class("kunb-quotes-widget")
        self.symbols: list[str] = []
        self.figure = self._build_figure(symbols)
        self.widget = widgets.VBox([self.badge, self.controls.box, self.table, self.figure])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-ticker")
        self.frames = 0  # render calls (badge and table refreshed)
        self.redraws = 0  # of those, the ones that sent new points to the figure
        self._drawn: tuple[int, int, int] | None = None  # (figure, model, window) the figure shows
        self._sent = 0  # the model's tick count when the figure last got points
        self._empty = True  # the time axes still show the placeholder range
        self._shown_ticks = False  # whether the table sent so far had ticks

    def _build_figure(self, symbols: Sequence[str]) -> LiveFigure:
        self.symbols = list(symbols)
        n = len(self.symbols)
        label = " · simulated data" if self.simulated else ""
        # the spread row has no title of its own: its legend names its series, where a title would be
        titles = [f"{s} last price" for s in self.symbols] + [""]
        grid = make_subplots(
            rows=n + 1, cols=1, shared_xaxes=True, vertical_spacing=0.25 / (n + 1), subplot_titles=titles
        )
        traces: list[dict[str, Any]] = []
        for i, s in enumerate(self.symbols):
            line = {"color": colour(i), "width": 1.5}
            traces.append(
                {"type": "scatter", "mode": "lines", "name": s, "meta": f"price:{s}", "line": line,
                 "showlegend": False, "xaxis": _axis_ref("x", i), "yaxis": _axis_ref("y", i)}
            )  # fmt: skip
        for i, s in enumerate(self.symbols):
            traces.append(
                {"type": "scatter", "mode": "lines", "name": f"{s} spread bps", "meta": f"spread:{s}",
                 "line": {"color": colour(i), "width": 1}, "legendgroup": s,
                 "xaxis": _axis_ref("x", n), "yaxis": _axis_ref("y", n)}
            )  # fmt: skip
        layout = grid.layout.to_plotly_json()
        layout.update(base_layout(f"kunb live ticker{label}", height=150 * (n + 1) + 110, legend=True))
        now = time.time() * 1000
        for i, s in enumerate(self.symbols):
            layout[_axis_key("y", i)] |= price_axis(self.precision(s).price)
        layout[_axis_key("y", n)] |= value_axis(2, title="spread, bps")
        # the legend names the spread row's series: at that row's top right, under the page's own title
        top = layout[_axis_key("y", n)]["domain"][1]
        layout["legend"] = {**layout["legend"], "y": top, "yanchor": "bottom"}
        for i in range(n + 1):
            layout[_axis_key("x", i)] |= time_axis(title=i == n, range=[now - _EMPTY_SPAN_MS, now])
        figure = LiveFigure(traces, layout)
        figure.layout.width = "100%"
        return figure

    def refresh_precision(self) -> None:
        """Write prices to each symbol's tick from now on (once the symbols were looked up)."""
        update = {}
        for i, s in enumerate(self.symbols):
            axis = price_axis(self.precision(s).price)
            key = _axis_key("y", i)
            if self.figure.plotly_layout.get(key, {}).get("tickformat") != axis["tickformat"]:
                update[f"{key}.tickformat"] = update[f"{key}.hoverformat"] = axis["tickformat"]
        if update:
            self.figure.relayout(update)

    def set_symbols(self, symbols: Sequence[str]) -> None:
        """Rebuild the figure for a new symbol list (the picker changed, or a symbol was refused)."""
        old, self.figure = self.figure, self._build_figure(symbols)
        self.widget.children = (*self.widget.children[:-1], self.figure)
        self._empty = True
        old.close()  # out of the layout: close its comm so the kernel does not keep it alive

    def render(self, model: TickerView, status: StatusView) -> None:
        """Show ``model`` and ``status``: the badge, the table and one figure message with the new points."""
        self.badge.value = badge_html(status)
        # the first ticks go at once (the 2 Hz refresh is for a table that is already there)
        first = model.messages > 0 and not self._shown_ticks
        self._shown_ticks = self._shown_ticks or model.messages > 0
        self.table.show(
            quotes_table([model.quote(s) for s in self.symbols if s in model.symbols], self.precision),
            urgent=first,
        )
        self.frames += 1
        drawn = (id(self.figure), id(model), model.window)
        if drawn != self._drawn:
            self._draw_all(model)
            self._drawn = drawn
            return
        if model.messages == self._sent:
            return  # a heartbeat frame: nothing new, nothing goes to the browser
        new = model.series_since(self._sent)
        if new is None:  # the ticks outran the ring since the last redraw: draw the window again
            self._draw_all(model)
            return
        n = len(self.symbols)
        with self.figure.batch():
            for i, s in enumerate(self.symbols):
                points = new.get(s)
                if points is None:
                    continue
                t, price, bps = points
                self.figure.extend(i, {"x": t, "y": price}, max_points=model.window)
                self.figure.extend(n + i, {"x": t, "y": bps}, max_points=model.window)
            self._autorange()
        self._sent = model.messages
        self.redraws += 1

    def _draw_all(self, model: TickerView) -> None:
        n = len(self.symbols)
        with self.figure.batch():
            for i, s in enumerate(self.symbols):
                t, price, bps = model.series(s) if s in model.symbols else (_empty(), _empty(), _empty())
                self.figure.replace(i, {"x": t, "y": price})
                self.figure.replace(n + i, {"x": t, "y": bps})
            if model.messages:
                self._autorange()
        self._sent = model.messages
        self.redraws += 1

    def _autorange(self) -> None:
        """Once there are points, the time axes follow them (before, they show the last minute)."""
        if self._empty:
            self.figure.relayout(
                {f"{_axis_key('x', i)}.autorange": True for i in range(len(self.symbols) + 1)}
            )
            self._empty = False


def _empty() -> np.ndarray:
    return np.empty(0)


def _axis_ref(letter: str, row: int) -> str:
    """``x``, ``x2``...: the trace's reference to the axis of subplot ``row`` (0-based)."""
    return letter if row == 0 else f"{letter}{row + 1}"


def _axis_key(letter: str, row: int) -> str:
    """``xaxis``, ``xaxis2``...: the layout key of the axis of subplot ``row`` (0-based)."""
    return f"{letter}axis" if row == 0 else f"{letter}axis{row + 1}"
