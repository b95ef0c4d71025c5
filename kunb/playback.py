"""``kunb.replay(out)``: a recording played back through the same decoder and driver as live data.

::

    stream = kunb.replay("data/session")             # every recorded symbol and channel, at full speed
    async with stream:
        await stream.source.wait_finished()          # the whole recording was applied
    stream.books["BTC-USDT"].df                      # the book as the recording left it

The returned :class:`kunb.Stream` reads a :class:`~kunb.sources.replay.ReplaySource`: the raw layer's
frames go to the recorded protocol's decoder, and the books, rolling frames and sinks see what they saw
live (``recording-and-replay.md``). ``speed=N`` plays it at N times the recorded pace instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .exceptions import ConfigurationError
from .sources.replay import ReplaySource
from .stream import Stream

__all__ = ["replay"]

_AUTO: Any = object()


def replay(
    out: str | os.PathLike[str],
    *,
    speed: float | None = None,
    symbols: str | Iterable[str] | None = None,
    book: bool | None = None,
    ticker: bool | None = None,
    trades: bool | None = None,
    stats: bool | None = None,
    candles: str | None = _AUTO,
    protocol: str | None = None,
    **stream_options: Any,
) -> Stream:
    """A :class:`~kunb.Stream` over the recording in ``out`` (not started: ``start()``, ``astart()`` or
    ``async with``).

    Args:
        out: a recording directory with its raw layer (``Stream(record_to=...)``, ``kunb record``, or
            :func:`kunb.record.import_cryptofeed`).
        speed: ``None``: as fast as the CPU allows; a number: that many times the recorded pace.
        symbols: the symbols to replay (default: every symbol the recording subscribed to).
        book, ticker, trades, stats: replay that channel (default: when the recording has it).
        candles: the candle interval to replay (default: the recorded one, if any; ``None``: none).
        protocol: ``classic`` or ``uta`` (default: the recording's).
        **stream_options: passed to :class:`~kunb.Stream` (``window``, ``span``, ``top_interval``,
            ``max_buffer``, ``record_to``...).

    Raises:
        ConfigurationError: no raw layer or nothing to replay in ``out``, a symbol it did not record, a
            speed that is not positive.
    """
    source = ReplaySource(out, speed=speed, protocol=protocol)
    market = source.market
    chosen = market.symbols if symbols is None else [symbols] if isinstance(symbols, str) else list(symbols)
    missing = [s for s in chosen if s not in market.symbols]
    if missing:
        raise ConfigurationError(
            f"{out} did not record {', '.join(missing)} (it has {', '.join(market.symbols)})"
        )
    recorded = market.channels
    return Stream(
        chosen,
        source=source,
        book="book" in recorded if book is None else book,
        ticker="ticker" in recorded if ticker is None else ticker,
        trades="trades" in recorded if trades is None else trades,
        stats="stats" in recorded if stats is None else stats,
        candles=market.candles if candles is _AUTO else candles,
        **stream_options,
    )
