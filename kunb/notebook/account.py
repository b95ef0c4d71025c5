"""``live_account``: balances seeded from REST and kept from ``/account/balance``, plus order events."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..exceptions import KunbError
from ..signing import Credentials
from .accountpanel import AccountPanel
from .live import LiveObject
from .source import Feed
from .throttle import DEFAULT_MAX_HZ

__all__ = ["ACCOUNT_TOPICS", "AccountModel", "LiveAccount"]

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


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class AccountModel:
    """Balances per currency of the trade account and the newest order events (pure; no I/O).

    A balance push carries absolute ``total``/``available``/``hold`` (kucoin-protocol.md 2.3), so the
    newest value wins; REST seeds only currencies no push has touched since the request was sent, so a
    slow REST reply cannot overwrite a newer push.
    """

    def __init__(self, *, max_events: int = 500) -> None:
        self.balances: dict[str, dict[str, Any]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)  # newest first
        self.version = 0
        self._pushed_since: set[str] | None = None

    def begin_seed(self) -> None:
        """Call when the REST request goes out: pushes from now on take precedence over its answer."""
        self._pushed_since = set()

    def seed(self, accounts: Iterable[Mapping[str, Any]]) -> None:
        """Load ``GET /api/v1/accounts`` items of type ``trade`` (note REST says ``holds``, 4.3)."""
        pushed = self._pushed_since or set()
        for a in accounts:
            if a.get("type", "trade") != "trade" or a["currency"] in pushed:
                continue
            self.balances[a["currency"]] = {
                "currency": a["currency"],
                "total": a.get("balance"),
                "available": a.get("available"),
                "hold": a.get("holds"),
                "source": "REST",
            }
        self._pushed_since = None
        self.version += 1

    def on_balance(self, data: Mapping[str, Any]) -> None:
        currency = data["currency"]
        self.balances[currency] = {
            "currency": currency,
            "total": data.get("total"),
            "available": data.get("available"),
            "hold": data.get("hold"),
            "source": data.get("relationEvent", "push"),
            "time": data.get("time"),
        }
        if self._pushed_since is not None:
            self._pushed_since.add(currency)
        self.version += 1

    def on_order(self, data: Mapping[str, Any]) -> None:
        event = dict(data)
        ts = event.get("ts")
        if isinstance(ts, int | float):  # ns on the wire (2.3): show a readable UTC time
            event["time"] = time.strftime("%H:%M:%S", time.gmtime(ts / 1e9)) + f".{int(ts / 1e6) % 1000:03d}"
        self.events.appendleft(event)
        self.version += 1

    def rows(self) -> list[dict[str, Any]]:
        return [self.balances[c] for c in sorted(self.balances)]


class LiveAccount(LiveObject):
    """A live account view: see :func:`kunb.live_account`. ``.df``, ``.orders_df``, ``.snapshot()``."""

    kind = "account"

    def __init__(
        self,
        feed: Feed,
        credentials: Credentials,
        *,
        key: tuple[Any, ...],
        max_hz: float = DEFAULT_MAX_HZ,
    ) -> None:
        super().__init__(feed, key=key, max_hz=max_hz)
        self.credentials = credentials
        self.model = AccountModel()
        self.seeded = False
        self.panel = AccountPanel(simulated=self.simulated)
        self.widget = self.panel.widget
        self._bind_controls(self.panel.controls)

    def _topics(self) -> list[str]:
        return list(ACCOUNT_TOPICS)

    def _spawn(self) -> None:
        fresh = not self._tasks
        super()._spawn()
        if fresh:
            self._spawn_child(self._seed(), "balances")

    async def _seed(self) -> None:
        """Fetch the balances once (retrying); pushes keep them current afterwards."""
        from ..client import User

        delay = 0.2
        async with User(url=self.url, credentials=self.credentials) as user:
            while True:
                self.model.begin_seed()
                try:
                    accounts = await user.aget_account_list(account_type="trade")
                except (KunbError, OSError) as exc:
                    self.detail = f"balances: {exc}; retrying"
                    self.throttle.mark()
                    await asyncio.sleep(delay)  # backoff between REST attempts
                    delay = min(2 * delay, 5.0)
                    continue
                self.model.seed(accounts)
                self.seeded = True
                self.throttle.mark()
                return

    def _has_data(self) -> bool:
        return self.seeded

    def _on_message(self, message: Mapping[str, Any]) -> None:
        topic = message.get("topic", "")
        data = message.get("data")
        if not isinstance(data, Mapping):
            return
        if topic == "/account/balance":
            self.model.on_balance(data)
        elif topic.startswith("/spotMarket/tradeOrders"):
            self.model.on_order(data)

    def _render(self) -> None:
        self.panel.render(self.model.rows(), self.model.events, self.status())

    # ---- data out -----------------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """Balances: one row per currency (total, available, hold as floats; where the value came from)."""
        rows = self.model.rows()
        frame = pd.DataFrame(rows, columns=["currency", "total", "available", "hold", "source"])
        for column in ("total", "available", "hold"):
            frame[column] = frame[column].map(_f)
        return frame.set_index("currency")

    @property
    def orders_df(self) -> pd.DataFrame:
        """Order events as KuCoin pushed them, newest first."""
        return pd.DataFrame(list(self.model.events), columns=_EVENT_COLUMNS)

    def snapshot(self) -> dict[str, Any]:
        return {
            "balances": {
                r["currency"]: {k: _f(r.get(k)) for k in ("total", "available", "hold")}
                for r in self.model.rows()
            },
            "orders": [dict(e) for e in self.model.events],
            "seeded": self.seeded,
            "frames": self.panel.frames,
            "status": self.health.value,
            "simulated": self.simulated,
            "url": self.url,
        }
