"""Run an :class:`~kunb.sim.server.Exchange` on its own thread and event loop (notebooks, scripts, the CLI).

A busy notebook cell or a blocking call in the caller's loop cannot stall the exchange this way
(``design.md``). ``kunb.sim.start(**kw)`` returns a :class:`SimHandle`; ``kunb.sim.stop()`` stops the
most recent one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from kunb.exceptions import ClosedError
from kunb.sim.server import Exchange

__all__ = ["SimHandle", "start", "stop"]

_current: SimHandle | None = None
_lock = threading.Lock()


class SimHandle:
    """A running exchange on a background thread: ``.url``, ``.ws_url``, ``.exchange``, ``.stop()``."""

    def __init__(self, **kwargs: Any) -> None:
        self._started: concurrent.futures.Future[Exchange] = concurrent.futures.Future()
        self._stop_requested: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, args=(kwargs,), name="kunb.sim", daemon=True)
        self._thread.start()
        self.exchange = self._started.result(timeout=60)

    @property
    def url(self) -> str:
        return self.exchange.url

    @property
    def ws_url(self) -> str:
        return self.exchange.ws_url

    @property
    def credentials(self) -> Any:
        """The demo user's credentials when the trading layer provides them, else None."""
        return self.exchange.credentials

    @property
    def faults(self) -> Any:
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

    def stop(self, timeout: float = 10.0) -> None:
        """Close the exchange and join its thread. Idempotent."""
        if self._loop is not None and self._stop_requested is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise ClosedError("kunb.sim thread did not stop in time")


def start(**kwargs: Any) -> SimHandle:
    """Start an exchange on a background thread (arguments as :class:`Exchange`); returns its handle."""
    global _current
    handle = SimHandle(**kwargs)
    with _lock:
        _current = handle
    return handle


def stop() -> None:
    """Stop the exchange started last by :func:`start` (no-op when none is running)."""
    global _current
    with _lock:
        handle, _current = _current, None
    if handle is not None:
        handle.stop()
