"""``live_account``: balances and order events of one API key, from :class:`kunb.Account`, drawn live."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pandas as pd

from ..account import Account
from ..events import OrderEvent
from ..signing import Credentials
from ..sources.base import AccountSource
from ..sources.classic import ClassicAccountSource
from .accountpanel import AccountPanel
from .live import LiveObject
from .throttle import DEFAULT_MAX_HZ

__all__ = ["LiveAccount", "OrderEvents"]

# the columns of the order-events table, named as KuCoin's order push names them
_EVENT_COLUMNS = [
    "time", "symbol", "side", "orderType", "type", "status", "price", "size", "filledSize", "remainSize",
    "matchPrice", "matchSize", "tradeId", "liquidity", "orderId", "clientOid", "ts",
]  # fmt: skip


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
                "time": pd.Timestamp(ts, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC",
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


class LiveAccount(LiveObject[Account]):
    """A live account view: see :func:`kunb.live_account`. ``.account`` (its :class:`kunb.Account`),
    ``.df``, ``.orders_df``, ``.snapshot()``."""

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
    ) -> None:
        self.credentials = credentials
        self._source = source
        self.orders = OrderEvents()
        super().__init__(url=url, simulated=simulated, key=key, max_hz=max_hz)
        self.panel = AccountPanel(simulated=self.simulated)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)

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
            if b.account_type == "trade"
        ]
        return rows

    def _render(self) -> None:
        self.panel.render(self._balances(), self.orders.events, self.status())

    # ---- data out -----------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """Balances of the trade account: one row per currency (floats), and where each value came from."""
        frame = pd.DataFrame(self._balances(), columns=["currency", "total", "available", "hold", "source"])
        for column in ("total", "available", "hold"):
            frame[column] = frame[column].astype("float64")
        return frame.set_index("currency")

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
            "orders": [dict(e) for e in self.orders.events],
            "seeded": self.seeded,
            "reseeds": account.counters.reseeds,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }
