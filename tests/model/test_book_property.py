"""OrderBook against a reference model: duplicates, overlaps, reordering, gaps and stale snapshots give
either exactly the reference book or a detected resync, never a silently wrong book."""

from __future__ import annotations

import itertools
from decimal import Decimal

from decoded import book_snapshot, delta
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kunb.model.book import BookState, OrderBook

SYMBOL = "ETH-USDT"
BASE = 1_000  # the sequence of the initial book

# A level change: (side, tick, size); ticks keep bids below 100 and asks above, so a correct book is
# never crossed. A tick of 0 is KuCoin's ["0", "0", seq] row: it only consumes a sequence number.
change = st.tuples(
    st.sampled_from(["bids", "asks"]),
    st.integers(0, 12),
    st.sampled_from(["0", "0.0", "0.5", "1", "2.25", "10"]),
)
spelling = st.sampled_from(["{:.1f}", "{:.2f}", "{:.3f}"])  # "99.5", "99.50", "99.500": one level


class Reference:
    """The server's book: Decimal keys, one state per sequence number."""

    def __init__(self, changes: list[tuple[str, int, str]]) -> None:
        book: dict[str, dict[Decimal, Decimal]] = {
            "bids": {Decimal(99) - Decimal(t) / 2: Decimal(1) for t in (1, 3)},
            "asks": {Decimal(100) + Decimal(t) / 2: Decimal(1) for t in (2, 4)},
        }
        self.states = {BASE: {side: dict(levels) for side, levels in book.items()}}
        for offset, (side, tick, size) in enumerate(changes, start=1):
            if tick:
                price = _price(side, tick)
                if Decimal(size):
                    book[side][price] = Decimal(size)
                else:
                    book[side].pop(price, None)
            self.states[BASE + offset] = {side: dict(levels) for side, levels in book.items()}

    def snapshot(self, sequence: int, fmt: str) -> dict:
        state = self.states[sequence]
        return {
            "sequence": str(sequence),
            "bids": [[fmt.format(p), str(s)] for p, s in sorted(state["bids"].items(), reverse=True)],
            "asks": [[fmt.format(p), str(s)] for p, s in sorted(state["asks"].items())],
        }

    def as_floats(self, sequence: int) -> dict[str, dict[float, float]]:
        state = self.states[sequence]
        return {side: {float(p): float(s) for p, s in state[side].items()} for side in ("bids", "asks")}


def _price(side: str, tick: int) -> Decimal:
    return Decimal(99) - Decimal(tick) / 2 if side == "bids" else Decimal(100) + Decimal(tick) / 2


def make_push(changes: list[tuple[str, int, str]], start: int, end: int, fmt: str) -> dict:
    """The push covering sequences ``start..end``: only the latest row per price, as KuCoin sends."""
    rows: dict[tuple[str, str], list[str]] = {}
    for seq in range(start, end + 1):
        side, tick, size = changes[seq - BASE - 1]
        price = fmt.format(_price(side, tick)) if tick else "0"
        rows[(side, price if tick else f"0@{seq}")] = [price, size if tick else "0", str(seq)]
    out: dict[str, list[list[str]]] = {"bids": [], "asks": []}
    for (side, _), row in rows.items():
        out[side].append(row)
    return {"changes": out, "sequenceStart": start, "sequenceEnd": end, "symbol": SYMBOL}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list, list, list]:
    changes = draw(st.lists(change, min_size=1, max_size=40))
    cuts = draw(st.sets(st.integers(1, len(changes) - 1))) if len(changes) > 1 else set()
    bounds = [0, *sorted(cuts), len(changes)]
    ranges = [(BASE + a + 1, BASE + b) for a, b in itertools.pairwise(bounds)]
    # What the network does to each push, and when the driver's snapshot arrives (and how stale).
    faults = draw(
        st.lists(
            st.sampled_from(["ok", "ok", "ok", "dup", "drop", "swap", "overlap"]),
            min_size=len(ranges),
            max_size=len(ranges),
        )
    )
    timing = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 3), spelling), min_size=len(ranges) + 1))
    return changes, ranges, list(zip(faults, timing, strict=False))


