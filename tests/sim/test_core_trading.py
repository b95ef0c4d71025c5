"""User trading on the shared book: holds, fills, fees, cancels, private events in KuCoin's order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kunb.exceptions import OrderError
from kunb.sim.core.accounts import Accounts
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.orderbook import Side
from kunb.sim.core.symbols import catalogue
from kunb.sim.core.trading import Retention, Trading
from kunb.sim.wire.private_push import BALANCE_TOPIC, ORDERS_TOPIC, ORDERS_V2_TOPIC, Push, frames

T0 = 1_732_942_471_752_000_000
FEE = Decimal("0.001")


class World:
    """A frozen BTC-USDT market (no synthetic flow unless advanced) with two funded users."""

    def __init__(self, *, rate: float = 0.0, retention: Retention | None = None) -> None:
        self.core = ExchangeCore(
            catalogue(["BTC-USDT", "ETH-BTC"]), seed=5, now_ns=T0, rate=rate, warmup_events=40
        )
        self.accounts = Accounts(seed=5)
        self.alice = self.accounts.create().user_id
        self.bob = self.accounts.create().user_id
        self.whale = self.accounts.create(balances={"USDT": "10000000", "BTC": "100"}).user_id
        self.trading = Trading(self.accounts, self.core, retention=retention or Retention())
        self.spec = self.core.market("BTC-USDT").spec
        self.book = self.core.market("BTC-USDT").book
        self.start = self.conserved()

    def conserved(self) -> dict[str, Decimal]:
        totals = self.accounts.ledger.totals()
        for currency, flow in self.trading.market_flow.items():
            totals[currency] = totals.get(currency, Decimal(0)) + flow
        return {c: v for c, v in totals.items() if v}

    def best(self, side: Side) -> Decimal:
        top = self.book.best_bid() if side is Side.BUY else self.book.best_ask()
        assert top is not None
        return Decimal(self.spec.price_str(top[0]))

    def balance(self, user: str, currency: str):
        return self.accounts.ledger.balance(user, currency)

    def place(self, user: str, **params):
        body = {"clientOid": params.pop("clientOid", ""), "symbol": "BTC-USDT", **params}
        return self.trading.place(
            user, {k: str(v) if isinstance(v, Decimal) else v for k, v in body.items()}, now_ns=T0
        )


def events(pushes: list[Push], topic: str, user: str | None = None) -> list[str]:
    return [
        p.message["data"].get("type") or p.message["data"]["relationEvent"]
        for p in pushes
        if p.topic == topic and (user is None or p.user_id == user)
    ]


@pytest.fixture
def world() -> World:
    return World()


def test_resting_limit_buy_holds_price_size_and_fee(world: World) -> None:
    """A limit buy below the ask rests: hold = price*size*(1+taker fee), events received->open."""
    out = world.place(world.alice, side="buy", price="50000", size="0.00001", clientOid="c1")
    assert out.trades == () and out.order is not None and out.order.active
    usdt = world.balance(world.alice, "USDT")
    assert usdt.hold == Decimal("0.5005") and usdt.available == Decimal("10000") - Decimal("0.5005")
    assert events(frames(out.events), ORDERS_V2_TOPIC) == ["received", "open"]
    assert events(frames(out.events), ORDERS_TOPIC) == ["open"]
    assert events(frames(out.events), BALANCE_TOPIC) == ["trade.hold"]
    balance = next(p for p in frames(out.events) if p.topic == BALANCE_TOPIC).message["data"]
    assert (balance["availableChange"], balance["holdChange"], balance["hold"]) == (
        "-0.5005",
        "0.5005",
        "0.5005",
    )
    assert world.book.order(out.order.order_id).owner == world.alice  # in the public book
    assert world.conserved() == world.start


def test_crossing_limit_buy_fills_at_the_makers_price_and_pays_the_taker_fee(world: World) -> None:
    """A marketable limit buy fills at the ask (price improvement); leftover hold is released."""
    ask, (_, ask_lots) = world.best(Side.SELL), world.book.best_ask()
    size = min(Decimal(world.spec.size_str(ask_lots)), Decimal("0.001"))
    out = world.place(world.alice, side="buy", price=ask + 100, size=size)
    assert out.order is not None and not out.order.active and out.order.filled_size == size
    assert len(out.trades) == 1 and world.spec.price_str(out.trades[0].price) == str(ask)
    assert events(frames(out.events), ORDERS_TOPIC) == ["match", "filled"]
    assert events(frames(out.events), ORDERS_V2_TOPIC) == ["received", "match", "filled"]
    assert events(frames(out.events), BALANCE_TOPIC) == [
        "trade.hold",
        "trade.setted",
        "trade.setted",
        "trade.hold",
    ]
    match = next(p for p in frames(out.events) if p.topic == ORDERS_TOPIC).message["data"]
    assert (match["status"], match["liquidity"], match["feeType"]) == ("match", "taker", "takerFee")
    assert (match["matchPrice"], match["matchSize"]) == (str(ask), str(size))
    cost = ask * size * (1 + FEE)
    assert world.balance(world.alice, "USDT").available == Decimal(10000) - cost
    assert world.balance(world.alice, "USDT").hold == 0
    assert world.balance(world.alice, "BTC").available == Decimal(1) + size
    assert world.accounts.ledger.fees["USDT"] == ask * size * FEE
    [fill] = world.trading.fills(world.alice)
    assert (fill.liquidity, fill.price, fill.size, fill.fee) == ("taker", ask, size, ask * size * FEE)
    assert world.conserved() == world.start


def test_cancel_releases_the_hold_and_only_the_owner_can_cancel(world: World) -> None:
    """Cancelling gives the hold back; unknown, done or foreign orders are order_not_exist..."""
    placed = world.place(world.alice, side="sell", price="90000", size="0.01").order
    assert placed is not None and world.balance(world.alice, "BTC").hold == Decimal("0.01")
    with pytest.raises(OrderError) as info:
        world.trading.cancel(world.bob, placed.order_id, now_ns=T0)
    assert (info.value.code, info.value.msg) == ("400100", "order_not_exist_or_not_allow_to_cancel")
    out = world.trading.cancel(world.alice, placed.order_id, now_ns=T0 + 1)
    assert out.canceled == (placed.order_id,)
    assert events(frames(out.events), ORDERS_TOPIC) == ["canceled"] and events(
        frames(out.events), BALANCE_TOPIC
    ) == ["trade.hold"]
    data = next(p for p in frames(out.events) if p.topic == ORDERS_TOPIC).message["data"]
    assert (data["status"], data["canceledSize"], data["remainSize"]) == ("done", "0.01", "0")
    assert world.balance(world.alice, "BTC").hold == 0 and world.balance(world.alice, "BTC").available == 1
    assert placed.order_id not in world.book
    with pytest.raises(OrderError):
        world.trading.cancel(world.alice, placed.order_id, now_ns=T0 + 2)
    assert world.trading.order(world.bob, placed.order_id) is None


def test_cancel_all_by_symbol(world: World) -> None:
    """cancel_all cancels every active order of the user (of one symbol), nobody else's."""
    a1 = world.place(world.alice, side="buy", price="50000", size="0.001").order
    a2 = world.place(world.alice, side="buy", price="50001", size="0.001").order
    b1 = world.place(world.bob, side="buy", price="50002", size="0.001").order
    out = world.trading.cancel_all(world.alice, now_ns=T0, symbol="BTC-USDT")
    assert set(out.canceled) == {a1.order_id, a2.order_id}
    assert b1.active and not a1.active and world.balance(world.alice, "USDT").hold == 0
    assert world.trading.cancel_all(world.alice, now_ns=T0).canceled == ()


