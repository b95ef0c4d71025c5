"""The panel functions: ``live_ticker``, ``live_book``, ``live_candles``, ``live_trades``, ``live_account``,
``dashboard``; each builds its live object from the session's defaults (exchange URL, credentials, protocol)
and starts it. Re-exported by :mod:`kunb.notebook` and :mod:`kunb`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError
from ..protocol.symbols import symbol_list
from ..signing import Credentials
from ..sources.base import AccountSource, MarketSource
from ..sources.classic import ClassicMarketSource, SnapshotFetcher
from .account import LiveAccount
from .candles import LiveCandles
from .livebook import LiveBook
from .livedashboard import Dashboard
from .prices import PriceBoard
from .runtime import cell_key
from .source import account_source, is_simulated, market_source, resolve_url, session_credentials
from .symbols import SymbolCatalog
from .throttle import DEFAULT_MAX_HZ
from .ticker import LiveTicker
from .trades import LiveTrades

__all__ = ["dashboard", "live_account", "live_book", "live_candles", "live_ticker", "live_trades"]


def _credentials(credentials: Credentials | None, url: str) -> Credentials:
    creds = credentials or session_credentials(url) or Credentials.from_env()
    if creds is None:
        raise ConfigurationError(
            "live_account needs API credentials: pass credentials=kunb.Credentials(key, secret, passphrase), "
            "set KUCOIN_API_KEY / KUCOIN_API_SECRET / KUCOIN_API_PASSPHRASE, or start the embedded exchange "
            "with kunb.sim.start() (its demo user is used)"
        )
    return creds


def _other(protocol: str) -> tuple[str, ...]:
    """A registry key part that keeps a UTA panel from replacing a classic one (classic keys unchanged)."""
    return () if protocol == "classic" else (protocol,)


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    """The symbols a panel was given, checked (:func:`~kunb.protocol.symbols.symbol_list`: not a symbol at
    all is a ConfigurationError showing what was passed) and in upper case (what a cell meant by
    ``'btc-usdt'``)."""
    names = list(dict.fromkeys(s.upper() for s in symbol_list(symbols)))
    if not names:
        raise ConfigurationError(f"give symbols as 'BTC-USDT' or a list of such names, got {symbols!r}")
    return names


def _catalog(source: object, url: str) -> SymbolCatalog | None:
    """Symbols are looked up at the exchange's REST API, unless the data comes from a custom source (a
    recording, a test), which has none."""
    return SymbolCatalog(url) if source is None else None


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
    syms = _symbols(symbols)
    resolved = source.url if source is not None else resolve_url(url)
    catalog = _catalog(source, resolved)
    source = source or market_source(protocol, resolved)
    live = LiveTicker(
        syms,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("ticker", tuple(syms), resolved, *_other(protocol)),
        window=window,
        max_hz=max_hz,
        source=source,
        catalog=catalog,
    )
    live.start()
    return live


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
    symbol = _symbols(symbol)[0]
    resolved = source.url if source is not None else resolve_url(url)
    if source is None and protocol != "classic" and snapshots is not None:
        raise ConfigurationError("snapshots= is for the classic protocol's REST snapshots")
    catalog = _catalog(source, resolved)
    source = source or market_source(protocol, resolved)
    live = LiveBook(
        symbol,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("book", symbol, resolved, *_other(protocol)),
        depth=depth,
        window=window,
        max_hz=max_hz,
        snapshots=snapshots,
        source=source,
        catalog=catalog,
    )
    live.start()
    return live


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
    symbol = _symbols(symbol)[0]
    resolved = source.url if source is not None else resolve_url(url)
    catalog = _catalog(source, resolved)
    history = source is None  # a recording or a test source has no REST history
    source = source or market_source(protocol, resolved)
    live = LiveCandles(
        symbol,
        interval,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("candles", symbol, interval, resolved, *_other(protocol)),
        window=window,
        max_hz=max_hz,
        source=source,
        catalog=catalog,
        history=history,
    )
    live.start()
    return live


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
    syms = _symbols(symbols)
    resolved = source.url if source is not None else resolve_url(url)
    catalog = _catalog(source, resolved)
    source = source or market_source(protocol, resolved)
    live = LiveTrades(
        syms,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("trades", tuple(syms), resolved, *_other(protocol)),
        rows=rows,
        max_hz=max_hz,
        source=source,
        catalog=catalog,
    )
    live.start()
    return live


def live_account(
    credentials: Credentials | None = None,
    *,
    quote: str = "USDT",
    url: str | None = None,
    max_hz: float = DEFAULT_MAX_HZ,
    source: AccountSource | None = None,
    protocol: str = "classic",
) -> LiveAccount:
    """Show the account's value, holdings, open orders, fills and order events live; returns at once.

    Runs a :class:`kunb.Account`: balances and orders seeded from REST, kept current from the private
    pushes, and re-seeded after every reconnect (KuCoin does not replay private pushes). The holdings of
    the trading account are valued in ``quote`` at the mid prices of their markets, followed live by a
    :class:`kunb.Stream` of those markets' tickers; the value is also drawn over time.

    Args:
        credentials: the API key; default: the embedded exchange's demo user when ``kunb.sim.start()``
            runs in this kernel, else ``KUCOIN_API_KEY`` / ``KUCOIN_API_SECRET`` / ``KUCOIN_API_PASSPHRASE``.
        quote: the currency the account is valued in (each held currency needs a ``CUR-QUOTE`` or
            ``QUOTE-CUR`` market; the panel names those without one).
        url: the exchange's REST base URL (default as for :func:`live_ticker`).
        max_hz: maximum redraws per second.
        source: a custom :class:`~kunb.sources.base.AccountSource` (tests) instead of ``url``.
        protocol: ``"classic"`` (default) or ``"uta"`` (the unified trading account: ``op:auth`` on the
            private UTA socket, balances of account type ``unified``).

    Raises:
        ConfigurationError: no credentials anywhere (the message says where to put them).
    """
    resolved = source.url if source is not None else resolve_url(url)
    creds = _credentials(credentials, resolved)
    # a custom source (a recording, a test) has no markets to price the holdings with
    catalog = _catalog(source, resolved)
    prices = None if source is not None else _prices(protocol, quote, resolved, catalog)
    source = source or account_source(protocol, creds, resolved)
    live = LiveAccount(
        creds,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("account", creds.key, resolved, *_other(protocol)),
        max_hz=max_hz,
        source=source,
        quote=quote,
        catalog=catalog,
        prices=prices,
    )
    live.start()
    return live


def _prices(protocol: str, quote: str, url: str, catalog: SymbolCatalog | None) -> PriceBoard:
    """The account panel's live prices, over the same protocol as the account."""

    def source() -> MarketSource:
        return market_source(protocol, url) or ClassicMarketSource(url=url, backoff_cap=10.0)

    return PriceBoard(quote, url=url, catalog=catalog, source=source)


