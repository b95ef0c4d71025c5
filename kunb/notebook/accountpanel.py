"""The account panel: the account's value, holdings with value and share, equity over time, open orders,
recent fills and the order events, as tables with test hooks and one live figure.

Hooks: ``div.kunb-portfolio-value[data-value][data-quote]``; ``table.kunb-balances`` rows
``tr[data-currency]`` (``td.kunb-total``, ``td.kunb-available``, ``td.kunb-hold``, ``td.kunb-price``,
``td.kunb-value``, ``td.kunb-share``); ``table.kunb-open-orders`` rows ``tr[data-order-id]``;
``table.kunb-fills`` rows ``tr[data-trade-id]``; ``table.kunb-orders`` rows ``tr[data-order-id][data-type]``;
the equity figure's trace ``equity`` (meta ``equity``).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import ipywidgets as widgets

from ..model.holdings import Order
from .figure import LiveFigure
from .formats import MISSING, Precision, fmt_amount, fmt_pct, fmt_price, fmt_size, fmt_time
from .htmltable import Cell, Column, caption, table
from .livehtml import LiveHTML
from .panels import Controls
from .portfolio import EquityCurve, Valuation
from .status import StatusView, badge_html
from .style import BUY, SELL, base_layout, time_axis, value_axis

__all__ = ["EQUITY_HEIGHT", "AccountPanel", "OpenOrder"]

_EMPTY_SPAN_MS = 10 * 60_000.0
EQUITY_HEIGHT = 260
_ROWS = 12  # rows of the order and fill tables (the DataFrames keep more)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order not done yet, as the open-orders table shows it."""

    COLUMNS: ClassVar[list[str]] = [
        "order_id",
        "time_ns",
        "symbol",
        "side",
        "type",
        "price",
        "size",
        "filled",
        "remaining",
    ]

    order_id: str
    time_ns: int | None
    symbol: str
    side: str
    order_type: str
    price: float
    size: float
    filled: float
    remaining: float

    @classmethod
    def of(cls, order: Order) -> OpenOrder:
        def num(value: Any) -> float:
            return math.nan if value is None else float(value)

        return cls(
            order_id=order.order_id,
            time_ns=order.order_time_ns or order.updated_ns,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            price=num(order.price),
            size=num(order.size),
            filled=float(order.deal_size),
            remaining=num(order.remain_size),
        )

    def row(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id, "time_ns": self.time_ns, "symbol": self.symbol, "side": self.side,
            "type": self.order_type, "price": self.price, "size": self.size, "filled": self.filled,
            "remaining": self.remaining,
        }  # fmt: skip


def _bar(share: float) -> str:
    """A cell background filled from the right to ``share`` (0..1) of its width."""
    pct = f"{share * 100:.1f}%"
    return f"background:linear-gradient(to left,rgba(9,105,218,0.13) {pct},transparent {pct})"


def _side(side: str) -> str:
    return f"color:{BUY if side == 'buy' else SELL};font-weight:600"


_HOLDING_COLUMNS = (
    Column("currency", "currency", numeric=False),
    Column("total", "total"),
    Column("available", "available"),
    Column("hold", "on hold"),
    Column("price", "price"),
    Column("value", "value"),
    Column("share", "share"),
)


def holdings_table(valuation: Valuation, precision: Callable[[str], Precision]) -> str:
    rows = []
    for h in valuation.holdings:
        p = precision(f"{h.currency}-{valuation.quote}")
        share_bar = "" if math.isnan(h.share) else _bar(h.share)
        cells = [
            Cell(h.currency),
            Cell(fmt_size(h.total, p.size), h.total),
            Cell(fmt_size(h.available, p.size), h.available),
            Cell(fmt_size(h.hold, p.size), h.hold),
            Cell(fmt_price(h.price, p.price if h.currency != valuation.quote else 2), h.price),
            Cell(fmt_amount(h.value), h.value),
            Cell(fmt_pct(h.share, signed=False, decimals=1), h.share, share_bar),
        ]
        rows.append(({"data-currency": h.currency}, cells))
    return table("kunb-balances", _HOLDING_COLUMNS, rows, empty="no balance in the trading account")


_OPEN_COLUMNS = (
    Column("time", "placed", numeric=False),
    Column("symbol", "symbol", numeric=False),
    Column("side", "side", numeric=False),
    Column("type", "type", numeric=False),
    Column("price", "price"),
    Column("size", "size"),
    Column("filled", "filled"),
    Column("remaining", "remaining"),
)


