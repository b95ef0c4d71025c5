"""Books the recorder keeps from the recorded snapshots and deltas, to write one snapshot every N seconds.

A reader rebuilding a book at some past time starts from the nearest earlier snapshot and applies the
deltas after it; with only the snapshots the feed used (one per sync), that can mean hours of deltas.
These books follow the same rules as the live book (classic: a change applies when its sequence is after
the book's; classic-protocol.md#order-book-sync) and give up on a symbol at
the first sign of a gap (a delta that
does not continue the sequence, an integrity event, a partial snapshot) until the next full snapshot.
Pure: events in, snapshots out; the period is measured in the events' own time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..events import BookDelta, BookSnapshot, Integrity

__all__ = ["ShadowBooks"]

_BREAKS = frozenset({"gap", "resync", "outage", "reconnected", "overflow"})


@dataclass
class _Book:
    sequence: int
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    last_emit_ns: int = 0


class ShadowBooks:
    """Full books per symbol, and a :class:`~kunb.events.BookSnapshot` of each every ``period_ns``."""

    def __init__(self, period_ns: int) -> None:
        self.period_ns = period_ns
        self._books: dict[str, _Book] = {}

    def snapshot(self, snap: BookSnapshot) -> None:
        if snap.depth is not None or snap.sequence is None:
            self._books.pop(snap.symbol, None)  # a top-N view cannot carry a full book forward
            return
        stamp = snap.time_ns or snap.received_ns
        self._books[snap.symbol] = _Book(
            snap.sequence, dict(snap.bids), dict(snap.asks), last_emit_ns=stamp
        )  # the feed's snapshot is itself on record: the period restarts from it

    def delta(self, delta: BookDelta) -> BookSnapshot | None:
        """Apply a delta; returns a snapshot when the period has passed since the last one."""
        book = self._books.get(delta.symbol)
        if book is None:
            return None
        if delta.sequence_end <= book.sequence:
            return None  # already in the snapshot
        if delta.sequence_start > book.sequence + 1:
            del self._books[delta.symbol]  # a gap: wait for the feed's next snapshot
            return None
        after = book.sequence
        for levels, changes in ((book.bids, delta.bids), (book.asks, delta.asks)):
            for price, size, sequence in changes:
                if sequence <= after or price == 0.0:  # stale, or a row that only moves the sequence
                    continue
                if size == 0.0:
                    levels.pop(price, None)
                else:
                    levels[price] = size
        book.sequence = delta.sequence_end
        stamp = delta.time_ns or delta.received_ns
        if stamp - book.last_emit_ns < self.period_ns:
            return None
        book.last_emit_ns = stamp
        return BookSnapshot(
            delta.symbol,
            delta.time_ns,
            delta.received_ns,
            book.sequence,
            tuple(sorted(book.bids.items(), reverse=True)),
            tuple(sorted(book.asks.items())),
            None,
        )

    def integrity(self, event: Integrity) -> None:
        if event.kind not in _BREAKS:
            return
        if event.symbol:
            self._books.pop(event.symbol, None)
        else:
            self._books.clear()
