"""ConnectWebsocket: one KuCoin WebSocket connection, kept alive and resubscribed across reconnects.

The thin asyncio glue around a sans-I/O session (the rules live in :mod:`kunb.protocol`), for both of
KuCoin's protocols: what differs between classic and UTA is a :class:`~kunb.net.dialect.Dialect` (dial
target, after-welcome handshake, request units, limits, silence), and everything else here is written
once. Per dial (classic): a fresh token (awaited, never blocking the loop), a random ``instanceServers``
entry, the ``welcome`` wait; UTA: a fixed host, the welcome, then the V2 ``op:auth`` on the private
socket. Text and binary frames are decoded alike. Every
frame is decoded once, as the link parses it (:mod:`kunb.net.link`: the messages of each socket read at
once, straight from the socket's data callback, no task or future per message). A synchronous callback
is called right there; an async one is fed from a bounded drop-oldest queue by the dispatcher task, so
its awaits never stall reading or pinging, and a read larger than the queue sheds its oldest messages
either way. A watcher task raises why the link ended; the keepalive task pings (JSON ping every
``pingInterval``, link dead when nothing arrives within ``pingTimeout`` after a ping).

Fixes over KuCoin's SDK (``design.md#fixes-over-other-kucoin-clients``): no blocking
token call, no swallowed cancellation,
``close()``, pong deadline, ack/error correlation, error frames never reach the callback, callback
exceptions never reconnect, ``sock`` only for the first dial, the connect URL (it holds the token) is
never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import itertools
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, KeysView
from dataclasses import dataclass, field
from typing import Any, NoReturn, get_args
from urllib.parse import urlsplit

import orjson
import websockets

from ..exceptions import (
    AuthenticationError,
    ClosedError,
    ConfigurationError,
    ConnectionClosed,
    ProtocolError,
    RequestTimeout,
    SubscribeError,
    TransportError,
    WebSocketError,
    case_hint,
)
from ..protocol.classic import (
    TICKER_ALL,
    UPLINK_PERIOD,
    Ack,
    ConnectionErrorFrame,
    RequestError,
    RequestKind,
    UplinkLimiter,
    add_ticker_symbol,
    ticker_symbol,
    ticker_symbols,
)
from ..protocol.uta import SILENCE_AFTER, AuthResult
from ..signing import TokenRedactor, redact_token
from .backoff import FIRST_DIAL_GRACE, backoff, gives_up, retryable
from .dialect import ClassicDialect, Dialect, units_of
from .link import PICOWS, Link, LinkKind, open_link
from .wire import WireTap

__all__ = ["ConnectWebsocket", "ConnectionState", "Counters", "EventKind", "LifecycleEvent"]

logger = logging.getLogger("kunb.net.connection")
_wire_logger = logging.getLogger("kunb.net.connection.wire")  # websockets' own debug lines, token redacted


_wire_logger.addFilter(TokenRedactor())

_ids = itertools.count(1)  # request ids unique across every connection of the process
_names = itertools.count(1)


class ConnectionState(enum.Enum):
    """Where a connection is in its life (shown by the notebook status badge)."""

    CONNECTING = "connecting"  #: first dial in progress
    LIVE = "live"  #: welcomed, resubscribed, streaming
    RECONNECTING = "reconnecting"  #: the link was lost; backing off / dialing again
    CLOSED = "closed"  #: close() was called, or a fatal error (bad credentials) ended it


class EventKind(enum.Enum):
    """Lifecycle events handed to ``on_event``."""

    CONNECTED = "connected"  #: the WebSocket handshake succeeded
    WELCOME = "welcome"  #: KuCoin's welcome arrived
    SUBSCRIBED = "subscribed"  #: a subscribe was acked (``count`` topics)
    UNSUBSCRIBED = "unsubscribed"  #: an unsubscribe was sent (``count`` topics)
    DISCONNECTED = "disconnected"  #: the link ended (``error`` says why)
    RECONNECTING = "reconnecting"  #: waiting ``delay`` seconds before dial ``count``
    RESUBSCRIBED = "resubscribed"  #: every topic was sent again after a reconnect (``count`` topics)
    CALLBACK_ERROR = "callback_error"  #: the callback raised (first of a burst; ``count`` so far)
    QUEUE_OVERFLOW = "queue_overflow"  #: the callback fell behind; oldest messages dropped
    TOKEN_RENEWED = "token_renewed"  #: reconnected proactively before the 24 h token end
    AUTHENTICATED = "authenticated"  #: UTA: the ``op:auth`` frame was accepted (after every dial)
    SILENT = "silent"  #: UTA: a topic (``detail``) sent nothing ``delay`` s after its ack
    CLOSED = "closed"  #: the connection is closed for good (``error`` when fatal)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One lifecycle event; small and safe to show (no token, key or secret in it)."""

    kind: EventKind
    connection: str
    detail: str = ""
    count: int = 0
    delay: float = 0.0
    error: BaseException | None = None
    at: float = field(default_factory=time.time)


@dataclass(slots=True)
class Counters:
    """Live counters of one connection (mutated in place; cheap to read at any time)."""

    messages: int = 0  #: data messages received
    control_frames: int = 0  #: welcome, pong, ack, error, notice frames received
    bytes: int = 0  #: bytes of all frames received
    reconnects: int = 0  #: links lost and dialed again
    drops: int = 0  #: messages dropped because the callback queue was full
    callback_errors: int = 0  #: exceptions raised by the callback
    bad_frames: int = 0  #: frames that were not JSON objects (skipped)
    last_message: dict[str, float] = field(default_factory=dict)  #: topic -> time.monotonic() delivered

    @property
    def frames(self) -> int:
        """Every frame received (messages, control frames, bad frames)."""
        return self.messages + self.control_frames + self.bad_frames

    def age(self, topic: str, now: float | None = None) -> float | None:
        """Seconds since the last message on ``topic`` (``None``: none yet)."""
        last = self.last_message.get(topic)
        if last is None:
            return None
        return (time.monotonic() if now is None else now) - last


