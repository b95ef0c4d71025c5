"""The seed specification's basic and private streaming examples run as written against kunb.sim.

Only the import lines change (``kucoin`` -> ``kunb``); the exchange URL comes from ``KUNB_URL`` and the
private example's placeholder credentials are the simulator's demo key. The examples stream forever
(``asyncio.sleep(60)`` / ``(300)``), so ``asyncio.run(main())`` becomes ``asyncio.run(driver(main))``:
the driver runs ``main()`` unchanged and cancels it once the expected lines were printed.
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import warnings

import pytest

import kunb.sim
from kunb.client import Market, Trade

BASIC = '''
import asyncio
import json
from kucoin.ws_client import KucoinWsClient
from kucoin.client import Market

async def message_handler(message):
    """Handle incoming WebSocket messages."""
    if 'data' in message:
        data = message['data']
        topic = message.get('topic', '')

        if 'ticker' in topic:
            # Handle ticker updates
            ticker_data = data
            print(f"Ticker Update - {ticker_data['symbol']}: ${ticker_data['price']}")

        elif 'level2' in topic:
            # Handle order book updates
            ob_data = data
            print(f"OrderBook Update - {ob_data['symbol']}")
            print(f"Best Bid: {ob_data['bids'][0] if ob_data.get('bids') else 'N/A'}")
            print(f"Best Ask: {ob_data['asks'][0] if ob_data.get('asks') else 'N/A'}")

async def main():
    # Initialize market client for token generation
    market = Market()

    # Create WebSocket client
    loop = asyncio.get_event_loop()
    ws_client = await KucoinWsClient.create(loop, market, message_handler)

    # Subscribe to BTC-USDT ticker
    await ws_client.subscribe('/market/ticker:BTC-USDT')

    # Subscribe to order book updates
    await ws_client.subscribe('/market/level2:BTC-USDT')

    # Keep connection alive
    await asyncio.sleep(60) # Stream for 1 minute

# Run the async example
asyncio.run(main())
'''

PRIVATE = '''
import asyncio
from kucoin.ws_client import KucoinWsClient
from kucoin.client import User

async def private_message_handler(message):
    """Handle private channel messages."""
    if 'data' in message:
        data = message['data']
        topic = message.get('topic', '')

        if 'account' in topic:
            # Handle account balance updates
            account_data = data
            print(f"Balance Update - {account_data['currency']}: {account_data['available']}")

        elif 'tradeOrders' in topic:
            # Handle order updates
            order_data = data
            print(f"Order Update - {order_data['symbol']}: {order_data['type']} {order_data['side']}")
            print(f"Status: {order_data['status']}, Size: {order_data['size']}")

async def private_streaming():
    # Initialize authenticated client
    user = User(
        key='your-api-key',
        secret='your-api-secret',
        passphrase='your-passphrase',
        is_sandbox=False
    )

    # Create WebSocket client with private channel access
    loop = asyncio.get_event_loop()
    ws_client = await KucoinWsClient.create(loop, user, private_message_handler, private=True)

    # Subscribe to private account updates
    await ws_client.subscribe('/account/balance')

    # Subscribe to order updates
    await ws_client.subscribe('/spotMarket/tradeOrders')

    # Keep connection alive
    await asyncio.sleep(300) # Stream for 5 minutes

# Run private streaming
asyncio.run(private_streaming())
'''

DEADLINE = 15.0


@pytest.fixture(scope="module")
def sim():
    handle = kunb.sim.start(seed=1, symbols=["BTC-USDT", "ETH-USDT"], tick_ms=20)
    try:
        yield handle
    finally:
        handle.stop()


def kunbify(source: str) -> str:
    """The only edit the issue allows: the import lines."""
    source = source.replace("from kucoin.ws_client import", "from kunb.ws_client import")
    return source.replace("from kucoin.client import", "from kunb.client import")


def run_example(source: str, entry: str, expected: list[str], during=None) -> str:
    """Execute the example with its last line routed through a driver; return what it printed."""
    body, last = source.rsplit(f"asyncio.run({entry}())", 1)
    assert not last.strip()
    out = io.StringIO()
    namespace: dict = {"__name__": "seed_example"}

    async def driver() -> None:
        task = asyncio.ensure_future(namespace[entry]())
        side = asyncio.ensure_future(during()) if during else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        try:
            while not all(line in out.getvalue() for line in expected):
                if task.done():
                    task.result()  # the example failed: show why
                    raise AssertionError("the example returned early")
                if loop.time() > deadline:
                    raise AssertionError(f"missing output; got:\n{out.getvalue()[-2000:]}")
                await asyncio.sleep(0.02)
        finally:
            for t in (task, side):
                if t is not None:
                    t.cancel()
            await asyncio.gather(task, *([side] if side else []), return_exceptions=True)

    real_stdout = sys.stdout
    sys.stdout = out
    try:
        exec(compile(body, f"<seed example {entry}>", "exec"), namespace)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(driver())
            namespace.clear()
            gc.collect()
    finally:
        sys.stdout = real_stdout
    # the examples never close their clients: nothing may be left open when their loop ends
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks
    return out.getvalue()


def test_seed_basic_example(sim, monkeypatch):
    """The basic market-data example prints ticker and order-book updates for BTC-USDT."""
    monkeypatch.setenv("KUNB_URL", sim.url)
    printed = run_example(
        kunbify(BASIC), "main", ["Ticker Update - BTC-USDT: $", "OrderBook Update - BTC-USDT"]
    )
    prices = [line.split("$")[1] for line in printed.splitlines() if line.startswith("Ticker Update")]
    assert prices and all(float(p) > 0 for p in prices)


def test_seed_private_example(sim, monkeypatch):
    """The private example (User(...), private=True) prints balance and order updates when the demo
    user trades."""
    monkeypatch.setenv("KUNB_URL", sim.url)
    creds = sim.credentials
    assert creds is not None, "kunb.sim provides demo credentials"
    source = kunbify(PRIVATE)
    for placeholder, value in (
        ("'your-api-key'", creds.key),
        ("'your-api-secret'", creds.secret),
        ("'your-passphrase'", creds.passphrase),
    ):
        source = source.replace(placeholder, repr(value))

    async def trade() -> None:
        """Place a resting buy once the example is subscribed, so there is something to show."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while not any("/spotMarket/tradeOrders" in s.topics for s in sim.exchange.connections()):
            assert loop.time() < deadline, "the example never subscribed"
            await asyncio.sleep(0.02)
        async with Trade(credentials=creds, url=sim.url) as trader, Market(url=sim.url) as market:
            bid = float((await market.aget_ticker("BTC-USDT"))["bestBid"])
            await trader.acreate_limit_order("BTC-USDT", "buy", "0.001", str(round(bid * 0.9, 1)))

    printed = run_example(
        source,
        "private_streaming",
        ["Balance Update - USDT: ", "Order Update - BTC-USDT: open buy", "Status: open, Size: 0.001"],
        during=trade,
    )
    assert "Error" not in printed
