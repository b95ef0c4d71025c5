"""binder/ builds what kunb needs; the committed notebooks are clean (no outputs, no widget state)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", s.strip(), maxsplit=1)[0].lower() for s in specs}


def test_binder_python_satisfies_requires_python():
    """runtime.txt names a Python at least as new as pyproject's requires-python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = tuple(int(x) for x in re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"]).groups())
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-\d+\.\d+", runtime)
    assert tuple(int(x) for x in runtime.removeprefix("python-").split(".")) >= minimum


def test_binder_requirements_cover_the_runtime_dependencies():
    """Every runtime dependency (and the nested extra the seed notebooks use) is in requirements.txt."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [x for x in (BINDER / "requirements.txt").read_text().splitlines() if x.strip() and x[0] != "#"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["nested"])
    assert _names(lines) == wanted


def test_postbuild_installs_kunb_from_the_repository_and_fails_loudly():
    """postBuild is an executable bash script with set -e that pip-installs the repository root."""
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash") and "set -e" in text
    assert re.search(r'pip install [^\n]*"\.\[nested\]"', text)
    assert os.access(post, os.X_OK)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_are_clean(path):
    """Notebooks are committed without outputs, execution counts or widget state (5 MB per figure)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    sources = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "live KuCoin" in sources  # each says how to switch to the real exchange


def test_quickstart_is_what_binder_opens():
    """The launch link's notebook exists."""
    assert (ROOT / "notebooks" / "01-quickstart.ipynb").is_file()
    assert "01-quickstart.ipynb" in (BINDER / "README.md").read_text()
