"""Shared test configuration.

Slow tests (``@pytest.mark.slow``) run when ``CI=true`` (as ``.ci/run`` is invoked) or with
``--runslow``; the default local run stays well under 10 minutes on 2 cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Helper modules (support, decoded, nbfakes, hostile, simclient, uta_frames...) are imported by name from
# test files in any folder: with --import-mode=importlib nothing puts their folders on sys.path for us.
_TESTS = Path(__file__).resolve().parent
for _folder in (
    _TESTS,
    *sorted(p for p in _TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))),
):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow") or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (CI=true runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
async def exchange():
    """A started ``kunb.sim.Exchange`` on loopback with fast settings (20 ms ticks, 1 s ping interval).

    Two symbols (BTC-USDT, ETH-USDT), seed 1; closed after the test.
    """
    from kunb.sim import Exchange

    async with Exchange(
        seed=1,
        symbols=["BTC-USDT", "ETH-USDT"],
        tick_ms=20,
        ping_interval_ms=1_000,
        ping_timeout_ms=1_000,
    ) as ex:
        yield ex