def dashboard(
    symbols: str | Sequence[str],
    *,
    credentials: Credentials | None = None,
    account: bool | None = None,
    url: str | None = None,
    depth: int = 30,
    interval: str = "1min",
    quote: str = "USDT",
    layout: str = "auto",
    max_hz: float = DEFAULT_MAX_HZ,
    protocol: str = "classic",
) -> Dashboard:
    """Ticker and trades of ``symbols``; order book and candles of the first; with credentials, the account.

    Side by side (two columns) where the output is at least 1,100 px wide, as tabs where it is narrower
    (the choice follows the output as it is resized; ``layout="tabs"`` or ``"grid"`` fixes it).

    Args:
        symbols: symbols of the ticker and the trades; the book and candles show the first one (their
            pickers change it).
        credentials, url: as for :func:`live_account` / :func:`live_ticker`.
        account: show the account panel; default: when credentials are available.
        depth: levels per side of the depth chart.
        interval: the candles' interval.
        quote: the currency the account is valued in.
        layout: ``"auto"`` (default), ``"tabs"`` or ``"grid"``.
        max_hz: maximum redraws per second of each panel.
        protocol: ``"classic"`` (default) or ``"uta"``, for every panel.

    Returns:
        A :class:`Dashboard`: ``.ticker``, ``.book``, ``.candles``, ``.trades``, ``.account`` (or None),
        ``.snapshot()``, ``.stop()``.
    """
    syms = _symbols(symbols)
    resolved = resolve_url(url)
    simulated = is_simulated(resolved)
    catalog = SymbolCatalog(resolved)
    creds = credentials or session_credentials(resolved) or Credentials.from_env()
    if account and creds is None:
        _credentials(None, resolved)  # raises with the hint
    # the parts get keys of their own, so a dashboard never replaces a live_ticker shown in another cell
    common: dict[str, Any] = {"url": resolved, "simulated": simulated, "max_hz": max_hz, "catalog": catalog}
    ticker = LiveTicker(
        syms,
        key=cell_key("dashboard-ticker", tuple(syms), resolved),
        source=market_source(protocol, resolved),
        **common,
    )
    book = LiveBook(
        syms[0],
        key=cell_key("dashboard-book", resolved),
        depth=depth,
        source=market_source(protocol, resolved),
        **common,
    )
    candles = LiveCandles(
        syms[0],
        interval,
        key=cell_key("dashboard-candles", resolved),
        source=market_source(protocol, resolved),
        **common,
    )
    trades = LiveTrades(
        syms, key=cell_key("dashboard-trades", resolved), source=market_source(protocol, resolved), **common
    )
    acct = None
    if creds is not None and account is not False:
        acct = LiveAccount(
            creds,
            key=cell_key("dashboard-account", resolved),
            source=account_source(protocol, creds, resolved),
            quote=quote,
            prices=_prices(protocol, quote, resolved, catalog),
            **common,
        )
    dash = Dashboard(ticker, book, acct, candles=candles, trades=trades, layout=layout)
    dash.start()
    return dash
