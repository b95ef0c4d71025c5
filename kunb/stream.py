"""``Stream``: the one driver of market data. Events in, books and rolling frames kept, sinks told.

``Stream`` is the object a notebook user holds::

    s = kunb.Stream(["BTC-USDT", "ETH-USDT"]).start()   # returns at once, also in a plain cell
    s.snapshot()                  # per symbol: price, change_24h, volume_24h, bid, ask, spread ...
    s.books["BTC-USDT"].df        # the synchronised level-2 book (kunb.model.book.OrderBook)
    s.ticks.df, s.trades.df       # rolling DataFrames (kunb.model.rolling)
    s.stop()

or, in async code, ``async with kunb.Stream([...]) as s: await s.wait_live()``.

Its data comes from a *source* (:mod:`kunb.sources`: a live protocol, or a recording): every frame is
decoded once by the source's decoder into :mod:`kunb.events` and routed here into the order books and
rolling frames, then handed to the sinks (:meth:`Stream.add_sink`: panels, the recorder, user callbacks).
This is the only place that keeps a book in sync: a book that needs a snapshot (first sync, gap, crossed
book, a dropped link that carried it) gets one from the source in a task of its own, retried along the
one backoff policy (:mod:`kunb.net.backoff`), while its deltas keep buffering (order-book sync in
``classic-protocol.md#order-book-sync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .events import BookDelta, BookSnapshot, Candle, Event, Integrity, Stats, SymbolInfo, Tick, Trade
from .exceptions import (
    ClosedError,
    ConfigurationError,
    KunbError,
    ProtocolError,
    SubscribeError,
    case_hint,
)
from .model.book import BookState, OrderBook
from .model.rolling import BookTopFrame, CandleFrame, TickerFrame, TradeFrame
from .net.backoff import backoff, retryable
from .protocol.symbols import symbol_list
from .record import recording_for  # no pyarrow until a recording is opened
from .runtime import SyncLifecycle, cancel_and_wait, running_loop
from .signing import Credentials
from .sources.base import LinkChange, LinkStatus, MarketChannels, MarketSource, Tapped
from .sources.classic import ClassicMarketSource, SnapshotFetcher
from .sources.uta import UtaMarketSource

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .net.rest import Market
    from .record.session import Recording

__all__ = ["Sink", "Stream", "StreamState"]

logger = logging.getLogger(__name__)

_LIVE = BookState.LIVE
_now_ns = time.time_ns

_SNAPSHOT_RETRY = (0.05, 2.0)  # first and longest wait between snapshot attempts, seconds
_SOCKET_SNAPSHOT_WAIT = 20.0  # seconds to wait for a snapshot the source sends on the socket
_LISTING_WAIT = 5.0  # seconds a refused start waits for the symbol list to name the unknown symbols

#: ``sink(event)``: called on the event loop for every event the stream applied (keep it quick)
Sink = Callable[[Event], Any]
#: ``listener(frame)``: called with every frame as the exchange sent it, after its events were applied
FrameListener = Callable[[Mapping[str, Any]], Any]


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


class Stream(SyncLifecycle[StreamState]):
    """Live market data of several symbols, kept in order books and rolling frames.

    Args:
        symbols: ``"BTC-USDT"`` or a list of symbols.
        url: the exchange's REST base URL (``kunb.sim``'s ``ex.url``); empty: ``$KUNB_URL``, else KuCoin.
        credentials: used only to fetch *full* level-2 snapshots (KuCoin's v3 book is signed); without
            them the books sync from the public ``level2_100`` snapshot and are exact within its depth.
        book: keep an :class:`~kunb.model.book.OrderBook` per symbol.
        ticker: record ticks into :attr:`ticks`.
        trades: record trades into :attr:`trades`.
        stats: follow 24 h statistics (change and volume for :meth:`snapshot`).
        candles: a candle interval (``"1min"``...) to record into :attr:`candles`, or ``None``.
        window: rows kept by each rolling frame.
        span: time window of the rolling frames, seconds (``None``: rows only).
        top_depth: levels per side of :attr:`tops`, the book-top history.
        top_interval: seconds of book time between two :attr:`tops` rows (``None``: no history, ``0``: a row
            after every applied delta).
        snapshot_depth: ``None`` for the full book when credentials are set, else 20 or 100.
        max_buffer: deltas a book keeps while waiting for its snapshot.
        open_timeout: seconds :meth:`astart` waits for the subscription before it fails (``None``: until
            the exchange is reached, while the connection keeps redialing; :attr:`link` says why not).
        extra_topics: protocol topics subscribed as they are; their frames reach the frame listeners
            (:meth:`add_frame_listener`) but no book or frame.
        protocol: ``"classic"`` (default) or ``"uta"``: which of KuCoin's WebSocket protocols to speak
            (``docs/howto/protocols.md``). UTA takes these extra options (:class:`kunb.sources.uta.
            UtaMarketSource`): ``depth`` (``"increment@10ms"`` by default, ``"1"``, ``"5"``, ``"50"``, or
            the deprecated ``"increment"``), ``ws_url`` (the public UTA host; ``$KUNB_UTA_URL``),
            ``snapshot_limit`` and ``snapshot_version`` (the ``increment`` depth's REST snapshot),
            ``ping_style``. UTA has no 24 h statistics channel: ``stats`` is ignored there.
        source: a ready :class:`~kunb.sources.base.MarketSource` (a recording, another protocol) instead
            of the classic protocol at ``url``.
        market: a ready :class:`kunb.client.Market` for REST snapshots (it is not closed).
        snapshots: ``async (symbol) -> REST level-2 answer`` to use instead of REST (tests, replays).
        record_to: a directory to record to (both layers, :class:`kunb.record.Recording`, written by a
            process of its own for a live source; closed with the stream), or a
            :class:`~kunb.record.Recording` shared with other drivers (left open). See :meth:`record`.
        **ws_options: passed to :class:`kunb.ws_client.KucoinWsClient` (``backoff_base``, ``queue_size``...).

    Raises:
        ConfigurationError: ``symbols`` is not a symbol or a list of them (a number, a topic, one string
            of comma-joined symbols...); an unknown protocol, or an option the protocol does not take;
            another recorder writes to ``record_to``.
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
        open_timeout: float | None = 10.0,
        extra_topics: Iterable[str] = (),
        protocol: str = "classic",
        source: MarketSource | None = None,
        market: Market | None = None,
        snapshots: SnapshotFetcher | None = None,
        record_to: str | os.PathLike[str] | Recording | None = None,
        **ws_options: Any,
    ) -> None:
        self.symbols = symbol_list(symbols)
        extra = tuple(extra_topics)
        if not self.symbols and not extra:
            raise ConfigurationError("Stream needs at least one symbol")
        if source is not None:
            ignored = [name for name, value in (("url", url), ("credentials", credentials),
                       ("snapshot_depth", snapshot_depth), ("market", market), ("snapshots", snapshots))
                       if value] + sorted(ws_options)  # fmt: skip
            if ignored:
                raise ConfigurationError(f"with source= the source decides; drop {', '.join(ignored)}")
        elif protocol == "uta":
            if snapshot_depth is not None or market is not None:
                raise ConfigurationError(
                    "snapshot_depth and market are classic options; UTA takes depth= and snapshot_limit="
                )
            source = UtaMarketSource(url=url, credentials=credentials, snapshots=snapshots, **ws_options)
        elif protocol == "classic":
            source = ClassicMarketSource(
                url=url,
                credentials=credentials,
                snapshot_depth=snapshot_depth,
                market=market,
                snapshots=snapshots,
                **ws_options,
            )
        else:
            raise ConfigurationError(f"protocol must be 'classic' or 'uta', not {protocol!r}")
        self.source: MarketSource = source
        self.url = source.url
        self.credentials = credentials
        self.channels = MarketChannels(tuple(self.symbols), book, ticker, trades, stats, candles, extra)
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
        self.symbol_info: dict[str, SymbolInfo] = {}
        """Per symbol, its price and size increments from the exchange's symbol list (asked once at the
        start, in the background): :meth:`snapshot` rounds to them. Empty until known, or when the source
        cannot tell (then numbers are shown as computed)."""
        self.snapshots_fetched = 0
        self.snapshot_errors: dict[str, BaseException] = {}
        """Per symbol, why its book's latest snapshot attempt failed (cleared when one succeeds)."""
        self.bad_messages = 0
        self.link = LinkStatus.CONNECTING
        """What the source's links are doing (``live``, ``down``, ``unreachable``...)."""
        self.link_detail = ""
        """Why, when the links are not live (the cause of the latest failed dial or drop)."""
        self._open_timeout = open_timeout
        self._top_interval_ns = None if top_interval is None else int(top_interval * 1e9)
        self._top_last: dict[str, int] = {}
        self._ticks: dict[str, Tick] = {}
        self._stats: dict[str, Stats] = {}
        self._sinks: list[Sink] = []
        self._integrity_sinks: list[Sink] = []  # told of the stream's own events only (a writer process)
        self._frame_listeners: list[FrameListener] = []
        self._decode = source.decoder.decode
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._stats_task: asyncio.Task[None] | None = None
        self._listing: asyncio.Task[dict[str, SymbolInfo | None]] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._socket_snapshots: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._state = StreamState.NEW
        self._changed = asyncio.Event()  # set on every state change of the stream, its link or a book
        self.recording: Recording | None = None
        """Where this stream records to (:meth:`record`), or ``None``."""
        self._owns_recording = False
        if record_to is not None:
            self.record(record_to)

    def __repr__(self) -> str:
        books = ", ".join(f"{s}:{b.state.value}" for s, b in self.books.items())
        return f"<Stream {self._state.value} {self.source.protocol} {len(self.symbols)} symbols [{books}]>"

    # -- lifecycle (async) ---------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        """The lifecycle state (see :class:`StreamState`)."""
        return self._state

    _label = "stream"
    _NEW, _STARTING, _CLOSED = StreamState.NEW, StreamState.STARTING, StreamState.CLOSED

    async def astart(self) -> Stream:
        """Connect, subscribe to every channel and wait for the acks; the books then sync by themselves.

        Raises:
            SubscribeError: the exchange refused a subscription; when it does not list some of the symbols,
                the error names them (``.symbols``) rather than the topic that joined them.
            RequestTimeout, TransportError: from the connection; the stream is closed again.
        """
        return await super().astart()

    async def _open(self) -> None:
        if self.symbols:  # beside the connection: increments for snapshot(), names for a refusal
            loop = asyncio.get_running_loop()
            self._listing = loop.create_task(self._list_symbols(), name="kunb-stream-symbols")
        try:
            await self.source.open(self.channels, self._on_frame, self._on_link, within=self._open_timeout)
        except SubscribeError as exc:
            # KuCoin refuses a joined topic (/market/level2:BTC-USDT,FOO-BAR) as a whole: name the symbol
            unlisted = await self._unlisted()
            if not unlisted:
                raise
            names = ", ".join(unlisted)
            what = "is not a symbol" if len(unlisted) == 1 else "are not symbols"
            text = (
                f"{names} {what} of the exchange at {self.url} (not in its symbol list){case_hint(unlisted)}"
            )
            raise SubscribeError(exc.code, text, unlisted) from exc

    async def _list_symbols(self) -> dict[str, SymbolInfo | None]:
        try:
            listed = await self.source.symbols(self.symbols)
        except KunbError as exc:
            logger.info("kunb Stream: no symbol list (%r); numbers are shown unrounded", exc)
            return {}
        self.symbol_info.update({s: info for s, info in listed.items() if info is not None})
        return listed

    async def _unlisted(self) -> tuple[str, ...]:
        """The stream's symbols the exchange does not list (``()`` when its list cannot tell in time)."""
        listing = self._listing
        if listing is None:
            return ()
        try:
            async with asyncio.timeout(_LISTING_WAIT):
                listed = await asyncio.shield(listing)
        except TimeoutError:
            return ()
        return tuple(s for s in self.symbols if s in listed and listed[s] is None)

    def _opened(self) -> None:
        self._state = StreamState.RUNNING
        for symbol, book in self.books.items():
            if book.needs_snapshot:
                self._want_snapshot(symbol)
        if self.channels.stats and self._loop is not None:
            self._stats_task = self._loop.create_task(self._seed_stats(), name="kunb-stream-stats")

    async def _seed_stats(self) -> None:
        """24 h statistics from REST, so :meth:`snapshot` has them before the first push (every 2 s)."""
        for symbol in self.symbols:
            if symbol in self._stats:
                continue
            try:
                stats = await self.source.stats(symbol)
            except KunbError as exc:  # shown once the first push comes
                logger.info("kunb Stream: 24 h stats of %s unavailable: %r", symbol, exc)
                continue
            if stats is not None and symbol not in self._stats:
                self.apply(stats)

    async def aclose(self) -> None:
        """Close everything: the source's connections and clients, snapshot tasks. Idempotent."""
        self._state = StreamState.CLOSED
        tasks: list[asyncio.Task[Any] | None] = [*self._fetching.values(), self._stats_task, self._listing]
        self._fetching.clear()
        self._stats_task = self._listing = None
        await cancel_and_wait(t for t in tasks if t is not None)
        await self.source.close()
        owned, self._owns_recording = self._owns_recording, False
        if owned and self.recording is not None:
            await self.recording.aclose()  # after the source: the last frames and the closes are on record
        self._signal()

    async def wait_live(self, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the stream runs and every book is live.

        Raises:
            TimeoutError: not live within ``timeout`` seconds.
            ClosedError: the stream closed (``error`` says why, if it failed).
        """
        await self._wait(lambda: self.live, timeout)

    async def wait_for(self, predicate: Callable[[Stream], bool], timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate(self)`` holds; checked after every frame and every change of the stream,
        its link or a book. Await it on the loop the stream runs on.

        Raises:
            TimeoutError: it did not hold within ``timeout`` seconds.
            ClosedError: the stream is closed or was never started.
        """
        await self._wait(lambda: predicate(self), timeout)

    @property
    def live(self) -> bool:
        """True while running with every book in sync."""
        return self._state is StreamState.RUNNING and all(
            b.state is BookState.LIVE for b in self.books.values()
        )

    # start(timeout) / stop(timeout) from sync code (notebook cells, scripts): kunb.runtime.SyncLifecycle

    # -- sinks ---------------------------------------------------------------------------------

    def add_sink(self, sink: Sink) -> None:
        """Call ``sink(event)`` for every event after the stream applied it (books and frames are up to
        date when it runs), :class:`~kunb.events.Integrity` events included. It runs on the event loop and
        must be quick; an exception it raises is logged and does not stop the stream."""
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Stop calling ``sink`` (unknown sinks are ignored)."""
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def record(self, target: str | os.PathLike[str] | Recording) -> Recording:
        """Record this stream from its first frame: its normalized events (a sink) and, when the source
        takes a wire tap (the live protocols do), every frame and REST answer as the raw layer, which
        :func:`kunb.replay` replays. Call it before starting; ``record_to=`` does the same.

        ``target``: a directory (a :class:`~kunb.record.Recording` is opened there and closed with the
        stream) or a Recording shared with other drivers (the caller closes it).

        Raises:
            ConfigurationError: the stream has started (a recording needs the connection from its first
                frame: the subscriptions and the snapshots), it records already, or another recorder
                writes to the directory.
        """
        if self._state is not StreamState.NEW:
            raise ConfigurationError(
                "record before starting: a replayable recording needs the connection from its first frame"
            )
        if self.recording is not None:
            raise ConfigurationError(f"this stream records to {self.recording.out} already")
        recording, owned = recording_for(target, tappable=isinstance(self.source, Tapped))
        if recording.process:  # it rebuilds the frames' events itself: only the stream's own go there
            self._integrity_sinks.append(recording.sink)
        else:
            self.add_sink(recording.sink)
        if isinstance(self.source, Tapped):  # the live sources take a tap; a replay has no wire to tap
            self.source.wire = recording.tap
        self.recording, self._owns_recording = recording, owned
        return recording

    def add_frame_listener(self, listener: FrameListener) -> None:
        """Call ``listener(frame)`` with every data frame as the exchange sent it, after its events were
        applied (KuCoin's SDK-style consumers; see :mod:`kunb.compat.blocking`)."""
        self._frame_listeners.append(listener)

    def remove_frame_listener(self, listener: FrameListener) -> None:
        with contextlib.suppress(ValueError):
            self._frame_listeners.remove(listener)

    # -- reads ---------------------------------------------------------------------------------

    def snapshot(self) -> pd.DataFrame:
        """One row per symbol: ``price``, ``change_24h`` (rate), ``volume_24h``, ``bid``, ``ask``,
        ``spread``, ``mid``, ``book`` (its state) and ``time`` of the latest tick - what the seed's
        multi-symbol streamer assembles by hand. Bid and ask come from the synchronised book when it is
        live, else from the latest tick; NaN where nothing has arrived yet.

        Made for people to read: prices and the spread are rounded to the symbol's price increment, the
        volume to its size increment, the mid to one more decimal (:attr:`symbol_info`; as computed while
        the increments are not known). The frames (:attr:`ticks`, :attr:`books`...) keep raw floats."""
        import pandas as pd

        nan = math.nan
        rows = []
        for symbol in self.symbols:
            tick = self._ticks.get(symbol)
            stats = self._stats.get(symbol)
            book = self.books.get(symbol)
            bid = ask = None
            if book is not None and book.state is BookState.LIVE:
                bid, ask = book.best_bid, book.best_ask
            if bid is None:
                bid = tick.best_bid if tick is not None else nan
            if ask is None:
                ask = tick.best_ask if tick is not None else nan
            price = tick.price if tick is not None else nan
            if math.isnan(price) and stats is not None:
                price = stats.last
            volume = stats.volume if stats is not None else nan
            spread, mid = ask - bid, (ask + bid) / 2
            info = self.symbol_info.get(symbol)
            if info is not None:  # float noise (0.5999999999912689) is not what people should read
                price, bid, ask, spread = (
                    info.price(price),
                    info.price(bid),
                    info.price(ask),
                    info.price(spread),
                )
                volume, mid = info.size(volume), round(mid, info.price_decimals + 1)
            rows.append(
                {
                    "symbol": symbol,
                    "price": price,
                    "change_24h": stats.change_rate if stats is not None else nan,
                    "volume_24h": volume,
                    "bid": bid,
                    "ask": ask,
                    "spread": spread,
                    "mid": mid,
                    "book": book.state.value if book is not None else "off",
                    "time": pd.NaT if tick is None else pd.Timestamp(tick.time_ns, unit="ns", tz="UTC"),
                }
            )
        frame = pd.DataFrame(rows).set_index("symbol")
        frame["book"] = frame["book"].astype("category")
        return frame

    def last_tick(self, symbol: str) -> Tick | None:
        """The latest :class:`~kunb.events.Tick` of ``symbol`` (``None`` before the first)."""
        return self._ticks.get(symbol)

    def last_stats(self, symbol: str) -> Stats | None:
        """The latest 24 h :class:`~kunb.events.Stats` of ``symbol`` (``None`` before the first)."""
        return self._stats.get(symbol)

    @property
    def topics(self) -> list[str]:
        """The source's topics for this stream's channels."""
        return self.source.topics(self.channels)

    @property
    def connection(self) -> Any:
        """The source's client (state, counters, connections), while running."""
        return self.source.connection_detail()

    @property
    def protocol(self) -> str:
        """Which protocol the data comes over: ``classic``, ``uta`` (or ``replay``)."""
        return self.source.protocol

    # -- events in -----------------------------------------------------------------------------

    def _on_frame(self, frame: Mapping[str, Any]) -> None:
        """Decode one data frame (the source's decoder) and apply its events: the hot path."""
        try:
            events = self._decode(frame, _now_ns())
        except ProtocolError as exc:
            self._bad_message(exc)
            return
        self._route(events)
        if self._frame_listeners:
            for listener in self._frame_listeners:
                listener(frame)
        self._changed.set()  # wait_for() looks again (a no-op while nobody waits)

    ingest = _on_frame
    """Apply one data frame from elsewhere (a recording, a test) through the source's decoder."""

    def apply(self, event: Event) -> None:
        """Apply one event from elsewhere (a recording of normalized events, a test)."""
        self._route((event,))

    def _route(self, events: Iterable[Event]) -> None:
        """Apply events to the books and frames, then tell the sinks; inlined for the frequent kinds."""
        # Dispatch on the exact class (cheaper than isinstance here); mypy does not narrow on __class__,
        # hence the ignores below.
        for event in events:
            kind = event.__class__
            if kind is BookDelta:
                book = self.books.get(event.symbol)  # type: ignore[union-attr]
                if book is not None:
                    was = book.state
                    if book.on_delta(event) is not _LIVE or was is not _LIVE:  # type: ignore[arg-type]
                        self._book_changed(book, was)
                    elif self._top_interval_ns is not None:  # _record_top, inlined: every live delta
                        stamp = event.time_ns  # type: ignore[union-attr]  # the book's time now
                        last = self._top_last.get(book.symbol)
                        if last is None or stamp - last >= self._top_interval_ns:
                            self._record_top(book)
            elif kind is Tick:
                self._ticks[event.symbol] = event  # type: ignore[union-attr,assignment]
                if self.ticks is not None:
                    self.ticks.add(event)  # type: ignore[arg-type]
            elif kind is Trade:
                if self.trades is not None:
                    self.trades.add(event)  # type: ignore[arg-type]
            else:
                self._apply_other(event)
            for sink in self._sinks:
                try:
                    sink(event)
                except Exception:
                    logger.exception("kunb Stream: a sink raised (ignored)")

    def _apply_other(self, event: Event) -> None:
        kind = event.__class__  # exact-class dispatch, as in _route (hence the ignores)
        if kind is BookSnapshot:
            book = self.books.get(event.symbol)  # type: ignore[union-attr]
            if book is not None:
                self._load_snapshot(book, event)  # type: ignore[arg-type]
        elif kind is Stats:
            self._stats[event.symbol] = event  # type: ignore[union-attr,assignment]
        elif kind is Candle and self.candles is not None:
            self.candles.add(event)  # type: ignore[arg-type]

    def _bad_message(self, exc: ProtocolError) -> None:
        self.bad_messages += 1
        self.error = exc
        logger.debug("kunb Stream skipped an unreadable push: %r", exc)
        self._emit(Integrity("bad_message", "", str(exc), None, time.time_ns()))

    def _emit(self, event: Event) -> None:
        """Tell the sinks of an event of the stream's own (an :class:`~kunb.events.Integrity` event)."""
        for sink in (*self._sinks, *self._integrity_sinks):
            try:
                sink(event)
            except Exception:
                logger.exception("kunb Stream: a sink raised (ignored)")

    # -- books ---------------------------------------------------------------------------------

    def _load_snapshot(self, book: OrderBook, snapshot: BookSnapshot) -> None:
        was = book.state
        book.on_snapshot(snapshot)
        if not book.needs_snapshot:
            self._top_last.pop(book.symbol, None)
            waiter = self._socket_snapshots.get(book.symbol)
            if waiter is not None:
                waiter.set()
        self._book_changed(book, was)

    def _book_changed(self, book: OrderBook, was: BookState) -> None:
        state = book.state
        if state is BookState.LIVE:
            if self.tops is not None:
                self._record_top(book)
        else:
            if was is BookState.LIVE:
                stats = book.stats
                reason = stats.last_reason.value if stats.last_reason is not None else "resync"
                self._emit(
                    Integrity(reason, book.symbol, "book dropped", stats.last_sequence, time.time_ns())
                )
            self._want_snapshot(book.symbol)
        if state is not was:
            self._signal()

    def _record_top(self, book: OrderBook) -> None:
        stamp = book.time_ns
        tops, interval = self.tops, self._top_interval_ns  # both set, or neither (top_interval=None)
        if stamp is None or tops is None or interval is None:
            return
        symbol = book.symbol
        last = self._top_last.get(symbol)
        if last is None or stamp - last >= interval:
            self._top_last[symbol] = stamp
            tops.add_book(book, stamp)

    def _want_snapshot(self, symbol: str) -> None:
        if symbol in self._fetching or self._state is StreamState.CLOSED:
            return
        loop = self._loop or running_loop()  # a stream fed through ingest() runs on its caller's loop
        if loop is not None:
            self._fetching[symbol] = loop.create_task(self._sync(symbol), name=f"kunb-book-{symbol}")

    async def _sync(self, symbol: str) -> None:
        """Get snapshots for ``symbol`` until its book is live (order-book sync, steps 2-4)."""
        book = self.books[symbol]
        delays = backoff(*_SNAPSHOT_RETRY)
        try:
            while book.needs_snapshot and self._state is not StreamState.CLOSED:
                try:
                    snapshot = await self.source.snapshot(symbol)
                except Exception as exc:
                    self.error = self.snapshot_errors[symbol] = exc
                    self._emit(Integrity("snapshot_failed", symbol, str(exc), None, time.time_ns()))
                    self._signal()
                    if not retryable(exc):  # an unknown symbol, refused credentials: say so, stop trying
                        logger.warning("kunb Stream: no snapshot of %s: %r", symbol, exc)
                        return
                    logger.info("kunb Stream: snapshot of %s failed: %r", symbol, exc)
                else:
                    self.snapshot_errors.pop(symbol, None)
                    self._note_workaround(symbol)
                    if snapshot is None:  # it comes on the socket (a resubscribe): wait for it
                        await self._socket_snapshot(symbol)
                    else:
                        self.snapshots_fetched += 1
                        self._route((snapshot,))  # like a pushed one: the sinks (a recorder) see it
                        if not book.needs_snapshot:
                            return
                # A stale snapshot needs newer deltas first; a failure needs time. Back off either way.
                if book.needs_snapshot:
                    await asyncio.sleep(next(delays))
        finally:
            if self._fetching.get(symbol) is asyncio.current_task():
                del self._fetching[symbol]

    def _note_workaround(self, symbol: str) -> None:
        """Report what the source worked around (a refused full book: exact only within its depth)."""
        noted = self.source.worked_around
        if noted is not None:
            self.source.worked_around = None
            self.error = noted
            self._emit(Integrity("degraded", symbol, str(noted), None, time.time_ns()))

    async def _socket_snapshot(self, symbol: str) -> None:
        waiter = self._socket_snapshots.setdefault(symbol, asyncio.Event())
        waiter.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SOCKET_SNAPSHOT_WAIT):
                await waiter.wait()

    async def fetch_snapshot(self, symbol: str) -> BookSnapshot | None:
        """A book snapshot of ``symbol`` from the source, as the books sync from (``None``: the source
        sends it on the socket).

        Raises:
            KunbError: the request failed; ClosedError when the stream is closed.
        """
        if self._state is StreamState.CLOSED:
            raise ClosedError("the Stream is closed")
        return await self.source.snapshot(symbol)

    # -- links ---------------------------------------------------------------------------------

    def _on_link(self, change: LinkChange) -> None:
        status = change.status
        now = time.time_ns()
        if status is LinkStatus.SILENT:  # one topic, not the link: the link stays what it was
            symbol = change.symbols[0] if change.symbols else ""
            self._emit(Integrity("silent", symbol, f"{change.detail} sent nothing since its ack", None, now))
            self._signal()
            return
        if status is not LinkStatus.OVERFLOW:  # first, so sinks told of the change read the new link
            self.link = LinkStatus.LIVE if status is LinkStatus.RESTORED else status
            self.link_detail = "" if self.link is LinkStatus.LIVE else change.detail
        if status is LinkStatus.DOWN:
            # Pushes were lost with the link: the books it carried cannot be trusted until resynced.
            symbols = change.symbols or tuple(self.books)
            for symbol in symbols:
                book = self.books.get(symbol)
                if book is not None and book.state is BookState.LIVE:
                    book.resync()
                    self._book_changed(book, BookState.LIVE)
            self._emit(Integrity("outage", "", change.detail, None, now))
        elif status is LinkStatus.RESTORED:
            self._emit(Integrity("reconnected", "", change.detail, None, now))
        elif status is LinkStatus.OVERFLOW:
            self._emit(Integrity("overflow", "", change.detail, None, now))
        elif status is LinkStatus.CLOSED:
            # Fatal (refused credentials...): the source will not reconnect, so the stream ends too.
            self.error = change.error
            if self._loop is not None and self._state is not StreamState.CLOSED:
                self._state = StreamState.CLOSED
                self._closing = self._loop.create_task(self.aclose(), name="kunb-stream-close")
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
