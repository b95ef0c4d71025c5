"""kunb.sim's layers import one way, its pure core does no I/O, and it shares nothing with the client.

An AST scan of every module under kunb/sim (design.md, issue 12):

* ``core`` imports only ``core``; ``wire`` imports ``core``; ``rest`` and ``feed`` import ``core`` and
  ``wire`` (never each other); only the top (``exchange``, ``faults``, ``runner``, ``cli``) composes;
* the import graph among kunb.sim modules has no cycle, and every import sits at module level (no
  lazy or ``TYPE_CHECKING`` imports to dodge one);
* the core imports no I/O, clock or JSON library and calls no clock;
* of the rest of kunb only ``kunb.exceptions`` and ``kunb.signing`` are imported.
"""

from __future__ import annotations

import ast
import pathlib

import kunb.sim

SIM_DIR = pathlib.Path(kunb.sim.__file__).parent
ALLOWED_KUNB = {"kunb.exceptions", "kunb.signing"}
LAYERS = ("core", "wire", "rest", "feed")
# What each layer may import from kunb.sim (besides itself); "top" is kunb.sim's own modules.
MAY_IMPORT = {
    "core": set(),
    "wire": {"core"},
    "rest": {"core", "wire"},
    "feed": {"core", "wire"},
    "top": {"core", "wire", "rest", "feed"},
}
IO_LIBS = {
    "asyncio",
    "websockets",
    "uvicorn",
    "starlette",
    "httpx",
    "socket",
    "selectors",
    "threading",
    "concurrent",
    "subprocess",
    "os",
    "time",
    "json",
    "orjson",
}
CLOCK_CALLS = {
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "now",
    "utcnow",
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SIM_DIR.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SIM_DIR.rglob("*.py"))}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[2] in LAYERS else "top"


def _is_package(module: str) -> bool:
    return MODULES.get(module, pathlib.Path()).name == "__init__.py"


def _imports(module: str) -> list[tuple[ast.stmt, str]]:
    """Every ``(statement, imported module)`` of one module; ``from pkg import mod`` counts as ``pkg.mod``."""
    tree = ast.parse(MODULES[module].read_text())
    out: list[tuple[ast.stmt, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if _is_package(module) else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((node, sub if sub in MODULES else base))
    return out


def test_the_scan_sees_every_layer() -> None:
    """The scan is not vacuous: it finds modules in every layer and kunb.sim imports among them."""
    layers = {_layer(m) for m in MODULES}
    assert layers == {*LAYERS, "top"}
    assert sum(1 for m in MODULES for _, n in _imports(m) if n.startswith("kunb.sim.")) > 50


def test_sim_imports_no_client_module() -> None:
    """Every kunb import inside kunb/sim is kunb.sim.*, kunb.exceptions or kunb.signing."""
    bad = {
        m: sorted(n for _, n in _imports(m) if n.split(".")[0] == "kunb" and _outside_sim(n)) for m in MODULES
    }
    assert {m: names for m, names in bad.items() if names} == {}


def _outside_sim(name: str) -> bool:
    return name != "kunb.sim" and not name.startswith("kunb.sim.") and name not in ALLOWED_KUNB


def test_layers_import_downward_only() -> None:
    """core -> nothing; wire -> core; rest, feed -> core, wire; only the top composes."""
    wrong = []
    for module in MODULES:
        layer = _layer(module)
        for _, name in _imports(module):
            if name == "kunb.sim" or not name.startswith("kunb.sim."):
                if name == "kunb.sim" and layer != "top":
                    wrong.append(f"{module} imports kunb.sim (the top)")
                continue
            target = _layer(name)
            if target != layer and target not in MAY_IMPORT[layer]:
                wrong.append(f"{module} ({layer}) imports {name} ({target})")
    assert wrong == []


def test_import_graph_has_no_cycle() -> None:
    graph = {m: {n for _, n in _imports(m) if n in MODULES and n != m} for m in MODULES}
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in MODULES:
        visit(module)


def test_every_import_is_at_module_level() -> None:
    """No lazy imports (inside functions) and no ``if TYPE_CHECKING:`` imports: nothing dodges a cycle."""
    nested = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                nested.append(f"{module}:{node.lineno}")
    assert nested == []


def test_pure_core_does_no_io_and_reads_no_clock() -> None:
    """The core imports no I/O, clock or JSON library and calls nothing named like a clock."""
    core = [m for m in MODULES if _layer(m) == "core"]
    assert len(core) >= 8
    for module in core:
        imported = {name.split(".")[0] for _, name in _imports(module)}
        assert imported.isdisjoint(IO_LIBS), (module, imported & IO_LIBS)
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_CALLS, f"{module}:{node.lineno} calls .{node.func.attr}()"
