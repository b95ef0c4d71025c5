"""Public REST in-process (httpx.ASGITransport): envelope, codes, field types (protocol 4.1, 4.3)."""

from __future__ import annotations

import re

import httpx
import pytest

from kunb.sim import Exchange
from kunb.sim.core.orderbook import Side

DEC = re.compile(r"^-?\d+(\.\d+)?$")
NOW_MS = 1_700_000_123_456


@pytest.fixture
async def client():
    now = [NOW_MS * 1_000_000]
    ex = Exchange(seed=4, symbols=["BTC-USDT", "ETH-BTC", "XRP-USDT"], clock=lambda: now[0])
    ex.core.advance(now[0] + 60 * 10**9)  # one simulated minute of flow
    now[0] += 60 * 10**9
    transport = httpx.ASGITransport(app=ex.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        c.exchange = ex
        yield c


async def _data(client, path, **params):
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == "200000" and set(body) == {"code", "data"}
    return body["data"]


async def test_timestamp_and_status(client):
    """timestamp is the exchange clock in ms (a number); status is open."""
    assert await _data(client, "/api/v1/timestamp") == NOW_MS + 60_000
    assert await _data(client, "/api/v1/status") == {"status": "open", "msg": ""}


@pytest.mark.parametrize("path", ["/api/v1/symbols", "/api/v2/symbols"])
async def test_symbols(client, path):
    """Symbol lists carry string increments; v2 adds feeCategory (an int) and the call-auction fields."""
    items = await _data(client, path)
    assert [i["symbol"] for i in items] == ["BTC-USDT", "ETH-BTC", "XRP-USDT"]
    btc = items[0]
    assert (
        btc["priceIncrement"] == "0.1"
        and btc["baseIncrement"] == "0.00000001"
        and btc["enableTrading"] is True
    )
    assert all(isinstance(btc[k], str) for k in ("baseMinSize", "quoteMinSize", "quoteIncrement", "minFunds"))
    assert ("feeCategory" in btc) is (path == "/api/v2/symbols")
    if "feeCategory" in btc:
        assert btc["feeCategory"] == 1 and btc["callauctionPriceFloor"] is None
    assert [i["symbol"] for i in await _data(client, path, market="BTC")] == ["ETH-BTC"]


async def test_one_symbol_and_unknown_symbol(client):
    """/api/v2/symbols/{symbol} returns one item; an unknown one gets 900001."""
    assert (await _data(client, "/api/v2/symbols/ETH-BTC"))["quoteCurrency"] == "BTC"
    r = await client.get("/api/v2/symbols/NOPE-USDT")
    assert r.status_code == 400 and r.json() == {"code": "900001", "msg": "symbol not exists"}


async def test_level1_and_depth_snapshots_carry_the_book_sequence(client):
    """level1 / level2_20 / level2_100 reflect the book and its current sequence."""
    book = client.exchange.core.market("BTC-USDT").book
    spec = client.exchange.core.market("BTC-USDT").spec
    l1 = await _data(client, "/api/v1/market/orderbook/level1", symbol="BTC-USDT")
    assert l1["sequence"] == str(book.sequence) and isinstance(l1["time"], int)
    assert l1["bestBid"] == spec.price_str(book.best_bid()[0]) and l1["bestAskSize"] == spec.size_str(
        book.best_ask()[1]
    )
    for path, n in (("/api/v1/market/orderbook/level2_20", 20), ("/api/v1/market/orderbook/level2_100", 100)):
        d = await _data(client, path, symbol="BTC-USDT")
        assert d["sequence"] == str(book.sequence) and set(d) == {"time", "sequence", "bids", "asks"}
        assert len(d["bids"]) == min(n, book.level_count(Side.BUY))
        assert len(d["asks"]) == min(n, book.level_count(Side.SELL))
        assert all(DEC.match(p) and DEC.match(s) for p, s in d["bids"] + d["asks"])
        assert float(d["bids"][0][0]) < float(d["asks"][0][0])


async def test_stats_and_all_tickers(client):
    """24 h stats: strings for decimals; allTickers lists every symbol with buy/sell = best bid/ask."""
    s = await _data(client, "/api/v1/market/stats", symbol="BTC-USDT")
    for key in (
        "buy",
        "sell",
        "changeRate",
        "changePrice",
        "high",
        "low",
        "vol",
        "volValue",
        "last",
        "averagePrice",
    ):
        assert isinstance(s[key], str) and DEC.match(s[key]), key
    assert float(s["low"]) <= float(s["last"]) <= float(s["high"]) and float(s["vol"]) > 0
    t = await _data(client, "/api/v1/market/allTickers")
    assert isinstance(t["time"], int) and [x["symbol"] for x in t["ticker"]] == [
        "BTC-USDT",
        "ETH-BTC",
        "XRP-USDT",
    ]
    btc = t["ticker"][0]
    assert btc["buy"] == s["buy"] and btc["sell"] == s["sell"] and btc["symbolName"] == "BTC-USDT"
    assert {"bestBidSize", "bestAskSize", "takerFeeRate", "makerCoefficient"} <= set(btc)


async def test_candles_newest_first_within_range(client):
    """Candles are 7 strings, newest first, inside [startAt, endAt] seconds."""
    rows = await _data(client, "/api/v1/market/candles", symbol="BTC-USDT", type="1min")
    assert rows and all(len(r) == 7 and all(isinstance(x, str) for x in r) for r in rows)
    starts = [int(r[0]) for r in rows]
    assert starts == sorted(starts, reverse=True)
    only_last = await _data(
        client, "/api/v1/market/candles", symbol="BTC-USDT", type="1min", startAt=starts[0]
    )
    assert [int(r[0]) for r in only_last] == [starts[0]]
    none = await _data(client, "/api/v1/market/candles", symbol="BTC-USDT", type="1min", endAt=1)
    assert none == []


async def test_histories_and_currencies(client):
    """histories: last trades with ns time numbers; currencies list every base and quote."""
    trades = await _data(client, "/api/v1/market/histories", symbol="XRP-USDT")
    assert 0 < len(trades) <= 100
    assert set(trades[0]) == {"sequence", "price", "size", "side", "time"} and isinstance(
        trades[0]["time"], int
    )
    currencies = {c["currency"] for c in await _data(client, "/api/v3/currencies")}
    assert currencies == {"BTC", "USDT", "ETH", "XRP"}


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "code"),
    [
        ("GET", "/api/v1/nothing", {}, 404, "404000"),
        ("GET", "/api/v1/market/orderbook/level1", {}, 400, "400100"),
        ("GET", "/api/v1/market/orderbook/level1", {"symbol": "NOPE-USDT"}, 400, "900001"),
        ("GET", "/api/v1/market/candles", {"symbol": "BTC-USDT"}, 400, "400100"),
        (
            "GET",
            "/api/v1/market/candles",
            {"symbol": "BTC-USDT", "type": "1min", "startAt": "x"},
            400,
            "400100",
        ),
        (
            "GET",
            "/api/v1/market/candles",
            {"symbol": "BTC-USDT", "type": "1min", "startAt": "-5"},
            400,
            "400100",
        ),
        (
            "GET",
            "/api/v1/market/candles",
            {"symbol": "BTC-USDT", "type": "1min", "startAt": 9, "endAt": 3},
            400,
            "400100",
        ),
        ("GET", "/api/v1/bullet-public", {}, 405, "405000"),
        ("POST", "/admin/faults/clear", {}, 404, "404000"),
    ],
)
async def test_error_envelopes(client, method, path, params, status, code):
    """Unknown paths, missing/bad parameters and unknown symbols get KuCoin's error envelope."""
    r = await client.request(method, path, params=params)
    assert r.status_code == status
    body = r.json()
    assert body["code"] == code and isinstance(body["msg"], str) and "data" not in body


async def test_public_endpoints_ignore_auth_headers(client):
    """The SDKs sign public calls (4.2): junk KC-API-* headers change nothing."""
    headers = {"KC-API-KEY": "", "KC-API-SIGN": "junk", "KC-API-TIMESTAMP": "1", "KC-API-PASSPHRASE": "x"}
    r = await client.get("/api/v1/market/stats", params={"symbol": "BTC-USDT"}, headers=headers)
    assert r.status_code == 200 and r.json()["code"] == "200000"
    r = await client.post("/api/v1/bullet-public", headers=headers)
    assert r.status_code == 200 and isinstance(r.json()["data"]["token"], str)