class _Renew(Exception):
    """Internal: the token is near its end; reconnect at once."""


class _LimitedLog:
    """Log the first of a burst, then at most once per ``every`` seconds with a count of the rest."""

    __slots__ = ("every", "last", "suppressed")

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = -1e18
        self.suppressed = 0

    def ready(self, now: float) -> bool:
        if now - self.last >= self.every:
            self.last = now
            return True
        self.suppressed += 1
        return False


Callback = Callable[[dict[str, Any]], Any]
EventHook = Callable[[LifecycleEvent], Any]


class ConnectWebsocket:
    """One KuCoin WebSocket connection with keepalive, reconnect and resubscribe.

    Created like KuCoin's SDK; it starts connecting at once on ``loop``. The callback (sync or async)
    receives only ``message`` frames, as decoded dicts exactly as KuCoin sent them (ticker pushes get
    ``data["symbol"]``).

    Args:
        loop: the event loop to run on (``None``: the running loop).
        client: anything with ``aget_ws_token(is_private)`` (kunb's clients) or a blocking
            ``get_ws_token(is_private)`` (KuCoin's SDK clients; run in a worker thread).
        callback: called with every data message.
        private: use a private token (account and order channels).
        sock: a connected socket for the *first* dial only (a socket cannot be reused after it
            closes; reconnects open their own, with a warning). A zero-argument callable is
            used as a socket factory on every dial instead.
        on_event: called with a :class:`LifecycleEvent` at each lifecycle step (``None``: off).
        queue_size: messages an async callback may fall behind by, and the most one socket read
            delivers to any callback; past it the oldest are dropped, counted and reported
            (``QUEUE_OVERFLOW``).
        ping_interval, ping_timeout: seconds; ``None`` takes the bullet's ``pingInterval`` /
            ``pingTimeout``.
        welcome_timeout: seconds to wait for ``welcome`` after the handshake.
        request_timeout: seconds a subscribe/unsubscribe waits for its ack (including a reconnect).
        connect_timeout: seconds for the WebSocket handshake.
        backoff_base, backoff_cap: reconnect delays grow as ``base * 2**(n-1)`` up to ``cap``, with
            jitter; the first dial and the first redial after a stable link are immediate.
        stable_after: seconds a link must stay live for the backoff to start over.
        max_reconnects: give up (state ``CLOSED``) after this many failed dials in a row
            (``None``: never).
        unreachable_after: seconds after its first failed dial that a connection which was never live
            gives up: it closes, and :meth:`wait_live` and :meth:`subscribe` raise a ``TransportError``
            naming the cause (DNS, refused, TLS... chained as ``__cause__``). ``None``: keep redialing, as
            after any outage of a live connection (live panels do: their badge says why).
        token_renewal: seconds after which the connection is renewed with a fresh token, before
            KuCoin's 24 h end (``None``: never).
        uplink_limit, uplink_period: at most this many client messages (pings included) per period
            (``None``: the protocol's; classic-protocol.md#topics-and-limits: 100 per 10 s).
        name: a label for events and logs (default ``public-N`` / ``private-N``, ``uta-public-N``...).
        dialect: the protocol (:class:`~kunb.net.dialect.UtaDialect` for UTA); default: classic over
            ``client`` and ``private`` (then ``client`` and ``private`` are ignored).
        silence_after: seconds after its ack a topic that promises data may stay silent before it is
            reported (``SILENT`` event, logged; uta-kunb.md#uta-silence). Classic topics are not watched.
        ticker_symbol: classic ticker pushes get ``data["symbol"]``, as KuCoin's SDK examples read it
            (default). The drivers (:class:`kunb.Stream`, :class:`kunb.Account`) decode the topic
            themselves and pass ``False``: the frame stays as KuCoin sent it, and each push costs less.
        transport: how frames are read; every link hands each message over straight from the socket's
            data callback except ``"websockets"``. ``"auto"`` (default): ``"picows"`` when picows is
            installed, else ``"frames"``; ``"picows"``: picows' C frame parser
            (:class:`kunb.net.picows_link.PicowsLink`, the fastest); ``"frames"``: websockets' sans-I/O
            parser with a plain-frame fast path (:class:`kunb.net.link.FrameLink`); ``"websockets"``:
            websockets' own ``ClientConnection`` and ``recv()``. A proxy configured in the environment
            always uses websockets' connection (the others cannot tunnel).
        wire: a :class:`~kunb.net.wire.WireTap` told of every frame received (with the local receive
            time, before decoding) and sent, and of every dial and link end (:class:`kunb.record.RawLog`
            records them); ``None`` (default): no tap, the hot path is unchanged.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None,
        client: Any,
        callback: Callback,
        private: bool = False,
        sock: socket.socket | Callable[[], socket.socket] | None = None,
        *,
        on_event: EventHook | None = None,
        queue_size: int = 10_000,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        welcome_timeout: float = 10.0,
        request_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        stable_after: float = 30.0,
        max_reconnects: int | None = None,
        unreachable_after: float | None = FIRST_DIAL_GRACE,
        token_renewal: float | None = 23 * 3600.0,
        uplink_limit: int | None = None,
        uplink_period: float = UPLINK_PERIOD,
        name: str | None = None,
        transport: LinkKind = "auto",
        dialect: Dialect | None = None,
        silence_after: float = SILENCE_AFTER,
        ticker_symbol: bool = True,
        wire: WireTap | None = None,
    ) -> None:
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ConfigurationError("ConnectWebsocket needs a running event loop (or loop=)") from None
        if queue_size < 1:
            raise ConfigurationError("queue_size must be at least 1")
        if transport not in get_args(LinkKind):
            raise ConfigurationError(
                f"transport must be one of {', '.join(map(repr, get_args(LinkKind)))}, not {transport!r}"
            )
        if transport == "picows" and not PICOWS:
            raise ConfigurationError("transport='picows' needs the picows package: pip install 'kunb[fast]'")
        if not callable(callback):
            raise ConfigurationError("callback must be callable")
        if dialect is None:
            dialect = ClassicDialect(client, private=private)
        self._dialect = dialect
        self._loop = loop
        self._client = client
        self._callback = callback
        self._private = dialect.private
        self._silence_after = silence_after
        self._sock = sock
        self._on_event = on_event
        self._ping_override = (ping_interval, ping_timeout)
        self._welcome_timeout = welcome_timeout
        self.request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._backoff = (backoff_base, backoff_cap)
        self._stable_after = stable_after
        self._max_reconnects = max_reconnects
        self._unreachable_after = unreachable_after
        self._ever_live = False  # live at least once: from then on every outage is redialed
        self._token_renewal = token_renewal
        self._transport_kind: LinkKind = transport
        prefix = "" if dialect.protocol == "classic" else f"{dialect.protocol}-"
        self.name = name or f"{prefix}{'private' if self._private else 'public'}-{next(_names)}"

        self.state = ConnectionState.CONNECTING
        self.counters = Counters()
        self._session = dialect.session(_ids)
        self._limiter = (
            dialect.limiter()
            if uplink_limit is None
            else UplinkLimiter(limit=uplink_limit, period=uplink_period)
        )
        self._topics: dict[str, None] = {}  # confirmed units, in subscription order
        self._futures: dict[str, asyncio.Future[None]] = {}
        self._ws: Link | None = None
        self._live = asyncio.Event()
        self._ended = asyncio.Event()
        self._fatal: BaseException | None = None
        self._dials = 0
        self._live_since: float | None = None
        self._connect_id = ""
        self._queue: deque[dict[str, Any]] = deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self._cb_log = _LimitedLog()
        self._overflow_log = _LimitedLog()
        self._bad_log = _LimitedLog()
        self._welcome: asyncio.Future[None] | None = None
        self._auth: asyncio.Future[AuthResult] | None = None
        self._rearm = asyncio.Event()  # wakes the keepalive to look at its deadlines again
        self._token_dial = False
        # Synchronous callbacks are called by the hot path itself; async ones from the dispatcher task.
        self._direct = not _is_async(callback)
        self._awaiting: Awaitable[Any] | None = None
        self._prepare = dialect.prepare if ticker_symbol and dialect.protocol == "classic" else None
        self._wire = wire
        on_frame = self._frame_sink() if dialect.protocol == "classic" else self._push_sink()
        self._on_frame = on_frame if wire is None else _tapped(on_frame, wire, self.name)
        self._task = loop.create_task(self._run(), name=f"kunb-{self.name}-run")
        self._dispatcher = loop.create_task(self._dispatch(), name=f"kunb-{self.name}-dispatch")

    def __repr__(self) -> str:
        return f"<ConnectWebsocket {self.name} {self.state.value} topics={len(self._topics)}>"

    # -- public API -----------------------------------------------------------------------------
    @property
    def topics(self) -> KeysView[str]:
        """The subscribed topics (per-symbol units), ordered and duplicate-free; a live view."""
        return self._topics.keys()

    @property
    def private(self) -> bool:
        """True for a connection on a private token."""
        return self._private

    @property
    def dialect(self) -> Dialect:
        """The protocol this connection speaks."""
        return self._dialect

    @property
    def protocol(self) -> str:
        """``classic`` or ``uta``."""
        return self._dialect.protocol

    @property
    def closed(self) -> bool:
        """True once closed for good."""
        return self.state is ConnectionState.CLOSED

    async def wait_live(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the connection is live.

        Raises:
            RequestTimeout: not live within ``timeout``.
            ClosedError: closed meanwhile; a fatal error (bad credentials) is re-raised instead.
        """
        if self._live.is_set():
            return
        self._check_open()
        ended = asyncio.ensure_future(self._ended.wait())
        live = asyncio.ensure_future(self._live.wait())
        try:
            done, _ = await asyncio.wait({ended, live}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            live.cancel()
        if not done:
            raise RequestTimeout(f"{self.name}: not connected within {timeout:.3g} s")
        self._check_open()

    async def subscribe(self, topic: str | Iterable[str], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Subscribe and wait for KuCoin's ack (already subscribed topics are skipped).

        Topics accepted by the server stay subscribed and are resubscribed after every reconnect.

        Raises:
            SubscribeError: KuCoin refused (its ``code``: 404 unknown topic, 509 limits...).
            RequestTimeout: no ack within ``timeout`` (default ``request_timeout``).
            ConfigurationError: not a topic or a list of topics (a ValueError; the text shows what was
                passed), or a malformed topic.
        """
        units = [u for u in units_of(topic, self._dialect) if u not in self._topics]
        if units:
            await self._request(RequestKind.SUBSCRIBE, units, timeout)

    async def unsubscribe(self, topic: str | Iterable[str], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Unsubscribe; the topics are forgotten at once (not resubscribed), then the server is told.

        Unknown topics are ignored. When the link is down nothing needs sending (the next link will
        not resubscribe them); while it is resubscribing, the unsubscribe goes out after that.
        """
        units = [u for u in units_of(topic, self._dialect) if u in self._topics]
        for unit in units:
            del self._topics[unit]
        if units and self._ws is not None:
            await self._request(RequestKind.UNSUBSCRIBE, units, timeout)

    async def send_message(self, msg: dict[str, Any], retry_count: int = 0) -> None:
        """Send one message, as KuCoin's SDK does.

        ``subscribe``/``unsubscribe`` messages go through :meth:`subscribe`/:meth:`unsubscribe`, so the
        topic is tracked for reconnects and the ack is awaited (errors raise). Other messages get a
        unique ``id`` when they have none and are sent once the link is live; ``retry_count`` extra
        attempts are made when the link drops during the send.
        """
        kind = msg.get("type")
        if kind in ("subscribe", "unsubscribe") and isinstance(msg.get("topic"), str):
            method = self.subscribe if kind == "subscribe" else self.unsubscribe
            await method(msg["topic"])
            return
        message = dict(msg)
        message.setdefault("id", self._session.next_id())
        text = orjson.dumps(message).decode()
        for attempt in range(retry_count + 1):
            await self.wait_live(self.request_timeout)
            try:
                await self._send(self._live_link(), text)
                return
            except ConnectionClosed:
                if attempt == retry_count:
                    raise

    async def send_ping(self) -> None:
        """Send a JSON ping now (the keepalive also pings every ``pingInterval`` by itself)."""
        await self.wait_live(self.request_timeout)
        text = self._dialect.ping(self._session, self._loop.time(), self.counters.frames, _wall_ms())
        await self._send(self._live_link(), text)

    async def close(self) -> None:
        """Stop for good: cancel every task, close the socket, fail pending requests. Idempotent."""
        self._direct = False  # what arrives during the closing handshake is queued, never delivered
        if self._task.done() and self._dispatcher.done():
            self._finish(None)
            return
        for task in (self._task, self._dispatcher):
            task.cancel()
        for task in (self._task, self._dispatcher):
            try:
                await task
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise  # our caller is being cancelled too: do not swallow it
            except Exception:  # the run task already reported its fatal error
                pass
        self._finish(None)

    async def __aenter__(self) -> ConnectWebsocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- internals: lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.state is ConnectionState.CLOSED:
            if self._fatal is not None:
                # re-raised on every call: reset its traceback so it does not grow with each raise
                raise self._fatal.with_traceback(None)
            raise ClosedError(f"{self.name} is closed")

    def _emit(self, kind: EventKind, detail: str = "", **kw: Any) -> None:
        hook = self._on_event
        if hook is None:
            return
        try:
            hook(LifecycleEvent(kind, self.name, detail, **kw))
        except Exception:
            logger.exception("%s: on_event hook raised (ignored)", self.name)

    def _finish(self, error: BaseException | None) -> None:
        if self.state is ConnectionState.CLOSED:
            return
        self._fatal = error
        self.state = ConnectionState.CLOSED
        self._live.clear()
        self._ended.set()
        self._fail_requests(error or ClosedError(f"{self.name} is closed"))
        logger.info("%s: closed%s", self.name, f" ({error})" if error else "")
        self._emit(EventKind.CLOSED, str(error or ""), error=error)

    def _fail_requests(self, error: BaseException) -> None:
        futures, self._futures = self._futures, {}
        for fut in futures.values():
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # mark retrieved: nobody may be waiting any more

    async def _run(self) -> None:
        attempt = 0  # dials in a row that did not give a stable link
        delays = backoff(*self._backoff)
        delay = 0.0
        renewing = False
        dialed = False
        first_failure: float | None = None  # when the first dial failed, while never live
        try:
            while True:
                if attempt:
                    if self._max_reconnects is not None and attempt > self._max_reconnects:
                        raise TransportError(f"{self.name}: gave up after {attempt - 1} reconnects")
                    self._emit(EventKind.RECONNECTING, f"dial {attempt}", count=attempt, delay=delay)
                    await asyncio.sleep(delay)
                if dialed:
                    self.counters.reconnects += 1
                dialed = True
                self._live_since = None
                try:
                    await self._serve(renewing)
                except _Renew:
                    renewing, attempt = True, 0
                    continue
                except Exception as exc:
                    if not retryable(exc):
                        raise  # retrying cannot help: bad credentials or set-up
                    error: BaseException = exc
                renewing = False
                since = self._live_since
                stable = since is not None and self._loop.time() - since >= self._stable_after
                if stable:  # a stable link is redialed at once, and the delays start over
                    attempt, delays = 0, backoff(*self._backoff)
                else:
                    attempt += 1
                if self.state is ConnectionState.LIVE:
                    self.state = ConnectionState.RECONNECTING
                text = _describe(error)
                if attempt:
                    delay = next(delays)
                if not self._ever_live:
                    now = self._loop.time()
                    first_failure = now if first_failure is None else first_failure
                    if gives_up(first_failure, now, delay, self._unreachable_after):
                        self._emit(EventKind.DISCONNECTED, text, error=error)
                        raise TransportError(
                            f"{self.name}: cannot connect ({attempt} dials failed in "
                            f"{now - first_failure:.1f} s): {text}"
                        ) from error
                level = logging.INFO if isinstance(error, ConnectionClosed) else logging.WARNING
                logger.log(level, "%s: link down (%s); reconnecting", self.name, text)
                self._emit(EventKind.DISCONNECTED, text, error=error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("%s: stopped: %s", self.name, exc)
            self._finish(exc)
        finally:
            self._live.clear()

    async def _dial(self) -> Link:
        target = await self._dialect.dial(self.name)
        interval = self._ping_override[0] or target.ping_interval
        timeout = self._ping_override[1] or target.ping_timeout
        self._connect_id = target.connect_id
        self._token_dial = target.token
        url = target.url  # may hold a token: never logged
        sock = self._sock
        if callable(sock):
            sock = sock()
        elif sock is not None and self._dials:
            logger.warning("%s: sock= served the first connection only; reconnects use their own", self.name)
            self._sock = sock = None
        self._dials += 1
        # Frames may be dispatched as soon as the handshake completes (the welcome can share its TCP
        # segment), so the session and the welcome waiter are ready before dialing.
        self._session.reset(self._loop.time(), ping_interval=interval, ping_timeout=timeout)
        self._welcome = self._loop.create_future()
        self._auth = None
        if self._wire is not None:  # before the link opens: its first frames may come with the handshake
            self._wire.opened(self.name, time.time_ns(), url)
        try:
            # TLS follows the scheme; `encrypt` may be null/false for ws://
            # (classic-protocol.md#pointing-sdks-at-another-host).
            return await open_link(
                url,
                self._on_frame,
                kind=self._transport_kind,
                sock=sock,
                open_timeout=self._connect_timeout,
                close_timeout=2.0,
                max_size=2**24,
                logger=_wire_logger,
                name=self.name,
            )
        except websockets.InvalidURI:
            self._tap_closed("the endpoint is not a WebSocket URI")
            raise ProtocolError(f"{self.name}: the endpoint is not a WebSocket URI") from None
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self._tap_closed(f"connect failed: {type(exc).__name__}")
            where = urlsplit(url)  # the host only: the query holds the token
            host = f"{where.scheme}://{where.hostname}" + (f":{where.port}" if where.port else "")
            raise TransportError(f"{self.name}: connect to {host} failed: {redact_token(str(exc))}") from exc
        except BaseException as exc:
            self._tap_closed("dial cancelled" if isinstance(exc, asyncio.CancelledError) else _describe(exc))
            raise

    def _tap_closed(self, reason: str) -> None:
        if self._wire is not None:
            self._wire.closed(self.name, time.time_ns(), None, reason)

    async def _serve(self, renewing: bool) -> NoReturn:  # it ends by raising why the link ended
        ws = await self._dial()
        loop = self._loop
        tasks: list[asyncio.Task[None]] = []
        dead = False
        ended = ""
        try:
            self._emit(EventKind.CONNECTED)
            await self._await_welcome(ws)
            self._emit(EventKind.WELCOME)
            self._ws = ws
            tasks.append(loop.create_task(self._watch(ws), name=f"kunb-{self.name}-watch"))
            tasks.append(loop.create_task(self._keepalive(ws), name=f"kunb-{self.name}-keepalive"))
            await self._handshake(ws, tasks)
            if self._topics:
                await self._resubscribe(ws, tasks)
            self.state = ConnectionState.LIVE
            self._live_since = loop.time()
            self._ever_live = True
            self._live.set()
            logger.info("%s: live (%d topics)", self.name, len(self._topics))
            if renewing:
                self._emit(EventKind.TOKEN_RENEWED)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises why the link ended
            raise ConnectionClosed(f"{self.name}: connection closed")
        except RequestTimeout as exc:
            dead = True  # no closing handshake with a dead peer: it would only add to the outage
            ended = _describe(exc)
            raise
        except BaseException as exc:
            ended = "closed" if isinstance(exc, asyncio.CancelledError) else _describe(exc)
            raise
        finally:
            self._tap_closed(ended)
            self._live.clear()
            self._ws = None
            for task in tasks:
                task.cancel()
            try:
                if tasks:
                    await asyncio.wait(tasks)  # never raises the tasks' errors, never swallows our cancel
            finally:
                self._fail_requests(ConnectionClosed(f"{self.name}: link lost before the answer"))
                await _close_socket(ws, abort=dead)

    async def _await_welcome(self, ws: Link) -> None:
        welcome = self._welcome
        assert welcome is not None
        done, _ = await asyncio.wait(
            (welcome, ws.ended), timeout=self._welcome_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if welcome.done():
            return
        if not done:
            raise RequestTimeout(f"{self.name}: no welcome within {self._welcome_timeout} s")
        reason = ws.reason()
        if isinstance(reason, websockets.ConnectionClosed):
            raise ConnectionClosed(f"{self.name}: closed before welcome ({reason.rcvd})") from reason
        raise reason  # e.g. WebSocketError for a 401 error frame: redial

    async def _handshake(self, ws: Link, tasks: list[asyncio.Task[None]]) -> None:
        """Send the dialect's after-welcome frame (UTA V2 ``op:auth``) and wait for its answer; a refusal
        is fatal like bad credentials (uta-kunb.md#uta-private-auth), no answer a lost link."""
        text = self._dialect.handshake(self._session, _wall_ms())
        if text is None:
            return
        auth: asyncio.Future[AuthResult] = self._loop.create_future()
        self._auth = auth
        await self._send(ws, text)  # a credential: never logged
        waiters: set[asyncio.Future[Any]] = {auth, *tasks}
        done, _ = await asyncio.wait(
            waiters, timeout=self.request_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not auth.done():
            for task in done:
                task.result()  # the link ended: raises why
            raise RequestTimeout(f"{self.name}: no answer to auth within {self.request_timeout} s")
        result = auth.result()
        if not result.accepted:
            raise AuthenticationError("400003", f"{self.name}: UTA auth refused: {result.reason}")
        self._emit(EventKind.AUTHENTICATED)

    async def _resubscribe(self, ws: Link, tasks: list[asyncio.Task[None]]) -> None:
        units = list(self._topics)
        failed = await self._send_requests(
            ws, RequestKind.SUBSCRIBE, units, self.request_timeout, tasks, record=False
        )
        for request_units, _ in failed:
            for unit in request_units:
                self._topics.pop(unit, None)
        if failed:
            refused = sum(len(request_units) for request_units, _ in failed)
            logger.warning("%s: %d topics refused on resubscribe (%s)", self.name, refused, failed[0][1])
        self._emit(
            EventKind.RESUBSCRIBED, f"{len(failed)} refused" if failed else "", count=len(self._topics)
        )

    # -- internals: requests --------------------------------------------------------------------
    async def _uplink_slot(self) -> None:
        """Wait until KuCoin's uplink limit allows one more message, and take that slot."""
        limiter = self._limiter
        while (wait := limiter.delay(self._loop.time())) > 0:  # noqa: ASYNC110 - a rate limit, not a poll
            await asyncio.sleep(wait)
        limiter.record(self._loop.time())

    def _live_link(self) -> Link:
        """The live link, after ``wait_live``: it may have dropped again between the wake-up and now."""
        ws = self._ws
        if ws is None:
            raise ConnectionClosed(f"{self.name}: link lost before the send")
        return ws

    async def _send(self, ws: Link, text: str, *, slot: bool = True) -> None:
        if slot:
            await self._uplink_slot()
        try:
            await ws.send(text)
        except websockets.ConnectionClosed as exc:
            raise ConnectionClosed(f"{self.name}: closed while sending") from exc
        if self._wire is not None:
            self._wire.sent(self.name, time.time_ns(), text)

    async def _send_requests(
        self,
        ws: Link,
        kind: RequestKind,
        units: list[str],
        budget: float,
        watch: list[asyncio.Task[None]] | None = None,
        *,
        record: bool = True,
    ) -> list[tuple[tuple[str, ...], SubscribeError]]:
        """Send ``units`` in batches, wait for every answer, record accepted subscriptions.

        Returns the refused requests (their units and KuCoin's error).
        """
        loop = self._loop
        sent: list[tuple[tuple[str, ...], asyncio.Future[None]]] = []
        ids: list[str] = []
        for topic in self._dialect.batches(units):
            pending, text = self._session.request(kind, topic, loop.time())
            fut: asyncio.Future[None] = loop.create_future()
            self._futures[pending.id] = fut
            sent.append((pending.units, fut))
            ids.append(pending.id)
            await self._send(ws, text)
        futures = [f for _, f in sent]
        waiters: set[asyncio.Future[Any]] = set(futures) | set(watch or ())
        deadline = loop.time() + budget
        while not all(f.done() for f in futures):
            remaining = deadline - loop.time()
            if remaining <= 0:
                for rid in ids:
                    self._futures.pop(rid, None)
                    self._session.pending.pop(rid, None)
                raise RequestTimeout(f"{self.name}: no {kind.value} ack within {budget:.3g} s")
            done, _ = await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if any(t in done for t in watch or ()):
                raise ConnectionClosed(f"{self.name}: link lost during {kind.value}")
            waiters -= done
        failed: list[tuple[tuple[str, ...], SubscribeError]] = []
        for request_units, fut in sent:
            exc = fut.exception()
            if exc is None:
                if record and kind is RequestKind.SUBSCRIBE:
                    self._topics.update(dict.fromkeys(request_units))
            elif isinstance(exc, SubscribeError):
                failed.append((request_units, exc))
            else:
                raise exc
        return failed

    async def _request(self, kind: RequestKind, units: list[str], budget: float | None) -> None:
        """``budget`` bounds the wait for a live link, then (from the last send) the wait for acks;
        sending itself is paced by the uplink limit, so thousands of topics never time out early."""
        budget = self.request_timeout if budget is None else budget
        deadline = self._loop.time() + budget
        while units:
            await self.wait_live(max(deadline - self._loop.time(), 0.0))
            ws = self._ws
            assert ws is not None
            try:
                failed = await self._send_requests(ws, kind, units, budget)
            except ConnectionClosed:
                if kind is RequestKind.UNSUBSCRIBE:
                    return  # the link that carried them is gone; they are forgotten already
                units = [u for u in units if u not in self._topics]
                continue  # the next connection gets them, within the same deadline
            refused = sum(len(request_units) for request_units, _ in failed)
            kind_event = EventKind.SUBSCRIBED if kind is RequestKind.SUBSCRIBE else EventKind.UNSUBSCRIBED
            if len(units) > refused:
                self._emit(kind_event, count=len(units) - refused)
            if failed:
                raise failed[0][1]
            return

    # -- internals: the hot path ----------------------------------------------------------------
    # The link hands over the messages of each socket read at once. Every message is decoded once and
    # checked; a data message then goes to the callback right there while the callback is synchronous
    # and the read fits the queue (the common case: no task wake-up, no queue, the decoded dict still in
    # the CPU cache), else to the bounded drop-oldest queue that the dispatcher task drains: an async
    # callback, a read larger than the queue (its oldest messages are shed, as a full queue does), a
    # queue not yet drained. Either way a sync callback runs before the next read is parsed, so it sees
    # messages in order and sheds them the same way. No logging, no await; one clock read per read;
    # names bound once per connection. Counters of data messages and bytes are added once per read.

    def _frame_sink(self) -> Callable[[list[bytes]], None]:
        """The hot path of the classic protocol: data frames are ``type: message`` with a string topic."""
        counters = self.counters
        queue = self._queue
        maxlen = queue.maxlen or 1
        wake = self._wake
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        control = self._control
        overflowed = self._overflowed
        bad_frame = self._bad_frame
        callback = self._callback
        failed = self._callback_failed
        went_async = self._went_async
        last = counters.last_message
        clock = time.monotonic
        isawaitable = inspect.isawaitable
        # SDK users' ticker data gains its symbol (add_ticker_symbol inlined: the topic's symbol is
        # remembered per topic, so a level-2 push pays one dict lookup on an already hashed string)
        symbols = ticker_symbols if self._prepare is not None else None
        symbol_of = ticker_symbol

        def on_messages(raws: list[bytes]) -> None:
            direct = self._direct and not queue and len(raws) <= maxlen
            now = clock()
            size = received = 0
            try:
                for raw in raws:
                    size += len(raw)
                    try:
                        frame = loads(raw)
                    except decode_error:
                        bad_frame()
                        continue
                    try:
                        kind = frame["type"]  # subscripts: cheaper than .get() on this path
                    except KeyError:
                        kind = None  # no type: a control frame for the session to judge
                    except TypeError:  # JSON, but not an object
                        bad_frame()
                        continue
                    if kind != "message":
                        counters.control_frames += 1
                        control(frame)  # may raise WebSocketError: the link ends with it
                        continue
                    try:
                        topic = frame["topic"]
                    except KeyError:
                        topic = None
                    if topic.__class__ is not str:  # routing and dispatch key on it
                        bad_frame()
                        continue
                    received += 1
                    if not direct:
                        if not queue:
                            wake.set()  # the dispatcher sleeps only on an empty queue
                        elif len(queue) == maxlen:
                            overflowed()
                        queue.append(frame)
                        continue
                    last[topic] = now
                    if symbols is not None:
                        symbol = symbols.get(topic)
                        if symbol is None:
                            symbol = symbol_of(topic)
                        if symbol:
                            if symbol is TICKER_ALL:
                                add_ticker_symbol(frame)
                            else:
                                data = frame.get("data")
                                if data.__class__ is dict and "symbol" not in data:
                                    data["symbol"] = symbol
                    try:
                        result = callback(frame)
                    except (Exception, asyncio.CancelledError) as exc:  # never ends the stream
                        failed(exc)
                        continue
                    if result is not None and isawaitable(result):
                        direct = False  # the callback is async: the rest goes through the dispatcher
                        went_async(result)
            finally:
                counters.bytes += size
                counters.messages += received

        return on_messages

    def _push_sink(self) -> Callable[[list[bytes]], None]:
        """The hot path of UTA (:meth:`_frame_sink`'s twin): data pushes carry ``T`` (a string) and a
        ``d`` object (uta-protocol.md#envelope); every other JSON object is a control frame."""
        counters = self.counters
        queue = self._queue
        maxlen = queue.maxlen or 1
        wake = self._wake
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        control = self._control
        overflowed = self._overflowed
        bad_frame = self._bad_frame
        callback = self._callback
        failed = self._callback_failed
        went_async = self._went_async
        last = counters.last_message
        clock = time.monotonic
        isawaitable = inspect.isawaitable
        key_of = self._dialect.key_of

        def on_messages(raws: list[bytes]) -> None:
            direct = self._direct and not queue and len(raws) <= maxlen
            now = clock()
            size = received = 0
            try:
                for raw in raws:
                    size += len(raw)
                    try:
                        frame = loads(raw)
                        push = frame.get("T")
                    except (decode_error, AttributeError):
                        bad_frame()
                        continue
                    if push is None:
                        counters.control_frames += 1
                        control(frame)
                        continue
                    if push.__class__ is not str or frame.get("d").__class__ not in (dict, list):
                        bad_frame()  # routing keys on T, decoders read d
                        continue
                    received += 1
                    if not direct:
                        if not queue:
                            wake.set()
                        elif len(queue) == maxlen:
                            overflowed()
                        queue.append(frame)
                        continue
                    last[key_of(frame)] = now  # type: ignore[index]
                    try:
                        result = callback(frame)
                    except (Exception, asyncio.CancelledError) as exc:
                        failed(exc)
                        continue
                    if result is not None and isawaitable(result):
                        direct = False
                        went_async(result)
            finally:
                counters.bytes += size
                counters.messages += received

        return on_messages

    def _went_async(self, result: Awaitable[Any]) -> None:
        """The callback returned an awaitable: the dispatcher awaits it, and every later message goes
        through the queue so that each waits for the one before."""
        self._direct = False
        self._awaiting = result
        self._wake.set()

    async def _watch(self, ws: Link) -> None:
        """Wait for the link to end and raise why (ConnectionClosed, or the error frame's error)."""
        await asyncio.shield(ws.ended)
        reason = ws.reason()
        if isinstance(reason, websockets.ConnectionClosed):
            raise ConnectionClosed(
                f"{self.name}: closed by peer ({reason.rcvd or 'no close frame'})"
            ) from reason
        raise reason

    def _control(self, frame: dict[str, Any]) -> None:
        session = self._session
        event = session.receive(frame)
        welcome = self._welcome
        if welcome is not None and not welcome.done() and session.welcomed:
            welcome.set_result(None)
        if isinstance(event, Ack):
            fut = self._futures.pop(event.request.id, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
            self._rearm.set()
        elif isinstance(event, RequestError):
            fut = self._futures.pop(event.request.id, None)
            if fut is not None and not fut.done():
                # KuCoin's 404 says only "not found": say it when a symbol is spelled in lower case
                hint = case_hint(event.request.units)
                fut.set_exception(SubscribeError(event.code, event.data + hint))
        elif isinstance(event, AuthResult):
            auth = self._auth
            if auth is not None and not auth.done():
                auth.set_result(event)
        elif isinstance(event, ConnectionErrorFrame):
            # classic-protocol.md#error-frames: connection-level errors
            # carry the connectId or no id (401 token
            # expired): redial. A late error for a request that already timed out is only logged.
            if event.id is None or event.id == self._connect_id or event.code == 401:
                raise WebSocketError(event.code, event.data)
            logger.warning("%s: error frame for no pending request: %s %s", self.name, event.code, event.data)

    def _bad_frame(self) -> None:
        """A frame that is not a KuCoin message object: counted; logged once per burst, never its text."""
        counters = self.counters
        counters.bad_frames += 1
        if self._bad_log.ready(self._loop.time()):
            logger.warning(
                "%s: skipped %d frames that are not KuCoin messages so far", self.name, counters.bad_frames
            )

    def _overflowed(self) -> None:
        self.counters.drops += 1
        if self._overflow_log.ready(self._loop.time()):
            dropped = self.counters.drops
            logger.warning(
                "%s: callback too slow, queue full: %d messages dropped so far", self.name, dropped
            )
            self._emit(EventKind.QUEUE_OVERFLOW, count=dropped)

    async def _keepalive(self, ws: Link) -> None:
        loop = self._loop
        session = self._session
        dialect = self._dialect
        counters = self.counters
        after = self._silence_after
        rearm = self._rearm
        renewal = self._token_renewal if self._token_dial else None  # tokenless URLs do not expire
        renew_at = None if renewal is None else loop.time() + renewal
        while True:
            now = loop.time()
            if session.link_dead(now, counters.frames):
                raise RequestTimeout(
                    f"{self.name}: no pong or frame within {session.ping_timeout} s of a ping"
                )
            if renew_at is not None and now >= renew_at:
                raise _Renew()
            for topic in dialect.silent_topics(session, now, counters.last_message, after):
                self._silent(topic)
            if session.ping_due(now):
                await self._uplink_slot()  # the pong deadline starts when the ping really leaves
                await self._send(
                    ws, dialect.ping(session, loop.time(), counters.frames, _wall_ms()), slot=False
                )
            rearm.clear()  # no await from here to the wait: an ack cannot slip between
            wake = session.next_wakeup()
            for deadline in (renew_at, dialect.silence_deadline(session, after)):
                if deadline is not None:
                    wake = min(wake, deadline)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wake - loop.time(), 0.0)):
                    await rearm.wait()  # an ack may start a silence watch: look again

    def _silent(self, topic: str) -> None:
        """A topic that promised data sent none since its ack (an unknown symbol is acked, then silent)."""
        logger.warning("%s: %s sent nothing %.3g s after its ack", self.name, topic, self._silence_after)
        self._emit(EventKind.SILENT, topic, delay=self._silence_after)

    async def _dispatch(self) -> None:
        """Feed the callback from the queue (async callbacks, and reads the sink did not deliver itself)."""
        queue = self._queue
        wake = self._wake
        callback = self._callback
        last = self.counters.last_message
        key_of = self._dialect.key_of
        prepare = self._prepare
        clock = time.monotonic
        isawaitable = inspect.isawaitable
        current_task = asyncio.current_task
        while True:
            await wake.wait()
            wake.clear()
            awaiting, self._awaiting = self._awaiting, None
            if awaiting is not None:  # what the sink's call of an async callback returned
                try:
                    await awaiting
                except asyncio.CancelledError as exc:
                    if current_task().cancelling():  # type: ignore[union-attr]
                        raise
                    self._callback_failed(exc)
                except Exception as exc:
                    self._callback_failed(exc)
            now = clock()  # one clock read per batch, refreshed after every await
            while queue:
                frame = queue.popleft()
                if prepare is not None:
                    prepare(frame)
                last[key_of(frame)] = now  # type: ignore[index]
                try:
                    result = callback(frame)
                    if result is not None and isawaitable(result):
                        await result
                        now = clock()
                except asyncio.CancelledError as exc:
                    if current_task().cancelling():  # type: ignore[union-attr]
                        raise  # close(): stop dispatching
                    self._callback_failed(exc)  # the callback's own cancellation must not end the stream
                except Exception as exc:
                    self._callback_failed(exc)

    def _callback_failed(self, exc: BaseException) -> None:
        counters = self.counters
        counters.callback_errors += 1
        if self._cb_log.ready(self._loop.time()):
            logger.error(
                "%s: callback raised %s (%d so far; the stream continues)",
                self.name,
                type(exc).__name__,
                counters.callback_errors,
                exc_info=exc,
            )
            self._emit(
                EventKind.CALLBACK_ERROR, type(exc).__name__, count=counters.callback_errors, error=exc
            )


async def _close_socket(ws: Link, *, abort: bool) -> None:
    """Close the socket; abort the transport for a dead peer or when interrupted (no leak)."""
    if abort:
        ws.transport.abort()
    try:
        await ws.close()
    except BaseException:
        ws.transport.abort()
        raise


def _is_async(callback: Callable[..., Any]) -> bool:
    """An ``async def`` function (or an object whose ``__call__`` is one): its messages are dispatched by
    a task. Anything else that returns an awaitable is found out at its first call."""
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004 - the method, not callability
    )


def _tapped(
    on_messages: Callable[[list[bytes]], None], wire: WireTap, name: str
) -> Callable[[list[bytes]], None]:
    """``on_messages`` preceded by the wire tap: the frames of a read as they came off the socket, stamped
    with the read's receive time (the tap sees every frame, the sink then decodes the read). A tuple: the
    link reuses its list for the next read, and the tap may keep what it gets."""
    received = wire.received
    clock = time.time_ns

    def tapped(raws: list[bytes]) -> None:
        received(name, clock(), tuple(raws))
        on_messages(raws)

    return tapped


def _wall_ms() -> int:
    """The wall clock in ms (UTA's auth frame and ``op`` pings carry it; KuCoin checks it like REST)."""
    return time.time_ns() // 1_000_000


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "closed"
    return redact_token(f"{type(error).__name__}: {error}")
