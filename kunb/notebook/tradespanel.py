"""The trades tape: the latest public trades, newest first, coloured by the taker's side.

``table.kunb-trades`` has a row per trade (``tr[data-trade-id][data-side][data-symbol]``): time with date
and zone, symbol, side, price (to the symbol's tick), size (readable, with a bar for its size relative to
the largest trade shown) and value in the quote currency. Above it, per symbol, the buy and sell volume
of the trades shown.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .formats import Precision, fmt_amount, fmt_price, fmt_size, fmt_time
from .htmltable import Cell, Column, table
from .livehtml import LiveHTML
from .panels import TABLE_INTERVAL, Controls
from .status import StatusView, badge_html
from .style import BUY, SELL

__all__ = ["TapeRow", "TradesPanel", "tape_rows", "tape_table"]

_COLUMNS = (
    Column("time", "time", numeric=False),
    Column("symbol", "symbol", numeric=False),
    Column("side", "side", numeric=False),
    Column("price", "price"),
    Column("size", "size"),
    Column("value", "value"),
)
_BAR = "rgba(9,105,218,0.13)"


class TapeRow(NamedTuple):
    """One trade of the tape."""

    time_ns: int
    symbol: str
    side: str  #: the taker's
    price: float
    size: float
    trade_id: str


def tape_rows(trades: pd.DataFrame) -> list[TapeRow]:
    """The rows of a :class:`~kunb.model.rolling.TradeFrame` DataFrame, newest first."""
    stamps = pd.DatetimeIndex(trades.index).as_unit("ns").asi8.tolist()
    columns = zip(
        stamps,
        trades["symbol"].astype(str).tolist(),
        trades["side"].astype(str).tolist(),
        trades["price"].to_numpy(dtype=np.float64).tolist(),
        trades["size"].to_numpy(dtype=np.float64).tolist(),
        trades["trade_id"].astype(str).tolist(),
        strict=True,
    )
    return [TapeRow(*row) for row in columns][::-1]


def tape_table(rows: Sequence[TapeRow], precision: Callable[[str], Precision]) -> str:
    """``table.kunb-trades``: a row per trade, in the order given (newest first)."""
    biggest = max((r.size for r in rows), default=math.nan)
    out = []
    for r in rows:
        p = precision(r.symbol)
        colour = BUY if r.side == "buy" else SELL
        share = r.size / biggest * 100 if biggest > 0 else 0.0
        bar = f"background:linear-gradient(to left,{_BAR} {share:.1f}%,transparent {share:.1f}%)"
        value = r.price * r.size
        cells = [
            Cell(fmt_time(r.time_ns), r.time_ns),
            Cell(r.symbol),
            Cell(r.side, r.side, f"color:{colour};font-weight:600"),
            Cell(fmt_price(r.price, p.price), r.price, f"color:{colour}"),
            Cell(fmt_size(r.size, p.size), r.size, bar),
            Cell(fmt_amount(value), value),
        ]
        attributes = {"data-trade-id": r.trade_id, "data-side": r.side, "data-symbol": r.symbol}
        out.append((attributes, cells))
    return table("kunb-trades", _COLUMNS, out, empty="waiting for the first trade")


def _summary(rows: Sequence[TapeRow], precision: Callable[[str], Precision]) -> str:
    if not rows:
        return ""
    volume: dict[str, dict[str, float]] = {}
    for r in rows:
        sides = volume.setdefault(r.symbol, {"buy": 0.0, "sell": 0.0})
        sides[r.side] = sides.get(r.side, 0.0) + r.size
    parts = []
    for symbol in sorted(volume):
        p = precision(symbol)
        buys, sells = volume[symbol]["buy"], volume[symbol]["sell"]
        parts.append(
            f'<span class="kunb-trade-summary" data-symbol="{html.escape(symbol)}" data-buy="{buys!r}" '
            f'data-sell="{sells!r}">{html.escape(symbol)}: '
            f'<span style="color:{BUY}">bought {fmt_size(buys, p.size)}</span> · '
            f'<span style="color:{SELL}">sold {fmt_size(sells, p.size)}</span></span>'
        )
    return (
        f'<div style="margin:4px 0;color:#57606a">In the {len(rows)} trades shown (taker side): '
        + " &nbsp; ".join(parts)
        + "</div>"
    )


class TradesPanel:
    """Badge, controls and the tape; :meth:`render` shows the newest ``rows`` trades."""

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        rows: int,
        simulated: bool,
        precision: Callable[[str], Precision] = lambda _symbol: Precision(),
    ) -> None:
        self.rows = rows
        self.precision = precision
        self.controls = Controls(symbols, window=rows, with_window=False)
        self.badge = LiveHTML()
        self.badge.add_class("kunb-badge-widget")
        label = ' · <span class="kunb-simulated">simulated data</span>' if simulated else ""
        self.title = widgets.HTML(f"<b>kunb live trades</b>{label}")
        self.tape = LiveHTML(min_interval=TABLE_INTERVAL)
        self.tape.add_class("kunb-trades-widget")
        self.widget = widgets.VBox([self.title, self.badge, self.controls.box, self.tape])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-trades")
        self.frames = 0
        self._drawn: tuple[Any, ...] | None = None
        self._shown_rows = False  # whether the tape sent so far had trades

    def render(
        self, trades: Callable[[], list[TapeRow]], version: tuple[Any, ...], status: StatusView
    ) -> None:
        """Refresh the badge; the tape only when ``version`` moved (``trades()`` reads the newest rows)."""
        self.badge.value = badge_html(status)
        self.frames += 1
        if version == self._drawn:
            return
        recent = trades()
        # the first trades go at once (the 2 Hz refresh is for a tape that is already there)
        first = bool(recent) and not self._shown_rows
        self._shown_rows = self._shown_rows or bool(recent)
        self.tape.show(_summary(recent, self.precision) + tape_table(recent, self.precision), urgent=first)
        self._drawn = version
