"""What the REST handlers need of the exchange: one narrow interface, so no handler reaches the whole of it.

The composition (:class:`kunb.sim.exchange.Exchange`) hands an object satisfying :class:`RestBackend`
to :func:`kunb.sim.rest.app.build_app`; handlers get it with :func:`backend`. Everything they read or
change goes through these members: the markets (public data), the accounts and trading (signed
endpoints), the clock, bullets, the admin fault switch, and :meth:`RestBackend.after_trade`, which
delivers a trading call's private events and publishes its public side at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from starlette.requests import Request

from kunb.sim.core.accounts import Accounts
from kunb.sim.core.events import PrivateEvent
from kunb.sim.core.market import Market
from kunb.sim.core.trading import Trading

__all__ = ["RestBackend", "backend"]


class RestBackend(Protocol):
    """The exchange as the REST handlers see it."""

    @property
    def markets(self) -> Mapping[str, Market]:
        """Every symbol's market (book, tape, spec), by symbol."""
        ...

    @property
    def accounts(self) -> Accounts:
        """Users (API keys) and their ledger."""
        ...

    @property
    def trading(self) -> Trading:
        """User orders and fills."""
        ...

    def now_ns(self) -> int:
        """The exchange clock."""
        ...

    def bullet(self, *, private: bool, user_id: str | None = None) -> dict[str, Any]:
        """``data`` of a bullet answer with a fresh token (private ones bound to ``user_id``)."""
        ...

    def bullet_failure(self) -> int:
        """The HTTP status the next bullet request must fail with (fault injection), or 0."""
        ...

    def apply_fault(self, name: str, kwargs: dict[str, Any]) -> Any:
        """Inject a fault by name (the admin route); raises ConfigurationError for bad ones."""
        ...

    def after_trade(self, events: Sequence[PrivateEvent]) -> None:
        """Deliver a trading call's private events, then publish the public side of what it changed."""
        ...


def backend(request: Request) -> RestBackend:
    """The backend of the app serving ``request``."""
    return cast(RestBackend, request.app.state.backend)
