"""``dashboard``: ticker, order book, candles, trades and account panels, started and stopped together,
side by side where the output is wide enough and as tabs where it is not.

The dashboard holds its panels twice: in a two-column grid and in tabs. A CSS container query on the
dashboard's own width shows one and hides the other (``layout="auto"``, the default: grid from
:data:`WIDE` px), so the choice follows the output area as it is resized, with no message to the kernel.
Both are views of the same widgets: the kernel sends each update once, and a live figure that is hidden
(the other layout, an unselected tab) does not draw. ``layout="tabs"`` or ``"grid"`` keeps one of them.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..exceptions import ConfigurationError
from .account import LiveAccount
from .candles import LiveCandles
from .livebook import LiveBook
from .ticker import LiveTicker
from .trades import LiveTrades

__all__ = ["LAYOUTS", "WIDE", "Dashboard"]

WIDE = 1100  #: px of output width from which the panels go side by side (two columns of >= 540 px)
LAYOUTS = ("auto", "tabs", "grid")

_CSS = f"""<style>
.kunb-dashboard {{ container-type: inline-size; }}
.kunb-dashboard.kunb-layout-auto .kunb-dash-grid {{ display: none !important; }}
@container (min-width: {WIDE}px) {{
  .kunb-dashboard.kunb-layout-auto .kunb-dash-grid {{ display: grid !important; }}
  .kunb-dashboard.kunb-layout-auto .kunb-dash-tabs {{ display: none !important; }}
}}
</style>"""


class Dashboard:
    """Live objects shown together; each runs on its own (their badges stay separate and truthful)."""

    def __init__(
        self,
        ticker: LiveTicker,
        book: LiveBook,
        account: LiveAccount | None = None,
        *,
        candles: LiveCandles | None = None,
        trades: LiveTrades | None = None,
        layout: str = "auto",
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigurationError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.ticker = ticker
        self.book = book
        self.candles = candles
        self.trades = trades
        self.account = account
        self.layout = layout
        parts: list[tuple[str, Any]] = [("Ticker", ticker), ("Order book", book)]
        if candles is not None:
            parts.append(("Candles", candles))
        if trades is not None:
            parts.append(("Trades", trades))
        if account is not None:
            parts.append(("Account", account))
            # alone on the grid's last row when the others fill their rows, across both columns
            if len(parts) % 2:
                account.widget.layout.grid_column = "1 / -1"
        self.parts = [p for _, p in parts]
        self.titles = [t for t, _ in parts]
        children: list[widgets.Widget] = []
        if layout in ("auto", "tabs"):
            self.tabs = widgets.Tab(children=[p.widget for p in self.parts], titles=self.titles)
            self.tabs.add_class("kunb-dash-tabs")
            children.append(self.tabs)
        if layout in ("auto", "grid"):
            self.grid = widgets.GridBox(
                [p.widget for p in self.parts],
                layout=widgets.Layout(
                    grid_template_columns="repeat(2, minmax(0, 1fr))", grid_gap="12px 20px"
                ),
            )
            self.grid.add_class("kunb-dash-grid")
            children.append(self.grid)
        self.widget = widgets.VBox([widgets.HTML(_CSS), *children])
        self.widget.add_class("kunb-dashboard")
        self.widget.add_class(f"kunb-layout-{layout}")

    def stop(self) -> None:
        """Stop every panel."""
        for part in self.parts:
            part.stop()

    def start(self) -> None:
        for part in self.parts:
            part.start()

    async def wait_stopped(self) -> None:
        for part in self.parts:
            await part.wait_stopped()

    async def aclose(self) -> None:
        for part in self.parts:
            await part.aclose()

    def snapshot(self) -> dict[str, Any]:
        out = {"ticker": self.ticker.snapshot(), "book": self.book.snapshot()}
        if self.candles is not None:
            out["candles"] = self.candles.snapshot()
        if self.trades is not None:
            out["trades"] = self.trades.snapshot()
        if self.account is not None:
            out["account"] = self.account.snapshot()
        return out

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)
