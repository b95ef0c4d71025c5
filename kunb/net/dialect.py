"""What a connection does differently per protocol: one small interface, one implementation per protocol.

:class:`~kunb.net.connection.ConnectWebsocket` runs the life of a socket (dial, welcome, keepalive,
reconnect with backoff, resubscribe, queue, dispatch) once, for both of KuCoin's protocols. The few
things that differ are a :class:`Dialect`:

* **dial target** (:meth:`Dialect.dial`): classic asks REST for a bullet token and picks an
  ``instanceServers`` entry; UTA dials a fixed host (private: a V1 ``?token=`` from
  ``POST /api/v2/bullet-private``, or nothing and the V2 ``op:auth`` frame after the welcome);
* **handshake** (:meth:`Dialect.handshake`): the frame to send after the welcome and before resubscribing
  (UTA V2 ``op:auth``, again after every reconnect; a refusal is fatal, like bad credentials);
* **units and batches**: classic joins up to 100 symbols per request, UTA sends one symbol per frame;
* **the session** (:mod:`kunb.protocol.classic` or :mod:`kunb.protocol.uta`: ack and refusal shapes,
  both ping forms), the **limits** (uplink messages per 10 s, topics per connection: the pool shards past
  it) and **silence** (UTA: a topic acked that never sent data).

Data frames are recognised in the connection's hot path (classic ``type == "message"``, UTA ``T``);
:attr:`Dialect.protocol` selects which.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..exceptions import ConfigurationError, KunbError, ProtocolError, TransportError
from ..protocol import classic as classic_protocol
from ..protocol import uta as uta_protocol
from ..protocol.classic import Pending, RequestKind, Session, UplinkLimiter
from ..protocol.uta import UtaSession
from ..signing import Credentials, ensure_safe_url, redact_token

__all__ = ["ClassicDialect", "Dial", "Dialect", "ProtocolSession", "UtaDialect", "units_of"]


@dataclass(frozen=True, slots=True, repr=False)
class Dial:
    """Where one dial goes. ``url`` may hold a token: never log it (``repr`` hides it)."""

    url: str
    ping_interval: float | None = None  #: seconds, from the bullet (classic); ``None``: the welcome says
    ping_timeout: float | None = None
    connect_id: str = ""  #: classic: the ``connectId`` connection-level error frames carry
    token: bool = False  #: the URL holds a token that expires (renew the connection before it does)

    def __repr__(self) -> str:
        return f"Dial(url={redact_token(self.url)!r}, token={self.token})"


class ProtocolSession(Protocol):
    """What the connection calls on a sans-I/O session (classic ``Session`` or ``UtaSession``)."""

    pending: dict[str, Pending]

    @property
    def welcomed(self) -> bool: ...

    @property
    def ping_timeout(self) -> float: ...

    def next_id(self) -> str: ...

    def reset(
        self, now: float, *, ping_interval: float | None = None, ping_timeout: float | None = None
    ) -> None: ...

    def request(self, kind: RequestKind, topic: str, now: float) -> tuple[Pending, str]: ...

    def ping_due(self, now: float) -> bool: ...

    def link_dead(self, now: float, rx_count: int) -> bool: ...

    def next_wakeup(self) -> float: ...

    def receive(self, frame: dict[str, Any]) -> Any: ...


class Dialect(Protocol):
    """One protocol as seen by a connection (see the module docstring)."""

    protocol: str  #: ``classic`` or ``uta``: selects how the hot path recognises data frames
    private: bool
    max_topics: int  #: topics (units) one connection may hold; the pool opens another past it
    uplink_limit: int  #: client messages, pings included, per ``uplink_period``
    uplink_period: float

    def session(self, ids: Iterator[int]) -> ProtocolSession:
        """A new session for one connection (its ids drawn from ``ids``, unique per process)."""
        ...

    async def dial(self, name: str) -> Dial:
        """Where to dial now (classic: fetches a fresh token; UTA V1: a fresh private token)."""
        ...

    def units(self, topic: str) -> list[str]:
        """The units (what the server counts and pushes per) a user topic stands for."""
        ...

    def batches(self, units: Iterable[str]) -> list[str]:
        """Request topics carrying ``units`` within the per-request limits."""
        ...

    def key_of(self, frame: Mapping[str, Any]) -> str | None:
        """The unit a data frame belongs to (its topic)."""
        ...

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Last touches before the callback sees a data frame (classic: ticker ``data`` gains ``symbol``)."""
        ...

    def ping(self, session: ProtocolSession, now: float, rx_count: int, timestamp_ms: int) -> str:
        """The next keepalive ping."""
        ...

    def handshake(self, session: ProtocolSession, timestamp_ms: int) -> str | None:
        """The frame to send after the welcome and before resubscribing (``None``: nothing)."""
        ...

    def silent_topics(
        self, session: ProtocolSession, now: float, last_data: Mapping[str, float], after: float
    ) -> list[str]:
        """Topics acked ``after`` seconds ago or more that never sent data (reported once each)."""
        ...

    def silence_deadline(self, session: ProtocolSession, after: float) -> float | None:
        """When :meth:`silent_topics` may next have something to report (``None``: nothing watched)."""
        ...

    def limiter(self) -> UplinkLimiter: ...