def test_post_only_that_would_take_is_canceled(world: World) -> None:
    """A post-only order crossing the book is accepted then canceled without trading."""
    out = world.place(world.alice, side="buy", price=world.best(Side.SELL), size="0.001", postOnly=True)
    assert out.trades == () and events(frames(out.events), ORDERS_V2_TOPIC) == ["received", "canceled"]
    assert (
        world.balance(world.alice, "USDT").hold == 0 and world.balance(world.alice, "USDT").available == 10000
    )


def test_fok_too_big_is_canceled_and_ioc_cancels_its_remainder(world: World) -> None:
    """FOK that cannot fill entirely does nothing; IOC fills what it can and cancels the rest."""
    ask, (_, lots) = world.best(Side.SELL), world.book.best_ask()
    top = Decimal(world.spec.size_str(lots))
    fok = world.place(world.whale, side="buy", price=ask, size=top + Decimal("0.5"), timeInForce="FOK")
    assert fok.trades == () and events(frames(fok.events), ORDERS_TOPIC) == ["canceled"]
    ioc = world.place(world.whale, side="buy", price=ask, size=top + Decimal("0.5"), timeInForce="IOC")
    assert ioc.order.filled_size == top and ioc.order.canceled_size == Decimal("0.5")
    assert events(frames(ioc.events), ORDERS_TOPIC) == ["match", "canceled"]
    assert world.balance(world.whale, "USDT").hold == 0
    assert world.conserved() == world.start


