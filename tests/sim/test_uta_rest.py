"""kunb.sim's UTA REST endpoints (``uta-kunb.md#uta-rest``): the answers kunb's UTA client and ccxt read,
from the same ledger and matching engine as the classic endpoints; signed like every private call.
"""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest
from utasim import TIMEOUT, signed

from kunb.net.uta_rest import UtaRest
from kunb.signing import auth_headers
from kunb.sim import Exchange

SYM = "BTC-USDT"


@pytest.fixture
async def frozen():
    async with Exchange(seed=5, symbols=[SYM, "ETH-USDT"], rate=0, tick_ms=20) as ex:
        yield ex


async def refused(
    ex: Exchange, method: str, target: str, body: str = "", *, sign: bool = True
) -> tuple[int, str]:
    headers = (
        auth_headers(ex.credentials, method, target, body, timestamp_ms=time.time_ns() // 1_000_000)
        if sign
        else {}
    )
    async with httpx.AsyncClient(base_url=ex.url, timeout=TIMEOUT) as http:
        response = await http.request(method, target, content=body.encode(), headers=headers)
    return response.status_code, response.json()["code"]


async def test_the_unified_account_is_the_trade_account(frozen) -> None:
    data = await signed(frozen.url, frozen.credentials, "GET", "/api/ua/v1/unified/account/balance")
    assert data["accountType"] == "UNIFIED" and abs(data["ts"] - time.time_ns() // 1_000_000) < 5_000
    [account] = data["accounts"]
    classic = await signed(frozen.url, frozen.credentials, "GET", "/api/v1/accounts?type=trade")
    want = {a["currency"]: (a["balance"], a["available"], a["holds"]) for a in classic}
    got = {c["currency"]: (c["balance"], c["available"], c["hold"]) for c in account["currencies"]}
    assert got == want and len(got) > 5
    funding = await signed(
        frozen.url, frozen.credentials, "GET", "/api/ua/v1/account/balance?accountType=FUNDING"
    )
    assert [(c["currency"], c["balance"]) for c in funding["accounts"][0]["currencies"]] == [("USDT", "1000")]


async def test_orders_of_either_api_are_listed_with_uta_fields(frozen) -> None:
    classic_id = (
        await signed(
            frozen.url,
            frozen.credentials,
            "POST",
            "/api/v1/orders",
            {"side": "buy", "symbol": SYM, "price": "50000", "size": "0.001", "clientOid": "c-1"},
        )
    )["orderId"]
    uta = await signed(
        frozen.url, frozen.credentials, "POST", "/api/ua/v1/unified/order/place",
        {"tradeType": "SPOT", "symbol": SYM, "side": "SELL", "orderType": "LIMIT", "size": "0.002",
         "price": "90000", "clientOid": "u-1", "timeInForce": "GTC", "postOnly": True},
    )  # fmt: skip
    page = await signed(
        frozen.url,
        frozen.credentials,
        "GET",
        f"/api/ua/v1/unified/order/open-list?pageNumber=1&pageSize=1&symbol={SYM}&tradeType=SPOT",
    )
    assert (page["pageNumber"], page["pageSize"], page["totalNum"], page["totalPage"]) == (1, 1, 2, 2)
    both = await signed(
        frozen.url, frozen.credentials, "GET", f"/api/ua/v1/unified/order/open-list?symbol={SYM}"
    )
    items = {item["orderId"]: item for item in both["items"]}
    assert set(items) == {classic_id, uta["orderId"]}
    sell = items[uta["orderId"]]
    assert (sell["side"], sell["orderType"], sell["size"], sell["sizeUnit"], sell["price"]) == (
        "SELL",
        "LIMIT",
        "0.002",
        "BASECCY",
        "90000",
    )
    assert (sell["status"], sell["postOnly"], sell["clientOid"], sell["filledSize"], sell["avgPrice"]) == (
        2,
        True,
        "u-1",
        "0",
        "0",
    )
    assert sell["orderTime"] % 1_000_000 == 0 and sell["orderTime"] > 10**18  # ns
    detail = await signed(
        frozen.url,
        frozen.credentials,
        "GET",
        f"/api/ua/v1/unified/order/detail?orderId={classic_id}&symbol={SYM}&tradeType=SPOT",
    )
    by_client = await signed(
        frozen.url, frozen.credentials, "GET", f"/api/ua/v1/unified/order/detail?clientOid=c-1&symbol={SYM}"
    )
    assert detail == by_client == items[classic_id]
    cancelled = await signed(
        frozen.url, frozen.credentials, "POST", "/api/ua/v1/unified/order/cancel",
        {"orderId": classic_id, "symbol": SYM, "tradeType": "SPOT"},
    )  # fmt: skip
    assert cancelled == {"orderId": classic_id, "clientOid": "c-1", "tradeType": "SPOT"}
    history = await signed(
        frozen.url, frozen.credentials, "GET", f"/api/ua/v1/unified/order/history?symbol={SYM}&side=BUY"
    )
    assert [(i["orderId"], i["status"], i["cancelSize"]) for i in history["items"]] == [
        (classic_id, 5, "0.001")
    ]
    later = time.time_ns() // 1_000_000 + 60_000
    assert (
        await signed(
            frozen.url, frozen.credentials, "GET", f"/api/ua/v1/unified/order/history?startAt={later}"
        )
    )["items"] == []
    # the classic API sees the UTA order: one engine
    assert (await signed(frozen.url, frozen.credentials, "GET", f"/api/v1/orders/{uta['orderId']}"))[
        "isActive"
    ] is True


async def test_a_filled_order_has_its_average_price_and_fee(frozen) -> None:
    market = frozen.core.market(SYM)
    ask = market.spec.price_str(market.book.best_ask()[0])
    placed = await signed(
        frozen.url, frozen.credentials, "POST", "/api/ua/v1/unified/order/place",
        {"symbol": SYM, "side": "BUY", "orderType": "MARKET", "size": "0.0001"},
    )  # fmt: skip
    item = await signed(
        frozen.url,
        frozen.credentials,
        "GET",
        f"/api/ua/v1/unified/order/detail?orderId={placed['orderId']}&symbol={SYM}",
    )
    assert (item["status"], item["filledSize"], item["avgPrice"], item["price"]) == (3, "0.0001", ask, "")
    assert Decimal(item["fee"]) == (Decimal(ask) * Decimal("0.0001") * Decimal("0.001")).quantize(
        Decimal("1e-12")
    )


async def test_the_signed_order_book_v1_and_v2(frozen) -> None:
    for version, limit, levels in ((1, "FULL", None), (2, "20", 20), (1, "100", 100)):
        target = f"/api/ua/v{version}/market/orderbook?limit={limit}&symbol={SYM}&tradeType=SPOT"
        data = await signed(frozen.url, frozen.credentials, "GET", target)
        classic = frozen.snapshot(SYM, levels)
        assert (data["sequence"], data["bids"], data["asks"]) == (
            classic["sequence"],
            classic["bids"],
            classic["asks"],
        )
        assert (data["symbol"], data["tradeType"]) == (SYM, "SPOT")


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "code"),
    [
        ("GET", f"/api/ua/v1/market/orderbook?symbol={SYM}&tradeType=FUTURES", "", 400, "400100"),
        ("GET", f"/api/ua/v1/market/orderbook?symbol={SYM}&limit=7", "", 400, "400100"),
        ("GET", "/api/ua/v1/market/orderbook?symbol=NOPE-USDT", "", 400, "900001"),
        ("GET", "/api/ua/v1/bogus/account/balance", "", 404, "404000"),
        ("GET", f"/api/ua/v1/unified/order/detail?orderId=nope&symbol={SYM}", "", 400, "400100"),
        ("GET", "/api/ua/v1/unified/order/detail", "", 400, "400100"),
        (
            "POST",
            "/api/ua/v1/unified/order/place",
            '{"symbol": "BTC-USDT", "side": "BUY", "size": "1"}',
            400,
            "400100",
        ),
        (
            "POST",
            "/api/ua/v1/unified/order/place",
            '{"symbol": "BTC-USDT", "side": "BUY", "orderType": "LIMIT", "price": "1000000", "size": "100"}',
            200,
            "200004",
        ),
        ("POST", "/api/ua/v1/unified/order/cancel", '{"orderId": "nope"}', 400, "400100"),
    ],
)
async def test_bad_requests_get_kucoin_errors(frozen, method, target, body, status, code) -> None:
    assert await refused(frozen, method, target, body) == (status, code)


