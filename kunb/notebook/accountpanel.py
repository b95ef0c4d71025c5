"""The account panel: balances and the latest order events, as HTML tables with test hooks."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from .panels import Controls
from .status import StatusView, badge_html

__all__ = ["AccountPanel"]

_ORDER_COLUMNS = ("time", "symbol", "side", "orderType", "type", "status", "price", "size", "filledSize",
                  "matchPrice", "matchSize", "orderId")  # fmt: skip


def _amount(text: Any) -> str:
    try:
        return f"{float(text):,.8f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return "–"


def balances_table(rows: Iterable[Mapping[str, Any]]) -> str:
    body = "".join(
        f'<tr data-currency="{html.escape(str(r["currency"]))}">'
        f'<td class="kunb-currency">{html.escape(str(r["currency"]))}</td>'
        f'<td class="kunb-total">{_amount(r.get("total"))}</td>'
        f'<td class="kunb-available">{_amount(r.get("available"))}</td>'
        f'<td class="kunb-hold">{_amount(r.get("hold"))}</td>'
        f'<td class="kunb-source">{html.escape(str(r.get("source", "")))}</td></tr>'
        for r in rows
    )
    head = "<tr><th>currency</th><th>total</th><th>available</th><th>on hold</th><th>from</th></tr>"
    return (
        '<table class="kunb-balances" style="font-variant-numeric:tabular-nums">'
        f"<caption style='text-align:left'>Balances (trade account)</caption><thead>{head}</thead>"
        f"<tbody>{body}</tbody></table>"
    )


def orders_table(events: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in _ORDER_COLUMNS)
    rows = []
    for e in events:
        cells = []
        for c in _ORDER_COLUMNS:
            value = e.get(c, "")
            cells.append(f'<td class="kunb-order-{c}">{html.escape(str(value))}</td>')
        rows.append(
            f'<tr data-order-id="{html.escape(str(e.get("orderId", "")))}" '
            f'data-type="{html.escape(str(e.get("type", "")))}">{"".join(cells)}</tr>'
        )
    # a wide table scrolls inside its own box instead of being clipped by a narrow output area
    return (
        '<div style="overflow-x:auto;max-width:100%"><table class="kunb-orders" '
        'style="font-variant-numeric:tabular-nums;font-size:90%">'
        f"<caption style='text-align:left'>Order events, newest first</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


class AccountPanel:
    """Badge, start/stop, the balances table (``table.kunb-balances``) and order events
    (``table.kunb-orders``)."""

    def __init__(self, *, simulated: bool, rows: int = 30) -> None:
        self.simulated = simulated
        self.rows = rows
        self.controls = Controls([], window=2000, with_window=False)
        self.controls.box.children = (self.controls.toggle,)  # nothing to pick: one account
        self.badge = widgets.HTML()
        self.badge.add_class("kunb-badge-widget")
        label = ' · <span class="kunb-simulated">simulated account</span>' if simulated else ""
        self.title = widgets.HTML(f"<b>kunb live account</b>{label}")
        self.balances = widgets.HTML()
        self.balances.add_class("kunb-balances-widget")
        self.orders = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.orders.add_class("kunb-orders-widget")
        self.widget = widgets.VBox([self.title, self.badge, self.controls.box, self.balances, self.orders])
        self.widget.add_class("kunb-live")
        self.widget.add_class("kunb-account")
        self.frames = 0

    def render(
        self, balances: Iterable[Mapping[str, Any]], events: Sequence[Mapping[str, Any]], status: StatusView
    ) -> None:
        self.badge.value = badge_html(status)
        self.balances.value = balances_table(balances)
        self.orders.value = orders_table(list(events)[: self.rows])
        self.frames += 1
