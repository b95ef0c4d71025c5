"""ccxt's kucoin class, unmodified, with the demo key: start-up probes, balance, orders, fills, full book."""

from __future__ import annotations

import pytest

ccxt = pytest.importorskip("ccxt")

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
