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

KuCoin does not replay private pushes (``kucoin-protocol.md`` 2.3): whatever happened while the link was
down is lost to the WebSocket. So after every reconnect, once the topics are subscribed again
(``RESUBSCRIBED``), this re-seeds balances (``GET /api/v1/accounts``), open orders
(``GET /api/v1/orders?status=active``), orders finished during the outage (``status=done&startAt=``) and
every order still believed open that REST no longer lists as active. :class:`~kunb.holdings.Holdings`
merges those answers with the pushes that keep arriving, so a slow REST answer never overwrites a newer
push and nothing lost in the outage stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import (
    ApiError,
    AuthenticationError,
    ClosedError,
    ConfigurationError,
    KunbError,
    ProtocolError,
    RateLimitError,
)
from .model.holdings import Balance, Holdings, Order, OrderUpdate
from .model.rolling import BalanceFrame, OrderEventFrame
from .net.rest import Trade, User
from .runtime import SyncLifecycle, cancel_and_wait
from .signing import Credentials

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .net.connection import LifecycleEvent
    from .net.pool import KucoinWsClient

__all__ = ["BALANCE_TOPIC", "ORDERS_TOPIC", "Account", "AccountCounters", "AccountState"]

logger = logging.getLogger(__name__)

BALANCE_TOPIC = "/account/balance"
ORDERS_TOPIC = "/spotMarket/tradeOrders"
_ORDER_TOPICS = (ORDERS_TOPIC, "/spotMarket/tradeOrdersV2")
_PAGE_SIZE = 500  # KuCoin's largest page (4.3)
_MAX_PAGES = 20
_OUTAGE_MARGIN_MS = (
    60_000  # look this far before the drop for orders that finished in the outage (clock skew)
)
_RETRY = (0.1, 5.0)  # first and longest wait between REST seed attempts, seconds

Listener = Callable[[Mapping[str, Any], "Balance | OrderUpdate | None"], Any]


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


class _Rest(User, Trade):
    """Accounts and orders through one client (and one connection pool)."""


