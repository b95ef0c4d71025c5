"""The classic protocol as a source: bullet tokens, ``/market/...`` topics, REST snapshots and seeds.

:class:`ClassicMarketSource` and :class:`ClassicAccountSource` compose the pieces of the classic protocol
for the drivers: the connection pool (:mod:`kunb.net.pool`), the REST clients (:mod:`kunb.net.rest`) and
the decoder (:mod:`kunb.protocol.classic_decoder`); they map the pool's lifecycle events onto
:class:`~kunb.sources.base.LinkChange` (which symbols rode on a link that dropped).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..events import AccountBalance, BookSnapshot, OrderState, Stats, SymbolInfo
from ..exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
)
from ..net.pool import KucoinWsClient
from ..net.rest import Market, Trade, User, resolve_url
from ..net.wire import WireTap
from ..protocol.classic_decoder import ClassicDecoder
from ..signing import Credentials
from .base import FrameCallback, LinkCallback, MarketChannels
from .links import LinkWatch, pool_options, subscribe_when_live
from .listing import list_symbols

__all__ = [
    "BALANCE_TOPIC",
    "ORDERS_TOPIC",
    "ORDER_TOPICS",
    "ClassicAccountSource",
    "ClassicMarketSource",
    "SnapshotFetcher",
]

logger = logging.getLogger(__name__)

BALANCE_TOPIC = "/account/balance"
ORDERS_TOPIC = "/spotMarket/tradeOrders"
ORDER_TOPICS = (ORDERS_TOPIC, "/spotMarket/tradeOrdersV2")
_PAGE_SIZE = 500  # KuCoin's largest page of GET /api/v1/orders
_MAX_PAGES = 20

#: ``async (symbol) -> REST level-2 answer`` (``{"sequence", "bids", "asks"}``), for tests and replays
SnapshotFetcher = Callable[[str], Awaitable[Mapping[str, Any]]]


def _symbol_of(unit: str) -> str:
    prefix, _, arg = unit.partition(":")
    return arg.rpartition("_")[0] if prefix == "/market/candles" else arg


class ClassicMarketSource:
    """Market data over the classic protocol (see the module docstring).

    Args:
        url: the exchange's REST base URL (empty: ``$KUNB_URL``, else KuCoin).
        credentials: used only for *full* level-2 snapshots (KuCoin's v3 book is signed); without them
            books sync from the public ``level2_100`` snapshot and are exact within its depth.
        snapshot_depth: ``None`` for the full book when credentials are set, else 20 or 100.
        market: a ready REST client to use (it is not closed); default: one of this source's own.
        snapshots: a custom snapshot fetcher returning KuCoin's REST answer (tests, replays).
        wire: a :class:`~kunb.net.wire.WireTap` (:class:`kunb.record.RawLog`) told of every frame and of
            every REST answer of this source's own client (not of a ``market`` passed in); also settable
            as :attr:`wire` until :meth:`open`.
        **ws_options: passed to :class:`~kunb.net.pool.KucoinWsClient` (``backoff_base``, ``queue_size``...).
    """

    protocol = "classic"

    def __init__(
        self,
        *,
        url: str = "",
        credentials: Credentials | None = None,
        snapshot_depth: int | None = None,
        market: Market | None = None,
        snapshots: SnapshotFetcher | None = None,
        wire: WireTap | None = None,
        **ws_options: Any,
    ) -> None:
        if snapshot_depth not in (None, 20, 100):
            raise ConfigurationError(f"snapshot_depth must be None, 20 or 100, not {snapshot_depth!r}")
        self.credentials = credentials
        self.snapshot_depth = snapshot_depth
        self.decoder = ClassicDecoder()
        self._market = market
        self._own_market = market is None
        self.url = market.url if market is not None else resolve_url(url)
        self._snapshots = snapshots
        self._full_book = credentials is not None and credentials.is_complete
        self._ws_options = ws_options
        self._pool: KucoinWsClient | None = None
        self.worked_around: BaseException | None = None
        self._wire = wire

    def __repr__(self) -> str:
        return f"<ClassicMarketSource {self.url}>"

    @property
    def wire(self) -> WireTap | None:
        """The tap told of every frame and REST answer (``None``: none)."""
        return self._wire

    @wire.setter
    def wire(self, tap: WireTap | None) -> None:
        self._wire = tap
        if self._market is not None and self._own_market:
            self._market.wire = tap

    def topics(self, channels: MarketChannels) -> list[str]:
        symbols = channels.symbols
        joined = ",".join(symbols)
        out = []
        if not symbols:
            return list(channels.extra)
        if channels.book:
            out.append(f"/market/level2:{joined}")
        if channels.ticker:
            out.append(f"/market/ticker:{joined}")
        if channels.trades:
            out.append(f"/market/match:{joined}")
        if channels.stats:
            out += [f"/market/snapshot:{s}" for s in symbols]  # one symbol per topic (classic channels)
        if channels.candles:
            out += [f"/market/candles:{s}_{channels.candles}" for s in symbols]
        return [*out, *channels.extra]

    def _rest(self) -> Market:
        if self._market is None:
            self._market = Market(url=self.url, credentials=self.credentials, wire=self.wire)
        return self._market

    async def open(
        self,
        channels: MarketChannels,
        on_frame: FrameCallback,
        on_link: LinkCallback,
        *,
        within: float | None,
    ) -> None:
        watch = LinkWatch(on_link, self._symbols_on)
        # ticker_symbol=False: the decoder reads the symbol from the topic; frames stay as KuCoin sent them
        self._pool = await KucoinWsClient.create(
            None,
            self._rest(),
            on_frame,
            on_event=watch,
            ticker_symbol=False,
            wire=self.wire,
            **pool_options(self._ws_options, within),
        )
        await subscribe_when_live(self._pool, self.topics(channels), within)

    def _symbols_on(self, connection: str) -> tuple[str, ...]:
        pool = self._pool
        if pool is None:
            return ()
        units = [unit for unit in pool.topics if (c := pool.connection_of(unit)) and c.name == connection]
        return tuple(dict.fromkeys(_symbol_of(unit) for unit in units))

    async def stats(self, symbol: str) -> Stats:
        """``GET /api/v1/market/stats``: the 24 h numbers ``/market/snapshot`` pushes every 2 s."""
        data = await self._rest().aget_24h_stats(symbol)
        return self.decoder.stats(symbol, data, time.time_ns())

    async def snapshot(self, symbol: str) -> BookSnapshot:
        """The REST level-2 snapshot: the full (signed, v3) book with credentials, else ``level2_100`` (or
        ``level2_20``, see ``snapshot_depth``); classic order-book sync, step 2."""
        if self._snapshots is not None:
            data = await self._snapshots(symbol)
            return self.decoder.book_snapshot(symbol, data, time.time_ns(), depth=self.snapshot_depth)
        market = self._rest()
        if self.snapshot_depth is None and self._full_book:
            try:
                data = await market.aget_aggregated_orderv3(symbol)
                return self.decoder.book_snapshot(symbol, data, time.time_ns())
            except AuthenticationError as exc:
                # The key cannot read the v3 book (no "General" permission...): the public level2_100
                # snapshot still syncs the book, exact within its depth.
                self._full_book = False
                self.worked_around = exc
                logger.warning("kunb: full book refused (%s); using level2_100 snapshots", exc)
        depth = self.snapshot_depth or 100
        data = await market.aget_part_order(depth, symbol)
        return self.decoder.book_snapshot(symbol, data, time.time_ns(), depth=depth)

    async def symbols(self, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
        """``GET /api/v2/symbols/{symbol}`` (the whole list for many symbols): listed or not, increments."""
        return await list_symbols(self._rest(), symbols)

    def connection_detail(self) -> KucoinWsClient | None:
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        market = self._market
        if market is not None and self._own_market:
            self._market = None
            await market.aclose()


class _Rest(User, Trade):
    """Accounts and orders through one client (and one connection pool)."""


class ClassicAccountSource:
    """One API key's private data over the classic protocol (see the module docstring).

    Args:
        credentials: the API key (``None``: ``KUCOIN_API_KEY`` / ``_SECRET`` / ``_PASSPHRASE``).
        url: the exchange's REST base URL (empty: ``$KUNB_URL``, else KuCoin).
        order_topic: ``/spotMarket/tradeOrders`` (default) or ``/spotMarket/tradeOrdersV2``.
        wire: a :class:`~kunb.net.wire.WireTap` told of every frame and REST answer (settable as
            :attr:`wire` until :meth:`open`).
        **ws_options: passed to :class:`~kunb.net.pool.KucoinWsClient`.

    Raises:
        ConfigurationError: no complete credentials, or an unknown ``order_topic``.
    """

    protocol = "classic"

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        url: str = "",
        order_topic: str = ORDERS_TOPIC,
        wire: WireTap | None = None,
        **ws_options: Any,
    ) -> None:
        if order_topic not in ORDER_TOPICS:
            raise ConfigurationError(f"order_topic must be one of {ORDER_TOPICS}, not {order_topic!r}")
        self.rest = _Rest(url=url, credentials=credentials, wire=wire)
        if self.rest.credentials is None or not self.rest.credentials.is_complete:
            raise ConfigurationError(
                "an account needs an API key: pass Credentials(key, secret, passphrase) or set "
                "KUCOIN_API_KEY, KUCOIN_API_SECRET and KUCOIN_API_PASSPHRASE"
            )
        self.credentials = self.rest.credentials
        self.url = self.rest.url
        self.order_topic = order_topic
        self.decoder = ClassicDecoder()
        self._ws_options = ws_options
        self._pool: KucoinWsClient | None = None

    def __repr__(self) -> str:
        return f"<ClassicAccountSource {self.url}>"

    @property
    def wire(self) -> WireTap | None:
        """The tap told of every frame and REST answer (``None``: none)."""
        return self.rest.wire

    @wire.setter
    def wire(self, tap: WireTap | None) -> None:
        self.rest.wire = tap

    async def open(self, on_frame: FrameCallback, on_link: LinkCallback, *, within: float | None) -> None:
        self._pool = await KucoinWsClient.create(
            None,
            self.rest,
            on_frame,
            private=True,
            on_event=LinkWatch(on_link, lambda _connection: ()),
            ticker_symbol=False,
            wire=self.wire,
            **pool_options(self._ws_options, within),
        )
        await subscribe_when_live(self._pool, [BALANCE_TOPIC, self.order_topic], within)

    async def balances(self) -> Sequence[AccountBalance]:
        return self.decoder.account_balances(await self.rest.aget_account_list())

    async def orders(self, *, active: bool, since_ms: int | None = None) -> Sequence[OrderState]:
        items: list[Mapping[str, Any]] = []
        query: dict[str, Any] = {"status": "active" if active else "done"}
        if since_ms is not None:
            query["startAt"] = since_ms
        for page in range(1, _MAX_PAGES + 1):
            data = await self.rest.aget_order_list(pageSize=_PAGE_SIZE, currentPage=page, **query)
            items += data.get("items") or []
            if page >= int(data.get("totalPage") or 1):
                break
        return self.decoder.order_states(items)

    async def order(self, order_id: str) -> OrderState | None:
        try:
            item = await self.rest.aget_order_details(order_id)
        except (AuthenticationError, RateLimitError):
            raise
        except ApiError as exc:  # 400100 "order not exist": gone from the exchange, nothing to learn
            logger.info("kunb: order %s not found (%s)", order_id, exc)
            return None
        return self.decoder.order_states([item])[0]

    def connection_detail(self) -> KucoinWsClient | None:
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        await self.rest.aclose()
