"""Sans-I/O session of KuCoin's UTA WebSocket protocol: frames in -> events out; intents -> text out.

The UTA ("Pro") protocol (what kunb does: ``uta-kunb.md``; wire facts: ``uta-protocol.md``) has fixed
hosts, a ``message: welcome`` frame carrying ``pingInterval``, ``{"id","type":"ping"}`` or
``{"id","op":"ping"}`` keepalives, one-symbol ``action: subscribe`` frames answered ``{"id","result"}``,
data pushes ``{"T","P","d"}`` and, on the private host, a signed ``op: auth`` frame after the welcome.
Nothing here touches a socket or reads the clock; time is an argument, as in :mod:`kunb.protocol.classic`.

A *topic* is one subscription frame, named by a key that is also derivable from every push it causes
(:func:`push_key`), so a pool can count, shard and resubscribe topics and tell which one went silent:
``obu.SPOT:BTC-USDT:increment@10ms``, ``kline.SPOT:BTC-USDT:1min``, ``ticker.SPOT:BTC-USDT``,
``orderAll.UNIFIED``, ``order.UNIFIED:BTC-USDT``, ``execution.UNIFIED``, ``balance.UNIFIED``.

**One interface for both protocols** (proposed for :mod:`kunb.net.connection`). :class:`UtaSession` has
the methods the connection calls on the classic :class:`~kunb.protocol.classic.Session` (``reset``,
``request(kind, topic, now)``, ``ping``, ``ping_due``, ``link_dead``, ``next_wakeup``, ``next_id``,
``pending``, ``welcomed``) and answers ``receive(frame)`` with the same event types (``Welcome``,
``Pong``, ``Ack``, ``RequestError``, ``Message``, ``Notice``), plus :class:`AuthResult`. Its keepalive *is*
a classic session held inside, so the ping rules are written once. What a connection does differently
per protocol is small and explicit:

* *dial target*: classic fetches a bullet token over REST and dials an ``instanceServers`` endpoint;
  UTA dials :func:`dial_target` (a fixed URL; private: V2 ``op:auth`` after the welcome, or V1
  ``?token=`` from ``POST /api/v2/bullet-private``, :func:`parse_bullet_private`).
* *handshake*: after the welcome and before resubscribing, a UTA V2 private session sends
  :meth:`UtaSession.authenticate` and waits for :class:`AuthResult` (refused: fatal, as a bad key).
* *units and batches*: classic ``expand_topic`` / ``join_units`` (many symbols per request); UTA
  :meth:`UtaSession.units` / :meth:`UtaSession.batches` (one topic per frame).
* *data routing*: classic pushes are ``type == "message"`` keyed by ``topic``; UTA pushes carry ``T``,
  keyed by :func:`push_key`. ``receive(frame)`` returns :class:`~kunb.protocol.classic.Message` for both.
* *limits*: :attr:`UtaSession.uplink_limit` and :attr:`UtaSession.max_topics` (300/100 messages per 10 s,
  600/400 topics per connection, public/private) instead of classic's 100 and 400.
* *silence*: :meth:`UtaSession.silent_topics` names topics acked long ago that never sent data (KuCoin
  acks an unknown symbol and then sends nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..exceptions import ConfigurationError, ProtocolError
from ..signing import Credentials, ensure_safe_url, prehash, redact_token, sign, sign_passphrase
from .classic import (
    Ack,
    Message,
    Notice,
    Pending,
    Pong,
    RequestError,
    RequestKind,
    Session,
    UplinkLimiter,
    Welcome,
    decode,
    encode,
)

__all__ = [
    "ACCOUNT_TYPES",
    "AUTH_PATH",
    "BULLET_PRIVATE_PATH",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "DEPTHS",
    "INTERVALS",
    "MAX_TOPICS_PRIVATE",
    "MAX_TOPICS_PUBLIC",
    "MIN_PING_INTERVAL",
    "PRIVATE_CHANNELS",
    "PRIVATE_URL",
    "PUBLIC_CHANNELS",
    "PUBLIC_FUTURES_URL",
    "PUBLIC_SPOT_URL",
    "SILENCE_AFTER",
    "UPLINK_LIMIT_PRIVATE",
    "UPLINK_LIMIT_PUBLIC",
    "UPLINK_PERIOD",
    "Ack",
    "AuthResult",
    "DialTarget",
    "Event",
    "Message",
    "Notice",
    "Pending",
    "Pong",
    "RequestError",
    "RequestKind",
    "UplinkLimiter",
    "UtaSession",
    "UtaTopic",
    "Welcome",
    "auth_message",
    "decode",
    "dial_target",
    "encode",
    "orderbook_depth",
    "orderbook_path",
    "parse_action",
    "parse_bullet_private",
    "parse_topic",
    "push_key",
    "topic",
]

# -- endpoints (uta-protocol.md#endpoints: fixed hosts, root path, no REST negotiation)
# ------------------------
PUBLIC_SPOT_URL = "wss://x-push-spot.kucoin.com"
PUBLIC_FUTURES_URL = "wss://x-push-futures.kucoin.com"
PRIVATE_URL = "wss://wsapi-push.kucoin.com"
# uta-protocol.md#private-authentication, V1 token (ccxt authenticate_uta)
BULLET_PRIVATE_PATH = "/api/v2/bullet-private"
# uta-protocol.md#private-authentication, V2: signed as ts + "POST" + this path
AUTH_PATH = "/api/websocket/users/verify"
_ORDERBOOK_PATH = "/api/ua/v{}/market/orderbook"  # uta-protocol.md#order-book: the signed REST snapshot

# -- limits (uta-protocol.md#limits [!]: S12 rate-limit-rule-uta via the live probe; tigusigalpa session.go)
# ---
UPLINK_LIMIT_PUBLIC = 300  # client messages, pings included, per UPLINK_PERIOD on a public socket
UPLINK_LIMIT_PRIVATE = 100  # ... on the private socket ("100 per time", S14)
UPLINK_PERIOD = 10.0
MAX_TOPICS_PUBLIC = 600  # subscriptions per public connection ("300 per session" in S14's error texts)
MAX_TOPICS_PRIVATE = 400  # ... per private connection
MIN_PING_INTERVAL = 1.0  # S2: "dropped if the ping frequency is exceeded once per second"
# the live welcome's pingInterval (uta-protocol.md#welcome); the doc example says 30 s
DEFAULT_PING_INTERVAL = 18.0
DEFAULT_PING_TIMEOUT = 10.0  # the universal SDK's default when the welcome has no pingTimeout
# uta-protocol.md#order-book: a 10ms-book snapshot came 0.5-6.2 s after the ack; TG waits 20 s
SILENCE_AFTER = 20.0

# -- channels kunb speaks (uta-protocol.md#subscribe, 4)
# -----------------------------------------------------------
PUBLIC_CHANNELS = ("ticker", "trade", "kline", "obu")
PRIVATE_CHANNELS = ("orderAll", "order", "execution", "execution.lite", "balance")
DEPTHS = ("1", "5", "50", "increment", "increment@10ms")  # obu depth (universal SDK OrderbookDepth)
INTERVALS = (
    "1min", "3min", "5min", "15min", "30min", "1hour", "2hour", "4hour",
    "6hour", "8hour", "12hour", "1day", "1week", "1month",
)  # fmt: skip
ACCOUNT_TYPES = ("UNIFIED", "FUNDING", "ISOLATED")  # balance accountType (universal SDK); ccxt: "unified"

_CANONICAL = {name.lower(): name for name in PUBLIC_CHANNELS + PRIVATE_CHANNELS}
_SYMBOL_CHANNELS = frozenset({"ticker", "trade", "kline", "obu", "order"})
_PUBLIC_TRADE_TYPES = ("SPOT", "FUTURES")
# execution.lite also takes the V1 trade types (universal SDK ExecutionLiteTradeType); the rest UNIFIED.
_PRIVATE_TRADE_TYPES = {"execution.lite": ("UNIFIED", "SPOT", "FUTURES", "CROSS", "ISOLATED")}
# Channels whose silence after the ack means something is wrong: an obu subscription always starts with
# a snapshot (depths 1/5/50 every 100 ms, increment@10ms once) and klines push about every second. Ticker
# and trade push only on trades, private channels only on account activity: silence is normal there.
_PROMISED = frozenset({"kline"})
_OBU_SNAPSHOT_DEPTHS = frozenset({"1", "5", "50", "increment@10ms"})  # "increment" sends deltas only


# -- topics --------------------------------------------------------------------------------------------
class UtaTopic(NamedTuple):
    """One UTA subscription: a channel with its qualifier, symbol and depth or interval."""

    channel: str  #: canonical spelling: ``obu``, ``orderAll``, ``execution.lite``...
    qualifier: str  #: ``tradeType`` (``SPOT``, ``FUTURES``, ``UNIFIED``); for ``balance`` the ``accountType``
    symbol: str = ""  #: one symbol, or ``""`` for channels without one (``orderAll``, ``balance``...)
    param: str = ""  #: obu ``depth`` or kline ``interval``; ``""`` otherwise

    @property
    def key(self) -> str:
        """The topic's identity, as :func:`push_key` derives it from a push: ``obu.SPOT:BTC-USDT:50``."""
        key = f"{self.channel}.{self.qualifier}"
        if self.symbol:
            key = f"{key}:{self.symbol}"
        if self.param:
            key = f"{key}:{self.param}"
        return key

    @property
    def private(self) -> bool:
        """True for channels of the private socket."""
        return self.channel in PRIVATE_CHANNELS

    @property
    def promises_data(self) -> bool:
        """True when an acked subscription must deliver data soon (see :meth:`UtaSession.silent_topics`)."""
        if self.channel == "obu":
            return self.param in _OBU_SNAPSHOT_DEPTHS
        return self.channel in _PROMISED

    def message(self, kind: RequestKind, request_id: str) -> dict[str, Any]:
        """The subscribe/unsubscribe frame (uta-protocol.md#subscribe):
        ``action`` lowercase, as ccxt and the Go
        universal SDK send it; one symbol in ``symbol``."""
        message: dict[str, Any] = {"id": request_id, "action": kind.value, "channel": self.channel}
        if self.channel == "balance":
            message["accountType"] = self.qualifier  # no tradeType on balance (universal SDK)
        else:
            message["tradeType"] = self.qualifier
        if self.symbol:
            message["symbol"] = self.symbol
        if self.channel == "obu":
            message["depth"] = self.param
        elif self.channel == "kline":
            message["interval"] = self.param
        return message


