"""The base of every live panel: one driver (a :class:`kunb.Stream` or :class:`kunb.Account`), a throttled
renderer, stop/start, display. The driver does all the data work; a panel only reads it and draws."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from ..account import Account, AccountState
from ..exceptions import ClosedError
from ..record import open_recording
from ..runtime import run_in_loop, running_loop, target_loop
from ..sources.base import LinkStatus
from ..stream import Stream, StreamState
from .record import RecordToggle
from .runtime import register, unregister
from .status import Health, StatusView
from .throttle import DEFAULT_MAX_HZ, Throttle

if TYPE_CHECKING:  # pragma: no cover
    from ..record.session import Recording

__all__ = ["LiveObject", "driver_health"]

logger = logging.getLogger(__name__)

_DriverT = TypeVar("_DriverT", Stream, Account)  # what a panel draws: a Stream or an Account

_STOP_TIMEOUT = 10.0
_LIVE_TIMEOUT = 30.0

_LINK_HEALTH = {
    LinkStatus.CONNECTING: Health.CONNECTING,
    LinkStatus.UNREACHABLE: Health.UNREACHABLE,
    LinkStatus.DOWN: Health.RECONNECTING,
}


def driver_health(driver: Stream | Account) -> tuple[Health, str]:
    """What a driver is doing, as the badge says it (and why, when it is not live)."""
    if driver.state in (StreamState.CLOSED, AccountState.CLOSED):
        error = driver.error
        return Health.STOPPED, "" if error is None else f"{type(error).__name__}: {error}"
    link = _LINK_HEALTH.get(driver.link)
    if link is not None:
        return link, driver.link_detail
    if isinstance(driver, Account):
        if driver.state is AccountState.RESYNCING:
            return Health.RESYNCING, "re-seeding balances from REST"
        return (Health.LIVE, "") if driver.state is AccountState.LIVE else (Health.CONNECTING, "")
    if driver.state is not StreamState.RUNNING:
        return Health.CONNECTING, ""
    for symbol, book in driver.books.items():
        if book.needs_snapshot:
            # the connection being live is not the book being live: it still needs its snapshot
            failed = driver.snapshot_errors.get(symbol)
            detail = "" if failed is None else f"book snapshot failed ({failed}); retrying"
            return (Health.RESYNCING if book.stats.snapshots else Health.CONNECTING), detail
    return Health.LIVE, ""


class LiveObject(Generic[_DriverT]):
    """Runs a driver and redraws a panel from it.

    Subclasses set ``self.widget`` and implement :meth:`_new_driver` (a fresh Stream or Account; a stopped
    panel that is started again gets a new one) and :meth:`_render` (draw from the driver; called by the
    throttle at most ``max_hz`` times per second). Every event the driver applies marks the throttle; it
    never renders. Construction does not start anything; :meth:`start` runs the driver on the kernel's loop
    (or a helper thread in a script) and returns at once; the object displays itself as a cell's value.
    """

    kind = "live"

    def __init__(self, *, url: str, simulated: bool, key: tuple[Any, ...], max_hz: float = DEFAULT_MAX_HZ):
        self.url = url
        self.simulated = simulated
        self.detail = ""
        self.notice = ""  # what the panel left out and why (an unknown symbol); shown whatever the health
        # The throttle is the driver's sink (one call per event, nothing else): it marks the panel dirty,
        # its ``changed`` event wakes wait_until(), and it redraws at most ``max_hz`` times a second.
        self.throttle = Throttle(self._safe_render, max_hz=max_hz)
        self._changed = self.throttle.changed
        self._key = key
        self._loop = target_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = asyncio.Event()
        self._user_stopped = False
        self._restarting: asyncio.Task[None] | None = None  # kept: a task nobody references may vanish
        self._clock: Callable[[], float] = time.monotonic
        self.widget: Any = None
        self._controls: Any = None
        self.recording: Recording | None = None
        """Where this panel records to (:meth:`record`), or ``None``."""
        self._record_view: RecordToggle | None = None
        self._switching: asyncio.Task[None] | None = None  # kept: a task nobody references may vanish
        self.driver: _DriverT = self._new_driver()

    def _new_driver(self) -> _DriverT:
        raise NotImplementedError

    @property
    def health(self) -> Health:
        """What the data stream is doing now (the badge's word): read from the driver, so it cannot
        disagree with it; ``stopped`` once :meth:`stop` was called."""
        if self._user_stopped or not self._tasks:
            return Health.STOPPED
        return driver_health(self.driver)[0]

    def _has_data(self) -> bool:
        """Whether there is something to show yet (a ticker: a tick; a book: being in sync)."""
        return True

    async def wait_live(self) -> None:
        """Wait until data flows (a ticker has a tick, a book is in sync), e.g. before reading ``.df``.

        Raises:
            TimeoutError: not live within 30 s (the badge says why: unreachable, stopped...).
        """
        await self.wait_until(lambda: self.health is Health.LIVE and self._has_data(), _LIVE_TIMEOUT)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``condition()`` is true, checked after each event and status change
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

    def _bind_controls(self, controls: Any) -> None:
        """Wire a panel's start/stop toggle to :meth:`start` / :meth:`stop` (and keep it in step), and put
        the record toggle at the end of the panel's control row."""
        self._controls = controls
        controls.on_toggle(self._toggled)
        controls.box.children = (*controls.box.children, self.record_toggle().widget)

    def _toggled(self, on: bool) -> None:
        if on and not self.running:
            self.start()
        elif not on and self.running:
            self.stop()

    def _show_running(self, on: bool) -> None:
        if self._controls is not None and self._controls.toggle.value != on:
            self._controls.toggle.value = on

    def start(self) -> None:
        """Start (or restart) streaming; returns at once, the driver runs on the target loop."""
        register(self._key, self)
        run_in_loop(self._loop, self._spawn)
        self._show_running(True)

    def _spawn(self) -> None:
        if self._tasks:
            return
        self._stopped.clear()
        self._user_stopped = False
        self.detail = ""
        if self.driver.state in (StreamState.CLOSED, AccountState.CLOSED):  # restarted: a fresh driver
            self.driver = self._new_driver()
        self._spawn_child(self._run_driver(self.driver), "driver")
        self._spawn_child(self.throttle.run(), "render")
        self.throttle.render_now()

    async def _prepare(self, driver: _DriverT) -> _DriverT:
        """Before the driver starts: check what it will ask for (symbols exist...) and return the driver
        to run (the same, or one made for what passed the check). Raising ends the run; the panel shows
        why. By default nothing is checked."""
        return driver

    def _started(self, driver: _DriverT) -> None:
        """The driver is subscribed: start what needs its data flowing (a history fetch...)."""

    async def _run_driver(self, driver: _DriverT) -> None:
        """Run the driver until it closes or this task is cancelled (stop), then close it."""
        try:
            driver = await self._prepare(driver)
            driver.add_sink(self.throttle.mark)
            if self.recording is not None and driver.recording is None:
                driver.record(self.recording)  # from its first frame: the recording replays
            await driver.astart()  # open_timeout=None: waits for the exchange; the badge says why not
            self._started(driver)
            self._signal()
            await driver.wait_for(lambda d: d.state in (StreamState.CLOSED, AccountState.CLOSED), None)
            # closed by itself: a fatal error (credentials revoked...) ends the panel, and says why
            raise driver.error or ClosedError(f"the {type(driver).__name__} closed")
        finally:
            await driver.aclose()
            self._signal()

    @property
    def received(self) -> int:
        """Events the driver applied while this panel ran, and status changes (the throttle's marks)."""
        return self.throttle.marks

    def _signal(self) -> None:
        self.throttle.mark()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the driver gave up (a bad symbol, refused credentials): say so on the panel, do not hide it
            exc = task.exception()
            self.detail = f"{type(exc).__name__}: {exc}"
            self.stop()
        if not self._tasks:
            self._stopped.set()
            self._changed.set()

    def _restart_when_stopped(self) -> None:
        """Start again once the tasks of the previous run have ended (a new symbol, a new window)."""
        self._restarting = self._loop.create_task(self._restart(), name=f"kunb-{self.kind}-restart")

    async def _restart(self) -> None:
        await self._stopped.wait()  # the old driver's sockets are closed before the new one opens
        self.start()

    def stop(self) -> None:
        """Stop streaming: cancel the tasks (which close the driver's sockets); the panel says ``stopped``.

        In a notebook cell it returns at once (``await wait_stopped()`` to know the sockets are closed); in
        a script, where the panel runs on kunb's helper loop thread, it returns once the tasks have ended
        (at most 10 s), so nothing is left pending when the interpreter exits.
        """
        self._stop_soon()
        loop = self._loop
        if running_loop() is not loop and loop.is_running():  # a script: the helper thread's loop
            ended = asyncio.run_coroutine_threadsafe(self._stopped.wait(), loop)
            try:
                ended.result(_STOP_TIMEOUT)
            except TimeoutError:
                ended.cancel()
                logger.warning("kunb %s: tasks still running %.0f s after stop()", self.kind, _STOP_TIMEOUT)

    def _stop_soon(self) -> None:
        self._user_stopped = True
        unregister(self)
        run_in_loop(self._loop, self._cancel)
        self._show_running(False)

    def _cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if not self._tasks:
            self._stopped.set()
        self._changed.set()
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
        """``stop()`` and wait until the tasks and sockets are gone (without blocking the running loop), then
        close the recording, if any."""
        self._stop_soon()
        await self.wait_stopped()
        recording, self.recording = self.recording, None
        if recording is not None:
            await recording.aclose()

    # ---- recording ----------------------------------------------------------------------------

    def record(self, out: str | os.PathLike[str] | Recording | None = None) -> Recording:
        """Record what this panel streams (both layers, :class:`kunb.record.Recording`) into ``out``
        (default: ``recordings/<kind>-<UTC time>``; or a Recording, which the panel then closes when it
        stops recording). A running panel restarts its driver, so the recording holds the connection from
        its first frame (:func:`kunb.replay` needs its subscriptions and snapshots). Returns the recording
        (already recording: the same one).

        Raises:
            ConfigurationError: another recorder writes to ``out``.
        """
        if self.recording is None:
            if out is None:
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                out = Path("recordings") / f"{self.kind}-{stamp}"
            self.recording = open_recording(out) if isinstance(out, str | os.PathLike) else out
            run_in_loop(self._loop, lambda: self._switch_recording(None))
        return self.recording

    def stop_recording(self) -> None:
        """Stop recording: a running panel restarts without it; the files are then closed."""
        recording, self.recording = self.recording, None
        if recording is not None:
            run_in_loop(self._loop, lambda: self._switch_recording(recording))

    def _switch_recording(self, finished: Recording | None) -> None:
        restart = self.running
        if restart:
            self._stop_soon()  # on the panel's loop: never block it waiting for its own tasks
        self._switching = self._loop.create_task(
            self._restart_recording(finished, restart), name=f"kunb-{self.kind}-record"
        )

    async def _restart_recording(self, finished: Recording | None, restart: bool) -> None:
        if restart:
            await self._stopped.wait()  # the old driver is closed: nothing more reaches the old recording
        if finished is not None:
            await finished.aclose()
        if restart:
            self.start()
        self._signal()

    def record_toggle(self) -> RecordToggle:
        """The panel's record button and label (one per panel; a panel places ``.widget``)."""
        if self._record_view is None:
            self._record_view = RecordToggle(self)
        return self._record_view

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(self._tasks)

    def _spawn_child(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` as one of this object's tasks (cancelled by stop); it must handle its own errors."""
        task = self._loop.create_task(coro, name=f"kunb-{self.kind}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    # ---- data out -----------------------------------------------------------------------------

    def status(self) -> StatusView:
        health = self.health
        detail = self.detail if health is Health.STOPPED else driver_health(self.driver)[1]
        recording = self.recording
        if recording is not None:
            stats = recording.stats()
            if stats.dropped or stats.error:  # never silent: the badge says what the recording lost
                lost = f"recording dropped {stats.dropped:,} events (queue full)" if stats.dropped else ""
                failed = f"recording failed: {stats.error}" if stats.error else ""
                detail = "; ".join(part for part in (detail, lost, failed) if part)
        protocol = self.driver.protocol
        return StatusView(
            health=health,
            url=self.url,
            simulated=self.simulated,
            detail=detail,
            protocol=protocol,
            notice=self.notice,
        )

    def _safe_render(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be closing during kernel shutdown
            self._render()
            if self._record_view is not None:
                self._record_view.refresh()

    def _render(self) -> None:
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        # ipywidgets 8 widgets display through _repr_mimebundle_; delegating makes the live object
        # itself the thing a cell shows (jupyter.md#widget-view-output: a widget-view output)
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self) -> str:
        source = " simulated" if self.simulated else ""
        return f"<{type(self).__name__} {self.health.value} {self.url}{source}>"
