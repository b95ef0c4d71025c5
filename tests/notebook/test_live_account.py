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
    """The dashboard shows every panel, as tabs and in a grid (the page shows one by its width), and
    stops them all."""
    dash = nb.dashboard(["BTC-USDT", "ETH-USDT"], url=exchange.url, credentials=exchange.credentials)
    titles = ["Ticker", "Order book", "Candles", "Trades", "Account"]
    assert [dash.tabs.get_title(i) for i in range(5)] == titles
    assert list(dash.grid.children) == list(dash.tabs.children) == [p.widget for p in dash.parts]
    assert dash.account is not None and dash.account.widget.layout.grid_column == "1 / -1"
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


async def test_the_account_is_valued_at_the_exchanges_live_prices(exchange):
    """Each holding is valued at the mid of its market as the exchange quotes it; the total is the sum,
    shares add up to one, a currency without a market is named; the value is drawn over time."""
    import math

    import httpx

    live = nb.live_account(exchange.credentials, url=exchange.url, max_hz=50)
    await until(lambda: live.seeded and {"BTC", "ETH"} <= set(live.prices.pairs), timeout=10)
    await until(
        lambda: live.prices.stream is not None and live.prices.stream.last_tick("BTC-USDT"), timeout=10
    )
    await until(lambda: len(live.equity) >= 1 and live.value > 0, timeout=10)
    async with httpx.AsyncClient(base_url=exchange.url) as http:
        for currency in ("BTC", "ETH"):
            level1 = (
                await http.get("/api/v1/market/orderbook/level1", params={"symbol": f"{currency}-USDT"})
            ).json()
            mid = (float(level1["data"]["bestBid"]) + float(level1["data"]["bestAsk"])) / 2
            assert live.prices.price(currency) == pytest.approx(mid, rel=5e-3)
    snap = live.snapshot()
    holdings = snap["holdings"]
    assert holdings["USDT"]["price"] == 1.0
    priced = [h for h in holdings.values() if not math.isnan(h["value"])]
    assert snap["value"] == pytest.approx(sum(h["value"] for h in priced))
    assert sum(h["share"] for h in priced) == pytest.approx(1.0)
    # the fixture's exchange lists BTC-USDT and ETH-USDT only: other funded currencies have no market
    assert set(snap["unpriced"]) == set(holdings) - {"BTC", "ETH", "USDT"}
    assert all("market" in live.prices.unpriced[c] for c in snap["unpriced"])
    await until(lambda: f'data-value="{live.valuation.total!r}"' in live.panel.value.value, timeout=5)
    assert 'data-quote="USDT"' in live.panel.value.value and "not valued" in live.panel.value.value
    assert len(live.panel.figure.columns(0).get("y", [])) >= 1  # equity over time
    assert live.df.loc["BTC", "value"] > 0 and list(live.equity_df.columns) == ["value"]
    await live.aclose()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]


async def test_open_orders_and_fills_show_in_their_tables(exchange):
    """A resting limit order is listed as open until cancelled; a market order's fills are listed."""
    from kunb.client import Market, Trade

    live = nb.live_account(exchange.credentials, url=exchange.url, max_hz=50)
    await live.wait_live()
    async with (
        Trade(url=exchange.url, credentials=exchange.credentials) as trade,
        Market(url=exchange.url) as market,
    ):
        bid = float((await market.aget_ticker("BTC-USDT"))["bestBid"])
        resting = await trade.acreate_limit_order("BTC-USDT", "buy", size="0.001", price=f"{bid * 0.9:.1f}")
        await until(lambda: f'data-order-id="{resting["orderId"]}"' in live.panel.open_orders.value)
        assert resting["orderId"] in live.snapshot()["open_orders"]
        bought = await trade.acreate_market_order("BTC-USDT", "buy", funds="100")
        await until(lambda: any(f["order_id"] == bought["orderId"] for f in live.fills.rows))
        await until(
            lambda: 'kunb-fills"' in live.panel.fills.value and "data-trade-id" in live.panel.fills.value
        )
        fill = next(f for f in live.fills.rows if f["order_id"] == bought["orderId"])
        assert fill["side"] == "buy" and fill["value"] == pytest.approx(fill["price"] * fill["size"])
        await trade.acancel_order(resting["orderId"])
        await until(lambda: resting["orderId"] not in live.snapshot()["open_orders"])
    assert list(live.fills_df.columns)[:5] == ["time", "symbol", "side", "price", "size"]
    await live.aclose()