def topic(
    channel: str,
    symbol: str = "",
    *,
    trade_type: str | None = None,
    depth: str | int | None = None,
    interval: str | None = None,
    account_type: str = "UNIFIED",
) -> str:
    """The key of one UTA topic, validated: ``topic("obu", "BTC-USDT", depth="increment@10ms")``.

    ``trade_type`` defaults to ``SPOT`` for public channels and ``UNIFIED`` for private ones; ``balance``
    takes ``account_type`` instead.

    Raises:
        ValueError: an unknown channel, trade type, depth, interval or account type; a missing or extra
            symbol.
    """
    canonical = _CANONICAL.get(str(channel).strip().lower(), str(channel))
    if canonical == "balance":
        qualifier = account_type
    else:
        qualifier = trade_type or ("UNIFIED" if canonical in PRIVATE_CHANNELS else "SPOT")
    parts = [f"{canonical}.{qualifier}"]
    if symbol:
        parts.append(symbol)
    param = depth if canonical == "obu" else interval if canonical == "kline" else None
    if param is not None:
        parts.append(str(param))
    return parse_topic(":".join(parts)).key


def parse_topic(key: str) -> UtaTopic:
    """The :class:`UtaTopic` a key names, in canonical spelling (channel case, upper-case qualifier).

    Raises:
        ValueError: not a UTA topic kunb speaks, or a depth/interval/symbol that KuCoin would refuse.
    """
    if not isinstance(key, str):
        raise ValueError(f"a UTA topic is a string, not {type(key).__name__}")
    head, *rest = key.strip().split(":")
    name, dot, qualifier = head.rpartition(".")
    channel = _CANONICAL.get(name.lower()) if dot else None
    if channel is None:
        raise ValueError(
            f"unknown UTA topic {key!r}: expected channel.QUALIFIER[:symbol][:depth|interval] with a "
            f"channel of {', '.join(PUBLIC_CHANNELS + PRIVATE_CHANNELS)}"
        )
    qualifier = qualifier.upper()
    if channel == "balance":
        allowed: tuple[str, ...] = ACCOUNT_TYPES
    elif channel in PRIVATE_CHANNELS:
        allowed = _PRIVATE_TRADE_TYPES.get(channel, ("UNIFIED",))
    else:
        allowed = _PUBLIC_TRADE_TYPES
    if qualifier not in allowed:
        raise ValueError(f"{channel} takes {' or '.join(allowed)}, not {qualifier!r} (topic {key!r})")
    symbol = ""
    if channel in _SYMBOL_CHANNELS:
        if not rest or not rest[0].strip():
            raise ValueError(f"{channel} needs a symbol (topic {key!r})")
        symbol = rest.pop(0).strip()
        # uta-protocol.md#subscribe: one id per frame; "symbols are not supported for topic obu" (live)
        if "," in symbol or any(c.isspace() for c in symbol):
            raise ValueError(f"one symbol per UTA topic, not {symbol!r}")
    param = ""
    if channel == "obu":
        param = rest.pop(0).strip() if rest else ""
        if param not in DEPTHS:
            raise ValueError(f"obu depth must be one of {', '.join(DEPTHS)}, not {param!r}")
    elif channel == "kline":
        param = rest.pop(0).strip() if rest else ""
        if param not in INTERVALS:
            raise ValueError(f"kline interval must be one of {', '.join(INTERVALS)}, not {param!r}")
        if param == "6hour" and qualifier == "FUTURES":  # uta-protocol.md#subscribe: acked, never pushed
            raise ValueError("kline 6hour is spot only")
    if rest:
        raise ValueError(f"unexpected {':'.join(rest)!r} in UTA topic {key!r}")
    return UtaTopic(channel, qualifier, symbol, param)


