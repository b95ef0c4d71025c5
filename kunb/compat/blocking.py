"""BlockingWsClient: the blocking ``KucoinWsClient(key, secret, passphrase)._socket(topic, callback)`` style.

KuCoin's older examples (the seed's "multi-symbol streamer" and "trading bot") build the client from plain
synchronous code, register callbacks that receive each message as a JSON **string**, then
``time.sleep(...)`` in the main thread and finally ``close()``. kunb keeps that working on top of its
drivers: each instance runs one event loop on a helper thread (``kunb-blocking-loop``) with a
:class:`kunb.Stream` per ``_socket`` call of public topics and, for private topics, one
:class:`kunb.Account`; the callbacks run on a second thread (``kunb-blocking-callbacks``) fed by a bounded
queue, so a slow callback never stalls pings or reading. ``close()`` (also at interpreter exit) ends both
threads and every socket.

What the examples read that KuCoin does not send is added as :mod:`kunb.compat.enrich` describes (24 h
stats on tickers, the synced book's top on level-2 pushes, cumulative ``dealSize``/``dealFunds`` on order
pushes), always listed in the message's ``"kunb"`` object. For that, a ticker topic's Stream follows the
24 h statistics too, and a level-2 topic's Stream keeps the symbol's order book; level-2 pushes reach the
callback only while that book is live (held back while it syncs: counted in ``held_level2``).

``KucoinWsClient(...)`` called directly returns one of these (see :mod:`kunb.ws_client`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..account import Account
from ..events import BalanceChange, Event, OrderEvent
from ..exceptions import ClosedError, ConfigurationError, RequestTimeout, SubscribeError
from ..model.book import BookState
from ..model.holdings import OrderUpdate
from ..net.rest import Market
from ..protocol.classic import expand_topic
from ..runtime import loop_thread
from ..signing import Credentials
from ..sources.classic import BALANCE_TOPIC, ORDER_TOPICS, ORDERS_TOPIC
from ..stream import Stream
from .enrich import with_book_top, with_deal, with_stats, with_symbol

__all__ = ["BlockingWsClient", "Subscription"]

logger = logging.getLogger(__name__)

_ACCOUNT_TOPICS = (BALANCE_TOPIC, *ORDER_TOPICS)
# Public channels a Stream models (the rest are subscribed as they are and passed through).
_CHANNELS = {"/market/ticker": "ticker", "/market/level2": "book", "/market/match": "trades"}
_STATS_SOURCE = "24 h statistics (GET /api/v1/market/stats, then /market/snapshot)"
_open: weakref.WeakSet[BlockingWsClient] = weakref.WeakSet()

MessageCallback = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Subscription:
    """What :meth:`BlockingWsClient._socket` returns: the topic, and a way to stop its callback."""

    topic: str
    is_private: bool
    _owner: BlockingWsClient = field(repr=False)
    _callback: MessageCallback = field(repr=False)

    def close(self) -> None:
        """Stop calling this callback (the topic stays subscribed for other callbacks and kunb's use)."""
        self._owner._drop(self)


class BlockingWsClient:
    """KuCoin's blocking WebSocket client style on kunb. See the module docstring.

    Args:
        key, secret, passphrase: API credentials, positionally in KuCoin's order; ``api_key``,
            ``api_secret``, ``api_passphrase`` are accepted as keyword aliases. Empty: the
            ``KUCOIN_API_*`` environment variables (needed only for private topics).
        url: the exchange's REST base URL; empty: ``$KUNB_URL``, else KuCoin.
        is_v1api, is_sandbox: as for :mod:`kunb.client`.
        credentials: a ready :class:`~kunb.signing.Credentials` instead of the three strings.
        book_depth: levels per side added to level-2 pushes.
        timeout: seconds ``_socket`` waits for the subscription (and ``close`` for the shutdown).
        queue_size: messages waiting for the callback thread; beyond it the oldest is dropped (counted).
        **ws_options: passed to :class:`~kunb.ws_client.KucoinWsClient` (``backoff_base``...).
    """

    def __init__(
        self,
        key: str = "",
        secret: str = "",
        passphrase: str = "",
        url: str = "",
        is_v1api: bool = False,
        *,
        api_key: str = "",
        api_secret: str = "",
        api_passphrase: str = "",
        is_sandbox: bool = False,
        credentials: Credentials | None = None,
        book_depth: int = 20,
        timeout: float = 10.0,
        queue_size: int = 10_000,
        **ws_options: Any,
    ) -> None:
        pairs = {
            "key": (key, api_key),
            "secret": (secret, api_secret),
            "passphrase": (passphrase, api_passphrase),
        }
        for name, (plain, alias) in pairs.items():
            if plain and alias and plain != alias:
                raise ConfigurationError(f"{name} and api_{name} disagree: pass one of them")
        key, secret, passphrase = (plain or alias for plain, alias in pairs.values())
        if book_depth < 1:
            raise ConfigurationError("book_depth must be at least 1")
        self._market = Market(
            key, secret, passphrase, url, is_v1api, is_sandbox=is_sandbox, credentials=credentials
        )  # resolves the URL and credentials as KuCoin's SDK does; each Stream's REST goes through it
        self.url = self._market.url
        self.book_depth = book_depth
        self.timeout = timeout
        self._ws_options = ws_options
        self._callbacks: dict[str, list[MessageCallback]] = {}  # unit topic -> callbacks
        self._lock = threading.Lock()
        self._closed = False
        self.held_level2 = 0  #: level-2 pushes not delivered because their book was syncing
        self.dropped = 0  #: messages dropped because the callback thread fell behind
        self.callback_errors = 0  #: exceptions raised by callbacks (logged)
        self.error: BaseException | None = None  #: the latest background error
        # loop-thread state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._streams: list[Stream] = []
        self._covered: set[str] = set()  # public units some Stream already subscribes
        self._account: Account | None = None
        self._starting: asyncio.Lock | None = None  # _socket may be called from several threads
        self._last_private: Any = _NOTHING  # what the Account made of the private frame being delivered
        # callback-thread state
        self._queue: deque[tuple[MessageCallback, str]] = deque(maxlen=queue_size)
        self._wake = threading.Condition()
        self._cb_thread: threading.Thread | None = None
        _open.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<BlockingWsClient {state} topics={len(self._callbacks)} url={self.url!r}>"

    def __enter__(self) -> BlockingWsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the examples' API ----------------------------------------------------------------------

    def _socket(self, topic: str, callback: MessageCallback, is_private: bool = False) -> Subscription:
        """Stream ``topic`` in the background, calling ``callback(message_json_text)`` for each push.

        Blocks until KuCoin acknowledged the subscription.

        Raises:
            SubscribeError: KuCoin refused the topic (the text starts with ``topic``; ``.symbols`` names
                symbols the exchange does not list). RequestTimeout: no answer within ``timeout``.
            ConfigurationError: a private topic without credentials, or a callback that is not callable.
            ClosedError: after :meth:`close`.
        """
        if self._closed:
            raise ClosedError("this KucoinWsClient is closed")
        if not callable(callback):
            raise ConfigurationError("callback must be callable")
        units = expand_topic(topic)
        loop = self._ensure_threads()
        subscription = Subscription(topic, bool(is_private), self, callback)
        with self._lock:  # before subscribing: the first pushes follow the ack at once
            for unit in units:
                self._callbacks.setdefault(unit, []).append(callback)
        future = asyncio.run_coroutine_threadsafe(self._subscribe(topic, units, bool(is_private)), loop)
        try:
            future.result(self.timeout + 5)
        except TimeoutError:
            future.cancel()
            self._drop(subscription)
            raise RequestTimeout(f"{topic}: not subscribed within {self.timeout + 5} s") from None
        except SubscribeError as exc:
            # the Stream behind it may have subscribed more than the caller asked for (a ticker's 24 h
            # numbers come from /market/snapshot): lead with the topic the caller passed
            self._drop(subscription)
            raise SubscribeError(exc.code, f"{topic}: {exc.data}", exc.symbols) from exc
        except BaseException:
            self._drop(subscription)
            raise
        return subscription

    def close(self) -> None:
        """Unsubscribe nothing, close everything: connections, REST clients, both threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _open.discard(self)
        loop, thread = self._loop, self._loop_thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._aclose(), loop).result(self.timeout)
            except Exception as exc:  # a failed shutdown step must not keep the threads alive
                logger.warning("kunb BlockingWsClient: close did not finish cleanly: %r", exc)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(self.timeout)
            if not thread.is_alive():
                loop.close()
        with self._wake:
            self._wake.notify_all()
        if self._cb_thread is not None and self._cb_thread is not threading.current_thread():
            self._cb_thread.join(self.timeout)

    @property
    def topics(self) -> list[str]:
        """The topics callbacks are registered for (one per symbol)."""
        with self._lock:
            return list(self._callbacks)

    # -- threads -------------------------------------------------------------------------------

    def _ensure_threads(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                # A loop of its own, not kunb.runtime's shared one: the seed's callers expect each client
                # to own its loop, and close() ends every task on it.
                self._loop, self._loop_thread = loop_thread("kunb-blocking-loop")
                self._cb_thread = threading.Thread(
                    target=self._run_callbacks, name="kunb-blocking-callbacks", daemon=True
                )
                self._cb_thread.start()
            return self._loop

    def _run_callbacks(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                callback, text = self._queue.popleft()
            try:
                callback(text)
            except Exception:
                self.callback_errors += 1
                if self.callback_errors == 1 or self.callback_errors % 1000 == 0:
                    logger.exception(
                        "kunb BlockingWsClient: a callback raised (%d so far)", self.callback_errors
                    )

    def _deliver(self, message: Mapping[str, Any]) -> None:
        """Hand ``message`` (as JSON text) to the callbacks of its topic (on the callback thread)."""
        with self._lock:
            callbacks = list(self._callbacks.get(message.get("topic", ""), ()))
        if not callbacks:
            return
        text = orjson.dumps(message).decode()
        with self._wake:
            for callback in callbacks:
                if len(self._queue) == self._queue.maxlen:
                    self.dropped += 1
                self._queue.append((callback, text))
            self._wake.notify()

    def _drop(self, subscription: Subscription) -> None:
        with self._lock:
            for unit in expand_topic(subscription.topic):
                callbacks = self._callbacks.get(unit, [])
                with contextlib.suppress(ValueError):
                    callbacks.remove(subscription._callback)
                if not callbacks:
                    self._callbacks.pop(unit, None)

    # -- on the loop thread --------------------------------------------------------------------

    async def _subscribe(self, topic: str, units: list[str], private: bool) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:  # one Account, and one Stream per new set of topics, however many threads
            if private:
                await self._subscribe_private(topic, units)
            else:
                await self._subscribe_public(units)

    async def _subscribe_private(self, topic: str, units: list[str]) -> None:
        account = await self._ensure_account(topic)
        extra = [u for u in units if u not in _ACCOUNT_TOPICS]
        if extra and account.connection is not None:
            await account.connection.subscribe(extra, timeout=self.timeout)

    async def _subscribe_public(self, units: list[str]) -> None:
        new = [u for u in units if u not in self._covered]
        if not new:
            return
        channels: set[str] = set()
        symbols: list[str] = []
        extra: list[str] = []
        for unit in new:
            prefix, _, symbol = unit.partition(":")
            channel = _CHANNELS.get(prefix)
            if channel is None or symbol == "all":
                extra.append(unit)  # subscribed as it is: its frames are passed through
            else:
                channels.add(channel)
                symbols.append(symbol)
        stream = Stream(
            list(dict.fromkeys(symbols)),
            market=self._market,
            book="book" in channels,
            ticker="ticker" in channels,
            trades="trades" in channels,
            stats="ticker" in channels,  # the examples read 24 h numbers on tickers
            extra_topics=extra,
            window=16,  # the examples read pushes, not frames
            top_interval=None,
            open_timeout=self.timeout,
            **self._ws_options,
        )
        stream.add_frame_listener(lambda frame: self._on_public(stream, frame))
        await stream.astart()  # on failure it closes itself and raises
        self._streams.append(stream)
        self._covered.update(new)

    async def _ensure_account(self, topic: str) -> Account:
        if self._account is None:
            creds = self._market.credentials
            if creds is None or not creds.is_complete:
                raise ConfigurationError(
                    f"{topic} is private: pass key, secret and passphrase (or set KUCOIN_API_KEY, "
                    "KUCOIN_API_SECRET and KUCOIN_API_PASSPHRASE)"
                )
            order_topic = topic if topic in ORDER_TOPICS else ORDERS_TOPIC
            account = Account(
                creds, url=self.url, order_topic=order_topic, open_timeout=self.timeout, **self._ws_options
            )
            account.add_sink(self._on_private_event)
            account.add_frame_listener(self._on_private)
            await account.astart()  # on failure it closes itself and raises
            self._account = account
        elif topic in ORDER_TOPICS and topic != self._account.order_topic:
            # one private account per client follows one order topic: a second one would stay silent
            raise ConfigurationError(
                f"this client already follows {self._account.order_topic}; use another "
                f"KucoinWsClient for {topic}"
            )
        return self._account

    def _on_public(self, stream: Stream, message: Mapping[str, Any]) -> None:
        """A public frame, after the Stream applied it: add what the examples read, then deliver."""
        topic = message.get("topic", "")
        prefix, _, symbol = topic.partition(":")
        if prefix == "/market/ticker":
            message = with_stats(with_symbol(message), stream.last_stats(symbol), _STATS_SOURCE)
        elif prefix == "/market/level2":
            book = stream.books.get(symbol)
            if book is None or book.state is not BookState.LIVE:
                self.held_level2 += 1
                return
            message = with_book_top(message, book, self.book_depth)
        self._deliver(message)

    def _on_private_event(self, event: Event, result: Any) -> None:
        # remember what the frame listener needs: the order an order push updated, or that it was a dup
        if isinstance(event, (BalanceChange, OrderEvent)):
            self._last_private = result

    def _on_private(self, message: Mapping[str, Any]) -> None:
        """A private frame, after the Account applied its events."""
        result, self._last_private = self._last_private, _NOTHING
        if isinstance(result, OrderUpdate):
            message = with_deal(message, result.order)
        elif result is None and message.get("topic") in _ACCOUNT_TOPICS:
            return  # a duplicate (same relationEventId / order event): KuCoin sent it once already
        self._deliver(message)

    async def _aclose(self) -> None:
        streams, self._streams = self._streams, []
        await asyncio.gather(*(stream.aclose() for stream in streams), return_exceptions=True)
        account, self._account = self._account, None
        if account is not None:
            await account.aclose()
        await self._market.aclose()
        # This loop is ours alone: whatever still runs on it (a token fetch of a reconnect...) ends now,
        # so closing the loop destroys no pending task.
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)


_NOTHING = object()


@atexit.register
def _close_all() -> None:
    """Interpreter exit: close every facade still open, so no thread or socket outlives it unclosed."""
    for client in list(_open):
        client.close()
