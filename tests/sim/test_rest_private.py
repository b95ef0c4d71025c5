"""Signed REST of kunb.sim in-process (ASGITransport): auth failures, accounts, orders, fills, isolation."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from kunb.signing import Credentials, auth_headers, sign_passphrase
from kunb.sim import Exchange
from kunb.sim.core.orderbook import Side
from kunb.sim.rest.signed import MAX_BODY_BYTES

NOW_NS = 1_732_942_471_752_000_000


class Clock:
    def __init__(self) -> None:
        self.ns = NOW_NS

    def __call__(self) -> int:
        return self.ns


class Client:
    """Signs like the official SDKs (exact bytes), against the app in-process."""

    def __init__(self, http: httpx.AsyncClient, creds: Credentials, clock: Clock) -> None:
        self.http, self.creds, self.clock = http, creds, clock

    async def call(self, method: str, target: str, body: dict | None = None, **override) -> httpx.Response:
        text = "" if body is None else json.dumps(body)
        ts = override.pop("ts", self.clock.ns // 1_000_000)
        headers = auth_headers(self.creds, method, target, text, timestamp_ms=ts)
        headers.update(override.pop("headers", {}))
        if text:
            headers["Content-Type"] = "application/json"
        return await self.http.request(method, target, content=text.encode(), headers=headers)

    async def data(self, method: str, target: str, body: dict | None = None):
        response = await self.call(method, target, body)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["code"] == "200000", payload
        return payload["data"]


@pytest.fixture
async def sim():
    clock = Clock()
    ex = Exchange(seed=3, symbols=["BTC-USDT", "ETH-USDT"], rate=0, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ex.app), base_url="http://sim") as http:
        other = ex.create_account(balances={"USDT": "500", "BTC": "0.01"})
        yield ex, Client(http, ex.credentials, clock), Client(http, other, clock), http


async def _error(response: httpx.Response) -> tuple[int, str]:
    payload = response.json()
    assert set(payload) == {"code", "msg"} and isinstance(payload["code"], str)
    return response.status_code, payload["code"]


async def test_every_signing_failure_has_kucoins_code_and_401(sim) -> None:
    """Missing header, unknown key, bad signature, bad passphrase, stale and future timestamps."""
    ex, me, _, http = sim
    target = "/api/v1/accounts"
    assert await _error(await http.get(target)) == (401, "400001")
    assert await _error(await me.call("GET", target, headers={"KC-API-SIGN": ""})) == (401, "400001")
    stranger = Client(http, Credentials("5c2db93503aa674c74a31734", "s", "p"), me.clock)
    assert await _error(await stranger.call("GET", target)) == (401, "400003")
    assert await _error(await me.call("GET", target, headers={"KC-API-SIGN": "AAAA"})) == (401, "400005")
    wrong = sign_passphrase(Credentials(me.creds.key, me.creds.secret, "nope"))
    assert await _error(await me.call("GET", target, headers={"KC-API-PASSPHRASE": wrong})) == (401, "400004")
    now_ms = me.clock.ns // 1_000_000
    assert await _error(await me.call("GET", target, ts=now_ms - 60_000)) == (401, "400002")
    assert await _error(await me.call("GET", target, ts=now_ms + 60_000)) == (401, "400002")
    # The body is part of the signature: sign one body, send another.
    body = json.dumps({"clientOid": "x", "side": "buy", "symbol": "BTC-USDT", "price": "1", "size": "1"})
    headers = auth_headers(me.creds, "POST", "/api/v1/orders", body, timestamp_ms=now_ms)
    tampered = await http.post("/api/v1/orders", content=body.replace('"1"', '"2"'), headers=headers)
    assert await _error(tampered) == (401, "400005")
    assert ex.trading.orders(ex.demo.user_id) == []


async def test_public_endpoints_ignore_auth_headers(sim) -> None:
    """Garbage KC-API-* headers on a public endpoint change nothing (the SDKs sign public calls)."""
    _, _, _, http = sim
    bogus = {"KC-API-KEY": "nope", "KC-API-SIGN": "bad", "KC-API-TIMESTAMP": "1", "KC-API-PASSPHRASE": "x"}
    response = await http.get("/api/v1/market/orderbook/level1?symbol=BTC-USDT", headers=bogus)
    assert response.status_code == 200 and response.json()["code"] == "200000"


async def test_accounts_add_up_and_are_filtered(sim) -> None:
    """balance = available + holds for every account; currency/type filters; ids resolve to own accounts."""
    _, me, other, _ = sim
    await me.data(
        "POST",
        "/api/v1/orders",
        {"clientOid": "h", "side": "buy", "symbol": "BTC-USDT", "price": "50000", "size": "0.01"},
    )
    accounts = await me.data("GET", "/api/v1/accounts")
    assert {a["type"] for a in accounts} == {"main", "trade"}
    for account in accounts:
        assert Decimal(account["balance"]) == Decimal(account["available"]) + Decimal(account["holds"])
    usdt = await me.data("GET", "/api/v1/accounts?currency=USDT&type=trade")
    assert len(usdt) == 1 and usdt[0]["holds"] == "500.5" and usdt[0]["balance"] == "10000"
    assert (await me.call("GET", "/api/v1/accounts?type=margin")).json() == {"code": "200000", "data": []}
    detail = await me.data("GET", f"/api/v1/accounts/{usdt[0]['id']}")
    assert detail == {k: usdt[0][k] for k in ("currency", "balance", "available", "holds")}
    # Another user's account id does not exist for me.
    theirs = (await other.data("GET", "/api/v1/accounts?currency=USDT&type=trade"))[0]["id"]
    assert await _error(await me.call("GET", f"/api/v1/accounts/{theirs}")) == (400, "400100")


async def test_order_lifecycle_classic_endpoints(sim) -> None:
    """Place (rests), get, list active, cancel, list done; a crossing order fills and shows in fills."""
    ex, me, _, _ = sim
    body = {
        "clientOid": "c-1",
        "side": "buy",
        "symbol": "BTC-USDT",
        "type": "limit",
        "price": "50000",
        "size": "0.001",
    }
    order_id = (await me.data("POST", "/api/v1/orders", body))["orderId"]
    order = await me.data("GET", f"/api/v1/orders/{order_id}")
    assert (order["id"], order["isActive"], order["price"], order["size"], order["clientOid"]) == (
        order_id,
        True,
        "50000",
        "0.001",
        "c-1",
    )
    active = await me.data("GET", "/api/v1/orders?status=active")
    assert [o["id"] for o in active["items"]] == [order_id] and active["totalNum"] == 1
    assert (await me.data("DELETE", f"/api/v1/orders/{order_id}")) == {"cancelledOrderIds": [order_id]}
    done = await me.data("GET", "/api/v1/orders?status=done&symbol=BTC-USDT")
    assert done["items"][0]["id"] == order_id and done["items"][0]["cancelExist"] is True
    ask = ex.core.market("BTC-USDT").book.best_ask()
    price = ex.core.market("BTC-USDT").spec.price_str(ask[0])
    taker = {"clientOid": "c-2", "side": "buy", "symbol": "BTC-USDT", "price": price, "size": "0.00001"}
    taker_id = (await me.data("POST", "/api/v1/orders", taker))["orderId"]
    fills = await me.data("GET", f"/api/v1/fills?orderId={taker_id}")
    [fill] = fills["items"]
    assert (fill["orderId"], fill["price"], fill["size"], fill["liquidity"]) == (
        taker_id,
        price,
        "0.00001",
        "taker",
    )
    assert Decimal(fill["fee"]) == Decimal(price) * Decimal("0.00001") * Decimal("0.001")
    assert (await me.data("GET", f"/api/v1/orders/{taker_id}"))["dealSize"] == "0.00001"
    assert [f["tradeId"] for f in await me.data("GET", "/api/v1/limit/fills")] == [fill["tradeId"]]


async def test_hf_endpoints_with_the_universal_sdk_body(sim) -> None:
    """The universal SDK's add_order body (cancelAfter -1, false flags) works on /api/v1/hf/orders."""
    _, me, _, _ = sim
    body = {
        "clientOid": "u-1",
        "side": "buy",
        "symbol": "BTC-USDT",
        "type": "limit",
        "price": "43215.6",
        "size": "0.00001",
        "timeInForce": "GTC",
        "postOnly": False,
        "hidden": False,
        "iceberg": False,
        "cancelAfter": -1,
    }
    placed = await me.data("POST", "/api/v1/hf/orders", body)
    assert placed["clientOid"] == "u-1"
    order = await me.data("GET", f"/api/v1/hf/orders/{placed['orderId']}?symbol=BTC-USDT")
    assert (order["active"], order["inOrderBook"], order["remainSize"]) == (True, True, "0.00001")
    assert [o["id"] for o in await me.data("GET", "/api/v1/hf/orders/active?symbol=BTC-USDT")] == [
        placed["orderId"]
    ]
    by_oid = await me.data("GET", "/api/v1/hf/orders/client-order/u-1?symbol=BTC-USDT")
    assert by_oid["id"] == placed["orderId"]
    cancelled = await me.data("DELETE", f"/api/v1/hf/orders/{placed['orderId']}?symbol=BTC-USDT")
    assert cancelled == {"orderId": placed["orderId"]}
    again = {**body, "clientOid": "u-2"}
    await me.data("POST", "/api/v1/hf/orders", again)
    assert await me.data("DELETE", "/api/v1/hf/orders?symbol=BTC-USDT") == "success"
    response = await me.call("GET", "/api/v1/hf/orders/active?symbol=BTC-USDT")
    assert response.json() == {"code": "200000", "data": []}