class Account(SyncLifecycle):
    """Live balances and orders of one API key. See the module docstring.

    Args:
        credentials: the API key; ``None`` takes ``KUCOIN_API_KEY`` / ``_SECRET`` / ``_PASSPHRASE``.
        url: the exchange's REST base URL (``kunb.sim``'s ``ex.url``); empty: ``$KUNB_URL``, else KuCoin.
        order_topic: ``/spotMarket/tradeOrders`` (default) or ``/spotMarket/tradeOrdersV2`` (adds the
            ``received`` event).
        window: rows kept by each event frame.
        span: time window of the event frames, seconds (``None``: rows only).
        **ws_options: passed to :class:`kunb.ws_client.KucoinWsClient` (``backoff_base``...).

    Raises:
        ConfigurationError: no complete credentials, or an unknown ``order_topic``.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        url: str = "",
        order_topic: str = ORDERS_TOPIC,
        window: int = 10_000,
        span: float | None = None,
        **ws_options: Any,
    ) -> None:
        if order_topic not in _ORDER_TOPICS:
            raise ConfigurationError(f"order_topic must be one of {_ORDER_TOPICS}, not {order_topic!r}")
        self.rest = _Rest(url=url, credentials=credentials)
        if self.rest.credentials is None or not self.rest.credentials.is_complete:
            raise ConfigurationError(
                "Account needs an API key: pass Credentials(key, secret, passphrase) or set KUCOIN_API_KEY, "
                "KUCOIN_API_SECRET and KUCOIN_API_PASSPHRASE"
            )
        self.url = self.rest.url
        self.order_topic = order_topic
        self.holdings = Holdings()
        self.balance_events = BalanceFrame(maxlen=window, span=span)
        self.order_events = OrderEventFrame(maxlen=window, span=span)
        self.counters = AccountCounters()
        self.error: BaseException | None = None
        """The latest error met in the background (REST seed, unreadable push, failed start)."""
        self._ws_options = ws_options
        self._client: KucoinWsClient | None = None
        self._listeners: list[Listener] = []
        self._state = AccountState.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._reseed_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._down_since_ms: int | None = None
        self._seed_lock = asyncio.Lock()  # one seed at a time: Holdings tracks one request's window
        self._changed = asyncio.Event()

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
        from .net.pool import KucoinWsClient

        self._client = await KucoinWsClient.create(
            None, self.rest, self._on_message, private=True, on_event=self._on_event, **self._ws_options
        )
        # Subscribe first, seed second: every change after the REST request is then pushed.
        await self._client.subscribe([BALANCE_TOPIC, self.order_topic])
        await self._seed(outage_from_ms=None)

    def _opened(self) -> None:
        if self._state is AccountState.STARTING:
            # A drop while starting: the re-seed queued behind this seed brings it live.
            self._state = AccountState.LIVE if self._down_since_ms is None else AccountState.RESYNCING

    async def aclose(self) -> None:
        """Close the WebSocket client, background tasks and the REST client. Idempotent."""
        self._state = AccountState.CLOSED
        tasks = list(self._tasks)
        if self._reseed_task is not None:
            tasks.append(self._reseed_task)
            self._reseed_task = None
        self._tasks.clear()
        await cancel_and_wait(tasks)
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        await self.rest.aclose()
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
    def connection(self) -> KucoinWsClient | None:
        """The private WebSocket client (state, counters), while running."""
        return self._client

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(message, result)`` after each private push was applied (on the event loop;
        keep it quick). ``result`` is the :class:`~kunb.holdings.Balance` or
        :class:`~kunb.holdings.OrderUpdate` it produced, ``None`` for duplicates and other topics."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # -- pushes --------------------------------------------------------------------------------

    def _on_message(self, message: Mapping[str, Any]) -> None:
        topic = message.get("topic", "")
        data = message.get("data")
        result: Balance | OrderUpdate | None = None
        try:
            if not isinstance(data, Mapping):
                raise ProtocolError(f"{topic} push without a data object")
            if topic == BALANCE_TOPIC:
                result = self.holdings.on_balance(data)
                if result is not None:
                    self.counters.balance_pushes += 1
                    self.balance_events.add(data)
            elif topic == self.order_topic:
                result = self.holdings.on_order(data)
                if result is not None:
                    self.counters.order_pushes += 1
                    self.order_events.add(data)
                    if result.missed_fills:
                        self._spawn(self._refresh_orders([result.order.order_id]), "refresh")
        except ProtocolError as exc:
            self.counters.bad_messages += 1
            self.error = exc
            logger.warning("kunb Account skipped an unreadable %s push: %s", topic, exc)
        self.counters.duplicates = self.holdings.duplicates
        for listener in list(self._listeners):
            try:
                listener(message, result)
            except Exception:
                logger.exception("kunb Account listener raised (ignored)")
        self._signal()

    def _on_event(self, event: LifecycleEvent) -> None:
        from .net.connection import EventKind

        if event.kind is EventKind.DISCONNECTED:
            if self._down_since_ms is None:  # every failed redial reports DISCONNECTED too
                self.counters.disconnects += 1
                self._down_since_ms = time.time_ns() // 1_000_000
            if self._state is AccountState.LIVE:
                self._state = AccountState.RESYNCING
            if self._reseed_task is not None:
                self._reseed_task.cancel()  # it would seed against a link that is gone
                self._reseed_task = None
            self._signal()
        elif event.kind is EventKind.RESUBSCRIBED and self._state is not AccountState.CLOSED:
            # Topics are live again: from now on every change is pushed, so REST can fill the gap.
            if self._loop is not None:
                self._reseed_task = self._loop.create_task(self._reseed(), name="kunb-account-reseed")
        elif event.kind is EventKind.CLOSED and event.error is not None:
            # Fatal (the key was revoked...): the account cannot follow the exchange any more.
            self.error = event.error
            self._state = AccountState.CLOSED
            self._signal()

    # -- REST seeding --------------------------------------------------------------------------

    async def _reseed(self) -> None:
        delay, longest = _RETRY
        while self._state is not AccountState.CLOSED:
            try:
                await self._seed(outage_from_ms=self._down_since_ms)
            except KunbError as exc:
                self.error = exc
                logger.info("kunb Account: re-seed failed (%r); retrying", exc)
                await asyncio.sleep(delay)  # back off before the next REST attempt
                delay = min(delay * 2, longest)
                continue
            self.counters.reseeds += 1
            self._down_since_ms = None
            if self._state is AccountState.RESYNCING:
                self._state = AccountState.LIVE
            self._signal()
            return

    async def _seed(self, *, outage_from_ms: int | None) -> None:
        """Balances, open orders, and (after an outage) the orders that finished meanwhile, from REST."""
        async with self._seed_lock:
            await self._seed_once(outage_from_ms)

    async def _seed_once(self, outage_from_ms: int | None) -> None:
        holdings = self.holdings
        rest = self.rest
        before, learned = holdings.corrections, holdings.learned
        try:
            holdings.begin_seed()  # before the request goes out: later pushes win (kunb.holdings)
            holdings.seed_balances(await rest.aget_account_list())
            active = await self._orders(status="active")
            holdings.seed_orders(active)
            if outage_from_ms is not None:
                holdings.seed_orders(
                    await self._orders(status="done", startAt=outage_from_ms - _OUTAGE_MARGIN_MS)
                )
            listed = {str(item["id"]) for item in active}
            stale = [oid for oid in holdings.open_orders() if oid not in listed]
            await self._refresh_orders([*stale, *holdings.inexact_orders()])
        except KunbError:
            self.counters.seed_failures += 1
            raise
        except (KeyError, TypeError) as exc:
            self.counters.seed_failures += 1
            raise ProtocolError(f"unreadable REST answer while seeding: {exc!r}") from exc
        self.counters.seeds += 1
        self.counters.corrections += holdings.corrections - before
        if outage_from_ms is not None:
            self.counters.orders_recovered += holdings.learned - learned
        self._signal()

    async def _orders(self, **query: Any) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            data = await self.rest.aget_order_list(pageSize=_PAGE_SIZE, currentPage=page, **query)
            items += data.get("items") or []
            if page >= int(data.get("totalPage") or 1):
                break
        return items

    async def _refresh_orders(self, order_ids: list[str]) -> None:
        for order_id in dict.fromkeys(order_ids):
            try:
                item = await self.rest.aget_order_details(order_id)
            except (AuthenticationError, RateLimitError):
                raise
            except ApiError as exc:  # 400100 "order not exist": gone from the exchange, nothing to learn
                logger.info("kunb Account: order %s not found on refresh (%s)", order_id, exc)
                continue
            self.counters.orders_refreshed += 1
            before = self.holdings.corrections
            self.holdings.seed_orders([item])
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
