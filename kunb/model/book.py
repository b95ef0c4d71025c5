"""A local level-2 order book of one symbol, kept in sync by sequence number (a pure state machine).

The book follows KuCoin's documented procedure (``kucoin-protocol.md`` section 3) without doing any
I/O itself: it is fed the ``data`` dicts of ``/market/level2`` pushes and REST snapshots, and it reports
through its :attr:`OrderBook.state` whether it needs a snapshot. Waiting for a snapshot, a sequence gap,
a crossed book and a full buffer are *states*, not exceptions (the h11 style); the driver
(:mod:`kunb.feed`) fetches a snapshot whenever :attr:`OrderBook.needs_snapshot` is true. Exceptions are
kept for input that is not KuCoin's protocol (:class:`~kunb.exceptions.ProtocolError`).

Representation, chosen by measurement (``bench/book.py``, ``bench/RESULTS.md``):

* Price keys are ``float``, parsed once per distinct wire string (a per-book cache: levels recur,
  and a dict hit costs a sixth of ``float()``). Sizes are kept as the wire strings and parsed when
  read, since most are overwritten before anyone reads them. Float keys are exact for identity and
  order: a decimal with at most 15 significant digits (``DBL_DIG``) round-trips through an IEEE 754
  double, so distinct wire prices map to distinct floats, and correctly rounded parsing is monotone,
  so their order is preserved. KuCoin prices have far fewer digits (a price increment of ``1e-10`` at
  most, a handful of digits before the point); a price string longer than 15 characters is checked
  and rejected with :class:`~kunb.exceptions.ProtocolError` when it has more than 15 significant digits,
  so the book can never merge two levels silently. ``"67993.30"`` and ``"67993.3"`` are the same
  level, as on the exchange.
* Each side is a ``dict`` (price -> size) plus a plain sorted ``list`` of its prices kept with
  :mod:`bisect`, arranged so the best price is at the *end* (bids ascending, asks stored negated):
  the churn near the top of the book moves few list slots, the best price is ``keys[-1]`` (a C-level
  read), and top-N / depth reads are slices. Updating the size of an existing level touches only the
  dict. Measured here at 2-3.5 M level changes/s with a best bid/ask read after each, against
  about 0.9 M/s for ``sortedcontainers.SortedDict``; the list's O(n) memmove loses to SortedDict only
  beyond tens of thousands of levels per side with uniformly spread changes, which a spot book is not.
  End to end (:meth:`OrderBook.on_push` on decoded wire pushes, continuity checks included) it takes
  about 0.5-0.6 M pushes/s, several times what a WebSocket connection delivers.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from ..exceptions import ConfigurationError, ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = ["BookState", "BookStats", "OrderBook", "ResyncReason", "Side"]

Side = Literal["bid", "ask"]

# A float holds any decimal with this many significant digits exactly (IEEE 754 double, DBL_DIG).
_MAX_DIGITS = 15
_INF = float("inf")
# Parsed prices per book: levels recur all the time, and a dict hit is ~6x cheaper than float().
_PRICE_CACHE = 65_536


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
    """A push started after ``last sequence + 1``: updates were lost (kucoin-protocol.md 3, step 4)."""
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


def _price(text: Any) -> float:
    """Parse a wire price; longer strings are checked for the float-exactness bound (see module doc)."""
    value = float(text)
    if not 0.0 <= value < _INF:  # NaN, infinities and negatives are not prices (NaN breaks the sort)
        raise ProtocolError(f"price {text!r} is not a finite, non-negative number")
    if len(text) > _MAX_DIGITS and _significant_digits(text) > _MAX_DIGITS:
        raise ProtocolError(f"price {text!r} has more than {_MAX_DIGITS} significant digits")
    return value


def _size(text: str) -> float:
    """Parse a wire size on a cold path (snapshots, sizes below 1); garbage is a ProtocolError."""
    value = float(text)
    if not 0.0 <= value < _INF:
        raise ProtocolError(f"size {text!r} is not a finite, non-negative number")
    return value


def _significant_digits(text: str) -> int:
    try:
        return len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        raise ProtocolError(f"unreadable price {text!r}") from None


class _Side:
    """One side of the book: price -> size, plus the sorted keys with the best price last."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: float) -> None:
        self.sign = sign  # +1.0 for bids (ascending keys), -1.0 for asks (negated keys)
        self.levels: dict[float, str] = {}  # price -> size as sent (parsed on read)
        self.keys: list[float] = []

    def clear(self) -> None:
        self.levels.clear()
        self.keys.clear()

    def load(self, rows: Iterable[Sequence[str]]) -> None:
        levels = self.levels
        for row in rows:
            size = row[1]
            price = _price(row[0])
            if _size(size) and price:
                levels[price] = size
        sign = self.sign
        self.keys = sorted(sign * p for p in levels)

    def best_first(self, n: int | None) -> list[float]:
        keys = self.keys
        stop = None if n is None or n >= len(keys) else len(keys) - 1 - n
        sign = self.sign
        return [sign * k for k in keys[len(keys) - 1 : stop : -1]] if keys else []