async def test_order_errors(sim) -> None:
    """Insufficient balance (200004 classic, 230003 HF), bad JSON, unknown symbol, huge body."""
    _, _, other, http = sim
    big = {"clientOid": "b", "side": "buy", "symbol": "BTC-USDT", "price": "60000", "size": "1"}
    assert await _error(await other.call("POST", "/api/v1/orders", big)) == (200, "200004")
    assert await _error(await other.call("POST", "/api/v1/hf/orders", big)) == (200, "230003")
    assert await _error(await other.call("POST", "/api/v1/orders", {**big, "symbol": "NOPE-USDT"})) == (
        400,
        "900001",
    )
    assert await _error(await other.call("POST", "/api/v1/orders", {**big, "price": "60000.01"})) == (
        400,
        "400100",
    )
    ts = other.clock.ns // 1_000_000
    for raw in (b"{not json", b"[1, 2]"):
        headers = auth_headers(other.creds, "POST", "/api/v1/orders", raw, timestamp_ms=ts)
        assert await _error(await http.post("/api/v1/orders", content=raw, headers=headers)) == (
            400,
            "400100",
        )
    huge = b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'
    headers = auth_headers(other.creds, "POST", "/api/v1/orders", huge, timestamp_ms=ts)
    assert await _error(await http.post("/api/v1/orders", content=huge, headers=headers)) == (413, "413000")
    assert await _error(await other.call("DELETE", "/api/v1/orders/000000000000000000000000")) == (
        400,
        "400100",
    )


