"""The account panel's Feed: a :class:`kunb.Account` (re-seeded from REST after every outage), its state
mapped to the badge and its pushes passed on."""

from __future__ import annotations

import asyncio
from typing import Any

from ..exceptions import AuthenticationError, ConfigurationError, RequestTimeout, TransportError
from ..signing import Credentials
from .source import HealthSink, MessageSink
from .status import Health

__all__ = ["AccountFeed"]


class AccountFeed:
    """Runs one :class:`kunb.Account` per start; ``.account`` is the running one (``None`` when stopped).

    kunb.Account subscribes first and seeds from REST second, and seeds again after every reconnect
    because KuCoin does not replay private pushes (kucoin-protocol.md 2.3), so the panel never shows a
    balance an outage made stale. A first connection that cannot be made is retried here with backoff
    (the badge says ``unreachable``); refused credentials end the feed with their error.
    """

    def __init__(
        self, url: str, credentials: Credentials, *, simulated: bool = False, backoff_cap: float = 10.0
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.simulated = simulated
        self.backoff_cap = backoff_cap
        self.account: Any = None

    async def run(self, topics: list[str], on_message: MessageSink, on_health: HealthSink) -> None:
        from ..account import Account, AccountState

        health = {
            AccountState.NEW: Health.CONNECTING,
            AccountState.STARTING: Health.CONNECTING,
            AccountState.LIVE: Health.LIVE,
            AccountState.RESYNCING: Health.RESYNCING,
        }
        delay = 0.5
        while True:
            account = Account(self.credentials, url=self.url, backoff_cap=self.backoff_cap)
            account.add_listener(lambda message, _result: on_message(message))
            self.account = account
            try:
                try:
                    await account.astart()
                except (AuthenticationError, ConfigurationError):
                    raise  # retrying cannot help
                except (TransportError, RequestTimeout, OSError) as exc:
                    on_health(Health.UNREACHABLE, str(exc))
                    await asyncio.sleep(delay)  # backoff between connection attempts
                    delay = min(2 * delay, self.backoff_cap)
                    continue
                while True:
                    state = account.state
                    if state is AccountState.CLOSED:
                        raise account.error or TransportError("the account's connection closed")
                    on_health(
                        health[state],
                        "re-seeding balances from REST" if state is AccountState.RESYNCING else "",
                    )
                    await account.wait_for(lambda a, seen=state: a.state is not seen, timeout=None)
            finally:
                self.account = None
                await account.aclose()