def units_of(topic: object, dialect: Dialect) -> list[str]:
    """The units of a topic or of a list of topics, in order, without duplicates (what ``subscribe`` and
    ``unsubscribe`` of a connection or a pool take).

    Raises:
        ConfigurationError: not a topic string or an iterable of them (a number, bytes, a dict...), or a
            malformed topic; the text shows what was passed.
    """
    if isinstance(topic, str):
        topics: list[object] = [topic]
    elif isinstance(topic, Iterable) and not isinstance(topic, (bytes, bytearray, Mapping)):
        topics = list(topic)
    else:
        raise ConfigurationError(
            f"a topic is a string such as '/market/ticker:BTC-USDT' (or a list of them), not {topic!r}"
        )
    units: dict[str, None] = {}
    for one in topics:
        try:
            units.update(dict.fromkeys(dialect.units(one)))  # type: ignore[arg-type]  # checked there
        except ConfigurationError:
            raise
        except ValueError as exc:  # the sans-I/O parsers say ValueError; callers get kunb's own
            raise ConfigurationError(str(exc)) from None
    return list(units)


# -- classic ------------------------------------------------------------------------------------------------
class ClassicDialect:
    """The classic protocol (``classic-protocol.md#connection``): bullet tokens, joined topics.

    Args:
        client: anything with ``aget_ws_token(is_private)`` (kunb's clients) or a blocking
            ``get_ws_token(is_private)`` (KuCoin's SDK clients; run in a worker thread).
        private: use a private token.
        uplink_limit, uplink_period: client messages per period (KuCoin: 100 per 10 s).
    """

    protocol = "classic"
    max_topics = classic_protocol.MAX_TOPICS_PER_CONNECTION

    def __init__(
        self,
        client: Any,
        *,
        private: bool = False,
        uplink_limit: int = classic_protocol.UPLINK_LIMIT,
        uplink_period: float = classic_protocol.UPLINK_PERIOD,
    ) -> None:
        if not (hasattr(client, "aget_ws_token") or hasattr(client, "get_ws_token")):
            raise ConfigurationError(
                "client must provide get_ws_token() (kunb.client.Market(), User(...)...)"
            )
        self.client = client
        self.private = bool(private)
        self.uplink_limit = uplink_limit
        self.uplink_period = uplink_period

    def __repr__(self) -> str:
        return f"<ClassicDialect {'private' if self.private else 'public'}>"

    def session(self, ids: Iterator[int]) -> Session:
        return Session(private=self.private, ids=ids)

    def limiter(self) -> UplinkLimiter:
        return UplinkLimiter(limit=self.uplink_limit, period=self.uplink_period)

    async def _token(self, name: str) -> dict[str, Any]:
        client = self.client
        fetch = getattr(client, "aget_ws_token", None)
        try:
            if fetch is not None:
                data = await fetch(self.private)
            else:
                # KuCoin's SDK clients only block: keep the event loop free
                # (design.md#token-request-off-the-event-loop).
                data = await asyncio.to_thread(client.get_ws_token, self.private)
        except KunbError:
            raise
        except Exception as exc:  # a foreign client: bare Exception, requests errors...
            raise TransportError(f"{name}: token request failed: {type(exc).__name__}") from exc
        try:
            servers = data["instanceServers"]
            token = data["token"]
            if not servers or not isinstance(token, str):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"{name}: bullet response without token/instanceServers") from None
        return data  # type: ignore[no-any-return]

    async def dial(self, name: str) -> Dial:
        data = await self._token(name)
        server = random.choice(data["instanceServers"])  # spread load, as the universal SDK does
        endpoint = str(server["endpoint"])
        if self.private:
            ensure_safe_url(endpoint)  # a private token is a credential: no ws:// to a remote host
        sep = "&" if "?" in endpoint else "?"
        connect_id = uuid.uuid4().hex
        return Dial(
            f"{endpoint}{sep}token={data['token']}&connectId={connect_id}",  # never logged
            server.get("pingInterval", 18000) / 1000,
            server.get("pingTimeout", 10000) / 1000,
            connect_id,
            token=True,
        )

    def units(self, topic: str) -> list[str]:
        return classic_protocol.expand_topic(topic)

    def batches(self, units: Iterable[str]) -> list[str]:
        return classic_protocol.join_units(units)

    def key_of(self, frame: Mapping[str, Any]) -> str | None:
        return frame.get("topic")

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        return classic_protocol.add_ticker_symbol(frame)

    def ping(self, session: ProtocolSession, now: float, rx_count: int, timestamp_ms: int) -> str:
        assert isinstance(session, Session)
        return session.ping(now, rx_count)

    def handshake(self, session: ProtocolSession, timestamp_ms: int) -> str | None:
        return None  # the token in the URL is the authentication

    def silent_topics(
        self, session: ProtocolSession, now: float, last_data: Mapping[str, float], after: float
    ) -> list[str]:
        return []  # classic pushes level-2 deltas only on change: silence says nothing

    def silence_deadline(self, session: ProtocolSession, after: float) -> float | None:
        return None


