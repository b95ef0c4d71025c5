"""kunb.sim shares only the wire layer with the client (design.md): no client module is ever imported."""

from __future__ import annotations

import ast
import pathlib

import kunb.sim

ALLOWED_KUNB = {"kunb.exceptions", "kunb.signing", "kunb.payloads"}
PURE = {"orderbook", "exchange", "model", "tape", "symbols", "wire", "topics", "tokens", "firehose"}
IO_LIBS = {"asyncio", "websockets", "uvicorn", "starlette", "httpx", "socket", "threading", "time"}


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x / from ..x
                base = "kunb" if node.level == 2 else "kunb.sim"
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return names


SIM_DIR = pathlib.Path(kunb.sim.__file__).parent


def test_sim_imports_only_the_wire_layer_of_kunb():
    """Every kunb import inside kunb/sim is kunb.sim.*, kunb.exceptions, kunb.signing or kunb.payloads."""
    bad = {}
    for path in SIM_DIR.glob("*.py"):
        wrong = {
            n
            for n in _imports(path)
            if n.startswith("kunb") and not n.startswith("kunb.sim") and n not in ALLOWED_KUNB
        }
        if wrong:
            bad[path.name] = wrong
    assert bad == {}


def test_pure_core_modules_do_no_io():
    """The exchange core modules import no I/O library and never the clock."""
    for name in PURE:
        imported = {n.split(".")[0] for n in _imports(SIM_DIR / f"{name}.py")}
        assert imported.isdisjoint(IO_LIBS), (name, imported & IO_LIBS)
