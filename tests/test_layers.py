"""The import graph of kunb is a DAG that points one way: every module imports only lower layers (or its
own sub-package, without cycles), pure layers import no I/O library, and the embedded exchange shares
nothing with the client but exceptions and signing. An AST scan, so it sees imports in functions and in
``TYPE_CHECKING`` blocks too (an upward import there is still an upward dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kunb"

# Lower layers first. A module may import modules of a lower rank, and modules of its own group (the
# same sub-package or file) as long as that makes no cycle.
RANKS: dict[str, int] = {
    "kunb.exceptions": 0,
    "kunb.version": 0,
    "kunb.events": 1,
    "kunb.signing": 1,
    "kunb.runtime": 1,
    "kunb.protocol": 2,
    "kunb.model": 2,
    "kunb.net": 3,
    "kunb.record": 3,
    "kunb.sources": 4,
    "kunb.stream": 5,
    "kunb.account": 5,
    "kunb.klines": 5,
    "kunb.compat": 6,
    "kunb.playback": 6,  # kunb.replay(): a Stream over a ReplaySource
    "kunb.client": 7,
    "kunb.ws_client": 7,
    "kunb.notebook": 8,
    "kunb.cli": 9,
    "kunb.record_cli": 9,  # `kunb record`: composes the drivers and a recording
    "kunb.demo": 9,
    "kunb": 9,  # the package root: lazy re-exports of everything public
}
# Pure: no sockets, no event loop, no HTTP (the clock is an argument; see their module docstrings).
PURE = ("kunb.events", "kunb.protocol", "kunb.model")
IO_LIBRARIES = {"asyncio", "socket", "websockets", "httpx", "uvicorn", "starlette", "ssl", "threading"}
# Applications at the top compose everything, the embedded exchange included.
APPS = {"kunb.cli", "kunb.demo"}
# What the embedded exchange may take from the client side (it must not share client code).
SIM_ALLOWED = {"kunb.exceptions", "kunb.signing"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module imported by ``path`` (absolute names; relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from . import x`` / ``from .pkg import mod``: x may itself be a module
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
    return found


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def group(module: str) -> str:
    """The rank key of a module: the longest prefix in RANKS."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in RANKS:
            return prefix
    raise AssertionError(f"{module} has no layer in tests/test_layers.py: give it one")


def graph() -> dict[str, set[str]]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        out[module_name(path)] = {m for m in imports(path) if m == "kunb" or m.startswith("kunb.")}
    return out


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in edges.items():
        if module.startswith("kunb.sim"):
            continue
        for target in targets:
            if target.startswith("kunb.sim"):
                if group(module) not in APPS:
                    wrong.append(f"{module} imports the embedded exchange {target}")
                continue
            if module == "kunb" or target == "kunb":
                continue  # the root re-exports lazily; a module may read kunb.__version__ through it
            mine, theirs = group(module), group(target)
            if RANKS[theirs] > RANKS[mine] or (RANKS[theirs] == RANKS[mine] and mine != theirs):
                wrong.append(f"{module} ({mine}, rank {RANKS[mine]}) imports {target} (rank {RANKS[theirs]})")
    return wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt == "kunb" or nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_imports_point_one_way() -> None:
    """No module imports a higher layer (or a sibling layer of the same rank)."""
    assert upward_imports(graph()) == []


def test_no_import_cycles() -> None:
    """The module graph, sim included, has no cycle: nothing needs a lazy import to load."""
    assert cycles(graph()) == []


def test_pure_layers_import_no_io_library() -> None:
    """Events, protocol sessions/decoders and the model do no I/O: they import no socket or loop library."""
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        if name.startswith(PURE):
            used = {m.split(".")[0] for m in imports(path)} & IO_LIBRARIES
            assert not used, f"{name} imports {sorted(used)}"


def test_the_embedded_exchange_shares_only_exceptions_and_signing() -> None:
    for module, targets in graph().items():
        if module.startswith("kunb.sim"):
            client = {t for t in targets if not t.startswith("kunb.sim") and t != "kunb"}
            assert client <= SIM_ALLOWED, f"{module} imports {sorted(client - SIM_ALLOWED)}"


def test_the_check_catches_an_upward_import() -> None:
    """The rules above are live: an upward import, a sibling import and a cycle are each reported."""
    edges = graph()
    edges["kunb.model.book"] = {*edges["kunb.model.book"], "kunb.stream"}
    edges["kunb.stream"] = {*edges["kunb.stream"], "kunb.account"}
    wrong = upward_imports(edges)
    assert any("kunb.model.book" in w and "kunb.stream" in w for w in wrong)
    assert any(w.startswith("kunb.stream") and "kunb.account" in w for w in wrong)
    assert cycles(edges), "kunb.model.book -> kunb.stream -> ... -> kunb.model.book is a cycle"


@pytest.mark.parametrize("module", ["kunb.stream", "kunb.notebook.live", "kunb.net.connection"])
def test_every_module_has_a_layer(module: str) -> None:
    assert group(module) in RANKS


def _imports_kunb(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or (node.module or "").startswith("kunb")
    return isinstance(node, ast.Import) and any(alias.name.startswith("kunb") for alias in node.names)


def lazy_imports(path: Path) -> list[int]:
    """Lines where a function imports a kunb module (an import hidden from the module graph at load time)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [inner.lineno for inner in ast.walk(node) if _imports_kunb(inner)]
    return found


def test_no_lazy_imports_of_kunb_modules() -> None:
    """No function imports a kunb module to dodge a cycle: every dependency is visible at the top of its
    module (the package root's PEP 562 re-exports and the CLI's command table use importlib on purpose)."""
    lazy = {module_name(path): lines for path in sorted(ROOT.rglob("*.py")) if (lines := lazy_imports(path))}
    assert lazy == {}
