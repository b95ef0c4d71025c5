"""Where kunb's long-lived objects run when started from plain sync code: the running loop, else one
helper loop thread per process; start/stop from sync code, and a stop at interpreter exit.

jupyter-notes.md 0.2: ipykernel runs cells inside its asyncio loop, so a plain function called in a cell
can create tasks on that loop and return at once. A script has no running loop; there one daemon thread
runs a loop for every object of the process (:class:`kunb.Stream`, :class:`kunb.Account`, the notebook's
live panels). Pure asyncio: nothing here knows about Jupyter.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, Self

__all__ = ["SyncLifecycle", "run_in_loop", "running_loop", "stop_helper_loop", "target_loop"]

logger = logging.getLogger(__name__)

_THREAD_NAME = "kunb-loop"
_helper: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_helper_lock = threading.Lock()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or ``None``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def target_loop() -> asyncio.AbstractEventLoop:
    """The loop objects started now run on: the running one (a Jupyter kernel's), else the helper thread's."""
    global _helper
    running = running_loop()
    if running is not None:
        return running
    with _helper_lock:
        if _helper is None or _helper[0].is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=main, name=_THREAD_NAME, daemon=True)
            thread.start()
            ready.wait()
            _helper = (loop, thread)
        return _helper[0]


def run_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    """Call ``fn`` on ``loop``'s thread: now if that is this thread, else as soon as the loop can."""
    if running_loop() is loop:
        fn()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(fn)
    # a closed loop (kernel shutdown, a finished asyncio.run) has no tasks left to act on


def stop_helper_loop(timeout: float = 5.0) -> None:
    """Close what still runs on the helper thread, then stop its loop (at exit, and in tests)."""
    global _helper
    with _helper_lock:
        helper, _helper = _helper, None
    if helper is None or helper[0].is_closed():
        return
    loop, thread = helper
    objects = [obj for obj in list(_started) if obj._loop is loop]
    if objects and thread.is_alive():

        async def close_all() -> None:
            await asyncio.gather(*(obj.aclose() for obj in objects), return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout)
        except Exception as exc:  # exit must go on: a socket that does not close in time is dropped
            logger.debug("kunb: objects on the helper loop did not close cleanly: %r", exc)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)
    if not thread.is_alive():
        loop.close()


atexit.register(stop_helper_loop)


class SyncLifecycle:
    """``start()`` / ``stop()`` from synchronous code for an object with an async lifecycle.

    A subclass provides ``_begin()`` (NEW -> STARTING, or :class:`~kunb.exceptions.ClosedError`),
    ``_connect()`` (the async start; on failure it records the error, closes and raises),
    ``aclose()`` and ``_closed()`` (mark CLOSED when there is no loop to close on). In a notebook cell
    the start is scheduled on the kernel's loop and ``start()`` returns at once (failures land in the
    object's ``error``); in a script the helper loop thread runs it and ``start()`` waits for it.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _start_task: asyncio.Task[None] | None = None
    _label = "object"

    def _begin(self) -> None:
        raise NotImplementedError

    async def _connect(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def _closed(self) -> None:
        raise NotImplementedError

    async def astart(self) -> Self:
        """Start on the running loop and wait until started (errors are raised, the object is closed)."""
        self._begin()
        await self._connect()
        return self

    def start(self, timeout: float = 30.0) -> Self:
        """Start from synchronous code and return ``self``: scheduled at once on a running loop (a
        notebook cell), else run on the helper loop thread and waited for (up to ``timeout``)."""
        self._begin()
        loop = target_loop()
        self._loop = loop
        _started.add(self)
        if running_loop() is loop:
            self._start_task = loop.create_task(self._start_quietly(), name=f"kunb-{self._label}-start")
        else:
            asyncio.run_coroutine_threadsafe(self._connect(), loop).result(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop from synchronous code (scheduled at once in a notebook cell; waited for in a script)."""
        loop = self._loop
        _started.discard(self)
        if loop is None or loop.is_closed():
            self._closed()
            return
        if running_loop() is loop:
            if self._start_task is not None and not self._start_task.done():
                self._start_task.cancel()
            loop.create_task(self.aclose(), name=f"kunb-{self._label}-stop")
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)

    async def _start_quietly(self) -> None:
        try:
            await self._connect()
        except Exception as exc:  # kept in .error by _connect: nobody awaits this task
            logger.warning("kunb %s failed to start: %r", self._label, exc)


_started: weakref.WeakSet[SyncLifecycle] = weakref.WeakSet()
# objects started from sync code and not stopped: closed by stop_helper_loop when they run on its loop
