"""From a connection pool's lifecycle events to the drivers' :class:`~kunb.sources.base.LinkChange`, for
every protocol's source, and the subscribe-once-live loop they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import RequestTimeout
from ..net.connection import EventKind, LifecycleEvent
from ..net.pool import KucoinWsClient
from .base import LinkCallback, LinkChange, LinkStatus

__all__ = ["LinkWatch", "pool_options", "subscribe_when_live"]


class LinkWatch:
    """Maps a pool's lifecycle events onto link changes; remembers which connections were welcomed so a
    dial that never reached the exchange reads ``unreachable``, not ``down``."""

    def __init__(
        self,
        on_link: LinkCallback,
        symbols_of: Callable[[str], tuple[str, ...]],
        topic_symbols: Callable[[str], tuple[str, ...]] = lambda _topic: (),
    ) -> None:
        self._on_link = on_link
        self._topic_symbols = topic_symbols
        self._symbols_of = symbols_of
        self._welcomed: set[str] = set()
        self._dropped: set[str] = set()

    def __call__(self, event: LifecycleEvent) -> None:
        kind, name = event.kind, event.connection
        if kind is EventKind.WELCOME:
            self._welcomed.add(name)
        elif kind is EventKind.SUBSCRIBED:
            self._on_link(LinkChange(LinkStatus.LIVE, name))
        elif kind is EventKind.RESUBSCRIBED:
            status = LinkStatus.RESTORED if name in self._dropped else LinkStatus.LIVE
            self._dropped.discard(name)
            self._on_link(LinkChange(status, name, self._symbols_of(name), event.detail))
        elif kind is EventKind.DISCONNECTED:
            if name in self._welcomed:
                self._dropped.add(name)
                self._on_link(LinkChange(LinkStatus.DOWN, name, self._symbols_of(name), event.detail))
            else:
                status = LinkStatus.DOWN if name in self._dropped else LinkStatus.UNREACHABLE
                self._on_link(LinkChange(status, name, (), event.detail, event.error))
            self._welcomed.discard(name)
        elif kind is EventKind.QUEUE_OVERFLOW:
            self._on_link(LinkChange(LinkStatus.OVERFLOW, name, (), f"{event.count} frames dropped so far"))
        elif kind is EventKind.SILENT:
            self._on_link(
                LinkChange(LinkStatus.SILENT, name, self._topic_symbols(event.detail), event.detail)
            )
        elif kind is EventKind.CLOSED and event.error is not None:
            self._on_link(LinkChange(LinkStatus.CLOSED, name, (), event.detail, event.error))


def pool_options(ws_options: Mapping[str, Any], within: float | None) -> dict[str, Any]:
    """The pool's connection options for a driver that waits ``within`` seconds to open: with ``None``
    (live panels) a first connection that cannot be made keeps redialing and the link says why, rather
    than failing after the grace of :func:`kunb.net.backoff.gives_up`. An explicit option wins."""
    return {"unreachable_after": None, **ws_options} if within is None else dict(ws_options)


async def subscribe_when_live(pool: KucoinWsClient, topics: list[str], within: float | None) -> None:
    """Subscribe once the pool is live, waiting at most ``within`` seconds; with ``None`` keep waiting
    through failed dials (the pool redials with backoff and reports why; built with :func:`pool_options`)
    and through a link that flaps during the subscribe."""
    while True:
        await pool.wait_live(within)  # raises a fatal error (bad credentials...) that closed the pool
        try:
            await pool.subscribe(topics)
            return
        except RequestTimeout:
            if within is not None:
                raise
