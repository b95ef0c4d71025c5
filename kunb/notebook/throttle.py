"""Coalesce "data changed" marks into at most ``max_hz`` redraws, so ingest never waits for rendering."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ..exceptions import ConfigurationError

__all__ = ["DEFAULT_MAX_HZ", "Throttle"]

DEFAULT_MAX_HZ = 5.0

_log = logging.getLogger(__name__)
_ERROR_LOG_INTERVAL = 10.0  # seconds between two logged render failures


class Throttle:
    """Calls ``render()`` at most ``max_hz`` times per second, only after :meth:`mark` was called.

    ``mark()`` is what the ingest path calls after it stored a message: it sets a flag and returns, it
    never awaits and never renders. :meth:`run` (a task on the same loop) waits for a mark, renders once
    for everything that arrived since the previous render, then waits out the rest of the frame. Any
    number of marks between two renders therefore costs one render (jupyter.md#throttled-redraws: FigureWidget
    resends whole arrays, so each redraw must be one batched update at a bounded rate).

    Args:
        render: the redraw; an exception it raises is logged and counted, the loop keeps going.
        max_hz: maximum redraws per second (default 5).
        heartbeat: seconds after which ``render()`` runs even without a mark (rates and the status badge
            must age visibly when nothing arrives); ``None`` disables it.
        clock: monotonic seconds, injectable for tests.
    """

    def __init__(
        self,
        render: Callable[[], None],
        *,
        max_hz: float = DEFAULT_MAX_HZ,
        heartbeat: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_hz > 0:
            raise ConfigurationError(f"max_hz must be > 0, got {max_hz!r}")
        if heartbeat is not None and not heartbeat > 0:
            raise ConfigurationError(f"heartbeat must be > 0 or None, got {heartbeat!r}")
        self._render = render
        self._interval = 1.0 / max_hz
        self._heartbeat = heartbeat
        self._clock = clock
        self._wake = asyncio.Event()
        self.changed = asyncio.Event()
        """Set by every :meth:`mark`: whoever waits for "something changed" clears and awaits it."""
        self.marks = 0
        self.renders = 0
        self.errors = 0
        self.last_error: BaseException | None = None
        self.first_pending: float | None = None  # clock() of the oldest mark not rendered yet
        self._error_logged_at: float | None = None

    @property
    def max_hz(self) -> float:
        return 1.0 / self._interval

    def mark(self, *_event: object) -> None:
        """Note that data changed; cheap and non-blocking. A driver calls it for every event it applied
        (it is registered as the panel's sink, so it takes the event and ignores it)."""
        self.marks += 1
        self.changed.set()
        if self.first_pending is None:
            self.first_pending = self._clock()
            self._wake.set()

    def render_now(self) -> None:
        """Render immediately (used for the first frame and after stop, outside the rate limit)."""
        self.first_pending = None
        self._wake.clear()
        try:
            self._render()
        except Exception as exc:  # a broken frame must not end the live view; it is logged and counted
            self.errors += 1
            self.last_error = exc
            # a render that keeps failing would log a traceback on every frame: once per 10 s is enough
            now = self._clock()
            if self._error_logged_at is None or now - self._error_logged_at >= _ERROR_LOG_INTERVAL:
                self._error_logged_at = now
                _log.exception("kunb: rendering a live panel failed (%d failures so far)", self.errors)
        else:
            self.renders += 1

    async def run(self) -> None:
        """Render loop; run it as a task and cancel it to stop."""
        next_allowed = self._clock()
        while True:
            if self._heartbeat is None:
                await self._wake.wait()
            else:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races with
                # the event being set, leaving stop() waiting on a task that never ends (bpo-42130)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._heartbeat):
                        await self._wake.wait()
            delay = next_allowed - self._clock()
            if delay > 0:
                # marks arriving during this wait are coalesced into the render below
                await asyncio.sleep(delay)
            self.render_now()
            next_allowed = self._clock() + self._interval
