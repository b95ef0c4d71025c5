"""KuCoin's SDK module path for the streaming client: ``from kunb.ws_client import KucoinWsClient``.

A thin facade over both styles of KuCoin's examples. ``await KucoinWsClient.create(loop, client, callback,
private=False, sock=None)`` is the async client of :mod:`kunb.net.pool`; calling ``KucoinWsClient(key,
secret, passphrase)`` directly, as KuCoin's older blocking examples do, returns the blocking facade of
:mod:`kunb.compat.blocking` (``_socket(topic, callback)`` from plain synchronous code). kunb's own drivers
import the async client from :mod:`kunb.net.pool`, never from here.
"""

from __future__ import annotations

from typing import Any

from .compat.blocking import BlockingWsClient
from .net.pool import KucoinWsClient as _PooledClient

__all__ = ["KucoinWsClient"]


class KucoinWsClient(_PooledClient):
    """KuCoin's streaming client, done right: build it with :meth:`create` (async), or call it directly
    for the blocking style (a :class:`~kunb.compat.blocking.BlockingWsClient`)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is KucoinWsClient:  # the seed's blocking style: KucoinWsClient(key, secret, passphrase)
            return BlockingWsClient(*args, **kwargs)
        return super().__new__(cls)