def push_key(frame: Mapping[str, Any]) -> str | None:
    """The key of the topic a data push belongs to (``None`` when the frame is not a push).

    Routes on ``T`` case-insensitively (KuCoin writes both ``obu.SPOT`` and ``obu.spot``,
    uta-protocol.md#envelope
    3.1) and ``d.s`` (+ ``dp`` / ``d.i``). Channels kunb does not speak keep their ``T`` as their key.
    """
    push_type = frame.get("T")
    if push_type.__class__ is not str:
        return None
    name, dot, qualifier = push_type.rpartition(".")
    channel = _CANONICAL.get(name.lower()) if dot else None
    if channel is None:
        return push_type
    qualifier = qualifier.upper()
    if channel not in _SYMBOL_CHANNELS:
        return f"{channel}.{qualifier}"
    data = frame.get("d")
    symbol = data.get("s") if data.__class__ is dict else None
    if channel == "obu":
        return f"obu.{qualifier}:{symbol}:{frame.get('dp')}"
    if channel == "kline":
        return f"kline.{qualifier}:{symbol}:{data.get('i') if data.__class__ is dict else None}"
    return f"{channel}.{qualifier}:{symbol}"


def parse_action(action: Any) -> RequestKind:
    """A request frame's ``action``, matched case-insensitively: ccxt and the Go SDK send
    ``subscribe``, the docs and the Node SDK ``SUBSCRIBE`` (uta-protocol.md#subscribe [!]).

    Raises:
        ValueError: neither subscribe nor unsubscribe.
    """
    try:
        return RequestKind(str(action).strip().lower())
    except ValueError:
        raise ValueError(f"action must be subscribe or unsubscribe, not {action!r}") from None


