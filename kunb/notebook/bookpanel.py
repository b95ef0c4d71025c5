"""The order-book panel: depth chart and spread over time in one live figure, the top of the book as a table.

The depth chart's two curves (traces ``bids`` / ``asks``, meta ``depth:bid`` / ``depth:ask``, with a
legend: they share the price axis) are replaced when the book changed, ``depth`` levels a side; the
spread over time (trace ``spread``, meta ``spread``) grows by the rows the stream recorded since the
previous redraw. Prices are written to the symbol's tick, sizes to its size increment.
"""

from __future__ import annotations

import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
from plotly.subplots import make_subplots

from .figure import LiveFigure
from .formats import MISSING, Precision, fmt_price, fmt_size
from .htmltable import Cell, Column, table
from .livehtml import LiveHTML
from .panels import TABLE_INTERVAL, Controls
from .status import StatusView, badge_html
from .style import BUY, SELL, base_layout, price_axis, size_axis, time_axis

if TYPE_CHECKING:
    from ..model.book import OrderBook

__all__ = ["BookPanel", "SpreadSeries", "depth_curve"]

_EMPTY_SPAN_MS = 60_000.0

_TOP_COLUMNS = (Column("bid-size", "bid size"), Column("bid", "bid"), Column("ask", "ask"),
                Column("ask-size", "ask size"))  # fmt: skip


