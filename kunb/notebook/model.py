"""What the panels render, read from a :class:`kunb.Stream`: per-symbol float64 series and the latest quote
(pure, no clock)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..events import SymbolInfo
from ..exceptions import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..stream import Stream

__all__ = ["Quote", "RateMeter", "TickerView"]


class RateMeter:
    """Messages per second over a sliding interval; times are arguments (seconds, any monotonic origin)."""

    def __init__(self, interval: float = 2.0) -> None:
        self._interval = interval
        self._samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, total: int) -> float:
        """Record ``total`` messages seen by ``now`` and return the rate over the last interval.

        A total below the previous one is a new count (the panel restarted on other symbols): the
        meter starts afresh instead of reporting a negative rate.
        """
        samples = self._samples
        if samples and total < samples[-1][1]:
            samples.clear()
        samples.append((now, total))
        while len(samples) > 2 and now - samples[1][0] >= self._interval:
            samples.popleft()
        t0, n0 = samples[0]
        return (total - n0) / (now - t0) if now > t0 else 0.0


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest known state of one symbol (floats for display; ``nan`` when not known yet)."""

    symbol: str
    time_ms: float = math.nan
    price: float = math.nan
    bid: float = math.nan
    ask: float = math.nan
    bid_size: float = math.nan
    ask_size: float = math.nan
    change_rate: float = math.nan  #: 24 h change as a fraction (0.01 = +1 %)
    volume: float = math.nan  #: 24 h volume in the base currency
    volume_value: float = math.nan  #: 24 h volume in the quote currency
    info: SymbolInfo | None = None  #: the symbol's increments: what shown numbers are rounded to

    @property
    def spread(self) -> float:
        return self.ask - self.bid

    @property
    def spread_bps(self) -> float:
        mid = (self.ask + self.bid) / 2
        return (self.ask - self.bid) / mid * 1e4 if mid > 0 else math.nan


