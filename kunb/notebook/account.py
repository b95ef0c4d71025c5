"""``live_account``: balances and order events of one API key, from :class:`kunb.Account`, drawn live."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..signing import Credentials
from .accountfeed import AccountFeed
from .accountpanel import AccountPanel
from .live import LiveObject
from .throttle import DEFAULT_MAX_HZ

__all__ = ["ACCOUNT_TOPICS", "LiveAccount", "OrderEvents"]

ACCOUNT_TOPICS = ["/account/balance", "/spotMarket/tradeOrders"]
# kucoin-protocol.md 2.3: the fields of an order-change push (plus ``time``, added for display)
_EVENT_COLUMNS = [
    "time",
    "symbol",
    "side",
    "orderType",
    "type",
    "status",
    "price",
    "size",
    "filledSize",
    "remainSize",
    "matchPrice",
    "matchSize",
    "tradeId",
    "liquidity",
    "orderId",
    "clientOid",
    "ts",
]


class OrderEvents:
    """The newest order-change pushes, newest first, bounded (pure; no I/O)."""

    def __init__(self, *, max_events: int = 500) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)

    def on_order(self, data: Mapping[str, Any]) -> None:
        event = dict(data)
        ts = event.get("ts")
        if isinstance(ts, int | float):  # ns on the wire (2.3): show a readable UTC time
            event["time"] = time.strftime("%H:%M:%S", time.gmtime(ts / 1e9)) + f".{int(ts / 1e6) % 1000:03d}"
        self.events.appendleft(event)


class LiveAccount(LiveObject):
    """A live account view: see :func:`kunb.live_account`. ``.account`` (the running :class:`kunb.Account`),
    ``.df``, ``.orders_df``, ``.snapshot()``."""

    kind = "account"

    def __init__(
        self,
        feed: AccountFeed,
        credentials: Credentials,
        *,
        key: tuple[Any, ...],
        max_hz: float = DEFAULT_MAX_HZ,
    ) -> None:
        super().__init__(feed, key=key, max_hz=max_hz)
        self.credentials = credentials
        self.orders = OrderEvents()
        self._last_rows: list[dict[str, Any]] = []
        self.panel = AccountPanel(simulated=self.simulated)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)

    @property
    def account(self) -> Any:
        """The running :class:`kunb.Account` (``None`` while stopped)."""
        return self.feed.account

    @property
    def seeded(self) -> bool:
        account = self.account
        return account is not None and account.counters.seeds > 0

    def _topics(self) -> list[str]:
        return list(ACCOUNT_TOPICS)

    def _has_data(self) -> bool:
        return self.seeded

    def _on_message(self, message: Mapping[str, Any]) -> None:
        data = message.get("data")
        if isinstance(data, Mapping) and str(message.get("topic", "")).startswith("/spotMarket/tradeOrders"):
            self.orders.on_order(data)

    def _on_health(self, health: Any, detail: str = "") -> None:
        super()._on_health(health, detail)
        self._changed.set()  # a (re-)seed finished: wait_until() callers look again

    def _balances(self) -> list[dict[str, Any]]:
        account = self.account
        if account is None:
            return self._last_rows
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
        self._last_rows = rows  # kept on screen (and in .df) after stop()
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
        """Order events as KuCoin pushed them, newest first."""
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
            "reseeds": account.counters.reseeds if account is not None else None,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }
