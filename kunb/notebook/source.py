"""Where a live panel's data comes from by default: the exchange URL, its credentials, simulated or not."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..exceptions import ConfigurationError

# One resolver for every client: ``url``, else ``$KUNB_URL`` (which ``kunb.sim.start()`` sets), else KuCoin.
# Panels used to prefer an in-process simulator over ``$KUNB_URL``, so a panel and ``Market()`` could
# reach different exchanges; now both ask net.rest.
from ..net.rest import resolve_url
from ..signing import Credentials
from ..sources.base import AccountSource, MarketSource
from ..sources.uta import UtaAccountSource, UtaMarketSource

__all__ = [
    "PROTOCOLS",
    "account_source",
    "is_simulated",
    "market_source",
    "resolve_url",
    "session_credentials",
    "session_uta_urls",
]

PROTOCOLS = ("classic", "uta")
_PANEL_BACKOFF_CAP = 10.0  # a panel redials at least every 10 s (as its classic sources do)


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


def session_uta_urls(url: str) -> tuple[str | None, str | None]:
    """The UTA hosts (public, private) of the embedded exchange at ``url`` started in this process, if any
    (``None``: ``$KUNB_UTA_URL`` / ``$KUNB_UTA_PRIVATE_URL``, else KuCoin's)."""
    getter = getattr(sys.modules.get("kunb.sim"), "default_uta_urls", None)
    if callable(getter) and _session_sim_url() == url:
        urls = getter()
        if urls:
            public, private = urls
            return str(public), str(private)
    return None, None


def _check(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"protocol must be 'classic' or 'uta', not {protocol!r}")


def market_source(protocol: str, url: str) -> MarketSource | None:
    """A panel's market source for ``protocol`` (``None``: the panel's own classic source)."""
    _check(protocol)
    if protocol == "classic":
        return None
    return UtaMarketSource(url=url, ws_url=session_uta_urls(url)[0], backoff_cap=_PANEL_BACKOFF_CAP)


def account_source(protocol: str, credentials: Credentials, url: str) -> AccountSource | None:
    """A panel's account source for ``protocol`` (``None``: the panel's own classic source)."""
    _check(protocol)
    if protocol == "classic":
        return None
    return UtaAccountSource(
        credentials, url=url, ws_url=session_uta_urls(url)[1], backoff_cap=_PANEL_BACKOFF_CAP
    )