class TickerView:
    """The ticker panel's reading of a :class:`kunb.Stream`: the newest ``window`` ticks per symbol as
    float64 series, the latest quote with 24 h statistics, and a ``version`` that moves when the drawn
    series change (the panel then resends its traces). The stream's frames hold the data; this only reads.
    """

    def __init__(self, stream: Stream, *, window: int) -> None:
        if window < 1:
            raise ConfigurationError(f"window must be >= 1, got {window!r}")
        if stream.ticks is None:
            raise ConfigurationError("the ticker view needs a Stream recording ticks (ticker=True)")
        self.stream = stream
        self.ticks = stream.ticks
        self.symbols = list(stream.symbols)
        self.window = window
        self._bumps = 0
        self._read: dict[str, dict[str, np.ndarray]] = {}
        self._read_at = -1

    @property
    def messages(self) -> int:
        """Ticker messages recorded, ever."""
        return self.ticks.appended

    @property
    def version(self) -> int:
        return self.ticks.version + self._bumps

    def set_window(self, window: int) -> None:
        """Draw ``window`` points per symbol from now on (up to what the stream's frame holds)."""
        if window < 1:
            raise ConfigurationError(f"window must be >= 1, got {window!r}")
        self.window = window
        self._bumps += 1

    def quote(self, symbol: str) -> Quote:
        """The latest tick of ``symbol`` with its 24 h statistics."""
        tick = self.stream.last_tick(symbol)
        stats = self.stream.last_stats(symbol)
        nan = math.nan
        price = tick.price if tick is not None else nan
        if math.isnan(price) and stats is not None:
            price = stats.last
        return Quote(
            symbol,
            time_ms=nan if tick is None else tick.time_ns / 1e6,
            price=price,
            bid=nan if tick is None else tick.best_bid,
            ask=nan if tick is None else tick.best_ask,
            bid_size=nan if tick is None else tick.best_bid_size,
            ask_size=nan if tick is None else tick.best_ask_size,
            change_rate=nan if stats is None else stats.change_rate,
            volume=nan if stats is None else stats.volume,
            volume_value=nan if stats is None else stats.volume_value,
            info=self.stream.symbol_info.get(symbol),
        )

    def series(self, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(time_ms, price, spread_bps)`` float64 arrays of the newest ``window`` ticks, oldest first."""
        if self._read_at != self.version:  # one read of the frame per redraw, whatever the symbol count
            self._read = self.ticks.last_per_symbol(self.window, "time", "price", "best_bid", "best_ask")
            self._read_at = self.version
        cols = self._read.get(symbol)
        if cols is None:
            empty = np.empty(0)
            return empty, empty, empty
        return cols["time"], cols["price"], _bps(cols["best_bid"], cols["best_ask"])

    def series_since(self, appended: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        """Per symbol, the ``(time_ms, price, spread_bps)`` of the ticks recorded after the first
        ``appended`` (what a panel has not drawn yet), at most ``window`` each; ``None`` when some of them
        were already overwritten in the stream's ring (the panel then draws the whole window again)."""
        new = self.messages - appended
        if new < 0 or new > len(self.ticks):
            return None
        out = {}
        if new:
            cols = self.ticks.last_per_symbol(None, "time", "price", "best_bid", "best_ask", tail=new)
            for symbol, c in cols.items():
                if len(c["time"]):
                    keep = slice(-self.window, None)
                    t, price = c["time"][keep], c["price"][keep]
                    out[symbol] = (t, price, _bps(c["best_bid"][keep], c["best_ask"][keep]))
        return out

    @property
    def df(self) -> pd.DataFrame:
        """The newest ``window`` ticks of every symbol, oldest first (the stream's ``ticks`` columns)."""
        import pandas as pd  # here, not at the top: a panel's first draw needs no pandas (~0.3 s import)

        frames = [self.ticks.to_pandas(symbol=s, last=self.window) for s in self.symbols]
        return pd.concat(frames).sort_index(kind="stable")

    def snapshot(self) -> dict[str, dict[str, float | None]]:
        """The seed's ``get_market_snapshot()`` shape: price, 24 h change and volume, bid, ask, spread.

        For people to read: prices and the spread are rounded to the symbol's price increment, the volume
        to its size increment (as computed while they are not known), the spread in bps to 2 decimals."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        def same(x: float) -> float:
            return x

        out: dict[str, dict[str, float | None]] = {}
        for symbol in self.symbols:
            q = self.quote(symbol)
            price = q.info.price if q.info is not None else same
            size = q.info.size if q.info is not None else same
            out[symbol] = {
                "price": num(price(q.price)),
                "change_24h": num(q.change_rate),
                "volume_24h": num(size(q.volume)),
                "bid": num(price(q.bid)),
                "ask": num(price(q.ask)),
                "spread": num(price(q.spread)),
                "spread_bps": num(round(q.spread_bps, 2)),
                "time": num(q.time_ms),
            }
        return out


def _bps(bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """The spread in basis points of the mid (NaN where the mid is not positive)."""
    mid = (ask + bid) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mid > 0, (ask - bid) / mid * 1e4, np.nan)


CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")


class CandleView:
    """The candles panel's reading: REST history (:func:`kunb.fetch_klines`) joined with the live candles
    of one series in a :class:`kunb.Stream` (``candles=interval``), as float64 columns, ``time`` the
    candle's start in epoch ms. A live candle replaces a history candle of the same start; the forming
    candle is updated in place by the stream, so the newest row changes until the next one starts.
    """

    def __init__(self, stream: Stream, *, window: int) -> None:
        if window < 1:
            raise ConfigurationError(f"window must be >= 1, got {window!r}")
        if stream.candles is None:
            raise ConfigurationError("the candle view needs a Stream recording candles (candles=...)")
        self.stream = stream
        self.live = stream.candles
        self.window = window
        self.history: dict[str, np.ndarray] = {c: np.empty(0) for c in CANDLE_COLUMNS}
        self.history_version = 0  #: moves when the history is set

    def set_history(self, frame: pd.DataFrame) -> None:
        """The REST candles (``kunb.fetch_klines``' frame), oldest first."""
        import pandas as pd  # loaded already: the frame is one (see TickerView.df for why not at the top)

        times = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 // 1_000_000
        self.history = {"time": times.astype(np.float64)}
        for column in CANDLE_COLUMNS[1:]:
            self.history[column] = frame[column].to_numpy(dtype=np.float64, copy=True)
        self.history_version += 1

    @property
    def version(self) -> int:
        """Moves with every live candle update and every new history."""
        return self.live.version + self.history_version

    def _live(self, rows: int | None) -> dict[str, np.ndarray]:
        if rows == 0:
            return {c: np.empty(0) for c in CANDLE_COLUMNS}
        return self.live.last(rows, *CANDLE_COLUMNS)

    def columns(self) -> dict[str, np.ndarray]:
        """The newest ``window`` candles, history then live, oldest first."""
        live = self._live(min(self.window, len(self.live)))
        first_live = live["time"][0] if len(live["time"]) else math.inf
        keep = self.history["time"] < first_live
        joined = {c: np.concatenate((self.history[c][keep], live[c])) for c in CANDLE_COLUMNS}
        return {c: values[-self.window :] for c, values in joined.items()}

    def since(self, appended: int, from_ms: float) -> dict[str, np.ndarray] | None:
        """The live candles starting at ``from_ms`` or later, read from the candles appended after the
        first ``appended`` plus the one before (it may have changed in place); ``None`` when those were
        overwritten in the stream's ring."""
        new = self.live.appended - appended
        if new < 0 or new + 1 > len(self.live) + (1 if appended == 0 else 0):
            return None
        rows = self._live(min(new + 1, len(self.live)))
        keep = rows["time"] >= from_ms
        return {c: values[keep] for c, values in rows.items()}

    @property
    def df(self) -> pd.DataFrame:
        """The candles of :meth:`columns` as a DataFrame indexed by their start (UTC)."""
        import pandas as pd  # here: see TickerView.df

        cols = self.columns()
        index = pd.to_datetime(cols.pop("time").astype(np.int64), unit="ms", utc=True).as_unit("ns")
        index = index.rename("time")
        return pd.DataFrame(cols, index=index)