# -- UTA ----------------------------------------------------------------------------------------------------
TokenSource = Callable[[], Awaitable[Any]]
_PUSH_KEYS = 10_000  # push keys remembered per UTA dialect (a bound, should a feed make them up)


class UtaDialect:
    """KuCoin's UTA protocol (``uta-kunb.md``): fixed hosts, one symbol per frame, binary frames.

    Args:
        private: the private socket (``orderAll``, ``execution``, ``balance``).
        url: the host to dial (default: KuCoin's public spot host, or its private host); the embedded
            exchange's ``uta_url`` / ``uta_private_url``.
        trade_type: ``SPOT`` or ``FUTURES``: which public host by default.
        credentials: for the V2 ``op:auth`` frame (private, ``auth="v2"``).
        auth: ``"v2"`` (the signed frame after the welcome; default) or ``"v1"`` (a token in the URL).
        token: ``async () -> data of POST /api/v2/bullet-private`` for ``auth="v1"``
            (:meth:`kunb.net.uta_rest.UtaRest.abullet_private`).
        ping_style: ``"type"`` (``{"id","type":"ping"}``, default) or ``"op"`` (the universal SDK's form).
        uplink_limit, max_topics: override KuCoin's limits (300/100 messages per 10 s, 600/400 topics).

    Raises:
        ConfigurationError: a private V2 dialect without complete credentials, V1 without a token source,
            or a private URL that would carry credentials over plain ``ws://`` to a remote host.
    """

    protocol = "uta"
    uplink_period = uta_protocol.UPLINK_PERIOD

    def __init__(
        self,
        *,
        private: bool = False,
        url: str | None = None,
        trade_type: str = "SPOT",
        credentials: Credentials | None = None,
        auth: str = "v2",
        token: TokenSource | None = None,
        ping_style: str = "type",
        uplink_limit: int | None = None,
        max_topics: int | None = None,
    ) -> None:
        if auth not in ("v1", "v2"):
            raise ConfigurationError(f"auth must be 'v1' or 'v2', not {auth!r}")
        if ping_style not in ("type", "op"):
            raise ConfigurationError(f"ping_style must be 'type' or 'op', not {ping_style!r}")
        self.private = bool(private)
        self.auth = auth
        self.ping_style = ping_style
        self.trade_type = trade_type
        self._url = url
        self._credentials = credentials
        self._token = token
        if self.private:
            if auth == "v2" and (credentials is None or not credentials.is_complete):
                raise ConfigurationError(
                    "the UTA private socket needs API credentials (key, secret and passphrase)"
                )
            if auth == "v1" and token is None:
                raise ConfigurationError("auth='v1' needs a token source (POST /api/v2/bullet-private)")
        # validates the host and the scheme now rather than at the first dial
        uta_protocol.dial_target(
            private=self.private,
            trade_type=trade_type,
            public_url=None if self.private else url,
            private_url=url if self.private else None,
        )
        self.uplink_limit = uplink_limit or (
            uta_protocol.UPLINK_LIMIT_PRIVATE if self.private else uta_protocol.UPLINK_LIMIT_PUBLIC
        )
        self.max_topics = max_topics or (
            uta_protocol.MAX_TOPICS_PRIVATE if self.private else uta_protocol.MAX_TOPICS_PUBLIC
        )
        # push_key() of each (T, d.s, dp, d.i) seen: what the key depends on. Building the key string
        # costs more than everything else the connection does per push (bench/hotpath.py).
        self._keys: dict[tuple[Any, Any, Any, Any], str] = {}

    def __repr__(self) -> str:
        kind = f"private {self.auth}" if self.private else "public"
        return f"<UtaDialect {kind} {self.url}>"

    @property
    def url(self) -> str:
        """The host dialed (without a token)."""
        return uta_protocol.dial_target(
            private=self.private,
            trade_type=self.trade_type,
            public_url=None if self.private else self._url,
            private_url=self._url if self.private else None,
        ).url

    def session(self, ids: Iterator[int]) -> UtaSession:
        return UtaSession(private=self.private, ids=ids, ping_style=self.ping_style)

    def limiter(self) -> UplinkLimiter:
        return UplinkLimiter(limit=self.uplink_limit, period=self.uplink_period)

    async def dial(self, name: str) -> Dial:
        token: str | None = None
        if self.private and self.auth == "v1":
            assert self._token is not None
            try:
                data = await self._token()
            except KunbError:
                raise
            except Exception as exc:
                raise TransportError(f"{name}: token request failed: {type(exc).__name__}") from exc
            token = uta_protocol.parse_bullet_private(data)
        target = uta_protocol.dial_target(
            private=self.private,
            trade_type=self.trade_type,
            token=token,
            public_url=None if self.private else self._url,
            private_url=self._url if self.private else None,
        )
        return Dial(target.url, token=token is not None)

    def units(self, topic: str) -> list[str]:
        parsed = uta_protocol.parse_topic(topic)
        if parsed.private != self.private:  # one socket per kind: uta-protocol.md#endpoints
            have = "private" if self.private else "public"
            raise ValueError(f"{parsed.key} is not a {have} topic (one socket per kind)")
        return [parsed.key]

    def batches(self, units: Iterable[str]) -> list[str]:
        return UtaSession.batches(units)

    def key_of(self, frame: Mapping[str, Any]) -> str | None:
        data = frame.get("d")
        if data.__class__ is dict:
            parts = (frame.get("T"), data.get("s"), frame.get("dp"), data.get("i"))
        else:
            parts = (frame.get("T"), None, frame.get("dp"), None)
        keys = self._keys
        try:
            key = keys.get(parts)
        except TypeError:  # an unhashable field (a hostile frame): not remembered
            return uta_protocol.push_key(frame)
        if key is None:
            key = uta_protocol.push_key(frame)
            if key is not None:
                if len(keys) >= _PUSH_KEYS:
                    keys.clear()
                keys[parts] = key
        return key

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        return frame

    def ping(self, session: ProtocolSession, now: float, rx_count: int, timestamp_ms: int) -> str:
        assert isinstance(session, UtaSession)
        return session.ping(now, rx_count, timestamp_ms=timestamp_ms)

    def handshake(self, session: ProtocolSession, timestamp_ms: int) -> str | None:
        if not (self.private and self.auth == "v2"):
            return None
        assert isinstance(session, UtaSession) and self._credentials is not None
        return session.authenticate(self._credentials, timestamp_ms)

    def silent_topics(
        self, session: ProtocolSession, now: float, last_data: Mapping[str, float], after: float
    ) -> list[str]:
        assert isinstance(session, UtaSession)
        return session.silent_topics(now, last_data, after=after)

    def silence_deadline(self, session: ProtocolSession, after: float) -> float | None:
        assert isinstance(session, UtaSession)
        return session.silence_deadline(after)
