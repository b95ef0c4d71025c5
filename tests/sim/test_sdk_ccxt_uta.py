"""ccxt's kucoin class in UTA mode (``{'uta': True}``), unmodified, against the embedded exchange with its
URLs pointed there: ccxt.pro's ``watch_ticker``, ``watch_trades``, ``watch_order_book`` (``utaDepth`` 50 and
the deprecated ``increment`` with its signed REST snapshot), ``watch_orders`` and ``watch_balance`` with the
demo key (V1 token from ``POST /api/v2/bullet-private``), and ccxt's UTA REST calls.
"""

from __future__ import annotations

import asyncio

import pytest

ccxt = pytest.importorskip("ccxt")
pytest.importorskip("ccxt.pro")

from kunb.sim import Exchange  # noqa: E402
from kunb.sim.core.orderbook import Side  # noqa: E402
from kunb.sim.runner import SimHandle  # noqa: E402

UTA = {"uta": True}
REST_APIS = ("public", "private", "uta", "utaPrivate", "utaV2", "webExchange")


def point(client, url: str, uta_url: str, uta_private_url: str) -> None:
    """ccxt's URLs at the exchange: REST, and the UTA hosts (``urls['api']['ws']``)."""
    for name in REST_APIS:
        if name in client.urls["api"]:
            client.urls["api"][name] = url
    client.urls["api"]["ws"] = {"spot": uta_url, "futures": uta_url, "private": uta_private_url}


def options(creds) -> dict:
    return {
        "apiKey": creds.key,
        "secret": creds.secret,
        "password": creds.passphrase,
        "timeout": 5_000,
        "options": {"fetchMarkets": {"types": ["spot"]}},
    }


@pytest.fixture(scope="module")
def kucoin():
    handle = SimHandle(seed=6, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=50, rate=0)
    try:
        exchange = ccxt.kucoin(options(handle.credentials))
        point(exchange, handle.url, handle.uta_url, handle.uta_private_url)
        yield exchange
    finally:
        handle.stop()


def test_ccxt_uta_rest(kucoin) -> None:
    """The signed UTA order book, the unified balance, and an order's life through the UTA endpoints."""
    kucoin.load_markets()
    book = kucoin.fetch_order_book("BTC/USDT", params=UTA)  # /api/ua/v1/market/orderbook, limit FULL
    assert book["bids"][0][0] < book["asks"][0][0] and len(book["bids"]) > 20
    assert kucoin.fetch_order_book("BTC/USDT", 20, params=UTA)["bids"] == book["bids"][:20]
    balance = kucoin.fetch_balance(UTA)  # /api/ua/v1/unified/account/balance
    assert (balance["USDT"]["total"], balance["BTC"]["free"]) == (10_000, 1)
    order = kucoin.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params=UTA)
    fetched = kucoin.fetch_order(order["id"], "BTC/USDT", UTA)
    assert (fetched["status"], fetched["price"], fetched["amount"]) == ("open", 50_000, 0.001)
    assert [o["id"] for o in kucoin.fetch_open_orders("BTC/USDT", params=UTA)] == [order["id"]]
    assert kucoin.fetch_balance(UTA)["USDT"]["used"] == pytest.approx(50.05)
    kucoin.cancel_order(order["id"], "BTC/USDT", UTA)
    assert kucoin.fetch_order(order["id"], "BTC/USDT", UTA)["status"] == "canceled"
    closed = kucoin.fetch_closed_orders("BTC/USDT", params=UTA)
    assert [(o["id"], o["status"]) for o in closed] == [(order["id"], "canceled")]
    # one engine: the classic API sees the UTA order too
    assert kucoin.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"


