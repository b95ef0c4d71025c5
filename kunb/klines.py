"""Historical candles (klines) from KuCoin's REST API, paged into one typed, time-ascending DataFrame.

``GET /api/v1/market/candles`` (classic-protocol.md#endpoints) answers at most 1,500 candles per call,
newest first, for a ``startAt``..``endAt`` range in *seconds*. :func:`fetch_klines` asks for one page of
at most 1,500 candles of the interval at a time, oldest page first, and joins them::

    df = await kunb.fetch_klines("BTC-USDT", "1min", start="2026-12-01", end="2026-12-02")
    df.close.plot()

The frame is indexed by the candle's start (``time``, ``datetime64[ns, UTC]``, ascending, unique) with
float64 ``open``, ``close``, ``high``, ``low``, ``volume`` (base currency) and ``turnover`` (quote
currency). A candle that is still forming is included as it was when fetched. :func:`klines_frame`
turns wire rows into that frame without any I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, ProtocolError
from .net.rest import Market

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["KLINE_COLUMNS", "KLINE_INTERVALS", "PAGE_ROWS", "TimeLike", "fetch_klines", "klines_frame"]

#: KuCoin's candle intervals and their length in seconds (``1month``: a calendar month, at most 31 days)
KLINE_INTERVALS: dict[str, int] = {
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
    "1month": 31 * 86400,
}
KLINE_COLUMNS = ("open", "close", "high", "low", "volume", "turnover")  # the wire's order after the time
PAGE_ROWS = 1500  # KuCoin's most candles per request

#: a moment: a datetime (naive ones are UTC), a pandas Timestamp, an ISO string, or epoch seconds
TimeLike = dt.datetime | str | int | float


def _seconds(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a time, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ConfigurationError(f"{name} must be a finite time, got {value!r}")
        return int(value)
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name}: cannot read {value!r} as a time") from exc
    if pd.isna(stamp):
        raise ConfigurationError(f"{name} must be a time, got {value!r}")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.timestamp())


def klines_frame(rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """Wire rows ``[start_s, open, close, high, low, volume, turnover]`` (strings, any order) as the typed
    frame described in the module docstring; a start seen twice keeps its last row.

    Raises:
        ProtocolError: a row that is not seven numbers.
    """
    import numpy as np
    import pandas as pd

    starts: list[int] = []
    values: list[list[float]] = []
    for row in rows:
        try:
            if len(row) != 7:
                raise ValueError(f"{len(row)} fields")
            starts.append(int(row[0]))
            values.append([float(v) for v in row[1:]])
        except (TypeError, ValueError) as exc:
            raise ProtocolError(
                f"a kline row is not [time, open, close, high, low, volume, turnover]: {row!r}"
            ) from exc
    data = np.asarray(values, dtype=np.float64).reshape(len(values), len(KLINE_COLUMNS))
    index = pd.DatetimeIndex(np.asarray(starts, dtype="int64") * 1_000_000_000, tz="UTC", name="time")
    frame = pd.DataFrame(data, index=index, columns=list(KLINE_COLUMNS))
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.sort_index(kind="stable")


async def fetch_klines(
    symbol: str,
    interval: str = "1min",
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    url: str = "",
    market: Market | None = None,
) -> pd.DataFrame:
    """Candles of ``symbol`` from ``start`` to ``end`` as one time-ascending DataFrame (see the module).

    Args:
        symbol: e.g. ``"BTC-USDT"``.
        interval: one of :data:`KLINE_INTERVALS` (``"1min"``, ``"1hour"``, ``"1day"``...).
        start: the earliest candle start wanted; default: the 1,500 intervals up to ``end`` (one request).
        end: the latest candle start wanted; default: now.
        url: the exchange's REST base URL (empty: ``$KUNB_URL``, else KuCoin); ignored with ``market``.
        market: a ready :class:`kunb.client.Market` to use (not closed here).

    Returns:
        The candles whose start lies in ``[start, end]``; an empty frame when there are none.

    Raises:
        ConfigurationError: an unknown interval, an unreadable time, ``start`` after ``end``.
        ApiError: KuCoin refused (an unknown symbol: ``900001``); TransportError, RequestTimeout: the network.
    """
    width = KLINE_INTERVALS.get(interval)
    if width is None:
        raise ConfigurationError(f"interval must be one of {', '.join(KLINE_INTERVALS)}, got {interval!r}")
    end_s = _seconds(end, "end") if end is not None else int(dt.datetime.now(dt.UTC).timestamp())
    start_s = _seconds(start, "start") if start is not None else end_s - (PAGE_ROWS - 1) * width
    if start_s > end_s:
        raise ConfigurationError(f"start ({start!r}) is after end ({end!r})")
    client = market or Market(url=url)
    rows: list[Sequence[Any]] = []
    try:
        page = PAGE_ROWS * width  # a page of at most 1,500 candle starts: one answer holds all of them
        first = start_s
        while first <= end_s:
            last = min(first + page - 1, end_s)
            answer = await client.aget_kline(symbol, interval, startAt=first, endAt=last)
            if not isinstance(answer, list):
                raise ProtocolError(
                    f"GET /api/v1/market/candles answered {type(answer).__name__}, not a list"
                )
            rows.extend(answer)
            first = last + 1
    finally:
        if market is None:
            await client.aclose()
    frame = klines_frame(rows)
    lo, hi = (_timestamp(s) for s in (start_s, end_s))
    return frame[(frame.index >= lo) & (frame.index <= hi)]


def _timestamp(seconds: int) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(seconds, unit="s", tz="UTC")
