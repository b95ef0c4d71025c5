"""``dashboard``: the ticker, book and account panels as tabs of one widget, started and stopped together."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .account import LiveAccount
from .livebook import LiveBook
from .ticker import LiveTicker

__all__ = ["Dashboard"]


class Dashboard:
    """Tabs over live objects that each run on their own (their badges stay separate and truthful)."""

    def __init__(self, ticker: LiveTicker, book: LiveBook, account: LiveAccount | None = None) -> None:
        self.ticker = ticker
        self.book = book
        self.account = account
        parts: list[tuple[str, Any]] = [("Ticker", ticker), ("Order book", book)]
        if account is not None:
            parts.append(("Account", account))
        self.parts = [p for _, p in parts]
        self.widget = widgets.Tab(children=[p.widget for _, p in parts])
        for i, (title, _) in enumerate(parts):
            self.widget.set_title(i, title)
        self.widget.add_class("kunb-dashboard")

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
        if self.account is not None:
            out["account"] = self.account.snapshot()
        return out

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)
