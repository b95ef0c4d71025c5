"""kunb.account.Account against kunb.sim: balances and orders follow the exchange, also through outages."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

import kunb.sim
from kunb.account import Account, AccountState
from kunb.client import Market, Trade, User
from kunb.events import BalanceChange
from kunb.exceptions import ClosedError, ConfigurationError
from kunb.signing import Credentials

FAST = {"backoff_base": 0.05, "backoff_cap": 0.2}
DEADLINE = 15.0


async def exchange_view(creds: Credentials, url: str) -> tuple[dict, dict]:
    """The exchange's balances per (currency, type) and orders per id, from REST."""
    async with User(url=url, credentials=creds) as u, Trade(url=url, credentials=creds) as t:
        balances = {
            (a["currency"], a["type"]): (Decimal(a["balance"]), Decimal(a["available"]), Decimal(a["holds"]))
            for a in await u.aget_account_list()
        }
        orders = {}
        for status in ("active", "done"):
            page = await t.aget_order_list(status=status, pageSize=500)
            for o in page["items"]:
                orders[o["id"]] = (Decimal(o["dealSize"]), Decimal(o["dealFunds"]), not o["isActive"])
    return balances, orders


def account_view(acct: Account) -> tuple[dict, dict]:
    balances = {k: (b.total, b.available, b.hold) for k, b in acct.holdings.balances.items()}
    orders = {oid: (o.deal_size, o.deal_funds, o.done) for oid, o in acct.holdings.orders.items()}
    return balances, orders


async def assert_matches_exchange(acct: Account, creds: Credentials, url: str) -> None:
    """Poll (bounded) until the account equals the exchange's REST view; fail with the difference."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        want = await exchange_view(creds, url)
        have = account_view(acct)
        if have == want:
            return
        if loop.time() > deadline:
            assert have == want
        await asyncio.sleep(0.05)  # polling the exchange, not synchronising on a guess


async def trade_some(t: Trade, m: Market) -> list[str]:
    """A resting order that is cancelled, one that stays open, and two market orders that fill."""
    bid = float((await m.aget_ticker("BTC-USDT"))["bestBid"])
    low = str(round(bid * 0.8, 1))
    gone = (await t.acreate_limit_order("BTC-USDT", "buy", "0.001", low))["orderId"]
    kept = (await t.acreate_limit_order("BTC-USDT", "buy", "0.002", low))["orderId"]
    await t.acancel_order(gone)
    bought = (await t.acreate_market_order("BTC-USDT", "buy", size="0.001"))["orderId"]
    sold = (await t.acreate_market_order("ETH-USDT", "sell", size="0.01"))["orderId"]
    return [gone, kept, bought, sold]


async def test_account_follows_orders_and_balances(exchange):
    """Seeded from REST, then kept by pushes: after placing, cancelling and filling orders the account
    equals the exchange, the fills' deal funds are exact, and the pushes are in the event frames."""
    creds = exchange.create_account()
    async with (
        Account(creds, url=exchange.url, **FAST) as acct,
        Trade(url=exchange.url, credentials=creds) as t,
        Market(url=exchange.url) as m,
    ):
        assert acct.state is AccountState.LIVE and acct.counters.seeds == 1
        assert acct.balance("USDT").total > 0 and ("USDT", "main") in acct.holdings.balances
        ids = await trade_some(t, m)
        await acct.wait_for(lambda a: all(a.order(i) is not None for i in ids), DEADLINE)
        await assert_matches_exchange(acct, creds, exchange.url)
        assert acct.counters.balance_pushes > 0 and acct.counters.order_pushes >= 7
        assert acct.counters.corrections == 0 and acct.counters.reseeds == 0
        assert acct.order(ids[0]).event == "canceled" and acct.order(ids[1]).status == "open"
        assert all(acct.order(i).exact for i in ids)
        events = acct.order_events.df
        assert set(ids) <= set(events["order_id"]) and "match" in set(events["event"])
        assert len(acct.balance_events) == acct.counters.balance_pushes
        orders = acct.orders
        assert orders.loc[ids[2], "deal_size"] == pytest.approx(0.001)
        assert acct.balances.loc[("BTC", "trade"), "total"] == pytest.approx(float(acct.balance("BTC").total))
    assert acct.state is AccountState.CLOSED and acct.connection is None
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert [n for n in names if n.startswith(("kunb-account", "kunb-private"))] == []