def depth_curve(prices: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative size from the best level outwards (the depth chart's y), float64."""
    return prices.astype(np.float64, copy=False), np.cumsum(sizes, dtype=np.float64)


class SpreadSeries:
    """The spread over time as the panel draws it: ``(time_ms, spread)`` since a row count, or all."""

    def __init__(self, time_ms: np.ndarray, spread: np.ndarray, appended: int) -> None:
        self.time_ms = time_ms
        self.spread = spread
        self.appended = appended  #: rows the stream had recorded when this was read


def _top_table(book: OrderBook, rows: int, precision: Precision) -> str:
    bids, asks = book.top(rows)
    ref = bids[0][0] if bids else (asks[0][0] if asks else math.nan)
    body = []
    for i in range(max(len(bids), len(asks))):
        bp, bs = bids[i] if i < len(bids) else (math.nan, math.nan)
        ap, asz = asks[i] if i < len(asks) else (math.nan, math.nan)
        cells = [
            Cell(fmt_size(bs, precision.size), bs),
            Cell(fmt_price(bp, precision.price, ref=ref), bp, f"color:{BUY}"),
            Cell(fmt_price(ap, precision.price, ref=ref), ap, f"color:{SELL}"),
            Cell(fmt_size(asz, precision.size), asz),
        ]
        body.append(({"data-level": str(i)}, cells))
    spread = book.spread
    mid = book.mid
    bps = spread / mid * 1e4 if spread is not None and mid else math.nan
    caption = (
        f'<div class="kunb-book-caption" style="margin:4px 0">{html.escape(book.symbol)} · state '
        f'<span class="kunb-book-state" data-state="{book.state.value}">{book.state.value}</span> · spread '
        f'<span class="kunb-spread" data-spread="{"" if spread is None else repr(spread)}">'
        f"{fmt_price(math.nan if spread is None else spread, precision.price, ref=ref)}</span> "
        f'(<span class="kunb-spread-bps">{MISSING if math.isnan(bps) else f"{bps:,.2f}"}</span> bps)</div>'
    )
    return caption + table("kunb-book-top", _TOP_COLUMNS, body, empty="waiting for the book")


class BookPanel:
    """Badge, controls, the top-of-book table beside the figure (below it in a narrow output)."""

    def __init__(
        self,
        symbol: str,
        *,
        depth: int,
        window: int,
        simulated: bool,
        rows: int = 10,
        precision: Precision | None = None,
    ) -> None:
        self.simulated = simulated
        self.depth = depth
        self.rows = rows
        self.precision = precision or Precision()
        self.controls = Controls([symbol], window=window)
        self.controls.symbols.description = "Symbol"
        self.badge = LiveHTML()
        self.badge.add_class("kunb-badge-widget")
        # never shrink: squeezed by the figure beside it, the table lost its first column
        self.table = LiveHTML(
            min_interval=TABLE_INTERVAL, layout=widgets.Layout(flex="0 0 auto", margin="0 12px 0 0")
        )
        self.table.add_class("kunb-book-widget")
        self.figure = self._build_figure(symbol)
        # wrap: in a narrow output area the figure goes below the table instead of being clipped
        self.row = widgets.HBox([self.table, self.figure], layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([self.badge, self.controls.box, self.row])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-book")
        self.frames = 0  # render calls (badge and table refreshed)
        self.redraws = 0  # of those, the ones that sent new data to the figure
        self._book_drawn: tuple[object, ...] | None = None
        self._table_state: object = None  # the book state the table last showed
        self._spread_drawn: tuple[int, int] | None = None  # (figure, window)
        self._spread_sent = 0
        self._empty = True

    def _build_figure(self, symbol: str) -> LiveFigure:
        label = " · simulated data" if self.simulated else ""
        grid = make_subplots(
            rows=2,
            cols=1,
            row_heights=[0.62, 0.38],
            vertical_spacing=0.14,
            subplot_titles=[f"{symbol} depth, {self.depth} levels a side", f"{symbol} spread"],
        )

        def side(name: str, meta: str, colour: str, fill: str) -> dict[str, Any]:
            return {"type": "scatter", "name": name, "meta": meta, "mode": "lines", "fill": "tozeroy",
                    "line": {"shape": "hv", "width": 1.5, "color": colour}, "fillcolor": fill}  # fmt: skip

        traces: list[dict[str, Any]] = [
            side("bids", "depth:bid", BUY, "rgba(26,127,55,0.15)"),
            side("asks", "depth:ask", SELL, "rgba(180,35,24,0.15)"),
            {"type": "scatter", "mode": "lines", "name": "spread", "meta": "spread", "showlegend": False,
             "line": {"width": 1, "color": "#6639ba"}, "xaxis": "x2", "yaxis": "y2"},
        ]  # fmt: skip
        layout = grid.layout.to_plotly_json()
        layout.update(base_layout(f"kunb live book · {symbol}{label}", height=540, legend=True))
        layout["hovermode"] = "closest"
        now = time.time() * 1000
        layout["xaxis"] |= price_axis(self.precision.price, type="linear")
        layout["yaxis"] |= size_axis(self.precision.size, title="cumulative size")
        layout["xaxis2"] |= time_axis(range=[now - _EMPTY_SPAN_MS, now])
        layout["yaxis2"] |= price_axis(self.precision.price, title="spread")
        figure = LiveFigure(traces, layout)
        figure.layout = widgets.Layout(flex="1 1 480px", min_width="360px")
        return figure

    def set_symbol(self, symbol: str, precision: Precision | None = None) -> None:
        """Show another symbol: a new figure (its title and axes belong to the symbol)."""
        self.precision = precision or Precision()
        old, self.figure = self.figure, self._build_figure(symbol)
        self.row.children = (self.table, self.figure)
        self._empty = True
        old.close()  # out of the layout: close its comm so the kernel does not keep it alive

    def set_precision(self, precision: Precision) -> None:
        """Write prices and sizes with ``precision`` from now on (the symbol's increments became known):
        the table at the next redraw, the axes at once, in the same figure."""
        if precision == self.precision:
            return
        self.precision = precision
        price, size = price_axis(precision.price), size_axis(precision.size)
        update: dict[str, Any] = {}
        for key, axis in (("xaxis", price), ("yaxis", size), ("yaxis2", price)):
            update[f"{key}.tickformat"] = update[f"{key}.hoverformat"] = axis["tickformat"]
        self.figure.relayout(update)

    def render(
        self, book: OrderBook, spread: SpreadSeries, status: StatusView, *, window: int, since: int | None
    ) -> None:
        """Show ``book`` and the spread rows (all of the window when ``since`` is None, else those after
        row ``since``): one figure message, sent only when something changed."""
        self.badge.value = badge_html(status)
        # the caption says the book's state (syncing, live...): a change goes at once, like the badge
        state_changed = book.state != self._table_state
        self._table_state = book.state
        self.table.show(_top_table(book, self.rows, self.precision), urgent=state_changed)
        self.frames += 1
        book_key = (id(self.figure), id(book), book.last_sequence, book.state)
        changed_book = book_key != self._book_drawn
        changed_spread = len(spread.time_ms) > 0 or since is None
        if not changed_book and not changed_spread:
            return  # a heartbeat frame: nothing new, nothing goes to the browser
        with self.figure.batch():
            if changed_book:
                bid_x, bid_y = depth_curve(*book.arrays("bid", self.depth))
                ask_x, ask_y = depth_curve(*book.arrays("ask", self.depth))
                self.figure.replace(0, {"x": bid_x, "y": bid_y})
                self.figure.replace(1, {"x": ask_x, "y": ask_y})
            if since is None:
                self.figure.replace(2, {"x": spread.time_ms, "y": spread.spread})
            elif len(spread.time_ms):
                self.figure.extend(2, {"x": spread.time_ms, "y": spread.spread}, max_points=window)
            if self._empty and len(spread.time_ms):
                self.figure.relayout({"xaxis2.autorange": True})
                self._empty = False
        self._book_drawn = book_key
        self._spread_sent = spread.appended
        self.redraws += 1

    def spread_since(self, window: int) -> int | None:
        """The row count after which the figure needs spread rows (``None``: draw the whole window, as
        for a new figure or window)."""
        key = (id(self.figure), window)
        if key != self._spread_drawn:
            self._spread_drawn = key
            return None
        return self._spread_sent
