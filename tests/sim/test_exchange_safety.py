"""The embedded exchange's own safety: loopback binding, admin routes off by default (and loopback only
when on), and no endpoint - REST or private WebSocket - that shows one account another's data.

(Body and frame size limits and the 509 uplink limit are in tests/security/test_fuzz_rest.py and
tests/security/test_fuzz_sim_ws.py.)
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any

import httpx
import orjson
import psutil
import pytest

from kunb.client import Market, Trade, User
from kunb.signing import Credentials, auth_headers
from kunb.ws_client import KucoinWsClient

TIMEOUT = 10.0


async def test_both_servers_listen_on_loopback_only_by_default() -> None:
    from kunb.sim import Exchange

    async with Exchange(seed=1, symbols=["BTC-USDT"]) as ex:
        ports = {int(ex.url.rsplit(":", 1)[1]), int(ex.ws_url.rstrip("/").rsplit(":", 1)[1])}
        listening = [
            c
            for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
        ]
        assert {c.laddr.port for c in listening} == ports
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


def test_the_cli_binds_loopback_unless_told() -> None:
    import argparse

    from kunb.sim import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"


async def test_admin_fault_routes_are_absent_unless_enabled(exchange) -> None:
    async with httpx.AsyncClient(base_url=exchange.url, timeout=TIMEOUT) as http:
        for name in ("disconnect", "expire_tokens", "clear"):
            r = await http.post(f"/admin/faults/{name}", json={})
            assert r.status_code == 404


async def test_admin_routes_when_enabled_answer_loopback_clients_only() -> None:
    from kunb.sim import Exchange

    async with Exchange(seed=1, symbols=["BTC-USDT"], admin=True) as ex:
        async with httpx.AsyncClient(base_url=ex.url, timeout=TIMEOUT) as http:
            r = await http.post("/admin/faults/clear", json={})
            assert r.status_code == 200 and r.json()["code"] == "200000"
            r = await http.post("/admin/faults/no_such_fault", json={})
            assert r.status_code == 400
        remote = httpx.ASGITransport(app=ex.app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=remote, base_url="http://sim") as http:
            r = await http.post("/admin/faults/disconnect", json={})
            assert r.status_code == 403


# -- isolation between accounts --------------------------------------------------------------------


def new_credentials() -> Credentials:
    return Credentials(f"k{secrets.token_hex(10)}", f"s{secrets.token_hex(16)}", f"p{secrets.token_hex(6)}")


async def signed_get(http: httpx.AsyncClient, creds: Credentials, target: str) -> httpx.Response:
    headers = auth_headers(creds, "GET", target, timestamp_ms=time.time_ns() // 1_000_000)
    return await http.get(target, headers=headers)


async def activity(ex: Any, creds: Credentials) -> dict[str, Any]:
    """Give an account resting orders, a fill and a cancel; return its identifiers."""
    trade = Trade(credentials=creds, url=ex.url)
    market = Market(url=ex.url)
    try:
        bid = float((await market.aget_ticker("BTC-USDT"))["bestBid"])
        resting = [
            await trade.acreate_limit_order("BTC-USDT", "buy", "0.01", f"{bid * 0.8:.1f}") for _ in range(2)
        ]
        hf = await trade.acreate_limit_hf_order("BTC-USDT", "buy", "0.01", f"{bid * 0.81:.1f}")
        filled = await trade.acreate_market_order("BTC-USDT", "buy", size="0.001")
        await trade.acancel_order(resting[1]["orderId"])
        fills = await trade.aget_fill_list()
        accounts = await User(credentials=creds, url=ex.url).aget_account_list()
    finally:
        await trade.aclose()
        await market.aclose()
    orders = [o["orderId"] for o in (*resting, hf, filled)]
    return {
        "orders": orders,
        "open": resting[0]["orderId"],
        "client_oids": [],  # filled in below
        "accounts": [a["id"] for a in accounts],
        "trades": [f["tradeId"] for f in fills["items"]],
    }


@pytest.fixture
async def two_accounts(exchange):
    a, b = new_credentials(), new_credentials()
    for creds in (a, b):
        exchange.create_account(credentials=creds, balances={"USDT": "100000", "BTC": "3"})
    ids_a = await activity(exchange, a)
    ids_b = await activity(exchange, b)
    async with httpx.AsyncClient(base_url=exchange.url, timeout=TIMEOUT) as http:
        for ids, creds in ((ids_a, a), (ids_b, b)):
            for oid in ids["orders"]:
                detail = (await signed_get(http, creds, f"/api/v1/orders/{oid}")).json()["data"]
                ids["client_oids"].append(detail["clientOid"])
    for ids, creds in ((ids_a, a), (ids_b, b)):
        ids["user"] = exchange.user_id(creds)
    return a, ids_a, b, ids_b


def private_gets(ids: dict[str, Any]) -> list[str]:
    """Every signed GET the exchange serves, path parameters taken from ``ids``."""
    oid, coid, acc = ids["orders"][0], ids["client_oids"][0], ids["accounts"][0]
    return [
        "/api/v1/accounts",
        f"/api/v1/accounts/{acc}",
        "/api/v1/accounts?currency=BTC",
        "/api/v1/orders",
        "/api/v1/orders?status=active",
        "/api/v1/orders?status=done",
        "/api/v1/orders?status=active&symbol=BTC-USDT",
        f"/api/v1/orders/{oid}",
        f"/api/v1/order/client-order/{coid}",
        "/api/v1/hf/orders/active?symbol=BTC-USDT",
        "/api/v1/hf/orders/done?symbol=BTC-USDT",
        f"/api/v1/hf/orders/{oid}?symbol=BTC-USDT",
        f"/api/v1/hf/orders/client-order/{coid}?symbol=BTC-USDT",
        "/api/v1/fills",
        "/api/v1/fills?symbol=BTC-USDT",
        "/api/v1/limit/fills",
        "/api/v1/hf/fills?symbol=BTC-USDT",
        "/api/v1/limit/orders",
        "/api/v1/trade-fees?symbols=BTC-USDT",
        "/api/v1/base-fee",
        "/api/v1/hf/accounts/opened",
        "/api/ua/v1/account/mode",
        "/api/v3/market/orderbook/level2?symbol=BTC-USDT",
    ]


def identifiers(ids: dict[str, Any]) -> set[str]:
    return {*ids["orders"], *ids["client_oids"], *ids["accounts"], *ids["trades"], ids["user"]}


async def test_no_rest_endpoint_shows_another_accounts_data(two_accounts, exchange) -> None:
    a, ids_a, b, ids_b = two_accounts
    foreign = identifiers(ids_b)
    own = identifiers(ids_a)
    assert foreign and not foreign & own
    async with httpx.AsyncClient(base_url=exchange.url, timeout=TIMEOUT) as http:
        own_hits = 0
        # A's key on every route: with A's own ids, then with B's ids in the path
        for target in [*private_gets(ids_a), *private_gets(ids_b)]:
            r = await signed_get(http, a, target)
            assert r.status_code < 500, (target, r.text[:200])
            leaked = [x for x in foreign if x in r.text]
            assert leaked == [], f"{target} showed account B's {leaked}"
            own_hits += any(x in r.text for x in own)
        assert own_hits >= 10  # the routes did return A's own data (the check is not vacuous)
        # and B's key sees its own order: the ids are real
        r = await signed_get(http, b, f"/api/v1/orders/{ids_b['open']}")
        assert r.json()["data"]["isActive"] is True


async def test_one_account_cannot_cancel_another_accounts_orders(two_accounts, exchange) -> None:
    a, _, b, ids_b = two_accounts
    victim = ids_b["open"]
    coid = ids_b["client_oids"][0]
    async with httpx.AsyncClient(base_url=exchange.url, timeout=TIMEOUT) as http:
        for target in (
            f"/api/v1/orders/{victim}",
            f"/api/v1/hf/orders/{victim}?symbol=BTC-USDT",
            f"/api/v1/order/client-order/{coid}",
            "/api/v1/orders?symbol=BTC-USDT",  # cancel all: only A's own
            "/api/v1/hf/orders?symbol=BTC-USDT",
        ):
            headers = auth_headers(a, "DELETE", target, timestamp_ms=time.time_ns() // 1_000_000)
            r = await http.delete(target, headers=headers)
            assert victim not in r.text and r.status_code < 500
        r = await signed_get(http, b, f"/api/v1/orders/{victim}")
        assert r.json()["data"]["isActive"] is True


async def test_private_pushes_reach_only_their_owner(exchange) -> None:
    a, b = new_credentials(), new_credentials()
    for creds in (a, b):
        exchange.create_account(credentials=creds, balances={"USDT": "100000", "BTC": "3"})
    got: dict[str, list[dict]] = {"a": [], "b": []}
    topics = ["/account/balance", "/spotMarket/tradeOrders", "/spotMarket/tradeOrdersV2"]
    user_a, user_b = User(credentials=a, url=exchange.url), User(credentials=b, url=exchange.url)
    ws_a = await KucoinWsClient.create(None, user_a, got["a"].append, private=True)
    ws_b = await KucoinWsClient.create(None, user_b, got["b"].append, private=True)
    try:
        await asyncio.gather(ws_a.subscribe(topics), ws_b.subscribe(topics))
        ids_b = await activity(exchange, b)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not {m["data"].get("orderId") for m in got["b"]} >= set(ids_b["orders"]):
            assert loop.time() < deadline, "B's own pushes did not arrive"
            await asyncio.sleep(0.01)
        text_a = orjson.dumps(got["a"]).decode()
        assert [x for x in ids_b["orders"] if x in text_a] == []
        user_b_id = exchange.user_id(b)
        assert user_b_id not in text_a
        assert re.search(r"orderId", orjson.dumps(got["b"]).decode())
    finally:
        await asyncio.gather(ws_a.close(), ws_b.close())
        await asyncio.gather(user_a.aclose(), user_b.aclose())
