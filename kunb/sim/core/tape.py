"""One symbol's trade tape: last trade, recent history, candles of every type and rolling 24 h stats.

Pure: trades come in with their timestamp (ns); nothing reads the clock. Prices are ticks, sizes
lots, turnover notional units (see :mod:`kunb.sim.core.symbols`). Candles aggregate exactly the trades
recorded here, so REST candles, candle pushes and stats agree with ``/market/match``.

What is kept is bounded: the last 100 trades (what ``/api/v1/market/histories`` returns, 4.3), minute
candles for the last 24 h (the 24 h stats window; candle types under an hour come from them) and hour
candles for the last 7 days (types of an hour and more). Older buckets are forgotten, oldest first.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import deque
from dataclasses import dataclass

from kunb.sim.core.orderbook import Side

__all__ = [
    "CANDLE_SECONDS",
    "HISTORY",
    "HOURS_KEPT_S",
    "MINUTES_KEPT_S",
    "Candle",
    "Stats",
    "Tape",
    "Trade",
    "bucket_start",
]

# classic-protocol.md#public-channels / 4.3: REST has every type; the WS
# candle topic has all but 5min and 1month.
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
MINUTES_KEPT_S = 86_400  # minute candles: the 24 h stats window
HOURS_KEPT_S = 7 * 86_400  # hour candles
HISTORY = 100  # GET /api/v1/market/histories returns the last 100 trades


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
        self.history: deque[Trade] = deque(maxlen=HISTORY)
        self._minutes: dict[int, Candle] = {}  # minute start -> candle, insertion ordered
        self._hours: dict[int, Candle] = {}  # hour start -> candle, insertion ordered
        self.last_time_ns = 0
        self._minute: Candle | None = None
        self._hour: Candle | None = None
        self._current: dict[str, tuple[tuple[str, int], Candle | None]] = {}  # type -> (key, candle)
        self._stats_key: tuple[int, int] | None = None
        self._stats: Stats | None = None

    def record(self, trade: Trade) -> None:
        self.last_price, self.last_size = trade.price, trade.size
        self.last_time_ns = trade.time_ns
        self.trade_count += 1
        self.history.append(trade)
        t_s = trade.time_ns // 1_000_000_000
        minute, hour = t_s // 60 * 60, t_s // 3600 * 3600
        candle = self._minute
        if candle is None or candle.start != minute:
            candle = self._minute = self._open(self._minutes, minute, trade.price, MINUTES_KEPT_S)
        candle.add(trade.price, trade.size)
        candle = self._hour
        if candle is None or candle.start != hour:
            candle = self._hour = self._open(self._hours, hour, trade.price, HOURS_KEPT_S)
        candle.add(trade.price, trade.size)

    def sizes(self) -> dict[str, int]:
        """How much is kept: trades in the history, minute and hour candles."""
        return {"history": len(self.history), "minutes": len(self._minutes), "hours": len(self._hours)}

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
        """Buckets of ``kind`` with ``start_s <= start < end_s`` (0 = unbounded), newest first.

        Types of an hour or more are built from hour candles, shorter ones from minute candles.
        """
        width = CANDLE_SECONDS[kind]
        source = self._hours if width == 0 or width >= 3600 else self._minutes
        buckets: dict[int, Candle] = {}  # filled newest first
        for piece in reversed(source):
            if start_s and piece < start_s:
                break
            b = bucket_start(kind, piece)
            if (start_s and b < start_s) or (end_s and b >= end_s):
                continue
            c = source[piece]
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

    @staticmethod
    def _open(buckets: dict[int, Candle], start: int, price: int, kept_s: int) -> Candle:
        """A new bucket at ``start``; buckets older than ``kept_s`` before it are forgotten."""
        candle = buckets[start] = Candle(start, price, price, price, price, 0, 0)
        while True:
            oldest = next(iter(buckets))
            if oldest > start - kept_s:
                return candle
            del buckets[oldest]
