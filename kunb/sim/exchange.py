"""``Exchange``: the embedded exchange composed: pure core, REST (uvicorn), feed (websockets), faults.

Composition only: it builds the core (:class:`~kunb.sim.core.market.ExchangeCore`, accounts, trading),
the feed (:mod:`kunb.sim.feed`) and the REST app (:mod:`kunb.sim.rest`, handed a narrow backend), and
runs them. One asyncio task advances the market every ``tick_ms`` and publishes what changed (public
pushes, then private events of fills by the synthetic flow and expired GTT orders) in both protocols;
REST handlers and WebSocket sessions run on the same loop, so the core needs no locks. Four ports: REST
and the classic feed, like KuCoin's separate REST and feed hosts (``design.md#two-ports``), and the UTA
public and private sockets, like KuCoin's two fixed UTA hosts (``uta-protocol.md#endpoints``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.server import Server, serve

from kunb.exceptions import ClosedError, ConfigurationError
from kunb.signing import Credentials, TokenRedactor
from kunb.sim.core.accounts import Accounts, User
from kunb.sim.core.events import PrivateEvent
from kunb.sim.core.market import ExchangeCore, Market
from kunb.sim.core.symbols import catalogue
from kunb.sim.core.trading import Trading
from kunb.sim.faults import Faults
from kunb.sim.feed.firehose import FirehosePump
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.publisher import Publisher
from kunb.sim.feed.server import FeedServer
from kunb.sim.feed.session import FaultState, Session
from kunb.sim.feed.tokens import TokenRegistry
from kunb.sim.feed.uta_publisher import UtaPublisher
from kunb.sim.feed.uta_server import UtaFeedServer
from kunb.sim.rest.app import build_app
from kunb.sim.wire import envelope
from kunb.sim.wire.market import orderbook_snapshot

__all__ = ["Exchange", "ExchangeState", "running_urls"]

log = logging.getLogger("kunb.sim")
# websockets logs each request line (``GET /?token=...``) at DEBUG: hand it a logger that hides tokens.
_wire_log = logging.getLogger("kunb.sim.wire")
_wire_log.addFilter(TokenRedactor())

_running: weakref.WeakSet[Exchange] = weakref.WeakSet()  # open exchanges of this process


def running_urls() -> list[str]:
    """REST URLs of every exchange open in this process (thread-backed or ``async with``)."""
    return sorted(ex.url for ex in list(_running) if ex.state is ExchangeState.OPEN)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding process (pytest, a notebook, our CLI) owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY. Without it uvicorn's separate head and body writes meet
    # Nagle + the client's delayed ACK: ~42 ms per REST answer on loopback instead of ~0.2 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class ExchangeState(enum.Enum):
    """Lifecycle of an :class:`Exchange`."""

    NEW = "new"  # constructed, not started
    STARTING = "starting"  # binding ports and starting servers
    OPEN = "open"  # serving REST and the feed, market running
    CLOSED = "closed"  # stopped (or never started); cannot start again


class Exchange:
    """The embedded KuCoin-compatible exchange. Use ``async with Exchange(...) as ex:`` or start()/close().

    Args:
        seed: makes the market reproducible (same seed, same symbols, same start time -> same flow).
        symbols: ``None`` for the default realistic pairs, a list of names, or a count (thousands are fine).
        host: interface for both servers; loopback unless you mean it.
        port: REST port (0 = any free port; read ``ex.url``). ws_port: the feed's port (0 = any).
        uta_port, uta_private_port: the UTA public and private sockets' ports (0 = any; read
            ``ex.uta_url`` and ``ex.uta_private_url``).
        uta_binary: UTA frames are binary, as KuCoin's (False: text frames).
        tick_ms: how often the market advances and pushes go out.
        rate: multiplies every symbol's synthetic events per second (0 = a frozen market).
        history_s: simulated seconds of past trading run at start-up, so candles and 24 h stats have
            history (about 0.3 s of start-up per minute of history with the default symbols).
        ping_interval_ms, ping_timeout_ms: advertised in the bullet; the server closes connections
            silent for their sum.
        token_ttl_s: bullet token lifetime (KuCoin: 24 h); checked when a connection opens.
        max_connection_s: close every connection this long after it opened (KuCoin: about 24 h);
            ``None`` disables it.
        admin: expose ``POST /admin/faults/{name}`` (loopback clients only).
        firehose: benchmark mode: ``/market/level2`` subscribers get pre-framed pushes as fast as they
            read them (``True``, or the batch size per symbol and round; see :mod:`kunb.sim.feed.firehose`).
            The other channels keep their normal cadence.
        clock: wall clock in ns (tests may inject one); the core never reads it itself.

    Attributes:
        url, ws_url: the REST base URL and the classic feed's URL (set by :meth:`start`).
        uta_url, uta_private_url: the UTA public and private sockets, ``ws://127.0.0.1:PORT``.
        credentials: the demo user's key (``demo`` is that :class:`~kunb.sim.core.accounts.User`);
            ``env`` the lines ``kunb sim`` prints (``KUNB_SIM_URL``, ``KUNB_SIM_UTA_URL``, the key, and
            the variables kunb's clients read: ``KUNB_URL``, ``KUNB_SIMULATED``, ``KUNB_UTA_URL``...).
        faults: fault injection (:class:`~kunb.sim.faults.Faults`).
        core, accounts, trading: the pure exchange (markets, users and ledger, user orders).
        hub, publisher, feed, tokens: the WebSocket feed's parts; uta_publisher, uta_feed, uta_private_feed
            its UTA sockets; app: the REST app (ASGI).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        symbols: int | Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        uta_port: int = 0,
        uta_private_port: int = 0,
        uta_binary: bool = True,
        tick_ms: int = 100,
        rate: float = 1.0,
        history_s: float = 0.0,
        ping_interval_ms: int = 18_000,
        ping_timeout_ms: int = 10_000,
        token_ttl_s: float = 86_400,
        max_connection_s: float | None = None,
        admin: bool = False,
        firehose: bool | int = False,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if tick_ms <= 0 or ping_interval_ms <= 0 or ping_timeout_ms <= 0 or token_ttl_s <= 0:
            raise ConfigurationError("tick_ms, ping_interval_ms, ping_timeout_ms, token_ttl_s must be > 0")
        specs = catalogue(
            symbols if symbols is None or isinstance(symbols, int) else list(symbols), seed=seed
        )
        self.host, self._port, self._ws_port = host, port, ws_port
        self._uta_ports = (uta_port, uta_private_port)
        self.tick_s = tick_ms / 1000
        self.ping_interval_ms, self.ping_timeout_ms = ping_interval_ms, ping_timeout_ms
        self.admin = admin
        self.now_ns = clock
        # The pure core: markets, then users and their trading on the same books.
        self.core = ExchangeCore(specs, seed=seed, now_ns=clock(), rate=rate, history_s=history_s)
        self.accounts = Accounts(seed=seed)
        self.trading = Trading(self.accounts, self.core)
        self.demo: User = self.accounts.create()
        self.credentials: Credentials = self.demo.credentials
        # The feed: tokens, fan-out, publisher, connection protocol; faults reach across it.
        self.tokens = TokenRegistry(ttl_ns=int(token_ttl_s * 1e9))
        self.hub = Hub(FaultState())
        self.faults = Faults(self.hub, self.tokens.expire_all)
        self.publisher = Publisher(self.core, self.hub)
        self.feed = FeedServer(
            self.hub,
            self.tokens,
            self.core.markets,
            ping_interval_ms=ping_interval_ms,
            ping_timeout_ms=ping_timeout_ms,
            wall_ns=clock,
            max_connection_s=max_connection_s,
        )
        self.uta_publisher = UtaPublisher(self.core, self.hub)
        self.uta_feed, self.uta_private_feed = (
            UtaFeedServer(
                self.hub,
                self.uta_publisher,
                self.core.markets,
                private=private,
                tokens=self.tokens,
                lookup=self.accounts.by_key,
                ping_interval_ms=ping_interval_ms,
                ping_timeout_ms=ping_timeout_ms,
                wall_ns=clock,
                max_connection_s=max_connection_s,
                binary=uta_binary,
            )
            for private in (False, True)
        )
        batch = (1000 if firehose is True else int(firehose)) if firehose else 0
        self.firehose = FirehosePump(self.core.markets, self.hub, seed=seed, batch=batch) if batch else None
        # REST: handlers see the exchange only through the narrow backend.
        self.app: Starlette = build_app(_Backend(self), admin=admin)
        self.env: dict[str, str] = {}
        self.url = ""
        self.ws_url = ""
        self.uta_url = ""
        self.uta_private_url = ""
        self.steps = 0
        self._uvicorn: _Uvicorn | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._ws_server: Server | None = None
        self._uta_servers: list[Server] = []
        self._market_task: asyncio.Task[None] | None = None
        self._state = ExchangeState.NEW

    # ------------------------------------------------------------------ users
    def create_account(
        self,
        *,
        balances: Mapping[str, object] | None = None,
        key_version: int = 2,
        credentials: Credentials | None = None,
    ) -> Credentials:
        """Another funded user; returns its key (see :meth:`kunb.sim.core.accounts.Accounts.create`)."""
        return self.accounts.create(
            balances=balances, key_version=key_version, credentials=credentials
        ).credentials

    def user_id(self, credentials: Credentials) -> str:
        """The user id behind a key (what private pushes carry as ``userId``)."""
        user = self.accounts.by_key(credentials.key)
        if user is None:
            raise KeyError("no account has this API key")
        return user.user_id

    # ------------------------------------------------------------------ bullets
    def issue_token(self, *, private: bool = False, user_id: str | None = None) -> str:
        return self.tokens.issue(self.now_ns(), private=private, user_id=user_id).value

    def bullet(self, *, private: bool = False, user_id: str | None = None) -> dict[str, Any]:
        """``data`` of a bullet response (1.1) with a fresh token; ``encrypt`` null for ws:// (5)."""
        return envelope.bullet(
            self.issue_token(private=private, user_id=user_id),
            self.ws_url,
            ping_interval_ms=self.ping_interval_ms,
            ping_timeout_ms=self.ping_timeout_ms,
        )

    def _env(self) -> dict[str, str]:
        """What ``kunb sim`` prints, ``NAME=value`` per line, in this order: the exchange's own names
        (``KUNB_SIM_*``: its URLs and the demo key), then the variables kunb's clients read, so a shell that
        sources the lines points kunb at this exchange and its data are labelled simulated (issue 15)."""
        return {
            "KUNB_SIM_URL": self.url,
            "KUNB_SIM_UTA_URL": self.uta_url,
            "KUNB_SIM_UTA_PRIVATE_URL": self.uta_private_url,
            "KUNB_SIM_KEY": self.credentials.key,
            "KUNB_SIM_SECRET": self.credentials.secret,
            "KUNB_SIM_PASSPHRASE": self.credentials.passphrase,
            "KUNB_URL": self.url,
            "KUNB_SIMULATED": "1",
            "KUNB_UTA_URL": self.uta_url,
            "KUNB_UTA_PRIVATE_URL": self.uta_private_url,
        }

    @property
    def state(self) -> ExchangeState:
        return self._state

    # ------------------------------------------------------------------ observation (tests)
    def connections(self) -> list[Session]:
        """Open WebSocket sessions (``.id``, ``.connect_id``, ``.topics``, ``.user_id``, ``.sent``)."""
        return self.hub.sessions()

    def sequence(self, symbol: str) -> int:
        """The symbol's current book sequence (what a REST snapshot taken now would carry)."""
        return self.core.market(symbol).book.sequence

    def snapshot(self, symbol: str, depth: int | None = None) -> dict[str, Any]:
        """The server's book as KuCoin's REST snapshot shape (``sequence``, ``bids``, ``asks`` strings)."""
        return orderbook_snapshot(self.core.market(symbol), depth, self.now_ns() // 1_000_000)

    def stats(self) -> dict[str, int]:
        """Counters: open connections (both protocols), classic connections ever, pushes queued, error
        frames, UTA refusals and unanswered inputs, book deltas skipped by faults (classic, UTA), drops,
        market steps; and what is kept (bounded): orders, finished orders, fills, bullet tokens."""
        kept = self.trading.sizes()
        return {
            "connections": len(self.hub.sessions()),
            "connections_total": self.feed.connections_total,
            "pushes": self.hub.pushes,
            "errors_sent": self.feed.errors_sent,
            "uta_refusals": self.uta_feed.refusals_sent + self.uta_private_feed.refusals_sent,
            "uta_bad_inputs": self.uta_feed.bad_inputs + self.uta_private_feed.bad_inputs,
            "level2_skipped": self.publisher.level2_skipped,
            "uta_deltas_skipped": self.uta_publisher.deltas_skipped,
            "dropped": sum(
                s.dropped for s in self.hub.sessions()
            ),  # pushes lost to slow readers (open sessions)
            "steps": self.steps,
            "orders_kept": kept["orders"],
            "done_orders_kept": kept["done_orders"],
            "fills_kept": kept["fills"],
            "tokens_kept": len(self.tokens),
        }

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Exchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind both ports, start serving and the market clock; on failure nothing is left open."""
        if self._state is not ExchangeState.NEW:
            raise ClosedError("an Exchange starts once")
        self._state = ExchangeState.STARTING
        loop = asyncio.get_running_loop()
        self.faults.loop = loop
        self.faults.loop_thread = threading.current_thread()
        rest_sock = _bind(self.host, self._port)  # first: a busy port fails before anything runs
        try:
            await self._start_servers(loop, rest_sock)
        except BaseException:
            if self._uvicorn_task is None:
                rest_sock.close()
            await self.close()
            raise
        self._market_task = loop.create_task(self._run_market())
        self._state = ExchangeState.OPEN
        _running.add(self)

    async def _serve_ws(self, handler: Callable[[Any], Any], port: int) -> Server:
        return await serve(
            handler,
            self.host,
            port,
            compression=None,  # UTA: no compression either (uta-protocol.md#framing-and-lifetime)
            ping_interval=None,  # KuCoin's keepalive is the JSON ping (1.4); idle is checked per session
            max_size=2**20,
            close_timeout=2,  # a stalled client must not hold close() for websockets' default 10 s
            server_header="kunb.sim",
            logger=_wire_log,
        )

    async def _start_servers(self, loop: asyncio.AbstractEventLoop, rest_sock: socket.socket) -> None:
        self._ws_server = await self._serve_ws(self.feed.handle, self._ws_port)
        for handler, uta_port in zip(
            (self.uta_feed.handle, self.uta_private_feed.handle), self._uta_ports, strict=True
        ):
            self._uta_servers.append(await self._serve_ws(handler, uta_port))
        ws_port = self._ws_server.sockets[0].getsockname()[1]
        uta_port, uta_private_port = (s.sockets[0].getsockname()[1] for s in self._uta_servers)
        port = rest_sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{ws_port}/"
        self.uta_url = f"ws://{host}:{uta_port}"  # the request line is GET / (uta-protocol.md#endpoints)
        self.uta_private_url = f"ws://{host}:{uta_private_port}"
        self.env = self._env()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = _Uvicorn(config)
        self._uvicorn_task = loop.create_task(self._uvicorn.serve(sockets=[rest_sock]))
        while not self._uvicorn.started:
            if self._uvicorn_task.done():
                await self._uvicorn_task  # raises the start-up error
                raise ConfigurationError("REST server stopped during start-up")
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        """Stop the market, close every connection and both servers. Idempotent."""
        if self._state in (ExchangeState.CLOSED, ExchangeState.NEW):  # STARTING: start() cleans up here
            self._state = ExchangeState.CLOSED
            return
        self._state = ExchangeState.CLOSED
        _running.discard(self)
        if self._market_task is not None:
            self._market_task.cancel()
            await asyncio.wait([self._market_task])
        for server in [self._ws_server, *self._uta_servers]:
            if server is not None:
                server.close()
                await server.wait_closed()
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            await asyncio.wait([self._uvicorn_task])

    def step(self) -> None:
        """Advance the market to now and publish (the market task calls this every tick)."""
        now = self.now_ns()
        self.core.advance(now)
        self.publish(now)

    def publish(self, now_ns: int | None = None) -> None:
        """Publish whatever changed since the last publish (REST order handlers call it for prompt pushes).

        Public pushes first, then the private events of user orders that the synthetic flow filled or that
        expired (GTT ``cancelAfter``) in the meantime.
        """
        now = self.now_ns() if now_ns is None else now_ns
        events = self.core.collect()
        self.publisher.publish(events, now)
        self.uta_publisher.publish(events, now)
        self.steps += 1
        self.deliver(self.trading.expire(now).events)

    def deliver(self, events: Sequence[PrivateEvent]) -> None:
        """Push private events to their users' sessions, in both protocols."""
        self.publisher.deliver(events)
        self.uta_publisher.deliver(events)

    async def _run_market(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                self.step()
                if self.firehose is not None and await self.firehose.round(self.now_ns() // 1_000_000):
                    next_at = loop.time()
                    continue
            except Exception:  # a bug in one step must not stop the market for good
                log.exception("kunb.sim market step failed")
            next_at += self.tick_s
            delay = next_at - loop.time()
            if delay < -self.tick_s:  # fell behind (busy machine): do not try to catch up in a burst
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(max(0.0, delay))


class _Backend:
    """The exchange as its REST handlers see it (:class:`kunb.sim.rest.backend.RestBackend`), nothing more."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    @property
    def markets(self) -> Mapping[str, Market]:
        return self._exchange.core.markets

    @property
    def accounts(self) -> Accounts:
        return self._exchange.accounts

    @property
    def trading(self) -> Trading:
        return self._exchange.trading

    def now_ns(self) -> int:
        return self._exchange.now_ns()

    def bullet(self, *, private: bool, user_id: str | None = None) -> dict[str, Any]:
        return self._exchange.bullet(private=private, user_id=user_id)

    def bullet_failure(self) -> int:
        return self._exchange.faults.bullet_failure()

    def apply_fault(self, name: str, kwargs: dict[str, Any]) -> Any:
        return self._exchange.faults.apply(name, kwargs)

    def after_trade(self, events: Sequence[PrivateEvent]) -> None:
        self._exchange.deliver(events)
        self._exchange.publish()  # public side at once: level2, match, ticker (and any synthetic pushes)