# -- dialing and REST ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, repr=False)
class DialTarget:
    """Where a UTA connection dials, and whether it must authenticate with a frame after the welcome.

    ``url`` holds the V1 token when there is one: never log it (``repr`` hides it).
    """

    url: str
    auth_frame: bool

    def __repr__(self) -> str:
        return f"DialTarget(url={redact_token(self.url)!r}, auth_frame={self.auth_frame})"


def dial_target(
    *,
    private: bool = False,
    trade_type: str = "SPOT",
    token: str | None = None,
    public_url: str | None = None,
    private_url: str | None = None,
) -> DialTarget:
    """The URL to dial (uta-protocol.md#endpoints).

    Public sockets need no token. The private socket takes the V2 ``op:auth`` frame after the welcome
    (``token=None``, the current generation) or the V1 token of ``POST /api/v2/bullet-private`` as
    ``?token=`` (KuCoin calls that API abandoned; ccxt still uses it).

    Args:
        private: the private (account) socket.
        trade_type: ``SPOT`` or ``FUTURES``: which public host.
        token: a V1 token (private only).
        public_url, private_url: other hosts (the embedded exchange's ``uta_url`` / ``uta_private_url``).

    Raises:
        ConfigurationError: a token for a public socket, an unknown trade type, or credentials that would
            travel over plain ``ws://`` to a non-loopback host.
    """
    if not private:
        if token is not None:
            raise ConfigurationError("public UTA sockets take no token")
        kind = str(trade_type).upper()
        if kind not in _PUBLIC_TRADE_TYPES:
            raise ConfigurationError(f"trade_type must be SPOT or FUTURES, not {trade_type!r}")
        default = PUBLIC_SPOT_URL if kind == "SPOT" else PUBLIC_FUTURES_URL
        return DialTarget(public_url or default, auth_frame=False)
    base = private_url or PRIVATE_URL
    ensure_safe_url(base)  # a token or a signed frame is a credential: no ws:// to a remote host
    if token is None:
        return DialTarget(base, auth_frame=True)
    if not token:
        raise ConfigurationError("empty V1 token")
    sep = "&" if "?" in base else "?"  # "wss://host?token=" and "wss://host/?token=" send the same request
    return DialTarget(f"{base}{sep}token={token}", auth_frame=False)