async def test_no_endpoint_shows_or_touches_another_users_orders(sim) -> None:
    """Another user cannot get, list, cancel or see fills of my order."""
    _, me, other, _ = sim
    body = {"clientOid": "mine", "side": "sell", "symbol": "BTC-USDT", "price": "90000", "size": "0.001"}
    order_id = (await me.data("POST", "/api/v1/orders", body))["orderId"]
    assert await _error(await other.call("GET", f"/api/v1/orders/{order_id}")) == (400, "400100")
    assert await _error(await other.call("DELETE", f"/api/v1/orders/{order_id}")) == (400, "400100")
    assert await _error(await other.call("DELETE", "/api/v1/order/client-order/mine")) == (400, "400100")
    assert (await other.data("GET", "/api/v1/orders?status=active"))["items"] == []
    assert (await other.data("DELETE", "/api/v1/orders")) == {"cancelledOrderIds": []}
    assert (await me.data("GET", f"/api/v1/orders/{order_id}"))["isActive"] is True


async def test_bullet_private_token_is_bound_to_the_user_and_ccxt_probes(sim) -> None:
    """bullet-private returns a private token for the signer; ccxt's start-up probes get classic answers."""
    ex, me, _, http = sim
    data = await me.data("POST", "/api/v1/bullet-private")
    token = ex.tokens.check(data["token"], ex.now_ns())
    assert token is not None and token.private and token.user_id == ex.demo.user_id
    assert data["instanceServers"][0]["encrypt"] is None
    assert await me.data("GET", "/api/v1/hf/accounts/opened") is False
    assert await me.data("GET", "/api/ua/v1/account/mode") == {"selfAccountMode": "CLASSIC"}
    assert (await http.get("/api/v3/margin/symbols")).json()["data"]["items"] == []
    assert (await http.get("/api/v1/isolated/symbols")).json() == {"code": "200000", "data": []}
    fees = await me.data("GET", "/api/v1/trade-fees?symbols=BTC-USDT,ETH-USDT")
    assert [f["symbol"] for f in fees] == ["BTC-USDT", "ETH-USDT"] and fees[0]["takerFeeRate"] == "0.001"


