"""KuCoin's UTA protocol as a source: fixed hosts, ``obu`` books that send their own snapshot, ``op:auth``.

:class:`UtaMarketSource` and :class:`UtaAccountSource` compose the UTA pieces for the drivers: the same
connection pool as classic, speaking a :class:`~kunb.net.dialect.UtaDialect`, the UTA REST calls
(:mod:`kunb.net.uta_rest`) and the decoder (:mod:`kunb.protocol.uta_decoder`). What kunb sends and
accepts: ``uta-kunb.md``.

Books: with ``increment@10ms`` (the default) and depths ``1``/``5``/``50`` the snapshot arrives on the
socket after each subscription, so :meth:`UtaMarketSource.snapshot` returns ``None``; when a book needs a
new one (a gap, a crossed book) and none is on its way, the source unsubscribes and subscribes again and
counts a resync (uta-kunb.md#uta-order-book). The deprecated full ``increment`` depth syncs from the
signed REST snapshot instead, like classic.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..events import AccountBalance, BookSnapshot, OrderState, SymbolInfo
from ..exceptions import ApiError, AuthenticationError, ConfigurationError, RateLimitError
from ..net.dialect import UtaDialect
from ..net.pool import KucoinWsClient
from ..net.rest import Market, resolve_url
from ..net.uta_rest import UtaRest
from ..net.wire import WireTap
from ..protocol import uta as uta_protocol
from ..protocol.uta_decoder import UtaDecoder
from ..signing import Credentials
from .base import FrameCallback, LinkCallback, LinkChange, LinkStatus, MarketChannels
from .classic import SnapshotFetcher
from .links import LinkWatch, pool_options, subscribe_when_live
from .listing import list_symbols

__all__ = ["ACCOUNT_TOPICS", "DEFAULT_DEPTH", "UtaAccountSource", "UtaMarketSource", "uta_urls"]

logger = logging.getLogger(__name__)

DEFAULT_DEPTH = "increment@10ms"  # KuCoin deprecated "increment" for it (uta-protocol.md#status)
#: what :class:`UtaAccountSource` subscribes: orders, fills and unified-account balances
ACCOUNT_TOPICS = ("orderAll.UNIFIED", "execution.UNIFIED", "balance.UNIFIED")
_SNAPSHOT_GRACE = 20.0  # seconds a socket snapshot may take after a subscription (uta-kunb.md#uta-silence)
_PAGE_SIZE = 200
_MAX_PAGES = 20


def uta_urls(public: str | None = None, private: str | None = None) -> tuple[str, str]:
    """The UTA hosts to dial: the arguments, else ``$KUNB_UTA_URL`` / ``$KUNB_UTA_PRIVATE_URL``, else
    KuCoin's (``wss://x-push-spot.kucoin.com``, ``wss://wsapi-push.kucoin.com``)."""
    return (
        public or os.environ.get("KUNB_UTA_URL") or uta_protocol.PUBLIC_SPOT_URL,
        private or os.environ.get("KUNB_UTA_PRIVATE_URL") or uta_protocol.PRIVATE_URL,
    )


