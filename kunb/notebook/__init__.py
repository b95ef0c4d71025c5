"""Live KuCoin panels in Jupyter: ``live_ticker``, ``live_book``, ``live_account``, ``dashboard``.

Every function is a plain synchronous call: it starts background tasks on the kernel's running event
loop (a helper loop thread in a plain script) and returns a live object at once, which displays itself
and exposes its data (``.df``, ``.book``, ``.snapshot()``) for the next cell. Re-running the cell
replaces the previous object; ``.stop()`` ends its tasks and sockets.

Hooks for browser tests and scripts reading the page (stable across versions):

* panels: ``.kunb-live`` plus ``.kunb-ticker`` / ``.kunb-book`` / ``.kunb-account`` / ``.kunb-dashboard``;
* badge: ``span.kunb-status[data-status]`` (connecting, live, reconnecting, resyncing, unreachable,
  stopped), ``span.kunb-source[data-simulated]``, ``span.kunb-rate[data-rate]`` (ticker);
* ticker table ``table.kunb-quotes``: rows ``tr[data-symbol]``, cells ``td.kunb-bid``, ``td.kunb-ask``,
  ``td.kunb-spread``, ``td.kunb-spread-bps``, ``td.kunb-last``, ``td.kunb-change``, ``td.kunb-volume``,
  each with the raw number in ``data-value``;
* book: ``div.kunb-book-caption`` with ``span.kunb-book-state[data-state]`` and
  ``span.kunb-spread[data-spread]``; ``table.kunb-book-top`` rows ``tr[data-level]`` (``td.kunb-bid``...);
* account: ``table.kunb-balances`` rows ``tr[data-currency]``, ``table.kunb-orders`` rows
  ``tr[data-order-id][data-type]``;
* controls: ``.kunb-toggle`` (start/stop), ``.kunb-symbols``, ``.kunb-window``;
* plotly traces (``.js-plotly-plot`` ``.data[i]``): ticker ``name`` ``"<SYMBOL>"`` / ``"<SYMBOL> spread bps"``
  with ``meta`` ``"price:<SYMBOL>"`` / ``"spread:<SYMBOL>"``; book ``bids`` / ``asks`` / ``spread`` with
  ``meta`` ``"depth:bid"`` / ``"depth:ask"`` / ``"spread"``. x of time series is epoch ms (float64) on a
  date axis fixed by the layout template.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..exceptions import ConfigurationError
from ..protocol.symbols import symbol_list
from ..signing import Credentials
from ..sources.base import AccountSource, MarketSource
from ..sources.classic import SnapshotFetcher
from .account import LiveAccount
from .dashboard import Dashboard
from .livebook import LiveBook
from .runtime import allow_nested, cell_key, live_objects, run, stop_all
from .source import account_source, is_simulated, market_source, resolve_url, session_credentials
from .throttle import DEFAULT_MAX_HZ
from .ticker import LiveTicker

__all__ = [
    "Dashboard",
    "LiveAccount",
    "LiveBook",
    "LiveTicker",
    "allow_nested",
    "dashboard",
    "live_account",
    "live_book",
    "live_objects",
    "live_ticker",
    "run",
    "stop_all",
]


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
    return symbol_list(symbols)


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
    source = source or market_source(protocol, resolved)
    live = LiveTicker(
        syms,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("ticker", tuple(syms), resolved, *_other(protocol)),
        window=window,
        max_hz=max_hz,
        source=source,
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
    resolved = source.url if source is not None else resolve_url(url)
    if source is None and protocol != "classic" and snapshots is not None:
        raise ConfigurationError("snapshots= is for the classic protocol's REST snapshots")
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
    )
    live.start()
    return live


def live_account(
    credentials: Credentials | None = None,
    *,
    url: str | None = None,
    max_hz: float = DEFAULT_MAX_HZ,
    source: AccountSource | None = None,
    protocol: str = "classic",
) -> LiveAccount:
    """Show the account's balances and order events live (private channels); returns at once.

    Runs a :class:`kunb.Account`: balances and orders seeded from REST, kept current from the private
    pushes, and re-seeded after every reconnect (KuCoin does not replay private pushes).

    Args:
        credentials: the API key; default: the embedded exchange's demo user when ``kunb.sim.start()``
            runs in this kernel, else ``KUCOIN_API_KEY`` / ``KUCOIN_API_SECRET`` / ``KUCOIN_API_PASSPHRASE``.
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
    source = source or account_source(protocol, creds, resolved)
    live = LiveAccount(
        creds,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("account", creds.key, resolved, *_other(protocol)),
        max_hz=max_hz,
        source=source,
    )
    live.start()
    return live


def dashboard(
    symbols: str | Sequence[str],
    *,
    credentials: Credentials | None = None,
    account: bool | None = None,
    url: str | None = None,
    depth: int = 30,
    max_hz: float = DEFAULT_MAX_HZ,
    protocol: str = "classic",
) -> Dashboard:
    """Ticker, order book (of the first symbol) and, with credentials, the account, in one set of tabs.

    Args:
        symbols: symbols of the ticker; the book shows the first one (its picker changes it).
        credentials, url: as for :func:`live_account` / :func:`live_ticker`.
        account: show the account tab; default: when credentials are available.
        depth: levels per side of the depth chart.
        max_hz: maximum redraws per second of each panel.
        protocol: ``"classic"`` (default) or ``"uta"``, for every panel.

    Returns:
        A :class:`Dashboard`: ``.ticker``, ``.book``, ``.account`` (or None), ``.snapshot()``, ``.stop()``.
    """
    syms = _symbols(symbols)
    resolved = resolve_url(url)
    simulated = is_simulated(resolved)
    creds = credentials or session_credentials(resolved) or Credentials.from_env()
    if account and creds is None:
        _credentials(None, resolved)  # raises with the hint
    # the parts get keys of their own, so a dashboard never replaces a live_ticker shown in another cell
    ticker = LiveTicker(
        syms,
        url=resolved,
        simulated=simulated,
        key=cell_key("dashboard-ticker", tuple(syms), resolved),
        max_hz=max_hz,
        source=market_source(protocol, resolved),
    )
    book = LiveBook(
        syms[0],
        url=resolved,
        simulated=simulated,
        key=cell_key("dashboard-book", resolved),
        depth=depth,
        max_hz=max_hz,
        source=market_source(protocol, resolved),
    )
    acct = None
    if creds is not None and account is not False:
        acct = LiveAccount(
            creds,
            url=resolved,
            simulated=simulated,
            key=cell_key("dashboard-account", resolved),
            max_hz=max_hz,
            source=account_source(protocol, creds, resolved),
        )
    dash = Dashboard(ticker, book, acct)
    dash.start()
    return dash
