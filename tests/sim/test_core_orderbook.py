"""The pure order-level book: price-time priority, order types, and the L2 sequence invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kunb.exceptions import ConfigurationError
from kunb.sim.core.orderbook import L2Delta, OrderBook, Side, TimeInForce


def _book() -> OrderBook:
    return OrderBook("T-USDT", start_sequence=100)


def test_resting_orders_aggregate_into_levels_best_first():
    """Limit orders that do not cross rest; depth is aggregated per price, best first on each side."""
    b = _book()
    b.add_limit(Side.BUY, 99, 5)
    b.add_limit(Side.BUY, 98, 1)
    b.add_limit(Side.BUY, 99, 2)
    b.add_limit(Side.SELL, 101, 3)
    b.add_limit(Side.SELL, 102, 4)
    assert b.depth(Side.BUY) == [(99, 7), (98, 1)]
    assert b.depth(Side.SELL) == [(101, 3), (102, 4)]
    assert b.best_bid() == (99, 7) and b.best_ask() == (101, 3)
    assert b.sequence == 105


def test_price_time_priority_and_fill_records():
    """Best price first and, within a price, oldest first; fills name both sides."""
    b = _book()
    first = b.add_limit(Side.SELL, 101, 2, owner="alice")
    second = b.add_limit(Side.SELL, 101, 2, owner=None)
    better = b.add_limit(Side.SELL, 100, 1, owner="bob")
    r = b.add_limit(Side.BUY, 101, 4, owner="carol")
    assert [(f.price, f.size, f.maker_order_id, f.maker_owner) for f in r.fills] == [
        (100, 1, better.order_id, "bob"),
        (101, 2, first.order_id, "alice"),
        (101, 1, second.order_id, None),
    ]
    assert all(f.taker_owner == "carol" and f.taker_side is Side.BUY for f in r.fills)
    assert r.resting is None and r.canceled == 0 and r.filled == 4
    assert b.order(second.order_id).size == 1
    assert r.fills[-1].maker_remaining == 1


def test_marketable_limit_rests_its_remainder():
    """A limit buy above the ask takes what is there and rests the rest at its own price."""
    b = _book()
    b.add_limit(Side.SELL, 101, 2)
    r = b.add_limit(Side.BUY, 105, 5, owner="u")
    assert r.filled == 2
    assert r.resting is not None and r.resting.size == 3 and r.resting.price == 105
    assert b.best_bid() == (105, 3) and b.best_ask() is None


@pytest.mark.parametrize(
    ("tif", "size", "filled", "canceled", "rejected"),
    [
        (TimeInForce.IOC, 5, 2, 3, False),
        (TimeInForce.FOK, 5, 0, 5, True),
        (TimeInForce.FOK, 2, 2, 0, False),
    ],
)
def test_ioc_and_fok(tif, size, filled, canceled, rejected):
    """IOC cancels the unfilled rest; FOK fills completely or not at all."""
    b = _book()
    b.add_limit(Side.SELL, 101, 2)
    r = b.add_limit(Side.BUY, 101, size, time_in_force=tif)
    assert (r.filled, r.canceled, r.rejected, r.resting) == (filled, canceled, rejected, None)


def test_post_only_that_would_take_is_rejected_without_touching_the_book():
    """A post-only order that crosses is refused and consumes no sequence."""
    b = _book()
    b.add_limit(Side.SELL, 101, 2)
    seq = b.sequence
    r = b.add_limit(Side.BUY, 101, 1, post_only=True)
    assert r.rejected and r.fills == () and b.sequence == seq


def test_market_by_size_and_by_funds():
    """Market orders walk the book by size (lots) or by funds (price*lots units), leaving the rest."""
    b = _book()
    b.add_limit(Side.SELL, 10, 3)
    b.add_limit(Side.SELL, 20, 3)
    r = b.add_market(Side.BUY, size=4)
    assert [(f.price, f.size) for f in r.fills] == [(10, 3), (20, 1)] and r.canceled == 0
    r = b.add_market(Side.BUY, funds=45)  # 2 lots at 20 = 40; 5 left cannot buy another lot
    assert [(f.price, f.size) for f in r.fills] == [(20, 2)] and r.funds_left == 5
    r = b.add_market(Side.BUY, size=1)
    assert r.fills == () and r.canceled == 1


def test_cancel_and_reduce():
    """Cancel removes an order; reduce shrinks it in place and keeps its queue position."""
    b = _book()
    a = b.add_limit(Side.BUY, 50, 5, owner="a")
    c = b.add_limit(Side.BUY, 50, 5, owner="c")
    assert b.reduce(a.order_id, 2).size == 2
    assert b.level_orders(Side.BUY, 50)[0].order_id == a.order_id
    assert b.level_size(Side.BUY, 50) == 7
    assert b.cancel(c.order_id).size == 5
    assert b.cancel(c.order_id) is None
    assert b.reduce(a.order_id, 0) is not None and len(b) == 0 and b.best_bid() is None


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.add_limit(Side.BUY, 0, 1),
        lambda b: b.add_limit(Side.BUY, 1, 0),
        lambda b: b.add_market(Side.BUY),
        lambda b: b.add_market(Side.BUY, size=1, funds=1),
        lambda b: b.add_market(Side.SELL, size=-1),
    ],
)
def test_bad_orders_raise_typed_errors(call):
    """Nonsense sizes, prices or market arguments raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        call(_book())