async def test_outage_is_recovered_from_rest(exchange):
    """Orders placed, filled and cancelled while the private link is down (abrupt disconnect, bullet
    refused) are lost to the WebSocket; after the reconnect the REST re-seed recovers every one of them
    and the account equals the exchange again."""
    creds = exchange.create_account()
    async with (
        Account(creds, url=exchange.url, **FAST) as acct,
        Trade(url=exchange.url, credentials=creds) as t,
        Market(url=exchange.url) as m,
    ):
        before = await trade_some(t, m)
        await assert_matches_exchange(acct, creds, exchange.url)
        pushes = acct.counters.balance_pushes + acct.counters.order_pushes

        exchange.faults.bullet_errors(status=503)  # keep the link down while we trade
        exchange.faults.disconnect(abrupt=True)
        await acct.wait_for(lambda a: a.state is AccountState.RESYNCING, DEADLINE)
        during = await trade_some(t, m)
        await t.acancel_order(before[1])  # an order known as open before the outage ends in it
        assert acct.counters.balance_pushes + acct.counters.order_pushes == pushes  # nothing got through
        assert all(acct.order(i) is None for i in during)

        exchange.faults.clear()
        await acct.wait_for(lambda a: a.counters.reseeds >= 1 and a.state is AccountState.LIVE, DEADLINE)
        await assert_matches_exchange(acct, creds, exchange.url)
        assert acct.counters.disconnects == 1 and acct.counters.corrections > 0
        assert acct.counters.orders_recovered == len(during)
        assert acct.order(before[1]).event == "canceled" and acct.order(during[2]).event == "filled"
        assert acct.order(during[1]).status == "open" and acct.order(during[1]).source == "rest"

        # streaming resumes after the re-seed: a new fill arrives by push
        after = (await t.acreate_market_order("BTC-USDT", "sell", size="0.001"))["orderId"]
        await acct.wait_for(lambda a: a.order(after) is not None and a.order(after).done, DEADLINE)
        assert acct.order(after).source == "push"
        await assert_matches_exchange(acct, creds, exchange.url)


async def test_duplicated_topic_push_is_ignored(exchange):
    """The same balance push delivered twice (same relationEventId) is counted once, and the sinks are
    told it was a duplicate (result None)."""
    creds = exchange.create_account()
    async with Account(creds, url=exchange.url, **FAST) as acct:
        seen = []
        frames = []
        acct.add_sink(lambda event, result: seen.append((event, result)))
        acct.add_frame_listener(frames.append)
        async with Trade(url=exchange.url, credentials=creds) as t, Market(url=exchange.url) as m:
            bid = float((await m.aget_ticker("BTC-USDT"))["bestBid"])
            await t.acreate_limit_order("BTC-USDT", "buy", "0.001", str(round(bid * 0.8, 1)))
        await acct.wait_for(lambda a: any(r is not None and isinstance(e, BalanceChange) for e, r in seen))
        message = next(f for f in frames if f["topic"] == "/account/balance")
        count = acct.counters.balance_pushes
        acct.ingest(message)  # what a duplicated delivery looks like to the account
        assert acct.counters.balance_pushes == count and acct.counters.duplicates == 1
        assert isinstance(seen[-1][0], BalanceChange) and seen[-1][1] is None


async def test_misuse_is_refused(exchange, monkeypatch):
    """No credentials, a bad topic, starting twice or waiting on an unstarted account: clear errors."""
    for name in ("KUCOIN_API_KEY", "KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError):
        Account(url=exchange.url)
    with pytest.raises(ConfigurationError):
        Account(exchange.credentials, url=exchange.url, order_topic="/market/ticker:BTC-USDT")
    acct = Account(exchange.credentials, url=exchange.url)
    with pytest.raises(ClosedError):
        await acct.wait_live(1)
    await acct.astart()
    with pytest.raises(ClosedError):
        await acct.astart()
    await acct.aclose()
    with pytest.raises(ClosedError):
        await acct.refresh()
    assert "secret" not in repr(acct).lower() and exchange.credentials.secret not in repr(acct)


def test_start_stop_from_plain_code():
    """start()/stop() from sync code run the account on the helper loop thread and leave no task."""
    with kunb.sim.start(seed=2, symbols=["BTC-USDT"], tick_ms=20) as sim:
        creds = sim.exchange.create_account()
        acct = Account(creds, url=sim.url, **FAST).start(timeout=DEADLINE)
        assert acct.state is AccountState.LIVE and acct.balance("USDT").available > 0
        loop = acct._loop
        with Trade(url=sim.url, credentials=creds) as t:
            oid = t.create_market_order("BTC-USDT", "buy", size="0.001")["orderId"]
        deadline = time.monotonic() + DEADLINE
        while not (acct.order(oid) is not None and acct.order(oid).done):
            assert time.monotonic() < deadline, "the fill never reached the account"
            time.sleep(0.02)  # polling a condition across threads, not a guess at timing
        acct.stop()
        assert acct.state is AccountState.CLOSED
        pending = asyncio.run_coroutine_threadsafe(_account_tasks(), loop).result(5)
        assert pending == []


async def _account_tasks() -> list[str]:
    me = asyncio.current_task()
    return [t.get_name() for t in asyncio.all_tasks() if t is not me and "kunb" in t.get_name()]


async def test_fatal_link_end_closes_the_account(exchange):
    """A private connection that ends for good (a revoked key) closes the account: waiters get
    ClosedError with the cause in ``error`` instead of waiting forever."""
    from kunb.exceptions import AuthenticationError
    from kunb.sources.base import LinkChange, LinkStatus

    async with Account(exchange.create_account(), url=exchange.url, **FAST) as acct:
        fatal = AuthenticationError("400003", "KC-API-KEY not exists", 401)
        acct._on_link(LinkChange(LinkStatus.CLOSED, "private-x", (), str(fatal), fatal))
        assert acct.state is AccountState.CLOSED and acct.error is fatal
        with pytest.raises(ClosedError):
            await acct.wait_for(lambda a: False, 5)
