"""Private channels of a running kunb.sim over raw websockets: tokens, event order, isolation, public side."""

from __future__ import annotations

import json
import time

import httpx
from simclient import TIMEOUT, open_ws, recv, request, wait_for
from websockets.asyncio.client import ClientConnection, connect

from kunb.signing import Credentials, auth_headers

ORDERS, ORDERS_V2, BALANCE = "/spotMarket/tradeOrders", "/spotMarket/tradeOrdersV2", "/account/balance"


async def signed(url: str, creds: Credentials, method: str, target: str, body: dict | None = None) -> dict:
    text = "" if body is None else json.dumps(body)
    headers = auth_headers(creds, method, target, text, timestamp_ms=time.time_ns() // 1_000_000)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
        response = await http.request(method, target, content=text.encode(), headers=headers)
    payload = response.json()
    assert payload["code"] == "200000", payload
    return payload["data"]


async def open_private(url: str, creds: Credentials, topics: list[str]) -> ClientConnection:
    data = await signed(url, creds, "POST", "/api/v1/bullet-private")
    ws = await connect(
        f"{data['instanceServers'][0]['endpoint']}?token={data['token']}&connectId=p1", open_timeout=TIMEOUT
    )
    assert (await recv(ws))["type"] == "welcome"
    for i, topic in enumerate(topics):
        msg = {"id": f"s{i}", "type": "subscribe", "topic": topic, "privateChannel": True, "response": True}
        assert await request(ws, msg) == {"id": f"s{i}", "type": "ack"}
    return ws


async def collect_until(ws: ClientConnection, pred) -> list[dict]:
    """Every push received up to and including the first one matching ``pred`` (bounded wait)."""
    got: list[dict] = []
    await wait_for(ws, lambda m: got.append(m) is None and pred(m))
    return got


def _is(topic: str, kind: str | None = None, order_id: str | None = None):
    def pred(msg: dict) -> bool:
        if msg.get("type") != "message" or msg.get("topic") != topic:
            return False
        data = msg["data"]
        return (kind is None or data.get("type", data.get("relationEvent")) == kind) and (
            order_id is None
            or data.get("orderId", data.get("relationContext", {}).get("orderId")) == order_id
        )

    return pred


async def test_public_token_cannot_subscribe_to_private_topics(exchange) -> None:
    """A public token's subscribe to each private topic gets an error frame with its id."""
    ws = await open_ws(exchange.url)
    try:
        for topic in (ORDERS, ORDERS_V2, BALANCE):
            msg = {"id": "x1", "type": "subscribe", "topic": topic, "privateChannel": True, "response": True}
            answer = await request(ws, msg)
            assert (answer["type"], answer["id"], answer["code"]) == ("error", "x1", 401)
    finally:
        await ws.close()


async def test_order_events_in_kucoins_order_and_only_to_their_owner(exchange) -> None:
    """Place then cancel: V2 received->open->canceled, V1 open->canceled, balance trade.hold twice;
    a second user's connection never sees them."""
    me = exchange.credentials
    other = exchange.create_account()
    mine = await open_private(exchange.url, me, [ORDERS, ORDERS_V2, BALANCE])
    theirs = await open_private(exchange.url, other, [ORDERS, ORDERS_V2, BALANCE])
    try:
        body = {"clientOid": "ws-1", "side": "buy", "symbol": "BTC-USDT", "price": "50000", "size": "0.0001"}
        order_id = (await signed(exchange.url, me, "POST", "/api/v1/orders", body))["orderId"]
        user_id = exchange.demo.user_id
        got = await collect_until(mine, _is(ORDERS_V2, "open", order_id))
        await signed(exchange.url, me, "DELETE", f"/api/v1/orders/{order_id}")
        # The release of the hold is the last push of a cancel.
        got += await collect_until(
            mine, lambda m: _is(BALANCE)(m) and m["data"]["holdChange"].startswith("-")
        )
        # What the owner got, in order, per topic (one session's pushes arrive in publish order).
        seen: dict[str, list[str]] = {ORDERS: [], ORDERS_V2: [], BALANCE: []}
        for msg in got:
            assert (msg["userId"], msg["channelType"], msg["type"]) == (user_id, "private", "message")
            seen[msg["topic"]].append(msg["data"].get("type") or msg["data"]["relationEvent"])
        assert seen == {
            ORDERS: ["open", "canceled"],
            ORDERS_V2: ["received", "open", "canceled"],
            BALANCE: ["trade.hold", "trade.hold"],
        }
        canceled = next(m["data"] for m in got if _is(ORDERS, "canceled")(m))
        assert (canceled["status"], canceled["canceledSize"], canceled["price"]) == (
            "done",
            "0.0001",
            "50000",
        )
        # The other user's first private push is about their own order, not mine.
        body = {"clientOid": "ws-2", "side": "sell", "symbol": "BTC-USDT", "price": "90000", "size": "0.0001"}
        their_id = (await signed(exchange.url, other, "POST", "/api/v1/orders", body))["orderId"]
        first = await recv(theirs)
        assert first["userId"] != user_id
        assert (
            first["data"].get("orderId", first["data"].get("relationContext", {}).get("orderId")) == their_id
        )
    finally:
        await mine.close()
        await theirs.close()


async def test_a_user_fill_is_a_public_trade_and_private_match_and_settlement(exchange) -> None:
    """A marketable order: /market/match names it as taker; the owner gets match, filled and trade.setted."""
    me = exchange.credentials
    mine = await open_private(exchange.url, me, [ORDERS, BALANCE])
    public = await open_ws(exchange.url, connect_id="pub")
    try:
        sub = {"id": "m", "type": "subscribe", "topic": "/market/match:BTC-USDT", "response": True}
        assert (await request(public, sub))["type"] == "ack"
        body = {"clientOid": "mk", "side": "buy", "symbol": "BTC-USDT", "type": "market", "funds": "50"}
        order_id = (await signed(exchange.url, me, "POST", "/api/v1/orders", body))["orderId"]
        trade = await wait_for(public, lambda m: m.get("data", {}).get("takerOrderId") == order_id)
        match = await wait_for(mine, _is(ORDERS, "match", order_id))
        assert match["data"]["tradeId"] == trade["data"]["tradeId"]
        assert match["data"]["liquidity"] == "taker" and match["data"]["matchPrice"] == trade["data"]["price"]
        settled = await wait_for(mine, _is(BALANCE, "trade.setted", order_id))
        assert settled["data"]["relationContext"]["tradeId"] == trade["data"]["tradeId"]
        await wait_for(mine, _is(ORDERS, "filled", order_id))
    finally:
        await mine.close()
        await public.close()


async def test_a_resting_user_order_shows_in_level2_pushes(exchange) -> None:
    """A limit order at a fresh price far from the touch appears as a level2 row of exactly its size."""
    me = exchange.credentials
    public = await open_ws(exchange.url, connect_id="l2")
    try:
        sub = {"id": "l", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True}
        assert (await request(public, sub))["type"] == "ack"
        body = {"clientOid": "l2", "side": "buy", "symbol": "BTC-USDT", "price": "40000.3", "size": "0.00042"}
        order_id = (await signed(exchange.url, me, "POST", "/api/v1/orders", body))["orderId"]

        def has_row(msg: dict) -> bool:
            rows = msg.get("data", {}).get("changes", {}).get("bids", [])
            return any(row[0] == "40000.3" and row[1] == "0.00042" for row in rows)

        await wait_for(public, has_row)
        await signed(exchange.url, me, "DELETE", f"/api/v1/orders/{order_id}")
        removed = await wait_for(
            public,
            lambda m: any(
                r[:2] == ["40000.3", "0"] for r in m.get("data", {}).get("changes", {}).get("bids", [])
            ),
        )
        assert removed["topic"] == "/market/level2:BTC-USDT"
    finally:
        await public.close()