def parse_bullet_private(data: Any) -> str:
    """The token in ``data`` of ``POST /api/v2/bullet-private`` (V1; no ``instanceServers``).

    Raises:
        ProtocolError: no token in the answer.
    """
    token = data.get("token") if isinstance(data, Mapping) else None
    if not isinstance(token, str) or not token:
        raise ProtocolError("bullet-private answer without a token")
    return token


def orderbook_path(
    symbol: str, *, limit: str | int = "FULL", trade_type: str = "SPOT", version: int = 1
) -> str:
    """The path and query of the signed ``GET /api/ua/v{1,2}/market/orderbook`` (uta-protocol.md#order-book),
    the snapshot the deprecated ``increment`` depth needs.

    Raises:
        ValueError: a limit other than ``FULL``, 20 or 100, or a version other than 1 or 2.
    """
    size = str(limit).upper()
    if size not in ("FULL", "20", "100"):
        raise ValueError(f"limit must be FULL, 20 or 100, not {limit!r}")
    if version not in (1, 2):
        raise ValueError(f"version must be 1 or 2, not {version!r}")
    return f"{_ORDERBOOK_PATH.format(version)}?symbol={symbol}&tradeType={trade_type.upper()}&limit={size}"


def orderbook_depth(limit: str | int) -> int | None:
    """Levels per side a REST ``limit`` returns at most (``None``: ``FULL``), for the snapshot's ``depth``."""
    size = str(limit).upper()
    return None if size == "FULL" else int(size)


def auth_message(credentials: Credentials, timestamp_ms: int, request_id: str) -> dict[str, str]:
    """The V2 ``op:auth`` frame (uta-protocol.md#private-authentication; universal SDK ``_authenticate``).

    ``kc-api-sign`` is ``base64(HMAC_SHA256(secret, ts + "POST" + "/api/websocket/users/verify"))``; the
    passphrase is signed as in REST (plain for a version-1 key). The frame is a credential: never log it.

    Raises:
        ConfigurationError: the credentials are incomplete.
    """
    if not credentials.is_complete:
        raise ConfigurationError("the UTA private socket needs API credentials (key, secret and passphrase)")
    return {
        "id": request_id,
        "op": "auth",
        "kc-api-key": credentials.key,
        "kc-api-sign": sign(credentials.secret, prehash(timestamp_ms, "POST", AUTH_PATH)),
        "kc-api-timestamp": str(timestamp_ms),
        "kc-api-passphrase": sign_passphrase(credentials),
    }


# -- the session ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AuthResult:
    """The answer to the ``op:auth`` frame: ``accepted``, or refused with KuCoin's ``reason``."""

    accepted: bool
    reason: str


Event = Welcome | Pong | Ack | RequestError | AuthResult | Message | Notice

