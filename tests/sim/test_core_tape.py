"""The trade tape keeps bounded history: 100 trades, 24 h of minute candles, 7 days of hour candles."""

from __future__ import annotations

from kunb.sim.core.orderbook import Side
from kunb.sim.core.tape import HISTORY, HOURS_KEPT_S, MINUTES_KEPT_S, Tape, Trade, bucket_start

T0_S = 1_732_942_440  # a minute boundary
DAY = 86_400


def _trade(i: int, t_s: int, price: int) -> Trade:
    return Trade(i, price, 1 + i % 7, Side.BUY if i % 2 else Side.SELL, t_s * 1_000_000_000, "m", "t")


def test_ten_days_of_trades_keep_24_hours_of_minutes_and_7_days_of_hours() -> None:
    """A trade every 30 s for 10 days: what is kept stops growing; candles and stats stay exact where kept."""
    tape = Tape(1000)
    trades = []
    most = {"minutes": 0, "hours": 0}
    for i in range(10 * DAY // 30):
        trade = _trade(i, T0_S + 30 * i, 1000 + (i * 37) % 101)
        tape.record(trade)
        trades.append(trade)
        sizes = tape.sizes()
        most = {k: max(most[k], sizes[k]) for k in most}
    assert most == {"minutes": MINUTES_KEPT_S // 60, "hours": HOURS_KEPT_S // 3600}
    assert tape.sizes()["history"] == HISTORY and list(tape.history) == trades[-HISTORY:]
    last_s = trades[-1].time_ns // 10**9
    minutes = tape.candles("1min", 0, 0)
    assert len(minutes) == DAY // 60 and minutes[-1].start > last_s - DAY
    days = tape.candles("1day", 0, 0)
    assert 7 <= len(days) <= 8 and days[-1].start >= bucket_start("1day", last_s - 7 * DAY)
    for kind, candles in (("15min", tape.candles("15min", 0, 0)), ("4hour", tape.candles("4hour", 0, 0))):
        newest = candles[0]  # the in-progress bucket: complete (its trades are all within what is kept)
        inside = [t for t in trades if bucket_start(kind, t.time_ns // 10**9) == newest.start]
        assert (newest.volume, newest.high, newest.low) == (
            sum(t.size for t in inside),
            max(t.price for t in inside),
            min(t.price for t in inside),
        )
        assert tape.current(kind) == newest
    window = [t for t in trades if t.time_ns // 10**9 // 60 * 60 > last_s // 60 * 60 - DAY]
    stats = tape.stats(trades[-1].time_ns)
    assert stats.volume == sum(t.size for t in window) and stats.open == window[0].price
    assert (stats.high, stats.low) == (max(t.price for t in window), min(t.price for t in window))
