"""Account: one API key's balances and orders, live from private pushes, re-seeded from REST after outages.

::

    acct = kunb.Account(credentials).start()   # returns at once in a notebook cell; waits in a script
    acct.balances            # DataFrame: (currency, type) -> total, available, hold, source, time
    acct.orders              # DataFrame: order_id -> latest state, cumulative deal_size / deal_funds
    acct.balance_events.df   # the pushes themselves, in bounded rolling frames (kunb.rolling)
    acct.order_events.df
    acct.counters            # pushes, duplicates, seeds, reseeds, corrections ...
    acct.stop()

or ``async with kunb.Account(credentials) as acct: ...`` in async code.

The one driver of private data: every frame is decoded once by its source's decoder
(:mod:`kunb.sources`) into :mod:`kunb.events`, applied to :class:`~kunb.model.holdings.Holdings` and the
event frames, then handed to the sinks (:meth:`Account.add_sink`).

KuCoin does not replay private pushes: whatever happened while the link was down is lost to the
WebSocket. So after every reconnect, once the topics are subscribed again, this re-seeds balances, open
orders, orders finished during the outage and every order still believed open that the exchange no longer
lists as active. :class:`~kunb.model.holdings.Holdings` merges those answers with the pushes that keep
arriving, so a slow REST answer never overwrites a newer push and nothing lost in the outage stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .events import BalanceChange, Event, Integrity, OrderEvent
from .exceptions import ClosedError, ConfigurationError, KunbError, ProtocolError
from .model.holdings import Balance, Holdings, Order, OrderUpdate
from .model.rolling import BalanceFrame, OrderEventFrame
from .net.backoff import backoff, retryable
from .record import recording_for  # no pyarrow until a recording is opened
from .runtime import SyncLifecycle, cancel_and_wait
from .signing import Credentials
from .sources.base import AccountSource, LinkChange, LinkStatus, Tapped
from .sources.classic import BALANCE_TOPIC, ORDERS_TOPIC, ClassicAccountSource
from .sources.uta import UtaAccountSource

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .record.session import Recording

__all__ = ["BALANCE_TOPIC", "ORDERS_TOPIC", "Account", "AccountCounters", "AccountSink", "AccountState"]

logger = logging.getLogger(__name__)

_OUTAGE_MARGIN_MS = 60_000  # look this far before the drop for orders that finished in the outage (skew)
_RETRY = (0.1, 5.0)  # first and longest wait between REST seed attempts, seconds

#: ``sink(event, result)``: called on the event loop after each event was applied; ``result`` is the
#: :class:`~kunb.model.holdings.Balance` or :class:`~kunb.model.holdings.OrderUpdate` it produced, ``None``
#: for duplicates and other events
AccountSink = Callable[[Event, "Balance | OrderUpdate | None"], Any]


class AccountState(enum.Enum):
    """Lifecycle of an :class:`Account`."""

    NEW = "new"
    """Created; nothing runs yet."""
    STARTING = "starting"
    """Connecting, subscribing, seeding from REST."""
    LIVE = "live"
    """Subscribed and seeded: the state follows every push."""
    RESYNCING = "resyncing"
    """The private link dropped (pushes may be lost): reconnecting, then re-seeding from REST."""
    CLOSED = "closed"
    """Stopped for good (or failed to start: see :attr:`Account.error`)."""


@dataclass(slots=True)
class AccountCounters:
    """What happened so far (mutated in place; cheap to read)."""

    balance_pushes: int = 0  #: balance pushes applied (duplicates excluded)
    order_pushes: int = 0  #: order pushes applied (duplicates excluded)
    duplicates: int = 0  #: pushes ignored as already seen (``relationEventId`` / order event key)
    bad_messages: int = 0  #: pushes that could not be read (skipped, logged)
    disconnects: int = 0  #: outages: a live private link lost (failed redials of the same outage not counted)
    seeds: int = 0  #: REST seeds completed (the first one and one per reconnect)
    reseeds: int = 0  #: of those, seeds after a reconnect
    seed_failures: int = 0  #: REST seed attempts that failed (retried)
    corrections: int = 0  #: balances/orders a REST seed found different from the push-built state
    orders_recovered: int = 0  #: orders a re-seed learnt of that no push had announced (placed in an outage)
    orders_refreshed: int = 0  #: single orders fetched from REST (finished in an outage, missed fills)


class Account(SyncLifecycle[AccountState]):
    """Live balances and orders of one API key. See the module docstring.

    Args:
        credentials: the API key; ``None`` takes ``KUCOIN_API_KEY`` / ``_SECRET`` / ``_PASSPHRASE``.
        url: the exchange's REST base URL (``kunb.sim``'s ``ex.url``); empty: ``$KUNB_URL``, else KuCoin.
        order_topic: ``/spotMarket/tradeOrders`` (default) or ``/spotMarket/tradeOrdersV2`` (adds the
            ``received`` event).
        window: rows kept by each event frame.
        span: time window of the event frames, seconds (``None``: rows only).
        max_done_orders: finished orders kept in :attr:`holdings` (open ones always are); older ones are
            forgotten, oldest first. KuCoin's own list of recent finished orders holds 1,000; a bot that
            finishes thousands a day would otherwise grow the table (about 1 KB each) all day.
        open_timeout: seconds :meth:`astart` waits for the subscription (``None``: until the exchange is
            reached, while the connection keeps redialing).
        protocol: ``"classic"`` (default) or ``"uta"``: KuCoin's unified trading account over UTA
            (:class:`kunb.sources.uta.UtaAccountSource`: ``orderAll``, ``execution`` and ``balance`` pushes;
            balances are of account type ``unified``). UTA takes these extra options: ``ws_url`` (the private
            UTA host; ``$KUNB_UTA_PRIVATE_URL``), ``auth`` (``"v2"``: the signed ``op:auth`` frame, default;
            ``"v1"``: a token in the URL), ``symbols`` (whose orders the REST seeds list), ``ping_style``.
        source: a ready :class:`~kunb.sources.base.AccountSource` instead of the classic protocol.
        record_to: a directory to record to (both layers, by a writer process for a live source; closed
            with the account), or a :class:`~kunb.record.Recording` shared with a market stream (left
            open). See :meth:`record`.
        **ws_options: passed to :class:`kunb.ws_client.KucoinWsClient` (``backoff_base``...).

    Raises:
        ConfigurationError: no complete credentials, an unknown ``order_topic`` or protocol; another
            recorder writes to ``record_to``.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        url: str = "",
        order_topic: str = ORDERS_TOPIC,
        window: int = 10_000,
        span: float | None = None,
        max_done_orders: int = 1_000,
        open_timeout: float | None = 10.0,
        protocol: str = "classic",
        source: AccountSource | None = None,
        record_to: str | os.PathLike[str] | Recording | None = None,
        **ws_options: Any,
    ) -> None:
        if source is not None:
            ignored = [n for n, v in (("credentials", credentials), ("url", url)) if v] + sorted(ws_options)
            if ignored or order_topic != ORDERS_TOPIC:
                ignored += ["order_topic"] if order_topic != ORDERS_TOPIC else []
                raise ConfigurationError(f"with source= the source decides; drop {', '.join(ignored)}")
        elif protocol == "uta":
            if order_topic != ORDERS_TOPIC:
                raise ConfigurationError("order_topic is a classic option; UTA subscribes orderAll")
            source = UtaAccountSource(credentials, url=url, **ws_options)
        elif protocol == "classic":
            source = ClassicAccountSource(credentials, url=url, order_topic=order_topic, **ws_options)
        else:
            raise ConfigurationError(f"protocol must be 'classic' or 'uta', not {protocol!r}")
        self.source: AccountSource = source
        self.url = source.url
        self.order_topic: str = getattr(source, "order_topic", order_topic)
        self.holdings = Holdings(max_done_orders=max_done_orders)
        self.balance_events = BalanceFrame(maxlen=window, span=span)
        self.order_events = OrderEventFrame(maxlen=window, span=span)
        self.counters = AccountCounters()
        self.error: BaseException | None = None
        """The latest error met in the background (REST seed, unreadable push, failed start)."""
        self.link = LinkStatus.CONNECTING
        """What the private link is doing."""
        self.link_detail = ""
        self._open_timeout = open_timeout
        self._decode = source.decoder.decode
        self._sinks: list[AccountSink] = []
        self._integrity_sinks: list[
            Callable[[Event], Any]
        ] = []  # the account's own events (a writer process)
        self._frame_listeners: list[Callable[[Mapping[str, Any]], Any]] = []
        self._state = AccountState.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._reseed_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._down_since_ms: int | None = None
        self._seed_lock = asyncio.Lock()  # one seed at a time: Holdings tracks one request's window
        self._changed = asyncio.Event()
        self.recording: Recording | None = None
        """Where this account records to (:meth:`record`), or ``None``."""
        self._owns_recording = False
        if record_to is not None:
            self.record(record_to)

    def __repr__(self) -> str:
        return (
            f"<Account {self._state.value} balances={len(self.holdings.balances)} "
            f"orders={len(self.holdings.orders)} reseeds={self.counters.reseeds}>"
        )

    # -- lifecycle (async) ---------------------------------------------------------------------

    @property
    def state(self) -> AccountState:
        """The lifecycle state (see :class:`AccountState`)."""
        return self._state

    _label = "account"
    _NEW, _STARTING, _CLOSED = AccountState.NEW, AccountState.STARTING, AccountState.CLOSED

    async def astart(self) -> Account:
        """Connect privately, subscribe to balances and orders, then seed both from REST.

        Raises:
            AuthenticationError, SubscribeError, RequestTimeout, TransportError: the account is closed
                again (the error is also kept in :attr:`error`).
        """
        return await super().astart()

    async def _open(self) -> None:
        # Subscribe first, seed second: every change after the REST request is then pushed.
        await self.source.open(self._on_frame, self._on_link, within=self._open_timeout)
        await self._seed(outage_from_ms=None)

    def _opened(self) -> None:
        if self._state is AccountState.STARTING:
            # A drop while starting: the re-seed queued behind this seed brings it live.
            self._state = AccountState.LIVE if self._down_since_ms is None else AccountState.RESYNCING

    async def aclose(self) -> None:
        """Close the source's connection and clients, and background tasks. Idempotent."""
        self._state = AccountState.CLOSED
        tasks = list(self._tasks)
        if self._reseed_task is not None:
            tasks.append(self._reseed_task)
            self._reseed_task = None
        self._tasks.clear()
        await cancel_and_wait(tasks)
        await self.source.close()
        owned, self._owns_recording = self._owns_recording, False
        if owned and self.recording is not None:
            await self.recording.aclose()  # after the source: the last frames and the closes are on record
        self._signal()

    async def wait_live(self, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the account is :attr:`~AccountState.LIVE` (started, or re-seeded after an outage).

        Raises:
            TimeoutError: not live within ``timeout`` seconds.
            ClosedError: the account closed (``error`` says why, if it failed) or was never started.
        """
        await self.wait_for(lambda a: a.state is AccountState.LIVE, timeout)

    async def wait_for(self, predicate: Callable[[Account], bool], timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate(self)`` holds; it is checked after every change. Await it on the loop
        the account runs on (the one :meth:`astart` ran on).

        Raises:
            TimeoutError: it did not hold within ``timeout`` seconds.
            ClosedError: the account is closed or was never started.
        """
        await self._wait(lambda: predicate(self), timeout)

    async def refresh(self) -> None:
        """Re-seed balances and orders from REST now (also done by itself after every reconnect)."""
        if self._state is AccountState.CLOSED:
            raise ClosedError("the Account is closed")
        await self._seed(outage_from_ms=None)

    # start(timeout) / stop(timeout) from sync code (notebook cells, scripts): kunb.runtime.SyncLifecycle,
    # the same runtime as kunb.Stream and the notebook panels

    # -- reads ---------------------------------------------------------------------------------

    @property
    def balances(self) -> pd.DataFrame:
        """One row per (currency, account type): ``total``, ``available``, ``hold``, ``source`` (``rest``
        or the last push's ``relationEvent``), ``time`` of that push."""
        return self.holdings.balances_frame()

    @property
    def orders(self) -> pd.DataFrame:
        """One row per order: the latest state with cumulative ``deal_size`` and ``deal_funds``."""
        return self.holdings.orders_frame()

    def balance(self, currency: str, account_type: str = "trade") -> Balance | None:
        """One balance (Decimals), or ``None`` when the account has never had ``currency``."""
        return self.holdings.balance(currency, account_type)

    def order(self, order_id: str) -> Order | None:
        """One order's latest state, or ``None`` when unknown."""
        return self.holdings.orders.get(order_id)

    @property
    def version(self) -> int:
        """Grows with every change of balances or orders (renderers redraw when it moved)."""
        return self.holdings.version

    @property
    def connection(self) -> Any:
        """The source's private client (state, counters), while running."""
        return self.source.connection_detail()

    @property
    def protocol(self) -> str:
        """Which protocol the data comes over: ``classic`` or ``uta``."""
        return self.source.protocol

    @property
    def credentials(self) -> Credentials | None:
        """The API key the account follows (its secret is never shown)."""
        return getattr(self.source, "credentials", None)

    def record(self, target: str | os.PathLike[str] | Recording) -> Recording:
        """Record this account from its first frame: balance, order and fill events (the ``balances``,
        ``orders``, ``fills`` and ``integrity`` tables) and every private frame and REST answer (the raw
        layer; secrets removed). Call it before starting; ``record_to=`` does the same.

        ``target``: a directory (a :class:`~kunb.record.Recording` opened there, closed with the account)
        or a Recording shared with a market stream (the caller closes it).

        Raises:
            ConfigurationError: the account has started, it records already, or another recorder writes
                to the directory.
        """
        if self._state is not AccountState.NEW:
            raise ConfigurationError(
                "record before starting: a replayable recording needs the link from its first frame"
            )
        if self.recording is not None:
            raise ConfigurationError(f"this account records to {self.recording.out} already")
        recording, owned = recording_for(target, tappable=isinstance(self.source, Tapped))
        sink = recording.sink
        if recording.process:  # it rebuilds the frames' events itself: only the account's own go there
            self._integrity_sinks.append(sink)
        else:
            self.add_sink(lambda event, _result: sink(event))
        if isinstance(self.source, Tapped):
            self.source.wire = recording.tap
        self.recording, self._owns_recording = recording, owned
        return recording

    def add_sink(self, sink: AccountSink) -> None:
        """Call ``sink(event, result)`` after each event was applied (on the event loop; keep it quick).
        ``result`` is the :class:`~kunb.model.holdings.Balance` or :class:`~kunb.model.holdings.OrderUpdate`
        it produced, ``None`` for duplicates and other events. Exceptions it raises are logged."""
        self._sinks.append(sink)

    def remove_sink(self, sink: AccountSink) -> None:
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def add_frame_listener(self, listener: Callable[[Mapping[str, Any]], Any]) -> None:
        """Call ``listener(frame)`` with every private frame as the exchange sent it, after its events were
        applied (KuCoin's SDK-style consumers; see :mod:`kunb.compat.blocking`)."""
        self._frame_listeners.append(listener)

    # -- events in -----------------------------------------------------------------------------

    def _on_frame(self, frame: Mapping[str, Any]) -> None:
        """Decode one private frame (the source's decoder) and apply its events."""
        try:
            events = self._decode(frame, time.time_ns())
        except ProtocolError as exc:
            self.counters.bad_messages += 1
            self.error = exc
            logger.warning("kunb Account skipped an unreadable push: %s", exc)
            self._emit(Integrity("bad_message", "", str(exc), None, time.time_ns()), None)
            return
        for event in events:
            self._apply(event)
        for listener in self._frame_listeners:
            listener(frame)
        self._signal()

    ingest = _on_frame
    """Apply one private frame from elsewhere (a recording, a test) through the source's decoder."""

    def _apply(self, event: Event) -> None:
        result: Balance | OrderUpdate | None = None
        kind = event.__class__  # exact-class dispatch, as Stream._route (mypy does not narrow on it: ignores)
        if kind is BalanceChange:
            result = self.holdings.on_balance(event)  # type: ignore[arg-type]
            if result is not None:
                self.counters.balance_pushes += 1
                self.balance_events.add(event)  # type: ignore[arg-type]
        elif kind is OrderEvent:
            result = self.holdings.on_order(event)  # type: ignore[arg-type]
            if result is not None:
                self.counters.order_pushes += 1
                self.order_events.add(event)  # type: ignore[arg-type]
                if result.missed_fills:
                    self._spawn(self._refresh_orders([result.order.order_id]), "refresh")
        self.counters.duplicates = self.holdings.duplicates
        for sink in self._sinks:
            try:
                sink(event, result)
            except Exception:
                logger.exception("kunb Account: a sink raised (ignored)")

    def _emit(self, event: Event, result: Balance | OrderUpdate | None) -> None:
        """Tell the sinks of an event of the account's own (an :class:`~kunb.events.Integrity` event)."""
        for sink in self._sinks:
            try:
                sink(event, result)
            except Exception:
                logger.exception("kunb Account: a sink raised (ignored)")
        for integrity_sink in self._integrity_sinks:
            integrity_sink(event)

    def _on_link(self, change: LinkChange) -> None:
        status = change.status
        if status is LinkStatus.SILENT:  # private channels are not watched; a topic, not the link
            return
        if status is not LinkStatus.OVERFLOW:  # first, so sinks told of the change read the new link
            self.link = LinkStatus.LIVE if status is LinkStatus.RESTORED else status
            self.link_detail = "" if self.link is LinkStatus.LIVE else change.detail
        if status is LinkStatus.DOWN:
            if self._down_since_ms is None:  # every failed redial of the same outage reports DOWN too
                self.counters.disconnects += 1
                self._down_since_ms = time.time_ns() // 1_000_000
                self._emit(Integrity("outage", "", change.detail, None, time.time_ns()), None)
            if self._state is AccountState.LIVE:
                self._state = AccountState.RESYNCING
            if self._reseed_task is not None:
                self._reseed_task.cancel()  # it would seed against a link that is gone
                self._reseed_task = None
        elif status is LinkStatus.RESTORED and self._state is not AccountState.CLOSED:
            # Topics are live again: from now on every change is pushed, so REST can fill the gap.
            self._emit(Integrity("reconnected", "", change.detail, None, time.time_ns()), None)
            if self._loop is not None:
                self._reseed_task = self._loop.create_task(self._reseed(), name="kunb-account-reseed")
        elif status is LinkStatus.CLOSED and change.error is not None:
            # Fatal (the key was revoked...): the account cannot follow the exchange any more.
            self.error = change.error
            self._state = AccountState.CLOSED
        self._signal()

    # -- REST seeding --------------------------------------------------------------------------

    async def _reseed(self) -> None:
        delays = backoff(*_RETRY)
        while self._state is not AccountState.CLOSED:
            try:
                await self._seed(outage_from_ms=self._down_since_ms)
            except KunbError as exc:
                self.error = exc
                if not retryable(exc):
                    logger.warning("kunb Account: re-seed failed for good: %r", exc)
                    return
                logger.info("kunb Account: re-seed failed (%r); retrying", exc)
                await asyncio.sleep(next(delays))  # back off before the next REST attempt
                continue
            self.counters.reseeds += 1
            self._down_since_ms = None
            if self._state is AccountState.RESYNCING:
                self._state = AccountState.LIVE
            self._signal()
            return

    async def _seed(self, *, outage_from_ms: int | None) -> None:
        """Balances, open orders, and (after an outage) the orders that finished meanwhile."""
        async with self._seed_lock:
            await self._seed_once(outage_from_ms)

    async def _seed_once(self, outage_from_ms: int | None) -> None:
        holdings = self.holdings
        source = self.source
        before, learned = holdings.corrections, holdings.learned
        try:
            holdings.begin_seed()  # before the request goes out: later pushes win (kunb.model.holdings)
            holdings.seed_balances(await source.balances())
            active = await source.orders(active=True)
            holdings.seed_orders(active)
            if outage_from_ms is not None:
                since = outage_from_ms - _OUTAGE_MARGIN_MS
                holdings.seed_orders(await source.orders(active=False, since_ms=since))
            listed = {order.order_id for order in active}
            stale = [oid for oid in holdings.open_orders() if oid not in listed]
            await self._refresh_orders([*stale, *holdings.inexact_orders()])
        except KunbError:
            self.counters.seed_failures += 1
            raise
        self.counters.seeds += 1
        self.counters.corrections += holdings.corrections - before
        if outage_from_ms is not None:
            self.counters.orders_recovered += holdings.learned - learned
        self._signal()

    async def _refresh_orders(self, order_ids: list[str]) -> None:
        for order_id in dict.fromkeys(order_ids):
            state = await self.source.order(order_id)
            if state is None:
                continue  # gone from the exchange: nothing to learn
            self.counters.orders_refreshed += 1
            before = self.holdings.corrections
            self.holdings.seed_orders([state])
            self.counters.corrections += self.holdings.corrections - before
        self._signal()

    def _spawn(self, coro: Any, what: str) -> None:
        if self._loop is None or self._state is AccountState.CLOSED:
            coro.close()
            return
        task = self._loop.create_task(self._quietly(coro, what), name=f"kunb-account-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(self, coro: Any, what: str) -> None:
        try:
            await coro
        except KunbError as exc:
            self.error = exc
            logger.info("kunb Account: %s failed: %r", what, exc)

    def _signal(self) -> None:
        self._changed.set()
