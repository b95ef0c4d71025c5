"""Test helper (not a test module): bounded polling and environment helpers shared by test files."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

TIMEOUT = 10.0


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    """Poll a condition with a bounded deadline (no sleeps as synchronisation)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


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
