"""``live_book``: a level-2 book kept in sync from the feed, shown as depth chart, top of book, spread."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..model.book import OrderBook
from ..runtime import run_in_loop
from ..sources.base import MarketSource
from ..sources.classic import ClassicMarketSource, SnapshotFetcher
from ..stream import Stream
from .bookpanel import BookPanel, SpreadSeries
from .calls import checked_symbols, market_panel_args
from .formats import Precision, precision_of
from .live import LiveObject
from .panels import WINDOW_CHOICES
from .symbols import SymbolCatalog, unknown_symbol_message
from .throttle import DEFAULT_MAX_HZ

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # only the frames need it: the panel draws without pandas

__all__ = ["LiveBook", "live_book"]


class LiveBook(LiveObject[Stream]):
    """A live order book: see :func:`kunb.live_book`. ``.book`` (the synced
    :class:`~kunb.model.book.OrderBook`), ``.df``, ``.spread_df``, ``.snapshot()``, ``.stop()``.

    Its data is a :class:`kunb.Stream` (``.stream``): the Stream keeps the book in sync (buffering, snapshot
    fetches with backoff, replay, resync on a gap or a dropped link) and records its top after every applied
    delta, from which the spread series is drawn. With a ``catalog`` the symbol is looked up first: an
    unknown one stops the panel with a message naming it, a known one brings its price and size ticks.
    """

    kind = "book"

    def __init__(
        self,
        symbol: str,
        *,
        url: str,
        simulated: bool,
        key: tuple[Any, ...],
        depth: int = 50,
        window: int = 2000,
        max_hz: float = DEFAULT_MAX_HZ,
        snapshots: SnapshotFetcher | None = None,
        source: MarketSource | None = None,
        catalog: SymbolCatalog | None = None,
    ) -> None:
        self.symbol = symbol
        self.catalog = catalog
        self.depth = depth
        self.window = window
        self._snapshots = snapshots
        self._source = source
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.panel = BookPanel(
            symbol, depth=depth, window=window, simulated=self.simulated, precision=self._precision()
        )
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(lambda symbols: self.set_symbol(symbols[0]))
        self.panel.controls.on_window(self.set_window)

    def _new_driver(self) -> Stream:
        # the top frame holds the largest window the panel offers; top_interval=0: a row per applied delta
        # a custom source (a recording, a test) serves every driver: a restarted panel must not fall back
        # to the network; sources can be opened again after they were closed
        source = self._source or ClassicMarketSource(
            url=self.url, snapshots=self._snapshots, backoff_cap=10.0
        )
        return Stream(
            self.symbol,
            ticker=False,
            trades=False,
            stats=False,
            window=max(self.window, *WINDOW_CHOICES),
            top_depth=1,
            top_interval=0,
            open_timeout=None,
            source=source,
        )

    @property
    def stream(self) -> Stream:
        """The :class:`kunb.Stream` keeping the book."""
        return self.driver

    @property
    def book(self) -> OrderBook:
        """The synchronised level-2 book (:class:`kunb.book.OrderBook`)."""
        return self.stream.books[self.symbol]

    def _has_data(self) -> bool:
        return not self.book.needs_snapshot

    # ---- data out -----------------------------------------------------------------------------

    def _precision(self) -> Any:
        return self.catalog.precision(self.symbol) if self.catalog is not None else None

    async def _prepare(self, driver: Stream) -> Stream:
        """Look the symbol up: an unknown one ends the run with a message naming it."""
        self.notice = ""
        if self.catalog is None:
            return driver
        check = await self.catalog.check([self.symbol])
        if check.rejected:
            self.notice = unknown_symbol_message(check.rejected, self.url)
            raise ConfigurationError("nothing to stream")
        if self.symbol in check.info and self.panel.precision != check.info[self.symbol].precision:
            self.panel.set_symbol(self.symbol, check.info[self.symbol].precision)
        return driver

    def _spread(self, rows: int | None = None) -> dict[str, Any]:
        tops = self.stream.tops
        assert tops is not None  # top_interval is set
        cols = tops.last(self.window if rows is None else rows, "time", "bid_0", "ask_0")
        cols["spread"] = cols["ask_0"] - cols["bid_0"]
        cols["mid"] = (cols["ask_0"] + cols["bid_0"]) / 2
        return cols

    def _render(self) -> None:
        tops = self.stream.tops
        assert tops is not None
        since = self.panel.spread_since(self.window)
        if since is not None and not 0 <= tops.appended - since <= len(tops):
            since = None  # the book outran the ring since the last redraw (or restarted): all again
        cols = self._spread(None if since is None else min(tops.appended - since, self.window))
        spread = SpreadSeries(cols["time"], cols["spread"], tops.appended)
        if self.panel.precision == Precision():  # not looked up (a custom source): the stream's listing
            info = self.stream.symbol_info.get(self.symbol)
            if info is not None:
                self.panel.set_precision(precision_of(info))
        self.panel.render(self.book, spread, self.status(), window=self.window, since=since)

    @property
    def df(self) -> pd.DataFrame:
        """The top ``depth`` levels as a ladder (bid_size, bid, ask, ask_size)."""
        return self.book.to_pandas(self.depth)

    @property
    def spread_df(self) -> pd.DataFrame:
        """Spread and mid over time, one row per applied push."""
        import pandas as pd  # here, not at the top: the panel's first draw needs no pandas (~0.3 s import)

        cols = self._spread()
        frame = pd.DataFrame({"time": cols["time"], "spread": cols["spread"], "mid": cols["mid"]})
        frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
        return frame

    def snapshot(self, levels: int = 10) -> dict[str, Any]:
        """Best levels, spread, sequence and sync counters, as plain numbers: prices and the spread rounded
        to the symbol's price increment, sizes to its size increment (as computed while they are not
        known), the spread in bps to 2 decimals. ``.book`` and ``.df`` keep raw floats."""
        bids, asks = self.book.top(levels)
        spread = self.book.spread
        stats = self.book.stats
        bps = (spread / m * 1e4) if spread is not None and (m := self.book.mid) else math.nan
        best_bid, best_ask = self.book.best_bid, self.book.best_ask
        info = self.stream.symbol_info.get(self.symbol)
        if info is not None:
            bids = [(info.price(p), info.size(s)) for p, s in bids]
            asks = [(info.price(p), info.size(s)) for p, s in asks]
            best_bid, best_ask, spread = (
                None if x is None else info.price(x) for x in (best_bid, best_ask, spread)
            )
        return {
            "symbol": self.symbol,
            "state": self.book.state.value,
            "last_sequence": self.book.last_sequence,
            "best_bid": best_bid,
            "best_ask": best_ask,
            "spread": spread,
            "spread_bps": round(bps, 2),
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
        self.driver = self._new_driver()
        self.panel.set_symbol(symbol, self._precision())
        if was_running:
            run_in_loop(self._loop, self._restart_when_stopped)

    def set_window(self, window: int) -> None:
        """Keep ``window`` spread points."""
        self.window = window
        self.throttle.mark()


def live_book(
    symbol: str,
    *,
    depth: int = 50,
    url: str | None = None,
    window: int = 2000,
    max_hz: float = DEFAULT_MAX_HZ,
    snapshots: SnapshotFetcher | None = None,
    source: MarketSource | None = None,
    protocol: str = "classic",
) -> LiveBook:
    """Keep ``symbol``'s level-2 book in sync and show it live; returns at once.

    The book follows KuCoin's procedure (buffer the deltas, get a snapshot, replay, re-snapshot on a gap or
    a dropped link) through :class:`kunb.Stream`; the badge says ``resyncing`` meanwhile.

    Args:
        symbol: e.g. ``'BTC-USDT'``.
        depth: levels per side drawn in the depth chart.
        url: the exchange's REST base URL (default as for :func:`live_ticker`).
        window: spread points kept for the spread-over-time chart.
        max_hz: maximum redraws per second.
        snapshots: ``async (symbol) -> REST level-2 answer`` (default: the REST snapshot at ``url``).
        source: a custom :class:`~kunb.sources.base.MarketSource` (a recording, tests) instead of ``url``.
        protocol: ``"classic"`` (default) or ``"uta"`` (the book syncs from ``obu`` ``increment@10ms``,
            whose snapshot comes on the socket).

    Returns:
        A :class:`LiveBook` (``.book``, ``.df``, ``.spread_df``, ``.snapshot()``, ``.stop()``).

    Raises:
        ConfigurationError: both ``source`` and ``snapshots`` (a source fetches its own snapshots), or
            ``snapshots`` with ``protocol="uta"``.
    """
    if source is not None and snapshots is not None:
        raise ConfigurationError("pass snapshots= or source=, not both: a source fetches its own snapshots")
    symbol = checked_symbols(symbol)[0]
    if source is None and protocol != "classic" and snapshots is not None:
        raise ConfigurationError("snapshots= is for the classic protocol's REST snapshots")
    live = LiveBook(
        symbol,
        depth=depth,
        window=window,
        max_hz=max_hz,
        snapshots=snapshots,
        **market_panel_args("book", (symbol,), url, source, protocol),
    )
    live.start()
    return live
