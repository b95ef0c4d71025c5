"""``live_book``: a level-2 book kept in sync from the feed, shown as depth chart, top of book, spread."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pandas as pd

from ..book import BookState, OrderBook
from ..exceptions import KunbError, ProtocolError
from ..runtime import run_in_loop
from .bookpanel import BookPanel
from .live import LiveObject
from .model import Ring
from .source import Feed
from .status import Health
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveBook", "SnapshotFetcher", "rest_snapshots"]

SnapshotFetcher = Callable[[str], Awaitable[Mapping[str, Any]]]

_log = logging.getLogger(__name__)
_T, _SPREAD, _MID = range(3)


def rest_snapshots(url: str) -> SnapshotFetcher:
    """Snapshots from ``GET /api/v1/market/orderbook/level2_100`` (public; kucoin-protocol.md 3)."""

    async def fetch(symbol: str) -> Mapping[str, Any]:
        from ..client import Market

        async with Market(url=url) as market:
            return await market.aget_part_order(100, symbol)

    return fetch


class LiveBook(LiveObject):
    """A live order book: see :func:`kunb.live_book`. ``.book`` (the synced
    :class:`~kunb.book.OrderBook`), ``.df``, ``.spread_df``, ``.snapshot()``, ``.stop()``."""

    kind = "book"

    def __init__(
        self,
        symbol: str,
        feed: Feed,
        *,
        key: tuple[Any, ...],
        depth: int = 50,
        window: int = 2000,
        max_hz: float = DEFAULT_MAX_HZ,
        snapshots: SnapshotFetcher | None = None,
    ) -> None:
        super().__init__(feed, key=key, max_hz=max_hz)
        self.symbol = symbol
        self.depth = depth
        self.book = OrderBook(symbol)
        self._spread = Ring(window, 3)
        self._fetch_snapshot = snapshots or rest_snapshots(feed.url)
        self._fetching: asyncio.Task[None] | None = None
        self.panel = BookPanel(symbol, depth=depth, window=window, simulated=self.simulated)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(lambda symbols: self.set_symbol(symbols[0]))
        self.panel.controls.on_window(self.set_window)

    def _topics(self) -> list[str]:
        return [f"/market/level2:{self.symbol}"]

    # ---- data in ------------------------------------------------------------------------------

    def _on_message(self, message: Mapping[str, Any]) -> None:
        data = message.get("data")
        if not isinstance(data, Mapping) or data.get("symbol", self.symbol) != self.symbol:
            return
        try:
            self.book.on_push(data)
        except ProtocolError as exc:  # the book dropped itself; a new snapshot follows
            _log.warning("kunb live_book %s: %s", self.symbol, exc)
        if self.book.needs_snapshot:
            self._want_snapshot()
        else:
            self._record_spread()

    def _record_spread(self) -> None:
        spread, mid, t = self.book.spread, self.book.mid, self.book.time
        if spread is not None and mid is not None and t is not None:
            self._spread.append((float(t), spread, mid))

    def _message_health(self) -> Health:
        if self.book.state is BookState.LIVE:
            return Health.LIVE
        # kucoin-protocol.md 3: pushes are buffered while the REST snapshot is fetched
        return Health.RESYNCING if self.book.stats.snapshots else Health.CONNECTING

    def _on_health(self, health: Health, detail: str = "") -> None:
        # the connection being live is not the book being live: it still needs its snapshot
        super()._on_health(self._message_health() if health is Health.LIVE else health, detail)

    def _want_snapshot(self) -> None:
        if self._fetching is None or self._fetching.done():
            self._fetching = self._spawn_child(self._sync(), "snapshot")

    async def _sync(self) -> None:
        """Fetch snapshots until the book is live (a stale snapshot or a gap in the replay asks again)."""
        delay = 0.2
        while self.book.needs_snapshot:
            try:
                snapshot = await self._fetch_snapshot(self.symbol)
                self.book.on_snapshot(snapshot)
            except (KunbError, OSError) as exc:
                self.detail = f"book snapshot failed ({exc}); retrying"
                self.throttle.mark()
                await asyncio.sleep(delay)  # backoff between REST attempts, not synchronisation
                delay = min(delay * 2, 5.0)
                continue
            if self.book.needs_snapshot:
                await asyncio.sleep(delay)  # snapshot older than the buffered pushes: ask again shortly
        self.health = self._message_health()
        self._record_spread()
        self.throttle.mark()

    # ---- data out -----------------------------------------------------------------------------

    def _render(self) -> None:
        view = self._spread.view()
        self.panel.render(self.book, view[_T], view[_SPREAD], self.status())

    @property
    def df(self) -> pd.DataFrame:
        """The top ``depth`` levels as a ladder (bid_size, bid, ask, ask_size)."""
        return self.book.to_pandas(self.depth)

    @property
    def spread_df(self) -> pd.DataFrame:
        """Spread and mid over time, one row per applied push."""
        view = self._spread.view()
        frame = pd.DataFrame({"time": view[_T], "spread": view[_SPREAD], "mid": view[_MID]})
        frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
        return frame

    def snapshot(self, levels: int = 10) -> dict[str, Any]:
        """Best levels, spread, sequence and sync counters, as plain numbers."""
        bids, asks = self.book.top(levels)
        spread = self.book.spread
        stats = self.book.stats
        return {
            "symbol": self.symbol,
            "state": self.book.state.value,
            "last_sequence": self.book.last_sequence,
            "best_bid": self.book.best_bid,
            "best_ask": self.book.best_ask,
            "spread": spread,
            "spread_bps": (spread / m * 1e4) if spread is not None and (m := self.book.mid) else math.nan,
            "bids": bids,
            "asks": asks,
            "snapshots": stats.snapshots,
            "resyncs": stats.resyncs,
            "pushes_applied": stats.pushes_applied,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }

    # ---- controls -----------------------------------------------------------------------------

    def set_symbol(self, symbol: str) -> None:
        """Show another symbol (the picker calls this): a fresh book, resubscribed."""
        if symbol == self.symbol:
            return
        was_running = self.running
        if was_running:
            self.stop()
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self._spread = Ring(self._spread.size, 3)
        self.panel.set_symbol(symbol)
        if was_running:
            run_in_loop(self._loop, lambda: self._loop.create_task(self._restart()))

    async def _restart(self) -> None:
        await self._stopped.wait()
        self.start()

    def set_window(self, window: int) -> None:
        """Keep ``window`` spread points."""
        self._spread = self._spread.resized(window)
        self.throttle.mark()
