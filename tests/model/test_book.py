"""OrderBook: the documented sync procedure (order-book sync), its states, counters and reads, fed the events
the classic decoder makes of KuCoin's wire payloads."""

from __future__ import annotations

import math

import pytest
from decoded import book_snapshot, delta

from kunb.events import BookDelta, BookSnapshot
from kunb.exceptions import ConfigurationError, ProtocolError
from kunb.model.book import BookState, OrderBook, ResyncReason

SYMBOL = "BTC-USDT"


def push_data(start: int, end: int | None = None, *, bids=(), asks=(), symbol: str = SYMBOL) -> dict:
    """A ``/market/level2`` push ``data`` dict; rows are ``(price, size, seq)`` tuples."""
    return {
        "changes": {"asks": [list(r) for r in asks], "bids": [list(r) for r in bids]},
        "sequenceStart": start,
        "sequenceEnd": start if end is None else end,
        "symbol": symbol,
        "time": 1_700_000_000_000 + start,
    }


def push(start: int, end: int | None = None, *, bids=(), asks=(), symbol: str = SYMBOL) -> BookDelta:
    """The event of a ``/market/level2`` push (see :func:`push_data`)."""
    return delta(push_data(start, end, bids=bids, asks=asks, symbol=symbol))


def snapshot(sequence: int, bids=(), asks=()) -> BookSnapshot:
    data = {"sequence": str(sequence), "bids": [list(r) for r in bids], "asks": [list(r) for r in asks]}
    return book_snapshot(SYMBOL, data)


def live_book(sequence: int = 16) -> OrderBook:
    book = OrderBook(SYMBOL)
    book.on_snapshot(
        snapshot(
            sequence,
            bids=[("3988.59", "3"), ("3988.51", "56"), ("3988.50", "15")],
            asks=[("3988.60", "47"), ("3988.61", "32"), ("3988.62", "8")],
        )
    )
    assert book.state is BookState.LIVE
    return book


def test_worked_example_from_the_docs() -> None:
    """Rows at or below the snapshot sequence are skipped, later ones set or delete (protocol 3, step 5)."""
    book = live_book(16)
    state = book.on_delta(
        push(15, 19, asks=[("3988.62", "8", "15"), ("3988.61", "0", "19")], bids=[("3988.50", "44", "18")])
    )
    assert state is BookState.LIVE
    assert book.levels("bid") == {3988.59: 3.0, 3988.51: 56.0, 3988.50: 44.0}
    assert book.levels("ask") == {3988.60: 47.0, 3988.62: 8.0}
    assert book.last_sequence == 19
    assert book.stats.updates_applied == 2


def test_pushes_are_buffered_until_the_snapshot_and_replayed() -> None:
    """Before the snapshot pushes wait; those the snapshot holds are dropped, the rest replayed."""
    book = OrderBook(SYMBOL)
    assert book.state is BookState.SYNCING and book.needs_snapshot
    book.on_delta(push(10, bids=[("100", "1", "10")]))
    book.on_delta(push(11, bids=[("101", "1", "11")]))
    book.on_delta(push(12, bids=[("102", "1", "12")]))
    assert book.buffered == 3 and book.best_bid is None
    state = book.on_snapshot(snapshot(11, bids=[("100", "1"), ("101", "1")], asks=[("110", "2")]))
    assert state is BookState.LIVE and not book.needs_snapshot
    assert book.levels("bid") == {100.0: 1.0, 101.0: 1.0, 102.0: 1.0}
    stats = book.stats
    assert (stats.pushes_skipped, stats.pushes_applied, stats.snapshots, stats.resyncs) == (2, 1, 1, 0)
    assert book.buffered == 0
    assert book.time_ns == 1_700_000_000_012 * 1_000_000


def test_gap_drops_the_book_and_the_next_snapshot_restores_it() -> None:
    """A push starting after last+1 is a gap: resyncing, counted, and the push is kept for replay."""
    book = live_book(16)
    assert book.on_delta(push(17, asks=[("3988.63", "1", "17")])) is BookState.LIVE
    state = book.on_delta(push(19, asks=[("3988.64", "2", "19")]))
    assert state is BookState.RESYNCING and book.needs_snapshot
    assert book.best_bid is None and book.top() == ([], [])
    stats = book.stats
    assert (stats.gaps, stats.resyncs, stats.last_reason) == (1, 1, ResyncReason.GAP)
    book.on_delta(push(20, bids=[("3988.40", "5", "20")]))
    state = book.on_snapshot(snapshot(18, bids=[("3988.59", "3")], asks=[("3988.60", "47")]))
    assert state is BookState.LIVE
    assert book.levels("ask") == {3988.60: 47.0, 3988.64: 2.0}
    assert book.levels("bid") == {3988.59: 3.0, 3988.40: 5.0}
    assert book.last_sequence == 20


