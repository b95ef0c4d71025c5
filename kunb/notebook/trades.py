"""``live_trades``: the trades tape of one or more symbols, from a :class:`kunb.Stream` of public trades."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..exceptions import ConfigurationError
from ..runtime import run_in_loop
from ..sources.base import MarketSource
from ..sources.classic import ClassicMarketSource
from ..stream import Stream
from .calls import checked_symbols, market_panel_args
from .formats import Precision
from .live import LiveObject
from .symbols import SymbolCatalog, unknown_symbol_message
from .throttle import DEFAULT_MAX_HZ
from .tradespanel import TapeRow, TradesPanel, tape_rows

__all__ = ["LiveTrades", "live_trades"]

_KEPT = 10_000  # trades kept by the stream (``.df``); the tape shows the newest ``rows``


class LiveTrades(LiveObject[Stream]):
    """A live trades tape: see :func:`kunb.live_trades`. ``.df`` (every trade kept), ``.snapshot()``."""

    kind = "trades"

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        url: str,
        simulated: bool,
        key: tuple[Any, ...],
        rows: int = 20,
        max_hz: float = DEFAULT_MAX_HZ,
        source: MarketSource | None = None,
        catalog: SymbolCatalog | None = None,
    ) -> None:
        given: object = rows  # checked at run time: a notebook user may pass anything
        if not isinstance(given, int) or isinstance(given, bool) or not 1 <= rows <= 500:
            raise ConfigurationError(f"rows must be 1..500, got {rows!r}")
        self._symbols = list(dict.fromkeys(symbols))
        self.rows = rows
        self.catalog = catalog
        self._source = source
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.panel = TradesPanel(
            self._symbols, rows=rows, simulated=self.simulated, precision=self._precision
        )
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.panel.controls.on_symbols(self.set_symbols)

    def _new_driver(self, symbols: Sequence[str] | None = None) -> Stream:
        source = self._source or ClassicMarketSource(url=self.url, backoff_cap=10.0)
        return Stream(
            self._symbols if symbols is None else list(symbols),
            book=False,
            ticker=False,
            trades=True,
            stats=False,
            window=_KEPT,
            open_timeout=None,
            source=source,
        )

    @property
    def stream(self) -> Stream:
        return self.driver

    @property
    def symbols(self) -> list[str]:
        return list(self.stream.symbols)

    def _precision(self, symbol: str) -> Precision:
        return self.catalog.precision(symbol) if self.catalog is not None else Precision()

    def _has_data(self) -> bool:
        trades = self.stream.trades
        return trades is not None and len(trades) > 0

    async def _prepare(self, driver: Stream) -> Stream:
        """Look the symbols up: unknown ones are left out (and named), the others stream."""
        self.notice = ""
        if self.catalog is None:
            return driver
        check = await self.catalog.check(self._symbols)
        if not check.rejected:
            return driver
        self.notice = unknown_symbol_message(check.rejected, self.url)
        usable = check.usable(self._symbols)
        if not usable:
            raise ConfigurationError("nothing to stream")
        self.driver = driver = self._new_driver(usable)
        return driver

    def _recent(self) -> list[TapeRow]:
        """The newest ``rows`` trades, newest first."""
        trades = self.stream.trades
        assert trades is not None  # trades=True
        return tape_rows(trades.to_pandas(last=self.rows))

    def _render(self) -> None:
        trades = self.stream.trades
        assert trades is not None
        self.panel.render(self._recent, (id(trades), trades.version), self.status())

    def set_symbols(self, symbols: Sequence[str]) -> None:
        """Show other symbols' trades (the picker calls this): a new stream."""
        if list(symbols) == self._symbols:
            return
        was_running = self.running
        if was_running:
            self.stop()
        self._symbols = list(dict.fromkeys(symbols))
        self.driver = self._new_driver()
        if was_running:
            run_in_loop(self._loop, self._restart_when_stopped)

    @property
    def df(self) -> pd.DataFrame:
        """Every trade kept (up to 10,000), oldest first: ``symbol``, ``side`` (the taker's), ``price``,
        ``size``, ``trade_id``; indexed by the exchange's time (UTC)."""
        trades = self.stream.trades
        assert trades is not None
        return trades.df

    def snapshot(self) -> dict[str, Any]:
        """The newest trades shown (newest first) and counters."""
        return {
            "symbols": self.symbols,
            "trades": [r._asdict() for r in self._recent()],
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }


def live_trades(
    symbols: str | Sequence[str],
    *,
    rows: int = 20,
    url: str | None = None,
    max_hz: float = DEFAULT_MAX_HZ,
    source: MarketSource | None = None,
    protocol: str = "classic",
) -> LiveTrades:
    """The trades tape of ``symbols``: the newest ``rows`` public trades, coloured by the taker's side;
    returns at once.

    Args:
        symbols: ``'BTC-USDT'`` or a list of symbols (unknown ones are left out and named).
        rows: trades shown (the stream keeps the newest 10,000 in ``.df``).
        url, max_hz, source, protocol: as for :func:`live_ticker`.

    Returns:
        A :class:`LiveTrades` (``.df``, ``.snapshot()``, ``.stop()``).
    """
    syms = checked_symbols(symbols)
    live = LiveTrades(
        syms,
        rows=rows,
        max_hz=max_hz,
        **market_panel_args("trades", (tuple(syms),), url, source, protocol),
    )
    live.start()
    return live