async def test_every_uta_endpoint_is_signed(frozen) -> None:
    for method, target in (
        ("POST", "/api/v2/bullet-private"),
        ("GET", f"/api/ua/v1/market/orderbook?symbol={SYM}"),
        ("GET", "/api/ua/v1/unified/account/balance"),
        ("GET", "/api/ua/v1/unified/order/open-list"),
        ("POST", "/api/ua/v1/unified/order/place"),
    ):
        assert await refused(frozen, method, target, sign=False) == (401, "400001")


async def test_kunbs_uta_rest_client_reads_every_answer(frozen) -> None:
    """The calls kunb's UTA client makes (uta-kunb.md#uta-rest), through kunb.net.uta_rest."""
    async with UtaRest(url=frozen.url, credentials=frozen.credentials) as rest:
        assert (await rest.abullet_private())["token"]
        book = await rest.aget_orderbook(SYM, "FULL", "SPOT", 2)
        assert int(book["sequence"]) == frozen.sequence(SYM)
        balance = await rest.aget_account_balance()
        assert {c["currency"] for c in balance["accounts"][0]["currencies"]} >= {"USDT", "BTC"}
        await signed(
            frozen.url,
            frozen.credentials,
            "POST",
            "/api/v1/orders",
            {"side": "buy", "symbol": SYM, "price": "50000", "size": "0.001"},
        )
        [item] = (await rest.aget_open_orders(SYM))["items"]
        assert (await rest.aget_order_detail(item["orderId"], SYM))["orderId"] == item["orderId"]
        assert (await rest.aget_order_history(SYM, start_at=0))["items"] == []
        assert (await rest.aget_open_orders())["totalNum"] == 1  # without a symbol: every symbol