async def test_full_level2_is_signed_and_matches_the_book(sim) -> None:
    """GET /api/v3/market/orderbook/level2 needs a signature and returns every level with its sequence."""
    ex, me, _, http = sim
    assert (await http.get("/api/v3/market/orderbook/level2?symbol=BTC-USDT")).status_code == 401
    book = await me.data("GET", "/api/v3/market/orderbook/level2?symbol=BTC-USDT")
    market = ex.core.market("BTC-USDT")
    assert book["sequence"] == str(market.book.sequence)
    assert len(book["bids"]) == market.book.level_count(Side.BUY) > 20
    assert len(book["asks"]) == market.book.level_count(Side.SELL) > 20
    assert book["bids"][0][0] == market.spec.price_str(market.book.best_bid()[0])
    assert await _error(await me.call("GET", "/api/v3/market/orderbook/level2?symbol=NOPE-X")) == (
        400,
        "900001",
    )


async def test_order_list_pagination_and_filters(sim) -> None:
    """pageSize (clamped to 10..500), currentPage, side/type filters, and bad parameters are 400100."""
    _, me, _, _ = sim
    for i in range(12):
        side = "buy" if i % 3 else "sell"
        price = "50000" if side == "buy" else "90000"
        body = {"clientOid": f"p{i}", "side": side, "symbol": "BTC-USDT", "price": price, "size": "0.0001"}
        await me.data("POST", "/api/v1/orders", body)
    first = await me.data("GET", "/api/v1/orders?status=active&pageSize=1")
    assert (first["pageSize"], first["totalNum"], first["totalPage"], len(first["items"])) == (10, 12, 2, 10)
    second = await me.data("GET", "/api/v1/orders?status=active&pageSize=10&currentPage=2")
    assert len(second["items"]) == 2 and second["currentPage"] == 2
    assert not {o["id"] for o in first["items"]} & {o["id"] for o in second["items"]}
    sells = await me.data("GET", "/api/v1/orders?status=active&side=sell&type=limit")
    assert sells["totalNum"] == 4 and {o["side"] for o in sells["items"]} == {"sell"}
    for bad in ("/api/v1/orders?status=open", "/api/v1/orders?currentPage=x", "/api/v1/fills?pageSize=ten"):
        assert await _error(await me.call("GET", bad)) == (400, "400100")