def test_market_orders_by_size_and_by_funds(world: World) -> None:
    """Market buy by funds spends at most the funds; market sell by size and by funds settle exactly."""
    by_funds = world.place(world.alice, side="buy", type="market", funds="1000").order
    assert not by_funds.active and 0 < by_funds.deal_funds <= 1000
    assert world.balance(world.alice, "USDT").hold == 0
    assert world.balance(world.alice, "USDT").available == 10000 - by_funds.deal_funds - by_funds.fee
    sell = world.place(world.alice, side="sell", type="market", size="0.01").order
    assert sell.filled_size == Decimal("0.01") and world.balance(world.alice, "BTC").hold == 0
    sell_funds = world.place(world.bob, side="sell", type="market", funds="500").order
    assert 0 < sell_funds.deal_funds <= 500 and world.balance(world.bob, "BTC").hold == 0
    buy_size = world.place(world.bob, side="buy", type="market", size="0.002").order
    assert buy_size.filled_size == Decimal("0.002") and world.balance(world.bob, "USDT").hold == 0
    assert world.conserved() == world.start


def test_insufficient_balance_is_200004_and_changes_nothing(world: World) -> None:
    """An order the user cannot pay for is refused before anything moves."""
    before = world.balance(world.alice, "USDT")
    with pytest.raises(OrderError) as info:
        world.place(world.alice, side="buy", price="60000", size="1")
    assert info.value.code == "200004"
    assert world.balance(world.alice, "USDT") == before and world.trading.orders(world.alice) == []
    assert frames(world.trading.drain_events()) == []


def test_user_orders_trade_with_each_other_and_each_sees_only_their_events(world: World) -> None:
    """Bob's sell inside the spread rests; Alice's buy takes it; each push goes to its owner."""
    price = world.best(Side.BUY) + Decimal("0.1")
    maker = world.place(world.bob, side="sell", price=price, size="0.001").order
    out = world.place(world.alice, side="buy", price=price, size="0.001")
    assert [t.maker_order_id for t in out.trades] == [maker.order_id]
    assert events(frames(out.events), ORDERS_TOPIC, world.bob) == ["match", "filled"]
    assert events(frames(out.events), ORDERS_TOPIC, world.alice) == ["match", "filled"]
    for push in frames(out.events):
        assert push.message["userId"] == push.user_id
        if push.topic != BALANCE_TOPIC:
            owner = world.trading.order(push.user_id, push.message["data"]["orderId"])
            assert owner is not None
    bob_match = next(p for p in frames(out.events) if p.user_id == world.bob and p.topic == ORDERS_TOPIC)
    assert (bob_match.message["data"]["liquidity"], bob_match.message["data"]["status"]) == ("maker", "open")
    assert world.balance(world.bob, "USDT").available == 10000 + price * Decimal("0.001") * (1 - FEE)
    assert world.conserved() == world.start


def test_synthetic_takers_fill_a_resting_user_order() -> None:
    """The synthetic flow hits a user order at the touch; its events arrive through drain_events."""
    world = World(rate=50.0)
    price = world.best(Side.SELL) - Decimal("0.1")
    order = world.place(world.alice, side="sell", price=price, size="0.002").order
    for second in range(1, 120):
        world.core.advance(T0 + second * 1_000_000_000)
        if not order.active:
            break
    pushes = frames(world.trading.drain_events())
    assert order.filled_size > 0
    kinds = events(pushes, ORDERS_TOPIC, world.alice)
    assert kinds[0] == "match" and set(kinds) <= {"match", "filled"}
    assert all(p.user_id == world.alice for p in pushes)
    assert world.conserved() == world.start


