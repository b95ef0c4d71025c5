"""``live_candles``: candlesticks with volume for one symbol, backfilled from REST and continued live.

The live part is a :class:`kunb.Stream` subscribed to the kline channel (``candles=interval``: classic
``/market/candles``, UTA ``kline``); the history is :func:`kunb.fetch_klines`, fetched once the stream is
subscribed so that no candle falls between the two (a candle in both is taken from the stream).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd

from ..exceptions import ConfigurationError, KunbError
from ..klines import KLINE_INTERVALS, fetch_klines
from ..net.rest import Market
from ..runtime import run_in_loop
from ..sources.base import MarketSource
from ..sources.classic import ClassicMarketSource
from ..stream import Stream
from .calls import checked_symbols, market_panel_args
from .candlespanel import CANDLE_WINDOWS, CandlesPanel
from .formats import Precision
from .live import LiveObject
from .model import CandleView
from .symbols import SymbolCatalog, unknown_symbol_message
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveCandles", "live_candles"]

_log = logging.getLogger(__name__)

# the kline channel's intervals (classic-protocol.md#public-channels: REST also has 5min and 1month)
_LIVE_INTERVALS = tuple(i for i in KLINE_INTERVALS if i not in ("5min", "1month"))


class LiveCandles(LiveObject[Stream]):
    """Live candles: see :func:`kunb.live_candles`. ``.df`` (history and live, by start time),
    ``.snapshot()``, ``.stop()``. ``history=False``: live candles only (a recording or a test source has
    no REST to ask); ``market``: the REST client for the history (default: one at ``url``)."""

    kind = "candles"

    def __init__(
        self,
        symbol: str,
        interval: str = "1min",
        *,
        url: str,
        simulated: bool,
        key: tuple[Any, ...],
        window: int = 300,
        max_hz: float = DEFAULT_MAX_HZ,
        source: MarketSource | None = None,
        catalog: SymbolCatalog | None = None,
        history: bool = True,
        market: Market | None = None,
    ) -> None:
        given: object = interval  # checked at run time: a notebook user may pass anything
        if given not in _LIVE_INTERVALS:
            raise ConfigurationError(
                f"interval must be one of {', '.join(_LIVE_INTERVALS)}, got {interval!r}"
            )
        if not 1 <= window <= max(CANDLE_WINDOWS):
            raise ConfigurationError(f"window must be 1..{max(CANDLE_WINDOWS)} candles, got {window!r}")
        self.symbol = symbol
        self.interval = interval
        self.window = window
        self.catalog = catalog
        self._source = source
        self._history = history  # fetch the window's candles from REST (not for a recording or a test)
        self._market = market  # REST for the history; None: one at the url
        self.history_error: BaseException | None = None
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.panel = CandlesPanel(
            symbol, interval, window=window, simulated=self.simulated, precision=self._precision()
        )
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(lambda symbols: self.set_symbol(symbols[0]))
        self.panel.controls.on_window(self.set_window)

    def _new_driver(self) -> Stream:
        source = self._source or ClassicMarketSource(url=self.url, backoff_cap=10.0)
        stream = Stream(
            self.symbol,
            book=False,
            ticker=False,
            trades=False,
            stats=False,
            candles=self.interval,
            window=max(CANDLE_WINDOWS),
            open_timeout=None,
            source=source,
        )
        self.model = CandleView(stream, window=self.window)
        return stream

    @property
    def stream(self) -> Stream:
        """The :class:`kunb.Stream` of the kline channel."""
        return self.driver

    def _precision(self) -> Precision | None:
        return self.catalog.precision(self.symbol) if self.catalog is not None else None

    def _has_data(self) -> bool:
        return len(self.model.live) > 0 or len(self.model.history["time"]) > 0

    async def _prepare(self, driver: Stream) -> Stream:
        self.notice = ""
        if self.catalog is not None:
            check = await self.catalog.check([self.symbol])
            if check.rejected:
                self.notice = unknown_symbol_message(check.rejected, self.url)
                raise ConfigurationError("nothing to stream")
            info = check.info.get(self.symbol)
            if info is not None and info.precision != self.panel.precision:
                self.panel.set_symbol(self.symbol, info.precision)
        return driver

    def _started(self, driver: Stream) -> None:
        # subscribed: a candle forming now is in the stream, so the history cannot miss one
        if self._history:
            self._spawn_child(self._backfill(driver), "history")

    async def _backfill(self, driver: Stream) -> None:
        """Fetch the window's history from REST (a page of up to 1,500 candles)."""
        end = time.time()
        start = end - KLINE_INTERVALS[self.interval] * self.window
        try:
            frame = await fetch_klines(
                self.symbol, self.interval, start=start, end=end, url=self.url, market=self._market
            )
        except KunbError as exc:  # the live candles still come: say what is missing, do not end the panel
            self.history_error = exc
            self.notice = f"no history: {type(exc).__name__}: {exc}"
            _log.info("kunb live_candles: history of %s unavailable: %r", self.symbol, exc)
            self.throttle.mark()
            return
        if driver is self.driver:
            self.model.set_history(frame)
            self.throttle.mark()

    def _render(self) -> None:
        self.panel.render(self.model, self.status())

    # ---- controls -----------------------------------------------------------------------------

    def set_symbol(self, symbol: str) -> None:
        """Show another symbol (the picker calls this): a new stream and history."""
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
        """Draw ``window`` candles (the history fetched covers the window the panel started with)."""
        self.window = window
        self.model.window = window
        self.throttle.mark()

    # ---- data out -----------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """The candles drawn: history then live, indexed by start time (UTC); ``open``, ``high``, ``low``,
        ``close``, ``volume``."""
        return self.model.df

    def snapshot(self) -> dict[str, Any]:
        """The newest candle's numbers, how many candles are drawn and where they came from."""
        cols = self.model.columns()
        last = {k: float(v[-1]) for k, v in cols.items()} if len(cols["time"]) else {}
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "candles": len(cols["time"]),
            "history": len(self.model.history["time"]),
            "live": len(self.model.live),
            "last": last,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }


