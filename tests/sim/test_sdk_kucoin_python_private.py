"""The official kucoin-python SDK, unmodified, trades on kunb.sim with the demo key and gets private pushes.

The SDK's REST client is synchronous (requests) and its WS client fetches its token with a blocking call on
the event loop, so the exchange runs on its own thread (``SimHandle``) and REST calls go through
``asyncio.to_thread``. The SDK has no close(): its tasks are found by diffing ``asyncio.all_tasks()`` and
stopped at the end (it swallows a CancelledError while reading, so the socket is closed too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal

import pytest
from kucoin.client import Market, Trade, User, WsToken
from kucoin.ws_client import KucoinWsClient

from kunb.sim.runner import SimHandle

ORDERS, BALANCE = "/spotMarket/tradeOrders", "/account/balance"
DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def sim():
    handle = SimHandle(seed=4, symbols=["BTC-USDT"], tick_ms=20)
    try:
        yield handle
    finally:
        handle.stop()


class Inbox:
    """Everything the SDK hands its callback, with a bounded wait for a condition on it."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._changed = asyncio.Condition()

    async def callback(self, msg: dict) -> None:
        async with self._changed:
            self.messages.append(msg)
            self._changed.notify_all()

    async def wait(self, pred: Callable[[list[dict]], bool]) -> None:
        async with asyncio.timeout(DEADLINE_S), self._changed:
            await self._changed.wait_for(lambda: pred(self.messages))

    def events(self, topic: str, order_id: str) -> list[str]:
        return [
            m["data"].get("type") or m["data"]["relationEvent"]
            for m in self.messages
            if m.get("topic") == topic
            and order_id in (m["data"].get("orderId"), m["data"].get("relationContext", {}).get("orderId"))
        ]


async def _poll(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def sdk_ws(url: str, key: str, secret: str, passphrase: str, inbox: Inbox):
    """A private KucoinWsClient; afterwards every task it started is stopped."""
    before = asyncio.all_tasks()
    client = await KucoinWsClient.create(
        None, WsToken(key, secret, passphrase, url=url), inbox.callback, private=True
    )
    try:
        yield client
    finally:
        conn = client._conn
        tasks = asyncio.all_tasks() - before - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        if conn._socket is not None:
            await conn._socket.close()
        _, pending = await asyncio.wait(tasks, timeout=5) if tasks else (set(), set())
        for task in pending:  # the reader swallowed one cancel: cancel again now that its socket is closed
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        assert all(t.done() for t in tasks)


async def test_official_sdk_places_fills_cancels_and_receives_private_events(sim) -> None:
    """Limit order that rests, one that fills, a cancel: matching tradeOrders and balance pushes arrive,
    and ``User.get_account_list`` balances add up."""
    creds = sim.credentials
    key, secret, passphrase = creds.key, creds.secret, creds.passphrase
    trade = Trade(key, secret, passphrase, url=sim.url)
    user = User(key, secret, passphrase, url=sim.url)
    inbox = Inbox()
    async with sdk_ws(sim.url, key, secret, passphrase, inbox) as ws:
        await ws.subscribe(ORDERS)
        await ws.subscribe(BALANCE)
        # The SDK gives no ack to its caller: wait until the exchange has the subscriptions.
        await _poll(lambda: any({ORDERS, BALANCE} <= set(s.topics) for s in sim.exchange.connections()))

        resting = (await asyncio.to_thread(trade.create_limit_order, "BTC-USDT", "buy", "0.0001", "50000"))[
            "orderId"
        ]
        ask = Decimal((await asyncio.to_thread(Market(url=sim.url).get_ticker, "BTC-USDT"))["bestAsk"])
        taker_price = str((ask * Decimal("1.01")).quantize(Decimal("0.1")))
        taker = (await asyncio.to_thread(trade.create_limit_order, "BTC-USDT", "buy", "0.0001", taker_price))[
            "orderId"
        ]
        cancelled = await asyncio.to_thread(trade.cancel_order, resting)
        assert cancelled == {"cancelledOrderIds": [resting]}

        await inbox.wait(lambda _: inbox.events(ORDERS, resting) == ["open", "canceled"])
        await inbox.wait(lambda _: "filled" in inbox.events(ORDERS, taker))
        await inbox.wait(lambda _: inbox.events(BALANCE, resting) == ["trade.hold", "trade.hold"])
        await inbox.wait(lambda _: inbox.events(BALANCE, taker).count("trade.setted") >= 2)

    matches = [
        m["data"] for m in inbox.messages if m.get("topic") == ORDERS and m["data"]["orderId"] == taker
    ]
    fills = [d for d in matches if d["type"] == "match"]
    assert fills and all(d["liquidity"] == "taker" and d["status"] == "match" for d in fills)
    assert sum(Decimal(d["matchSize"]) for d in fills) == Decimal("0.0001")
    assert all(m["userId"] == sim.exchange.demo.user_id for m in inbox.messages if "userId" in m)

    accounts = await asyncio.to_thread(user.get_account_list)
    for account in accounts:
        assert Decimal(account["balance"]) == Decimal(account["available"]) + Decimal(account["holds"])
    trade_accounts = {a["currency"]: a for a in accounts if a["type"] == "trade"}
    cost = sum(Decimal(d["matchPrice"]) * Decimal(d["matchSize"]) for d in fills) * Decimal("1.001")
    assert Decimal(trade_accounts["USDT"]["balance"]) == Decimal(10000) - cost
    assert Decimal(trade_accounts["USDT"]["holds"]) == 0
    assert Decimal(trade_accounts["BTC"]["balance"]) == Decimal("1.0001")
    last_usdt = [
        m["data"] for m in inbox.messages if m.get("topic") == BALANCE and m["data"]["currency"] == "USDT"
    ][-1]
    assert (last_usdt["total"], last_usdt["available"]) == (
        trade_accounts["USDT"]["balance"],
        trade_accounts["USDT"]["available"],
    )


def test_official_sdk_wrong_passphrase_is_refused_with_401_400004(sim) -> None:
    """The SDK surfaces KuCoin's HTTP 401 and code 400004 for a wrong passphrase."""
    creds = sim.credentials
    user = User(creds.key, creds.secret, "not-the-passphrase", url=sim.url)
    with pytest.raises(Exception, match=r'^401-.*"400004"'):
        user.get_account_list()


def test_official_sdk_with_a_v1_key_and_plain_passphrase(sim) -> None:
    """A key version 1 account works in the SDK's ``is_v1api`` mode (no version header, clear passphrase)."""
    creds = sim.exchange.create_account(key_version=1, balances={"USDT": "123.5"})
    user = User(creds.key, creds.secret, creds.passphrase, url=sim.url, is_v1api=True)
    [usdt] = user.get_account_list("USDT", "trade")
    assert (usdt["balance"], usdt["available"], usdt["holds"]) == ("123.5", "123.5", "0")
    v2_style = User(creds.key, creds.secret, creds.passphrase, url=sim.url)  # HMAC passphrase + header "2"
    with pytest.raises(Exception, match=r'^401-.*"400004"'):
        v2_style.get_account_list()
