"""The panel functions in one place: ``dashboard`` (every panel at once), and ``live_ticker``,
``live_book``, ``live_candles``, ``live_trades``, ``live_account`` re-exported from their panels' modules
(each defined next to its panel, so that a first ``live_ticker`` imports neither pandas nor the other
panels). Each builds its live object from the session's defaults (exchange URL, credentials, protocol)
and starts it. Re-exported by :mod:`kunb.notebook` and :mod:`kunb`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..signing import Credentials
from .account import LiveAccount, account_prices, live_account
from .calls import checked_symbols, credentials_for
from .candles import LiveCandles, live_candles
from .livebook import LiveBook, live_book
from .livedashboard import Dashboard
from .runtime import cell_key
from .source import account_source, is_simulated, market_source, resolve_url, session_credentials
from .symbols import SymbolCatalog
from .throttle import DEFAULT_MAX_HZ
from .ticker import LiveTicker, live_ticker
from .trades import LiveTrades, live_trades

__all__ = ["dashboard", "live_account", "live_book", "live_candles", "live_ticker", "live_trades"]


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
    syms = checked_symbols(symbols)
    resolved = resolve_url(url)
    simulated = is_simulated(resolved)
    catalog = SymbolCatalog(resolved)
    creds = credentials or session_credentials(resolved) or Credentials.from_env()
    if account and creds is None:
        credentials_for(None, resolved)  # raises with the hint
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
            prices=account_prices(protocol, quote, resolved, catalog),
            **common,
        )
    dash = Dashboard(ticker, book, acct, candles=candles, trades=trades, layout=layout)
    dash.start()
    return dash