def test_every_private_field_has_kucoins_json_type(world: World) -> None:
    """Decimals are strings, orderTime/ts numbers, balance time a string; V1 has size, never received."""
    pushes = [
        *frames(world.place(world.alice, side="buy", price="50000", size="0.00001").events),
        *frames(world.place(world.alice, side="buy", type="market", funds="100").events),
        *frames(world.place(world.alice, side="sell", price=world.best(Side.BUY), size="0.001").events),
        *frames(world.trading.cancel_all(world.alice, now_ns=T0).events),
    ]
    seen = set()
    for push in [*pushes, *frames(world.place(world.bob, side="buy", type="market", size="0.001").events)]:
        message = push.message
        assert (message["type"], message["channelType"], message["topic"]) == (
            "message",
            "private",
            push.topic,
        )
        data = message["data"]
        if push.topic == BALANCE_TOPIC:
            assert message["subject"] == "account.balance"
            for name in ("total", "available", "hold", "availableChange", "holdChange", "time", "accountId"):
                assert isinstance(data[name], str), name
            continue
        assert message["subject"] == "orderChange"
        seen.add((push.topic, data["type"]))
        assert isinstance(data["orderTime"], int) and isinstance(data["ts"], int)
        for name in (
            "size",
            "originSize",
            "filledSize",
            "remainSize",
            "canceledSize",
            "clientOid",
            "orderId",
        ):
            assert isinstance(data[name], str), name
        for name in ("price", "matchPrice", "matchSize", "tradeId", "originFunds", "remainFunds"):
            assert name not in data or isinstance(data[name], str), name
        assert data["status"] in ("new", "open", "match", "done")
    assert (ORDERS_TOPIC, "received") not in seen and (ORDERS_V2_TOPIC, "received") in seen
    assert {(ORDERS_TOPIC, t) for t in ("open", "match", "filled", "canceled")} <= seen


def test_gtt_orders_expire_after_cancel_after_seconds(world: World) -> None:
    """A GTT order with cancelAfter is canceled (hold released) once that many seconds have passed."""
    gtt = world.place(
        world.alice, side="buy", price="50000", size="0.001", timeInForce="GTT", cancelAfter=60
    ).order
    gtc = world.place(world.alice, side="buy", price="50000", size="0.001").order
    assert world.trading.expire(T0 + 59_999_000_000).canceled == ()
    out = world.trading.expire(T0 + 60_000_000_000)
    assert out.canceled == (gtt.order_id,) and not gtt.active and gtc.active
    assert events(frames(out.events), ORDERS_TOPIC) == ["canceled"] and events(
        frames(out.events), BALANCE_TOPIC
    ) == ["trade.hold"]
    assert world.balance(world.alice, "USDT").hold == Decimal("50.05")
    assert world.trading.expire(T0 + 120_000_000_000).canceled == ()


def test_client_oid_unique_among_active_orders_and_active_order_cap(world: World, monkeypatch) -> None:
    """A clientOid used by an active order is refused (free again once done); the per-symbol cap is 200003."""
    first = world.place(world.alice, side="buy", price="50000", size="0.001", clientOid="same").order
    with pytest.raises(OrderError) as info:
        world.place(world.alice, side="buy", price="50000", size="0.001", clientOid="same")
    assert info.value.code == "400100"
    assert world.place(world.bob, side="buy", price="50000", size="0.001", clientOid="same").order.active
    world.trading.cancel(world.alice, first.order_id, now_ns=T0)
    again = world.place(world.alice, side="buy", price="50000", size="0.001", clientOid="same").order
    assert world.trading.order_by_client_oid(world.alice, "same") is again
    monkeypatch.setattr("kunb.sim.core.trading.MAX_ACTIVE_ORDERS", 2)
    world.place(world.alice, side="buy", price="50001", size="0.001")
    with pytest.raises(OrderError) as info:
        world.place(world.alice, side="buy", price="50002", size="0.001")
    assert info.value.code == "200003"
    assert len(world.trading.orders(world.alice, active=True)) == 2


# -- retention: history that stays bounded --------------------------------------------------------------


