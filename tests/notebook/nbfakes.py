"""Scripted stand-ins for the notebook layer's tests: market and account sources without sockets, payload
builders, polling.

The fakes implement :class:`kunb.sources.base.MarketSource` / :class:`~kunb.sources.base.AccountSource`:
the test pushes classic wire frames into a queue, and the real :class:`ClassicDecoder` turns them into
events for the driver (a :class:`kunb.Stream` or :class:`kunb.Account`), so a panel test runs the same
decode-route-render path as a live panel, minus the sockets. A fake can be opened again after it was
closed (a panel stopped and started, or switched to other symbols), and counts how often it was.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from kunb.events import AccountBalance, BookSnapshot, OrderState, Stats, SymbolInfo
from kunb.exceptions import ConfigurationError
from kunb.protocol.classic_decoder import ClassicDecoder
from kunb.runtime import running_loop
from kunb.sources.base import FrameCallback, LinkCallback, LinkChange, LinkStatus, MarketChannels
from kunb.sources.classic import ClassicMarketSource

CONNECTION = "fake-1"


class _FakeSource:
    """What both fakes share: the frame queue, open/close bookkeeping and the settable link status.

    ``runs`` counts successful opens, ``active`` the opens not closed yet; ``started`` / ``closed`` are
    set on each open / close (``opened`` is the same as a :class:`threading.Event`, for a test thread
    driving a source that runs on kunb's helper loop). :meth:`push` and :meth:`set_link` may be called
    from any thread and before the source is opened (frames wait in the queue).
    """

    protocol = "classic"

    def __init__(self, *, url: str) -> None:
        self.url = url
        self.decoder = ClassicDecoder()
        self.queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self.runs = 0
        self.active = 0
        self.started = asyncio.Event()
        self.closed = asyncio.Event()
        self.opened = threading.Event()
        self.link = LinkChange(LinkStatus.LIVE, CONNECTION)  #: reported at every open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_link: LinkCallback | None = None
        self._pump: asyncio.Task[None] | None = None

    def _open(self, on_frame: FrameCallback, on_link: LinkCallback) -> None:
        if self._pump is not None:
            raise AssertionError("a source was opened again before it was closed")
        self._loop = asyncio.get_running_loop()
        self.runs += 1
        self.active += 1
        self.closed.clear()
        self._on_link = on_link
        on_link(self.link)
        self._pump = self._loop.create_task(self._deliver(on_frame), name="fake-source-pump")
        self.started.set()
        self.opened.set()

    async def _deliver(self, on_frame: FrameCallback) -> None:
        while True:
            on_frame(await self.queue.get())

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is not None and running_loop() is not loop:
            loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def push(self, frame: Mapping[str, Any]) -> None:
        """Deliver ``frame`` as the exchange would (decoded by the driver with :attr:`decoder`)."""
        self._call(self.queue.put_nowait, frame)

    def set_link(self, status: LinkStatus, detail: str = "", symbols: Iterable[str] = ()) -> None:
        """Report a link change now, as a real source does when a link drops, and at later opens (where
        a restored link reads ``live``: a fresh subscription lost nothing)."""
        change = LinkChange(status, CONNECTION, tuple(symbols), detail)
        self.link = LinkChange(LinkStatus.LIVE, CONNECTION) if status is LinkStatus.RESTORED else change
        if self._on_link is not None:
            self._call(self._on_link, change)

    def connection_detail(self) -> Any:
        return None

    async def close(self) -> None:
        pump, self._pump = self._pump, None
        if pump is None:
            return  # never opened, or closed already: closing is idempotent
        pump.cancel()
        await asyncio.wait([pump])
        self._on_link = None
        self.active -= 1
        self.closed.set()


SnapshotAnswer = Callable[[str], Awaitable[Mapping[str, Any]]]


class FakeMarketSource(_FakeSource):
    """A :class:`~kunb.sources.base.MarketSource` fed by the test (see :class:`_FakeSource`).

    Args:
        url: what the panel shows as its exchange.
        snapshots: ``async (symbol) -> REST level-2 answer`` for the books; without it a book asking for
            a snapshot gets a ConfigurationError (a test that forgot to give one fails loudly).
        symbol_items: ``GET /api/v2/symbols`` items the exchange lists (their increments round what the
            panels show); by default it lists nothing and says so for no symbol (``symbols()`` is ``{}``).
    """

    def __init__(
        self,
        *,
        url: str = "http://127.0.0.1:9",
        snapshots: SnapshotAnswer | None = None,
        symbol_items: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(url=url)
        self._snapshots = snapshots
        self._listed = {item["symbol"]: self.decoder.symbol_info(item) for item in symbol_items}
        self._naming = ClassicMarketSource(url=url)  # never opened: names the topics as classic does
        self.channels: MarketChannels | None = None
        self.subscribed: list[str] | None = None  #: the topics of the latest open
        self.worked_around: BaseException | None = None

    def topics(self, channels: MarketChannels) -> list[str]:
        return self._naming.topics(channels)

    async def open(
        self,
        channels: MarketChannels,
        on_frame: FrameCallback,
        on_link: LinkCallback,
        *,
        within: float | None,
    ) -> None:
        self.channels = channels
        self.subscribed = self.topics(channels)
        self._open(on_frame, on_link)

    async def stats(self, symbol: str) -> Stats | None:
        return None  # 24 h numbers only from pushes

    async def symbols(self, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
        if not self._listed:
            return {}
        return {s: self._listed.get(s) for s in symbols}

    async def snapshot(self, symbol: str) -> BookSnapshot:
        if self._snapshots is None:
            raise ConfigurationError("this FakeMarketSource was given no snapshots")
        data = await self._snapshots(symbol)
        return self.decoder.book_snapshot(symbol, data, time.time_ns())


class FakeAccountSource(_FakeSource):
    """An :class:`~kunb.sources.base.AccountSource` fed by the test: REST answers are the wire lists in
    :attr:`accounts` (``GET /api/v1/accounts`` items) and :attr:`order_items` (``GET /api/v1/orders``
    items), decoded like the real ones; ``seeds`` counts the balance requests, and while
    :attr:`seed_gate` is set to an unset event, balance requests wait for it (a slow REST answer)."""

    def __init__(
        self, *, url: str = "http://127.0.0.1:9", accounts: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        super().__init__(url=url)
        self.accounts: list[Mapping[str, Any]] = list(accounts)
        self.order_items: list[Mapping[str, Any]] = []
        self.seeds = 0
        self.seed_gate: asyncio.Event | None = None

    async def open(self, on_frame: FrameCallback, on_link: LinkCallback, *, within: float | None) -> None:
        self._open(on_frame, on_link)

    async def balances(self) -> Sequence[AccountBalance]:
        self.seeds += 1
        if self.seed_gate is not None:
            await self.seed_gate.wait()
        return self.decoder.account_balances(self.accounts)

    async def orders(self, *, active: bool, since_ms: int | None = None) -> Sequence[OrderState]:
        items = [i for i in self.order_items if bool(i.get("isActive")) is active]
        return self.decoder.order_states(items)

    async def order(self, order_id: str) -> OrderState | None:
        found = [i for i in self.order_items if i["id"] == order_id]
        return self.decoder.order_states(found)[0] if found else None


def symbol_item(
    symbol: str, *, price_increment: str = "0.1", base_increment: str = "0.00000001"
) -> dict[str, Any]:
    """A ``GET /api/v2/symbols`` item with the increments that matter to display."""
    return {
        "symbol": symbol,
        "priceIncrement": price_increment,
        "baseIncrement": base_increment,
        "quoteIncrement": "0.000001",
    }


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


def balance_msg(
    currency: str, available: str, hold: str = "0", *, event_id: str, ts_ms: int
) -> dict[str, Any]:
    """A classic ``/account/balance`` push (amounts as strings, as KuCoin sends them)."""
    total = str(float(available) + float(hold))
    return {
        "type": "message",
        "topic": "/account/balance",
        "subject": "account.balance",
        "data": {
            "accountId": f"acc-{currency}",
            "currency": currency,
            "total": total,
            "available": available,
            "hold": hold,
            "availableChange": available,
            "holdChange": "0",
            "relationEvent": "trade.setted",
            "relationEventId": event_id,
            "relationContext": {},
            "time": str(ts_ms),
        },
    }


def order_msg(order_id: str, kind: str, status: str, *, ts_ns: int, **fields: Any) -> dict[str, Any]:
    """A classic ``/spotMarket/tradeOrders`` push (``ts`` in ns, as KuCoin sends it)."""
    data = {
        "orderId": order_id,
        "clientOid": f"c-{order_id}",
        "symbol": "BTC-USDT",
        "side": "buy",
        "orderType": "limit",
        "type": kind,
        "status": status,
        "price": "100",
        "size": "1",
        "filledSize": "0",
        "remainSize": "1",
        "orderTime": ts_ns // 1_000_000,
        "ts": ts_ns,
        **fields,
    }
    return {"type": "message", "topic": "/spotMarket/tradeOrders", "subject": "orderChange", "data": data}


def candle_msg(
    symbol: str, start_s: int, close: float, *, interval: str = "1min", volume: float = 1.0
) -> dict[str, Any]:
    """A classic ``/market/candles`` push: the candle starting at ``start_s`` (open 100, high/low around)."""
    return {
        "type": "message",
        "topic": f"/market/candles:{symbol}_{interval}",
        "subject": "trade.candles.update",
        "data": {
            "symbol": symbol,
            "candles": [str(start_s), "100", str(close), str(max(close, 100) + 1), str(min(close, 100) - 1),
                        str(volume), str(volume * close)],
            "time": start_s * 1_000_000_000 + 1,
        },
    }  # fmt: skip


def trade_msg(
    symbol: str, i: int, *, side: str = "buy", price: float = 100.0, size: float = 0.5
) -> dict[str, Any]:
    """A classic ``/market/match`` push (``time`` in ns)."""
    return {
        "type": "message",
        "topic": f"/market/match:{symbol}",
        "subject": "trade.l3match",
        "data": {
            "symbol": symbol, "sequence": str(i), "side": side, "price": str(price), "size": str(size),
            "tradeId": f"t{i}", "takerOrderId": "a", "makerOrderId": "b", "type": "match",
            "time": str(1_700_000_000_000_000_000 + i),
        },
    }  # fmt: skip