class UtaMarketSource:
    """Market data over UTA (see the module docstring).

    Args:
        url: the exchange's REST base URL, for the ``increment`` depth's signed snapshots (empty:
            ``$KUNB_URL``, else KuCoin).
        ws_url: the public UTA host (default: :func:`uta_urls`).
        credentials: needed only by ``depth="increment"`` (its REST snapshot is signed).
        depth: ``increment@10ms`` (default), ``1``, ``5``, ``50`` or the deprecated ``increment``.
        snapshot_limit: ``FULL``, ``20`` or ``100``: the REST snapshot of ``increment``.
        snapshot_version: 1 or 2: ``/api/ua/v1/market/orderbook`` or ``/api/ua/v2/...``.
        snapshots: a custom fetcher of that REST answer (tests, replays).
        wire: a :class:`~kunb.net.wire.WireTap` told of every frame and REST answer (settable as
            :attr:`wire` until :meth:`open`).
        **ws_options: passed to :class:`~kunb.net.pool.KucoinWsClient` (``backoff_base``, ``ping_style``
            goes to the dialect).

    Raises:
        ConfigurationError: an unknown depth or limit, or ``increment`` without credentials or fetcher.
    """

    protocol = "uta"

    def __init__(
        self,
        *,
        url: str = "",
        ws_url: str | None = None,
        credentials: Credentials | None = None,
        depth: str = DEFAULT_DEPTH,
        snapshot_limit: str = "FULL",
        snapshot_version: int = 1,
        snapshots: SnapshotFetcher | None = None,
        ping_style: str = "type",
        wire: WireTap | None = None,
        **ws_options: Any,
    ) -> None:
        depth = str(depth)
        if depth not in uta_protocol.DEPTHS:
            raise ConfigurationError(f"depth must be one of {', '.join(uta_protocol.DEPTHS)}, not {depth!r}")
        try:
            uta_protocol.orderbook_path("X", limit=snapshot_limit, version=snapshot_version)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if (
            depth == "increment"
            and snapshots is None
            and (credentials is None or not credentials.is_complete)
        ):
            raise ConfigurationError(
                "depth='increment' syncs from the signed REST order book: pass credentials (or use the "
                "default 'increment@10ms', whose snapshot comes on the socket)"
            )
        self.url = resolve_url(url)
        self.ws_url = uta_urls(public=ws_url)[0]
        self.credentials = credentials
        self.depth = depth
        self.snapshot_limit = str(snapshot_limit).upper()
        self.snapshot_version = snapshot_version
        self.decoder = UtaDecoder(on_snapshot=self._snapshot_came)
        self.dialect = UtaDialect(url=self.ws_url, ping_style=ping_style)
        self.worked_around: BaseException | None = None
        self.resyncs = 0
        """Books resynchronised by a new subscription (a gap, a crossed book, a snapshot that never came)."""
        self.resyncs_by_symbol: dict[str, int] = {}
        self._snapshots = snapshots
        self._rest: UtaRest | None = None
        self._wire = wire
        self._market: Market | None = None  # KuCoin's spot symbol list serves both protocols
        self._ws_options = ws_options
        self._pool: KucoinWsClient | None = None
        self._book_topics: dict[str, str] = {}  # symbol -> its obu topic
        self._awaiting: dict[str, float] = {}  # symbol -> when a subscription promising a snapshot was made

    def __repr__(self) -> str:
        return f"<UtaMarketSource {self.ws_url} depth={self.depth}>"

    @property
    def wire(self) -> WireTap | None:
        """The tap told of every frame and REST answer (``None``: none)."""
        return self._wire

    @wire.setter
    def wire(self, tap: WireTap | None) -> None:
        self._wire = tap
        for client in (self._rest, self._market):
            if client is not None:
                client.wire = tap

    def topics(self, channels: MarketChannels) -> list[str]:
        """One UTA topic per symbol and channel (``stats`` has no UTA channel and is ignored)."""
        out = []
        for symbol in channels.symbols:
            if channels.book:
                out.append(uta_protocol.topic("obu", symbol, depth=self.depth))
            if channels.ticker:
                out.append(uta_protocol.topic("ticker", symbol))
            if channels.trades:
                out.append(uta_protocol.topic("trade", symbol))
            if channels.candles:
                out.append(uta_protocol.topic("kline", symbol, interval=channels.candles))
        return [*out, *channels.extra]

    async def open(
        self,
        channels: MarketChannels,
        on_frame: FrameCallback,
        on_link: LinkCallback,
        *,
        within: float | None,
    ) -> None:
        if channels.book:
            self._book_topics = {s: uta_protocol.topic("obu", s, depth=self.depth) for s in channels.symbols}

        def link(change: LinkChange) -> None:
            # A dropped link's books get their snapshot from the reconnect's resubscription: noted before
            # the driver asks for one (at once) and before that resubscription is sent. Not on the acks:
            # the snapshot may already have come when the ack's event is reported.
            if change.status is LinkStatus.DOWN:
                self._fresh(change.symbols or tuple(self._book_topics))
            on_link(change)

        watch = LinkWatch(link, self._symbols_on, _topic_symbols)
        self._pool = await KucoinWsClient.create(
            None,
            None,
            on_frame,
            on_event=watch,
            dialect=self.dialect,
            wire=self.wire,
            **pool_options(self._ws_options, within),
        )
        self._fresh(tuple(self._book_topics))
        await subscribe_when_live(self._pool, self.topics(channels), within)

    def _fresh(self, symbols: Iterable[str]) -> None:
        now = time.monotonic()
        for symbol in symbols:
            if symbol in self._book_topics:
                self._awaiting[symbol] = now

    def _snapshot_came(self, symbol: str) -> None:
        self._awaiting.pop(symbol, None)

    def _symbols_on(self, connection: str) -> tuple[str, ...]:
        pool = self._pool
        if pool is None:
            return ()
        units = [unit for unit in pool.topics if (c := pool.connection_of(unit)) and c.name == connection]
        return tuple(dict.fromkeys(s for unit in units for s in _topic_symbols(unit)))

    async def stats(self, symbol: str) -> None:
        """UTA has no 24 h statistics channel kunb follows: nothing to seed."""
        return None

    async def snapshot(self, symbol: str) -> BookSnapshot | None:
        """``increment``: the signed REST snapshot. Other depths: ``None`` - the snapshot comes on the socket:
        the one a subscription made less than 20 s ago still promises, else a new subscription's."""
        if self.depth == "increment":
            return await self._rest_snapshot(symbol)
        topic = self._book_topics.get(symbol)
        pool = self._pool
        if topic is None or pool is None:
            return None
        made = self._awaiting.get(symbol)
        if made is not None and time.monotonic() - made < _SNAPSHOT_GRACE:
            return None  # on its way
        # uta-protocol.md#order-book-sync: only a new subscription brings a new snapshot
        self.resyncs += 1
        self.resyncs_by_symbol[symbol] = self.resyncs_by_symbol.get(symbol, 0) + 1
        logger.info("kunb: resubscribing %s for a fresh book snapshot", topic)
        self._awaiting[symbol] = time.monotonic()  # before: the snapshot may come before subscribe returns
        await pool.unsubscribe(topic)
        await pool.subscribe(topic)
        return None

    async def _rest_snapshot(self, symbol: str) -> BookSnapshot:
        depth = uta_protocol.orderbook_depth(self.snapshot_limit)
        if self._snapshots is not None:
            data = await self._snapshots(symbol)
        else:
            if self._rest is None:
                self._rest = UtaRest(url=self.url, credentials=self.credentials, wire=self.wire)
            data = await self._rest.aget_orderbook(symbol, self.snapshot_limit, "SPOT", self.snapshot_version)
        return self.decoder.book_snapshot(data, time.time_ns(), depth=depth, symbol=symbol)

    async def symbols(self, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
        """KuCoin's spot symbol list at ``url`` (the classic REST call): listed or not, increments."""
        if self._market is None:
            self._market = Market(url=self.url, wire=self.wire)
        return await list_symbols(self._market, symbols)

    def connection_detail(self) -> KucoinWsClient | None:
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        for client in (self._rest, self._market):
            if client is not None:
                await client.aclose()
        self._rest = self._market = None


def _topic_symbols(topic: str) -> tuple[str, ...]:
    try:
        symbol = uta_protocol.parse_topic(topic).symbol
    except ValueError:
        return ()
    return (symbol,) if symbol else ()


class UtaAccountSource:
    """One API key's unified account over UTA (see the module docstring).

    Subscribes ``orderAll``, ``execution`` and ``balance`` (account type ``UNIFIED``) on the private
    socket, and seeds from the UTA REST calls ccxt's UTA mode makes: ``GET
    /api/ua/v1/unified/account/balance``, ``.../unified/order/open-list``, ``.../order/history`` and
    ``.../order/detail``.

    Args:
        credentials: the API key (``None``: ``KUCOIN_API_KEY`` / ``_SECRET`` / ``_PASSPHRASE``).
        url: the exchange's REST base URL (empty: ``$KUNB_URL``, else KuCoin).
        ws_url: the private UTA host (default: :func:`uta_urls`).
        auth: ``"v2"`` (the signed ``op:auth`` frame, default) or ``"v1"`` (a token from ``POST
            /api/v2/bullet-private`` in the URL).
        symbols: spot symbols whose orders the REST seeds list (ccxt names one per call; without any, the
            lists are asked for without a symbol).
        rest: a ready :class:`~kunb.net.uta_rest.UtaRest` (it is closed with the source).
        wire: a :class:`~kunb.net.wire.WireTap` told of every frame and REST answer (settable as
            :attr:`wire` until :meth:`open`).
        **ws_options: passed to :class:`~kunb.net.pool.KucoinWsClient`.

    Raises:
        ConfigurationError: no complete credentials, or an unknown ``auth``.
    """

    protocol = "uta"

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        url: str = "",
        ws_url: str | None = None,
        auth: str = "v2",
        symbols: Iterable[str] = (),
        ping_style: str = "type",
        rest: UtaRest | None = None,
        wire: WireTap | None = None,
        **ws_options: Any,
    ) -> None:
        self.rest = rest if rest is not None else UtaRest(url=url, credentials=credentials)
        if wire is not None:
            self.rest.wire = wire
        creds = self.rest.credentials
        if creds is None or not creds.is_complete:
            raise ConfigurationError(
                "an account needs an API key: pass Credentials(key, secret, passphrase) or set "
                "KUCOIN_API_KEY, KUCOIN_API_SECRET and KUCOIN_API_PASSPHRASE"
            )
        self.credentials = creds
        self.url = self.rest.url
        self.ws_url = uta_urls(private=ws_url)[1]
        self.symbols = tuple(dict.fromkeys(symbols))
        self.decoder = UtaDecoder()
        self.dialect = UtaDialect(
            private=True,
            url=self.ws_url,
            credentials=creds,
            auth=auth,
            token=self.rest.abullet_private,
            ping_style=ping_style,
        )
        self._ws_options = ws_options
        self._pool: KucoinWsClient | None = None
        self._order_symbols: dict[str, str] = {}  # order id -> symbol (the detail call needs both)

    def __repr__(self) -> str:
        return f"<UtaAccountSource {self.ws_url} auth={self.dialect.auth}>"

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
            None,
            self._remembering(on_frame),
            on_event=LinkWatch(on_link, lambda _connection: ()),
            dialect=self.dialect,
            wire=self.wire,
            **pool_options(self._ws_options, within),
        )
        await subscribe_when_live(self._pool, list(ACCOUNT_TOPICS), within)

    def _remembering(self, on_frame: FrameCallback) -> Callable[[Mapping[str, Any]], Any]:
        """Learn each order's symbol from its pushes on the way (private traffic is light)."""
        symbols = self._order_symbols

        def on(frame: Mapping[str, Any]) -> Any:
            data = frame.get("d")
            if data.__class__ is dict and str(frame.get("T")).lower().startswith("order"):
                order_id, symbol = data.get("oi"), data.get("s")
                if isinstance(order_id, str | int) and isinstance(symbol, str):
                    symbols[str(order_id)] = symbol
            return on_frame(frame)

        return on

    async def balances(self) -> Sequence[AccountBalance]:
        return self.decoder.account_balances(await self.rest.aget_account_balance())

    async def orders(self, *, active: bool, since_ms: int | None = None) -> Sequence[OrderState]:
        items: list[Mapping[str, Any]] = []
        for symbol in self.symbols or (None,):
            for page in range(1, _MAX_PAGES + 1):
                if active:
                    data = await self.rest.aget_open_orders(symbol, page=page, page_size=_PAGE_SIZE)
                else:
                    data = await self.rest.aget_order_history(
                        symbol, start_at=since_ms, page=page, page_size=_PAGE_SIZE
                    )
                items += (data or {}).get("items") or []
                if page >= int((data or {}).get("totalPage") or 1):
                    break
        states = self.decoder.order_states(items)
        for state in states:
            self._order_symbols[state.order_id] = state.symbol
        return states

    async def order(self, order_id: str) -> OrderState | None:
        symbol = self._order_symbols.get(order_id)
        candidates = (symbol,) if symbol else self.symbols
        for candidate in candidates:
            try:
                item = await self.rest.aget_order_detail(order_id, candidate)
            except (AuthenticationError, RateLimitError):
                raise
            except ApiError as exc:  # not found: gone from the exchange (or another symbol's)
                logger.info("kunb: UTA order %s not found for %s (%s)", order_id, candidate, exc)
                continue
            if item:
                return self.decoder.order_states([item])[0]
        if not candidates:
            logger.info("kunb: UTA order %s: its symbol is unknown, cannot ask for it", order_id)
        return None

    def connection_detail(self) -> KucoinWsClient | None:
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        await self.rest.aclose()