def test_retention_keeps_the_newest_finished_orders_and_fills_per_user() -> None:
    """Past the counts the oldest finished order and fill are forgotten; active and others' orders stay."""
    world = World(retention=Retention(done_orders=5, fills=4))
    resting = world.place(world.alice, side="buy", price="50000", size="0.00001").order
    bobs = world.place(world.bob, side="buy", type="market", funds="1").order
    ids = [
        world.place(world.alice, side="buy", type="market", funds="1", clientOid=f"m{i}").order.order_id
        for i in range(12)
    ]
    done = world.trading.orders(world.alice, active=False)
    assert [o.order_id for o in done] == ids[::-1][:5]
    assert world.trading.orders(world.alice, active=True) == [resting]
    assert (
        world.trading.order(world.alice, ids[0]) is None
        and world.trading.order_by_client_oid(world.alice, "m0") is None
    )
    assert world.trading.order(world.alice, ids[-1]) is not None
    assert world.trading.order_by_client_oid(world.alice, "m11") is not None
    with pytest.raises(OrderError) as info:
        world.trading.cancel(world.alice, ids[0], now_ns=T0)  # forgotten: as if it never existed
    assert info.value.code == "400100"
    fills = world.trading.fills(world.alice)
    assert len(fills) == 4 and fills[0].order_id == ids[-1]
    assert world.trading.orders(world.bob) == [bobs] and len(world.trading.fills(world.bob)) >= 1
    assert world.trading.sizes()["orders"] == 5 + 1 + 1  # alice's 5 done + her resting one + bob's
    assert world.trading.sizes()["done_orders"] == 5 + 1
    assert world.conserved() == world.start  # forgetting history moves no money


def test_retention_forgets_finished_orders_and_fills_older_than_max_age() -> None:
    """expire() forgets what finished more than max_age_ms ago; an old active order is kept."""
    world = World(retention=Retention(max_age_ms=60_000))
    body = {"clientOid": "", "symbol": "BTC-USDT", "side": "buy", "type": "market", "funds": "1"}
    old = world.trading.place(world.alice, body, now_ns=T0).order
    resting = world.trading.place(
        world.alice, {**body, "type": "limit", "price": "50000", "size": "0.00001"}, now_ns=T0
    ).order
    newer = world.trading.place(world.alice, body, now_ns=T0 + 30_000_000_000).order
    assert old is not None and resting is not None and newer is not None
    world.trading.expire(T0 + 60_000_000_000)
    assert world.trading.order(world.alice, old.order_id) is old  # exactly max_age old: still kept
    world.trading.expire(T0 + 60_001_000_000)
    assert world.trading.order(world.alice, old.order_id) is None
    assert [o.order_id for o in world.trading.orders(world.alice)] == [newer.order_id, resting.order_id]
    assert {f.order_id for f in world.trading.fills(world.alice)} == {newer.order_id}
    world.trading.expire(T0 + 3_600_000_000_000)
    assert world.trading.orders(world.alice) == [resting] and world.trading.fills(world.alice) == []


def test_history_stays_bounded_over_a_long_busy_run() -> None:
    """Two simulated hours of synthetic flow plus a user crossing, resting and cancelling every second:
    what the core keeps stops growing (orders, fills, events, book, tape) once the bounds are reached."""
    retention = Retention(done_orders=100, fills=80)
    world = World(rate=0.2, retention=retention)
    trading, book, tape = world.trading, world.book, world.core.market("BTC-USDT").tape
    body = {"clientOid": "", "symbol": "BTC-USDT", "size": "0.00001"}
    placed = 0
    peak_book = 0
    for second in range(1, 2 * 3600 + 1):
        now = T0 + second * 1_000_000_000
        world.core.advance(now)
        world.core.collect()
        if second % 2:
            trading.place(world.whale, {**body, "side": "buy", "type": "market"}, now_ns=now)
        elif book.best_bid() is not None:  # the flow may empty a side for a moment
            price = world.best(Side.BUY) - Decimal("1")
            trading.place(world.whale, {**body, "side": "buy", "price": str(price)}, now_ns=now)
            active = trading.orders(world.whale, active=True)
            if len(active) > 20:
                trading.cancel(world.whale, active[-1].order_id, now_ns=now)
        placed += 1
        trading.expire(now)
        trading.drain_events()
        peak_book = max(peak_book, len(book))
        sizes = trading.sizes()
        assert sizes["done_orders"] <= retention.done_orders and sizes["fills"] <= retention.fills
        assert sizes["orders"] <= retention.done_orders + 21 and sizes["outbox"] == 0
    assert placed > 10 * retention.done_orders  # the bounds were reached many times over
    assert trading.sizes()["done_orders"] == retention.done_orders
    assert trading.sizes()["fills"] == retention.fills
    assert peak_book < 4 * world.core.markets["BTC-USDT"].model.params.levels * 2  # the flow trims its book
    kept = tape.sizes()
    assert kept["history"] == 100 and 100 <= kept["minutes"] <= 2 * 60 + 1 and kept["hours"] <= 2 + 1
    assert world.conserved() == world.start
