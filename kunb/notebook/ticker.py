"""``live_ticker``: last price, best bid/ask, spread, 24 h change and volume per symbol, streaming."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..runtime import run_in_loop
from ..sources.base import MarketSource
from ..sources.classic import ClassicMarketSource
from ..stream import Stream
from .calls import checked_symbols, market_panel_args
from .formats import Precision, precision_of
from .live import LiveObject
from .model import RateMeter, TickerView
from .panels import WINDOW_CHOICES
from .status import StatusView
from .symbols import SymbolCatalog, unknown_symbol_message
from .throttle import DEFAULT_MAX_HZ
from .tickerpanel import TickerPanel

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # only .df makes a frame: the panel draws without pandas

__all__ = ["LiveTicker", "live_ticker"]

_RATE_EVERY = 1.0  # seconds between two updates of the message rate shown


class LiveTicker(LiveObject[Stream]):
    """A live ticker: see :func:`kunb.live_ticker`. ``.df``, ``.snapshot()``, ``.stop()``, ``.start()``.

    Its data is a :class:`kunb.Stream` (``.stream``) of ticks and 24 h statistics (a ticker push carries no
    24 h numbers; the statistics channel does, every 2 s): the same routing and rolling frames as a Stream
    started from a script. With a ``catalog``, every symbol is looked up before the stream starts: unknown
    ones are left out and named in the panel (``.notice``), the others stream; their price and size
    ticks decide how numbers are written.
    """

    kind = "ticker"

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        url: str,
        simulated: bool,
        key: tuple[Any, ...],
        window: int = 2000,
        max_hz: float = DEFAULT_MAX_HZ,
        source: MarketSource | None = None,
        catalog: SymbolCatalog | None = None,
    ) -> None:
        self._symbols = list(dict.fromkeys(symbols))
        self._window = window
        self._source = source
        self.catalog = catalog
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.panel = TickerPanel(
            self.model.symbols, window=window, simulated=self.simulated, precision=self._precision
        )
        self.widget = self.panel.widget
        self._rate = RateMeter()
        self._rate_at = -_RATE_EVERY
        self._listed = 0  # symbols the stream's listing had at the last redraw
        self.msg_rate = 0.0
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(self.set_symbols)
        self.panel.controls.on_window(self.set_window)

    def _new_driver(self, symbols: Sequence[str] | None = None) -> Stream:
        # the frame holds the largest window the panel offers, for every symbol
        symbols = self._symbols if symbols is None else list(symbols)
        rows = max(self._window, *WINDOW_CHOICES) * max(len(symbols), 1)
        # a custom source (a recording, a test) serves every driver: a restarted panel must not fall back
        # to the network; sources can be opened again after they were closed
        source = self._source or ClassicMarketSource(url=self.url, backoff_cap=10.0)
        stream = Stream(
            symbols,
            book=False,
            ticker=True,
            trades=False,
            stats=True,
            window=rows,
            open_timeout=None,
            source=source,
        )
        self.model = TickerView(stream, window=self._window)
        return stream

    def _precision(self, symbol: str) -> Precision:
        """The symbol's decimals: looked up by the panel, else from the stream's listing (a custom source)."""
        if self.catalog is not None and self.catalog.cached(symbol) is not None:
            return self.catalog.precision(symbol)
        return precision_of(self.stream.symbol_info.get(symbol))

    async def _prepare(self, driver: Stream) -> Stream:
        """Look the symbols up: unknown ones are left out (and named), the others stream."""
        self.notice = ""
        if self.catalog is None:
            return driver
        check = await self.catalog.check(self._symbols)
        if not check.rejected:
            self.panel.refresh_precision()
            return driver
        self.notice = unknown_symbol_message(check.rejected, self.url)
        usable = check.usable(self._symbols)
        if not usable:
            raise ConfigurationError("nothing to stream")
        self.driver = driver = self._new_driver(usable)
        self.panel.set_symbols(usable)
        return driver

    @property
    def stream(self) -> Stream:
        """The :class:`kunb.Stream` this panel draws."""
        return self.driver

    @property
    def symbols(self) -> list[str]:
        return list(self.model.symbols)

    def _has_data(self) -> bool:
        return self.model.messages > 0

    def _render(self) -> None:
        now = self._clock()
        if now - self._rate_at >= _RATE_EVERY:  # the badge's number changes once a second, not per frame
            self.msg_rate = self._rate.rate(now, self.model.messages)
            self._rate_at = now
        if len(self.stream.symbol_info) != self._listed:  # the stream's listing came: axes to the tick
            self._listed = len(self.stream.symbol_info)
            self.panel.refresh_precision()
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
        self._symbols = list(dict.fromkeys(symbols))
        self._window = self.model.window
        self.driver = self._new_driver()
        self.panel.set_symbols(self.model.symbols)
        if was_running:
            run_in_loop(self._loop, self._restart_when_stopped)

    def set_window(self, window: int) -> None:
        """Keep ``window`` points per symbol (the window control calls this)."""
        self.model.set_window(window)
        self._window = window
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


def live_ticker(
    symbols: str | Sequence[str],
    *,
    url: str | None = None,
    window: int = 2000,
    max_hz: float = DEFAULT_MAX_HZ,
    source: MarketSource | None = None,
    protocol: str = "classic",
) -> LiveTicker:
    """Stream tickers for ``symbols`` and show them live; returns at once.

    A symbol the exchange does not know is left out and named in the panel; the others stream.

    Args:
        symbols: ``'BTC-USDT'`` or a list of symbols.
        url: the exchange's REST base URL; default ``$KUNB_URL`` (``kunb.sim.start()`` sets it), else
            ``https://api.kucoin.com``: the same as ``Market()``.
        window: points kept (and drawn) per symbol.
        max_hz: maximum redraws per second; ingest never waits for a redraw.
        source: a custom :class:`~kunb.sources.base.MarketSource` (a recording, tests) instead of ``url``.
        protocol: ``"classic"`` (default) or ``"uta"``: KuCoin's WebSocket protocol to speak (the badge
            says which); see ``docs/howto/protocols.md``.

    Returns:
        A :class:`LiveTicker`; it displays itself as the value of a cell.
    """
    syms = checked_symbols(symbols)
    live = LiveTicker(
        syms,
        window=window,
        max_hz=max_hz,
        **market_panel_args("ticker", (tuple(syms),), url, source, protocol),
    )
    live.start()
    return live
