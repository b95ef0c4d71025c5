"""``import kunb.notebook`` is cheap, and in a kernel the first panel call hands plotly.js to the page
before the panels' heavy imports (so the page evaluates it meanwhile)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
import IPython

class _Events:  # IPython's shell.events, as far as kunb uses it
    def __init__(self):
        self.callbacks = {}
    def register(self, event, callback):
        self.callbacks.setdefault(event, []).append(callback)
    def unregister(self, event, callback):
        self.callbacks[event].remove(callback)

class _Shell:
    kernel = object()  # what ipykernel's shell has: kunb.notebook then knows a page may be listening
    events = _Events()

SHELL = _Shell()
IPython.get_ipython = lambda: SHELL if KERNEL else None

import kunb.notebook
light = "pandas" not in sys.modules and "kunb.notebook.ticker" not in sys.modules
import kunb.notebook.plotlyjs as plotlyjs
seen = []
def _pushed():
    seen.append(("kunb.notebook.ticker" in sys.modules, "pandas" in sys.modules))
plotlyjs.shared_library = _pushed
kunb.notebook.live_ticker
# the first panel of a session draws without pandas (its import would delay the first chart)
after = {"pandas": "pandas" in sys.modules, "other panels": "kunb.notebook.account" in sys.modules}
# the cell ends (IPython runs post_run_cell, on the kernel's loop): the loop then imports pandas, for the
# later panels
import asyncio
async def _cell_ends():
    for callback in list(SHELL.events.callbacks.get("post_run_cell", [])):
        callback(None)
    await asyncio.sleep(0)  # one loop turn: what the kernel's loop does between cells
asyncio.run(_cell_ends())
warmed = {"pandas": "pandas" in sys.modules, "left": len(SHELL.events.callbacks.get("post_run_cell", []))}
print(json.dumps({"light": light, "pushes": seen, "after": after, "warmed": warmed}))
"""


def _run(kernel: bool) -> dict:
    code = f"KERNEL = {kernel}\n" + _PROBE
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_in_a_kernel_plotly_js_is_pushed_before_the_panels_are_imported():
    result = _run(kernel=True)
    assert result["light"] is True  # importing the package imported neither pandas nor the panels
    assert result["pushes"] == [[False, False]]  # pushed once, before the panel modules and pandas


def test_the_first_ticker_imports_neither_pandas_nor_the_other_panels_until_its_cell_is_done():
    result = _run(kernel=True)
    assert result["after"] == {"pandas": False, "other panels": False}
    # after the cell, the kernel's loop imported pandas (the hook ran once and removed itself)
    assert result["warmed"] == {"pandas": True, "left": 0}


def test_outside_a_kernel_nothing_is_warmed():
    assert _run(kernel=False)["warmed"] == {"pandas": False, "left": 0}


def test_outside_a_kernel_nothing_is_pushed():
    assert _run(kernel=False)["pushes"] == []