# uta-protocol.md#replies: the live gateway uses both; TG reads msg
_REASON_KEYS = ("message", "reason", "msg")


# uta-protocol.md#welcome: ccxt keys on message; UG/UT on all
_WELCOME_KEYS = ("message", "type", "op", "data")
# uta-protocol.md#ping-and-pong: {"type":"pong"} (live) or {"op":"pong"} (universal SDK)
_PONG_KEYS = ("type", "op")


def _is(frame: Mapping[str, Any], word: str, keys: tuple[str, ...]) -> bool:
    """True when one of ``keys`` names ``word``, in any case (the universal SDK lower-cases them)."""
    for key in keys:
        value = frame.get(key)
        if value.__class__ is str and value.lower() == word:
            return True
    return False


def _accepted(result: Any) -> bool | None:
    """``result`` as sent: a bool, or the docs' string
    ``"true"``/``"false"`` (uta-protocol.md#replies [!])."""
    if result is True or result is False:
        return result
    if isinstance(result, str) and result.strip().lower() in ("true", "false"):
        return result.strip().lower() == "true"
    return None


def _reason(frame: Mapping[str, Any], accepted: bool | None) -> str:
    if accepted is None:
        return f"unreadable result {frame.get('result')!r}"
    for key in _REASON_KEYS:
        value = frame.get(key)
        if isinstance(value, str) and value:
            return value
    return "refused without a reason"


def _code(frame: Mapping[str, Any]) -> int:
    try:
        return int(frame.get("code", 0))
    except (TypeError, ValueError):
        return 0


def _milliseconds(value: Any) -> float | None:
    """A welcome's ``pingInterval``/``pingTimeout`` (ms) in seconds; ``None`` when absent or unusable."""
    if value is None or value is True or value is False:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 1000.0 if 0.0 < number < float("inf") else None


