"""Live KuCoin panels in Jupyter: ``live_ticker``, ``live_book``, ``live_candles``, ``live_trades``,
``live_account``, ``dashboard``.

Every function is a plain synchronous call: it starts background tasks on the kernel's running event
loop (a helper loop thread in a plain script) and returns a live object at once, which displays itself
and exposes its data (``.df``, ``.book``, ``.snapshot()``) for the next cell. Re-running the cell
replaces the previous object; ``.stop()`` ends its tasks and sockets. Charts are
:class:`~kunb.notebook.figure.LiveFigure` widgets: plotly.js reaches the page once per kernel, and each
redraw sends only what changed.

Hooks for browser tests and scripts reading the page (stable across versions):

* panels: ``.kunb-live`` plus ``.kunb-ticker`` / ``.kunb-book`` / ``.kunb-candles`` / ``.kunb-trades`` /
  ``.kunb-account``; a dashboard is ``.kunb-dashboard`` holding them twice, in ``.kunb-dash-grid`` and
  ``.kunb-dash-tabs`` (one of the two is hidden: look inside the visible one);
* badge: ``span.kunb-status[data-status]`` (connecting, live, reconnecting, resyncing, unreachable,
  stopped), ``span.kunb-source[data-simulated]``, ``span.kunb-rate[data-rate]`` (ticker),
  ``div.kunb-notice`` (what the panel left out and why: an unknown symbol);
* ticker table ``table.kunb-quotes``: rows ``tr[data-symbol]``, cells ``td.kunb-bid``, ``td.kunb-ask``,
  ``td.kunb-spread``, ``td.kunb-spread-bps``, ``td.kunb-last``, ``td.kunb-change``, ``td.kunb-volume``,
  ``td.kunb-time``, each with the raw number in ``data-value``;
* book: ``div.kunb-book-caption`` with ``span.kunb-book-state[data-state]`` and
  ``span.kunb-spread[data-spread]``; ``table.kunb-book-top`` rows ``tr[data-level]`` (``td.kunb-bid``...);
* candles: ``div.kunb-candle-latest[data-open][data-high][data-low][data-close][data-volume]``;
* trades: ``table.kunb-trades`` rows ``tr[data-trade-id][data-side][data-symbol]``;
* account: ``div.kunb-portfolio-value[data-value][data-quote]``; ``table.kunb-balances`` rows
  ``tr[data-currency]`` (``td.kunb-value``, ``td.kunb-share``...); ``table.kunb-open-orders`` and
  ``table.kunb-orders`` rows ``tr[data-order-id]`` (events also ``[data-type]``); ``table.kunb-fills`` rows
  ``tr[data-trade-id]``;
* controls: ``.kunb-toggle`` (start/stop), ``.kunb-symbols``, ``.kunb-window``;
* figures: ``.kunb-live-figure`` with ``data-draws`` (draws so far) and ``data-visible`` (whether the
  view is on screen, so it draws), holding the plotly div ``.js-plotly-plot`` (``.data[i]``). Traces:
  ticker ``name`` ``"<SYMBOL>"`` / ``"<SYMBOL> spread bps"`` with ``meta`` ``"price:<SYMBOL>"`` /
  ``"spread:<SYMBOL>"``; book ``bids`` / ``asks`` / ``spread`` with ``meta`` ``"depth:bid"`` /
  ``"depth:ask"`` / ``"spread"``; candles ``candles`` / ``volume``; account ``equity``. x of time series
  is epoch ms (float64) on a date axis; every column travels as binary float64.
* the page's plotly.js registry: ``globalThis[Symbol.for("kunb.livefigure.v1")].stats`` (``bundles``
  received, ``evaluations``, ``requests``, ``draws``).

The package loads lazily (PEP 562), like :mod:`kunb`: ``import kunb.notebook`` is cheap, and the first panel
call of a kernel session first hands plotly.js to the page (:mod:`kunb.notebook.plotlyjs`), so that the
page evaluates it (a second or more) while the kernel imports the panels.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__all__ = [
    "Dashboard",
    "LiveAccount",
    "LiveBook",
    "LiveCandles",
    "LiveTicker",
    "LiveTrades",
    "allow_nested",
    "dashboard",
    "live_account",
    "live_book",
    "live_candles",
    "live_objects",
    "live_ticker",
    "live_trades",
    "run",
    "stop_all",
]

# public name -> the module of this package that defines it (a panel's function lives with its panel: the
# first ``live_ticker`` of a session imports neither pandas nor the other panels)
_LAZY: dict[str, str] = {
    "Dashboard": "livedashboard",
    "LiveAccount": "account",
    "LiveBook": "livebook",
    "LiveCandles": "candles",
    "LiveTicker": "ticker",
    "LiveTrades": "trades",
    "allow_nested": "runtime",
    "dashboard": "api",
    "live_account": "account",
    "live_book": "livebook",
    "live_candles": "candles",
    "live_objects": "runtime",
    "live_ticker": "ticker",
    "live_trades": "trades",
    "run": "runtime",
    "stop_all": "runtime",
}


_PANEL_CALLS = frozenset(
    {"dashboard", "live_account", "live_book", "live_candles", "live_ticker", "live_trades"}
)


def _kernel_shell() -> Any:
    """The IPython shell when this process is a Jupyter kernel (a page may be there to receive plotly.js),
    else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kunb.notebook' has no attribute {name!r}")
    shell = _kernel_shell() if name in _PANEL_CALLS and f"kunb.notebook.{module}" not in sys.modules else None
    if shell is not None:
        # before the panel's imports (the first one's take most of a second): the page starts on plotly.js
        # meanwhile (once per kernel: shared_library keeps the widget)
        importlib.import_module("kunb.notebook.plotlyjs").shared_library()
        # and once this cell is done, pandas loads in the background for the panels that need it
        importlib.import_module("kunb.notebook.warmup").warm_after_cell(shell)
    value = getattr(importlib.import_module(f"kunb.notebook.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    # `X as X`: explicit re-exports for type checkers (mypy --strict: no_implicit_reexport)
    from .account import LiveAccount as LiveAccount
    from .account import live_account as live_account
    from .api import dashboard as dashboard
    from .candles import LiveCandles as LiveCandles
    from .candles import live_candles as live_candles
    from .livebook import LiveBook as LiveBook
    from .livebook import live_book as live_book
    from .livedashboard import Dashboard as Dashboard
    from .runtime import allow_nested as allow_nested
    from .runtime import live_objects as live_objects
    from .runtime import run as run
    from .runtime import stop_all as stop_all
    from .ticker import LiveTicker as LiveTicker
    from .ticker import live_ticker as live_ticker
    from .trades import LiveTrades as LiveTrades
    from .trades import live_trades as live_trades
