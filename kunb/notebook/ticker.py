"""``live_ticker``: last price, best bid/ask, spread, 24 h change and volume per symbol, streaming."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from .live import LiveObject
from .model import RateMeter, TickerModel
from .panels import TickerPanel
from .runtime import run_in_loop
from .source import Feed
from .status import StatusView
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveTicker", "ticker_topics"]


def ticker_topics(symbols: Sequence[str]) -> list[str]:
    """``/market/ticker`` for the quotes and ``/market/snapshot`` per symbol for 24 h change and volume.

    kucoin-protocol.md 2.1: the ticker push carries no 24 h statistics; the snapshot topic does (every
    2 s), and it takes one symbol per topic.
    """
    return [f"/market/ticker:{','.join(symbols)}", *(f"/market/snapshot:{s}" for s in symbols)]


class LiveTicker(LiveObject):
    """A live ticker: see :func:`kunb.live_ticker`. ``.df``, ``.snapshot()``, ``.stop()``, ``.start()``."""

    kind = "ticker"

    def __init__(
        self,
        symbols: Sequence[str],
        feed: Feed,
        *,
        key: tuple[Any, ...],
        window: int = 2000,
        max_hz: float = DEFAULT_MAX_HZ,
    ) -> None:
        super().__init__(feed, key=key, max_hz=max_hz)
        self.model = TickerModel(symbols, window=window)
        self.panel = TickerPanel(self.model.symbols, window=window, simulated=self.simulated)
        self.widget = self.panel.widget
        self._rate = RateMeter()
        self.msg_rate = 0.0
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(self.set_symbols)
        self.panel.controls.on_window(self.set_window)

    @property
    def symbols(self) -> list[str]:
        return list(self.model.symbols)

    def _topics(self) -> list[str]:
        return ticker_topics(self.model.symbols)

    def _has_data(self) -> bool:
        return self.model.messages > 0

    def _on_message(self, message: Mapping[str, Any]) -> None:
        topic = str(message.get("topic", ""))
        data = message.get("data") or {}
        if topic.startswith("/market/ticker:"):
            # per-symbol topics on push (kucoin-protocol.md 1.6); ticker:all names it in `subject`
            symbol = topic.partition(":")[2]
            if symbol == "all":
                symbol = str(message.get("subject", ""))
            self.model.on_ticker(symbol, data)
        elif topic.startswith("/market/snapshot:"):
            stats = data.get("data", data)  # snapshot wraps its numbers in data.data (protocol 2.1)
            self.model.on_stats(str(stats.get("symbol") or topic.partition(":")[2]), stats)

    def _render(self) -> None:
        self.msg_rate = self._rate.rate(self._clock(), self.model.messages)
        self.panel.render(self.model, self.status())

    def status(self) -> StatusView:
        base = super().status()
        return replace(base, msg_rate=self.msg_rate)

    # ---- controls -----------------------------------------------------------------------------

    def set_symbols(self, symbols: Sequence[str]) -> None:
        """Stream other symbols (the picker calls this): restarts the feed with a fresh window."""
        if list(symbols) == self.model.symbols:
            return
        was_running = self.running
        if was_running:
            self.stop()
        self.model = TickerModel(symbols, window=self.model.window)
        self.panel.set_symbols(self.model.symbols)
        if was_running:
            run_in_loop(self._loop, lambda: self._loop.create_task(self._restart()))

    async def _restart(self) -> None:
        await self._stopped.wait()  # the old feed's sockets are closed before the new one opens
        self.start()

    def set_window(self, window: int) -> None:
        """Keep ``window`` points per symbol (the window control calls this)."""
        self.model.set_window(window)
        self.throttle.mark()

    # ---- data out -----------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """The rolling window: one row per ticker message (time, symbol, price, bid, ask, spread...)."""
        return self.model.df

    @property
    def book(self) -> dict[str, dict[str, float | None]]:
        """Best bid and ask per symbol (the top of the book, as the ticker channel reports it)."""
        snap = self.model.snapshot()
        return {s: {"bid": v["bid"], "ask": v["ask"]} for s, v in snap.items()}

    def snapshot(self) -> dict[str, Any]:
        """The seed's market snapshot per symbol, plus counters: messages, frames drawn, status."""
        return {
            "symbols": self.model.snapshot(),
            "messages": self.model.messages,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }
