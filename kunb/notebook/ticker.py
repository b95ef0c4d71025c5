"""``live_ticker``: last price, best bid/ask, spread, 24 h change and volume per symbol, streaming."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from ..runtime import run_in_loop
from ..stream import Stream
from .live import LiveObject
from .model import RateMeter, TickerView
from .panels import WINDOW_CHOICES, TickerPanel
from .source import Feed
from .status import StatusView
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveTicker"]


def _ticker_stream(symbols: Sequence[str], window: int) -> Stream:
    """The Stream a ticker panel records into: ``/market/ticker`` and, per symbol, ``/market/snapshot``
    (kucoin-protocol.md 2.1: the ticker push carries no 24 h statistics; the snapshot topic does, every
    2 s, one symbol per topic). Its frame holds the largest window the panel offers for every symbol."""
    names = list(dict.fromkeys(symbols))
    rows = max(window, *WINDOW_CHOICES) * max(len(names), 1)
    return Stream(names, book=False, ticker=True, trades=False, stats=True, window=rows)


class LiveTicker(LiveObject):
    """A live ticker: see :func:`kunb.live_ticker`. ``.df``, ``.snapshot()``, ``.stop()``, ``.start()``.

    Its data is a :class:`kunb.Stream` (``.stream``) fed by the panel's Feed: the same routing and
    rolling frames as a Stream started from a script.
    """

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
        self.stream = _ticker_stream(symbols, window)
        self.model = TickerView(self.stream, window=window)
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
        return self.stream.topics

    def _has_data(self) -> bool:
        return self.model.messages > 0

    def _on_message(self, message: Mapping[str, Any]) -> None:
        self.stream.ingest(message)

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
        self.stream = _ticker_stream(symbols, self.model.window)
        self.model = TickerView(self.stream, window=self.model.window)
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
        """The newest ``window`` ticks per symbol, one row per ticker message, as :class:`kunb.Stream`'s
        ``ticks.df``: a UTC ``time`` index; ``symbol``, ``price``, ``size``, ``best_bid``, ``best_bid_size``,
        ``best_ask``, ``best_ask_size``, ``spread``, ``mid``."""
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