def open_orders_table(orders: Sequence[OpenOrder], precision: Callable[[str], Precision]) -> str:
    rows = []
    for o in orders[:_ROWS]:
        p = precision(o.symbol)
        cells = [
            Cell(fmt_time(o.time_ns, millis=False), o.time_ns),
            Cell(o.symbol),
            Cell(o.side, o.side, _side(o.side)),
            Cell(o.order_type),
            Cell(fmt_price(o.price, p.price), o.price),
            Cell(fmt_size(o.size, p.size), o.size),
            Cell(fmt_size(o.filled, p.size), o.filled),
            Cell(fmt_size(o.remaining, p.size), o.remaining),
        ]
        rows.append(({"data-order-id": o.order_id}, cells))
    return table("kunb-open-orders", _OPEN_COLUMNS, rows, empty="no open order")


_FILL_COLUMNS = (
    Column("time", "time", numeric=False),
    Column("symbol", "symbol", numeric=False),
    Column("side", "side", numeric=False),
    Column("price", "price"),
    Column("size", "size"),
    Column("value", "value"),
    Column("liquidity", "maker/taker", numeric=False),
)


def fills_table(fills: Sequence[Mapping[str, Any]], precision: Callable[[str], Precision]) -> str:
    rows = []
    for f in fills[:_ROWS]:
        p = precision(str(f["symbol"]))
        cells = [
            Cell(str(f["time"]), f["time_ns"]),
            Cell(str(f["symbol"])),
            Cell(str(f["side"]), str(f["side"]), _side(str(f["side"]))),
            Cell(fmt_price(f["price"], p.price), f["price"]),
            Cell(fmt_size(f["size"], p.size), f["size"]),
            Cell(fmt_amount(f["value"]), f["value"]),
            Cell(str(f["liquidity"]) or MISSING),
        ]
        rows.append(({"data-trade-id": str(f["trade_id"]), "data-order-id": str(f["order_id"])}, cells))
    return table("kunb-fills", _FILL_COLUMNS, rows, empty="no fill yet")


_EVENT_COLUMNS = (
    Column("order-time", "time", numeric=False),
    Column("order-symbol", "symbol", numeric=False),
    Column("order-side", "side", numeric=False),
    Column("order-orderType", "order type", numeric=False),
    Column("order-type", "event", numeric=False),
    Column("order-status", "status", numeric=False),
    Column("order-price", "price"),
    Column("order-size", "size"),
    Column("order-filledSize", "filled"),
    Column("order-orderId", "order id", numeric=False),
)


def orders_table(events: Iterable[Mapping[str, Any]], rows: int = _ROWS) -> str:
    """The newest order events (``table.kunb-orders``), newest first."""
    out = []
    for i, e in enumerate(events):
        if i == rows:
            break
        cells = [
            Cell(str(e.get("time", ""))),
            Cell(str(e.get("symbol", ""))),
            Cell(str(e.get("side", "")), None, _side(str(e.get("side", "")))),
            Cell(str(e.get("orderType", ""))),
            Cell(str(e.get("type", ""))),
            Cell(str(e.get("status", ""))),
            Cell(fmt_size(_float(e.get("price"))), _float(e.get("price"))),
            Cell(fmt_size(_float(e.get("size"))), _float(e.get("size"))),
            Cell(fmt_size(_float(e.get("filledSize"))), _float(e.get("filledSize"))),
            Cell(str(e.get("orderId", ""))),
        ]
        attributes = {"data-order-id": str(e.get("orderId", "")), "data-type": str(e.get("type", ""))}
        out.append((attributes, cells))
    return table("kunb-orders", _EVENT_COLUMNS, out, empty="no order event yet")


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def value_html(valuation: Valuation, unpriced: Mapping[str, str]) -> str:
    """``div.kunb-portfolio-value``: the total, and what it leaves out."""
    missing = ""
    if valuation.unpriced:
        why = html.escape(", ".join(f"{c} ({unpriced.get(c, 'price pending')})" for c in valuation.unpriced))
        missing = f'<div class="kunb-unpriced" style="color:#8a4b00">not valued: {why}</div>'
    quote = html.escape(valuation.quote)
    return (
        f'<div class="kunb-portfolio-value" data-value="{valuation.total!r}" data-quote="{quote}" '
        f'style="font-size:20px;font-weight:600;margin:6px 0 2px 0;font-variant-numeric:tabular-nums">'
        f"{fmt_amount(valuation.total)} {html.escape(valuation.quote)}"
        f'<span style="font-size:12px;font-weight:400;color:#57606a"> portfolio value at mid prices, '
        f"{len(valuation.holdings)} assets</span></div>{missing}"
    )


class AccountPanel:
    """Badge, start/stop, the value, holdings beside the equity chart, then open orders, fills and the
    order events (:meth:`render` shows them)."""

    def __init__(
        self,
        *,
        simulated: bool,
        quote: str = "USDT",
        precision: Callable[[str], Precision | None] = lambda _symbol: None,
    ) -> None:
        self.simulated = simulated
        self.quote = quote
        self._precision = precision
        self.controls = Controls([], window=2000, with_window=False)
        self.controls.box.children = (self.controls.toggle,)  # nothing to pick: one account
        self.badge = LiveHTML()
        self.badge.add_class("kunb-badge-widget")
        label = ' · <span class="kunb-simulated">simulated account</span>' if simulated else ""
        self.title = widgets.HTML(f"<b>kunb live account</b>{label}")
        self.value = LiveHTML()
        self.value.add_class("kunb-value-widget")
        self.balances = LiveHTML(layout=widgets.Layout(flex="0 1 auto", margin="0 16px 0 0"))
        self.balances.add_class("kunb-balances-widget")
        self.figure = self._build_figure()
        holdings_row = widgets.HBox([self.balances, self.figure], layout=widgets.Layout(flex_flow="row wrap"))
        self.open_orders = LiveHTML()
        self.fills = LiveHTML()
        self.orders = LiveHTML(layout=widgets.Layout(max_width="100%"))
        self.orders.add_class("kunb-orders-widget")
        parts = [self.title, self.badge, self.controls.box, self.value, holdings_row]
        self.widget = widgets.VBox([*parts, self.open_orders, self.fills, self.orders])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-account")
        self.frames = 0
        self._equity_sent = 0
        self._empty = True

    def precision(self, symbol: str) -> Precision:
        return self._precision(symbol) or Precision()

    def _build_figure(self) -> LiveFigure:
        now = time.time() * 1000
        layout = base_layout(f"equity, {self.quote}", height=EQUITY_HEIGHT, top=36)
        layout["margin"] |= {"l": 80, "b": 36}
        layout["xaxis"] = time_axis(title=False, range=[now - _EMPTY_SPAN_MS, now])
        layout["yaxis"] = value_axis(2)
        trace = {"type": "scatter", "mode": "lines", "name": "equity", "meta": "equity",
                 "line": {"color": "#0969da", "width": 1.5, "shape": "hv"}}  # fmt: skip
        figure = LiveFigure([trace], layout)
        figure.layout = widgets.Layout(flex="1 1 420px", min_width="320px")
        return figure

    def render(
        self,
        valuation: Valuation,
        open_orders: Sequence[OpenOrder],
        fills: Sequence[Mapping[str, Any]],
        events: Iterable[Mapping[str, Any]],
        equity: EquityCurve,
        status: StatusView,
        *,
        unpriced: Mapping[str, str],
    ) -> None:
        self.badge.value = badge_html(status)
        self.value.value = value_html(valuation, unpriced)
        self.balances.value = caption(f"Holdings (trading account), valued in {self.quote}") + holdings_table(
            valuation, self.precision
        )
        self.open_orders.value = caption("Open orders") + open_orders_table(open_orders, self.precision)
        self.fills.value = caption("Recent fills") + fills_table(fills, self.precision)
        self.orders.value = caption("Order events, newest first") + orders_table(events)
        if equity.appended != self._equity_sent:
            since = self._equity_sent if equity.appended - self._equity_sent <= len(equity) else None
            t, v = equity.arrays(since)
            with self.figure.batch():
                if since is None:
                    self.figure.replace(0, {"x": t, "y": v})
                else:
                    self.figure.extend(0, {"x": t, "y": v}, max_points=equity.maxlen)
                if self._empty and len(t):
                    self.figure.relayout({"xaxis.autorange": True})
                    self._empty = False
            self._equity_sent = equity.appended
        self.frames += 1