def test_set_maker_liquidity_keeps_user_orders():
    """Setting the market maker's size at a price leaves user orders there alone; 0 removes only MM size."""
    b = _book()
    b.add_limit(Side.BUY, 50, 3)
    u = b.add_limit(Side.BUY, 50, 2, owner="user")
    b.add_limit(Side.BUY, 50, 4)
    assert b.set_maker_liquidity(Side.BUY, 50, 10)
    assert b.level_size(Side.BUY, 50) == 12 and b.order(u.order_id).size == 2
    assert b.set_maker_liquidity(Side.BUY, 50, 0)
    assert b.level_size(Side.BUY, 50) == 2 and [o.owner for o in b.level_orders(Side.BUY, 50)] == ["user"]
    assert not b.set_maker_liquidity(Side.SELL, 70, 0)
    assert b.set_maker_liquidity(Side.SELL, 70, 5) and b.best_ask() == (70, 5)
    with pytest.raises(ConfigurationError):
        b.set_maker_liquidity(Side.SELL, 70, -1)


def test_drain_covers_contiguous_ranges_with_latest_row_per_price():
    """Each drain covers exactly the sequences consumed since the last; one row per price, its last seq."""
    b = _book()
    o = b.add_limit(Side.BUY, 10, 1)  # 101
    b.add_limit(Side.BUY, 10, 1)  # 102
    b.cancel(o.order_id)  # 103
    d1 = b.drain()
    assert (d1.start, d1.end) == (101, 103)
    assert [(c.price, c.size, c.sequence) for c in d1.bids] == [(10, 1, 103)] and d1.asks == ()
    assert b.drain() is None
    seq = b.bump()
    b.add_limit(Side.SELL, 12, 4)
    d2 = b.drain()
    assert (d2.start, d2.end) == (104, 105) and d2.bumps == (seq,)
    assert [(c.price, c.size, c.sequence) for c in d2.asks] == [(12, 4, 105)]


def apply_delta(book: dict[str, dict[int, int]], delta: L2Delta, last_seq: int) -> int:
    """A client's sync step (kucoin-protocol.md 3): check continuity, apply rows newer than last_seq."""
    assert delta.start <= last_seq + 1, "gap"
    for side, rows in (("bids", delta.bids), ("asks", delta.asks)):
        for c in rows:
            if c.sequence <= last_seq:
                continue
            if c.size == 0:
                book[side].pop(c.price, None)
            else:
                book[side][c.price] = c.size
    return max(last_seq, delta.end)


_op = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(list(Side)), st.integers(90, 110), st.integers(1, 20)),
    st.tuples(st.just("market"), st.sampled_from(list(Side)), st.integers(1, 30), st.just(0)),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0), st.just(0)),
    st.tuples(st.just("reduce"), st.integers(0, 50), st.integers(0, 10), st.just(0)),
    st.tuples(st.just("bump"), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("maker"), st.sampled_from(list(Side)), st.integers(0, 12), st.integers(0, 20)),
    st.tuples(st.just("drain"), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just("snapshot"), st.just(0), st.just(0), st.just(0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_op, max_size=120))
def test_snapshot_plus_later_deltas_equals_the_book(ops):
    """Any operation sequence: drains are contiguous, never crossed, snapshot + later deltas == book."""
    b = OrderBook("P-USDT", start_sequence=1_000)
    ids: list[str] = []
    deltas: list[L2Delta] = []
    snapshot = None  # (seq, bids, asks, index into deltas)
    prev_end = b.sequence
    for kind, a, x, y in ops:
        if kind == "limit":
            ids.append(b.add_limit(a, x, y).order_id)
        elif kind == "market":
            b.add_market(a, size=x)
        elif kind == "cancel" and ids:
            b.cancel(ids[a % len(ids)])
        elif kind == "reduce" and ids:
            b.reduce(ids[a % len(ids)], x)
        elif kind == "bump":
            b.bump()
        elif kind == "maker":  # the firehose path: set MM size at a non-crossing price
            bid, ask = b.best_bid(), b.best_ask()
            price = (ask[0] - 1 if ask else 100) - x if a is Side.BUY else (bid[0] + 1 if bid else 100) + x
            if price > 0:
                b.set_maker_liquidity(a, price, y)
        elif kind == "drain":
            d = b.drain()
            if d is not None:
                assert d.start == prev_end + 1 and d.end >= d.start
                assert all(d.start <= c.sequence <= d.end for c in d.bids + d.asks)
                prev_end = d.end
                deltas.append(d)
        elif kind == "snapshot" and snapshot is None:
            snapshot = (b.sequence, dict(b.depth(Side.BUY)), dict(b.depth(Side.SELL)), len(deltas))
        bid, ask = b.best_bid(), b.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0], "crossed book"
    final = b.drain()
    if final is not None:
        assert final.start == prev_end + 1
        deltas.append(final)
    if snapshot is None:
        snapshot = (1_000, {}, {}, 0)
    seq, bids, asks, _ = snapshot
    local = {"bids": bids, "asks": asks}
    for d in deltas:
        if d.end <= seq:
            continue
        seq = apply_delta(local, d, seq)
    assert seq == b.sequence
    assert local["bids"] == dict(b.depth(Side.BUY))
    assert local["asks"] == dict(b.depth(Side.SELL))
