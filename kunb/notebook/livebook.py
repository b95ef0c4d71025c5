"""``live_book``: a level-2 book kept in sync from the feed, shown as depth chart, top of book, spread."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pandas as pd

from ..exceptions import KunbError, TransportError
from ..model.book import BookState, OrderBook
from ..runtime import run_in_loop
from ..stream import Stream, StreamState
from .bookpanel import BookPanel
from .live import LiveObject
from .panels import WINDOW_CHOICES
from .source import Feed
from .status import Health
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveBook", "SnapshotFetcher"]

SnapshotFetcher = Callable[[str], Awaitable[Mapping[str, Any]]]


class LiveBook(LiveObject):
    """A live order book: see :func:`kunb.live_book`. ``.book`` (the synced
    :class:`~kunb.book.OrderBook`), ``.df``, ``.spread_df``, ``.snapshot()``, ``.stop()``.

    Its data is a :class:`kunb.Stream` (``.stream``) fed by the panel's Feed: the Stream keeps the book in
    sync (buffering, snapshot fetches with backoff, replay, resync on a gap - kucoin-protocol.md 3) and
    records its top after every applied push, from which the spread series is drawn.
    """

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
        self.window = window
        self._fetch_snapshot = snapshots  # None: the Stream's REST snapshot (level2_100 at the feed URL)
        self.stream = self._new_stream()
        self.panel = BookPanel(symbol, depth=depth, window=window, simulated=self.simulated)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(lambda symbols: self.set_symbol(symbols[0]))
        self.panel.controls.on_window(self.set_window)

    def _new_stream(self) -> Stream:
        async def snapshot(symbol: str) -> Mapping[str, Any]:
            return await self._snapshot(stream, symbol)

        # the top frame holds the largest window the panel offers; top_interval=0: a row per applied push
        stream = Stream(
            self.symbol,
            url=self.url,
            ticker=False,
            trades=False,
            stats=False,
            window=max(self.window, *WINDOW_CHOICES),
            top_depth=1,
            top_interval=0,
            snapshots=snapshot,
            on_book=self._on_book,
        )
        return stream

    @property
    def book(self) -> OrderBook:
        """The synchronised level-2 book (:class:`kunb.book.OrderBook`)."""
        return self.stream.books[self.symbol]

    def _topics(self) -> list[str]:
        return self.stream.topics

    # ---- data in ------------------------------------------------------------------------------

    def _spawn(self) -> None:
        if not self._tasks and self.stream.state is StreamState.CLOSED:  # restarted: a fresh book
            self.stream = self._new_stream()
        super()._spawn()

    async def _run_feed(self) -> None:
        stream = self.stream
        try:
            await super()._run_feed()
        finally:
            await stream.aclose()  # ends its snapshot fetches with the feed

    def _on_message(self, message: Mapping[str, Any]) -> None:
        self.stream.ingest(message)

    async def _snapshot(self, stream: Stream, symbol: str) -> Mapping[str, Any]:
        """The Stream's snapshot fetch: a failure is said on the badge (the Stream retries with backoff)."""
        try:
            return await (self._fetch_snapshot or stream.fetch_snapshot)(symbol)
        except (KunbError, OSError) as exc:
            self.detail = f"book snapshot failed ({exc}); retrying"
            self.throttle.mark()
            if isinstance(exc, KunbError):
                raise
            raise TransportError(f"book snapshot failed: {exc}") from exc

    def _on_book(self, symbol: str, book: OrderBook) -> None:
        # after every push or snapshot: a snapshot that brought the book live is news for the badge
        if book.state is BookState.LIVE and self.health is not Health.STOPPED:
            if self.health is not Health.LIVE:
                self.health = Health.LIVE
                self.detail = ""
            self.throttle.mark()

    def _message_health(self) -> Health:
        if self.book.state is BookState.LIVE:
            return Health.LIVE
        # kucoin-protocol.md 3: pushes are buffered while the REST snapshot is fetched
        return Health.RESYNCING if self.book.stats.snapshots else Health.CONNECTING

    def _on_health(self, health: Health, detail: str = "") -> None:
        # the connection being live is not the book being live: it still needs its snapshot
        super()._on_health(self._message_health() if health is Health.LIVE else health, detail)

    # ---- data out -----------------------------------------------------------------------------

    def _spread(self) -> dict[str, Any]:
        tops = self.stream.tops
        assert tops is not None  # top_interval is set
        cols = tops.last(self.window, "time", "bid_0", "ask_0")
        cols["spread"] = cols["ask_0"] - cols["bid_0"]
        cols["mid"] = (cols["ask_0"] + cols["bid_0"]) / 2
        return cols

    def _render(self) -> None:
        cols = self._spread()
        self.panel.render(self.book, cols["time"], cols["spread"], self.status())

    @property
    def df(self) -> pd.DataFrame:
        """The top ``depth`` levels as a ladder (bid_size, bid, ask, ask_size)."""
        return self.book.to_pandas(self.depth)

    @property
    def spread_df(self) -> pd.DataFrame:
        """Spread and mid over time, one row per applied push."""
        cols = self._spread()
        frame = pd.DataFrame({"time": cols["time"], "spread": cols["spread"], "mid": cols["mid"]})
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
        self.stream = self._new_stream()
        self.panel.set_symbol(symbol)
        if was_running:
            run_in_loop(self._loop, lambda: self._loop.create_task(self._restart()))

    async def _restart(self) -> None:
        await self._stopped.wait()
        self.start()

    def set_window(self, window: int) -> None:
        """Keep ``window`` spread points."""
        self.window = window
        self.throttle.mark()
