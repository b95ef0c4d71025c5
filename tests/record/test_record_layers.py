"""kunb.record imports only what is below it (events, exceptions, signing, the classic decoder for the
importer) and its public names resolve; a recorder alone does not load DuckDB or pandas."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import kunb.record

PACKAGE = Path(kunb.record.__file__).parent
ALLOWED = {
    "kunb.events",
    "kunb.exceptions",
    "kunb.signing",
    "kunb.protocol.classic",  # derive: the classic ticker push gains its symbol, as the connection does
    "kunb.protocol.classic_decoder",
    "kunb.protocol.uta",  # derive: the depth of a UTA REST snapshot
    "kunb.protocol.uta_decoder",  # derive: a writer process decodes UTA frames too
}


def _kunb_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 2:  # from ..x import y
                found.add(f"kunb.{node.module}")
            elif node.level == 0 and node.module and node.module.startswith("kunb"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kunb")}
    return found


def test_record_imports_point_down_only() -> None:
    for path in PACKAGE.glob("*.py"):
        outside = {m for m in _kunb_imports(path) if not m.startswith("kunb.record")}
        assert outside <= ALLOWED, (path.name, outside - ALLOWED)


def test_public_names_resolve() -> None:
    assert kunb.record.__all__ == sorted(set(kunb.record.__all__))
    for name in kunb.record.__all__:
        assert getattr(kunb.record, name) is not None, name


def test_a_recorder_does_not_load_duckdb_or_pandas() -> None:
    code = (
        "import sys; from kunb.record import Recorder;"
        "print(','.join(m for m in ('duckdb', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=PACKAGE.parents[1],
    )
    assert out.stdout.strip() == ""