def live_candles(
    symbol: str,
    interval: str = "1min",
    *,
    window: int = 300,
    url: str | None = None,
    max_hz: float = DEFAULT_MAX_HZ,
    source: MarketSource | None = None,
    protocol: str = "classic",
) -> LiveCandles:
    """Candlesticks with volume for ``symbol``: the last ``window`` candles from REST, then live from the
    kline channel, the forming candle updated in place; returns at once.

    Args:
        symbol: e.g. ``'BTC-USDT'``.
        interval: ``"1min"``, ``"3min"``, ``"15min"``, ``"30min"``, ``"1hour"``, ``"2hour"``, ``"4hour"``,
            ``"6hour"``, ``"8hour"``, ``"12hour"``, ``"1day"`` or ``"1week"`` (the kline channel's).
        window: candles drawn (history fetched for as many), at most 1,500.
        url: the exchange's REST base URL (default as for :func:`live_ticker`).
        max_hz: maximum redraws per second.
        source: a custom :class:`~kunb.sources.base.MarketSource` (a recording, tests): live candles only,
            no history.
        protocol: ``"classic"`` (default) or ``"uta"``.

    Returns:
        A :class:`LiveCandles` (``.df``, ``.snapshot()``, ``.stop()``).

    Raises:
        ConfigurationError: an interval the kline channel does not have, a window out of range.
    """
    symbol = checked_symbols(symbol)[0]
    live = LiveCandles(
        symbol,
        interval,
        window=window,
        max_hz=max_hz,
        history=source is None,  # a recording or a test source has no REST history
        **market_panel_args("candles", (symbol, interval), url, source, protocol),
    )
    live.start()
    return live
