"""kunb.sim's private UTA socket over raw websockets: V2 ``op:auth``, V1 tokens, and private pushes for
orders placed through classic REST or UTA REST, from the same matching engine and accounts.

Frames and signatures are built by the test (``utasim``), not by kunb's client. The market is frozen
(rate 0) so every fill is the test's own.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from utasim import (
    auth_frame,
    before_pong,
    collect,
    open_private,
    open_uta,
    request,
    send,
    signed,
    subscribe,
)
from websockets.exceptions import ConnectionClosed

from kunb.sim import Exchange

SYM = "BTC-USDT"
PRIVATE = [
    subscribe("orderAll", tradeType="UNIFIED"),
    subscribe("execution", tradeType="UNIFIED"),
    {"id": "bal", "action": "subscribe", "channel": "balance", "accountType": "unified"},  # ccxt's case
]


@pytest.fixture
async def frozen():
    async with Exchange(
        seed=3, symbols=[SYM, "ETH-USDT"], rate=0, tick_ms=20, ping_interval_ms=5_000, ping_timeout_ms=5_000
    ) as ex:
        yield ex


async def subscribed_private(ex: Exchange, creds=None):
    ws = await open_private(ex.uta_private_url, creds or ex.credentials)
    for frame in PRIVATE:
        assert (await request(ws, frame))["result"] is True
    return ws


def pushes_of(frames: list[dict], t: str) -> list[dict]:
    return [f["d"] for f in frames if f.get("T") == t]


# ---------------------------------------------------------------------- authentication
async def test_v2_auth_lets_private_channels_in(frozen) -> None:
    ws, welcome = await open_uta(frozen.uta_private_url)
    assert welcome["message"] == "welcome"
    frame = subscribe("orderAll", tradeType="UNIFIED")
    refused = await request(ws, frame)
    assert refused["result"] is False and "auth" in refused["message"]
    auth = auth_frame(frozen.credentials)
    assert await request(ws, auth) == {"id": auth["id"], "result": True}
    assert await request(ws, {**frame, "id": "again"}) == {"id": "again", "result": True}
    await ws.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "wrong"}, "Invalid KC-API-SIGN"),
        ({"timestamp_ms": 1_000_000_000_000}, "Invalid KC-API-TIMESTAMP"),
        ({"key": "nobody"}, "KC-API-KEY not exists"),
        ({"passphrase": "wrong"}, "Invalid KC-API-PASSPHRASE"),
        ({"drop": "kc-api-sign"}, "kc-api-sign is missing"),
    ],
)
async def test_a_wrong_auth_frame_is_refused_with_its_reason(frozen, change, reason) -> None:
    creds = frozen.credentials
    frame = auth_frame(creds, timestamp_ms=change.get("timestamp_ms"), secret=change.get("secret"))
    if "key" in change:
        frame["kc-api-key"] = change["key"]
    if "passphrase" in change:
        frame["kc-api-passphrase"] = change["passphrase"]
    frame.pop(change.get("drop", ""), None)
    ws, _ = await open_uta(frozen.uta_private_url)
    answer = await request(ws, frame)
    assert answer == {"id": frame["id"], "result": False, "message": reason}
    assert creds.secret not in str(answer) and creds.passphrase not in str(answer)
    refused = await request(ws, subscribe("execution", tradeType="UNIFIED"))
    assert refused["result"] is False
    await ws.close()


async def test_a_version_1_key_signs_its_passphrase_in_clear(frozen) -> None:
    creds = frozen.create_account(key_version=1)
    frame = auth_frame(creds)
    frame["kc-api-passphrase"] = creds.passphrase
    ws, _ = await open_uta(frozen.uta_private_url)
    assert (await request(ws, frame))["result"] is True
    await ws.close()


async def test_auth_on_the_public_socket_is_invalid(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    frame = auth_frame(frozen.credentials)
    assert await request(ws, frame) == {"id": frame["id"], "result": False, "message": "invalid request data"}
    await ws.close()


async def test_v1_token_from_bullet_private_v2(frozen) -> None:
    data = await signed(frozen.url, frozen.credentials, "POST", "/api/v2/bullet-private")
    assert set(data) == {"token"}  # no instanceServers: the host is fixed (uta-protocol.md#endpoints)
    ws, welcome = await open_uta(frozen.uta_private_url, token=data["token"])
    assert welcome["message"] == "welcome"
    for frame in PRIVATE:  # no op:auth: the token names the user
        assert (await request(ws, frame))["result"] is True
    await ws.close()


@pytest.mark.parametrize("kind", ["unknown", "public", "expired"])
async def test_a_bad_v1_token_closes_the_socket(frozen, kind) -> None:
    if kind == "unknown":
        token = "not-a-token"
    elif kind == "public":
        token = (await signed(frozen.url, frozen.credentials, "POST", "/api/v1/bullet-public"))["token"]
    else:
        token = (await signed(frozen.url, frozen.credentials, "POST", "/api/v2/bullet-private"))["token"]
        frozen.faults.expire_tokens()
    with pytest.raises(ConnectionClosed) as info:
        await open_uta(frozen.uta_private_url, token=token)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_bullet_errors_reach_the_v1_token_endpoint(frozen) -> None:
    frozen.faults.bullet_errors(status=503, count=1)
    with pytest.raises(AssertionError, match="500000"):
        await signed(frozen.url, frozen.credentials, "POST", "/api/v2/bullet-private")
    assert await signed(frozen.url, frozen.credentials, "POST", "/api/v2/bullet-private")


# ---------------------------------------------------------------------- private pushes
async def test_orders_placed_through_classic_rest_are_pushed(frozen) -> None:
    ws = await subscribed_private(frozen)
    body = {"clientOid": "c1", "side": "buy", "symbol": SYM, "price": "50000", "size": "0.001"}
    order_id = (await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body))["orderId"]
    frames = await before_pong(ws)
    [opened] = pushes_of(frames, "orderAll.UNIFIED")
    assert (opened["oi"], opened["ci"], opened["eT"], opened["os"]) == (order_id, "c1", "OPEN", 2)
    assert (opened["s"], opened["S"], opened["oT"], opened["p"], opened["q"], opened["qU"]) == (
        SYM, "BUY", "LIMIT", "50000", "0.001", "BASECCY"
    )  # fmt: skip
    assert opened["O"] % 1_000_000 == 0 and opened["U"] >= opened["O"]  # ns
    [hold] = pushes_of(frames, "balance.UNIFIED")
    assert (hold["c"], hold["h"], hold["b"], hold["e"]) == ("USDT", "50.05", "10000", "10000")
    assert Decimal(hold["a"]) == Decimal("9949.95") and isinstance(hold["U"], int)
    await signed(frozen.url, frozen.credentials, "DELETE", f"/api/v1/orders/{order_id}")
    frames = await before_pong(ws)
    [cancel] = pushes_of(frames, "orderAll.UNIFIED")
    assert (cancel["eT"], cancel["os"], cancel["cS"], cancel["rS"]) == ("CANCEL", 5, "0.001", "0")
    assert pushes_of(frames, "balance.UNIFIED")[-1]["h"] == "0"
    await ws.close()


async def test_a_crossing_order_placed_through_uta_rest_is_one_fill_push_and_an_execution(frozen) -> None:
    ws = await subscribed_private(frozen)
    market = frozen.core.market(SYM)
    price = market.spec.price_str(market.book.best_ask()[0])
    body = {"tradeType": "SPOT", "symbol": SYM, "side": "BUY", "orderType": "LIMIT", "size": "0.0001",
            "sizeUnit": "BASECCY", "price": price, "clientOid": "u1"}  # fmt: skip
    placed = await signed(frozen.url, frozen.credentials, "POST", "/api/ua/v1/unified/order/place", body)
    assert set(placed) == {"orderId", "tradeType", "ts", "clientOid"} and placed["clientOid"] == "u1"
    frames = await before_pong(ws)
    [fill] = pushes_of(frames, "orderAll.UNIFIED")  # the completing fill and "filled" are one push
    assert (fill["oi"], fill["eT"], fill["os"], fill["lS"], fill["ls"]) == (
        placed["orderId"],
        "FILL",
        3,
        "0.0001",
        price,
    )
    assert (fill["fS"], fill["rS"], fill["aP"], fill["lR"]) == ("0.0001", "0", price, "TAKER")
    [execution] = pushes_of(frames, "execution.UNIFIED")
    fee = (Decimal(price) * Decimal("0.0001") * Decimal("0.001")).quantize(Decimal("1e-12"))
    assert (execution["oi"], execution["ti"], execution["p"], execution["q"]) == (
        placed["orderId"],
        fill["ti"],
        price,
        "0.0001",
    )
    assert (Decimal(execution["f"]), execution["fC"], execution["lR"], execution["fT"]) == (
        fee,
        "USDT",
        "TAKER",
        "NORMAL",
    )
    assert Decimal(fill["f"]) == fee
    assert {b["c"] for b in pushes_of(frames, "balance.UNIFIED")} == {"USDT", "BTC"}
    await ws.close()


async def test_a_partial_fill_then_rest_then_cancel(frozen) -> None:
    ws = await subscribed_private(frozen)
    market = frozen.core.market(SYM)
    ask, lots = market.book.best_ask()
    size = market.spec.size_str(lots + 10)  # more than the best ask offers: the rest rests
    body = {"side": "buy", "symbol": SYM, "price": market.spec.price_str(ask), "size": size}
    order_id = (await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body))["orderId"]
    orders = pushes_of(await before_pong(ws), "orderAll.UNIFIED")
    assert [(o["eT"], o["os"]) for o in orders] == [("MATCH", 4), ("OPEN", 4)]
    assert orders[0]["lS"] == market.spec.size_str(lots) and orders[1]["rS"] == market.spec.size_str(10)
    await signed(
        frozen.url,
        frozen.credentials,
        "POST",
        "/api/ua/v1/unified/order/cancel",
        {"orderId": order_id, "symbol": SYM},
    )
    [cancel] = pushes_of(await before_pong(ws), "orderAll.UNIFIED")
    assert (cancel["eT"], cancel["os"], cancel["cS"]) == ("CANCEL", 6, market.spec.size_str(10))
    await ws.close()


async def test_a_market_order_by_funds_through_uta_rest(frozen) -> None:
    ws = await subscribed_private(frozen)
    body = {
        "tradeType": "SPOT",
        "symbol": SYM,
        "side": "BUY",
        "orderType": "MARKET",
        "size": "20",
        "sizeUnit": "QUOTECCY",
    }
    order_id = (await signed(frozen.url, frozen.credentials, "POST", "/api/ua/v1/unified/order/place", body))[
        "orderId"
    ]
    orders = pushes_of(await before_pong(ws), "orderAll.UNIFIED")
    assert orders[-1]["oi"] == order_id and (orders[-1]["qU"], orders[-1]["q"], orders[-1]["p"]) == (
        "QUOTECCY",
        "20",
        "",
    )
    assert orders[-1]["os"] == 3 and Decimal(orders[-1]["fS"]) > 0
    await ws.close()


async def test_the_order_channel_of_one_symbol_and_execution_lite(frozen) -> None:
    ws = await open_private(frozen.uta_private_url, frozen.credentials)
    for frame in (
        subscribe("order", SYM, tradeType="UNIFIED"),
        subscribe("execution.lite", tradeType="UNIFIED"),
    ):
        assert (await request(ws, frame))["result"] is True
    body = {"side": "buy", "symbol": "ETH-USDT", "price": "1000", "size": "0.01"}
    await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body)  # another symbol: nothing
    assert [f for f in await before_pong(ws) if "T" in f] == []
    body = {"side": "buy", "symbol": SYM, "price": "50000", "size": "0.001"}
    await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body)
    [push] = [f for f in await before_pong(ws) if "T" in f]
    assert push["T"] == "order.UNIFIED" and push["d"]["s"] == SYM
    ask, _ = frozen.core.market(SYM).book.best_ask()
    body = {
        "side": "buy",
        "symbol": SYM,
        "price": frozen.core.market(SYM).spec.price_str(ask),
        "size": "0.0001",
    }
    await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body)
    lite = [f["d"] for f in await before_pong(ws) if f.get("T") == "execution.lite.UNIFIED"]
    assert len(lite) == 1 and isinstance(lite[0]["ti"], int) and "f" not in lite[0]
    await ws.close()


async def test_one_users_pushes_never_reach_another(frozen) -> None:
    other = frozen.create_account()
    mine = await subscribed_private(frozen)
    theirs = await subscribed_private(frozen, other)
    body = {"side": "buy", "symbol": SYM, "price": "50000", "size": "0.001"}
    await signed(frozen.url, other, "POST", "/api/v1/orders", body)
    assert [f for f in await before_pong(theirs) if "T" in f]
    assert [f for f in await before_pong(mine) if "T" in f] == []
    await mine.close()
    await theirs.close()


async def test_fills_by_the_market_reach_a_resting_order(frozen) -> None:
    """A maker filled by another user's taker gets MATCH/FILL pushes with lR MAKER."""
    ws = await subscribed_private(frozen)
    market = frozen.core.market(SYM)
    bid = market.book.best_bid()[0]
    price = market.spec.price_str(bid + 1)  # a new best bid, ours
    body = {"side": "buy", "symbol": SYM, "price": price, "size": "0.0002"}
    order_id = (await signed(frozen.url, frozen.credentials, "POST", "/api/v1/orders", body))["orderId"]
    await before_pong(ws)
    taker = frozen.create_account()
    await signed(
        frozen.url,
        taker,
        "POST",
        "/api/v1/orders",
        {"side": "sell", "symbol": SYM, "type": "market", "size": "0.0002"},
    )
    orders = pushes_of(await before_pong(ws), "orderAll.UNIFIED")
    assert [(o["oi"], o["eT"], o["os"], o["lR"]) for o in orders] == [(order_id, "FILL", 3, "MAKER")]
    assert market.book.best_bid()[0] == bid
    await ws.close()


async def test_unlisted_symbol_on_the_order_channel_is_acked(frozen) -> None:
    ws = await open_private(frozen.uta_private_url, frozen.credentials)
    assert (await request(ws, subscribe("order", "NOPE-USDT", tradeType="UNIFIED")))["result"] is True
    public = await request(ws, subscribe("ticker", SYM))
    assert public["result"] is False  # one socket per kind
    await ws.close()


async def test_at_most_100_messages_per_10_s_on_the_private_socket(frozen) -> None:
    ws = await open_private(frozen.uta_private_url, frozen.credentials)  # the auth frame is message 1
    for i in range(100):
        await send(ws, {"id": f"p{i}", "type": "ping"})
    answers = await collect(ws, lambda m: m.get("id") == "p99")
    assert sum(a.get("type") == "pong" for a in answers) == 99
    assert answers[-1]["result"] is False and "100" in answers[-1]["message"]
    await ws.close()
