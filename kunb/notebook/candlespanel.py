"""The candles panel: candlesticks over volume bars in one live figure, the latest candle in a line of text.

Traces: ``candles`` (meta ``candles``, a plotly candlestick: ``open``/``high``/``low``/``close``) and
``volume`` (meta ``volume``, bars coloured by the candle's direction) on a shared date axis. The history
is drawn once; after that a redraw sends the forming candle again (``extend(..., replace_last=1)``)
plus any candle that started since, never the window.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

import ipywidgets as widgets
import numpy as np
from plotly.subplots import make_subplots

from ..klines import KLINE_INTERVALS
from .figure import LiveFigure
from .formats import Precision, fmt_price, fmt_size, fmt_time
from .livehtml import LiveHTML
from .model import CandleView
from .panels import TABLE_INTERVAL, Controls
from .status import StatusView, badge_html
from .style import BUY, SELL, base_layout, price_axis, size_axis, time_axis

__all__ = ["CANDLE_WINDOWS", "CandlesPanel"]

CANDLE_WINDOWS = (100, 300, 1000, 1500)  # candles drawn (1,500: one REST page)
_EMPTY_SPAN_MS = 60 * 60_000.0
_FEW = 10  # candles below which the time axis shows room for this many

# volume bars take the candle's colour: 1 up (close >= open), 0 down, through a two-colour scale
_UP_DOWN = [[0.0, SELL], [0.5, SELL], [0.5, BUY], [1.0, BUY]]


def _direction(cols: dict[str, np.ndarray]) -> np.ndarray:
    return (cols["close"] >= cols["open"]).astype(np.float64)


def _columns(cols: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    candles = {k: cols[k] for k in ("open", "high", "low", "close")} | {"x": cols["time"]}
    volume = {"x": cols["time"], "y": cols["volume"], "marker.color": _direction(cols)}
    return candles, volume


class CandlesPanel:
    """Badge, controls, the latest candle as text, and the figure; :meth:`render` shows a
    :class:`~kunb.notebook.model.CandleView`."""

    def __init__(
        self,
        symbol: str,
        interval: str,
        *,
        window: int,
        simulated: bool,
        precision: Precision | None = None,
    ) -> None:
        self.simulated = simulated
        self.interval = interval
        self.precision = precision or Precision()
        self.controls = Controls([symbol], window=window, choices=CANDLE_WINDOWS, unit="candles")
        self.controls.symbols.description = "Symbol"
        self.badge = LiveHTML()
        self.badge.add_class("kunb-badge-widget")
        self.latest = LiveHTML(min_interval=TABLE_INTERVAL)
        self.latest.add_class("kunb-candle-latest-widget")
        self.figure = self._build_figure(symbol)
        self.widget = widgets.VBox([self.badge, self.controls.box, self.latest, self.figure])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-candles")
        self.frames = 0
        self.redraws = 0
        self._drawn: tuple[int, int, int, int] | None = None  # (figure, view, history version, window)
        self._live_version = -1
        self._live_appended = 0
        self._last_start = -math.inf  # start (ms) of the newest candle the figure has
        self._interval_ms = KLINE_INTERVALS[interval] * 1000.0
        self._fitted_to: float | None = None  # the newest start the time axis was fitted to (few candles)
        self._empty = True

    def _build_figure(self, symbol: str) -> LiveFigure:
        label = " · simulated data" if self.simulated else ""
        grid = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.04
        )
        traces: list[dict[str, Any]] = [
            {"type": "candlestick", "name": "candles", "meta": "candles", "showlegend": False,
             "increasing": {"line": {"color": BUY, "width": 1}, "fillcolor": BUY},
             "decreasing": {"line": {"color": SELL, "width": 1}, "fillcolor": SELL},
             "whiskerwidth": 0},
            {"type": "bar", "name": "volume", "meta": "volume", "showlegend": False, "xaxis": "x2",
             "yaxis": "y2", "opacity": 0.8,
             "marker": {"colorscale": _UP_DOWN, "cmin": 0, "cmax": 1, "line": {"width": 0}}},
        ]  # fmt: skip
        layout = grid.layout.to_plotly_json()
        title = f"kunb live candles · {symbol} · {self.interval}{label}"
        layout.update(base_layout(title, height=520))
        layout["hovermode"] = "x"
        now = time.time() * 1000
        span = [now - _EMPTY_SPAN_MS, now]
        layout["xaxis"] |= time_axis(title=False, range=span, rangeslider={"visible": False})
        layout["xaxis2"] |= time_axis(range=span)
        layout["yaxis"] |= price_axis(self.precision.price, title="price", side="right")
        layout["yaxis2"] |= size_axis(self.precision.size, title="volume", side="right")
        layout["bargap"] = 0.15
        figure = LiveFigure(traces, layout)
        figure.layout.width = "100%"
        return figure

    def set_symbol(self, symbol: str, precision: Precision | None = None) -> None:
        self.precision = precision or Precision()
        old, self.figure = self.figure, self._build_figure(symbol)
        self.widget.children = (*self.widget.children[:-1], self.figure)
        self._empty, self._fitted_to = True, None
        old.close()

    def render(self, view: CandleView, status: StatusView) -> None:
        """Show ``view``: the whole window when it is new (or the history arrived), else the forming
        candle again and the candles started since."""
        self.badge.value = badge_html(status)
        self.frames += 1
        drawn = (id(self.figure), id(view), view.history_version, view.window)
        if drawn != self._drawn:
            self._draw_all(view)
            self._drawn = drawn
        elif view.live.version != self._live_version:
            new = view.since(self._live_appended, self._last_start)
            if new is None:
                self._draw_all(view)
            elif len(new["time"]):
                replace = 1 if new["time"][0] == self._last_start else 0
                candles, volume = _columns(new)
                with self.figure.batch():
                    self.figure.extend(0, candles, max_points=view.window, replace_last=replace)
                    self.figure.extend(1, volume, max_points=view.window, replace_last=replace)
                    self._last_start = float(new["time"][-1])
                    self._fit()
                self.redraws += 1
            self._live_version, self._live_appended = view.live.version, view.live.appended
        self.latest.show(self._latest_html(view))

    def _draw_all(self, view: CandleView) -> None:
        cols = view.columns()
        candles, volume = _columns(cols)
        with self.figure.batch():
            self.figure.replace(0, candles)
            self.figure.replace(1, volume)
            self._last_start = float(cols["time"][-1]) if len(cols["time"]) else -math.inf
            self._fit()
        self._live_version, self._live_appended = view.live.version, view.live.appended
        self.redraws += 1

    def _fit(self) -> None:
        """Few candles: show room for ten, not a close-up of one (plotly's autorange of a single candle
        spans milliseconds); from ten on, the time axis follows the data (and the user's zoom)."""
        count = len(self.figure.columns(0).get("x", ()))
        if not count:
            return
        if count < _FEW:
            if self._fitted_to != self._last_start:
                span = [
                    self._last_start - (_FEW - 0.5) * self._interval_ms,
                    self._last_start + 1.5 * self._interval_ms,
                ]
                self.figure.relayout({"xaxis.range": span, "xaxis2.range": span})
                self._fitted_to = self._last_start
        elif self._empty or self._fitted_to is not None:
            self.figure.relayout({"xaxis.autorange": True, "xaxis2.autorange": True})
            self._empty = False
            self._fitted_to = None

    def _latest_html(self, view: CandleView) -> str:
        """``div.kunb-candle-latest``: the newest candle's numbers (``data-close``...), for readers."""
        live = view.live
        if not len(live):
            return '<div class="kunb-candle-latest" style="color:#57606a">waiting for the first candle</div>'
        last = {
            k: float(v[-1]) for k, v in live.last(1, "time", "open", "high", "low", "close", "volume").items()
        }
        p = self.precision
        parts = [
            f"{html.escape(name)} {fmt_price(last[name], p.price)}"
            for name in ("open", "high", "low", "close")
        ]
        up = last["close"] >= last["open"]
        attrs = " ".join(f'data-{k}="{last[k]!r}"' for k in ("open", "high", "low", "close", "volume"))
        return (
            f'<div class="kunb-candle-latest" {attrs} style="font-variant-numeric:tabular-nums">'
            f'<span style="color:{BUY if up else SELL};font-weight:600">●</span> '
            f"{fmt_time(last['time'] * 1e6, millis=False)} · {' · '.join(parts)} · "
            f"volume {fmt_size(last['volume'], p.size)}</div>"
        )
