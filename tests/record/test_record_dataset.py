"""DuckDB queries on a recording: the book at a past time or sequence against an independent replay,
candles of any interval against pandas, sequence gaps, filters, and every table readable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recordkit import SECOND, T0, Market

from kunb.events import BookDelta, Integrity, Trade
from kunb.exceptions import ConfigurationError
from kunb.record import TABLES, Recorder
from kunb.record.dataset import Dataset, interval_seconds


def replay(events: list, *, until_sequence: int) -> tuple[list, list]:
    """Bids and asks (best first) after the first snapshot and the deltas up to ``until_sequence``."""
    snap = events[0]
    bids, asks = dict(snap.bids), dict(snap.asks)
    for event in events[1:]:
        if isinstance(event, BookDelta) and event.sequence_end <= until_sequence:
            for levels, changes in ((bids, event.bids), (asks, event.asks)):
                for price, size, _ in changes:
                    if size:
                        levels[price] = size
                    else:
                        levels.pop(price, None)
    return sorted(bids.items(), reverse=True), sorted(asks.items())


def levels(frame: pd.DataFrame) -> list[tuple[float, float]]:
    return list(zip(frame["price"], frame["size"], strict=True))


@pytest.fixture(scope="module")
def market_events() -> list:
    return list(Market("BTC-USDT", seed=3).events(300, T0, SECOND // 2))


@pytest.fixture(scope="module", params=[None, 20.0], ids=["feed-snapshot-only", "periodic-snapshots"])
def dataset(request, tmp_path_factory, market_events) -> Dataset:
    out = tmp_path_factory.mktemp("dataset")
    with Recorder(out, snapshot_every=request.param) as recorder:
        for event in market_events:
            recorder(event)
        for i in range(40):  # a second symbol's trades, to check filters
            recorder(Trade("ETH-USDT", T0 + i * SECOND, T0, i, str(i), "sell", 2000.0 + i, 1.0))
        # trades at the same time as another: the sequence orders them (open and close)
        recorder(Trade("ETH-USDT", T0 + 39 * SECOND, T0, 40, "40", "buy", 2100.0, 1.0))
        recorder(Trade("ETH-USDT", T0, T0, 41, "41", "buy", 1990.0, 1.0))
    return Dataset(out)


@pytest.mark.parametrize("offset", [0, 1, 37, 150, 299, 300])
def test_book_at_a_sequence_equals_the_replayed_book(
    dataset: Dataset, market_events: list, offset: int
) -> None:
    sequence = market_events[0].sequence + offset
    book = dataset.book_at("BTC-USDT", sequence=sequence)
    bids, asks = replay(market_events, until_sequence=sequence)
    assert (levels(book.bids), levels(book.asks)) == (bids, asks)
    assert book.sequence == sequence and book.complete
    assert book.best_bid == bids[0][0] and book.best_ask == asks[0][0]


def test_book_at_a_time_uses_the_deltas_up_to_that_time(dataset: Dataset, market_events: list) -> None:
    deltas = [e for e in market_events if isinstance(e, BookDelta)]
    target = deltas[99]  # the 100th delta, at T0 + 50 s
    book = dataset.book_at("BTC-USDT", pd.Timestamp(target.time_ns, unit="ns", tz="UTC"))
    assert book.sequence == target.sequence_end
    assert levels(book.bids) == replay(market_events, until_sequence=target.sequence_end)[0]
    assert book.time == pd.Timestamp(target.time_ns, unit="ns", tz="UTC")
    assert dataset.book_at("BTC-USDT", "2023-11-14 22:13:20.2").sequence == market_events[0].sequence
    last = dataset.book_at("BTC-USDT", depth=3)
    assert last.sequence == deltas[-1].sequence_end and len(last.bids) == 3


def test_periodic_snapshots_shorten_the_rebuild(dataset: Dataset, market_events: list) -> None:
    book = dataset.book_at("BTC-USDT", sequence=market_events[0].sequence + 290)
    origins = set(dataset.table("book_snapshots").select("origin").distinct().df()["origin"])
    if "recorder" in origins:
        assert book.snapshot_sequence > market_events[0].sequence and book.deltas < 40
    else:
        assert book.snapshot_sequence == market_events[0].sequence and book.deltas == 290


def test_book_at_needs_a_snapshot_and_one_point(dataset: Dataset) -> None:
    with pytest.raises(ConfigurationError, match="no full book snapshot of ETH-USDT"):
        dataset.book_at("ETH-USDT")
    with pytest.raises(ConfigurationError, match="no full book snapshot"):
        dataset.book_at("BTC-USDT", "2020-01-01")
    with pytest.raises(ConfigurationError, match="not both"):
        dataset.book_at("BTC-USDT", "2023-11-14", sequence=1)


@pytest.mark.parametrize("interval", ["15s", "1min", "3min", "1hour", "1day", "1week"])
def test_candles_of_any_interval_match_pandas(dataset: Dataset, market_events: list, interval: str) -> None:
    trades = pd.DataFrame(
        [
            (pd.Timestamp(t.time_ns, unit="ns", tz="UTC"), t.price, t.size)
            for t in market_events
            if isinstance(t, Trade)
        ],
        columns=["time", "price", "size"],
    ).set_index("time")
    rule = f"{interval_seconds(interval)}s"
    origin = pd.Timestamp("1970-01-05", tz="UTC") if interval == "1week" else "epoch"
    grouped = trades.resample(rule, origin=origin)
    expected = pd.DataFrame(
        {
            "open": grouped["price"].first(),
            "high": grouped["price"].max(),
            "low": grouped["price"].min(),
            "close": grouped["price"].last(),
            "volume": grouped["size"].sum(),
            "trades": grouped["price"].count(),
        }
    )
    expected = expected[expected["trades"] > 0]
    candles = dataset.candles("BTC-USDT", interval)
    assert list(candles.index) == list(expected.index)
    for column in ("open", "high", "low", "close", "volume"):
        assert candles[column].tolist() == pytest.approx(expected[column].tolist()), column
    assert candles["trades"].tolist() == expected["trades"].tolist()
    assert candles["turnover"].sum() == pytest.approx((trades.price * trades["size"]).sum())


def test_monthly_candles_and_bad_intervals(dataset: Dataset) -> None:
    month = dataset.candles("ETH-USDT", "1month")
    assert list(month.index) == [pd.Timestamp("2023-11-01", tz="UTC")]
    assert (month["open"].iloc[0], month["close"].iloc[0], month["trades"].iloc[0]) == (2000.0, 2100.0, 42)
    for bad in ("1fortnight", "0min", "min"):
        with pytest.raises(ConfigurationError, match="unknown candle interval"):
            dataset.candles("ETH-USDT", bad)


def test_filters_by_symbol_and_time(dataset: Dataset) -> None:
    frame = dataset.df("trades", symbol="ETH-USDT", start=T0 + 10 * SECOND, end="2023-11-14 22:13:40")
    assert frame["sequence"].tolist() == list(range(10, 20))
    assert frame["time"].dt.tz is not None and str(frame["time"].dt.tz) == "UTC"
    assert set(dataset.df("trades")["symbol"]) == {"BTC-USDT", "ETH-USDT"}


def test_every_table_is_a_view_even_when_empty(dataset: Dataset) -> None:
    assert set(dataset.tables) == {"ticks", "trades", "book_deltas", "book_snapshots"}
    for table in TABLES:
        columns = dataset.table(table).columns
        assert "time" in columns and "date" in columns
    assert dataset.table("fills").count("*").fetchall() == [(0,)]
    with pytest.raises(ConfigurationError, match="no table 'nope'"):
        dataset.table("nope")
    with pytest.raises(ConfigurationError, match="no recording"):
        Dataset(Path("/nonexistent/recording"))


def test_sequence_gaps_and_incomplete_books(tmp_path: Path) -> None:
    market = Market("BTC-USDT")
    with Recorder(tmp_path, snapshot_every=None) as recorder:
        recorder(market.snapshot(T0))
        for i in range(1, 6):
            recorder(market.delta(T0 + i * SECOND))
        market.sequence += 3  # three pushes lost
        recorder(Integrity("gap", "BTC-USDT", "lost 3", market.sequence, T0 + 6 * SECOND))
        for i in range(6, 9):
            recorder(market.delta(T0 + i * SECOND))
        market.sequence += 2
        recorder(market.snapshot(T0 + 9 * SECOND))  # the book restarted from a new snapshot
        for i in range(10, 12):
            recorder(market.delta(T0 + i * SECOND))
        market.sequence += 1
        recorder(market.snapshot(T0 + 12 * SECOND - 1))  # taken before the pushes it misses: no restart
        market.sequence += 4
        for i in range(13, 15):
            recorder(market.delta(T0 + i * SECOND))
    dataset = Dataset(tmp_path)
    gaps = dataset.sequence_gaps()
    # the first two breaks: the next full snapshot (1013) covers what they missed; the last: it does not
    assert gaps[["after", "sequence_start", "resynced"]].values.tolist() == [
        [1005, 1009, True],
        [1011, 1014, True],
        [1015, 1021, False],
    ]
    assert not dataset.book_at("BTC-USDT", sequence=1010).complete
    assert dataset.book_at("BTC-USDT", sequence=1005).complete
    assert dataset.book_at("BTC-USDT", sequence=1015).complete  # from the new snapshot
    assert dataset.sequence_gaps("ETH-USDT").empty


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    at=st.integers(0, 60),
    period=st.sampled_from([None, 3.0]),
)
def test_book_at_matches_replay_for_random_markets(
    tmp_path_factory, seed: int, n: int, at: int, period
) -> None:
    out = tmp_path_factory.mktemp("prop")
    events = list(Market("XRP-USDT", seed=seed, levels=4).events(n, T0, SECOND))
    with Recorder(out, snapshot_every=period) as recorder:
        for event in events:
            recorder(event)
    sequence = events[0].sequence + min(at, n)
    book = Dataset(out).book_at("XRP-USDT", sequence=sequence)
    assert (levels(book.bids), levels(book.asks)) == replay(events, until_sequence=sequence)