def check(book: OrderBook, ref: Reference) -> None:
    """The invariant: a live book equals the reference at its sequence; a book not live shows nothing."""
    if book.state is BookState.LIVE:
        expected = ref.as_floats(book.last_sequence)
        assert book.levels("bid") == expected["bids"]
        assert book.levels("ask") == expected["asks"]
        bids = sorted(expected["bids"], reverse=True)
        assert book.best_bid == (bids[0] if bids else None)
    else:
        assert book.best_bid is None and book.best_ask is None and book.top() == ([], [])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), spelling)
def test_never_silently_wrong(scenario: tuple[list, list, list], fmt: str) -> None:
    """Under any mix of duplicated, dropped, swapped and overlapping pushes and stale snapshots, the book
    matches the reference whenever it is live, and a fresh snapshot at the end always brings it back."""
    changes, ranges, plan = scenario
    ref = Reference(changes)
    book = OrderBook(SYMBOL, max_buffer=8)
    delayed: dict | None = None
    prev_start = BASE + 1
    for (start, end), (fault, (snap_now, staleness, snap_fmt)) in zip(ranges, plan, strict=False):
        message = make_push(changes, start, end, fmt)
        deliveries: list[dict] = []  # "drop" delivers nothing
        if fault == "dup":
            deliveries = [message, message]
        elif fault == "swap":
            delayed = message
        elif fault == "overlap":
            deliveries = [make_push(changes, prev_start, end, fmt)]
        elif fault == "ok":
            deliveries = [message]
        if delayed is not None and fault != "swap":
            deliveries.append(delayed)  # arrives after the push that followed it
            delayed = None
        prev_start = start
        for data in deliveries:
            book.on_delta(delta(data))
            check(book, ref)
        if book.needs_snapshot and snap_now:
            # The driver's snapshot reflects the server's current sequence, or an older one.
            book.on_snapshot(book_snapshot(SYMBOL, ref.snapshot(max(BASE, end - staleness), snap_fmt)))
            check(book, ref)
    if delayed is not None:
        book.on_delta(delta(delayed))
        check(book, ref)
    final = BASE + len(changes)
    event(f"resyncs={min(book.stats.resyncs, 3)} live={book.state is BookState.LIVE}")
    if book.needs_snapshot:
        assert book.on_snapshot(book_snapshot(SYMBOL, ref.snapshot(final, fmt))) is BookState.LIVE
    check(book, ref)
    assert book.state is BookState.LIVE
    if book.last_sequence == final:
        assert book.levels("bid") == ref.as_floats(final)["bids"]


@settings(max_examples=60, deadline=None)
@given(st.lists(change, min_size=1, max_size=60), st.integers(0, 5), spelling)
def test_clean_stream_goes_live_once_and_never_resyncs(changes: list, lead: int, fmt: str) -> None:
    """Without faults: buffer, one snapshot taken ``lead`` pushes into the stream, replay, then live to
    the end with no resync and exactly the reference book."""
    ref = Reference(changes)
    book = OrderBook(SYMBOL)
    pushes = [make_push(changes, seq, seq, fmt) for seq in range(BASE + 1, BASE + len(changes) + 1)]
    snap_at = min(lead, len(pushes))
    for data in pushes[:snap_at]:
        assert book.on_delta(delta(data)) is BookState.SYNCING
    # The snapshot was taken a little before the last buffered push arrived (it overlaps the buffer).
    overlapping = book_snapshot(SYMBOL, ref.snapshot(BASE + max(0, snap_at - 1), fmt))
    assert book.on_snapshot(overlapping) is BookState.LIVE
    for data in pushes[snap_at:]:
        assert book.on_delta(delta(data)) is BookState.LIVE
    check(book, ref)
    assert book.last_sequence == BASE + len(changes)
    assert book.stats.resyncs == 0 and book.stats.gaps == 0