def test_stale_snapshot_is_refused_and_a_newer_one_accepted() -> None:
    """A snapshot older than the first buffered push cannot be continued: ask again, keep the buffer."""
    book = OrderBook(SYMBOL)
    book.on_delta(push(50, bids=[("1", "1", "50")]))
    assert book.on_snapshot(snapshot(40, bids=[("0.5", "1")])) is BookState.RESYNCING
    assert book.stats.stale_snapshots == 1 and book.stats.last_reason is ResyncReason.STALE_SNAPSHOT
    assert book.buffered == 1
    assert book.on_snapshot(snapshot(49, bids=[("0.5", "1")])) is BookState.LIVE
    assert book.levels("bid") == {0.5: 1.0, 1.0: 1.0}


def test_duplicates_and_old_pushes_are_skipped() -> None:
    """A push whose end is <= the last sequence is already reflected and changes nothing."""
    book = live_book(16)
    book.on_delta(push(17, bids=[("3988.55", "9", "17")]))
    before = book.levels("bid")
    assert book.on_delta(push(17, bids=[("3988.55", "1", "17")])) is BookState.LIVE
    assert book.on_delta(push(12, 16, bids=[("3988.55", "2", "16")])) is BookState.LIVE
    assert book.levels("bid") == before
    assert book.stats.pushes_skipped == 2


def test_price_zero_rows_advance_the_sequence_only() -> None:
    """``["0", "0", seq]`` rows never become levels, but the sequence moves on (recorded traffic has them)."""
    book = live_book(16)
    book.on_delta(push(17, asks=[("0", "0", "17")]))
    book.on_delta(push(18, bids=[("0", "0", "18")]))
    assert book.last_sequence == 18 and book.state is BookState.LIVE
    assert 0.0 not in book.levels("ask") and 0.0 not in book.levels("bid")
    assert book.on_delta(push(19, asks=[("3988.70", "1", "19")])) is BookState.LIVE


def test_size_zero_deletes_in_any_spelling() -> None:
    """Sizes are absolute; any zero spelling removes the level, an unknown level's delete is harmless."""
    book = live_book(16)
    book.on_delta(push(17, 19, asks=[("3988.60", "0.00000000", "17"), ("3988.99", "0", "18")]))
    assert 3988.60 not in book.levels("ask")
    assert book.best_ask == 3988.61


def test_equal_prices_in_different_spellings_are_one_level() -> None:
    """``"3988.5"`` and ``"3988.50"`` are the same level, as on the exchange."""
    book = live_book(16)
    book.on_delta(push(17, bids=[("3988.5", "7", "17")]))
    assert book.levels("bid")[3988.5] == 7.0
    assert book.level_count("bid") == 3


def test_crossed_book_resyncs_and_counts() -> None:
    """A bid at or above the best ask after a push means the book is wrong: resync."""
    book = live_book(16)
    state = book.on_delta(push(17, bids=[("3988.60", "1", "17")]))
    assert state is BookState.RESYNCING
    assert (book.stats.crossed, book.stats.resyncs, book.stats.last_reason) == (1, 1, ResyncReason.CROSSED)
    crossed = OrderBook(SYMBOL)
    assert crossed.on_snapshot(snapshot(5, bids=[("10", "1")], asks=[("9", "1")])) is BookState.RESYNCING
    assert crossed.stats.crossed == 1


def test_buffer_overflow_drops_the_oldest_and_is_counted() -> None:
    """A full buffer keeps the newest pushes; a snapshot older than them is then stale."""
    book = OrderBook(SYMBOL, max_buffer=3)
    for seq in range(1, 6):
        book.on_delta(push(seq, bids=[(str(seq), "1", str(seq))]))
    assert book.buffered == 3
    assert book.stats.overflows == 2 and book.stats.last_reason is ResyncReason.OVERFLOW
    assert book.on_snapshot(snapshot(1)) is BookState.RESYNCING
    assert book.on_snapshot(snapshot(2, bids=[("1", "1"), ("2", "1")])) is BookState.LIVE
    assert book.levels("bid") == {float(s): 1.0 for s in range(1, 6)}


def test_gap_inside_the_buffer_keeps_the_rest_for_the_next_snapshot() -> None:
    """The replay stops at a gap among buffered pushes and keeps the pushes after it."""
    book = OrderBook(SYMBOL)
    book.on_delta(push(11, bids=[("1", "1", "11")]))
    book.on_delta(push(13, bids=[("3", "1", "13")]))
    book.on_delta(push(14, bids=[("4", "1", "14")]))
    assert book.on_snapshot(snapshot(10)) is BookState.RESYNCING
    assert book.stats.gaps == 1 and book.buffered == 2
    assert book.on_snapshot(snapshot(12, bids=[("1", "1"), ("2", "1")])) is BookState.LIVE
    assert book.levels("bid") == {1.0: 1.0, 2.0: 1.0, 3.0: 1.0, 4.0: 1.0}


def test_requested_resync() -> None:
    """``resync()`` drops the book on the driver's request."""
    book = live_book()
    book.resync()
    assert book.needs_snapshot and book.stats.last_reason is ResyncReason.REQUESTED


