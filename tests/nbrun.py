"""Run notebooks and cells in a real ipykernel for the notebook tests (nbclient and jupyter_client)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# A cell the tests add: poll a condition on the kernel's loop with a deadline (never a bare sleep).
UNTIL = """
import asyncio as _asyncio, time as _time
async def _until(pred, within=30.0):
    deadline = _time.monotonic() + within
    while not pred():
        if _time.monotonic() > deadline:
            raise TimeoutError("condition not met in the notebook")
        await _asyncio.sleep(0.05)
"""


def kernel_env(**extra: str) -> dict[str, str]:
    """The kernel's environment: this one without KUNB_URL (notebooks start their own exchange)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUNB_URL", "KUNB_SIMULATED")}
    env.update(extra)
    return env


def run_notebook(
    name: str,
    *,
    before: dict[int, list[str]] | None = None,
    after: list[str] = (),
    timeout: int = 90,
    env: dict[str, str] | None = None,
) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>`` top to bottom with test cells inserted; return the executed notebook.

    ``before`` maps a cell index of the original notebook to test cells run just before it; ``after``
    cells run after the last one.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert set(before or {}) <= set(range(len(nb.cells))), f"{name} has {len(nb.cells)} cells"
    cells = []
    for i, cell in enumerate(nb.cells):
        cells.extend(nbformat.v4.new_code_cell(src) for src in (before or {}).get(i, []))
        cells.append(cell)
    cells.extend(nbformat.v4.new_code_cell(src) for src in after)
    nb.cells = cells
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.km = client.create_kernel_manager()
    start = time.monotonic()
    with _env(env if env is not None else kernel_env()):
        client.execute()
    nb.metadata["kunb_test_seconds"] = time.monotonic() - start
    return nb


class _env:
    """Swap os.environ while the kernel starts (jupyter_client passes it on)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __enter__(self) -> None:
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


def last_json(nb: nbformat.NotebookNode) -> Any:
    """The JSON line printed last by any code cell (the tests' summary cell)."""
    for cell in reversed(nb.cells):
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        lines = text.strip().splitlines()
        if lines and lines[-1].startswith(("{", "[")):
            return json.loads(lines[-1])
    raise AssertionError("no cell printed JSON")


def widget_views(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Every widget view displayed by the notebook's cells."""
    return [
        out["data"][WIDGET_VIEW]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if WIDGET_VIEW in out.get("data", {})
    ]
