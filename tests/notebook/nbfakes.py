"""Scripted stand-ins for the notebook layer's tests: a Feed without sockets, payload builders, polling."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kunb.notebook.status import Health


class FakeFeed:
    """A Feed whose messages come from a queue the test fills (same contract as the real one)."""

    def __init__(self, *, url: str = "http://127.0.0.1:9", simulated: bool = True) -> None:
        self.url = url
        self.simulated = simulated
        self.queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self.topics: list[str] | None = None
        self.runs = 0
        self.active = 0
        self.started = asyncio.Event()
        self.closed = asyncio.Event()
        self.health: tuple[Health, str] = (Health.LIVE, "")

    async def run(self, topics, on_message, on_health) -> None:
        self.topics = list(topics)
        self.runs += 1
        self.active += 1
        self.closed.clear()
        on_health(*self.health)
        self.started.set()
        try:
            while True:
                on_message(await self.queue.get())
        finally:
            self.active -= 1
            self.closed.set()

    def push(self, message: Mapping[str, Any]) -> None:
        self.queue.put_nowait(message)


def ticker_msg(symbol: str, i: int, *, price: float = 100.0, spread: float = 0.5) -> dict[str, Any]:
    return {
        "type": "message",
        "topic": f"/market/ticker:{symbol}",
        "subject": "trade.ticker",
        "data": {
            "sequence": str(i),
            "price": str(price + i),
            "size": "0.1",
            "bestBid": str(price + i - spread / 2),
            "bestBidSize": "1",
            "bestAsk": str(price + i + spread / 2),
            "bestAskSize": "2",
            "time": 1_700_000_000_000 + i,
        },
    }


async def wait_for(predicate, within: float = 5.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` until true or fail after ``within`` seconds (no sleeps as synchronisation)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