@pytest.mark.parametrize(
    "bad",
    [
        {"sequenceStart": 17, "sequenceEnd": 17, "symbol": SYMBOL},
        {"sequenceStart": 17, "sequenceEnd": 17, "changes": {"bids": [["x", "1", "17"]], "asks": []}},
        {"sequenceStart": 17, "sequenceEnd": 17, "changes": {"bids": [["1", "-", "17"]], "asks": []}},
        {"sequenceStart": 17, "sequenceEnd": 17, "changes": {"bids": [["1", "nan", "17"]], "asks": []}},
        {"sequenceStart": 17, "sequenceEnd": 17, "changes": {"bids": [["-1", "1", "17"]], "asks": []}},
        {"sequenceStart": "x", "sequenceEnd": 17, "changes": {"bids": [], "asks": []}},
        push_data(17, bids=[("1.00000000000000001", "1", "17")]),
    ],
)
def test_unreadable_push_is_refused_by_the_decoder(bad: dict) -> None:
    """Bad input is a ProtocolError before any book sees it: a book only ever gets readable deltas."""
    with pytest.raises(ProtocolError):
        delta(bad)


def test_a_delta_of_another_symbol_is_refused_and_changes_nothing() -> None:
    """A misrouted delta raises in every state (live, syncing, resyncing after a gap) and neither applies
    nor buffers anything; a snapshot of another symbol is refused too (issue 17: a syncing book took
    another symbol's pushes into its buffer)."""
    book = live_book(16)
    with pytest.raises(ProtocolError, match="ETH-USDT"):
        book.on_delta(push(17, bids=[("1", "1", "17")], symbol="ETH-USDT"))
    assert book.state is BookState.LIVE and book.last_sequence == 16 and book.best_bid == 3988.59
    syncing = OrderBook(SYMBOL)
    with pytest.raises(ProtocolError, match="ETH-USDT"):
        syncing.on_delta(push(5, bids=[("1", "1", "5")], symbol="ETH-USDT"))
    assert syncing.state is BookState.SYNCING and syncing.buffered == 0
    with pytest.raises(ProtocolError, match="ETH-USDT"):
        syncing.on_snapshot(book_snapshot("ETH-USDT", {"sequence": "1", "bids": [], "asks": []}))
    resyncing = live_book(16)
    resyncing.on_delta(push(19, asks=[("3988.64", "2", "19")]))  # a gap: kept for the next snapshot
    assert resyncing.state is BookState.RESYNCING and resyncing.buffered == 1
    with pytest.raises(ProtocolError, match="ETH-USDT"):
        resyncing.on_delta(push(20, bids=[("1", "1", "20")], symbol="ETH-USDT"))
    assert resyncing.buffered == 1


def test_unreadable_snapshot_and_bad_buffer_size() -> None:
    """A snapshot without a sequence is refused by the decoder; the buffer bound must be positive."""
    book = OrderBook(SYMBOL)
    book.on_delta(push(5, bids=[("1", "1", "5")]))
    with pytest.raises(ProtocolError):
        book_snapshot(SYMBOL, {"bids": [], "asks": []})
    assert book.buffered == 1 and book.state is BookState.SYNCING
    with pytest.raises(ConfigurationError):
        OrderBook(SYMBOL, max_buffer=0)


def test_reads() -> None:
    """Best prices, spread, mid, top-N, depth and price-for-size agree with the levels."""
    book = live_book(16)
    assert (book.best_bid, book.best_ask) == (3988.59, 3988.60)
    assert book.bbo() == (3988.59, 3.0, 3988.60, 47.0)
    assert math.isclose(book.spread, 0.01, abs_tol=1e-9)
    assert math.isclose(book.mid, 3988.595)
    bids, asks = book.top(2)
    assert bids == [(3988.59, 3.0), (3988.51, 56.0)]
    assert asks == [(3988.60, 47.0), (3988.61, 32.0)]
    assert book.top(100)[0][-1] == (3988.50, 15.0)
    assert book.volume_to("bid", 3988.51) == 59.0
    assert book.volume_to("ask", 3988.62) == 87.0
    assert book.price_for("ask", 50) == 3988.61
    assert book.price_for("bid", 1000) is None
    prices, sizes = book.arrays("ask", 2)
    assert prices.tolist() == [3988.60, 3988.61] and sizes.tolist() == [47.0, 32.0]
    with pytest.raises(ConfigurationError):
        book.levels("buy")  # type: ignore[arg-type]


def test_dataframe_ladder() -> None:
    """``to_pandas`` is a float64 ladder, NaN-padded where a side is shorter."""
    book = live_book(16)
    book.on_delta(push(17, asks=[("3988.70", "1", "17")]))
    frame = book.to_pandas(depth=5)
    assert list(frame.columns) == ["bid_size", "bid", "ask", "ask_size"]
    assert all(str(t) == "float64" for t in frame.dtypes)
    assert len(frame) == 4
    assert frame["ask"].tolist() == [3988.60, 3988.61, 3988.62, 3988.70]
    assert math.isnan(frame["bid"].iloc[3])
    assert book.df.equals(book.to_pandas(10))
    assert "live" in repr(book)
