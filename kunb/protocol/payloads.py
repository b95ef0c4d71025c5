"""Typed shapes of KuCoin payloads, as they are on the wire.

The seed specification's types (``WebSocketToken``, ``WebSocketMessage``, ``TickerData``,
``OrderBookData``, ``AccountBalanceData``, ``OrderUpdateData``) are ``TypedDict``\\ s, so code written
against plain dicts (as KuCoin's SDK hands them out) can be annotated without any conversion cost.
Field types follow ``classic-protocol.md#public-channels``: decimals are JSON strings, ``sequenceStart`` /
``sequenceEnd`` are numbers, matching-engine timestamps are nanoseconds.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "AccountBalanceData",
    "InstanceServer",
    "Level2ChangeData",
    "MatchData",
    "OrderBookData",
    "OrderUpdateData",
    "TickerData",
    "WebSocketMessage",
    "WebSocketToken",
]


class InstanceServer(TypedDict):
    """One entry of ``instanceServers`` in a bullet response."""

    endpoint: str
    encrypt: bool | None
    protocol: str
    pingInterval: int
    pingTimeout: int


class WebSocketToken(TypedDict):
    """``data`` of ``POST /api/v1/bullet-public|private``.

    The seed lists ``pingInterval``/``pingTimeout`` at top level; KuCoin puts them in each
    instance server, which is where kunb reads them.
    """

    token: str
    instanceServers: list[InstanceServer]


class WebSocketMessage(TypedDict, total=False):
    """Any frame on the feed: ``welcome``, ``pong``, ``ack``, ``error``, ``message``..."""

    id: str
    type: Literal["welcome", "ping", "pong", "ack", "error", "message", "notice", "command"]
    topic: str
    subject: str
    data: Any
    code: int
    userId: str
    channelType: str


class TickerData(TypedDict):
    """``data`` of a ``/market/ticker`` push; kunb adds ``symbol`` (from the topic or subject)."""

    symbol: NotRequired[str]
    sequence: str
    price: str
    size: str
    bestAsk: str
    bestAskSize: str
    bestBid: str
    bestBidSize: str
    time: int


class OrderBookData(TypedDict):
    """A level-2 book: a REST snapshot (``sequence``) or a depth push (``timestamp``)."""

    symbol: NotRequired[str]
    sequence: NotRequired[str]
    asks: list[list[str]]
    bids: list[list[str]]
    time: NotRequired[int]
    timestamp: NotRequired[int]


class Level2ChangeData(TypedDict):
    """``data`` of a ``/market/level2`` push (``classic-protocol.md#level-2-increments``)."""

    changes: dict[str, list[list[str]]]
    sequenceStart: int
    sequenceEnd: int
    symbol: str
    time: int


class MatchData(TypedDict):
    """``data`` of a ``/market/match`` push; ``side`` is the taker's, ``time`` ns as a string."""

    makerOrderId: str
    price: str
    sequence: str
    side: Literal["buy", "sell"]
    size: str
    symbol: str
    takerOrderId: str
    time: str
    tradeId: str
    type: str


class AccountBalanceData(TypedDict):
    """``data`` of an ``/account/balance`` push. ``time`` is a string of ms on the wire; ``hold``
    (not ``holds`` as in the REST accounts list and the seed)."""

    accountId: str
    currency: str
    total: str
    available: str
    hold: str
    availableChange: NotRequired[str]
    holdChange: NotRequired[str]
    relationEvent: str
    relationEventId: str
    relationContext: NotRequired[dict[str, str]]
    time: str


class OrderUpdateData(TypedDict):
    """``data`` of a ``/spotMarket/tradeOrders`` (or ``...V2``) push."""

    symbol: str
    orderType: Literal["limit", "market"]
    side: Literal["buy", "sell"]
    orderId: str
    type: Literal["received", "open", "match", "update", "filled", "canceled"]
    orderTime: int
    size: NotRequired[str]
    originSize: NotRequired[str]
    filledSize: NotRequired[str]
    price: NotRequired[str]
    clientOid: str
    remainSize: NotRequired[str]
    canceledSize: NotRequired[str]
    status: Literal["new", "open", "match", "done"]
    ts: int
    matchPrice: NotRequired[str]
    matchSize: NotRequired[str]
    tradeId: NotRequired[str]
    liquidity: NotRequired[Literal["taker", "maker"]]
    feeType: NotRequired[str]
    oldSize: NotRequired[str]
