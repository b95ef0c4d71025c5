"""kunb.runtime: one helper loop per process, start/stop from sync code, closed at exit; pure asyncio."""

from __future__ import annotations

import ast
import asyncio
import enum
import threading
import time
from pathlib import Path

import pytest

from kunb.exceptions import ClosedError, TransportError
from kunb.runtime import SyncLifecycle, cancel_and_wait, stop_helper_loop, target_loop

KUNB = Path(__file__).resolve().parent.parent / "kunb"


class State(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    CLOSED = "closed"


class Dummy(SyncLifecycle):
    """The smallest SyncLifecycle: opening fails with ``fail`` if given; records where it was closed."""

    _label = "dummy"
    _NEW, _STARTING, _CLOSED = State.NEW, State.STARTING, State.CLOSED

    def __init__(self, fail: BaseException | None = None) -> None:
        self._state = State.NEW
        self._changed = asyncio.Event()
        self.error: BaseException | None = None
        self.fail = fail
        self.closed_on: str | None = None

    async def _open(self) -> None:
        if self.fail is not None:
            raise self.fail

    def _opened(self) -> None:
        self._state = State.RUNNING

    async def aclose(self) -> None:
        self._state = State.CLOSED
        self.closed_on = threading.current_thread().name
        self._changed.set()


def _helper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kunb-loop"]


def test_a_script_gets_one_helper_loop_and_exit_closes_what_runs_on_it():
    """Without a running loop every start shares one helper thread; stop_helper_loop (the atexit hook)
    closes the objects still on it, on its own thread, and ends the thread."""
    try:
        first, second = Dummy().start(), Dummy().start()
        assert target_loop() is target_loop() is first._loop is second._loop
        assert len(_helper_threads()) == 1
        assert first._state is State.RUNNING
        second.stop()
        assert second._state is State.CLOSED
    finally:
        stop_helper_loop()
    assert first._state is State.CLOSED and first.closed_on == "kunb-loop"
    assert not _helper_threads()
    with pytest.raises(ClosedError, match="this Dummy is closed"):
        first.start()


def test_exit_ends_every_task_left_on_the_helper_loop():
    """A task still pending on the helper loop at exit (a panel's, a redial) is cancelled and awaited
    before the loop stops: stopping a loop with pending tasks prints "Task was destroyed but it is
    pending!" (issue 17)."""
    loop = target_loop()
    ran_finally = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ran_finally.set()

    task = asyncio.run_coroutine_threadsafe(forever(), loop)
    stop_helper_loop()
    assert ran_finally.is_set() and task.cancelled()
    assert not _helper_threads()


async def test_start_on_a_running_loop_returns_at_once_and_keeps_the_failure():
    """In a running loop (a notebook cell) start() schedules the opening; a failure lands in .error and
    closes the object, and waiting on it says why."""
    dummy = Dummy(fail=TransportError("unreachable"))
    assert dummy.start() is dummy and dummy._state is State.STARTING
    assert dummy._start_task is not None
    await asyncio.wait_for(dummy._start_task, 5)
    assert dummy._state is State.CLOSED and isinstance(dummy.error, TransportError)
    with pytest.raises(ClosedError, match="unreachable"):
        await dummy._wait(lambda: False, 1)


async def test_wait_before_start_is_a_clear_error():
    """Waiting on an object never started raises instead of hanging."""
    with pytest.raises(ClosedError, match="not started"):
        await Dummy()._wait(lambda: False, 1)


async def test_cancel_and_wait_ends_every_task_whatever_they_raise():
    """A task still waiting and a task that raised both end; nothing propagates."""

    async def forever() -> None:
        await asyncio.Event().wait()

    async def raises() -> None:
        raise ValueError("boom")

    tasks = [asyncio.create_task(forever()), asyncio.create_task(raises())]
    await asyncio.sleep(0)  # let `raises` run to its error before it is cancelled
    await cancel_and_wait(tasks)
    assert all(t.done() for t in tasks)


async def test_cancel_and_wait_does_not_swallow_the_callers_own_cancellation():
    """Closing code that is itself cancelled (kernel shutdown, a timeout) still sees CancelledError."""

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.Event().wait()  # takes a long time to wind down

    inner = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    closer = asyncio.create_task(cancel_and_wait([inner]))
    await asyncio.sleep(0)
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    inner.cancel()
    await asyncio.wait([inner])


def _kunb_imports(path: Path) -> set[str]:
    """The kunb modules ``path`` imports (relative imports resolved against its package)."""
    package = path.relative_to(KUNB.parent).with_suffix("").parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                out.add(".".join((*base, node.module)) if node.module else ".".join(base))
            elif node.module and node.module.startswith("kunb"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("kunb"))
    return out


def test_dependencies_point_one_way():
    """design.md: notebook -> feed -> ...; the runtime is pure asyncio (only kunb.exceptions), and nothing
    below the notebook layer imports it."""
    assert _kunb_imports(KUNB / "runtime.py") == {"kunb.exceptions"}
    for name in (
        "stream.py",
        "account.py",
        "compat/blocking.py",
        "ws_client.py",
        "net/connection.py",
        "model/rolling.py",
    ):
        assert not {m for m in _kunb_imports(KUNB / name) if m.startswith("kunb.notebook")}, name


class Hanging(Dummy):
    """Opening never finishes (an exchange that accepts the connection and never answers)."""

    async def _open(self) -> None:
        await asyncio.Event().wait()


def test_a_start_that_times_out_in_a_script_is_abandoned_and_closed():
    """start(timeout) raising TimeoutError must not leave the opening running on the helper loop: the
    object is closed (its connection would otherwise come up later, owned by nobody)."""
    try:
        hanging = Hanging()
        with pytest.raises(TimeoutError):
            hanging.start(timeout=0.2)
        deadline = time.monotonic() + 5
        while hanging._state is not State.CLOSED and time.monotonic() < deadline:
            time.sleep(0.01)  # a bounded poll: the close runs on the helper thread
        assert hanging._state is State.CLOSED and hanging.closed_on == "kunb-loop"
    finally:
        stop_helper_loop()
