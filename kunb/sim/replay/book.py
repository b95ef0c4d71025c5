"""One symbol's recorded order book, kept as the replay goes, to answer REST snapshots at any moment.

Pure. It follows KuCoin's level-2 sync (``classic-protocol.md#order-book-sync``) on the recorded
strings: a recorded REST snapshot loads it and the pushes buffered meanwhile whose sequence is past it
apply; a push applies each change whose own sequence is past the book's (price ``"0"`` rows only move the
sequence; size ``"0"`` removes the level); a push that skips sequences (pushes the recording never got)
leaves the book unknown until the next recorded snapshot. Prices and sizes are served as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["ReplayBook"]

_MAX_BUFFER = 100_000  # pushes kept while the book waits for a recorded snapshot


def _price(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


class ReplayBook:
    """The book of one symbol as the recording knew it (see the module docstring)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.sequence: int | None = None  #: ``None`` while unknown (no snapshot yet, or after a gap)
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.snapshots = 0
        self.gaps = 0
        self._pending: list[Mapping[str, Any]] = []

    @property
    def known(self) -> bool:
        """Whether the book can be served (a snapshot loaded and every push since applied)."""
        return self.sequence is not None

    def snapshot(self, data: Mapping[str, Any]) -> None:
        """A recorded REST answer's ``data`` (``sequence``, ``bids``, ``asks``)."""
        sequence = int(data["sequence"])
        if self.sequence is not None and sequence <= self.sequence:
            return  # older than what the pushes brought the book to
        self.sequence = sequence
        self.bids = {str(p): str(s) for p, s, *_ in data.get("bids") or ()}
        self.asks = {str(p): str(s) for p, s, *_ in data.get("asks") or ()}
        self.snapshots += 1
        pending, self._pending = self._pending, []
        for push in pending:
            self.push(push)

    def push(self, data: Mapping[str, Any]) -> None:
        """A recorded ``trade.l2update``'s ``data``."""
        if self.sequence is None:
            if len(self._pending) < _MAX_BUFFER:
                self._pending.append(data)
            return
        start, end = int(data["sequenceStart"]), int(data["sequenceEnd"])
        if end <= self.sequence:
            return
        if start > self.sequence + 1:
            self.gaps += 1
            self.sequence = None  # the recording missed pushes: unknown until its next snapshot
            self._pending = [data]
            return
        changes = data.get("changes") or {}
        after = self.sequence
        for levels, rows in ((self.bids, changes.get("bids") or ()), (self.asks, changes.get("asks") or ())):
            for price, size, sequence in rows:
                if int(sequence) <= after or price == "0":
                    continue
                if _price(size) == 0:
                    levels.pop(price, None)
                else:
                    levels[price] = size
        self.sequence = end

    def answer(self, depth: int | None, time_ms: int) -> dict[str, Any]:
        """The REST snapshot ``data`` (best first; ``depth`` levels a side, ``None``: all)."""
        bids = sorted(self.bids.items(), key=lambda row: _price(row[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda row: _price(row[0]))
        return {
            "time": time_ms,
            "sequence": str(self.sequence),
            "bids": [list(row) for row in bids[:depth]],
            "asks": [list(row) for row in asks[:depth]],
        }
