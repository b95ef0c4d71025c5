"""Property: any sequence of orders, cancels and synthetic flow conserves money, reports each fill once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kunb.exceptions import OrderError
from kunb.sim.core.accounts import Accounts
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.symbols import catalogue
from kunb.sim.core.trading import Trading
from kunb.sim.wire.private_push import ORDERS_TOPIC, ORDERS_V2_TOPIC, frames

T0 = 1_732_942_471_752_000_000
SYMBOLS = ("BTC-USDT", "ETH-BTC")

limit_orders = st.fixed_dictionaries(
    {
        "op": st.just("limit"),
        "user": st.integers(0, 2),
        "symbol": st.sampled_from(SYMBOLS),
        "side": st.sampled_from(["buy", "sell"]),
        "offset": st.integers(-30, 30),  # ticks from the touch; positive = more aggressive
        "lots": st.integers(1, 400),  # in units of the symbol's base minimum
        "tif": st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
        "post_only": st.booleans(),
    }
)
market_orders = st.fixed_dictionaries(
    {
        "op": st.just("market"),
        "user": st.integers(0, 2),
        "symbol": st.sampled_from(SYMBOLS),
        "side": st.sampled_from(["buy", "sell"]),
        "by_funds": st.booleans(),
        "lots": st.integers(1, 400),
    }
)
cancels = st.fixed_dictionaries(
    {"op": st.just("cancel"), "user": st.integers(0, 2), "pick": st.integers(0, 50)}
)
cancel_alls = st.fixed_dictionaries({"op": st.just("cancel_all"), "user": st.integers(0, 2)})
flows = st.fixed_dictionaries({"op": st.just("flow"), "events": st.integers(1, 40)})
operations = st.lists(
    st.one_of(limit_orders, market_orders, cancels, cancel_alls, flows), min_size=1, max_size=40
)


def _body(op: dict, trading: Trading, core: ExchangeCore) -> dict:
    spec = trading.specs[op["symbol"]]
    book = core.market(op["symbol"]).book
    size = Decimal(spec.base_min_size) * op["lots"]
    body = {"clientOid": "", "symbol": op["symbol"], "side": op["side"], "type": op["op"]}
    if op["op"] == "market":
        if op["by_funds"]:
            body["funds"] = str((size * Decimal(spec.initial_price)).quantize(Decimal(spec.quote_increment)))
        else:
            body["size"] = str(size)
        return body
    touch = book.best_ask() if op["side"] == "buy" else book.best_bid()
    ticks = touch[0] if touch else spec.to_ticks(spec.initial_price)
    ticks = ticks + op["offset"] if op["side"] == "buy" else ticks - op["offset"]
    body.update(
        price=spec.price_str(max(ticks, 1)), size=str(size), timeInForce=op["tif"], postOnly=op["post_only"]
    )
    if op["tif"] != "GTC":
        body["postOnly"] = False
    return body


def _conserved(accounts: Accounts, trading: Trading) -> dict[str, Decimal]:
    totals = accounts.ledger.totals()
    for currency, flow in trading.market_flow.items():
        totals[currency] = totals.get(currency, Decimal(0)) + flow
    return {c: v for c, v in totals.items() if v}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, seed=st.integers(0, 3))
def test_conservation_no_negative_balances_and_fills_reported_once(ops: list[dict], seed: int) -> None:
    """Balances + fees (+ the market maker's flow) stay constant per currency, available/hold never go
    negative, done orders hold nothing, and each fill touching a user order is one public trade and one
    V1 and one V2 ``match`` event per user order involved."""
    core = ExchangeCore(catalogue(list(SYMBOLS)), seed=seed, now_ns=T0, rate=0.0, warmup_events=30)
    accounts = Accounts(seed=seed)
    users = [accounts.create(balances={"USDT": "20000", "BTC": "0.5", "ETH": "5"}).user_id for _ in range(3)]
    trading = Trading(accounts, core)
    start = _conserved(accounts, trading)
    pushes = []
    now = T0
    for op in ops:
        now += 1_000_000
        kind = op["op"]
        try:
            if kind in ("limit", "market"):
                pushes += frames(
                    trading.place(users[op["user"]], _body(op, trading, core), now_ns=now).events
                )
            elif kind == "cancel":
                active = trading.orders(users[op["user"]], active=True)
                if active:
                    pushes += frames(
                        trading.cancel(
                            users[op["user"]], active[op["pick"] % len(active)].order_id, now_ns=now
                        ).events
                    )
            elif kind == "cancel_all":
                pushes += frames(trading.cancel_all(users[op["user"]], now_ns=now).events)
            else:
                for symbol in SYMBOLS:
                    core.run_events(symbol, op["events"], now)
                pushes += frames(trading.drain_events())
            event(f"{kind} ok")
        except OrderError as exc:
            event(f"{kind} refused {exc.code}")
            # insufficient balance, or a price/size the symbol refuses
            assert exc.code in ("200004", "400100"), exc
        assert _conserved(accounts, trading) == start
        for user in users:
            for account in accounts.ledger.accounts_of(user):
                balance = accounts.ledger.balance(user, account.currency, account.type)
                assert balance.available >= 0 and balance.hold >= 0
    # Closing every order leaves nothing on hold.
    for user in users:
        pushes += frames(trading.cancel_all(user, now_ns=now + 1).events)
        for account in accounts.ledger.accounts_of(user):
            assert accounts.ledger.balance(user, account.currency, account.type).hold == 0
    assert _conserved(accounts, trading) == start
    # Every trade with a user side is one public trade; each user side gets exactly one match per topic.
    user_orders = {o.order_id for u in users for o in trading.orders(u)}
    public = [t for e in core.collect() for t in e.trades]
    expected = Counter()
    for trade in public:
        for order_id in (trade.maker_order_id, trade.taker_order_id):
            if order_id in user_orders:
                expected[(str(trade.sequence), order_id)] += 1
    assert len({t.sequence for t in public}) == len(public)
    event(f"user fills > 0: {bool(expected)}")
    for topic in (ORDERS_TOPIC, ORDERS_V2_TOPIC):
        seen = Counter(
            (p.message["data"]["tradeId"], p.message["data"]["orderId"])
            for p in pushes
            if p.topic == topic and p.message["data"]["type"] == "match"
        )
        assert seen == expected
    fills = Counter((f.trade_id, f.order_id) for u in users for f in trading.fills(u))
    assert fills == expected
    for push in pushes:
        data = push.message["data"]
        owner_order = trading.order(push.user_id, data["orderId"]) if "orderId" in data else None
        assert push.topic == "/account/balance" or owner_order is not None
