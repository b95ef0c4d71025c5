"""The order-book panel: depth chart, top-of-book table and spread over time, in one batched update."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .panels import Controls, date_template, fmt_num
from .status import StatusView, badge_html

if TYPE_CHECKING:
    from ..events import SymbolInfo
    from ..model.book import OrderBook

__all__ = ["BookPanel", "depth_curve"]

_CELL = "padding:2px 10px;text-align:right"


def depth_curve(prices: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative size from the best level outwards (the depth chart's y), float64."""
    return prices.astype(np.float64, copy=False), np.cumsum(sizes, dtype=np.float64)


def _top_table(book: OrderBook, rows: int, info: SymbolInfo | None = None) -> str:
    bids, asks = book.top(rows)
    ref = bids[0][0] if bids else (asks[0][0] if asks else math.nan)
    # the symbol's increments when known: 4.4e-07 BTC reads 0.00000044, not 0.000000
    dp, ds = (info.price_decimals, info.size_decimals) if info is not None else (None, None)
    body = []
    for i in range(max(len(bids), len(asks))):
        bp, bs = bids[i] if i < len(bids) else (math.nan, math.nan)
        ap, asz = asks[i] if i < len(asks) else (math.nan, math.nan)
        body.append(
            f'<tr data-level="{i}"><td class="kunb-bid-size" style="{_CELL}">{_size(bs, ds)}</td>'
            f'<td class="kunb-bid" style="{_CELL};color:#1a7f37">{fmt_num(bp, ref, dp)}</td>'
            f'<td class="kunb-ask" style="{_CELL};color:#b42318">{fmt_num(ap, ref, dp)}</td>'
            f'<td class="kunb-ask-size" style="{_CELL}">{_size(asz, ds)}</td></tr>'
        )
    spread = book.spread
    mid = book.mid
    bps = spread / mid * 1e4 if spread is not None and mid else math.nan
    caption = (
        f'<div class="kunb-book-caption">{html.escape(book.symbol)} · state '
        f'<span class="kunb-book-state" data-state="{book.state.value}">{book.state.value}</span> · spread '
        f'<span class="kunb-spread" data-spread="{"" if spread is None else repr(spread)}">'
        f"{fmt_num(math.nan if spread is None else spread, ref, dp)}</span> "
        f'(<span class="kunb-spread-bps">{"–" if math.isnan(bps) else f"{bps:.2f}"}</span> bps)</div>'
    )
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("bid size", "bid", "ask", "ask size"))
    head = f"<thead><tr>{head}</tr></thead>"
    return (
        f'{caption}<table class="kunb-book-top" style="font-variant-numeric:tabular-nums">'
        f"{head}<tbody>{''.join(body)}</tbody></table>"
    )


def _size(x: float, decimals: int | None = None) -> str:
    return "–" if math.isnan(x) else f"{x:,.{6 if decimals is None else decimals}f}"


class BookPanel:
    """Depth chart (traces ``bids`` / ``asks``, meta ``depth:bid`` / ``depth:ask``) on a price axis and
    the spread over time (trace ``spread``, meta ``spread``) on a date axis, plus the top-of-book table."""

    def __init__(self, symbol: str, *, depth: int, window: int, simulated: bool, rows: int = 10) -> None:
        self.simulated = simulated
        self.depth = depth
        self.rows = rows
        self.controls = Controls([symbol], window=window)
        self.controls.symbols.description = "Symbol"
        self.badge = widgets.HTML()
        self.badge.add_class("kunb-badge-widget")
        # never shrink: squeezed by the figure beside it, the table lost its first column
        self.table = widgets.HTML(layout=widgets.Layout(flex="0 0 auto", margin="0 12px 0 0"))
        self.table.add_class("kunb-book-widget")
        self.figure = self._build_figure(symbol)
        # wrap: in a narrow output area (JupyterLab with its sidebar open) the figure goes below the
        # table instead of being clipped
        row = widgets.HBox([self.table, self.figure], layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([self.badge, self.controls.box, row])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-book")
        self.frames = 0  # render calls (badge and table refreshed)
        self.redraws = 0  # of those, the ones that sent new trace data
        self._drawn: tuple[object, ...] | None = None

    def _build_figure(self, symbol: str) -> go.FigureWidget:
        label = " (simulated)" if self.simulated else ""
        fig = make_subplots(
            rows=2,
            cols=1,
            row_heights=[0.62, 0.38],
            vertical_spacing=0.16,
            subplot_titles=[f"{symbol} depth{label}", f"{symbol} spread{label}"],
        )
        empty = np.empty(0)
        common = {"mode": "lines", "line_shape": "hv", "fill": "tozeroy"}
        for name, meta, colour in (("bids", "depth:bid", "#1a7f37"), ("asks", "depth:ask", "#b42318")):
            trace = go.Scatter(x=empty, y=empty, name=name, meta=meta, line_color=colour, **common)
            fig.add_trace(trace, row=1, col=1)
        fig.add_trace(go.Scatter(x=empty, y=empty, mode="lines", name="spread", meta="spread"), row=2, col=1)
        fig.update_layout(
            # the depth chart's x axis holds prices, the spread's holds times; both types live in the
            # template, the only place a restyle does not re-guess them (jupyter.md#date-axis)
            template=date_template(xaxis="linear"),
            yaxis={"title": "cumulative size"},
            margin={"t": 80},  # room for the title above the first subplot's own title
            height=560,
            width=620,
            showlegend=False,
            title={"text": f"kunb live book · {symbol}{' · simulated data' if self.simulated else ''}"},
            uirevision="kunb",
        )
        return go.FigureWidget(fig)

    def set_symbol(self, symbol: str) -> None:
        old, self.figure = self.figure, self._build_figure(symbol)
        row = self.widget.children[-1]
        row.children = (self.table, self.figure)
        old.close()  # out of the layout: close its comm so the kernel does not keep it alive

    def render(
        self,
        book: OrderBook,
        spread_t: np.ndarray,
        spread: np.ndarray,
        status: StatusView,
        info: SymbolInfo | None = None,
    ) -> None:
        """Show ``book`` (top ``depth`` levels per side) and the spread series: one ``batch_update``; the
        table's numbers on the symbol's increments (``info``) when known."""
        self.badge.value = badge_html(status)
        self.table.value = _top_table(book, self.rows, info)
        self.frames += 1
        last_t = float(spread_t[-1]) if len(spread_t) else None
        drawn = (id(self.figure), id(book), book.last_sequence, book.state, len(spread_t), last_t)
        if drawn == self._drawn:
            return  # a heartbeat frame: nothing new, so no arrays go to the browser
        bid_x, bid_y = depth_curve(*book.arrays("bid", self.depth))
        ask_x, ask_y = depth_curve(*book.arrays("ask", self.depth))
        with self.figure.batch_update():
            bids, asks, spread_trace = self.figure.data
            bids.x, bids.y = bid_x, bid_y
            asks.x, asks.y = ask_x, ask_y
            spread_trace.x, spread_trace.y = spread_t.copy(), spread.copy()
        self._drawn = drawn
        self.redraws += 1
