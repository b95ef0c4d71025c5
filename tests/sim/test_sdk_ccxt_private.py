"""ccxt's kucoin class, unmodified, with the demo key: start-up probes, balance, orders, fills, full book."""

from __future__ import annotations

import asyncio

import pytest

ccxt = pytest.importorskip("ccxt")
pytest.importorskip("ccxt.pro")

from kunb.sim.runner import SimHandle  # noqa: E402


@pytest.fixture(scope="module")
def kucoin():
    handle = SimHandle(seed=6, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=50)
    try:
        creds = handle.credentials
        exchange = ccxt.kucoin(
            {
                "apiKey": creds.key,
                "secret": creds.secret,
                "password": creds.passphrase,
                "timeout": 5_000,
                "options": {"fetchMarkets": {"types": ["spot"]}},
            }
        )
        for name in ("public", "private", "uta", "utaPrivate", "utaV2", "webExchange"):
            if name in exchange.urls["api"]:
                exchange.urls["api"][name] = handle.url
        yield exchange
    finally:
        handle.stop()


def test_ccxt_trades_with_credentials(kucoin) -> None:
    """load_markets (with its credentialed probes), fetch_balance, a resting order's lifecycle, a market
    order and its fill, and the signed full order book all work."""
    markets = kucoin.load_markets()
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}
    balance = kucoin.fetch_balance()
    assert balance["USDT"]["total"] == 10_000 and balance["BTC"]["free"] == 1
    order = kucoin.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000)
    assert kucoin.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    assert [o["id"] for o in kucoin.fetch_open_orders("BTC/USDT")] == [order["id"]]
    assert kucoin.fetch_balance()["USDT"]["used"] == pytest.approx(50.05)
    kucoin.cancel_order(order["id"], "BTC/USDT")
    assert kucoin.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    market_order = kucoin.create_order("BTC/USDT", "market", "buy", 0.001)
    [trade] = [t for t in kucoin.fetch_my_trades("BTC/USDT") if t["order"] == market_order["id"]]
    assert trade["amount"] == 0.001 and trade["takerOrMaker"] == "taker"
    assert trade["fee"]["cost"] == pytest.approx(trade["cost"] * 0.001)
    book = kucoin.fetch_order_book("BTC/USDT")  # authenticated, no limit: the private v3 full book
    assert len(book["bids"]) > 20 and book["nonce"] > 0
    with pytest.raises(ccxt.InsufficientFunds):
        kucoin.create_order("BTC/USDT", "limit", "buy", 1, 60_000)
    with pytest.raises(ccxt.OrderNotFound):
        kucoin.cancel_order(order["id"], "BTC/USDT")


async def _until(condition, limit_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_ccxt_pro_watches_orders_balance_and_book(exchange) -> None:
    """ccxt.pro's private streams (bullet-private, /spotMarket/tradeOrders, /account/balance) and its
    level2 sync over the signed full book work against kunb.sim."""
    creds = exchange.credentials
    pro = ccxt.pro.kucoin(
        {
            "apiKey": creds.key,
            "secret": creds.secret,
            "password": creds.passphrase,
            "options": {"fetchMarkets": {"types": ["spot"]}},
        }
    )
    for name in ("public", "private", "uta", "utaPrivate", "utaV2", "webExchange"):
        if name in pro.urls["api"]:
            pro.urls["api"][name] = exchange.url
    tasks: list[asyncio.Future] = []
    try:
        await pro.load_markets()
        orders = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
        balance = asyncio.ensure_future(pro.watch_balance())
        tasks += [orders, balance]
        wanted = {"/spotMarket/tradeOrders", "/account/balance"}
        await _until(lambda: wanted <= {t for s in exchange.connections() for t in s.topics})
        placed = await pro.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000)
        [update] = await asyncio.wait_for(orders, 5)
        assert (update["id"], update["status"], update["price"]) == (placed["id"], "open", 50_000)
        usdt = (await asyncio.wait_for(balance, 5))["USDT"]
        assert (usdt["used"], usdt["total"]) == (pytest.approx(50.05), pytest.approx(10_000))
        book = await asyncio.wait_for(pro.watch_order_book("BTC/USDT"), 5)
        assert book["nonce"] > 0 and book["bids"][0][0] < book["asks"][0][0]
        assert [50_000, 0.001] in book["bids"]  # the user's order is in the public book
    finally:
        for task in tasks:
            task.cancel()
        await pro.close()
