"""A local level-2 order book of one symbol, kept in sync by sequence number (a pure state machine).

The book follows KuCoin's documented procedure (``classic-protocol.md#order-book-sync``)
without doing any I/O itself: it is fed :class:`~kunb.events.BookDelta` and
:class:`~kunb.events.BookSnapshot` events, whichever protocol they were decoded from, and it reports
through its :attr:`OrderBook.state` whether it needs a snapshot. Waiting for a snapshot, a sequence gap,
a crossed book and a full buffer are *states*, not exceptions (the h11 style); the driver
(:class:`kunb.Stream`) gets a snapshot whenever :attr:`OrderBook.needs_snapshot` is true.

Representation, chosen by measurement (``bench/book.py``, ``bench/RESULTS.md``): each side is a ``dict``
(price -> size, both floats, parsed once by the decoder) plus a plain sorted ``list`` of its prices kept
with :mod:`bisect`, arranged so the best price is at the *end* (bids ascending, asks stored negated): the
churn near the top of the book moves few list slots, the best price is ``keys[-1]`` (a C-level read), and
top-N / depth reads are slices. Updating the size of an existing level touches only the dict.
``sortedcontainers.SortedDict`` is slower at a best bid/ask read after every change; the list's O(n)
memmove loses to it only beyond tens of thousands of levels per side, which a spot book is not.
Float keys are exact: the decoder refuses prices with more significant digits than a double keeps.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..events import BookDelta, BookSnapshot, Level, LevelChange
from ..exceptions import ConfigurationError, ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = ["BookState", "BookStats", "OrderBook", "ResyncReason", "Side"]

Side = Literal["bid", "ask"]


class BookState(enum.Enum):
    """Lifecycle of an :class:`OrderBook`."""

    SYNCING = "syncing"
    """No snapshot applied yet: pushes are buffered, a snapshot is needed."""
    LIVE = "live"
    """In sync: every push is checked for continuity and applied; reads are valid."""
    RESYNCING = "resyncing"
    """The book was dropped (gap, crossed book, stale snapshot, bad push): pushes are buffered and a new
    snapshot is needed. Reads return ``None`` / empty until it arrives."""


_LIVE = BookState.LIVE


class ResyncReason(enum.Enum):
    """Why an :class:`OrderBook` last left the ``live`` state (or why a snapshot was not enough)."""

    GAP = "gap"
    """A push started after ``last sequence + 1``: updates were lost (classic-protocol.md#sync-procedure)."""
    CROSSED = "crossed"
    """After applying a push or snapshot the best bid was >= the best ask."""
    STALE_SNAPSHOT = "stale_snapshot"
    """The snapshot is older than the first buffered push it would need to continue from."""
    OVERFLOW = "overflow"
    """The buffer filled up while waiting for a snapshot; its oldest pushes were dropped."""
    PROTOCOL = "protocol"
    """A push could not be read (missing field, unreadable number); :class:`ProtocolError` was raised."""
    REQUESTED = "requested"
    """The driver called :meth:`OrderBook.resync`."""


@dataclass(frozen=True, slots=True)
class BookStats:
    """A snapshot of an :class:`OrderBook`'s counters (they only ever grow, ``last_sequence`` aside)."""

    last_sequence: int | None
    """The book sequence the local book reflects (``None`` before the first snapshot)."""
    updates_applied: int
    """Level rows applied to the book (set or deleted) from pushes."""
    pushes_applied: int
    """Pushes that passed the continuity check and were applied."""
    pushes_skipped: int
    """Pushes already reflected in the book (``sequenceEnd <= last``): duplicates and pre-snapshot ones."""
    snapshots: int
    """Snapshots loaded."""
    resyncs: int
    """Times the book was dropped and a new snapshot asked for (every reason)."""
    gaps: int
    """Sequence gaps detected in the pushes."""
    crossed: int
    """Crossed books detected (best bid >= best ask)."""
    stale_snapshots: int
    """Snapshots too old to continue from the buffered pushes."""
    overflows: int
    """Buffered pushes dropped because the buffer was full."""
    last_reason: ResyncReason | None
    """The reason of the latest resync or overflow."""


class _Side:
    """One side of the book: price -> size, plus the sorted keys with the best price last."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: float) -> None:
        self.sign = sign  # +1.0 for bids (ascending keys), -1.0 for asks (negated keys)
        self.levels: dict[float, float] = {}
        self.keys: list[float] = []

    def clear(self) -> None:
        self.levels.clear()
        self.keys.clear()

    def load(self, rows: Iterable[Level]) -> None:
        levels = self.levels
        for price, size in rows:
            if size and price:
                levels[price] = size
        sign = self.sign
        self.keys = sorted(sign * p for p in levels)

    def best_first(self, n: int | None) -> list[float]:
        keys = self.keys
        stop = None if n is None or n >= len(keys) else len(keys) - 1 - n
        sign = self.sign
        return [sign * k for k in keys[len(keys) - 1 : stop : -1]] if keys else []


class OrderBook:
    """The level-2 book of one symbol, synchronised from :class:`~kunb.events.BookDelta` and
    :class:`~kunb.events.BookSnapshot` events.

    Feed it :meth:`on_delta` for every delta and :meth:`on_snapshot` whenever :attr:`needs_snapshot` is
    true and a snapshot arrives. Reads are valid only when :attr:`state` is :attr:`BookState.LIVE`;
    otherwise they return ``None`` or empty results.

    Args:
        symbol: the symbol (``"BTC-USDT"``); events of another symbol are refused.
        max_buffer: deltas kept while waiting for a snapshot; beyond it the oldest are dropped
            (counted in :attr:`BookStats.overflows`; a snapshot older than the kept deltas is then
            detected as stale and another is asked for).
    """

    def __init__(self, symbol: str, *, max_buffer: int = 10_000) -> None:
        if max_buffer < 1:
            raise ConfigurationError(f"max_buffer must be >= 1, got {max_buffer}")
        self.symbol = symbol
        self.max_buffer = max_buffer
        self._state = BookState.SYNCING
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)
        # The sides' sorted key lists, held directly: the best prices are read after every delta.
        self._bid_keys = self._bids.keys
        self._ask_keys = self._asks.keys
        self._buffer: deque[BookDelta] = deque()
        self._last = -1
        self._time_ns: int | None = None
        self._snapshots = self._pushes = self._updates = self._skipped = self._resyncs = 0
        self._gaps = self._crossings = self._stale = self._overflows = 0
        self._reason: ResyncReason | None = None

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self.symbol} {self._state.value} seq={self.last_sequence} "
            f"bids={len(self._bid_keys)} asks={len(self._ask_keys)}>"
        )

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> BookState:
        """The lifecycle state (see :class:`BookState`)."""
        return self._state

    @property
    def needs_snapshot(self) -> bool:
        """True when the driver should get a snapshot and pass it to :meth:`on_snapshot`."""
        return self._state is not _LIVE

    @property
    def buffered(self) -> int:
        """Number of deltas waiting for a snapshot."""
        return len(self._buffer)

    def resync(self) -> None:
        """Drop the book and ask for a new snapshot (counted with reason ``REQUESTED``)."""
        self._drop(ResyncReason.REQUESTED)

    @property
    def last_sequence(self) -> int | None:
        """The book sequence the local book reflects (``None`` before the first snapshot)."""
        return self._last if self._snapshots else None

    @property
    def time_ns(self) -> int | None:
        """Exchange time (ns) of the latest applied delta or snapshot, when it carried one."""
        return self._time_ns

    @property
    def stats(self) -> BookStats:
        """The counters, as an immutable :class:`BookStats` snapshot."""
        return BookStats(
            last_sequence=self.last_sequence,
            updates_applied=self._updates,
            pushes_applied=self._pushes,
            pushes_skipped=self._skipped,
            snapshots=self._snapshots,
            resyncs=self._resyncs,
            gaps=self._gaps,
            crossed=self._crossings,
            stale_snapshots=self._stale,
            overflows=self._overflows,
            last_reason=self._reason,
        )

    def _drop(self, reason: ResyncReason) -> None:
        self._resyncs += 1
        self._reason = reason
        self._state = BookState.RESYNCING
        self._bids.clear()
        self._asks.clear()

    # -- input ---------------------------------------------------------------------------------

    def on_snapshot(self, snapshot: BookSnapshot) -> BookState:
        """Load a snapshot, then replay the buffered deltas (order-book sync, steps 2-3).

        A snapshot without a sequence (a top-of-book replacement such as classic ``level2Depth5``) is
        loaded as it is and nothing is replayed.

        Returns:
            the new state: ``live``, or ``resyncing`` when the snapshot was stale or the replay found a
            gap or a crossed book (the driver gets another snapshot).

        Raises:
            ProtocolError: the snapshot is of another symbol.
        """
        if snapshot.symbol != self.symbol:
            raise ProtocolError(f"snapshot of {snapshot.symbol} fed to the book of {self.symbol}")
        sequence = snapshot.sequence
        bids, asks = _Side(1.0), _Side(-1.0)
        bids.load(snapshot.bids)
        asks.load(snapshot.asks)
        self._bids, self._asks = bids, asks
        self._bid_keys, self._ask_keys = bids.keys, asks.keys
        self._snapshots += 1
        self._time_ns = snapshot.time_ns or self._time_ns
        if self._crossed():
            self._crossings += 1
            self._drop(ResyncReason.CROSSED)
            return self._state
        if sequence is None:
            self._last = -1
            self._buffer.clear()
            self._state = BookState.LIVE
            return self._state
        self._last = sequence
        pending = self._buffer
        self._buffer = deque()
        # Step 3: deltas the snapshot already holds (end <= S) are skipped; the first one that is not
        # must continue from S, otherwise the snapshot is older than what was buffered.
        while pending and pending[0].sequence_end <= sequence:
            pending.popleft()
            self._skipped += 1
        if pending and pending[0].sequence_start > sequence + 1:
            self._stale += 1
            self._drop(ResyncReason.STALE_SNAPSHOT)
            self._buffer = pending
            return self._state
        self._state = BookState.LIVE
        for index, delta in enumerate(pending):
            if self._state is not BookState.LIVE:
                # A gap or crossed book in the replay: keep the rest for the next snapshot.
                self._buffer.extend(list(pending)[index:])
                break
            self.on_delta(delta)
        return self._state

    def on_delta(self, delta: BookDelta) -> BookState:
        """Apply (or buffer) one delta (order-book sync, steps 3-5).

        Returns:
            the state after the delta; ``resyncing`` right after a gap or a crossed book.

        Raises:
            ProtocolError: the delta is of another symbol (nothing is applied or buffered).
        """
        if delta.symbol != self.symbol:
            raise ProtocolError(f"level-2 delta of {delta.symbol} fed to the book of {self.symbol}")
        if self._state is not _LIVE:
            buffer = self._buffer
            if len(buffer) >= self.max_buffer:
                buffer.popleft()
                self._overflows += 1
                self._reason = ResyncReason.OVERFLOW
            buffer.append(delta)
            return self._state
        start = delta.sequence_start
        end = delta.sequence_end
        last = self._last
        if end <= last:
            self._skipped += 1
            return _LIVE
        if start > last + 1:
            self._gaps += 1
            self._drop(ResyncReason.GAP)
            # This delta is valid data past the gap: keep it for replay after the next snapshot.
            self._buffer.append(delta)
            return self._state
        # Changes with seq <= last are already reflected (step 5); they can only exist when this delta
        # overlaps the book (start <= last), so the common contiguous case skips the per-change check.
        after = last if start <= last else None
        applied = 0
        rows = delta.bids
        if rows:
            applied = self._apply(self._bids, rows, after)
        rows = delta.asks
        if rows:
            applied += self._apply(self._asks, rows, after)
        self._last = end
        self._pushes += 1
        self._updates += applied
        self._time_ns = delta.time_ns
        bids = self._bid_keys
        asks = self._ask_keys
        if bids and asks and bids[-1] >= -asks[-1]:
            self._crossings += 1
            self._drop(ResyncReason.CROSSED)
        return self._state

    def _apply(self, book_side: _Side, rows: Iterable[LevelChange], after: int | None) -> int:
        """Apply ``(price, size, seq)`` changes (absolute sizes) to one side; return how many applied.

        ``after``: skip changes whose sequence is ``<= after`` (already reflected), ``None``: no check.
        """
        levels = book_side.levels
        keys = book_side.keys
        sign = book_side.sign
        applied = 0
        for price, size, seq in rows:
            if after is not None and seq <= after:
                continue
            if not price:
                continue  # ["0", "0", seq]: advances the sequence only (order-book sync, step 5)
            if size:
                if price not in levels:
                    insort(keys, sign * price)
                levels[price] = size
            elif levels.pop(price, None) is not None:
                del keys[bisect_left(keys, sign * price)]
            applied += 1
        return applied

    def _crossed(self) -> bool:
        bids = self._bid_keys
        asks = self._ask_keys
        return bool(bids and asks and bids[-1] >= -asks[-1])

    # -- reads ---------------------------------------------------------------------------------

    @property
    def best_bid(self) -> float | None:
        """The highest bid price, or ``None`` (empty side, or not live)."""
        keys = self._bid_keys
        return keys[-1] if keys else None

    @property
    def best_ask(self) -> float | None:
        """The lowest ask price, or ``None``."""
        keys = self._ask_keys
        return -keys[-1] if keys else None

    def bbo(self) -> tuple[float, float, float, float] | None:
        """``(best_bid, bid_size, best_ask, ask_size)``, or ``None`` unless both sides have a level."""
        bids = self._bid_keys
        asks = self._ask_keys
        if not bids or not asks:
            return None
        bid = bids[-1]
        ask = -asks[-1]
        return bid, self._bids.levels[bid], ask, self._asks.levels[ask]

    @property
    def spread(self) -> float | None:
        """``best_ask - best_bid``, or ``None``."""
        bids = self._bid_keys
        asks = self._ask_keys
        return -asks[-1] - bids[-1] if bids and asks else None

    @property
    def mid(self) -> float | None:
        """``(best_bid + best_ask) / 2``, or ``None``."""
        bids = self._bid_keys
        asks = self._ask_keys
        return (bids[-1] - asks[-1]) / 2 if bids and asks else None

    def _side(self, side: Side) -> _Side:
        if side == "bid":
            return self._bids
        if side == "ask":
            return self._asks
        raise ConfigurationError(f"side must be 'bid' or 'ask', got {side!r}")

    def top(self, n: int = 10) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """The best ``n`` levels of each side, best first: ``([(price, size), ...] bids, ... asks)``."""
        result = []
        for book_side in (self._bids, self._asks):
            levels = book_side.levels
            result.append([(p, levels[p]) for p in book_side.best_first(n)])
        return result[0], result[1]

    def levels(self, side: Side) -> dict[float, float]:
        """A copy of one side as ``{price: size}``."""
        return dict(self._side(side).levels)

    def level_count(self, side: Side) -> int:
        """Number of price levels on one side."""
        return len(self._side(side).keys)

    def arrays(self, side: Side, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prices and sizes of the best ``n`` levels (all when ``None``) as float64 arrays, best first."""
        import numpy as np

        book_side = self._side(side)
        prices = book_side.best_first(n)
        levels = book_side.levels
        sizes = [levels[p] for p in prices]
        return np.array(prices, dtype=np.float64), np.array(sizes, dtype=np.float64)

    def volume_to(self, side: Side, price: float) -> float:
        """Total size from the best level down to ``price`` inclusive (bids >= price, asks <= price)."""
        book_side = self._side(side)
        keys = book_side.keys
        first = bisect_left(keys, book_side.sign * price)
        levels = book_side.levels
        sign = book_side.sign
        return float(sum(levels[sign * k] for k in keys[first:]))

    def price_for(self, side: Side, size: float) -> float | None:
        """The price of the level at which the cumulative size from the best level reaches ``size``
        (the worst price a market order of that size would touch), or ``None`` if the side is too thin."""
        book_side = self._side(side)
        levels = book_side.levels
        sign = book_side.sign
        total = 0.0
        for key in reversed(book_side.keys):
            price = sign * key
            total += levels[price]
            if total >= size:
                return price
        return None

    def to_pandas(self, depth: int = 10) -> pd.DataFrame:
        """The best ``depth`` levels as a ladder: one row per rank, columns ``bid_size``, ``bid``,
        ``ask``, ``ask_size`` (float64, NaN where a side is shorter)."""
        import numpy as np
        import pandas as pd

        bids, asks = self.top(depth)
        rows = max(len(bids), len(asks))
        out = np.full((rows, 4), np.nan)
        for i, (price, size) in enumerate(bids):
            out[i, 0], out[i, 1] = size, price
        for i, (price, size) in enumerate(asks):
            out[i, 2], out[i, 3] = price, size
        frame = pd.DataFrame(out, columns=["bid_size", "bid", "ask", "ask_size"])
        frame.index.name = "level"
        return frame

    @property
    def df(self) -> pd.DataFrame:
        """Shorthand for :meth:`to_pandas` with the default depth."""
        return self.to_pandas()
