"""The base of every live object: its tasks on the target loop, throttled renderer, stop/start, display."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..runtime import run_in_loop, target_loop
from .runtime import register, unregister
from .source import Feed
from .status import Health, StatusView
from .throttle import DEFAULT_MAX_HZ, Throttle

__all__ = ["LiveObject"]

_STOP_TIMEOUT = 10.0
_LIVE_TIMEOUT = 30.0


class LiveObject:
    """Streams ``topics`` from a :class:`~kunb.notebook.source.Feed` into a model and redraws a panel.

    Subclasses set ``self.widget`` and implement :meth:`_on_message` (store one payload; cheap, never
    renders) and :meth:`_render` (draw the model; called by the throttle at most ``max_hz`` times per
    second). Construction starts streaming at once on the kernel's loop (or a helper thread in a
    script) and returns; the object displays itself when it is the value of a cell.
    """

    kind = "live"

    def __init__(self, feed: Feed, *, key: tuple[Any, ...], max_hz: float = DEFAULT_MAX_HZ) -> None:
        self.feed = feed
        self.url = feed.url
        self.simulated = feed.simulated
        self._changed = asyncio.Event()  # set on every message and status change (wait_until)
        self._health = Health.CONNECTING
        self.detail = ""
        self.received = 0  # messages delivered to this object, ever
        self.throttle = Throttle(self._safe_render, max_hz=max_hz)
        self._key = key
        self._loop = target_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = asyncio.Event()
        self._clock: Callable[[], float] = time.monotonic
        self.widget: Any = None
        self._controls: Any = None

    @property
    def health(self) -> Health:
        """What the data stream is doing now (the badge's word)."""
        return self._health

    @health.setter
    def health(self, value: Health) -> None:
        self._health = value
        self._changed.set()

    def _has_data(self) -> bool:
        """Whether there is something to show yet (a ticker: a message; a book: being in sync)."""
        return True

    async def wait_live(self) -> None:
        """Wait until data flows (a ticker has a message, a book is in sync), e.g. before reading ``.df``.

        Raises:
            TimeoutError: not live within 30 s (the badge says why: unreachable, stopped...).
        """
        await self.wait_until(lambda: self._health is Health.LIVE and self._has_data(), _LIVE_TIMEOUT)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``condition()`` is true, checked after each message and status change
        (e.g. "my order is filled").

        Raises:
            TimeoutError: still false after ``timeout`` seconds.
        """
        if asyncio.get_running_loop() is not self._loop:  # script: the object lives on the helper loop
            future = asyncio.run_coroutine_threadsafe(self.wait_until(condition, timeout), self._loop)
            await asyncio.wrap_future(future)
            return
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    # ---- lifecycle ----------------------------------------------------------------------------

    def _topics(self) -> list[str]:
        raise NotImplementedError

    def _bind_controls(self, controls: Any) -> None:
        """Wire a panel's start/stop toggle to :meth:`start` / :meth:`stop` (and keep it in step)."""
        self._controls = controls
        controls.on_toggle(self._toggled)

    def _toggled(self, on: bool) -> None:
        if on and not self.running:
            self.start()
        elif not on and self.running:
            self.stop()

    def _show_running(self, on: bool) -> None:
        if self._controls is not None and self._controls.toggle.value != on:
            self._controls.toggle.value = on

    def start(self) -> None:
        """Start (or restart) streaming; returns at once, the tasks run on the target loop."""
        register(self._key, self)
        run_in_loop(self._loop, self._spawn)
        self._show_running(True)

    def _spawn(self) -> None:
        if self._tasks:
            return
        self._stopped.clear()
        self.health = Health.CONNECTING
        self.detail = ""
        self._spawn_child(self._run_feed(), "feed")
        self._spawn_child(self.throttle.run(), "render")
        self.throttle.render_now()

    async def _run_feed(self) -> None:
        """Run the feed until cancelled (the object's feed task; a subclass may wrap it)."""
        await self.feed.run(self._topics(), self._ingest, self._on_health)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the feed gave up (a bad symbol, refused credentials): say so on the panel, do not hide it
            exc = task.exception()
            self.health = Health.STOPPED
            self.detail = f"{type(exc).__name__}: {exc}"
            self.stop()
        if not self._tasks:
            self._stopped.set()

    def stop(self) -> None:
        """Stop streaming: cancel the tasks (which close their sockets); the panel says ``stopped``."""
        unregister(self)
        run_in_loop(self._loop, self._cancel)
        self._show_running(False)

    def _cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if not self._tasks:
            self._stopped.set()
        self.health = Health.STOPPED
        self.throttle.render_now()

    async def wait_stopped(self) -> None:
        """Wait until every task of this object has ended (after :meth:`stop`).

        Raises:
            TimeoutError: the tasks did not end within 10 s (a task ignoring cancellation).
        """
        async with asyncio.timeout(_STOP_TIMEOUT):
            if asyncio.get_running_loop() is self._loop:
                await self._stopped.wait()
            else:  # script: the tasks live on the helper thread's loop
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stopped.wait(), self._loop))

    async def aclose(self) -> None:
        """``stop()`` and wait until the tasks and sockets are gone."""
        self.stop()
        await self.wait_stopped()

    async def __aenter__(self) -> LiveObject:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(self._tasks)

    # ---- data in ------------------------------------------------------------------------------

    def _ingest(self, message: Mapping[str, Any]) -> None:
        self.received += 1
        self._on_message(message)
        self._changed.set()
        health = self._message_health()
        if health is not self.health:
            self.health = health
            self.detail = ""
        self.throttle.mark()

    def _message_health(self) -> Health:
        """What a delivered message says about health: data flows, so ``live`` (a book may say otherwise)."""
        return Health.LIVE

    def _spawn_child(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as one of this object's tasks (cancelled by stop); it must handle its own errors."""
        task = self._loop.create_task(coro, name=f"kunb-{self.kind}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _on_health(self, health: Health, detail: str = "") -> None:
        self.health = health
        self.detail = detail
        self.throttle.mark()

    def _on_message(self, message: Mapping[str, Any]) -> None:
        raise NotImplementedError

    # ---- data out -----------------------------------------------------------------------------

    def status(self) -> StatusView:
        return StatusView(health=self.health, url=self.url, simulated=self.simulated, detail=self.detail)

    def _safe_render(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be closing during kernel shutdown
            self._render()

    def _render(self) -> None:
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        # ipywidgets 8 widgets display through _repr_mimebundle_; delegating makes the live object
        # itself the thing a cell shows (jupyter-notes.md 6: a widget-view output)
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self) -> str:
        source = " simulated" if self.simulated else ""
        return f"<{type(self).__name__} {self.health.value} {self.url}{source}>"
