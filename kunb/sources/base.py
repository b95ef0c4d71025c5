"""What a driver needs from a source of data, whichever protocol (or recording) it comes from.

A *source* connects, subscribes what a driver asks for in protocol-neutral terms
(:class:`MarketChannels`), hands every data frame to the driver's callback together with the
:attr:`~MarketSource.decoder` that turns it into :mod:`kunb.events`, gets book snapshots when a book asks
for one, and reports the state of its links (:class:`LinkChange`). Drivers (:class:`kunb.Stream`,
:class:`kunb.Account`) know nothing else about the protocol. The per-frame path goes straight from the
connection to the driver's callback: a source sets things up and is not on the hot path.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..events import AccountBalance, BookSnapshot, Event, OrderState, Stats, SymbolInfo
from ..net.wire import WireTap

__all__ = [
    "AccountSource",
    "Decoder",
    "FrameCallback",
    "LinkCallback",
    "LinkChange",
    "LinkStatus",
    "MarketChannels",
    "MarketSource",
    "Tapped",
]

FrameCallback = Callable[[Mapping[str, Any]], Any]


class Decoder(Protocol):
    """Turns one data frame into events (see :mod:`kunb.protocol`)."""

    def decode(self, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]: ...


class LinkStatus(enum.Enum):
    """What a source's links are doing (what a status badge says about where the data comes from)."""

    CONNECTING = "connecting"  #: first dial in progress
    LIVE = "live"  #: connected and subscribed: data flows
    DOWN = "down"  #: a live link was lost: pushes were lost with it; reconnecting
    UNREACHABLE = "unreachable"  #: dials fail before the exchange answered (network, DNS, refused...)
    RESTORED = "restored"  #: subscribed again after a drop (lost pushes must be made good: resync, re-seed)
    OVERFLOW = "overflow"  #: the consumer fell behind: the oldest frames were dropped
    SILENT = "silent"  #: a subscription that promises data sent none since its ack (``detail``: the topic)
    CLOSED = "closed"  #: closed for good; ``error`` says why when it was not asked for


@dataclass(frozen=True, slots=True)
class LinkChange:
    """One change of a link: which connection, the symbols whose data it carries, why."""

    status: LinkStatus
    connection: str
    symbols: tuple[str, ...] = ()  #: empty: every symbol of the source (or none in particular)
    detail: str = ""
    error: BaseException | None = None


LinkCallback = Callable[[LinkChange], None]


@dataclass(frozen=True, slots=True)
class MarketChannels:
    """The market data a driver wants, in protocol-neutral terms."""

    symbols: tuple[str, ...]
    book: bool = True  #: level-2 deltas (and snapshots) for a synchronised order book
    ticker: bool = True
    trades: bool = True
    stats: bool = False  #: 24-hour statistics (classic only)
    candles: str | None = None  #: a candle interval (``1min``...) or ``None``
    extra: tuple[str, ...] = ()  #: protocol topics subscribed as they are (frames reach frame listeners)


class MarketSource(Protocol):
    """A source of market data for :class:`kunb.Stream`."""

    protocol: str  #: ``classic``, ``uta`` or ``replay``
    url: str  #: where the data comes from (the REST base URL, or the socket's host)
    worked_around: BaseException | None
    """The latest error the source worked around rather than raised (a refused full book answered with a
    shallower one...); the driver reports it and sets it back to ``None``."""

    # A read-only property, not an attribute: an attribute of a protocol is invariant, so a source
    # whose decoder is a ClassicDecoder would not match it.
    @property
    def decoder(self) -> Decoder:
        """Turns the source's data frames into events."""
        ...

    def topics(self, channels: MarketChannels) -> list[str]:
        """The protocol's names for ``channels`` (shown to users, e.g. in errors and reprs)."""
        ...

    async def open(
        self,
        channels: MarketChannels,
        on_frame: FrameCallback,
        on_link: LinkCallback,
        *,
        within: float | None,
    ) -> None:
        """Connect and subscribe; frames then go to ``on_frame`` and link changes to ``on_link``.

        Waits at most ``within`` seconds for the subscription (``None``: until it succeeds, while the
        links keep redialing and report why they fail). Raises what made it fail.
        """
        ...

    async def stats(self, symbol: str) -> Stats | None:
        """24 h statistics of ``symbol`` now (REST), to show before the first push; ``None``: not offered."""
        ...

    async def snapshot(self, symbol: str) -> BookSnapshot | None:
        """A fresh book snapshot of ``symbol``; ``None`` when it will arrive as an event instead (a socket
        snapshot after a resubscribe). Raises a :mod:`kunb.exceptions` error when it cannot be had."""
        ...

    async def symbols(self, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
        """What the exchange's symbol list says about ``symbols``: a :class:`~kunb.events.SymbolInfo` per
        listed symbol, ``None`` for one it does not list; symbols left out are not known (a recording
        that kept no list returns ``{}``). Raises a :mod:`kunb.exceptions` error when it cannot ask."""
        ...

    def connection_detail(self) -> Any:
        """The underlying client (state and counters), for display; ``None`` when not connected."""
        ...

    async def close(self) -> None:
        """Close every connection and client. Idempotent."""
        ...


class AccountSource(Protocol):
    """A source of one account's private data for :class:`kunb.Account`."""

    protocol: str
    url: str

    @property
    def decoder(self) -> Decoder:
        """Turns the source's private frames into events."""
        ...

    async def open(self, on_frame: FrameCallback, on_link: LinkCallback, *, within: float | None) -> None:
        """Connect privately and subscribe to balances and orders."""
        ...

    async def balances(self) -> Sequence[AccountBalance]:
        """Every balance now (REST)."""
        ...

    async def orders(self, *, active: bool, since_ms: int | None = None) -> Sequence[OrderState]:
        """Open orders (``active``), or orders finished since ``since_ms`` (REST)."""
        ...

    async def order(self, order_id: str) -> OrderState | None:
        """One order (REST); ``None`` when the exchange does not know it (any more)."""
        ...

    def connection_detail(self) -> Any: ...

    async def close(self) -> None: ...


@runtime_checkable
class Tapped(Protocol):
    """A source whose connections and REST clients report to a wire tap (the live protocols: a driver
    that records sets :attr:`wire` to its :class:`kunb.record.RawLog` before opening the source)."""

    wire: WireTap | None
