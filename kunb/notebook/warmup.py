"""pandas, imported once the first panel of a kernel session is on its way to the page.

The first panel draws without pandas (its import is most of a second on a loaded machine); the panels
after it (candles, trades, account) and every ``.df`` need it. Once the first panel's cell has finished
(IPython's ``post_run_cell``: its output is sent by then) the kernel's event loop imports it, so a later
cell finds it loaded. On the loop, not in a thread: a module half-imported in another thread is visible in
``sys.modules``, and plotly reads ``pandas.Series`` from there (an AttributeError seen when tried).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

__all__ = ["WARM_MODULES", "warm_after_cell"]

WARM_MODULES = ("pandas",)

_registered = False


def warm_after_cell(shell: Any) -> bool:
    """Import :data:`WARM_MODULES` on the running event loop after the running cell; once per process.
    Returns whether it registered now (False: done before, or ``shell`` has no IPython events)."""
    global _registered
    events = getattr(shell, "events", None)
    if _registered or events is None:
        return False
    _registered = True

    def after_cell(*_result: object) -> None:
        events.unregister("post_run_cell", after_cell)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop running here: the next cell that needs pandas imports it
            return
        loop.call_soon(_import_all)

    events.register("post_run_cell", after_cell)
    return True


def _import_all() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
