"""What every panel shares: the control row (start/stop, symbols, window), the window choices and how often
the tables refresh."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

__all__ = ["TABLE_INTERVAL", "WINDOW_CHOICES", "Controls"]

WINDOW_CHOICES = (500, 2000, 5000, 20000)
# seconds between two refreshes of a panel's table (LiveHTML.show): 2 Hz still reads as live, where the
# 5 Hz of the charts made rewriting tables a third of a visible panel's cost to the page (issue 15)
TABLE_INTERVAL = 0.5


class Controls:
    """Start/stop, symbol picker and window length; callbacks are set by the live object."""

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        window: int,
        with_window: bool = True,
        choices: Sequence[int] = WINDOW_CHOICES,
        unit: str = "points",
    ) -> None:
        self.toggle = widgets.ToggleButton(value=True, description="Stop", icon="stop", tooltip="stop/start")
        self.toggle.add_class("kunb-toggle")
        self.symbols = widgets.Text(
            value=", ".join(symbols),
            description="Symbols",
            continuous_update=False,
            layout=widgets.Layout(width="320px"),
        )
        self.symbols.add_class("kunb-symbols")
        options = sorted({*choices, window})
        self.window = widgets.Dropdown(
            options=[(f"{n:,} {unit}", n) for n in options],
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
