"""``Exchange``: runs the pure core on a clock, serves REST (uvicorn) and the feed (websockets) on loopback.

The I/O shell around :class:`~kunb.sim.exchange.ExchangeCore`: one asyncio task advances the market
every ``tick_ms`` and publishes what changed; REST handlers and WebSocket sessions run on the same
loop, so the core needs no locks. Two ports, like KuCoin's separate REST and feed hosts
(``design.md``).

Hooks for the trading layer (``kunb/sim/rest_private.py``): if that module exists and defines
``install(exchange)``, it is called once at the end of ``Exchange.__init__``. It may:

* ``exchange.add_routes(routes)``: more starlette routes (signed endpoints, bullet-private);
* ``exchange.hub.register_private(prefix)``: topics that need a private token;
* ``exchange.hub.publish_private(user_id, topic, message)``: push to one user's subscribed sessions;
* ``exchange.core.add_fill_listener(cb)``: fills touching user orders (see :mod:`kunb.sim.exchange`);
* ``exchange.add_tick_hook(cb)``: ``cb(now_ns)`` after every market step (e.g. flush private pushes);
* ``exchange.issue_token(private=True, user_id=...)`` and ``exchange.bullet(private=True, user_id=...)``;
* ``exchange.env["KUNB_SIM_KEY"] = ...``: lines the CLI prints after ``KUNB_SIM_URL``;
* ``exchange.credentials = ...``: what ``kunb.sim.start()``'s handle exposes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import importlib
import logging
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import uvicorn
from starlette.routing import BaseRoute
from websockets.asyncio.server import Server, serve

from kunb.exceptions import ClosedError, ConfigurationError
from kunb.signing import TokenRedactor
from kunb.sim import wire
from kunb.sim.exchange import ExchangeCore
from kunb.sim.faults import Faults, FaultState
from kunb.sim.firehose import Firehose
from kunb.sim.publisher import Publisher
from kunb.sim.rest import build_app
from kunb.sim.symbols import catalogue
from kunb.sim.tokens import TokenRegistry
from kunb.sim.ws import FeedServer, Hub, Session

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

    NEW = "new"  # constructed; routes and hooks may still be added
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
            read them (``True``, or the batch size per symbol and round; see :mod:`kunb.sim.firehose`).
            The other channels keep their normal cadence.
        clock: wall clock in ns (tests may inject one); the core never reads it itself.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        symbols: int | Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
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
        self.tick_s = tick_ms / 1000
        self.ping_interval_ms, self.ping_timeout_ms = ping_interval_ms, ping_timeout_ms
        self.admin = admin
        self.now_ns = clock
        self.core = ExchangeCore(specs, seed=seed, now_ns=clock(), rate=rate, history_s=history_s)
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
        self.firehose_batch = (1000 if firehose is True else int(firehose)) if firehose else 0
        self._hoses = (
            {
                sym: Firehose(market, random.Random(f"kunb.sim.firehose:{seed}:{sym}"))
                for sym, market in self.core.markets.items()
            }
            if firehose
            else {}
        )
        self.env: dict[str, str] = {}
        self.credentials: Any = None
        self.url = ""
        self.ws_url = ""
        self.steps = 0
        self._routes: list[BaseRoute] = []
        self._tick_hooks: list[Callable[[int], None]] = []
        self._uvicorn: _Uvicorn | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._ws_server: Server | None = None
        self._market_task: asyncio.Task[None] | None = None
        self._state = ExchangeState.NEW
        self._install_plugins()

    # ------------------------------------------------------------------ extension points
    def add_routes(self, routes: Iterable[BaseRoute]) -> None:
        """Add REST routes (before :meth:`start`)."""
        if self._state is not ExchangeState.NEW:
            raise ConfigurationError("routes must be added before start()")
        self._routes.extend(routes)

    def add_tick_hook(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(now_ns)`` after every market step (after public pushes went out)."""
        self._tick_hooks.append(hook)

    def issue_token(self, *, private: bool = False, user_id: str | None = None) -> str:
        return self.tokens.issue(self.now_ns(), private=private, user_id=user_id).value

    def bullet(self, *, private: bool = False, user_id: str | None = None) -> dict[str, Any]:
        """``data`` of a bullet response (1.1) with a fresh token; ``encrypt`` null for ws:// (5)."""
        return {
            "token": self.issue_token(private=private, user_id=user_id),
            "instanceServers": [
                {
                    "endpoint": self.ws_url,
                    "encrypt": None,
                    "protocol": "websocket",
                    "pingInterval": self.ping_interval_ms,
                    "pingTimeout": self.ping_timeout_ms,
                }
            ],
        }

    def _install_plugins(self) -> None:
        try:
            module = importlib.import_module("kunb.sim.rest_private")
        except ModuleNotFoundError as exc:
            if exc.name != "kunb.sim.rest_private":
                raise
            return
        install = getattr(module, "install", None)
        if install is not None:
            install(self)

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
        return wire.orderbook_snapshot(self.core.market(symbol), depth, self.now_ns() // 1_000_000)

    def stats(self) -> dict[str, int]:
        """Counters: open connections, connections ever, pushes queued, error frames, drops, market steps."""
        return {
            "connections": len(self.hub.sessions()),
            "connections_total": self.feed.connections_total,
            "pushes": self.hub.pushes,
            "errors_sent": self.feed.errors_sent,
            "level2_skipped": self.publisher.level2_skipped,
            "dropped": sum(
                s.dropped for s in self.hub.sessions()
            ),  # pushes lost to slow readers (open sessions)
            "steps": self.steps,
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

    async def _start_servers(self, loop: asyncio.AbstractEventLoop, rest_sock: socket.socket) -> None:
        self._ws_server = await serve(
            self.feed.handle,
            self.host,
            self._ws_port,
            compression=None,
            ping_interval=None,  # KuCoin's keepalive is the JSON ping (1.4); idle is checked per session
            max_size=2**20,
            close_timeout=2,  # a stalled client must not hold close() for websockets' default 10 s
            server_header="kunb.sim",
            logger=_wire_log,
        )
        ws_port = self._ws_server.sockets[0].getsockname()[1]
        port = rest_sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{ws_port}/"
        self.env["KUNB_SIM_URL"] = self.url
        app = build_app(self, extra_routes=self._routes, admin=self.admin)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, ws="none", timeout_graceful_shutdown=2
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
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            await asyncio.wait([self._uvicorn_task])

    def step(self) -> None:
        """Advance the market to now and publish (the market task calls this every tick)."""
        now = self.now_ns()
        self.core.advance(now)
        self.publish(now)

    def publish(self, now_ns: int | None = None) -> None:
        """Publish whatever changed since the last publish (REST order handlers call it for prompt pushes)."""
        now = self.now_ns() if now_ns is None else now_ns
        self.publisher.publish(self.core.collect(), now)
        self.steps += 1
        for hook in self._tick_hooks:
            hook(now)

    async def _firehose_round(self) -> bool:
        """One batch per subscribed symbol to its level2 subscribers, one batch kept in flight.

        The next batch is generated while the previous one is being written, so the client, not
        the server, sets the pace (kunb.sim.firehose).
        """
        now_ms = self.now_ns() // 1_000_000
        busy: set[Session] = set()
        for sym, hose in self._hoses.items():
            subs = self.hub.subscribers(f"/market/level2:{sym}")
            if not subs:
                continue
            frames = hose.frames(self.firehose_batch, now_ms)
            blob = b"".join(frames)
            for s in subs:
                s.enqueue_frames(blob, len(frames))
                busy.add(s)
            self.hub.pushes += len(frames) * len(subs)
        if not busy:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        for s in busy:
            while s.backlog > 1 and not s.ws.transport.is_closing() and loop.time() < deadline:
                s.progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(s.progress.wait(), max(0.0, deadline - loop.time()))
        return True

    async def _run_market(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            try:
                self.step()
                if self._hoses and await self._firehose_round():
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
