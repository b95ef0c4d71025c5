"""KucoinWsClient: KuCoin SDK's streaming client - the topic set, sharding across connections, dispatch.

Same calls as KuCoin's SDK (``await KucoinWsClient.create(loop, client, callback, private=False,
sock=None)``, ``subscribe``, ``unsubscribe``, ``topics``), plus ``close()`` / ``async with``. Topics are
kept per symbol (classic-protocol.md#per-symbol-topics); past
``max_topics_per_connection`` (KuCoin: 400) new topics
go to another :class:`~kunb.websocket.ConnectWebsocket` opened on demand, and each topic stays on its
connection through reconnects. The callback contract is :class:`~kunb.websocket.ConnectWebsocket`'s:
only ``message`` frames, exactly as KuCoin sent them (ticker ``data`` gains ``symbol``).

The same pool serves KuCoin's UTA protocol when given a :class:`~kunb.net.dialect.UtaDialect`
(``dialect=``): units are then UTA topic keys (``obu.SPOT:BTC-USDT:increment@10ms``) and the topic limit
per connection is UTA's (600 public, 400 private). The SDK-shaped default stays classic.

Everything is asyncio on one loop and nothing here blocks. KuCoin's older blocking style,
``KucoinWsClient(key, secret, passphrase)._socket(topic, callback)`` from plain code, is served by
:class:`kunb.blocking.BlockingWsClient`, which a direct ``KucoinWsClient(...)`` call returns and which
drives one of these on a background loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, KeysView
from typing import Any

from ..exceptions import ClosedError, ConfigurationError
from .connection import (
    Callback,
    ConnectionState,
    ConnectWebsocket,
    Counters,
    EventHook,
    EventKind,
    LifecycleEvent,
)
from .dialect import ClassicDialect, Dialect, units_of

__all__ = ["KucoinWsClient"]


class KucoinWsClient:
    """KuCoin's high-level streaming client, done right. Build it with :meth:`create`."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._callback: Callback | None = None
        self._private = False
        self._options: dict[str, Any] = {}
        self._on_event: EventHook | None = None
        self._max_topics = ClassicDialect.max_topics
        self._dialect: Dialect | None = None
        self._conns: list[ConnectWebsocket] = []
        self._where: dict[str, ConnectWebsocket] = {}  # unit topic -> its connection, subscription order
        self._closed = False

    @classmethod
    async def create(
        cls,
        loop: asyncio.AbstractEventLoop | None,
        client: Any,
        callback: Callback,
        private: bool = False,
        sock: Any = None,
        *,
        on_event: EventHook | None = None,
        max_topics_per_connection: int | None = None,
        dialect: Dialect | None = None,
        **options: Any,
    ) -> KucoinWsClient:
        """Create the client and start its first connection (it returns without waiting for it).

        Args:
            loop: the event loop (``None``: the running loop).
            client: a kunb REST client (``Market()``, ``User(...)``, ``GetToken(...)``...) or any object
                with ``get_ws_token(is_private)`` - it provides a fresh token for every dial.
            callback: sync or async callable receiving every data message (a dict).
            private: connect with a private token (``/account/balance``, ``/spotMarket/tradeOrders``...).
            sock: a connected socket for the first connection's first dial (see ConnectWebsocket).
            on_event: receives every :class:`~kunb.websocket.LifecycleEvent` of every connection.
            max_topics_per_connection: per-symbol topics per connection before another one opens
                (``None``: the protocol's limit, KuCoin's 400 for classic).
            dialect: the protocol (:class:`~kunb.net.dialect.UtaDialect`); default classic over
                ``client`` and ``private``.
            **options: passed to each :class:`~kunb.websocket.ConnectWebsocket` (``queue_size``,
                ``ping_interval``, ``backoff_base``, ``request_timeout``, ``token_renewal``...).
        """
        if dialect is None:
            dialect = ClassicDialect(client, private=private)
        limit = dialect.max_topics
        if max_topics_per_connection is None:
            max_topics_per_connection = limit
        if not 1 <= max_topics_per_connection <= limit:
            raise ConfigurationError(f"max_topics_per_connection must be 1..{limit}")
        self = object.__new__(
            cls
        )  # not cls(): kunb.ws_client's facade builds the blocking client on a direct call
        cls.__init__(self)
        self._loop = loop or asyncio.get_running_loop()
        self._client = client
        self._callback = callback
        self._private = dialect.private
        self._dialect = dialect
        self._on_event = on_event
        self._max_topics = max_topics_per_connection
        self._options = options
        self._conns.append(self._connect(sock))
        return self

    def __repr__(self) -> str:
        kind = "private" if self._private else "public"
        if self._dialect is not None and self._dialect.protocol != "classic":
            kind = f"{self._dialect.protocol} {kind}"
        counts = f"topics={len(self._where)} connections={len(self._conns)}"
        return f"<KucoinWsClient {kind} {self.state.value} {counts}>"

    # -- the SDK's API --------------------------------------------------------------------------
    async def subscribe(self, topic: str | Iterable[str], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Subscribe to a topic (``/market/ticker:BTC-USDT,ETH-USDT``...) and wait for KuCoin's ack.

        Already subscribed symbols are skipped. Topics KuCoin accepts stay subscribed, also across
        reconnects, until :meth:`unsubscribe`.

        Raises:
            SubscribeError: KuCoin refused (``.code``: 404 unknown topic, 509 limits...); other topics
                keep streaming.
            RequestTimeout: no ack in time (``request_timeout``, default 10 s).
            ClosedError: the client was closed.
            ConfigurationError: not a topic or a list of topics (a ValueError; the text shows what was
                passed), or a malformed topic.
        """
        self._check_open()
        units = [u for u in self._units(topic) if u not in self._where]
        if not units:
            return
        plan: dict[ConnectWebsocket, list[str]] = {}
        load = self._load()
        for unit in units:
            conn = self._shard(load)
            load[conn] += 1
            self._where[unit] = conn  # reserved now, so concurrent subscribes shard correctly
            plan.setdefault(conn, []).append(unit)
        try:
            results = await asyncio.gather(
                *(conn.subscribe(us, timeout=timeout) for conn, us in plan.items()), return_exceptions=True
            )
        finally:  # also when cancelled: keep only what the server accepted
            for conn, us in plan.items():
                for unit in us:
                    if unit not in conn.topics and self._where.get(unit) is conn:
                        del self._where[unit]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self._drop_empty()
            raise errors[0]

    async def unsubscribe(self, topic: str | Iterable[str], *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Unsubscribe; unknown topics are ignored. The topics are not resubscribed after this."""
        self._check_open()
        plan: dict[ConnectWebsocket, list[str]] = {}
        for unit in self._units(topic):
            conn = self._where.pop(unit, None)
            if conn is not None:
                plan.setdefault(conn, []).append(unit)
        results = await asyncio.gather(
            *(conn.unsubscribe(us, timeout=timeout) for conn, us in plan.items()), return_exceptions=True
        )
        await self._drop_empty()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    @property
    def dialect(self) -> Dialect | None:
        """The protocol the connections speak."""
        return self._dialect

    @property
    def topics(self) -> KeysView[str]:
        """Subscribed topics, one per symbol, in subscription order, without duplicates (a live view)."""
        return self._where.keys()

    # -- lifecycle ------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close every connection and end every task. Idempotent."""
        self._closed = True
        conns, self._conns = self._conns, []
        await asyncio.gather(*(c.close() for c in conns))

    async def __aenter__(self) -> KucoinWsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_live(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every connection is live (raises RequestTimeout, or a fatal error)."""
        self._check_open()
        await asyncio.gather(*(c.wait_live(timeout) for c in self._conns))

    # -- observability --------------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        """``CLOSED`` once closed; else ``LIVE`` when every connection is, else the worst of them."""
        if self._closed or not self._conns:
            return ConnectionState.CLOSED
        states = {c.state for c in self._conns}
        for state in (
            ConnectionState.CLOSED,
            ConnectionState.RECONNECTING,
            ConnectionState.CONNECTING,
        ):
            if state in states:
                return state
        return ConnectionState.LIVE

    @property
    def connections(self) -> tuple[ConnectWebsocket, ...]:
        """The open connections (shards), the first one always present until close()."""
        return tuple(self._conns)

    @property
    def counters(self) -> Counters:
        """A summed snapshot of every connection's counters."""
        total = Counters()
        for conn in self._conns:
            c = conn.counters
            total.messages += c.messages
            total.control_frames += c.control_frames
            total.bytes += c.bytes
            total.reconnects += c.reconnects
            total.drops += c.drops
            total.callback_errors += c.callback_errors
            total.bad_frames += c.bad_frames
            total.last_message.update(c.last_message)
        return total

    def connection_of(self, topic: str) -> ConnectWebsocket | None:
        """The connection carrying a (single-symbol) topic, or ``None``."""
        units = self._units(topic)
        return self._where.get(units[0]) if len(units) == 1 else None

    # -- internals ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this KucoinWsClient is closed")

    def _connect(self, sock: Any = None) -> ConnectWebsocket:
        assert self._callback is not None
        return ConnectWebsocket(
            self._loop,
            self._client,
            self._callback,
            self._private,
            sock,
            on_event=self._relay,
            dialect=self._dialect,
            **self._options,
        )

    def _load(self) -> dict[ConnectWebsocket, int]:
        load: dict[ConnectWebsocket, int] = dict.fromkeys(self._conns, 0)
        for conn in self._where.values():
            load[conn] = load.get(conn, 0) + 1
        return load

    def _shard(self, load: dict[ConnectWebsocket, int]) -> ConnectWebsocket:
        """The first connection with room (topics are packed), or a new one."""
        for conn in self._conns:
            if load[conn] < self._max_topics and not conn.closed:
                return conn
        conn = self._connect()
        self._conns.append(conn)
        load[conn] = 0
        return conn

    async def _drop_empty(self) -> None:
        """Close extra connections that carry no topic any more (the first one stays)."""
        used = set(self._where.values())
        idle = [c for c in self._conns[1:] if c not in used]
        if idle:
            self._conns = [c for c in self._conns if c not in idle]
            await asyncio.gather(*(c.close() for c in idle))

    def _relay(self, event: LifecycleEvent) -> None:
        if event.kind is EventKind.RESUBSCRIBED and event.detail:
            # KuCoin refused some topics on resubscribe (delisted symbol...): forget them here too.
            for unit, conn in list(self._where.items()):
                if unit not in conn.topics:
                    del self._where[unit]
        hook = self._on_event
        if hook is not None:
            hook(event)

    def _units(self, topic: str | Iterable[str]) -> list[str]:
        dialect = self._dialect
        assert dialect is not None
        return units_of(topic, dialect)
