"""Live KuCoin panels in Jupyter: ``live_ticker``, ``live_book``, ``live_account``, ``dashboard``.

Every function is a plain synchronous call: it starts background tasks on the kernel's running event
loop (a helper loop thread in a plain script) and returns a live object at once, which displays itself
and exposes its data (``.df``, ``.book``, ``.snapshot()``) for the next cell. Re-running the cell
replaces the previous object; ``.stop()`` ends its tasks and sockets.
"""

from __future__ import annotations

from collections.abc import Sequence

from .livebook import LiveBook, SnapshotFetcher
from .runtime import allow_nested, cell_key, live_objects, run, stop_all
from .source import Feed, is_simulated, resolve_url
from .throttle import DEFAULT_MAX_HZ
from .ticker import LiveTicker

__all__ = [
    "LiveBook",
    "LiveTicker",
    "allow_nested",
    "live_book",
    "live_objects",
    "live_ticker",
    "run",
    "stop_all",
]


def _default_feed(url: str | None) -> Feed:
    from .wsfeed import ClientFeed

    resolved = resolve_url(url)
    return ClientFeed(resolved, simulated=is_simulated(resolved))


def _symbols(symbols: str | Sequence[str]) -> list[str]:
    return [symbols] if isinstance(symbols, str) else list(symbols)


def live_ticker(
    symbols: str | Sequence[str],
    *,
    url: str | None = None,
    window: int = 2000,
    max_hz: float = DEFAULT_MAX_HZ,
    feed: Feed | None = None,
) -> LiveTicker:
    """Stream tickers for ``symbols`` and show them live; returns at once.

    Args:
        symbols: ``'BTC-USDT'`` or a list of symbols.
        url: the exchange's REST base URL; default ``$KUNB_URL``, else the embedded exchange started
            with ``kunb.sim.start()``, else ``https://api.kucoin.com``.
        window: points kept (and drawn) per symbol.
        max_hz: maximum redraws per second; ingest never waits for a redraw.
        feed: a custom :class:`~kunb.notebook.source.Feed` (tests, replays); overrides ``url``.

    Returns:
        A :class:`LiveTicker`; it displays itself as the value of a cell.
    """
    syms = _symbols(symbols)
    source = feed if feed is not None else _default_feed(url)
    live = LiveTicker(
        syms, source, key=cell_key("ticker", tuple(syms), source.url), window=window, max_hz=max_hz
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
    feed: Feed | None = None,
    snapshots: SnapshotFetcher | None = None,
) -> LiveBook:
    """Keep ``symbol``'s level-2 book in sync and show it live; returns at once.

    The book follows KuCoin's procedure (buffer ``/market/level2`` pushes, fetch a REST snapshot, replay,
    re-snapshot on a gap) through :class:`kunb.book.OrderBook`; the badge says ``resyncing`` meanwhile.

    Args:
        symbol: e.g. ``'BTC-USDT'``.
        depth: levels per side drawn in the depth chart.
        url: the exchange's REST base URL (default as for :func:`live_ticker`).
        window: spread points kept for the spread-over-time chart.
        max_hz: maximum redraws per second.
        feed: a custom Feed (tests, replays); overrides ``url``.
        snapshots: ``async (symbol) -> snapshot`` (default: ``GET .../level2_100`` on the feed's URL).

    Returns:
        A :class:`LiveBook` (``.book``, ``.df``, ``.spread_df``, ``.snapshot()``, ``.stop()``).
    """
    source = feed if feed is not None else _default_feed(url)
    live = LiveBook(
        symbol,
        source,
        key=cell_key("book", symbol, source.url),
        depth=depth,
        window=window,
        max_hz=max_hz,
        snapshots=snapshots,
    )
    live.start()
    return live
