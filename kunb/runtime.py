"""Where kunb's long-lived objects run when started from plain sync code: the running loop, else one
helper loop thread per process; start/stop from sync code, and a stop at interpreter exit.

jupyter.md#the-kernel-event-loop: ipykernel runs cells inside its asyncio loop,
so a plain function called in a cell
can create tasks on that loop and return at once. A script has no running loop; there one daemon thread
runs a loop for every object of the process (:class:`kunb.Stream`, :class:`kunb.Account`, the notebook's
live panels). Pure asyncio: nothing here knows about Jupyter.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Generic, Self, TypeVar

from .exceptions import ClosedError

__all__ = [
    "SyncLifecycle",
    "cancel_and_wait",
    "loop_thread",
    "run_in_loop",
    "running_loop",
    "stop_helper_loop",
    "target_loop",
]

logger = logging.getLogger(__name__)

_StateT = TypeVar("_StateT", bound=enum.Enum)

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
            _helper = loop_thread(_THREAD_NAME)
        return _helper[0]


def loop_thread(name: str) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A new event loop running forever on a new daemon thread called ``name`` (returns once it runs)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=main, name=name, daemon=True)
    thread.start()
    ready.wait()
    return loop, thread


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has ended; what they raise is theirs (closing goes on).

    A cancellation of the caller itself still propagates (``asyncio.wait`` does not swallow it).
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # mark it retrieved: it was the task's to report, not an orphan


def run_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    """Call ``fn`` on ``loop``'s thread: now if that is this thread, else as soon as the loop can."""
    if running_loop() is loop:
        fn()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(fn)
    # a closed loop (kernel shutdown, a finished asyncio.run) has no tasks left to act on


def stop_helper_loop(timeout: float = 5.0) -> None:
    """Close what still runs on the helper thread (started objects, then every task left), then stop its
    loop (at exit, and in tests)."""
    global _helper
    with _helper_lock:
        helper, _helper = _helper, None
    if helper is None or helper[0].is_closed():
        return
    loop, thread = helper
    objects = [obj for obj in list(_started) if obj._loop is loop]
    if thread.is_alive():

        async def close_all() -> None:
            await asyncio.gather(*(obj.aclose() for obj in objects), return_exceptions=True)
            # Then whatever else still runs there (a panel's tasks, a redial): stopping a loop with
            # pending tasks is what prints "Task was destroyed but it is pending!" at exit.
            await cancel_and_wait(t for t in asyncio.all_tasks() if t is not asyncio.current_task())

        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout)
        except Exception as exc:  # exit must go on: a socket that does not close in time is dropped
            logger.debug("kunb: objects on the helper loop did not close cleanly: %r", exc)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)
    if not thread.is_alive():
        loop.close()


atexit.register(stop_helper_loop)


class SyncLifecycle(Generic[_StateT]):
    """The lifecycle of a long-lived object that owns a connection: async and sync start/stop, waits.

    A subclass names the members of its state enum (``_NEW``, ``_STARTING``, ``_CLOSED``), sets
    ``_state``, ``_changed`` (an :class:`asyncio.Event` set on every change) and ``error`` in its
    ``__init__``, and provides ``_open()`` (connect and subscribe; runs on the loop the object lives on),
    ``_opened()`` (leave STARTING) and ``aclose()`` (idempotent; sets ``_CLOSED``).

    ``start()`` from synchronous code: in a notebook cell the start is scheduled on the kernel's loop and
    returns at once (failures land in ``error``); in a script the helper loop thread runs it and
    ``start()`` waits for it. Opening that fails records the error, closes and raises.
    """

    # Class attributes in a subclass; not ClassVar, which cannot hold a type variable.
    _NEW: _StateT
    _STARTING: _StateT
    _CLOSED: _StateT
    _label = "object"
    _loop: asyncio.AbstractEventLoop | None = None
    _start_task: asyncio.Task[None] | None = None
    _state: _StateT
    _changed: asyncio.Event
    error: BaseException | None

    async def _open(self) -> None:
        raise NotImplementedError

    def _opened(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _begin(self) -> None:
        if self._state is not self._NEW:
            raise ClosedError(f"this {self._name} is {self._state.value}; create a new one")
        self._state = self._STARTING

    @property
    def _name(self) -> str:
        return self._label.capitalize()

    async def astart(self) -> Self:
        """Start on the running loop and wait until started (errors are raised, the object is closed)."""
        self._begin()
        await self._connect()
        return self

    async def _connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self._open()
        except BaseException as exc:
            self.error = exc
            await self.aclose()
            raise
        if self._state is self._CLOSED:  # stop() was called meanwhile
            await self.aclose()
            return
        self._opened()
        self._changed.set()

    async def _wait(self, predicate: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds, checked after every change (on the object's loop).

        Raises:
            TimeoutError: it did not hold within ``timeout`` seconds.
            ClosedError: the object is closed (``error`` says why, if it failed) or was never started.
        """
        async with asyncio.timeout(timeout):
            while not predicate():
                if self._state is self._CLOSED:
                    raise ClosedError(f"the {self._name} is closed ({self.error!r})")
                if self._state is self._NEW:
                    raise ClosedError(f"the {self._name} was not started: call start() or astart()")
                self._changed.clear()
                await self._changed.wait()

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
            opening = asyncio.run_coroutine_threadsafe(self._connect(), loop)
            try:
                opening.result(timeout)
            except TimeoutError:
                opening.cancel()  # else it goes on connecting after the caller gave up; _connect closes
                raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop from synchronous code (scheduled at once in a notebook cell; waited for in a script)."""
        loop = self._loop
        _started.discard(self)
        if loop is None or loop.is_closed():
            self._state = self._CLOSED
            return
        if running_loop() is loop:
            if self._start_task is not None and not self._start_task.done():
                self._start_task.cancel()
            stopping = loop.create_task(self.aclose(), name=f"kunb-{self._label}-stop")
            _stopping.add(stopping)  # the loop holds tasks weakly: a stop must not be collected half-way
            stopping.add_done_callback(_stopping.discard)
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)

    async def _start_quietly(self) -> None:
        try:
            await self._connect()
        except Exception as exc:  # kept in .error by _connect: nobody awaits this task
            logger.warning("kunb %s failed to start: %r", self._label, exc)


_started: weakref.WeakSet[SyncLifecycle[Any]] = weakref.WeakSet()
# objects started from sync code and not stopped: closed by stop_helper_loop when they run on its loop
_stopping: set[asyncio.Task[None]] = set()  # stop() tasks running on a notebook's loop, until done
