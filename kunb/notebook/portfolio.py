"""An account's value in one quote currency: per-asset value and share, and the equity curve (pure).

Prices are given (``currency -> quote per unit``; :mod:`kunb.notebook.prices` keeps them live): the quote
currency itself is worth 1, a currency without a price is listed with no value and left out of the total
(the panel says which). Times are arguments; nothing here reads a clock or a socket.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from ..exceptions import ConfigurationError

__all__ = ["EquityCurve", "Holding", "Valuation", "value_holdings"]


@dataclass(frozen=True, slots=True)
class Holding:
    """One currency of the account, valued: amounts in the currency, ``price`` and ``value`` in the quote
    currency (NaN when there is no price), ``share`` of the valued total (NaN likewise)."""

    currency: str
    total: float
    available: float
    hold: float
    price: float
    value: float
    share: float


@dataclass(frozen=True, slots=True)
class Valuation:
    """The account's holdings, largest value first, and their total in ``quote``; ``unpriced``: the
    currencies held with no price (left out of ``total``); ``complete``: every held currency priced."""

    quote: str
    holdings: list[Holding]
    total: float
    unpriced: list[str]

    @property
    def complete(self) -> bool:
        return not self.unpriced


def value_holdings(
    balances: Iterable[tuple[str, Decimal | float, Decimal | float, Decimal | float]],
    price: Callable[[str], float],
    quote: str,
) -> Valuation:
    """Value ``(currency, total, available, hold)`` rows in ``quote`` with ``price(currency)``.

    A currency held at zero is left out; one with no price (``price`` returns NaN) is kept, unvalued.
    """
    rows = []
    for currency, total, available, hold in balances:
        amount = float(total)
        if amount == 0:
            continue
        unit = 1.0 if currency == quote else price(currency)
        rows.append((currency, amount, float(available), float(hold), unit, amount * unit))
    valued = sum(value for *_, value in rows if not math.isnan(value))
    holdings = [
        Holding(
            currency=c,
            total=t,
            available=a,
            hold=h,
            price=p,
            value=v,
            share=(v / valued) if valued > 0 and not math.isnan(v) else math.nan,
        )
        for c, t, a, h, p, v in rows
    ]
    holdings.sort(key=lambda h: (-h.value if not math.isnan(h.value) else math.inf, h.currency))
    unpriced = sorted(h.currency for h in holdings if math.isnan(h.value))
    return Valuation(quote=quote, holdings=holdings, total=valued, unpriced=unpriced)


class EquityCurve:
    """The account's value over time: a point when the value changed (at most one per ``gap`` seconds) and
    every ``every`` seconds when it did not; at most ``maxlen`` points (the oldest go first: 20,000 points
    are 5.5 hours at one a second).

    ``appended`` counts every point ever added, so a renderer can draw only the ones it has not.
    """

    def __init__(self, *, maxlen: int = 20_000, gap: float = 1.0, every: float = 10.0) -> None:
        if maxlen < 1:
            raise ConfigurationError(f"maxlen must be >= 1, got {maxlen!r}")
        self.maxlen = maxlen
        self.gap_ms = gap * 1000.0
        self.every_ms = every * 1000.0
        self._points: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self.appended = 0

    def __len__(self) -> int:
        return len(self._points)

    def record(self, time_ms: float, value: float) -> bool:
        """Add ``(time_ms, value)`` when due (see the class); True when added."""
        if math.isnan(value):
            return False
        if self._points:
            last_t, last_v = self._points[-1]
            since = time_ms - last_t
            if since < self.gap_ms or (value == last_v and since < self.every_ms):
                return False
        self._points.append((time_ms, value))
        self.appended += 1
        return True

    def arrays(self, since: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(time_ms, value)`` float64, oldest first: all points, or those after the first ``since``
        appended (clipped to what is still kept)."""
        points = list(self._points)
        if since is not None:
            points = points[len(points) - min(max(self.appended - since, 0), len(points)) :]
        if not points:
            return np.empty(0), np.empty(0)
        data = np.asarray(points, dtype=np.float64)
        return data[:, 0].copy(), data[:, 1].copy()
