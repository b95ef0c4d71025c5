"""One symbol's trade tape: last trade, recent history, candles of every type and rolling 24 h stats.

Pure: trades come in with their timestamp (ns); nothing reads the clock. Prices are ticks, sizes
lots, turnover notional units (see :mod:`kunb.sim.core.symbols`). Candles aggregate exactly the trades
recorded here, so REST candles, candle pushes and stats agree with ``/market/match``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import deque
from dataclasses import dataclass

from kunb.sim.core.orderbook import Side

__all__ = ["CANDLE_SECONDS", "Candle", "Stats", "Tape", "Trade", "bucket_start"]

# kucoin-protocol.md 2.1 / 4.3: REST has every type; the WS candle topic has all but 5min and 1month.
CANDLE_SECONDS: dict[str, int] = {
    "1min": 60,
    "3min": 180,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "1hour": 3600,
    "2hour": 7200,
    "4hour": 14400,
    "6hour": 21600,
    "8hour": 28800,
    "12hour": 43200,
    "1day": 86400,
    "1week": 604800,
    "1month": 0,  # calendar month, see bucket_start
}
_MONDAY_OFFSET = 4 * 86400  # the Unix epoch was a Thursday; weeks start on Monday
_MINUTES_KEPT = 7 * 24 * 60
_HISTORY = 100  # GET /api/v1/market/histories returns the last 100 trades


def bucket_start(kind: str, t_s: int) -> int:
    """Start (Unix seconds, UTC) of the ``kind`` candle that contains second ``t_s``."""
    if kind == "1month":
        d = dt.datetime.fromtimestamp(t_s, dt.UTC)
        return calendar.timegm((d.year, d.month, 1, 0, 0, 0))
    width = CANDLE_SECONDS[kind]
    if kind == "1week":
        return (t_s - _MONDAY_OFFSET) // width * width + _MONDAY_OFFSET
    return t_s // width * width


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution as the public sees it (``side`` = taker side)."""

    sequence: int
    price: int
    size: int
    side: Side
    time_ns: int
    maker_order_id: str
    taker_order_id: str


@dataclass(slots=True)
class Candle:
    """One bucket: open/close/high/low in ticks, volume in lots, turnover in notional units."""

    start: int
    open: int
    close: int
    high: int
    low: int
    volume: int
    turnover: int

    def add(self, price: int, size: int) -> None:
        self.close = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.volume += size
        self.turnover += price * size


@dataclass(frozen=True, slots=True)
class Stats:
    """Rolling 24 h statistics (ticks/lots/notional); ``open`` is the first trade price in the window."""

    open: int
    last: int
    high: int
    low: int
    volume: int
    turnover: int


class Tape:
    """Trade recorder for one symbol; ``last_price`` starts at the listing price until the first trade."""

    def __init__(self, initial_price: int) -> None:
        self.last_price = initial_price
        self.last_size = 0
        self.trade_count = 0
        self.history: deque[Trade] = deque(maxlen=_HISTORY)
        self._minutes: dict[int, Candle] = {}  # minute start -> candle, insertion ordered
        self.last_time_ns = 0
        self._minute: Candle | None = None
        self._current: dict[str, tuple[tuple[str, int], Candle | None]] = {}  # type -> (key, candle)
        self._stats_key: tuple[int, int] | None = None
        self._stats: Stats | None = None

    def record(self, trade: Trade) -> None:
        self.last_price, self.last_size = trade.price, trade.size
        self.last_time_ns = trade.time_ns
        self.trade_count += 1
        self.history.append(trade)
        minute = trade.time_ns // 60_000_000_000 * 60
        candle = self._minute
        if candle is None or candle.start != minute:
            candle = self._minute = Candle(minute, trade.price, trade.price, trade.price, trade.price, 0, 0)
            self._minutes[minute] = candle
            self._evict(minute)
        candle.add(trade.price, trade.size)

    def current(self, kind: str) -> Candle | None:
        """The in-progress candle of ``kind`` (what ``/market/candles`` pushes re-send on each trade).

        Aggregated lazily from the minute candles (trades update only the minute candle, which keeps
        :meth:`record` cheap for the firehose), cached until the next trade.
        """
        if self._minute is None:
            return None
        key = (kind, self.trade_count)
        cached = self._current.get(kind)
        if cached is not None and cached[0] == key:
            return cached[1]
        start = bucket_start(kind, self.last_time_ns // 1_000_000_000)
        found = self.candles(kind, start, 0, limit=1)
        candle = found[0] if found else None
        self._current[kind] = (key, candle)
        return candle

    def candles(self, kind: str, start_s: int, end_s: int, limit: int = 1500) -> list[Candle]:
        """Buckets of ``kind`` with ``start_s <= start < end_s`` (0 = unbounded), newest first."""
        buckets: dict[int, Candle] = {}  # filled newest first
        for minute in reversed(self._minutes):
            if start_s and minute < start_s:
                break
            b = bucket_start(kind, minute)
            if (start_s and b < start_s) or (end_s and b >= end_s):
                continue
            c = self._minutes[minute]
            agg = buckets.get(b)
            if agg is None:
                if len(buckets) == limit:
                    break
                buckets[b] = Candle(b, c.open, c.close, c.high, c.low, c.volume, c.turnover)
            else:  # an older minute of the same bucket: it carries the bucket's open
                agg.open = c.open
                agg.high = max(agg.high, c.high)
                agg.low = min(agg.low, c.low)
                agg.volume += c.volume
                agg.turnover += c.turnover
        return list(buckets.values())

    def stats(self, now_ns: int) -> Stats:
        """24 h rolling stats at ``now_ns`` (minute resolution), cached until a trade or a new minute."""
        now_min = now_ns // 60_000_000_000 * 60
        key = (self.trade_count, now_min)
        if key == self._stats_key and self._stats is not None:
            return self._stats
        window = [c for m, c in self._minutes.items() if m > now_min - 86400]
        if window:
            stats = Stats(
                open=window[0].open,
                last=self.last_price,
                high=max(c.high for c in window),
                low=min(c.low for c in window),
                volume=sum(c.volume for c in window),
                turnover=sum(c.turnover for c in window),
            )
        else:
            p = self.last_price
            stats = Stats(open=p, last=p, high=p, low=p, volume=0, turnover=0)
        self._stats_key, self._stats = key, stats
        return stats

    def _evict(self, newest_minute: int) -> None:
        while self._minutes:
            oldest = next(iter(self._minutes))
            if oldest > newest_minute - _MINUTES_KEPT * 60:
                break
            del self._minutes[oldest]
