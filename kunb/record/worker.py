"""A bounded queue filled on the event loop and drained by one writer thread: disk I/O off the loop.

The loop side only appends to a :class:`collections.deque` (atomic under the GIL, no lock) after a length
check; when the queue is full the item is dropped and counted, never silently lost: subclasses turn the
count into a record in their output. The thread wakes every flush interval (or sooner when the queue is
half full, or when asked), hands the drained items to the subclass, and flushes. Callers that need a
point in time (tests, an import, a clean shutdown) call :meth:`BackgroundWriter.flush`, which blocks until
everything queued before the call is on disk.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections import deque
from typing import Any, Self

from ..exceptions import ClosedError, ConfigurationError, RecordingError

__all__ = ["BackgroundWriter", "WriterState"]

log = logging.getLogger("kunb.record")


class WriterState(enum.Enum):
    """Lifecycle of a :class:`BackgroundWriter`."""

    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"
    """Writing failed (disk full, permissions...): nothing more is written; :attr:`error` says why."""


class _Request:
    __slots__ = ("done", "rotate")

    def __init__(self, rotate: bool) -> None:
        self.rotate = rotate
        self.done = threading.Event()


class BackgroundWriter:
    """Base class: subclasses implement :meth:`_handle`, :meth:`_flush`, :meth:`_tick` and :meth:`_finish`.

    Args:
        name: the thread's name.
        capacity: items the queue holds at most; beyond it, items are dropped and counted.
        flush_interval: seconds between flushes (the most a killed process loses).
    """

    def __init__(self, *, name: str, capacity: int, flush_interval: float) -> None:
        if capacity < 1:
            raise ConfigurationError(f"capacity must be at least 1, not {capacity}")
        if not flush_interval > 0:
            raise ConfigurationError(f"flush_interval must be positive, not {flush_interval}")
        self.capacity = capacity
        self.flush_interval = flush_interval
        self._queue: deque[Any] = deque()
        self._wake_at = max(1, capacity // 2)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[_Request] = []
        self._state = WriterState.RUNNING
        self._closing = False
        self.error: BaseException | None = None
        self.dropped = 0  #: items refused because the queue was full or the writer had stopped
        self._accepted = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        self._thread.start()

    # -- loop side ------------------------------------------------------------------------------
    def _put(self, item: Any) -> None:
        queue = self._queue
        size = len(queue)
        if size >= self.capacity or self._closing:
            self.dropped += 1
            return
        queue.append(item)
        self._accepted += 1
        if size >= self._wake_at:
            self._wake.set()

    @property
    def state(self) -> WriterState:
        return self._state

    @property
    def accepted(self) -> int:
        """Items queued so far (written, or waiting for the thread)."""
        return self._accepted

    @property
    def queued(self) -> int:
        """Items waiting for the writer thread."""
        return len(self._queue)

    # -- blocking controls (call from a thread, or ``await asyncio.to_thread(...)``) ----------------
    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until every item queued before this call is written and flushed.

        Raises:
            RecordingError: writing failed (the cause is chained), or it did not finish in ``timeout``.
            ClosedError: the writer was closed.
        """
        self._ask(rotate=False, timeout=timeout)

    def _ask(self, *, rotate: bool, timeout: float | None) -> None:
        self._raise_if_failed()
        if self._closing:
            raise ClosedError(f"{self._thread.name} is closed")
        request = _Request(rotate)
        with self._lock:
            self._requests.append(request)
        self._wake.set()
        if not request.done.wait(timeout):
            raise RecordingError(f"{self._thread.name} did not flush within {timeout} s")
        self._raise_if_failed()

    def close(self, timeout: float | None = 60.0) -> None:
        """Write everything queued, close the files and stop the thread (idempotent).

        Raises:
            RecordingError: writing failed at some point (the cause is chained), or the thread did not
                finish within ``timeout``.
        """
        self._closing = True
        if self._thread.is_alive():
            self._wake.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RecordingError(f"{self._thread.name} did not finish within {timeout} s")
        self._raise_if_failed()

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RecordingError(f"{self._thread.name} failed: {self.error}") from self.error

    # -- thread side ----------------------------------------------------------------------------
    def _drain(self) -> Any:
        """Everything queued now (falsy when nothing)."""
        queue = self._queue
        pop = queue.popleft
        return [pop() for _ in range(len(queue))]

    def _run(self) -> None:
        try:
            self._begin()
            next_flush = time.monotonic() + self.flush_interval
            while True:
                self._wake.wait(max(0.0, next_flush - time.monotonic()))
                self._wake.clear()
                with self._lock:
                    requests, self._requests = self._requests, []
                closing = self._closing
                items = self._drain()
                if items:
                    self._handle(items)
                now = time.monotonic()
                if requests or closing or now >= next_flush:
                    self._flush()
                    # a fixed rate, not interval + work: what a kill loses stays within one interval
                    # plus one flush's work, however long the flushes take (behind schedule: at once)
                    next_flush = (
                        max(next_flush + self.flush_interval, now) if now >= next_flush else next_flush
                    )
                    self._tick(rotate=any(r.rotate for r in requests))
                for request in requests:
                    request.done.set()
                if closing:
                    late = self._drain()  # put while closing was being set
                    if late:
                        self._handle(late)
                        self._flush()
                    self._finish()
                    self.dropped += len(self._queue)  # a put racing the last drain: counted, not lost
                    self._state = WriterState.CLOSED
                    return
        except BaseException as exc:
            self.error = exc
            self._state = WriterState.FAILED
            self._closing = True  # refuse (and count) further items
            log.error("%s failed: %s", self._thread.name, exc)
            self._abort()
        finally:
            with self._lock:
                requests, self._requests = self._requests, []
            for request in requests:
                request.done.set()

    def _begin(self) -> None:
        """Runs first on the thread (recovery of what a previous process left)."""

    def _handle(self, items: list[Any]) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        raise NotImplementedError

    def _tick(self, *, rotate: bool) -> None:
        """After each flush: rotate and compact what is due (or everything, when ``rotate``)."""

    def _finish(self) -> None:
        """At close, after the last flush."""

    def _abort(self) -> None:
        """After a failure: release what can be released."""
