"""live_account on kunb.Account: balances that match REST (also after an outage), order events, dashboard."""

from __future__ import annotations

import asyncio

import pytest
from nbfakes import FakeAccountSource, balance_msg, order_msg
from support import until

import kunb.notebook as nb
from kunb.events import Integrity
from kunb.exceptions import ConfigurationError
from kunb.notebook.account import OrderEvents
from kunb.notebook.status import Health
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.signing import Credentials
from kunb.sources.base import LinkStatus


def test_order_events_are_newest_first_and_bounded():
    """Order events keep the newest first, up to max_events, with a readable time."""
    model = OrderEvents(max_events=3)
    decoder = ClassicDecoder()
    for i in range(5):
        frame = order_msg(str(i), "open", "open", ts_ns=1_700_000_000_123_000_000 + i)
        (event,) = decoder.decode(frame, 0)
        model.on_order(event)
    assert [e["orderId"] for e in model.events] == ["4", "3", "2"]
    assert model.events[0]["time"] == "2023-11-14 22:13:20.123 UTC"  # readable, in UTC, to the ms
    assert (model.events[0]["type"], model.events[0]["price"], model.events[0]["ts"]) == (
        "open",
        "100",
        1_700_000_000_123_000_004,
    )


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
    await until(lambda: live.health is Health.LIVE and live.seeded, timeout=10)
    async with Trade(url=exchange.url, credentials=creds) as trade:
        placed = await trade.acreate_market_order("BTC-USDT", "buy", funds="50")
    order_id = placed["orderId"]
    events = live.orders.events
    await until(lambda: any(e["orderId"] == order_id and e["type"] == "filled" for e in events))
    await until(lambda: f'data-order-id="{order_id}"' in live.panel.orders.value)
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
    await until(lambda: all(p.health is Health.LIVE for p in dash.parts), timeout=15)
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
        await until(lambda: live.seeded and "USDT" in live.snapshot()["balances"], timeout=10)
        await live.aclose()
    finally:
        await asyncio.to_thread(handle.stop)


async def test_live_account_reseeds_after_an_outage(exchange):
    """A trade made while the private link is down shows up after the reconnect (kunb.Account re-seeds)."""
    from kunb.client import Trade, User

    creds = exchange.credentials
    live = nb.live_account(creds, url=exchange.url, max_hz=50)
    await until(lambda: live.health is Health.LIVE and live.seeded, timeout=10)
    before = live.snapshot()["balances"]["BTC"]["available"]
    exchange.faults.bullet_errors(status=503, seconds=1.5)  # no new token for a while...
    exchange.faults.disconnect(abrupt=True)  # ...so after this drop the link stays down
    await until(lambda: live.health is not Health.LIVE, timeout=5)
    async with Trade(url=exchange.url, credentials=creds) as trade:  # its pushes reach nobody
        await trade.acreate_market_order("BTC-USDT", "buy", funds="30")
    async with User(url=exchange.url, credentials=creds) as user:
        accounts = await user.aget_account_list(account_type="trade")
    rest = {a["currency"]: float(a["available"]) for a in accounts}
    assert rest["BTC"] > before
    await until(lambda: live.snapshot()["reseeds"] >= 1 and live.health is Health.LIVE, timeout=20)
    assert live.snapshot()["balances"]["BTC"]["available"] == rest["BTC"]
    await live.aclose()


def _usdt(available: str, hold: str) -> dict:
    """A ``GET /api/v1/accounts`` item of the trade account."""
    total = str(float(available) + float(hold))
    return {"id": "acc-USDT", "currency": "USDT", "type": "trade", "balance": total, "available": available,
            "holds": hold}  # fmt: skip


async def test_live_account_over_a_source_reseeds_after_an_outage_and_restarts():
    """Over an AccountSource: balances seeded from its REST answer, then moved by pushes; a dropped link
    says reconnecting, and once restored the panel re-seeds (resyncing meanwhile) and shows what REST
    says now; stopped and started, it opens the same source again and seeds afresh."""
    source = FakeAccountSource(accounts=[_usdt("100", "0")])
    live = nb.live_account(Credentials("key", "secret", "passphrase"), source=source, max_hz=50)
    await until(lambda: live.health is Health.LIVE and live.seeded)
    assert live.df.loc["USDT", "available"] == 100.0 and source.seeds == 1
    source.push(balance_msg("USDT", "90", "10", event_id="e1", ts_ms=1_700_000_000_000))
    source.push(order_msg("o1", "open", "open", ts_ns=1_700_000_000_000_000_000))
    await until(lambda: 'data-order-id="o1"' in live.panel.orders.value)
    assert live.df.loc["USDT", "hold"] == 10.0 and live.orders_df["orderId"].tolist() == ["o1"]

    seen: list[tuple[str, Health]] = []  # (integrity event, what the badge says as the panel is told of it)
    live.account.add_sink(
        lambda event, _: seen.append((event.kind, live.health)) if isinstance(event, Integrity) else None
    )
    source.set_link(LinkStatus.DOWN, "link lost")
    assert live.health is Health.RECONNECTING and seen == [("outage", Health.RECONNECTING)]
    await until(lambda: 'data-status="reconnecting"' in live.panel.badge.value)
    source.accounts = [_usdt("80", "20")]  # what changed while nobody was told
    source.seed_gate = asyncio.Event()
    source.set_link(LinkStatus.RESTORED)
    await until(lambda: source.seeds == 2)
    assert live.health is Health.RESYNCING and seen[-1] == ("reconnected", Health.RESYNCING)
    await until(lambda: 'data-status="resyncing"' in live.panel.badge.value)
    source.seed_gate.set()
    await until(lambda: live.health is Health.LIVE and live.snapshot()["reseeds"] == 1)
    assert live.df.loc["USDT", "available"] == 80.0 and live.df.loc["USDT", "hold"] == 20.0

    live.panel.controls.toggle.value = False
    await live.wait_stopped()
    assert source.active == 0 and source.closed.is_set() and live.health is Health.STOPPED
    live.panel.controls.toggle.value = True
    await until(lambda: source.runs == 2 and live.health is Health.LIVE and live.seeded)
    assert source.seeds == 3 and live.snapshot()["reseeds"] == 0  # a fresh Account, seeded once
    await live.aclose()
    assert source.active == 0
