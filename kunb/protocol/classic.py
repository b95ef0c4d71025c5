"""Sans-I/O KuCoin WebSocket session: frames in -> events out; intents -> text out; time is an argument.

Nothing here touches a socket or reads the clock, so every rule of ``classic-protocol.md#connection``
(welcome, ping/pong, id-correlated ack/error, topic limits, uplink rate) is tested with plain lists.
:mod:`kunb.websocket` drives one :class:`Session` per connection.

Topics are handled as *units*: one symbol of one channel (``/market/ticker:BTC-USDT``), the arg-less
form of a private channel (``/account/balance``) or the ``:all`` form (``/market/ticker:all``). KuCoin
counts units against its per-connection limit and pushes per unit (section 1.6), so a user topic
``/market/ticker:BTC-USDT,ETH-USDT`` is two units, and requests re-join units into topics of at most
100 arguments (section 1.8).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import orjson

from ..exceptions import ConfigurationError, ProtocolError

__all__ = [
    "MAX_TOPICS_PER_CONNECTION",
    "MAX_TOPICS_PER_REQUEST",
    "TICKER_ALL",
    "UPLINK_LIMIT",
    "UPLINK_PERIOD",
    "Ack",
    "ConnectionErrorFrame",
    "Event",
    "Message",
    "Notice",
    "Pending",
    "Pong",
    "RequestError",
    "RequestKind",
    "Session",
    "UplinkLimiter",
    "Welcome",
    "add_ticker_symbol",
    "decode",
    "encode",
    "expand_topic",
    "is_private_topic",
    "join_units",
    "ticker_symbol",
    "ticker_symbols",
    "topic_key",
]

MAX_TOPICS_PER_REQUEST = 100  # classic-protocol.md#topics-and-limits: topics (symbols) per subscribe request
# classic-protocol.md#topics-and-limits: spot topics per connection (current docs)
MAX_TOPICS_PER_CONNECTION = 400
UPLINK_LIMIT = 100  # classic-protocol.md#topics-and-limits: client->server messages (pings included) ...
UPLINK_PERIOD = 10.0  # ... per 10 seconds

# Channels whose topic takes several comma-separated symbols (classic-protocol.md#public-channels). Others
# (candles,
# snapshot, private channels) are sent one unit per request: joining them is not documented.
_JOINABLE = frozenset(
    {
        "/market/ticker",
        "/market/level2",
        "/market/match",
        "/spotMarket/level1",
        "/spotMarket/level2Depth5",
        "/spotMarket/level2Depth50",
    }
)
# Prefixes that need a private token
# (classic-protocol.md#private-channels); they get ``privateChannel: true``.
_PRIVATE_PREFIXES = ("/account/", "/spotMarket/tradeOrders", "/spotMarket/advancedOrders", "/margin/")

_loads = orjson.loads
_dumps = orjson.dumps


def decode(raw: bytes | str) -> dict[str, Any]:
    """One frame's JSON object (orjson, decoded once).

    Raises:
        ProtocolError: the frame is not JSON or not a JSON object.
    """
    try:
        frame = _loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON ({len(raw)} bytes)") from exc
    if type(frame) is not dict:
        raise ProtocolError(f"frame is a JSON {type(frame).__name__}, not an object")
    return frame


def encode(message: dict[str, Any]) -> str:
    """Compact JSON text for one outgoing frame."""
    return _dumps(message).decode()


def _split(topic: object) -> tuple[str, list[str]]:  # checked here: callers may pass anything
    if not isinstance(topic, str):
        raise ConfigurationError(
            f"a KuCoin topic is a string such as '/market/ticker:BTC-USDT', not {topic!r}"
        )
    topic = topic.strip()
    if not topic.startswith("/"):
        example = f"'/market/ticker:{topic}'" if topic and ":" not in topic else "'/market/ticker:BTC-USDT'"
        raise ConfigurationError(f"a KuCoin topic starts with '/', such as {example}; got {topic!r}")
    prefix, sep, rest = topic.partition(":")
    prefix = prefix.strip()
    if not sep:
        return prefix, []
    # classic-protocol.md#subscribe-and-ack: trim whitespace around args
    # (cryptofeed sends "level2: BTC-USDT").
    args = [a.strip() for a in rest.split(",")]
    if any(not a for a in args):
        raise ConfigurationError(f"empty argument in topic {topic!r}")
    return prefix, args


def expand_topic(topic: str) -> list[str]:
    """The units of a topic, in order, without duplicates.

    ``"/market/ticker:BTC-USDT, ETH-USDT"`` -> ``["/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT"]``;
    ``"/account/balance"`` -> ``["/account/balance"]``; ``"/market/ticker:all"`` stays as is.

    Raises:
        ConfigurationError: not a topic (not a string, no leading ``/``, an empty argument); a ValueError.
    """
    prefix, args = _split(topic)
    if not args:
        return [prefix]
    return list(dict.fromkeys(f"{prefix}:{a}" for a in args))


def topic_key(topic: str) -> str:
    """Stable identity of a topic: ``prefix:sorted,args`` (``:all`` kept as is, arg-less = prefix).

    Two spellings of the same subscription (order, spaces, duplicates) get the same key.
    """
    prefix, args = _split(topic)
    if not args:
        return prefix
    # universal-sdk#25: ":all" must not be treated as a symbol list (it produced "ticker:all:all").
    return f"{prefix}:{','.join(sorted(set(args)))}"


def is_private_topic(topic: str) -> bool:
    """True for channels that need a private token (account balance, order changes...)."""
    return topic.startswith(_PRIVATE_PREFIXES)


def join_units(units: Iterable[str], limit: int = MAX_TOPICS_PER_REQUEST) -> list[str]:
    """Re-join units into as few request topics as the limits allow, keeping first-seen order.

    Units of a joinable channel share a topic of at most ``limit`` arguments; every other unit
    (``:all``, arg-less, candles...) is a topic of its own.
    """
    groups: dict[str, list[str]] = {}
    order: list[tuple[bool, str]] = []
    for unit in units:
        prefix, sep, arg = unit.partition(":")
        if sep and prefix in _JOINABLE and arg != "all":
            if prefix not in groups:
                groups[prefix] = []
                order.append((True, prefix))
            groups[prefix].append(arg)
        else:
            order.append((False, unit))
    topics: list[str] = []
    for joined, name in order:
        if not joined:
            topics.append(name)
            continue
        args = groups[name]
        for start in range(0, len(args), limit):
            topics.append(f"{name}:{','.join(args[start : start + limit])}")
    return topics


TICKER_ALL = "/market/ticker:all"
_TICKER = "/market/ticker:"
#: topic -> :func:`ticker_symbol` of it, the function's memo (a process sees few distinct topics); a hot
#: path may look a topic up here first, a dict lookup being cheaper than the call
ticker_symbols: dict[str, str] = {}
_TICKER_SYMBOLS_MAX = 10_000  # a bound, should a feed make topics up


def ticker_symbol(topic: str) -> str:
    """What ``data["symbol"]`` of a push on ``topic`` is: the symbol of ``/market/ticker:{symbol}``,
    :data:`TICKER_ALL` for ``/market/ticker:all`` (each push names its symbol in ``subject``), ``""`` for
    every other topic. Remembered per topic (bounded): cutting the symbol out of every push's new topic
    string cost more than the rest of :func:`add_ticker_symbol` (bench/hotpath.py), and a dict lookup
    reuses the hash the connection computed for the same string."""
    symbol = ticker_symbols.get(topic)
    if symbol is None:
        if len(ticker_symbols) >= _TICKER_SYMBOLS_MAX:
            ticker_symbols.clear()
        if topic == TICKER_ALL:
            symbol = TICKER_ALL
        elif topic.startswith(_TICKER):
            symbol = topic[len(_TICKER) :]
        else:
            symbol = ""
        ticker_symbols[topic] = symbol
    return symbol


def add_ticker_symbol(frame: dict[str, Any]) -> dict[str, Any]:
    """Give a ticker push's ``data`` a ``symbol`` key, as the seed's examples read it.

    KuCoin leaves it out (classic-protocol.md#public-channels): it is the topic's argument, or the
    ``subject`` for ``/market/ticker:all``. Pushes on other topics, and ``data`` that already has a
    ``symbol``, are left untouched. O(1), in place; returns ``frame``.
    """
    topic = frame.get("topic")
    if topic.__class__ is not str:
        return frame
    symbol: Any = ticker_symbol(topic)
    if not symbol:
        return frame
    if symbol is TICKER_ALL:
        symbol = frame.get("subject")
        if not symbol:
            return frame
    data = frame.get("data")
    if data.__class__ is dict and "symbol" not in data:
        data["symbol"] = symbol
    return frame


class RequestKind(Enum):
    """What a pending request asked for."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True, slots=True)
class Pending:
    """A request waiting for its ack: its id, kind, the units it carries and when it was sent."""

    id: str
    kind: RequestKind
    units: tuple[str, ...]
    sent_at: float


@dataclass(frozen=True, slots=True)
class Welcome:
    """The server's ``welcome``: the connection is usable (classic-protocol.md#welcome)."""

    id: str


@dataclass(frozen=True, slots=True)
class Pong:
    """A ``pong``; ``expected`` is False when its id matches no ping in flight."""

    id: str
    expected: bool


@dataclass(frozen=True, slots=True)
class Ack:
    """A request was accepted."""

    request: Pending


@dataclass(frozen=True, slots=True)
class RequestError:
    """An ``error`` frame whose id names a pending request (404 unknown topic, 509 limits...)."""

    request: Pending
    code: int
    data: str


@dataclass(frozen=True, slots=True)
class ConnectionErrorFrame:
    """An ``error`` frame about the connection itself (401 ``token is expired``...): drop the link."""

    id: str | None
    code: int
    data: str


@dataclass(frozen=True, slots=True)
class Message:
    """A data push, the decoded frame exactly as KuCoin sent it."""

    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    """``notice``/``command`` frames and acks nobody waits for: informational, never delivered."""

    frame: dict[str, Any]


Event = Welcome | Pong | Ack | RequestError | ConnectionErrorFrame | Message | Notice


@dataclass(slots=True)
class UplinkLimiter:
    """At most ``limit`` messages in any window of ``period`` seconds (classic-protocol.md#topics-and-limits).

    A sliding log rather than a refilling bucket: a bucket of 100 refilling at 10/s lets 150 messages
    through some 10 s windows, which KuCoin answers with ``509 exceed max permits per second``.
    """

    limit: int = UPLINK_LIMIT
    period: float = UPLINK_PERIOD
    _sent: deque[float] = field(default_factory=deque, repr=False)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next message may go (0.0: now)."""
        sent = self._sent
        while sent and sent[0] <= now - self.period:
            sent.popleft()
        if len(sent) < self.limit:
            return 0.0
        return sent[0] + self.period - now

    def record(self, now: float) -> None:
        """Count one message sent at ``now``."""
        self._sent.append(now)


class Session:
    """The state of one KuCoin WebSocket session, with no I/O.

    Args:
        private: the connection uses a private token; private topics then carry ``privateChannel``.
        ping_interval: seconds between client pings (the bullet's ``pingInterval``).
        ping_timeout: seconds to wait for any frame after a ping before the link counts as dead.
        ids: the id source shared across reconnects so ids never repeat on one client
            (default: a counter from 1).
    """

    def __init__(
        self,
        *,
        private: bool = False,
        ping_interval: float = 18.0,
        ping_timeout: float = 10.0,
        ids: Iterator[int] | None = None,
    ) -> None:
        self.private = private
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._ids = ids if ids is not None else itertools.count(1)
        self.pending: dict[str, Pending] = {}
        self.welcomed = False
        self._pings: dict[str, float] = {}
        self._ping_deadline: float | None = None
        self._rx_at_ping = 0
        self._next_ping = 0.0

    # -- outgoing -------------------------------------------------------------------------------
    def next_id(self) -> str:
        """A request id never used before on this client
        (classic-protocol.md#subscribe-and-ack: echoed in the ack)."""
        return str(next(self._ids))

    def reset(
        self, now: float, *, ping_interval: float | None = None, ping_timeout: float | None = None
    ) -> None:
        """Start a new connection: forget pending requests and pings; keep the id counter."""
        if ping_interval is not None:
            self.ping_interval = ping_interval
        if ping_timeout is not None:
            self.ping_timeout = ping_timeout
        self.pending.clear()
        self._pings.clear()
        self._ping_deadline = None
        self.welcomed = False
        self._next_ping = now + self.ping_interval

    def request(self, kind: RequestKind, topic: str, now: float) -> tuple[Pending, str]:
        """Encode a subscribe/unsubscribe for one request topic (see :func:`join_units`).

        Returns the pending request (to correlate the ack) and the text to send.
        """
        units = tuple(expand_topic(topic))
        if len(units) > MAX_TOPICS_PER_REQUEST:
            raise ValueError(f"{len(units)} topics in one request; KuCoin accepts {MAX_TOPICS_PER_REQUEST}")
        rid = self.next_id()
        pending = Pending(rid, kind, units, now)
        self.pending[rid] = pending
        # privateChannel only on private channels of a private connection: design.md#private-channel-flag.
        message = {
            "id": rid,
            "type": kind.value,
            "topic": topic,
            "privateChannel": self.private and is_private_topic(topic),
            "response": True,
        }
        return pending, encode(message)

    def ping(self, now: float, rx_count: int) -> str:
        """Encode a ping and start its pong deadline (classic-protocol.md#ping-and-pong).

        ``rx_count`` is the caller's count of frames received so far: any frame after the ping
        proves the link alive, not only the pong (a busy feed answers late but is not dead).
        """
        pid = self.next_id()
        self._pings[pid] = now
        if self._ping_deadline is None:
            self._ping_deadline = now + self.ping_timeout
            self._rx_at_ping = rx_count
        self._next_ping = now + self.ping_interval
        return encode({"id": pid, "type": "ping"})

    # -- keepalive ------------------------------------------------------------------------------
    def link_dead(self, now: float, rx_count: int) -> bool:
        """True when a ping's deadline passed with no frame at all received since that ping."""
        deadline = self._ping_deadline
        if deadline is None:
            return False
        if rx_count != self._rx_at_ping:
            self._ping_deadline = None  # something arrived: alive
            return False
        return now >= deadline

    def ping_due(self, now: float) -> bool:
        """True when the next ping should be sent."""
        return now >= self._next_ping

    def next_wakeup(self) -> float:
        """The earliest time the keepalive has something to check."""
        deadline = self._ping_deadline
        return self._next_ping if deadline is None else min(deadline, self._next_ping)

    # -- incoming -------------------------------------------------------------------------------
    def receive(self, frame: dict[str, Any]) -> Event:
        """Classify one decoded frame (classic-protocol.md#connection)."""
        kind = frame.get("type")
        if kind == "message":
            return Message(frame)
        fid = frame.get("id")
        sid = None if fid is None else str(fid)
        if kind == "pong":
            expected = sid is not None and self._pings.pop(sid, None) is not None
            if expected:
                self._ping_deadline = None
            return Pong(sid or "", expected)
        if kind == "ack":
            pending = self.pending.pop(sid, None) if sid is not None else None
            return Notice(frame) if pending is None else Ack(pending)
        if kind == "error":
            try:
                code = int(frame.get("code", 0))
            except (TypeError, ValueError):
                code = 0
            data = frame.get("data")
            text = data if isinstance(data, str) else str(data)
            pending = self.pending.pop(sid, None) if sid is not None else None
            if pending is not None:
                return RequestError(pending, code, text)
            return ConnectionErrorFrame(sid, code, text)
        if kind == "welcome":
            self.welcomed = True
            return Welcome(sid or "")
        # notice, command, a server ping, or a type KuCoin adds later: informational, never fatal.
        return Notice(frame)
