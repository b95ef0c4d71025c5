"""Run an :class:`~kunb.sim.exchange.Exchange` on its own thread and event loop (notebooks, scripts, the CLI).

A busy notebook cell or a blocking call in the caller's loop cannot stall the exchange this way
(``design.md#its-own-thread``). ``kunb.sim.start(**kw)`` returns a
:class:`SimHandle`; ``kunb.sim.stop()`` stops the
most recent one.

``start()`` also makes the exchange the session default: it sets ``KUNB_URL`` (which ``kunb.client``
reads when no ``url=`` is given) and ``KUNB_UTA_URL`` / ``KUNB_UTA_PRIVATE_URL`` (what UTA streams and
accounts dial), so ``Market()``, ``kunb.Stream(..., protocol="uta")``, ``kunb.live_ticker(...)`` and the
seed's examples use it with no argument; ``stop()`` restores the previous values.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any

from kunb.exceptions import ClosedError
from kunb.signing import Credentials
from kunb.sim.exchange import Exchange, running_urls
from kunb.sim.faults import Faults

__all__ = [
    "SimHandle",
    "default_credentials",
    "default_url",
    "default_uta_urls",
    "simulator_urls",
    "start",
    "stop",
]

_current: SimHandle | None = None
_lock = threading.Lock()
_DEFAULT_VARIABLES = ("KUNB_URL", "KUNB_UTA_URL", "KUNB_UTA_PRIVATE_URL")


class SimHandle:
    """A running exchange on a background thread: ``.url``, ``.ws_url``, ``.uta_url``,
    ``.uta_private_url``, ``.exchange``, ``.stop()``."""

    def __init__(self, **kwargs: Any) -> None:
        self._started: concurrent.futures.Future[Exchange] = concurrent.futures.Future()
        self._stop_requested: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, args=(kwargs,), name="kunb.sim", daemon=True)
        self._thread.start()
        self.exchange = self._started.result(timeout=60)
        self._previous: dict[str, str | None] = {}
        self._owns_env = False

    @property
    def url(self) -> str:
        return self.exchange.url

    @property
    def ws_url(self) -> str:
        return self.exchange.ws_url

    @property
    def uta_url(self) -> str:
        """The UTA public socket, ``ws://127.0.0.1:PORT``."""
        return self.exchange.uta_url

    @property
    def uta_private_url(self) -> str:
        """The UTA private socket, ``ws://127.0.0.1:PORT``."""
        return self.exchange.uta_private_url

    @property
    def credentials(self) -> Credentials:
        """The demo user's credentials."""
        return self.exchange.credentials

    @property
    def faults(self) -> Faults:
        return self.exchange.faults

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __repr__(self) -> str:
        return f"SimHandle(url={self.exchange.url!r}, running={self.running})"

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _main(self, kwargs: dict[str, Any]) -> None:
        asyncio.run(self._serve(kwargs))

    async def _serve(self, kwargs: dict[str, Any]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        try:
            exchange = Exchange(**kwargs)
            await exchange.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(exchange)
        try:
            await self._stop_requested.wait()
        finally:
            await exchange.close()

    def _defaults(self) -> dict[str, str]:
        return {
            "KUNB_URL": self.url,
            "KUNB_UTA_URL": self.uta_url,
            "KUNB_UTA_PRIVATE_URL": self.uta_private_url,
        }

    def make_default(self) -> None:
        """Point ``KUNB_URL``, ``KUNB_UTA_URL`` and ``KUNB_UTA_PRIVATE_URL`` at this exchange for the rest of
        the session (until :meth:`stop`)."""
        if not self._owns_env:
            self._previous = {name: os.environ.get(name) for name in _DEFAULT_VARIABLES}
            self._owns_env = True
        os.environ.update(self._defaults())

    def stop(self, timeout: float = 10.0) -> None:
        """Close the exchange and join its thread; restore the variables this set (each one only while it
        still names this exchange). Idempotent."""
        if self._owns_env:
            for name, value in self._defaults().items():
                if os.environ.get(name) != value:
                    continue  # someone set it since: theirs now
                previous = self._previous.get(name)
                if previous is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = previous
        self._owns_env = False
        if self._loop is not None and self._stop_requested is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise ClosedError("kunb.sim thread did not stop in time")


def start(*, make_default: bool = True, **kwargs: Any) -> SimHandle:
    """Start an exchange on a background thread (arguments as :class:`Exchange`); returns its handle.

    Args:
        make_default: also set ``KUNB_URL``, ``KUNB_UTA_URL`` and ``KUNB_UTA_PRIVATE_URL`` to it, so clients
            made without ``url=`` (or ``ws_url=``, over UTA) use it.
    """
    global _current
    handle = SimHandle(**kwargs)
    if make_default:
        handle.make_default()
    with _lock:
        _current = handle
    return handle


def default_url() -> str | None:
    """REST URL of the exchange :func:`start` made current, or None when none is running."""
    handle = _current
    return handle.url if handle is not None and handle.running else None


def default_uta_urls() -> tuple[str, str] | None:
    """The UTA sockets ``(public, private)`` of the exchange :func:`start` made current, or None."""
    handle = _current
    return (handle.uta_url, handle.uta_private_url) if handle is not None and handle.running else None


def default_credentials() -> Credentials | None:
    """The demo user's Credentials of the exchange :func:`start` made current, or None."""
    handle = _current
    return handle.credentials if handle is not None and handle.running else None


def simulator_urls() -> list[str]:
    """REST URLs of every embedded exchange running in this process (notebook panels label them)."""
    return running_urls()


def stop() -> None:
    """Stop the exchange started last by :func:`start` (no-op when none is running)."""
    global _current
    with _lock:
        handle, _current = _current, None
    if handle is not None:
        handle.stop()
