"""Test helper (not a test module): the suite's one timing unit, its bounded polls, environment helpers.

Every deadline in the suite goes through :func:`seconds`: ``KUNB_TEST_TIME_SCALE=3`` stretches them all on
a slow or busy machine (the test still fails, later, if the condition never holds).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

SCALE = float(os.environ.get("KUNB_TEST_TIME_SCALE", "1"))
TIMEOUT = 10.0


def seconds(value: float) -> float:
    """A deadline of ``value`` seconds in the suite's timing unit."""
    return value * SCALE


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT, *, what: str = "condition") -> None:  # noqa: ASYNC109
    """Poll a condition on the running loop until it holds, within a bounded deadline (never a sleep as
    synchronisation: the sleep only yields to the code under test between checks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds(timeout)
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {seconds(timeout):g} s")
        await asyncio.sleep(0.005)


def until_sync(predicate: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """The same from plain code (a thread-backed exchange or client): poll until ``predicate()`` returns
    something truthy, and return it."""
    deadline = time.monotonic() + seconds(timeout)
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling a condition across threads, not a guess at timing
    return value


def client_tasks(tasks) -> list:
    """Tasks that belong to the client side (kunb's own, or websockets' client connection)."""
    mine = ("kunb/net/connection.py", "kunb/net/pool.py", "websockets/asyncio/client.py")
    return [
        t
        for t in tasks
        if t.get_name().startswith("kunb-") or t.get_coro().cr_code.co_filename.endswith(mine)
    ]


def point_env_at(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``sim`` the exchange clients find through ``KUNB_URL``, with no KuCoin keys in the env."""
    monkeypatch.setenv("KUNB_URL", sim.url)
    for name in ("KUCOIN_API_KEY", "KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    return sim


def blocking_threads() -> list[str]:
    """Names of the threads kunb.blocking clients run."""
    return [t.name for t in threading.enumerate() if t.name.startswith("kunb-blocking")]
