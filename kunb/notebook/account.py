"""``live_account``: an API key's holdings valued in a quote currency, open orders, fills and order events,
from :class:`kunb.Account`, with live prices from a :class:`kunb.Stream` of the held currencies' markets."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..account import Account
from ..events import Fill, OrderEvent
from ..signing import Credentials
from ..sources.base import AccountSource, MarketSource
from ..sources.classic import ClassicAccountSource, ClassicMarketSource
from .accountpanel import AccountPanel, OpenOrder
from .calls import catalog_for, credentials_for, protocol_key
from .formats import fmt_time
from .live import LiveObject
from .portfolio import EquityCurve, Valuation, value_holdings
from .prices import PriceBoard
from .runtime import cell_key
from .source import account_source, is_simulated, market_source, resolve_url
from .symbols import SymbolCatalog
from .throttle import DEFAULT_MAX_HZ

__all__ = ["FILL_COLUMNS", "Fills", "LiveAccount", "OrderEvents", "account_prices", "live_account"]

# the columns of the order-events table, named as KuCoin's order push names them
_EVENT_COLUMNS = [
    "time", "symbol", "side", "orderType", "type", "status", "price", "size", "filledSize", "remainSize",
    "matchPrice", "matchSize", "tradeId", "liquidity", "orderId", "clientOid", "ts",
]  # fmt: skip
FILL_COLUMNS = ["time", "symbol", "side", "price", "size", "value", "liquidity", "fee", "fee_currency",
                "trade_id", "order_id", "time_ns"]  # fmt: skip
#: the account types valued: classic spot trading, and the unified trading account (protocol="uta")
_TRADING_ACCOUNTS = ("trade", "unified")
_NO_PRICES: dict[str, str] = {}  # without a price board, the quote currency alone has a value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class OrderEvents:
    """The newest order events as table rows, newest first, bounded (pure; no I/O)."""

    def __init__(self, *, max_events: int = 500) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)

    def on_order(self, event: OrderEvent) -> None:
        ts = event.time_ns
        self.events.appendleft(
            {
                "time": fmt_time(ts),
                "symbol": event.symbol,
                "side": event.side,
                "orderType": event.order_type,
                "type": event.kind,
                "status": event.status,
                "price": _text(event.price),
                "size": _text(event.size),
                "filledSize": _text(event.filled_size),
                "remainSize": _text(event.remain_size),
                "matchPrice": _text(event.match_price),
                "matchSize": _text(event.match_size),
                "tradeId": event.trade_id,
                "liquidity": event.liquidity,
                "orderId": event.order_id,
                "clientOid": event.client_oid,
                "ts": ts,
            }
        )


class Fills:
    """The account's newest fills, newest first, bounded: from ``match`` order events (classic) and
    ``Fill`` events (UTA ``execution``), each trade once (pure; no I/O)."""

    def __init__(self, *, max_fills: int = 200) -> None:
        self.rows: deque[dict[str, Any]] = deque(maxlen=max_fills)
        self._seen: deque[tuple[str, str]] = deque(maxlen=4 * max_fills)

    def _add(self, key: tuple[str, str], row: dict[str, Any]) -> None:
        if key in self._seen:
            return
        self._seen.append(key)
        self.rows.appendleft(row)

    def on_order(self, event: OrderEvent) -> None:
        if event.kind != "match" or event.match_price is None or event.match_size is None:
            return
        price, size = float(event.match_price), float(event.match_size)
        self._add(
            (event.order_id, event.trade_id),
            {"time": fmt_time(event.time_ns), "symbol": event.symbol, "side": event.side, "price": price,
             "size": size, "value": price * size, "liquidity": event.liquidity, "fee": math.nan,
             "fee_currency": "", "trade_id": event.trade_id, "order_id": event.order_id,
             "time_ns": event.time_ns},
        )  # fmt: skip

    def on_fill(self, fill: Fill) -> None:
        price, size = float(fill.price), float(fill.size)
        self._add(
            (fill.order_id, fill.trade_id),
            {"time": fmt_time(fill.time_ns), "symbol": fill.symbol, "side": fill.side, "price": price,
             "size": size, "value": price * size, "liquidity": fill.liquidity,
             "fee": math.nan if fill.fee is None else float(fill.fee), "fee_currency": fill.fee_currency,
             "trade_id": fill.trade_id, "order_id": fill.order_id, "time_ns": fill.time_ns},
        )  # fmt: skip


class LiveAccount(LiveObject[Account]):
    """A live account view: see :func:`kunb.live_account`. ``.account`` (its :class:`kunb.Account`),
    ``.df`` (holdings with their value), ``.value``, ``.equity_df``, ``.open_orders_df``, ``.fills_df``,
    ``.orders_df``, ``.snapshot()``."""

    kind = "account"

    def __init__(
        self,
        credentials: Credentials,
        *,
        url: str,
        simulated: bool,
        key: tuple[Any, ...],
        max_hz: float = DEFAULT_MAX_HZ,
        source: AccountSource | None = None,
        quote: str = "USDT",
        catalog: SymbolCatalog | None = None,
        prices: PriceBoard | None = None,
    ) -> None:
        self.credentials = credentials
        self.quote = quote
        self._source = source
        self.orders = OrderEvents()
        self.fills = Fills()
        self.equity = EquityCurve()
        self._wall: Callable[[], float] = time.time
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.catalog = catalog
        self.prices = prices
        if prices is not None:
            prices.on_change = self.throttle.mark
        self.panel = AccountPanel(simulated=self.simulated, quote=quote, precision=self._precision)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)
        self.valuation = Valuation(quote, [], 0.0, [])

    def _new_driver(self) -> Account:
        # a custom source (a recording, a test) serves every driver: a restarted panel must not fall back
        # to the network; sources can be opened again after they were closed
        source = self._source or ClassicAccountSource(self.credentials, url=self.url, backoff_cap=10.0)
        account = Account(open_timeout=None, source=source)
        account.add_sink(self._on_account_event)
        return account

    def _on_account_event(self, event: Any, result: Any) -> None:
        if isinstance(event, OrderEvent) and result is not None:
            self.orders.on_order(event)
            self.fills.on_order(event)
        elif isinstance(event, Fill):
            self.fills.on_fill(event)

    def _started(self, driver: Account) -> None:
        if self.prices is not None:
            self._spawn_child(self.prices.run(), "prices")

    def _price(self, currency: str) -> float:
        return self.prices.price(currency) if self.prices is not None else math.nan

    @property
    def _unpriced(self) -> dict[str, str]:
        return self.prices.unpriced if self.prices is not None else _NO_PRICES

    def _precision(self, symbol: str) -> Any:
        return self.catalog.precision(symbol) if self.catalog is not None else None

    @property
    def account(self) -> Account:
        """The :class:`kunb.Account` this panel draws."""
        return self.driver

    @property
    def seeded(self) -> bool:
        return self.account.counters.seeds > 0

    def _has_data(self) -> bool:
        return self.seeded

    def _balances(self) -> list[dict[str, Any]]:
        account = self.account
        rows = [
            {
                "currency": b.currency,
                "total": b.total,
                "available": b.available,
                "hold": b.hold,
                "source": b.source,
            }
            for b in sorted(account.holdings.balances.values(), key=lambda b: b.currency)
            if b.account_type in _TRADING_ACCOUNTS
        ]
        return rows

    def _value(self) -> Valuation:
        rows = self._balances()
        if self.prices is not None:
            self.prices.want(r["currency"] for r in rows if r["total"])
        valuation = value_holdings(
            ((r["currency"], r["total"], r["available"], r["hold"]) for r in rows), self._price, self.quote
        )
        # a point of the curve only when every price is in (currencies without a market never will be)
        if self.seeded and self._settled(valuation):
            self.equity.record(self._wall() * 1000, valuation.total)
        return valuation

    def _settled(self, valuation: Valuation) -> bool:
        return self.prices is None or set(valuation.unpriced) <= set(self._unpriced)

    @property
    def valued(self) -> bool:
        """Whether :attr:`value` is complete: seeded, and every held currency priced (or known to have no
        market to price it with). ``await account.wait_until(lambda: account.valued)`` before reading it."""
        return self.seeded and self.valuation.holdings != [] and self._settled(self.valuation)

    def _open_orders(self) -> list[OpenOrder]:
        orders = [o for o in list(self.account.holdings.orders.values()) if not o.done]
        orders.sort(key=lambda o: -(o.order_time_ns or o.updated_ns or 0))
        return [OpenOrder.of(o) for o in orders]

    def _render(self) -> None:
        self.valuation = self._value()
        self.panel.render(
            self.valuation,
            self._open_orders(),
            list(self.fills.rows),
            self.orders.events,
            self.equity,
            self.status(),
            unpriced=self._unpriced,
        )

    # ---- data out -----------------------------------------------------------------------------

    @property
    def value(self) -> float:
        """The account's value in :attr:`quote` at the latest redraw (currencies without a price left out)."""
        return self.valuation.total

    @property
    def df(self) -> pd.DataFrame:
        """Holdings of the trading account, one row per currency (floats): amounts, ``price`` and ``value``
        in the quote currency, ``share`` of the total, and where each amount came from (``source``)."""
        valuation = value_holdings(
            ((r["currency"], r["total"], r["available"], r["hold"]) for r in self._balances()),
            self._price,
            self.quote,
        )
        sources = {r["currency"]: r["source"] for r in self._balances()}
        frame = pd.DataFrame(
            [
                {
                    "currency": h.currency,
                    "total": h.total,
                    "available": h.available,
                    "hold": h.hold,
                    "price": h.price,
                    "value": h.value,
                    "share": h.share,
                    "source": sources.get(h.currency, ""),
                }
                for h in valuation.holdings
            ],
            columns=["currency", "total", "available", "hold", "price", "value", "share", "source"],
        )
        return frame.set_index("currency")

    @property
    def equity_df(self) -> pd.DataFrame:
        """The account's value over time (``value`` in the quote currency, by UTC time)."""
        t, v = self.equity.arrays()
        index = pd.to_datetime(t.astype("int64"), unit="ms", utc=True).as_unit("ns").rename("time")
        return pd.DataFrame({"value": v}, index=index)

    @property
    def open_orders_df(self) -> pd.DataFrame:
        """Orders not done yet, newest first."""
        return pd.DataFrame([o.row() for o in self._open_orders()], columns=OpenOrder.COLUMNS)

    @property
    def fills_df(self) -> pd.DataFrame:
        """The newest fills, newest first (price, size and value as floats)."""
        return pd.DataFrame(list(self.fills.rows), columns=FILL_COLUMNS)

    @property
    def orders_df(self) -> pd.DataFrame:
        """Order events, newest first (columns named as in KuCoin's order push)."""
        return pd.DataFrame(list(self.orders.events), columns=_EVENT_COLUMNS)

    def snapshot(self) -> dict[str, Any]:
        account = self.account
        return {
            "balances": {
                r["currency"]: {
                    k: float(r[k]) if r[k] is not None else math.nan for k in ("total", "available", "hold")
                }
                for r in self._balances()
            },
            "quote": self.quote,
            "value": self.valuation.total,
            "holdings": {
                h.currency: {"price": h.price, "value": h.value, "share": h.share}
                for h in self.valuation.holdings
            },
            "unpriced": list(self.valuation.unpriced),
            "equity_points": len(self.equity),
            "open_orders": [o.order_id for o in self._open_orders()],
            "fills": [dict(f) for f in self.fills.rows],
            "orders": [dict(e) for e in self.orders.events],
            "seeded": self.seeded,
            "reseeds": account.counters.reseeds,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }


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
    creds = credentials_for(credentials, resolved)
    # a custom source (a recording, a test) has no markets to price the holdings with
    catalog = catalog_for(source, resolved)
    prices = None if source is not None else account_prices(protocol, quote, resolved, catalog)
    source = source or account_source(protocol, creds, resolved)
    live = LiveAccount(
        creds,
        url=resolved,
        simulated=is_simulated(resolved),
        key=cell_key("account", creds.key, resolved, *protocol_key(protocol)),
        max_hz=max_hz,
        source=source,
        quote=quote,
        catalog=catalog,
        prices=prices,
    )
    live.start()
    return live


def account_prices(protocol: str, quote: str, url: str, catalog: SymbolCatalog | None) -> PriceBoard:
    """The account panel's live prices, over the same protocol as the account."""

    def source() -> MarketSource:
        return market_source(protocol, url) or ClassicMarketSource(url=url, backoff_cap=10.0)

    return PriceBoard(quote, url=url, catalog=catalog, source=source)
