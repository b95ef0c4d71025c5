"""Where the market model meets I/O: subscribe to symbols, route pushes into books and rolling frames,
fetch a REST snapshot whenever a book asks for one.

``Stream`` is the object a notebook user holds::

    s = kunb.Stream(["BTC-USDT", "ETH-USDT"]).start()   # returns at once, also in a plain cell
    s.snapshot()                  # per symbol: price, change_24h, volume_24h, bid, ask, spread ...
    s.books["BTC-USDT"].df        # the synchronised level-2 book (kunb.book.OrderBook)
    s.ticks.df, s.trades.df       # rolling DataFrames (kunb.rolling)
    s.stop()

or, in async code, ``async with kunb.Stream([...]) as s: await s.wait_live()``.

A Stream can also be *fed* instead of started: :meth:`Stream.ingest` routes messages from another
source (the notebook panels' Feeds, recorded replays) through the same code, and books fetch their
snapshots on the caller's loop (through ``snapshots=``, else REST at ``url``); :meth:`Stream.aclose`
ends those fetches.

The books are pure state machines (:mod:`kunb.book`); this module only supplies what they ask for. A
book that needs a snapshot (first sync, gap, crossed book) gets one fetched by a task of its own while
its pushes keep buffering (``kucoin-protocol.md`` 3); when a WebSocket connection drops, the books it
carried are resynchronised, since pushes were lost with it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import AuthenticationError, ClosedError, ConfigurationError, KunbError, ProtocolError
from .model.book import BookState, OrderBook
from .model.rolling import BookTopFrame, CandleFrame, TickerFrame, TradeFrame
from .runtime import SyncLifecycle, cancel_and_wait, running_loop
from .signing import Credentials

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .net.connection import LifecycleEvent
    from .net.pool import KucoinWsClient
    from .net.rest import Market

__all__ = ["Stream", "StreamState"]

logger = logging.getLogger(__name__)

_MS = 1_000_000
_SNAPSHOT_RETRY = (0.05, 2.0)  # first and longest wait between snapshot attempts, seconds


class StreamState(enum.Enum):
    """Lifecycle of a :class:`Stream`."""

    NEW = "new"
    """Created; nothing runs yet."""
    STARTING = "starting"
    """Connecting and subscribing."""
    RUNNING = "running"
    """Subscribed; data flows (books may still be syncing; see :meth:`Stream.wait_live`)."""
    CLOSED = "closed"
    """Stopped for good (or failed to start: see :attr:`Stream.error`)."""


class Stream(SyncLifecycle):
    """Live market data of several symbols, recorded into order books and rolling frames.

    Args:
        symbols: ``"BTC-USDT"`` or a list of symbols.
        url: the exchange's REST base URL (``kunb.sim``'s ``ex.url``); empty: ``$KUNB_URL``, else KuCoin.
        credentials: used only to fetch *full* level-2 snapshots (KuCoin's v3 book is signed); without
            them the books sync from the public ``level2_100`` snapshot and are exact within its depth.
        book: keep an :class:`~kunb.book.OrderBook` per symbol (``/market/level2``).
        ticker: record ``/market/ticker`` ticks into :attr:`ticks`.
        trades: record ``/market/match`` trades into :attr:`trades`.
        stats: follow ``/market/snapshot`` (24 h change and volume for :meth:`snapshot`).
        candles: a candle interval (``"1min"``...) to record into :attr:`candles`, or ``None``.
        window: rows kept by each rolling frame.
        span: time window of the rolling frames, seconds (``None``: rows only).
        top_depth: levels per side of :attr:`tops`, the book-top history.
        top_interval: seconds of book time between two :attr:`tops` rows (``None``: no history).
        snapshot_depth: ``None`` for the full book when credentials are set, else 20 or 100.
        max_buffer: pushes a book keeps while waiting for its snapshot.
        on_book: called as ``on_book(symbol, book)`` after every push or snapshot a book took (renderers,
            tests); it runs on the event loop and must be quick.
        market: a ready :class:`kunb.client.Market` to use instead of creating one (it is not closed).
        snapshots: ``async (symbol) -> level-2 snapshot`` to use instead of :meth:`fetch_snapshot` (replays,
            tests, a notebook panel that reports failures on its badge).
        **ws_options: passed to :class:`kunb.ws_client.KucoinWsClient` (``backoff_base``, ``queue_size``...).
    """

    def __init__(
        self,
        symbols: str | Iterable[str],
        *,
        url: str = "",
        credentials: Credentials | None = None,
        book: bool = True,
        ticker: bool = True,
        trades: bool = True,
        stats: bool = True,
        candles: str | None = None,
        window: int = 10_000,
        span: float | None = None,
        top_depth: int = 10,
        top_interval: float | None = 0.1,
        snapshot_depth: int | None = None,
        max_buffer: int = 10_000,
        on_book: Callable[[str, OrderBook], None] | None = None,
        market: Market | None = None,
        snapshots: Callable[[str], Awaitable[Mapping[str, Any]]] | None = None,
        **ws_options: Any,
    ) -> None:
        self.symbols = [symbols] if isinstance(symbols, str) else list(dict.fromkeys(symbols))
        if not self.symbols:
            raise ConfigurationError("Stream needs at least one symbol")
        if snapshot_depth not in (None, 20, 100):
            raise ConfigurationError(f"snapshot_depth must be None, 20 or 100, not {snapshot_depth!r}")
        self.url = url
        self.credentials = credentials
        self.snapshot_depth = snapshot_depth
        self._full_book = credentials is not None and credentials.is_complete
        self.books: dict[str, OrderBook] = (
            {s: OrderBook(s, max_buffer=max_buffer) for s in self.symbols} if book else {}
        )
        self.ticks: TickerFrame | None = TickerFrame(maxlen=window, span=span) if ticker else None
        self.trades: TradeFrame | None = TradeFrame(maxlen=window, span=span) if trades else None
        self.candles: CandleFrame | None = CandleFrame(maxlen=window, span=span) if candles else None
        self.tops: BookTopFrame | None = (
            BookTopFrame(top_depth, maxlen=window, span=span) if book and top_interval is not None else None
        )
        self.error: BaseException | None = None
        """The latest error met in the background (snapshot fetch, unreadable push, failed start)."""
        self.snapshots_fetched = 0
        self.bad_messages = 0
        self._topics = self._topic_list(book, ticker, trades, stats, candles)
        self._candle_interval = candles
        self._top_interval_ms = None if top_interval is None else top_interval * 1000
        self._top_last: dict[str, float] = {}
        self._on_book = on_book
        self._quotes: dict[str, Mapping[str, Any]] = {}
        self._stats: dict[str, Mapping[str, Any]] = {}
        self._market = market
        self._own_market = market is None
        self._snapshots = snapshots
        self._ws_options = ws_options
        self._client: KucoinWsClient | None = None
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._state = StreamState.NEW
        self._changed = asyncio.Event()  # set on every state change of the stream or a book

    def __repr__(self) -> str:
        books = ", ".join(f"{s}:{b.state.value}" for s, b in self.books.items())
        return f"<Stream {self._state.value} {len(self.symbols)} symbols [{books}]>"

    @staticmethod
    def _topic_list(
        book: bool, ticker: bool, trades: bool, stats: bool, candles: str | None
    ) -> Callable[[list[str]], list[str]]:
        def topics(symbols: list[str]) -> list[str]:
            joined = ",".join(symbols)
            out = []
            if book:
                out.append(f"/market/level2:{joined}")
            if ticker:
                out.append(f"/market/ticker:{joined}")
            if trades:
                out.append(f"/market/match:{joined}")
            if stats:
                out += [f"/market/snapshot:{s}" for s in symbols]
            if candles:
                out += [f"/market/candles:{s}_{candles}" for s in symbols]
            return out

        return topics

    # -- lifecycle (async) ---------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        """The lifecycle state (see :class:`StreamState`)."""
        return self._state

    _label = "stream"
    _NEW, _STARTING, _CLOSED = StreamState.NEW, StreamState.STARTING, StreamState.CLOSED

    async def astart(self) -> Stream:
        """Connect, subscribe to every topic and wait for the acks; the books then sync by themselves.

        Raises:
            SubscribeError, RequestTimeout, TransportError: from the WebSocket client; the stream is
                closed again.
        """
        return await super().astart()

    async def _open(self) -> None:
        from .net.pool import KucoinWsClient
        from .net.rest import Market

        if self._market is None:
            self._market = Market(url=self.url, credentials=self.credentials)
        self._client = await KucoinWsClient.create(
            None, self._market, self._on_message, on_event=self._on_event, **self._ws_options
        )
        await self._client.subscribe(self._topics(self.symbols))

    def _opened(self) -> None:
        self._state = StreamState.RUNNING

    async def aclose(self) -> None:
        """Unsubscribe nothing, close everything: the WebSocket client, snapshot tasks, the REST client.
        Idempotent."""
        self._state = StreamState.CLOSED
        tasks = list(self._fetching.values())
        self._fetching.clear()
        await cancel_and_wait(tasks)
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        market = self._market
        if market is not None and self._own_market:
            self._market = None
            await market.aclose()
        self._signal()

    async def wait_live(self, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the stream runs and every book is live.

        Raises:
            TimeoutError: not live within ``timeout`` seconds.
            ClosedError: the stream closed (``error`` says why, if it failed).
        """
        await self._wait(lambda: self.live, timeout)

    @property
    def live(self) -> bool:
        """True while running with every book in sync."""
        return self._state is StreamState.RUNNING and all(
            b.state is BookState.LIVE for b in self.books.values()
        )

    # start(timeout) / stop(timeout) from sync code (notebook cells, scripts): kunb.runtime.SyncLifecycle

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> pd.DataFrame:
        """One row per symbol: ``price``, ``change_24h`` (rate), ``volume_24h``, ``bid``, ``ask``,
        ``spread``, ``mid``, ``book`` (its state) and ``time`` of the latest tick - what the seed's
        multi-symbol streamer assembles by hand. Bid and ask come from the synchronised book when it is
        live, else from the latest ticker; NaN where nothing has arrived yet."""
        import pandas as pd

        rows = []
        for symbol in self.symbols:
            quote = self._quotes.get(symbol, {})
            stats = self._stats.get(symbol, {})
            book = self.books.get(symbol)
            bid = ask = None
            if book is not None and book.state is BookState.LIVE:
                bid, ask = book.best_bid, book.best_ask
            if bid is None:
                bid = _num(quote.get("bestBid"))
            if ask is None:
                ask = _num(quote.get("bestAsk"))
            bid = math.nan if bid is None else bid
            ask = math.nan if ask is None else ask
            price = _num(quote.get("price"))
            if price is None:
                price = _num(stats.get("lastTradedPrice"))
            stamp = quote.get("time")
            rows.append(
                {
                    "symbol": symbol,
                    "price": math.nan if price is None else price,
                    "change_24h": _num(stats.get("changeRate"), math.nan),
                    "volume_24h": _num(stats.get("vol"), math.nan),
                    "bid": bid,
                    "ask": ask,
                    "spread": ask - bid,
                    "mid": (ask + bid) / 2,
                    "book": book.state.value if book is not None else "off",
                    "time": pd.NaT if stamp is None else pd.Timestamp(int(stamp), unit="ms", tz="UTC"),
                }
            )
        frame = pd.DataFrame(rows).set_index("symbol")
        frame["book"] = frame["book"].astype("category")
        return frame

    @property
    def connection(self) -> KucoinWsClient | None:
        """The WebSocket client (state, counters, connections), while running."""
        return self._client

    # -- routing -------------------------------------------------------------------------------

    @property
    def topics(self) -> list[str]:
        """The topics this stream subscribes (one per channel; ``/market/snapshot`` one per symbol)."""
        return self._topics(self.symbols)

    def last_ticker(self, symbol: str) -> Mapping[str, Any]:
        """The latest ``/market/ticker`` payload of ``symbol`` (empty before the first)."""
        return self._quotes.get(symbol, {})

    def last_stats(self, symbol: str) -> Mapping[str, Any]:
        """The latest 24 h statistics of ``symbol`` from ``/market/snapshot`` (empty before the first)."""
        return self._stats.get(symbol, {})

    def _on_message(self, message: Mapping[str, Any]) -> None:
        """Route one pushed message (as the WebSocket client delivers it) into the books and frames.

        The WebSocket client calls this; the notebook panels' feeds and recorded replays call it as
        :meth:`ingest`, so every source reaches the DataFrames through the same code. An unreadable push
        is counted in :attr:`bad_messages` and kept in :attr:`error`, never raised.
        """
        topic = message.get("topic", "")
        prefix, _, arg = topic.partition(":")
        if arg == "all":  # /market/ticker:all names the symbol in the subject (kucoin-protocol.md 1.6)
            arg = message.get("subject", "")
        data = message.get("data")
        try:
            if prefix == "/market/level2":
                self._on_level2(arg, data)
            elif prefix == "/market/ticker":
                if self.ticks is not None:
                    self.ticks.add(data, arg)
                self._quotes[arg] = data
            elif prefix == "/market/match":
                if self.trades is not None:
                    self.trades.add(data)
            elif prefix == "/market/snapshot":
                self._stats[arg] = data.get("data", data)
            elif prefix == "/market/candles" and self.candles is not None:
                self.candles.add(data, arg.rpartition("_")[2])
        except (ProtocolError, AttributeError, TypeError) as exc:
            self.bad_messages += 1
            self.error = exc
            logger.debug("kunb Stream skipped an unreadable %s push: %r", prefix, exc)

    ingest = _on_message

    def _on_level2(self, symbol: str, data: Mapping[str, Any]) -> None:
        book = self.books.get(symbol)
        if book is None:
            return
        was = book.state
        try:
            book.on_push(data)
        finally:
            self._after_book(symbol, book, was)

    def _after_book(self, symbol: str, book: OrderBook, was: BookState) -> None:
        state = book.state
        if state is BookState.LIVE:
            self._record_top(symbol, book)
        elif symbol not in self._fetching and self._state is not StreamState.CLOSED:
            loop = self._loop or running_loop()  # a stream fed through ingest() runs on its caller's loop
            if loop is not None:
                self._fetching[symbol] = loop.create_task(self._sync(symbol), name=f"kunb-book-{symbol}")
        if state is not was:
            self._signal()
        hook = self._on_book
        if hook is not None:
            hook(symbol, book)

    def _record_top(self, symbol: str, book: OrderBook) -> None:
        tops = self.tops
        stamp = book.time
        if tops is None or stamp is None:
            return
        last = self._top_last.get(symbol)
        if last is None or stamp - last >= self._top_interval_ms:  # type: ignore[operator]
            self._top_last[symbol] = stamp
            tops.add_book(book, int(stamp) * _MS)

    async def _sync(self, symbol: str) -> None:
        """Fetch snapshots for ``symbol`` until its book is live (kucoin-protocol.md 3, steps 2-4)."""
        book = self.books[symbol]
        delay, longest = _SNAPSHOT_RETRY
        try:
            while book.needs_snapshot and self._state is not StreamState.CLOSED:
                try:
                    snapshot = await self._fetch(symbol)
                except KunbError as exc:  # REST down, rate limit, bad answer: try again later
                    self.error = exc
                    logger.info("kunb Stream: snapshot of %s failed: %r", symbol, exc)
                except Exception as exc:  # a custom ``snapshots=`` fetcher may raise anything: same retry
                    self.error = exc
                    logger.warning("kunb Stream: snapshot fetcher for %s raised", symbol, exc_info=True)
                else:
                    self.snapshots_fetched += 1
                    was = book.state
                    try:
                        book.on_snapshot(snapshot)
                    except ProtocolError as exc:
                        self.error = exc
                    if not book.needs_snapshot:
                        self._top_last.pop(symbol, None)
                        self._fetching.pop(symbol, None)
                        self._after_book(symbol, book, was)
                        return
                    self._signal()
                # A stale snapshot needs newer pushes first; a failure needs time. Back off either way.
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
        finally:
            if self._fetching.get(symbol) is asyncio.current_task():
                del self._fetching[symbol]

    async def _fetch(self, symbol: str) -> Mapping[str, Any]:
        if self._snapshots is not None:
            return await self._snapshots(symbol)
        return await self.fetch_snapshot(symbol)

    async def fetch_snapshot(self, symbol: str) -> Mapping[str, Any]:
        """The REST level-2 snapshot a book of this stream syncs from: the full (signed, v3) book with
        credentials, else ``level2_100`` (or ``level2_20``, see ``snapshot_depth``); kucoin-protocol.md 3.

        Raises:
            KunbError: the request failed (the book sync retries with backoff); ClosedError when closed.
        """
        market = self._market
        if market is None:
            if self._state is StreamState.CLOSED:
                raise ClosedError("the Stream is closed")
            from .net.rest import Market

            # a Stream fed through ingest() was never started: its REST client starts with its first fetch
            market = self._market = Market(url=self.url, credentials=self.credentials)
        if self.snapshot_depth is None and self._full_book:
            try:
                return await market.aget_aggregated_orderv3(symbol)  # type: ignore[no-any-return]
            except AuthenticationError as exc:
                # The key cannot read the v3 book (no "General" permission, wrong passphrase...): the
                # public level2_100 snapshot still syncs the book, exact within its depth.
                self._full_book = False
                self.error = exc
                logger.warning("kunb Stream: full book refused (%s); using level2_100 snapshots", exc)
        return await market.aget_part_order(self.snapshot_depth or 100, symbol)  # type: ignore[no-any-return]

    def _on_event(self, event: LifecycleEvent) -> None:
        from .net.connection import EventKind

        if event.kind is EventKind.DISCONNECTED and self._client is not None:
            # Pushes were lost with the link: the books it carried cannot be trusted until resynced.
            for symbol, book in self.books.items():
                conn = self._client.connection_of(f"/market/level2:{symbol}")
                if conn is not None and conn.name == event.connection and book.state is BookState.LIVE:
                    book.resync()
                    self._signal()
        elif event.kind is EventKind.CLOSED and event.error is not None:
            self.error = event.error
            self._signal()

    def _signal(self) -> None:
        self._changed.set()


def _num(value: Any, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
