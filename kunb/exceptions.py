"""kunb's exceptions: one tree, translated from library errors only at I/O boundaries.

::

    KunbError
    ├── ConfigurationError (ValueError)      a bad argument, URL or credentials set-up
    │   └── InsecureTransportError           credentials over plain http:// / ws:// to a non-loopback host
    ├── ApiError                             KuCoin answered with an error envelope (code, msg, status)
    │   ├── AuthenticationError              4000xx: missing header, bad key, signature, passphrase, timestamp
    │   ├── RateLimitError                   429000 / HTTP 429
    │   ├── OrderError                       2000xx / 230003 / order_not_exist...: the order was refused
    │   └── SymbolError                      900001 on a market-data call: no such symbol (``.symbol``)
    ├── TransportError                       the network failed (library error chained as __cause__)
    │   └── ConnectionClosed                 the WebSocket closed while a request was pending
    ├── ProtocolError                        the server sent something that is not KuCoin's protocol
    ├── WebSocketError                       a KuCoin error frame answered a request: code and data
    │   └── SubscribeError                   ... and that request was a subscribe/unsubscribe
    ├── RequestTimeout (TimeoutError)        no answer (ack, welcome, pong, HTTP) in time
    ├── RecordingError                       a recording could not be written or read (OSError chained)
    └── ClosedError (RuntimeError)           the object was used after close()

Every exception text is safe to show: none carries a key, secret, passphrase, signature or token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClosedError",
    "ConfigurationError",
    "ConnectionClosed",
    "InsecureTransportError",
    "KunbError",
    "OrderError",
    "ProtocolError",
    "RateLimitError",
    "RecordingError",
    "RequestTimeout",
    "SubscribeError",
    "SymbolError",
    "TransportError",
    "WebSocketError",
    "api_error_for",
    "case_hint",
]


class KunbError(Exception):
    """Base class of every error kunb raises on purpose."""


class ConfigurationError(KunbError, ValueError):
    """A bad argument, URL or credentials set-up: fix the call, retrying will not help."""


class InsecureTransportError(ConfigurationError):
    """Credentials would travel in clear text (http:// or ws://) to a host that is not loopback."""


class ApiError(KunbError):
    """KuCoin answered with an error envelope ``{"code": ..., "msg": ...}``.

    Attributes:
        code: KuCoin's code as a string (``"400100"``), as it appears on the wire.
        msg: KuCoin's message text.
        status: the HTTP status of the response (``None`` when not from HTTP).
    """

    def __init__(self, code: str, msg: str, status: int | None = None) -> None:
        self.code = str(code)
        self.msg = msg
        self.status = status
        super().__init__(f"KuCoin error {self.code}: {msg}" + (f" (HTTP {status})" if status else ""))

    def __reduce__(self) -> tuple[type[Self], tuple[str, str, int | None]]:
        # keep code/msg/status through pickling (multiprocessing, nbclient)
        return (type(self), (self.code, self.msg, self.status))


class AuthenticationError(ApiError):
    """Authentication failed: 400001..400007 (missing header, timestamp, key, passphrase, signature, IP)."""


class RateLimitError(ApiError):
    """KuCoin's rate limit was hit (HTTP 429, code 429000)."""


class OrderError(ApiError):
    """An order or cancel was refused (balance insufficient, bad size/price, unknown order...)."""


class SymbolError(ApiError):
    """KuCoin does not list the symbol a market-data call named (code 900001 "symbol not exists"): a typo,
    a delisted pair, or lower case (KuCoin's symbols are upper case: ``BTC-USDT``). An order for an
    unknown symbol is an :class:`OrderError` instead: the order was refused.

    Attributes:
        symbol: the symbol as the call passed it (``None`` when the call named none).
    """

    def __init__(self, code: str, msg: str, status: int | None = None, symbol: str | None = None) -> None:
        super().__init__(code, msg, status)
        self.symbol = symbol
        if symbol is not None:
            where = f" (HTTP {status})" if status else ""
            self.args = (f"KuCoin error {self.code}: {msg}: {symbol!r}{where}{case_hint([symbol])}",)

    def __reduce__(self) -> tuple[type[Self], tuple[str, str, int | None, str | None]]:  # type: ignore[override]
        return (type(self), (self.code, self.msg, self.status, self.symbol))


class TransportError(KunbError):
    """The network failed underneath a request; the library's exception is chained as ``__cause__``."""


class ConnectionClosed(TransportError):
    """The WebSocket connection closed while a request on it was pending."""


class ProtocolError(KunbError):
    """The server sent something that does not follow KuCoin's protocol."""


class WebSocketError(KunbError):
    """A KuCoin WebSocket error frame ``{"type": "error", "code": ..., "data": ...}``.

    Attributes:
        code: the integer code of the frame (401, 404, 415, 509...).
        data: the reason text the server sent.
    """

    def __init__(self, code: int, data: str) -> None:
        self.code = int(code)
        self.data = data
        super().__init__(f"KuCoin WebSocket error {self.code}: {data}")

    def __reduce__(self) -> tuple[type[Self], tuple[int, str]]:
        return (type(self), (self.code, self.data))


class SubscribeError(WebSocketError):
    """A subscribe or unsubscribe request was refused by the server.

    Attributes:
        symbols: the symbols the exchange does not list, when kunb could tell that they were why (a
            :class:`kunb.Stream` asks the symbol list after a refusal); ``()`` otherwise.
    """

    def __init__(self, code: int, data: str, symbols: tuple[str, ...] = ()) -> None:
        super().__init__(code, data)
        self.symbols = tuple(symbols)

    def __reduce__(self) -> tuple[type[Self], tuple[int, str, tuple[str, ...]]]:  # type: ignore[override]
        return (type(self), (self.code, self.data, self.symbols))


class RequestTimeout(KunbError, TimeoutError):
    """No answer arrived in time (welcome, ack, pong, HTTP response)."""


class RecordingError(KunbError):
    """A recording could not be written or read (disk full, permissions, an unreadable file); the
    ``OSError`` or Arrow error is chained as ``__cause__``."""


class ClosedError(KunbError, RuntimeError):
    """The object was used after ``close()``."""


_AUTH_CODES = frozenset({"400001", "400002", "400003", "400004", "400005", "400006", "400007"})
_ORDER_CODES = frozenset({"200001", "200002", "200003", "200004", "230003", "400200", "400600", "900001"})
_UNKNOWN_SYMBOL = "900001"


def api_error_for(
    code: str, msg: str, status: int | None = None, *, order: bool = False, symbol: str | None = None
) -> ApiError:
    """Return the most specific :class:`ApiError` subclass for KuCoin's ``code``.

    Codes come from the system codes table (``docs/reference/classic-protocol.md#error-codes``). The
    same code can mean two things: 900001 "symbol not exists" refuses an order (``order=True``:
    :class:`OrderError`) or tells a market-data call that ``symbol`` is unknown (:class:`SymbolError`).
    """
    code = str(code)
    if code in _AUTH_CODES or status == 401:
        return AuthenticationError(code, msg, status)
    if code == "429000" or status == 429:
        return RateLimitError(code, msg, status)
    if code == _UNKNOWN_SYMBOL and not order:
        return SymbolError(code, msg, status, symbol)
    if code in _ORDER_CODES or "order_not_exist" in msg:
        return OrderError(code, msg, status)
    return ApiError(code, msg, status)


def case_hint(names: Iterable[str]) -> str:
    """A hint for symbols spelled in lower case among ``names`` (symbols, or topics such as
    ``/market/ticker:btc-usdt``), to add to an error text; ``""`` when there are none.

    KuCoin's symbols are upper case and its answer to ``btc-usdt`` says only that it does not exist.
    """
    wrong: dict[str, None] = {}
    for name in names:
        part = name.split(":")[1] if ":" in name else name  # a topic's symbols follow its first colon
        for arg in part.split(","):
            symbol = arg.split("_")[0].strip()  # candles: SYMBOL_interval
            if symbol and symbol != "all" and symbol != symbol.upper():
                wrong[symbol] = None
    if not wrong:
        return ""
    fixes = ", ".join(repr(symbol.upper()) for symbol in wrong)
    return f"; KuCoin's symbols are upper case: did you mean {fixes}?"
