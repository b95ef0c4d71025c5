"""The Feed every live panel uses by default: kunb's WebSocket client, its lifecycle mapped to Health."""

from __future__ import annotations

import asyncio
from typing import Any

from ..exceptions import RequestTimeout
from ..net.connection import EventKind, LifecycleEvent
from ..net.pool import KucoinWsClient
from ..signing import Credentials
from .source import HealthSink, MessageSink
from .status import Health

__all__ = ["ClientFeed"]


class ClientFeed:
    """Streams topics from ``url`` through :class:`kunb.ws_client.KucoinWsClient` (the client scripts and
    :class:`kunb.Stream` use: sharding, one dispatch path).

    Reconnecting, backoff, fresh tokens and resubscribing are the client's job; this class only
    translates its lifecycle events into what the badge says, so the badge tells the truth:
    ``unreachable`` while no dial has reached the exchange's welcome, ``reconnecting`` after a live link
    dropped, ``live`` once the topics are (re)subscribed.

    Args:
        url: the exchange's REST base URL (the bullet names the feed's URL, kucoin-protocol.md 5).
        simulated: label the data as simulated.
        credentials: for private topics (``/account/balance``, ``/spotMarket/tradeOrders``).
        backoff_cap: longest wait between dials, seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        simulated: bool = False,
        credentials: Credentials | None = None,
        backoff_cap: float = 10.0,
    ) -> None:
        self.url = url
        self.simulated = simulated
        self.credentials = credentials
        self.private = credentials is not None
        self.backoff_cap = backoff_cap
        self.connection: KucoinWsClient | None = None

    def _client(self) -> Any:
        from ..net.rest import Market, User

        if self.credentials is not None:
            return User(url=self.url, credentials=self.credentials)
        return Market(url=self.url)

    async def run(self, topics: list[str], on_message: MessageSink, on_health: HealthSink) -> None:
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()
        welcomed: set[str] = set()  # connections welcomed since their last dial

        def on_event(event: LifecycleEvent) -> None:
            kind = event.kind
            if kind is EventKind.WELCOME:
                welcomed.add(event.connection)
            elif kind in (EventKind.SUBSCRIBED, EventKind.RESUBSCRIBED):
                on_health(Health.LIVE, "")
            elif kind is EventKind.DISCONNECTED:
                if event.connection in welcomed:
                    on_health(Health.RECONNECTING, event.detail)
                else:
                    on_health(Health.UNREACHABLE, event.detail)
                welcomed.discard(event.connection)
            elif kind is EventKind.QUEUE_OVERFLOW:
                on_health(Health.LIVE, "falling behind: oldest messages dropped")
            elif kind is EventKind.CLOSED and event.error is not None and not closed.done():
                closed.set_exception(event.error)  # a fatal end (bad credentials...): retrying cannot help

        client = self._client()
        ws = await KucoinWsClient.create(
            None, client, on_message, private=self.private, on_event=on_event, backoff_cap=self.backoff_cap
        )
        self.connection = ws
        try:
            while True:
                await ws.wait_live()  # re-raises a fatal error (bad credentials...) that ended the link
                try:
                    await ws.subscribe(topics)
                    break
                except RequestTimeout:
                    continue  # the link flapped during the subscribe; wait for it again
            await closed
        finally:
            self.connection = None
            try:
                await ws.close()  # re-raises our own cancellation once the links are closed
            finally:
                await client.aclose()  # the REST keep-alive socket the token came through

    def counters(self) -> dict[str, int] | None:
        """The connection's counters (messages, reconnects, drops...), or None when not connected."""
        ws = self.connection
        if ws is None:
            return None
        c = ws.counters
        return {"messages": c.messages, "reconnects": c.reconnects, "drops": c.drops}
