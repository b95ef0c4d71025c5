"""One live object per notebook cell, stopped at exit; opt-in nested loops. Where objects run (the kernel's
loop, or a helper loop thread in scripts) is :mod:`kunb.runtime`."""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from ..exceptions import ConfigurationError
from ..runtime import stop_helper_loop

__all__ = [
    "Stoppable",
    "allow_nested",
    "cell_key",
    "live_objects",
    "register",
    "run",
    "stop_all",
    "unregister",
]

T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


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
    stop_helper_loop()


atexit.register(stop_all)


# ---- opt-in nested loops for the seed's ``asyncio.run(main())`` ---------------------------------


def allow_nested() -> None:
    """Let ``asyncio.run(...)`` work inside a running loop (a notebook cell), for the seed's examples.

    Opt-in on purpose, never done at import: it patches asyncio process-wide through ``nest-asyncio2``
    (the maintained fork ipykernel itself uses; the archived ``nest-asyncio`` breaks on Python >= 3.12,
    ``jupyter.md#nested-event-loops``). kunb's own live objects never need it.
    """
    try:
        import nest_asyncio2
    except ImportError as exc:
        raise ConfigurationError(
            "allow_nested() needs the optional dependency nest-asyncio2: %pip install 'kunb[nested]'"
        ) from exc
    nest_asyncio2.apply()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, in a script or in a notebook cell.

    In a script this is ``asyncio.run``. In a cell (a loop is already running) it first calls
    :func:`allow_nested`, then runs ``main`` on the kernel's loop, so live objects started inside stay
    on that loop after it returns.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main)
    allow_nested()
    return loop.run_until_complete(main)
