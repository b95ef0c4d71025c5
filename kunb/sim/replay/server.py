"""``ReplayExchange``: a kunb recording served over KuCoin's classic protocol (REST + WebSocket, loopback).

Composition only, like :class:`kunb.sim.exchange.Exchange`: the feed's connection protocol
(:class:`~kunb.sim.feed.server.FeedServer`, tokens, the hub), a small REST app over a
:class:`~kunb.sim.replay.market.ReplayMarket`, and one task that plays the recording: it waits for the
first subscription, then takes the records in their recorded order, each when its time has come (the
recorded gaps divided by ``speed``), keeps the market up to date and publishes the pushes to their
subscribers. When the recording ends the exchange keeps serving (the books as they ended) until closed.

REST: bullet (public only), server time (the recording's clock), status, symbol and currency lists, the
level-1 ticker, 24 h statistics and all tickers (from the latest recorded pushes), the level-2 snapshots
(``level2_20``, ``level2_100`` and the full book, which a replay serves without checking signatures: it
holds no account), and any other GET the recording answered, as recorded. A snapshot asked for before
the replay reached the symbol's first recorded snapshot waits for it (up to ``snapshot_wait_s``), as a
slow answer would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.server import Server, serve

from kunb.exceptions import ClosedError, ConfigurationError
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.server import FeedServer
from kunb.sim.feed.session import FaultState, Session
from kunb.sim.feed.tokens import TokenRegistry
from kunb.sim.replay.market import SNAPSHOT_PATHS, ReplayMarket, answer_key
from kunb.sim.replay.recording import read_records, subscribed_symbols
from kunb.sim.rest.envelope import error, ok
from kunb.sim.wire.envelope import bullet

__all__ = ["ReplayExchange"]

log = logging.getLogger("kunb.sim.replay")

_YIELD_EVERY = 500  # records between two yields to the loop when the replay is behind its schedule
_MIN_SLEEP = 0.001


class _SubscriptionHub(Hub):
    """The feed's hub, telling the replay when the first subscription came."""

    def __init__(self, everyone: FaultState) -> None:
        super().__init__(everyone)
        self.first_subscription = asyncio.Event()

    def subscribe(self, session: Session, topics: Iterable[str]) -> None:
        super().subscribe(session, topics)
        self.first_subscription.set()


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers (the embedding process owns them), as kunb.sim.exchange's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ReplayExchange:
    """Serves the recording in ``out`` (``async with ReplayExchange(out) as ex: ex.url``).

    Args:
        out: a kunb recording directory with its raw layer (classic protocol market data).
        speed: times the recorded pace (``1``: as recorded; ``10``: ten times faster).
        host, port, ws_port: where to listen (loopback; 0: any free port).
        ping_interval_ms, ping_timeout_ms: advertised in the bullet; silent connections are closed after
            their sum.
        snapshot_wait_s: how long a snapshot request waits for the replay to reach the symbol's first
            recorded snapshot before it is answered with an error (clients retry).
        grace_s: seconds between the first subscription and the first push: a client's subscriptions,
            sent one after the other, all take effect before the replay begins.

    Raises:
        ConfigurationError: no raw layer in ``out``, no market subscription in it, a speed that is not
            positive.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        ping_interval_ms: int = 18_000,
        ping_timeout_ms: int = 10_000,
        snapshot_wait_s: float = 4.0,
        grace_s: float = 0.3,
    ) -> None:
        if not speed > 0:
            raise ConfigurationError(f"speed must be positive, not {speed}")
        self.out = Path(out)
        symbols = subscribed_symbols(out)
        if not symbols:
            raise ConfigurationError(f"{out}: the recording subscribed to no classic market data")
        self.speed = speed
        self.host, self._port, self._ws_port = host, port, ws_port
        self.ping_interval_ms, self.ping_timeout_ms = ping_interval_ms, ping_timeout_ms
        self.snapshot_wait_s = snapshot_wait_s
        self.grace_s = grace_s
        self.market = ReplayMarket(symbols)
        self.tokens = TokenRegistry(ttl_ns=86_400 * 10**9)
        self.hub = _SubscriptionHub(FaultState())
        self.feed = FeedServer(
            self.hub,
            self.tokens,
            symbols,
            ping_interval_ms=ping_interval_ms,
            ping_timeout_ms=ping_timeout_ms,
        )
        self.app = self._build_app()
        self.finished = asyncio.Event()
        """Set once every record was played (the exchange goes on serving the final books)."""
        self.error: BaseException | None = None
        self.url = ""
        self.ws_url = ""
        self._books_moved = asyncio.Event()  # replaced after each set: wakes every snapshot waiter
        self._uvicorn: _Uvicorn | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._ws_server: Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._started = False

    def __repr__(self) -> str:
        return f"<ReplayExchange {self.out} {self.speed:g}x {self.url or 'not started'}>"

    # -- lifecycle ----------------------------------------------------------------------------------
    async def __aenter__(self) -> ReplayExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind both ports and serve; the replay begins with the first subscription."""
        if self._started:
            raise ClosedError("a ReplayExchange starts once")
        self._started = True
        rest_sock = _bind(self.host, self._port)
        try:
            self._ws_server = await serve(
                self.feed.handle,
                self.host,
                self._ws_port,
                compression=None,
                ping_interval=None,  # KuCoin's keepalive is the JSON ping
                max_size=2**20,
                close_timeout=2,
            )
            host = f"[{self.host}]" if ":" in self.host else self.host
            self.url = f"http://{host}:{rest_sock.getsockname()[1]}"
            self.ws_url = f"ws://{host}:{self._ws_server.sockets[0].getsockname()[1]}/"
            config = uvicorn.Config(
                self.app, log_level="warning", lifespan="off", access_log=False, ws="none"
            )
            self._uvicorn = _Uvicorn(config)
            self._uvicorn_task = asyncio.get_running_loop().create_task(
                self._uvicorn.serve(sockets=[rest_sock])
            )
            while not self._uvicorn.started:
                if self._uvicorn_task.done():
                    await self._uvicorn_task
                    raise ConfigurationError("the REST server stopped during start-up")
                await asyncio.sleep(0.005)  # uvicorn offers no start-up event
        except BaseException:
            if self._uvicorn_task is None:
                rest_sock.close()
            await self.close()
            raise
        self._pump = asyncio.get_running_loop().create_task(self._play(), name="kunb-sim-replay")

    async def close(self) -> None:
        """Stop the replay, close every connection and both servers. Idempotent."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.wait([self._pump])
            self._pump = None
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            await asyncio.wait([self._uvicorn_task])
            self._uvicorn = None

    # -- the replay ---------------------------------------------------------------------------------
    def play(self) -> None:
        """Begin the replay now rather than at the first subscription (for clients of REST only)."""
        self.grace_s = 0.0
        self.hub.first_subscription.set()

    async def _play(self) -> None:
        try:
            await self.hub.first_subscription.wait()
            await asyncio.sleep(self.grace_s)  # the rest of the client's subscriptions (see grace_s)
            await self._play_records()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an unreadable file: say so, keep serving what was played
            self.error = exc
            log.error("kunb sim replay of %s stopped: %s", self.out, exc)
        finally:
            self.finished.set()
            self._wake_waiters()

    async def _play_records(self) -> None:
        market, hub, speed = self.market, self.hub, self.speed
        first_ns: int | None = None
        started = time.monotonic()
        since_yield = 0
        for record in read_records(self.out):
            if first_ns is None:
                first_ns = record.t
            delay = started + (record.t - first_ns) / 1e9 / speed - time.monotonic()
            if delay >= _MIN_SLEEP:
                await asyncio.sleep(delay)
                since_yield = 0
            published = market.apply(record)
            if published is not None:
                hub.publish(*published)
            elif record.kind == "rest":
                self._wake_waiters()  # a snapshot may have made a book known
            since_yield += 1
            if since_yield >= _YIELD_EVERY:  # behind schedule: let the writers and REST answers run
                since_yield = 0
                await asyncio.sleep(0)

    def _wake_waiters(self) -> None:
        moved, self._books_moved = self._books_moved, asyncio.Event()
        moved.set()

    async def book(self, symbol: str, depth: int | None) -> dict[str, Any] | None:
        """The replay's book of ``symbol`` REST-shaped, waiting (``snapshot_wait_s``) for the recording to
        know it; ``None``: it does not (yet)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.snapshot_wait_s
        while (data := self.market.snapshot(symbol, depth)) is None and not self.finished.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._books_moved.wait()
        return data

    # -- REST ---------------------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        market = self.market

        async def bullet_public(request: Request) -> Response:
            token = self.tokens.issue(time.time_ns()).value
            interval, timeout = self.ping_interval_ms, self.ping_timeout_ms
            return ok(bullet(token, self.ws_url, ping_interval_ms=interval, ping_timeout_ms=timeout))

        async def bullet_private(request: Request) -> Response:
            return error("400007", "a replay serves the recorded public market data only", 403)

        async def timestamp(request: Request) -> Response:
            return ok(market.now_ms)

        async def status(request: Request) -> Response:
            return ok({"status": "open", "msg": f"replaying {self.out.name}"})

        async def symbols_v1(request: Request) -> Response:
            return ok(market.symbol_list(v2=False))

        async def symbols_v2(request: Request) -> Response:
            return ok(market.symbol_list(v2=True))

        async def symbol_v2(request: Request) -> Response:
            wanted = request.path_params["symbol"]
            for item in market.symbol_list(v2=True):
                if item["symbol"] == wanted:
                    return ok(item)
            return error("900001", "symbol not exists")

        async def currencies(request: Request) -> Response:
            return ok(market.currencies())

        async def level1(request: Request) -> Response:
            data = market.level1(request.query_params.get("symbol", ""))
            return ok(data) if data is not None else await recorded(request)

        async def stats(request: Request) -> Response:
            data = market.stats(request.query_params.get("symbol", ""))
            return ok(data) if data is not None else await recorded(request)

        async def all_tickers(request: Request) -> Response:
            return ok(market.all_tickers())

        async def level2(request: Request) -> Response:
            symbol = request.query_params.get("symbol", "")
            if symbol not in market.books:
                return error("900001", "symbol not exists")
            data = await self.book(symbol, SNAPSHOT_PATHS[request.url.path])
            if data is None:
                return error("500000", f"the recording holds no book of {symbol} at this moment", 503)
            return ok(data)

        async def recorded(request: Request) -> Response:
            key = answer_key(request.url.path, request.query_params.multi_items())
            found = market.answers.get(key)
            if found is None:
                return error("404000", "Not Found: the recording holds no such answer", 404)
            status_code, body = found
            return Response(body, status_code=status_code, media_type="application/json")

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            return error(f"{exc.status_code}000", str(exc.detail), exc.status_code)

        routes = [
            Route("/api/v1/bullet-public", bullet_public, methods=["POST"]),
            Route("/api/v1/bullet-private", bullet_private, methods=["POST"]),
            Route("/api/v1/timestamp", timestamp),
            Route("/api/v1/status", status),
            Route("/api/v1/symbols", symbols_v1),
            Route("/api/v2/symbols", symbols_v2),
            Route("/api/v2/symbols/{symbol}", symbol_v2),
            Route("/api/v3/currencies", currencies),
            Route("/api/v1/market/orderbook/level1", level1),
            Route("/api/v1/market/stats", stats),
            Route("/api/v1/market/allTickers", all_tickers),
            *(Route(path, level2) for path in SNAPSHOT_PATHS),
            Route("/{path:path}", recorded),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket with TCP_NODELAY (accepted sockets inherit it: no Nagle delay per
    answer), as kunb.sim.exchange binds its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
