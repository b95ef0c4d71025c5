"""Browser-test fixtures: JupyterLab and headless Chromium, torn down with every process they started."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from labserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN_MARKER,
    JupyterServer,
    marked_processes,
    reap,
    start_jupyter,
)

_GONE_WITHIN = 15.0  # seconds for Chromium's helpers and kernels to exit after their parents closed


@pytest.fixture(scope="module")
def run_id() -> Iterator[str]:
    """The module's process marker; its teardown fails if any process started here is still alive.

    Checked two ways: children of pytest that were not there before, and every process on the machine
    carrying ``RUN_MARKER=<run_id>`` (re-parented kernels and Chromium's crashpad handlers included).
    """
    value = uuid.uuid4().hex
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield value
    deadline = time.monotonic() + _GONE_WITHIN
    while True:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        left += [p for p in marked_processes(value) if p.pid not in {q.pid for q in left}]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # poll interval while the last helpers exit (bounded by the deadline)
    described = [(p.pid, p.name()) for p in left if p.is_running()]
    reap(left, timeout=1)
    assert not described, f"processes left behind: {described}"


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    pytest.importorskip("playwright.sync_api", reason="the test extra's playwright package is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def jupyter_server(run_id: str, chromium_path: Path, tmp_path_factory) -> Iterator[JupyterServer]:
    """JupyterLab on 127.0.0.1 with a token over temp copies of the notebooks; stops with its kernels."""
    with start_jupyter(tmp_path_factory.mktemp("jupyter"), run_id) as server:
        yield server


@pytest.fixture(scope="module")
def notebook7_server(run_id: str, chromium_path: Path, tmp_path_factory) -> Iterator[JupyterServer]:
    """A second server for Notebook 7: jupyter_server caches static files by name across apps, so after
    JupyterLab served a font, Notebook 7's same-named font gets 403 "not in root static directory"
    (jupyter_server FileFindHandler._static_paths): an upstream glitch, not kunb's."""
    with start_jupyter(tmp_path_factory.mktemp("notebook7"), run_id) as server:
        yield server


@pytest.fixture(scope="module")
def browser(run_id: str, chromium_path: Path) -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never downloads a browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, RUN_MARKER: run_id},
        )
        try:
            yield chromium
        finally:
            chromium.close()
