"""Where live objects run (the kernel's loop, or a helper loop thread in scripts); one per cell."""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from ..exceptions import ConfigurationError

__all__ = [
    "Stoppable",
    "allow_nested",
    "cell_key",
    "live_objects",
    "register",
    "run",
    "run_in_loop",
    "stop_all",
    "target_loop",
    "unregister",
]

T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class _HelperLoop:
    """One daemon thread running an event loop, for plain scripts that have no running loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name="kunb-live-loop", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


_helper: _HelperLoop | None = None
_helper_lock = threading.Lock()


def target_loop() -> asyncio.AbstractEventLoop:
    """The loop live objects run on: the running one (a Jupyter kernel's), else the helper thread's.

    jupyter-notes.md 0.2: ipykernel runs cells inside its asyncio loop, so a plain function called in
    a cell can create tasks on it and return at once. A script has no running loop; there one helper
    thread runs a loop for every live object of the process.
    """
    global _helper
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    with _helper_lock:
        if _helper is None or _helper.loop.is_closed():
            _helper = _HelperLoop()
        return _helper.loop


def run_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], T]) -> None:
    """Call ``fn`` on ``loop``'s thread: now if that is this thread, else as soon as the loop can."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        fn()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(fn)
    # a closed loop (kernel shutdown, a finished asyncio.run) has no tasks left to act on


# ---- one live object per cell -------------------------------------------------------------------

_registry: dict[tuple[Any, ...], Stoppable] = {}
_registry_lock = threading.Lock()


def cell_key(kind: str, *args: Any) -> tuple[Any, ...]:
    """The registry key of a live object created now.

    In JupyterLab, Notebook 7 and VS Code the execute request carries the cell's id (``cellId`` in its
    metadata), so re-running a cell finds the object that cell made before, whatever its arguments.
    Without a cell id (a script, nbclient) the key is the kind plus the arguments.
    """
    cell = _current_cell_id()
    return (kind, "cell", cell) if cell else (kind, *args)


def _current_cell_id() -> str | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent()
    except Exception:  # older kernels: no get_parent(); fall back to argument keys
        return None
    metadata = parent.get("metadata") or {}
    cell = metadata.get("cellId") or metadata.get("cell_id")
    return str(cell) if cell else None


def register(key: tuple[Any, ...], obj: Stoppable) -> None:
    """Make ``obj`` the live object for ``key``, stopping the one it replaces (a re-run cell)."""
    with _registry_lock:
        previous = _registry.get(key)
        _registry[key] = obj
    if previous is not None and previous is not obj:
        previous.stop()


def unregister(obj: Stoppable) -> None:
    with _registry_lock:
        for key in [k for k, v in _registry.items() if v is obj]:
            del _registry[key]


def live_objects() -> list[Stoppable]:
    """Every live object that was started and not stopped yet."""
    with _registry_lock:
        return list(_registry.values())


def stop_all() -> None:
    """Stop every live object (registered with ``atexit``, so kernel shutdown leaves nothing behind)."""
    for obj in live_objects():
        obj.stop()
    global _helper
    if _helper is not None:
        _helper.close()
        _helper = None


atexit.register(stop_all)


# ---- opt-in nested loops for the seed's ``asyncio.run(main())`` ---------------------------------


def allow_nested() -> None:
    """Let ``asyncio.run(...)`` work inside a running loop (a notebook cell), for the seed's examples.

    Opt-in on purpose, never done at import: it patches asyncio process-wide through ``nest-asyncio2``
    (the maintained fork ipykernel itself uses; the archived ``nest-asyncio`` breaks on Python >= 3.12,
    design.md). kunb's own live objects never need it.
    """
    try:
        import nest_asyncio2
    except ImportError as exc:
        raise ConfigurationError(
            "allow_nested() needs the optional dependency nest-asyncio2: %pip install 'kunb[nested]'"
        ) from exc
    nest_asyncio2.apply()


def run(main: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    """Run a coroutine to completion from sync code, in a script or in a notebook cell.

    In a script this is ``asyncio.run``. In a cell (a loop is already running) it first calls
    :func:`allow_nested`, then runs ``main`` on the kernel's loop, so live objects started inside stay
    on that loop after it returns.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main)  # type: ignore[arg-type]
    allow_nested()
    return loop.run_until_complete(main)
