"""Pins kunb's public namespace: sorted, unique, every name importable, and ``import kunb`` stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import kunb


def test_all_is_sorted_and_unique() -> None:
    assert kunb.__all__ == sorted(set(kunb.__all__))


def test_every_public_name_resolves() -> None:
    for name in kunb.__all__:
        assert getattr(kunb, name) is not None, name
    assert set(dir(kunb)) == set(kunb.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        kunb.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("kunb.NoSuchThing resolved")


def test_import_is_lazy() -> None:
    # A fresh interpreter: the test session has already imported the heavy modules.
    code = (
        "import sys, kunb; heavy = ('pandas', 'ipywidgets', 'plotly', 'httpx', 'websockets', 'numpy');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["kunb", "kunb.record"])
def test_type_checkers_see_every_public_name(package: str) -> None:
    """Names load lazily, so type checkers learn them from the ``if TYPE_CHECKING:`` imports; under
    ``no_implicit_reexport`` (mypy --strict) only an ``import X as X`` exports X to user code."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    reexported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name
    }
    defined = {  # a function or class of the package itself (kunb.record.open_recording) is seen as it is
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    assert sorted(set(module.__all__) - reexported - defined) == []