class OrderBook:
    """The level-2 book of one symbol, synchronised from ``/market/level2`` pushes and REST snapshots.

    Feed it :meth:`on_push` for every push (``data`` of the message) and :meth:`on_snapshot` whenever
    :attr:`needs_snapshot` is true and a REST snapshot arrives. Reads are valid only when
    :attr:`state` is :attr:`BookState.LIVE`; otherwise they return ``None`` or empty results.

    Args:
        symbol: the symbol (``"BTC-USDT"``); pushes naming another symbol are refused.
        max_buffer: pushes kept while waiting for a snapshot; beyond it the oldest are dropped
            (counted in :attr:`BookStats.overflows`; a snapshot older than the kept pushes is then
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
        # The sides' sorted key lists, held directly: the best prices are read after every push.
        self._bid_keys = self._bids.keys
        self._ask_keys = self._asks.keys
        self._buffer: deque[Mapping[str, Any]] = deque()
        self._last = -1
        self._prices: dict[str, float] = {}
        self._stamped: Mapping[str, Any] = {}  # the latest payload applied; `time` is read from it lazily
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
        """True when the driver should fetch a REST snapshot and pass it to :meth:`on_snapshot`."""
        return self._state is not _LIVE

    @property
    def buffered(self) -> int:
        """Number of pushes waiting for a snapshot."""
        return len(self._buffer)

    def resync(self) -> None:
        """Drop the book and ask for a new snapshot (counted with reason ``REQUESTED``)."""
        self._drop(ResyncReason.REQUESTED)

    @property
    def last_sequence(self) -> int | None:
        """The book sequence the local book reflects (``None`` before the first snapshot)."""
        return self._last if self._snapshots else None

    @property
    def time(self) -> int | None:
        """``time`` (ms) of the latest applied push or snapshot, when the payload carried one."""
        return self._stamped.get("time")

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

    def on_snapshot(self, snapshot: Mapping[str, Any]) -> BookState:
        """Load a REST snapshot ``{"sequence": "...", "bids": [[p, s], ...], "asks": [...]}``, then
        replay the buffered pushes (kucoin-protocol.md 3, steps 2-3).

        Returns:
            the new state: ``live``, or ``resyncing`` when the snapshot was stale or the replay found a
            gap or a crossed book (the driver fetches another snapshot).

        Raises:
            ProtocolError: the snapshot has no readable ``sequence``, ``bids`` or ``asks``.
        """
        try:
            sequence = int(snapshot["sequence"])
            bids, asks = _Side(1.0), _Side(-1.0)
            bids.load(snapshot["bids"])
            asks.load(snapshot["asks"])
        except ProtocolError:
            if self._state is _LIVE:
                self._drop(ResyncReason.PROTOCOL)
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if self._state is _LIVE:
                self._drop(ResyncReason.PROTOCOL)
            raise ProtocolError(f"unreadable level-2 snapshot for {self.symbol}: {exc!r}") from exc
        self._bids, self._asks = bids, asks
        self._bid_keys, self._ask_keys = bids.keys, asks.keys
        self._snapshots += 1
        self._last = sequence
        self._stamped = snapshot
        if self._crossed():
            self._crossings += 1
            self._drop(ResyncReason.CROSSED)
            return self._state
        pending = self._buffer
        self._buffer = deque()
        # Step 3: pushes the snapshot already holds (sequenceEnd <= S) are skipped; the first one that
        # is not must continue from S, otherwise the snapshot is older than what was buffered.
        while pending and int(pending[0]["sequenceEnd"]) <= sequence:
            pending.popleft()
            self._skipped += 1
        if pending and int(pending[0]["sequenceStart"]) > sequence + 1:
            self._stale += 1
            self._drop(ResyncReason.STALE_SNAPSHOT)
            self._buffer = pending
            return self._state
        self._state = BookState.LIVE
        for index, push in enumerate(pending):
            if self._state is not BookState.LIVE:
                # A gap or crossed book in the replay: keep the rest for the next snapshot.
                self._buffer.extend(list(pending)[index:])
                break
            self.on_push(push)
        return self._state

    def on_push(self, data: Mapping[str, Any]) -> BookState:
        """Apply (or buffer) the ``data`` of one ``/market/level2`` push (kucoin-protocol.md 2.2, 3).

        Returns:
            the state after the push; ``resyncing`` right after a gap or a crossed book.

        Raises:
            ProtocolError: the push is not a level-2 change of this symbol, or a number in it is
                unreadable; the book is dropped first (reason ``PROTOCOL``), never left half-applied.
        """
        if self._state is not _LIVE:
            try:  # checked now so that the replay in on_snapshot cannot trip over it later
                int(data["sequenceStart"]), int(data["sequenceEnd"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ProtocolError(f"unreadable level-2 push for {self.symbol}: {exc!r}") from exc
            buffer = self._buffer
            if len(buffer) >= self.max_buffer:
                buffer.popleft()
                self._overflows += 1
                self._reason = ResyncReason.OVERFLOW
            buffer.append(data)
            return self._state
        try:
            start = data["sequenceStart"]
            end = data["sequenceEnd"]
            if start.__class__ is not int or end.__class__ is not int:  # numbers on the wire (2.2)
                start, end = int(start), int(end)
            last = self._last
            if end <= last:
                self._skipped += 1
                return _LIVE
            if start > last + 1:
                self._gaps += 1
                self._drop(ResyncReason.GAP)
                # This push is valid data past the gap: keep it for replay after the next snapshot.
                self._buffer.append(data)
                return self._state
            symbol = data.get("symbol")
            if symbol is not None and symbol != self.symbol:
                raise ProtocolError(f"level-2 push for {symbol} fed to the book of {self.symbol}")
            changes = data["changes"]
            # Rows with seq <= last are already reflected (step 5); they can only exist when this push
            # overlaps the book (start <= last), so the common contiguous case skips the per-row check.
            after = last if start <= last else None
            applied = 0
            rows = changes["bids"]
            if rows:
                applied = self._apply(self._bids, rows, after)
            rows = changes["asks"]
            if rows:
                applied += self._apply(self._asks, rows, after)
        except ProtocolError:
            self._drop(ResyncReason.PROTOCOL)
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self._drop(ResyncReason.PROTOCOL)
            raise ProtocolError(f"unreadable level-2 push for {self.symbol}: {exc!r}") from exc
        self._last = end
        self._pushes += 1
        self._updates += applied
        self._stamped = data
        bids = self._bid_keys
        asks = self._ask_keys
        if bids and asks and bids[-1] >= -asks[-1]:
            self._crossings += 1
            self._drop(ResyncReason.CROSSED)
        return self._state

    def _apply(self, book_side: _Side, rows: Iterable[Sequence[str]], after: int | None) -> int:
        """Apply ``[price, size, seq]`` rows (absolute sizes) to one side; return how many were applied.

        ``after``: skip rows whose sequence is ``<= after`` (already reflected), ``None``: no check.
        """
        cache = self._prices
        levels = book_side.levels
        keys = book_side.keys
        sign = book_side.sign
        applied = 0
        for row in rows:
            if after is not None and int(row[2]) <= after:
                continue
            text = row[0]
            price = cache.get(text)
            if price is None:
                price = self._parse_price(text)
            if not price:
                continue  # ["0", "0", seq]: advances the sequence only (kucoin-protocol.md 3, step 5)
            # Sizes stay strings until read (a float() costs more than the whole update). A size
            # starting with 1-9 that is plain digits and one dot is kept unparsed (isdecimal: C speed,
            # and exactly the digits float() accepts); anything else ("0.5", "0", "nan", "-1",
            # "1e999", "1abc") is parsed and checked, so no reader meets a size it cannot use.
            size = row[1]
            if "1" <= size[0] <= "9" and size.replace(".", "", 1).isdecimal():
                keep = True
            else:
                value = float(size)
                if not 0.0 <= value < _INF:
                    raise ProtocolError(f"size {size!r} is not a finite, non-negative number")
                keep = value > 0.0
            if keep:
                if price not in levels:
                    insort(keys, sign * price)
                levels[price] = size
            elif levels.pop(price, None) is not None:
                del keys[bisect_left(keys, sign * price)]
            applied += 1
        return applied

    def _parse_price(self, text: str) -> float:
        cache = self._prices
        if len(cache) >= _PRICE_CACHE:
            cache.clear()
        price = cache[text] = _price(text)
        return price

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
        return bid, float(self._bids.levels[bid]), ask, float(self._asks.levels[ask])

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
            result.append([(p, float(levels[p])) for p in book_side.best_first(n)])
        return result[0], result[1]

    def levels(self, side: Side) -> dict[float, float]:
        """A copy of one side as ``{price: size}``."""
        return {price: float(size) for price, size in self._side(side).levels.items()}

    def level_count(self, side: Side) -> int:
        """Number of price levels on one side."""
        return len(self._side(side).keys)

    def arrays(self, side: Side, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prices and sizes of the best ``n`` levels (all when ``None``) as float64 arrays, best first."""
        import numpy as np

        book_side = self._side(side)
        prices = book_side.best_first(n)
        levels = book_side.levels
        sizes = [float(levels[p]) for p in prices]
        return np.array(prices, dtype=np.float64), np.array(sizes, dtype=np.float64)

    def volume_to(self, side: Side, price: float) -> float:
        """Total size from the best level down to ``price`` inclusive (bids >= price, asks <= price)."""
        book_side = self._side(side)
        keys = book_side.keys
        first = bisect_left(keys, book_side.sign * price)
        levels = book_side.levels
        sign = book_side.sign
        return float(sum(float(levels[sign * k]) for k in keys[first:]))

    def price_for(self, side: Side, size: float) -> float | None:
        """The price of the level at which the cumulative size from the best level reaches ``size``
        (the worst price a market order of that size would touch), or ``None`` if the side is too thin."""
        book_side = self._side(side)
        levels = book_side.levels
        sign = book_side.sign
        total = 0.0
        for key in reversed(book_side.keys):
            price = sign * key
            total += float(levels[price])
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