async def _until(condition, limit_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def pro(exchange):
    client = ccxt.pro.kucoin(options(exchange.credentials))
    point(client, exchange.url, exchange.uta_url, exchange.uta_private_url)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


async def test_ccxt_pro_uta_ticker_and_trades(exchange, pro) -> None:
    ticker = await asyncio.wait_for(pro.watch_ticker("BTC/USDT", UTA), 10)
    market = exchange.core.market("BTC-USDT")
    # ccxt swaps UTA's a and b (uta-protocol.md#ticker): its "bid" is the ask the exchange sent
    assert ticker["bid"] >= ticker["ask"] and ticker["last"] > 0
    trades = await asyncio.wait_for(pro.watch_trades("BTC/USDT", params=UTA), 10)
    assert trades[-1]["side"] in ("buy", "sell") and trades[-1]["amount"] > 0
    assert int(trades[-1]["id"]) <= market.book.sequence  # trade ids are the book's sequence
    sessions = [s for s in exchange.connections() if s.binary]
    assert {"ticker.SPOT:BTC-USDT", "trade.SPOT:BTC-USDT"} <= {t for s in sessions for t in s.topics}


async def test_ccxt_pro_uta_order_book_depth_50(exchange, pro) -> None:
    """utaDepth 50 (a snapshot every 100 ms): ccxt's book equals the exchange's top 50 whenever its nonce
    is the exchange's sequence."""
    params = {**UTA, "utaDepth": "50"}
    market = exchange.core.market("ETH-USDT")
    matched = 0
    while matched < 3:
        book = await asyncio.wait_for(pro.watch_order_book("ETH/USDT", params=params), 10)
        if book["nonce"] != exchange.sequence("ETH-USDT"):
            continue
        for side, name in ((Side.BUY, "bids"), (Side.SELL, "asks")):
            want = [
                [float(market.spec.price_str(p)), float(market.spec.size_str(s))]
                for p, s in market.book.depth(side, 50)
            ]
            assert [list(level) for level in book[name]] == want
        matched += 1


async def test_ccxt_pro_uta_order_book_increment(exchange, pro) -> None:
    """The deprecated increment: ccxt buffers deltas, fetches the signed ``/api/ua/v1/market/orderbook``
    (limit FULL), finds the delta that continues it (``O - 1 <= sequence < C``) and follows the sequence.

    ccxt 4.5.90 then applies no level of a UTA delta (its ``handle_book_delta`` reads ``changes`` or
    ``bids``/``asks``, never UTA's ``b``/``a``), so only its nonce is compared here: the synced book is
    the REST snapshot's, which equals the exchange's book at that sequence."""
    params = {**UTA, "utaDepth": "increment"}
    first = await asyncio.wait_for(pro.watch_order_book("ETH/USDT", params=params), 10)
    assert first["bids"][0][0] < first["asks"][0][0] and len(first["bids"]) > 20  # the full REST book
    later = exchange.sequence("ETH-USDT") + 10
    await _until(lambda: pro.orderbooks["ETH/USDT"]["nonce"] >= later)  # it follows the deltas
    session = next(s for s in exchange.connections() if "obu.SPOT:ETH-USDT:increment" in s.topics)
    assert session.sent > 5  # deltas flowed (ccxt asks for the snapshot after 5)


async def test_ccxt_pro_uta_orders_and_balance(exchange, pro) -> None:
    """watch_orders / watch_balance with the demo key: the V1 token, orderAll and balance (accountType
    ``unified``, ccxt's lower case), for an order placed through UTA REST."""
    orders = asyncio.ensure_future(pro.watch_orders(params=UTA))
    balance = asyncio.ensure_future(pro.watch_balance(UTA))
    try:
        wanted = {"orderAll.UNIFIED", "balance.UNIFIED"}
        await _until(lambda: wanted <= {t for s in exchange.connections() for t in s.topics})
        placed = await pro.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params=UTA)
        [update] = await asyncio.wait_for(orders, 5)
        assert (update["id"], update["status"], update["price"], update["amount"]) == (
            placed["id"], "open", 50_000, 0.001
        )  # fmt: skip
        usdt = (await asyncio.wait_for(balance, 5))["USDT"]
        assert (usdt["used"], usdt["total"]) == (pytest.approx(50.05), pytest.approx(10_000))
        await pro.cancel_order(placed["id"], "BTC/USDT", UTA)
        updates = await asyncio.wait_for(pro.watch_orders(params=UTA), 5)
        assert updates[-1]["id"] == placed["id"] and updates[-1]["status"] == "canceled"
    finally:
        for task in (orders, balance):
            task.cancel()


async def test_a_frozen_exchange_still_answers_ccxt_watch_order_book_50() -> None:
    """Depth 50 is pushed every 100 ms even when nothing changes, so a quiet market still resolves."""
    async with Exchange(seed=4, symbols=["BTC-USDT"], rate=0, tick_ms=20) as ex:
        client = ccxt.pro.kucoin(options(ex.credentials))
        point(client, ex.url, ex.uta_url, ex.uta_private_url)
        try:
            await client.load_markets()
            params = {**UTA, "utaDepth": "50"}
            first = await asyncio.wait_for(client.watch_order_book("BTC/USDT", params=params), 5)
            second = await asyncio.wait_for(client.watch_order_book("BTC/USDT", params=params), 5)
            assert first["nonce"] == second["nonce"] == ex.sequence("BTC-USDT")
        finally:
            await client.close()