class UtaSession:
    """The state of one UTA WebSocket session, with no I/O (see the module docstring for the interface).

    The keepalive (ping ids, pong deadline, link-dead check) is a classic
    :class:`~kunb.protocol.classic.Session` held inside and fed welcomes and pongs in classic spelling:
    the rules are the same, so they are written once.

    Args:
        private: the private socket (``orderAll``, ``execution``, ``balance``...); public otherwise.
        ping_interval, ping_timeout: seconds; replaced by the welcome's ``pingInterval`` /
            ``pingTimeout`` unless :meth:`reset` pins them.
        ids: the id source shared across reconnects (default: a counter from 1).
        ping_style: ``"type"`` sends ``{"id","type":"ping"}`` (ccxt, cryptofeed, the live probe), ``"op"``
            sends ``{"id","op":"ping","timestamp"}`` (the universal SDK). Pongs of both forms are accepted.
    """

    def __init__(
        self,
        *,
        private: bool = False,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        ping_timeout: float = DEFAULT_PING_TIMEOUT,
        ids: Iterator[int] | None = None,
        ping_style: str = "type",
    ) -> None:
        if ping_style not in ("type", "op"):
            raise ConfigurationError(f"ping_style must be 'type' or 'op', not {ping_style!r}")
        self.private = private
        self.ping_style = ping_style
        self.pending: dict[str, Pending] = {}
        self.session_id = ""
        self.authenticated = False
        self._keepalive = Session(ping_interval=ping_interval, ping_timeout=ping_timeout, ids=ids)
        self._pinned = (False, False)
        self._reset_at = 0.0
        self._auth_id: str | None = None
        self._watch: dict[
            str, tuple[float, float]
        ] = {}  # topic -> (request sent, acked) until data or report

    def __repr__(self) -> str:
        kind = "private" if self.private else "public"
        return f"<UtaSession {kind} welcomed={self.welcomed} pending={len(self.pending)}>"

    # -- state and limits -------------------------------------------------------------------------------
    @property
    def welcomed(self) -> bool:
        """True once this connection's welcome arrived (the socket is usable only after it)."""
        return self._keepalive.welcomed

    @property
    def ping_interval(self) -> float:
        """Seconds between client pings (the welcome's ``pingInterval`` unless pinned)."""
        return self._keepalive.ping_interval

    @property
    def ping_timeout(self) -> float:
        """Seconds after a ping with no frame at all before the link counts as dead."""
        return self._keepalive.ping_timeout

    @property
    def uplink_limit(self) -> int:
        """Client messages allowed per :data:`UPLINK_PERIOD` on this socket (pings included)."""
        return UPLINK_LIMIT_PRIVATE if self.private else UPLINK_LIMIT_PUBLIC

    @property
    def max_topics(self) -> int:
        """Topics one connection of this kind may hold."""
        return MAX_TOPICS_PRIVATE if self.private else MAX_TOPICS_PUBLIC

    def limiter(self) -> UplinkLimiter:
        """A fresh sliding-window limiter for this socket's uplink limit."""
        return UplinkLimiter(limit=self.uplink_limit, period=UPLINK_PERIOD)

    # -- topics -----------------------------------------------------------------------------------------
    @staticmethod
    def units(topic_key: str) -> list[str]:
        """The canonical topic keys a user topic stands for (one: UTA subscribes one symbol per frame)."""
        return [parse_topic(topic_key).key]

    @staticmethod
    def batches(units: Iterable[str]) -> list[str]:
        """The request topics for ``units``: one per frame, in order, without duplicates."""
        return list(dict.fromkeys(units))

    @staticmethod
    def data_key(frame: Mapping[str, Any]) -> str | None:
        """The topic key of a data push, ``None`` for control frames (the connection's hot-path routing)."""
        return push_key(frame)

    # -- outgoing ---------------------------------------------------------------------------------------
    def next_id(self) -> str:
        """A request id never used before on this client (echoed in the answer)."""
        return self._keepalive.next_id()

    def reset(
        self, now: float, *, ping_interval: float | None = None, ping_timeout: float | None = None
    ) -> None:
        """Start a new connection: forget pending requests, pings, authentication and silence watches.

        An explicit ``ping_interval``/``ping_timeout`` is kept; otherwise the welcome's values apply.
        """
        self._keepalive.reset(now, ping_interval=ping_interval, ping_timeout=ping_timeout)
        self._pinned = (ping_interval is not None, ping_timeout is not None)
        self._reset_at = now
        self.pending.clear()
        self.session_id = ""
        self.authenticated = False
        self._auth_id = None
        self._watch.clear()

    def request(self, kind: RequestKind, topic: str, now: float) -> tuple[Pending, str]:
        """Encode a subscribe/unsubscribe of one topic; returns the pending request and the text to send.

        Raises:
            ValueError: not a UTA topic, or a topic of the other socket (private on public or back).
        """
        parsed = parse_topic(topic)
        if parsed.private != self.private:
            have = "private" if self.private else "public"
            # one socket per kind: uta-protocol.md#endpoints
            raise ValueError(f"{parsed.key} is not a {have} topic (one socket per kind)")
        rid = self.next_id()
        pending = Pending(rid, kind, (parsed.key,), now)
        self.pending[rid] = pending
        return pending, encode(parsed.message(kind, rid))

    def authenticate(self, credentials: Credentials, timestamp_ms: int) -> str:
        """Encode the V2 ``op:auth`` frame to send after the welcome; its answer is an :class:`AuthResult`.

        ``timestamp_ms`` is the wall clock in ms (KuCoin checks it like a REST timestamp). The text is a
        credential: never log it.

        Raises:
            ConfigurationError: a public session, or incomplete credentials.
        """
        if not self.private:
            raise ConfigurationError("only the private UTA socket authenticates")
        rid = self.next_id()
        text = encode(auth_message(credentials, timestamp_ms, rid))
        self._auth_id = rid
        return text

    def ping(self, now: float, rx_count: int, *, timestamp_ms: int | None = None) -> str:
        """Encode a ping in :attr:`ping_style` and start its pong deadline (uta-protocol.md#ping-and-pong).

        ``rx_count`` is the caller's count of frames received so far (any frame after a ping proves the
        link alive). ``timestamp_ms`` (wall clock) goes into the ``op`` form, as the universal SDK sends it.
        """
        text = self._keepalive.ping(now, rx_count)  # {"id","type":"ping"}: the default form
        if self.ping_style == "type":
            return text
        message: dict[str, Any] = {"id": decode(text)["id"], "op": "ping"}
        if timestamp_ms is not None:
            message["timestamp"] = timestamp_ms
        return encode(message)

    def ping_due(self, now: float) -> bool:
        """True when the next ping should be sent."""
        return self._keepalive.ping_due(now)

    def link_dead(self, now: float, rx_count: int) -> bool:
        """True when a ping's deadline passed with no frame at all received since that ping."""
        return self._keepalive.link_dead(now, rx_count)

    def next_wakeup(self) -> float:
        """The earliest time the keepalive has something to check."""
        return self._keepalive.next_wakeup()

    # -- incoming ---------------------------------------------------------------------------------------
    def receive(self, frame: dict[str, Any], now: float | None = None) -> Event:
        """Classify one decoded frame (uta-protocol.md#welcome, 1.4, 2.2).

        ``now`` is when it arrived, for :meth:`silent_topics` (default: the request's send time).
        """
        if "T" in frame:
            return Message(frame)
        if _is(frame, "welcome", _WELCOME_KEYS):
            self._apply_timing(frame)
            self.session_id = str(frame.get("sessionId") or frame.get("id") or "")
            welcome = self._keepalive.receive({"type": "welcome", "id": self.session_id})
            return welcome if isinstance(welcome, Welcome) else Notice(frame)
        if _is(frame, "pong", _PONG_KEYS):
            pong = self._keepalive.receive({"type": "pong", "id": frame.get("id")})
            return pong if isinstance(pong, Pong) else Notice(frame)
        if "result" not in frame:
            return Notice(frame)
        fid = frame.get("id")
        sid = None if fid is None else str(fid)
        accepted = _accepted(frame["result"])
        if sid is not None and sid == self._auth_id:
            self._auth_id = None
            self.authenticated = accepted is True
            return AuthResult(self.authenticated, "" if self.authenticated else _reason(frame, accepted))
        pending = self.pending.pop(sid, None) if sid is not None else None
        if pending is None:
            return Notice(frame)  # an answer nobody waits for (its request timed out, or no id)
        if not accepted:
            return RequestError(pending, _code(frame), _reason(frame, accepted))
        key = pending.units[0]
        if pending.kind is RequestKind.SUBSCRIBE:
            if parse_topic(key).promises_data:
                self._watch[key] = (pending.sent_at, pending.sent_at if now is None else now)
        else:
            self._watch.pop(key, None)
        return Ack(pending)

    def _apply_timing(self, frame: Mapping[str, Any]) -> None:
        """Take the welcome's ``pingInterval``/``pingTimeout`` (ms) unless pinned; the first ping is then
        due one interval after the dial (re-arming the keepalive forgets nothing: no ping precedes it)."""
        interval = _milliseconds(frame.get("pingInterval"))
        timeout = _milliseconds(frame.get("pingTimeout"))
        interval = None if interval is None or self._pinned[0] else max(interval, MIN_PING_INTERVAL)
        timeout = None if timeout is None or self._pinned[1] else timeout
        if interval is not None or timeout is not None:
            self._keepalive.reset(self._reset_at, ping_interval=interval, ping_timeout=timeout)

    # -- silence ----------------------------------------------------------------------------------------
    def silence_deadline(self, after: float = SILENCE_AFTER) -> float | None:
        """The earliest time :meth:`silent_topics` could report a topic (``None``: no topic watched)."""
        if not self._watch:
            return None
        return min(acked for _, acked in self._watch.values()) + after

    def silent_topics(
        self, now: float, last_data: Mapping[str, float], *, after: float = SILENCE_AFTER
    ) -> list[str]:
        """Topics acked at least ``after`` seconds ago that sent no data since their request, each
        reported once per subscription (uta-protocol.md#replies: an unknown symbol is acked, then silent).

        Only topics whose channel promises data are watched (obu with a snapshot depth, kline).

        Args:
            now: the current time, on the clock of ``last_data`` and of the request and receive times.
            last_data: topic key -> when its last push arrived (the connection's per-topic record).
        """
        silent = []
        for key, (sent, acked) in list(self._watch.items()):
            seen = last_data.get(key)
            if seen is not None and seen >= sent:
                del self._watch[key]  # it spoke: nothing to watch any more
            elif now - acked >= after:
                del self._watch[key]
                silent.append(key)
        return silent
