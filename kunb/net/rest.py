"""KuCoin REST clients on httpx, shaped like KuCoin's SDK: ``Market``, ``User``, ``Trade``, ``GetToken``.

Every endpoint exists twice under one naming rule: ``get_ticker(...)`` blocks (``httpx.Client``) and
``await aget_ticker(...)`` does not (``httpx.AsyncClient``). Both are real methods (type checkers and IDEs
see them) over one private request builder (``_get_ticker_call``), so they cannot send different requests;
a test pins that every method has its twin with the same signature. Results are KuCoin's ``data`` as plain
dicts/lists, exactly as on the wire.

Differences from KuCoin's SDK, on purpose:

* errors raise :mod:`kunb.exceptions` (``ApiError`` subclasses with KuCoin's ``code``/``msg``/HTTP status,
  ``TransportError``/``RequestTimeout`` with the httpx error chained), never a bare ``Exception``;
* a successful call returns ``data`` even when it is empty (the SDK returns the whole envelope then);
* public market calls are not signed, so secrets never leave for calls that do not need them;
* every client can fetch WebSocket tokens (``get_ws_token``), so ``Market()`` and ``User(...)`` can be
  handed to :class:`kunb.ws_client.KucoinWsClient` as in the seed's examples;
* the secret, key and passphrase live only in a :class:`kunb.signing.Credentials` (redacted repr).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from ..exceptions import (
    ConfigurationError,
    ProtocolError,
    RequestTimeout,
    TransportError,
    api_error_for,
)
from ..signing import Credentials, auth_headers, ensure_safe_url
from ..version import __version__
from .wire import WireTap

__all__ = ["DEFAULT_URL", "GetToken", "Market", "Trade", "User", "WsToken", "resolve_url"]

DEFAULT_URL = "https://api.kucoin.com"
_USER_AGENT = f"kunb/{__version__}"
# An order size, price or funds: a decimal string as KuCoin sends them, or a number (sent in plain notation).
_Num = str | float | Decimal

# classic-protocol.md#rest-envelope (ccxt also treats "200" as success)
_OK_CODES = frozenset({"200000", "200"})
# Characters left as they are in a query value: KuCoin signs the *unencoded* query
# (classic-protocol.md#signing),
# and kunb sends and signs the very same string, so the common values (symbols, numbers) are untouched.
_QUERY_SAFE = "-_.~,:/@!$'()*"


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    signed: bool = False
    pooled: bool = True  # False: a one-off connection, closed at once (see get_ws_token)
    symbol: str | None = None  # the symbol the call names, for its errors
    order: bool = False  # places or cancels orders: a refusal is an OrderError (api_error_for)


def _get(path: str, signed: bool = False, **params: Any) -> _Call:
    symbol = params.get("symbol")
    return _Call("GET", path, params, signed, symbol=symbol if isinstance(symbol, str) else None)


def resolve_url(url: str | None = None) -> str:
    """The REST base URL to use: ``url``, else ``$KUNB_URL``, else KuCoin's (no trailing slash).

    Raises:
        ConfigurationError: the URL is not absolute.
    """
    base = url or os.environ.get("KUNB_URL", "") or DEFAULT_URL
    if "://" not in base:
        raise ConfigurationError(f"url must be absolute (scheme://host), got {base!r}")
    return base.rstrip("/")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return quote(str(value), safe=_QUERY_SAFE)


class _RestClient:
    """Shared machinery: URL and credentials resolution, signing, httpx clients, error translation.

    Args:
        key, secret, passphrase: API credentials (KuCoin SDK order). When all are empty,
            ``KUCOIN_API_KEY`` / ``KUCOIN_API_SECRET`` / ``KUCOIN_API_PASSPHRASE`` are used if set.
        url: the REST base URL; empty means ``$KUNB_URL``, else ``https://api.kucoin.com``.
            Point it at ``kunb.sim`` (``ex.url``) for tests and demos.
        is_v1api: sign as an API key of version 1 (plain-text passphrase header), as in KuCoin's SDK.
        is_sandbox: accepted because older SDK versions and the seed's examples pass it. ``False`` is a
            no-op. KuCoin retired its sandbox, so ``True`` without ``url`` raises ConfigurationError
            (use ``url=`` with ``kunb.sim`` instead).
        credentials: a ready :class:`Credentials` (overrides key/secret/passphrase).
        timeout: seconds per request (KuCoin's SDK uses 5).
        transport: an httpx transport (``httpx.MockTransport``, ``httpx.ASGITransport``...) for tests.
            An async-only transport serves only the ``a*`` methods.
        wire: a :class:`~kunb.net.wire.WireTap` told of every answer (URL, status, body; the request's
            signature headers are never handed over), as the connection ``wire_name``.

    Raises:
        InsecureTransportError: credentials given with an ``http://`` URL to a non-loopback host.
    """

    def __init__(
        self,
        key: str = "",
        secret: str = "",
        passphrase: str = "",
        url: str = "",
        is_v1api: bool = False,
        *,
        is_sandbox: bool = False,
        credentials: Credentials | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        wire: WireTap | None = None,
        wire_name: str = "rest",
    ) -> None:
        if is_sandbox and not url:
            raise ConfigurationError(
                "KuCoin no longer runs a sandbox; pass url= (for example kunb.sim's exchange URL)"
            )
        self.url = resolve_url(url)
        parts = urlsplit(self.url)  # errors name the host, never userinfo a URL might carry
        self._where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        if credentials is None and (key or secret or passphrase):
            credentials = Credentials(key, secret, passphrase, key_version=1 if is_v1api else 2)
        if credentials is not None and credentials.is_complete:
            ensure_safe_url(self.url)  # given explicitly: refuse at once (env keys: when signing)
        self.credentials = credentials if credentials is not None else Credentials.from_env()
        self.timeout = timeout
        self._transport = transport
        self.wire = wire
        self.wire_name = wire_name
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        creds = "set" if self.credentials is not None and self.credentials.is_complete else "none"
        return f"{type(self).__name__}(url={self.url!r}, credentials={creds})"

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the blocking HTTP client (the async one is closed by :meth:`aclose`)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close both HTTP clients."""
        self.close()
        client, self._async = self._async, None
        if client is not None:
            await client.aclose()

    def __enter__(self) -> _RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> _RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing -------------------------------------------------------------------------------
    def _sync_client(self) -> httpx.Client:
        if self._sync is None:
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.BaseTransport):
                raise ConfigurationError("this transport is async-only: use the a*() methods")
            self._sync = httpx.Client(transport=transport, timeout=self.timeout)
        return self._sync

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            # An AsyncClient's pooled connections belong to the loop that opened them; a new loop
            # (a second asyncio.run(), a re-started kernel loop) gets a fresh client.
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
                raise ConfigurationError("this transport is sync-only: use the blocking methods")
            self._async = httpx.AsyncClient(transport=transport, timeout=self.timeout)
            self._async_loop = loop
        return self._async

    def _prepare(self, call: _Call) -> tuple[str, str, dict[str, str], bytes]:
        target = call.path
        body = b""
        params = {k: v for k, v in (call.params or {}).items() if v is not None}
        if params:
            if call.method in ("GET", "DELETE"):
                target += "?" + "&".join(f"{k}={_query_value(params[k])}" for k in sorted(params))
            else:
                body = orjson.dumps(params)  # compact JSON: signed byte for byte as sent
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if body or call.method == "POST":
            headers["Content-Type"] = "application/json"
        if call.signed:
            creds = self.credentials
            if creds is None:
                creds = Credentials("", "", "")  # auth_headers raises the helpful ConfigurationError
            ensure_safe_url(self.url)
            headers.update(
                auth_headers(creds, call.method, target, body, timestamp_ms=time.time_ns() // 1_000_000)
            )
        return call.method, self.url + target, headers, body

    def _send(self, call: _Call) -> Any:
        method, url, headers, body = self._prepare(call)
        try:
            if call.pooled or self._transport is not None:
                response = self._sync_client().request(method, url, headers=headers, content=body)
            else:
                with httpx.Client(timeout=self.timeout) as once:
                    response = once.request(method, url, headers=headers, content=body)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(
                f"{method} {self._where}{call.path}: no response within {self.timeout} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self._where}{call.path}: {type(exc).__name__}: {exc}") from exc
        if self.wire is not None:
            self._tap(method, url, response)
        return _result(call, response)

    async def _asend(self, call: _Call) -> Any:
        method, url, headers, body = self._prepare(call)
        try:
            if call.pooled or self._transport is not None:
                response = await self._async_client().request(method, url, headers=headers, content=body)
            else:
                async with httpx.AsyncClient(timeout=self.timeout) as once:
                    response = await once.request(method, url, headers=headers, content=body)
        except httpx.TimeoutException as exc:
            raise RequestTimeout(
                f"{method} {self._where}{call.path}: no response within {self.timeout} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self._where}{call.path}: {type(exc).__name__}: {exc}") from exc
        if self.wire is not None:
            self._tap(method, url, response)
        return _result(call, response)

    def _tap(self, method: str, url: str, response: httpx.Response) -> None:
        assert self.wire is not None
        self.wire.rest(self.wire_name, time.time_ns(), method, url, response.status_code, response.content)

    # -- WebSocket tokens (classic-protocol.md#token): on every client, see the module docstring ----
    def get_ws_token(self, is_private: bool = False) -> Any:
        """A WebSocket token ``{"token": ..., "instanceServers": [...]}``; private ones are signed.

        Sent on a one-off connection: the WebSocket layer asks for a token on every dial, from a
        background task, and a pooled connection would outlive the caller's event loop (a notebook
        cell, ``asyncio.run()`` in the seed's examples, which never close their clients) and leak.
        """
        return self._send(self._get_ws_token_call(is_private))

    async def aget_ws_token(self, is_private: bool = False) -> Any:
        """Awaitable form of :meth:`get_ws_token`."""
        return await self._asend(self._get_ws_token_call(is_private))

    def _get_ws_token_call(self, is_private: bool = False) -> _Call:
        path = "/api/v1/bullet-private" if is_private else "/api/v1/bullet-public"
        return _Call("POST", path, None, signed=is_private, pooled=False)

    @property
    def return_unique_id(self) -> str:
        """A fresh ``clientOid`` (32 hex digits), as KuCoin's SDK names it."""
        return uuid.uuid4().hex


def _result(call: _Call, response: httpx.Response) -> Any:
    """KuCoin's envelope -> ``data``, or the matching :class:`ApiError`
    (classic-protocol.md#rest-envelope)."""
    status = response.status_code
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        if status == 200:
            raise ProtocolError(f"{call.method} {call.path}: response is not JSON") from exc
        raise api_error_for(
            str(status), response.reason_phrase or "HTTP error", status, order=call.order, symbol=call.symbol
        ) from None
    if not isinstance(payload, dict):
        raise ProtocolError(f"{call.method} {call.path}: response is not a KuCoin envelope")
    code = str(payload.get("code", ""))
    if status == 200 and code in _OK_CODES:
        return payload.get("data")
    msg = payload.get("msg") or response.reason_phrase or "error"
    raise api_error_for(code or str(status), str(msg), status, order=call.order, symbol=call.symbol)


class GetToken(_RestClient):
    """Only WebSocket tokens: ``get_ws_token(is_private=False)`` / ``await aget_ws_token(...)``."""


class WsToken(GetToken):
    """KuCoin SDK's name for :class:`GetToken`."""


class Market(_RestClient):
    """Public market data (classic-protocol.md#endpoints). No credentials needed, except the full v3 book."""

    def get_symbol_list(self, **kwargs: Any) -> Any:
        """Trading pairs (``GET /api/v2/symbols``; filter with ``market=...``)."""
        return self._send(self._get_symbol_list_call(**kwargs))

    async def aget_symbol_list(self, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_symbol_list`."""
        return await self._asend(self._get_symbol_list_call(**kwargs))

    def _get_symbol_list_call(self, **kwargs: Any) -> _Call:
        return _get("/api/v2/symbols", **kwargs)

    def get_symbol_list_v2(self, **kwargs: Any) -> Any:
        """KuCoin SDK's other name for :meth:`get_symbol_list`."""
        return self.get_symbol_list(**kwargs)

    async def aget_symbol_list_v2(self, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_symbol_list_v2`."""
        return await self.aget_symbol_list(**kwargs)

    def get_symbol_detail(self, symbol: str) -> Any:
        """One trading pair (``GET /api/v2/symbols/{symbol}``)."""
        return self._send(self._get_symbol_detail_call(symbol))

    async def aget_symbol_detail(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_symbol_detail`."""
        return await self._asend(self._get_symbol_detail_call(symbol))

    def _get_symbol_detail_call(self, symbol: str) -> _Call:
        return _Call("GET", f"/api/v2/symbols/{quote(symbol, safe='')}", symbol=symbol)

    def get_ticker(self, symbol: str) -> Any:
        """Level-1 ticker: last trade and best bid/ask (``/api/v1/market/orderbook/level1``)."""
        return self._send(self._get_ticker_call(symbol))

    async def aget_ticker(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_ticker`."""
        return await self._asend(self._get_ticker_call(symbol))

    def _get_ticker_call(self, symbol: str) -> _Call:
        return _get("/api/v1/market/orderbook/level1", symbol=symbol)

    def get_all_tickers(self) -> Any:
        """Every symbol's 24 h ticker (``/api/v1/market/allTickers``)."""
        return self._send(self._get_all_tickers_call())

    async def aget_all_tickers(self) -> Any:
        """Awaitable form of :meth:`get_all_tickers`."""
        return await self._asend(self._get_all_tickers_call())

    def _get_all_tickers_call(self) -> _Call:
        return _get("/api/v1/market/allTickers")

    def get_24h_stats(self, symbol: str) -> Any:
        """24 h statistics of one symbol (``/api/v1/market/stats``)."""
        return self._send(self._get_24h_stats_call(symbol))

    async def aget_24h_stats(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_24h_stats`."""
        return await self._asend(self._get_24h_stats_call(symbol))

    def _get_24h_stats_call(self, symbol: str) -> _Call:
        return _get("/api/v1/market/stats", symbol=symbol)

    def get_market_list(self) -> Any:
        """Market names (``/api/v1/markets``)."""
        return self._send(self._get_market_list_call())

    async def aget_market_list(self) -> Any:
        """Awaitable form of :meth:`get_market_list`."""
        return await self._asend(self._get_market_list_call())

    def _get_market_list_call(self) -> _Call:
        return _get("/api/v1/markets")

    def get_part_order(self, pieces: int, symbol: str) -> Any:
        """Level-2 snapshot of the best 20 or 100 levels (``/api/v1/market/orderbook/level2_{pieces}``)."""
        return self._send(self._get_part_order_call(pieces, symbol))

    async def aget_part_order(self, pieces: int, symbol: str) -> Any:
        """Awaitable form of :meth:`get_part_order`."""
        return await self._asend(self._get_part_order_call(pieces, symbol))

    def _get_part_order_call(self, pieces: int, symbol: str) -> _Call:
        if int(pieces) not in (20, 100):
            raise ConfigurationError(f"pieces must be 20 or 100, not {pieces!r}")
        return _get(f"/api/v1/market/orderbook/level2_{int(pieces)}", symbol=symbol)

    def get_aggregated_orderv3(self, symbol: str) -> Any:
        """The full level-2 book (``/api/v3/market/orderbook/level2``; signed, needs credentials)."""
        return self._send(self._get_aggregated_orderv3_call(symbol))

    async def aget_aggregated_orderv3(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_aggregated_orderv3`."""
        return await self._asend(self._get_aggregated_orderv3_call(symbol))

    def _get_aggregated_orderv3_call(self, symbol: str) -> _Call:
        return _get("/api/v3/market/orderbook/level2", signed=True, symbol=symbol)

    def get_trade_histories(self, symbol: str) -> Any:
        """The last 100 trades (``/api/v1/market/histories``)."""
        return self._send(self._get_trade_histories_call(symbol))

    async def aget_trade_histories(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_trade_histories`."""
        return await self._asend(self._get_trade_histories_call(symbol))

    def _get_trade_histories_call(self, symbol: str) -> _Call:
        return _get("/api/v1/market/histories", symbol=symbol)

    def get_kline(self, symbol: str, kline_type: str, **kwargs: Any) -> Any:
        """Candles, newest first (``/api/v1/market/candles``; ``startAt``/``endAt`` in seconds)."""
        return self._send(self._get_kline_call(symbol, kline_type, **kwargs))

    async def aget_kline(self, symbol: str, kline_type: str, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_kline`."""
        return await self._asend(self._get_kline_call(symbol, kline_type, **kwargs))

    def _get_kline_call(self, symbol: str, kline_type: str, **kwargs: Any) -> _Call:
        return _get("/api/v1/market/candles", symbol=symbol, type=kline_type, **kwargs)

    def get_currencies(self) -> Any:
        """Currency list (``/api/v3/currencies``)."""
        return self._send(self._get_currencies_call())

    async def aget_currencies(self) -> Any:
        """Awaitable form of :meth:`get_currencies`."""
        return await self._asend(self._get_currencies_call())

    def _get_currencies_call(self) -> _Call:
        return _get("/api/v3/currencies")

    def get_server_timestamp(self) -> Any:
        """Server time in ms (``/api/v1/timestamp``)."""
        return self._send(self._get_server_timestamp_call())

    async def aget_server_timestamp(self) -> Any:
        """Awaitable form of :meth:`get_server_timestamp`."""
        return await self._asend(self._get_server_timestamp_call())

    def _get_server_timestamp_call(self) -> _Call:
        return _get("/api/v1/timestamp")

    def get_server_status(self) -> Any:
        """Service status (``/api/v1/status``)."""
        return self._send(self._get_server_status_call())

    async def aget_server_status(self) -> Any:
        """Awaitable form of :meth:`get_server_status`."""
        return await self._asend(self._get_server_status_call())

    def _get_server_status_call(self) -> _Call:
        return _get("/api/v1/status")


class User(_RestClient):
    """Accounts and balances (signed)."""

    def get_account_list(self, currency: str | None = None, account_type: str | None = None) -> Any:
        """Accounts (``GET /api/v1/accounts``; filter by currency and ``main``/``trade``)."""
        return self._send(self._get_account_list_call(currency, account_type))

    async def aget_account_list(self, currency: str | None = None, account_type: str | None = None) -> Any:
        """Awaitable form of :meth:`get_account_list`."""
        return await self._asend(self._get_account_list_call(currency, account_type))

    def _get_account_list_call(self, currency: str | None = None, account_type: str | None = None) -> _Call:
        return _get("/api/v1/accounts", signed=True, currency=currency, type=account_type)

    def get_account(self, accountId: str) -> Any:
        """One account (``GET /api/v1/accounts/{accountId}``)."""
        return self._send(self._get_account_call(accountId))

    async def aget_account(self, accountId: str) -> Any:
        """Awaitable form of :meth:`get_account`."""
        return await self._asend(self._get_account_call(accountId))

    def _get_account_call(self, accountId: str) -> _Call:
        return _get(f"/api/v1/accounts/{quote(accountId, safe='')}", signed=True)

    def get_account_ledger(self, **kwargs: Any) -> Any:
        """Account ledger entries (``GET /api/v1/accounts/ledgers``)."""
        return self._send(self._get_account_ledger_call(**kwargs))

    async def aget_account_ledger(self, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_account_ledger`."""
        return await self._asend(self._get_account_ledger_call(**kwargs))

    def _get_account_ledger_call(self, **kwargs: Any) -> _Call:
        return _get("/api/v1/accounts/ledgers", signed=True, **kwargs)

    def get_actual_fee(self, symbols: str) -> Any:
        """Trading fee rates of up to 10 comma-separated symbols (``GET /api/v1/trade-fees``)."""
        return self._send(self._get_actual_fee_call(symbols))

    async def aget_actual_fee(self, symbols: str) -> Any:
        """Awaitable form of :meth:`get_actual_fee`."""
        return await self._asend(self._get_actual_fee_call(symbols))

    def _get_actual_fee_call(self, symbols: str) -> _Call:
        return _get("/api/v1/trade-fees", signed=True, symbols=symbols)

    def get_base_fee(self) -> Any:
        """The account's base fee rates (``GET /api/v1/base-fee``)."""
        return self._send(self._get_base_fee_call())

    async def aget_base_fee(self) -> Any:
        """Awaitable form of :meth:`get_base_fee`."""
        return await self._asend(self._get_base_fee_call())

    def _get_base_fee_call(self) -> _Call:
        return _get("/api/v1/base-fee", signed=True)


class Trade(_RestClient):
    """Orders and fills (signed). ``clientOid`` is generated when not given, as in KuCoin's SDK."""

    def _order(self, params: dict[str, Any], clientOid: str, kwargs: dict[str, Any], path: str) -> _Call:
        params["clientOid"] = clientOid or self.return_unique_id
        params.update(kwargs)
        return _Call("POST", path, params, True, symbol=params.get("symbol"), order=True)

    def create_limit_order(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> Any:
        """Place a limit order (``POST /api/v1/orders``) -> ``{"orderId": ...}``."""
        return self._send(self._create_limit_order_call(symbol, side, size, price, clientOid, **kwargs))

    async def acreate_limit_order(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> Any:
        """Awaitable form of :meth:`create_limit_order`."""
        return await self._asend(
            self._create_limit_order_call(symbol, side, size, price, clientOid, **kwargs)
        )

    def _create_limit_order_call(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> _Call:
        return self._order(_limit_params(symbol, side, size, price), clientOid, kwargs, "/api/v1/orders")

    def create_market_order(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> Any:
        """Place a market order with exactly one of ``size`` / ``funds`` (``POST /api/v1/orders``)."""
        return self._send(self._create_market_order_call(symbol, side, clientOid, size, funds, **kwargs))

    async def acreate_market_order(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> Any:
        """Awaitable form of :meth:`create_market_order`."""
        return await self._asend(
            self._create_market_order_call(symbol, side, clientOid, size, funds, **kwargs)
        )

    def _create_market_order_call(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> _Call:
        return self._order(_market_params(symbol, side, size, funds), clientOid, kwargs, "/api/v1/orders")

    def create_limit_hf_order(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> Any:
        """Place a limit order on the HF endpoint (``POST /api/v1/hf/orders``)."""
        return self._send(self._create_limit_hf_order_call(symbol, side, size, price, clientOid, **kwargs))

    async def acreate_limit_hf_order(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> Any:
        """Awaitable form of :meth:`create_limit_hf_order`."""
        return await self._asend(
            self._create_limit_hf_order_call(symbol, side, size, price, clientOid, **kwargs)
        )

    def _create_limit_hf_order_call(
        self, symbol: str, side: str, size: _Num, price: _Num, clientOid: str = "", **kwargs: Any
    ) -> _Call:
        return self._order(_limit_params(symbol, side, size, price), clientOid, kwargs, "/api/v1/hf/orders")

    def create_hf_market_order(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> Any:
        """Place a market order on the HF endpoint (``POST /api/v1/hf/orders``)."""
        return self._send(self._create_hf_market_order_call(symbol, side, clientOid, size, funds, **kwargs))

    async def acreate_hf_market_order(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> Any:
        """Awaitable form of :meth:`create_hf_market_order`."""
        return await self._asend(
            self._create_hf_market_order_call(symbol, side, clientOid, size, funds, **kwargs)
        )

    def _create_hf_market_order_call(
        self,
        symbol: str,
        side: str,
        clientOid: str = "",
        size: _Num | None = None,
        funds: _Num | None = None,
        **kwargs: Any,
    ) -> _Call:
        return self._order(_market_params(symbol, side, size, funds), clientOid, kwargs, "/api/v1/hf/orders")

    def cancel_hf_order_by_order_id(self, symbol: str, orderId: str) -> Any:
        """Cancel one HF order (``DELETE /api/v1/hf/orders/{orderId}?symbol=``)."""
        return self._send(self._cancel_hf_order_by_order_id_call(symbol, orderId))

    async def acancel_hf_order_by_order_id(self, symbol: str, orderId: str) -> Any:
        """Awaitable form of :meth:`cancel_hf_order_by_order_id`."""
        return await self._asend(self._cancel_hf_order_by_order_id_call(symbol, orderId))

    def _cancel_hf_order_by_order_id_call(self, symbol: str, orderId: str) -> _Call:
        path = f"/api/v1/hf/orders/{quote(orderId, safe='')}"
        return _Call("DELETE", path, {"symbol": symbol}, True, symbol=symbol, order=True)

    def cancel_all_hf_orders(self, symbol: str) -> Any:
        """Cancel every HF order of a symbol (``DELETE /api/v1/hf/orders?symbol=``)."""
        return self._send(self._cancel_all_hf_orders_call(symbol))

    async def acancel_all_hf_orders(self, symbol: str) -> Any:
        """Awaitable form of :meth:`cancel_all_hf_orders`."""
        return await self._asend(self._cancel_all_hf_orders_call(symbol))

    def _cancel_all_hf_orders_call(self, symbol: str) -> _Call:
        return _Call("DELETE", "/api/v1/hf/orders", {"symbol": symbol}, True, symbol=symbol, order=True)

    def get_active_hf_orders(self, symbol: str) -> Any:
        """Open HF orders of a symbol (``GET /api/v1/hf/orders/active``)."""
        return self._send(self._get_active_hf_orders_call(symbol))

    async def aget_active_hf_orders(self, symbol: str) -> Any:
        """Awaitable form of :meth:`get_active_hf_orders`."""
        return await self._asend(self._get_active_hf_orders_call(symbol))

    def _get_active_hf_orders_call(self, symbol: str) -> _Call:
        return _get("/api/v1/hf/orders/active", signed=True, symbol=symbol)

    def cancel_order(self, orderId: str) -> Any:
        """Cancel one order (``DELETE /api/v1/orders/{orderId}``) -> ``{"cancelledOrderIds": [...]}``."""
        return self._send(self._cancel_order_call(orderId))

    async def acancel_order(self, orderId: str) -> Any:
        """Awaitable form of :meth:`cancel_order`."""
        return await self._asend(self._cancel_order_call(orderId))

    def _cancel_order_call(self, orderId: str) -> _Call:
        return _Call("DELETE", f"/api/v1/orders/{quote(orderId, safe='')}", None, True, order=True)

    def cancel_client_order(self, clientId: str) -> Any:
        """Cancel by client order id (``DELETE /api/v1/order/client-order/{clientOid}``)."""
        return self._send(self._cancel_client_order_call(clientId))

    async def acancel_client_order(self, clientId: str) -> Any:
        """Awaitable form of :meth:`cancel_client_order`."""
        return await self._asend(self._cancel_client_order_call(clientId))

    def _cancel_client_order_call(self, clientId: str) -> _Call:
        path = f"/api/v1/order/client-order/{quote(clientId, safe='')}"
        return _Call("DELETE", path, None, True, order=True)

    def cancel_all_orders(self, **kwargs: Any) -> Any:
        """Cancel all open orders, optionally of one ``symbol`` (``DELETE /api/v1/orders``)."""
        return self._send(self._cancel_all_orders_call(**kwargs))

    async def acancel_all_orders(self, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`cancel_all_orders`."""
        return await self._asend(self._cancel_all_orders_call(**kwargs))

    def _cancel_all_orders_call(self, **kwargs: Any) -> _Call:
        return _Call("DELETE", "/api/v1/orders", kwargs, True, symbol=kwargs.get("symbol"), order=True)

    def get_order_list(self, **kwargs: Any) -> Any:
        """Orders, paginated (``GET /api/v1/orders``; ``status=active|done``, ``symbol=``...)."""
        return self._send(self._get_order_list_call(**kwargs))

    async def aget_order_list(self, **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_order_list`."""
        return await self._asend(self._get_order_list_call(**kwargs))

    def _get_order_list_call(self, **kwargs: Any) -> _Call:
        return _get("/api/v1/orders", signed=True, **kwargs)

    def get_recent_orders(self) -> Any:
        """Orders of the last 24 h (``GET /api/v1/limit/orders``)."""
        return self._send(self._get_recent_orders_call())

    async def aget_recent_orders(self) -> Any:
        """Awaitable form of :meth:`get_recent_orders`."""
        return await self._asend(self._get_recent_orders_call())

    def _get_recent_orders_call(self) -> _Call:
        return _get("/api/v1/limit/orders", signed=True)

    def get_order_details(self, orderId: str) -> Any:
        """One order (``GET /api/v1/orders/{orderId}``)."""
        return self._send(self._get_order_details_call(orderId))

    async def aget_order_details(self, orderId: str) -> Any:
        """Awaitable form of :meth:`get_order_details`."""
        return await self._asend(self._get_order_details_call(orderId))

    def _get_order_details_call(self, orderId: str) -> _Call:
        return _get(f"/api/v1/orders/{quote(orderId, safe='')}", signed=True)

    def get_client_order_details(self, clientOid: str) -> Any:
        """One order by client order id (``GET /api/v1/order/client-order/{clientOid}``)."""
        return self._send(self._get_client_order_details_call(clientOid))

    async def aget_client_order_details(self, clientOid: str) -> Any:
        """Awaitable form of :meth:`get_client_order_details`."""
        return await self._asend(self._get_client_order_details_call(clientOid))

    def _get_client_order_details_call(self, clientOid: str) -> _Call:
        return _get(f"/api/v1/order/client-order/{quote(clientOid, safe='')}", signed=True)

    def get_fill_list(self, tradeType: str = "TRADE", **kwargs: Any) -> Any:
        """Fills, paginated (``GET /api/v1/fills``)."""
        return self._send(self._get_fill_list_call(tradeType, **kwargs))

    async def aget_fill_list(self, tradeType: str = "TRADE", **kwargs: Any) -> Any:
        """Awaitable form of :meth:`get_fill_list`."""
        return await self._asend(self._get_fill_list_call(tradeType, **kwargs))

    def _get_fill_list_call(self, tradeType: str = "TRADE", **kwargs: Any) -> _Call:
        return _get("/api/v1/fills", signed=True, tradeType=tradeType, **kwargs)

    def get_recent_fills(self) -> Any:
        """Fills of the last 24 h (``GET /api/v1/limit/fills``)."""
        return self._send(self._get_recent_fills_call())

    async def aget_recent_fills(self) -> Any:
        """Awaitable form of :meth:`get_recent_fills`."""
        return await self._asend(self._get_recent_fills_call())

    def _get_recent_fills_call(self) -> _Call:
        return _get("/api/v1/limit/fills", signed=True)


def _number_text(value: _Num) -> str:
    """An order number as KuCoin reads it: strings as given, numbers in plain notation.

    ``str(0.00001)`` is ``"1e-05"`` and ``str(Decimal("1E-7"))`` is ``"1E-7"``: KuCoin's decimal fields
    take no exponent, so a float or Decimal size typed in a notebook cell is written out in full.
    """
    if isinstance(value, str):
        return value
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ConfigurationError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ConfigurationError(f"not a finite number: {value!r}")
    return format(number, "f")


def _limit_params(symbol: str, side: str, size: _Num, price: _Num) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "side": side,
        "size": _number_text(size),
        "price": _number_text(price),
        "type": "limit",
    }


def _market_params(symbol: str, side: str, size: _Num | None, funds: _Num | None) -> dict[str, Any]:
    """A market order's body: exactly one of ``size`` (base) or ``funds`` (quote),
    classic-protocol.md#endpoints."""
    if (size is None) == (funds is None):
        raise ConfigurationError("a market order needs exactly one of size= or funds=")
    params: dict[str, Any] = {"symbol": symbol, "side": side, "type": "market"}
    if size is not None:
        params["size"] = _number_text(size)
    elif funds is not None:
        params["funds"] = _number_text(funds)
    return params
