"""Where a live object's data comes from: the exchange URL, whether it is simulated, and the Feed seam."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .status import Health

__all__ = [
    "KUCOIN_URL",
    "Feed",
    "HealthSink",
    "MessageSink",
    "is_simulated",
    "resolve_url",
    "session_credentials",
]

KUCOIN_URL = "https://api.kucoin.com"

MessageSink = Callable[[Mapping[str, Any]], None]
HealthSink = Callable[[Health, str], None]


class Feed(Protocol):
    """What a live object needs from the streaming client: topics in, payloads and health out.

    ``run`` subscribes ``topics``, calls ``on_message`` with every pushed message (the whole
    ``{"type": "message", "topic": ..., "data": ...}`` frame, kucoin-protocol.md 1.6) and ``on_health``
    whenever the connection's state changes; it reconnects by itself and returns only when cancelled
    (closing its sockets) or raises for a failure retrying cannot fix.
    """

    url: str
    simulated: bool

    async def run(self, topics: list[str], on_message: MessageSink, on_health: HealthSink) -> None: ...


def resolve_url(url: str | None = None) -> str:
    """The REST base URL to use: ``url``, else the embedded exchange started in this process by
    ``kunb.sim.start()`` (the session default), else ``$KUNB_URL``, else the real KuCoin."""
    if url:
        return url.rstrip("/")
    sim_url = _session_sim_url()
    if sim_url:
        return sim_url
    return (os.environ.get("KUNB_URL") or KUCOIN_URL).rstrip("/")


def _session_sim_url() -> str | None:
    sim = sys.modules.get("kunb.sim")  # only if the user started one; never import the simulator here
    getter = getattr(sim, "default_url", None)
    if callable(getter):
        value = getter()
        return str(value).rstrip("/") if value else None
    return None


def session_credentials(url: str) -> Any:
    """The demo user's credentials of the embedded exchange at ``url`` started in this process, if any."""
    getter = getattr(sys.modules.get("kunb.sim"), "default_credentials", None)
    if callable(getter) and _session_sim_url() == url:
        return getter()
    return None


def is_simulated(url: str) -> bool:
    """True when ``url`` is kunb's embedded exchange, so every panel labels its data "simulated".

    A simulator started in this process knows its URL; one started elsewhere (``kunb demo``, ``kunb sim``)
    is announced by ``KUNB_SIMULATED=1`` next to ``KUNB_URL``.
    """
    url = url.rstrip("/")
    sim = sys.modules.get("kunb.sim")
    urls = getattr(sim, "simulator_urls", None)
    if callable(urls) and url in {str(u).rstrip("/") for u in urls()}:
        return True
    env_url = os.environ.get("KUNB_URL", "").rstrip("/")
    if os.environ.get("KUNB_SIMULATED", "").lower() in ("1", "true", "yes") and url == env_url:
        return True
    return _session_sim_url() == url
