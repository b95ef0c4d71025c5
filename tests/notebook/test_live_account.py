"""live_account on kunb.Account: balances that match REST (also after an outage), order events, dashboard."""

from __future__ import annotations

import asyncio

import pytest
from nbfakes import wait_for

import kunb.notebook as nb
from kunb.exceptions import ConfigurationError
from kunb.notebook.account import OrderEvents
from kunb.notebook.status import Health


def test_order_events_are_newest_first_and_bounded():
    """Order events keep the newest first, up to max_events, with a readable time."""
    model = OrderEvents(max_events=3)
    for i in range(5):
        model.on_order({"orderId": str(i), "type": "open", "ts": 1_700_000_000_123_000_000 + i})
    assert [e["orderId"] for e in model.events] == ["4", "3", "2"]
    assert model.events[0]["time"].endswith(".123")


def test_no_credentials_is_a_clear_error(monkeypatch):
    """Without credentials anywhere, live_account says where to put them."""
    for name in ("KUCOIN_API_KEY", "KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=r"kunb\.sim\.start"):
        nb.live_account(url="http://127.0.0.1:9")


async def test_live_account_against_the_exchange(exchange):
    """Balances match REST after a trade; the order's events appear in the orders table."""
    from kunb.client import Trade, User

    creds = exchange.credentials
    live = nb.live_account(creds, url=exchange.url, max_hz=50)
    await wait_for(lambda: live.health is Health.LIVE and live.seeded, within=10)
    async with Trade(url=exchange.url, credentials=creds) as trade:
        placed = await trade.acreate_market_order("BTC-USDT", "buy", funds="50")
    order_id = placed["orderId"]
    events = live.orders.events
    await wait_for(lambda: any(e["orderId"] == order_id and e["type"] == "filled" for e in events))
    await wait_for(lambda: f'data-order-id="{order_id}"' in live.panel.orders.value)
    async with User(url=exchange.url, credentials=creds) as user:
        for _ in range(100):  # settle: the balance pushes of the fill may trail the order's filled event
            rest = {a["currency"]: a for a in await user.aget_account_list(account_type="trade")}
            snap = live.snapshot()["balances"]
            if all(snap[c]["available"] == float(rest[c]["available"]) for c in ("BTC", "USDT")):
                break
            await asyncio.sleep(0.02)
    assert snap["BTC"]["available"] == float(rest["BTC"]["available"])
    assert snap["USDT"]["total"] == float(rest["USDT"]["balance"])
    assert 'data-currency="BTC"' in live.panel.balances.value
    assert live.df.loc["BTC", "available"] == float(rest["BTC"]["available"])
    await live.aclose()


async def test_dashboard_tabs_and_stop(exchange):
    """The dashboard shows ticker, book and account tabs and stops all three."""
    dash = nb.dashboard(["BTC-USDT", "ETH-USDT"], url=exchange.url, credentials=exchange.credentials)
    assert [dash.widget.get_title(i) for i in range(3)] == ["Ticker", "Order book", "Account"]
    await wait_for(lambda: all(p.health is Health.LIVE for p in dash.parts), within=15)
    snap = dash.snapshot()
    assert snap["book"]["state"] == "live" and snap["ticker"]["messages"] > 0
    await dash.aclose()
    assert not any(p.running for p in dash.parts)


async def test_live_account_defaults_to_the_session_exchange_demo_user():
    """After kunb.sim.start(), live_account() needs no argument: the session exchange's demo user."""
    import kunb.sim

    handle = await asyncio.to_thread(kunb.sim.start, seed=3, symbols=["BTC-USDT"])
    try:
        live = nb.live_account()
        assert live.url == handle.url and live.credentials == handle.credentials and live.simulated
        await wait_for(lambda: live.seeded and "USDT" in live.snapshot()["balances"], within=10)
        await live.aclose()
    finally:
        await asyncio.to_thread(handle.stop)


async def test_live_account_reseeds_after_an_outage(exchange):
    """A trade made while the private link is down shows up after the reconnect (kunb.Account re-seeds)."""
    from kunb.client import Trade, User

    creds = exchange.credentials
    live = nb.live_account(creds, url=exchange.url, max_hz=50)
    await wait_for(lambda: live.health is Health.LIVE and live.seeded, within=10)
    before = live.snapshot()["balances"]["BTC"]["available"]
    exchange.faults.bullet_errors(status=503, seconds=1.5)  # no new token for a while...
    exchange.faults.disconnect(abrupt=True)  # ...so after this drop the link stays down
    await wait_for(lambda: live.health is not Health.LIVE, within=5)
    async with Trade(url=exchange.url, credentials=creds) as trade:  # its pushes reach nobody
        await trade.acreate_market_order("BTC-USDT", "buy", funds="30")
    async with User(url=exchange.url, credentials=creds) as user:
        accounts = await user.aget_account_list(account_type="trade")
    rest = {a["currency"]: float(a["available"]) for a in accounts}
    assert rest["BTC"] > before
    await wait_for(lambda: live.snapshot()["reseeds"] >= 1 and live.health is Health.LIVE, within=20)
    assert live.snapshot()["balances"]["BTC"]["available"] == rest["BTC"]
    await live.aclose()
