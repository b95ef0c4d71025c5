"""What the ticker panels render: bounded per-symbol float64 series and the latest quote (pure, no clock)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigurationError

__all__ = ["Quote", "RateMeter", "Ring", "TickerModel"]


class Ring:
    """A fixed-size window of float64 rows; each column's window is one contiguous NumPy view.

    Storage is column-major and every row is written twice (at ``i`` and ``i + size``), so
    :meth:`view` never copies and never wraps, and each column goes to plotly as one contiguous float64
    buffer. Appending costs one small array store (jupyter-notes.md 4: a preallocated ring is ~0.5 us
    per tick against ~320 us for ``pd.concat``).
    """

    def __init__(self, size: int, columns: int) -> None:
        if size < 1:
            raise ConfigurationError(f"window must be >= 1, got {size!r}")
        self.size = size
        self._data = np.full((columns, 2 * size), np.nan)
        self._next = 0  # write position in [0, size)
        self.count = 0  # rows ever appended

    def append(self, row: Iterable[float]) -> None:
        values = tuple(row)
        i = self._next
        self._data[:, i] = values
        self._data[:, i + self.size] = values
        self._next = (i + 1) % self.size
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.size)

    def view(self) -> np.ndarray:
        """The live window, oldest first, shape ``(columns, len)``; valid until the next append."""
        n = len(self)
        end = self._next + self.size if self.count >= self.size else self._next
        return self._data[:, end - n : end]

    def resized(self, size: int) -> Ring:
        """A new ring of ``size`` rows holding the newest rows of this one."""
        out = Ring(size, self._data.shape[0])
        for row in self.view()[:, -size:].T:
            out.append(row)
        return out


class RateMeter:
    """Messages per second over a sliding interval; times are arguments (seconds, any monotonic origin)."""

    def __init__(self, interval: float = 2.0) -> None:
        self._interval = interval
        self._samples: deque[tuple[float, int]] = deque()

    def rate(self, now: float, total: int) -> float:
        """Record ``total`` messages seen by ``now`` and return the rate over the last interval."""
        samples = self._samples
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

    @property
    def spread(self) -> float:
        return self.ask - self.bid

    @property
    def spread_bps(self) -> float:
        mid = (self.ask + self.bid) / 2
        return (self.ask - self.bid) / mid * 1e4 if mid > 0 else math.nan


def _f(value: Any) -> float:
    return math.nan if value is None or value == "" else float(value)


# columns of a symbol's ring
_T, _PRICE, _BID, _ASK, _SPREAD_BPS = range(5)
_COLUMNS = ("time", "price", "bid", "ask", "spread_bps")


class TickerModel:
    """Per-symbol rolling ticker series plus the latest quote and 24 h statistics.

    Feed ``/market/ticker`` payloads to :meth:`on_ticker` and 24 h statistics (``/api/v1/market/stats``
    or ``/market/snapshot``) to :meth:`on_stats`. ``version`` increases on every change so a renderer
    can skip frames in which nothing happened.
    """

    def __init__(self, symbols: Iterable[str], *, window: int = 2000) -> None:
        self.symbols = list(dict.fromkeys(symbols))
        if not self.symbols:
            raise ConfigurationError("give at least one symbol, e.g. ['BTC-USDT']")
        self.window = window
        self._rings = {s: Ring(window, len(_COLUMNS)) for s in self.symbols}
        self._quotes = {s: Quote(s) for s in self.symbols}
        self.messages = 0
        self.version = 0

    def on_ticker(self, symbol: str, data: Mapping[str, Any]) -> None:
        """Store one ``/market/ticker`` payload (kucoin-protocol.md 2.1: strings, ``time`` in ms)."""
        ring = self._rings.get(symbol)
        if ring is None:
            return  # a symbol we did not ask for (e.g. a shared subscription); not ours to show
        quote = replace(
            self._quotes[symbol],
            time_ms=_f(data.get("time")),
            price=_f(data.get("price")),
            bid=_f(data.get("bestBid")),
            ask=_f(data.get("bestAsk")),
            bid_size=_f(data.get("bestBidSize")),
            ask_size=_f(data.get("bestAskSize")),
        )
        self._quotes[symbol] = quote
        ring.append((quote.time_ms, quote.price, quote.bid, quote.ask, quote.spread_bps))
        self.messages += 1
        self.version += 1

    def on_stats(self, symbol: str, data: Mapping[str, Any]) -> None:
        """Store 24 h statistics (``changeRate``, ``vol``, ``volValue``) from REST stats or a snapshot."""
        if symbol not in self._quotes:
            return
        quote = self._quotes[symbol]
        self._quotes[symbol] = replace(
            quote,
            change_rate=_f(data.get("changeRate")),
            volume=_f(data.get("vol")),
            volume_value=_f(data.get("volValue")),
            price=quote.price if not math.isnan(quote.price) else _f(data.get("last")),
        )
        self.version += 1

    def set_window(self, window: int) -> None:
        """Keep ``window`` points per symbol from now on (the newest points survive a shrink)."""
        self._rings = {s: r.resized(window) for s, r in self._rings.items()}
        self.window = window
        self.version += 1

    def quote(self, symbol: str) -> Quote:
        return self._quotes[symbol]

    def series(self, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(time_ms, price, spread_bps)`` float64 views of the window, oldest first."""
        view = self._rings[symbol].view()
        return view[_T], view[_PRICE], view[_SPREAD_BPS]

    @property
    def df(self) -> pd.DataFrame:
        """The rolling window of every symbol as one DataFrame (a copy; built on demand)."""
        frames = []
        for symbol, ring in self._rings.items():
            frame = pd.DataFrame(dict(zip(_COLUMNS, ring.view().copy(), strict=True)))
            frame.insert(1, "symbol", symbol)
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out["time"] = pd.to_datetime(out["time"], unit="ms", utc=True)
        out["spread"] = out["ask"] - out["bid"]
        return out.sort_values("time", kind="stable", ignore_index=True)

    def snapshot(self) -> dict[str, dict[str, float | None]]:
        """The seed's ``get_market_snapshot()`` shape: price, 24 h change and volume, bid, ask, spread."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        out: dict[str, dict[str, float | None]] = {}
        for symbol, q in self._quotes.items():
            out[symbol] = {
                "price": num(q.price),
                "change_24h": num(q.change_rate),
                "volume_24h": num(q.volume),
                "bid": num(q.bid),
                "ask": num(q.ask),
                "spread": num(q.spread),
                "spread_bps": num(q.spread_bps),
                "time": num(q.time_ms),
            }
        return out
