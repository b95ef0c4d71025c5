"""kunb.client: REST clients against httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from kunb.client import DEFAULT_URL, GetToken, Market, Trade, User, WsToken
from kunb.exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    InsecureTransportError,
    OrderError,
    ProtocolError,
    RequestTimeout,
    TransportError,
)
from kunb.signing import Credentials, prehash, sign, sign_passphrase

KEY, SECRET, PASS = "k-123", "s3cr3t-value", "pass-phrase"
URL = "http://127.0.0.1:9"


class Recorder:
    """A MockTransport handler that records requests and answers from a table."""

    def __init__(self, data=None, *, status=200, body=None):
        self.requests: list[httpx.Request] = []
        self.data = {"ok": True} if data is None else data
        self.status = status
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.body is not None:
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(self.status, json={"code": "200000", "data": self.data})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def make(cls, handler, **kw):
    return cls(url=URL, transport=httpx.MockTransport(handler), **kw)


def assert_signed(request: httpx.Request, creds: Credentials) -> None:
    """The request carries a valid KC-API signature over exactly the target and body sent."""
    target = request.url.raw_path.decode()
    ts = request.headers["KC-API-TIMESTAMP"]
    expected = sign(creds.secret, prehash(ts, request.method, target, request.content))
    assert request.headers["KC-API-SIGN"] == expected
    assert request.headers["KC-API-KEY"] == creds.key
    assert request.headers["KC-API-PASSPHRASE"] == sign_passphrase(creds)


def test_url_resolution(monkeypatch):
    """url= wins, then $KUNB_URL, then KuCoin's production URL; trailing slash dropped."""
    monkeypatch.delenv("KUNB_URL", raising=False)
    assert Market().url == DEFAULT_URL
    monkeypatch.setenv("KUNB_URL", "http://127.0.0.1:1234/")
    assert Market().url == "http://127.0.0.1:1234"
    assert Market(url="http://localhost:5").url == "http://localhost:5"
    with pytest.raises(ConfigurationError):
        Market(url="api.kucoin.com")


def test_sdk_positional_and_keyword_construction(monkeypatch):
    """KuCoin SDK's order (key, secret, passphrase, url, is_v1api) and the seed's is_sandbox=False work."""
    monkeypatch.delenv("KUCOIN_API_KEY", raising=False)
    u = User(KEY, SECRET, PASS, URL, True)
    assert u.credentials == Credentials(KEY, SECRET, PASS, key_version=1)
    u = User(key=KEY, secret=SECRET, passphrase=PASS, is_sandbox=False, url=URL)
    assert u.credentials.key_version == 2 and u.url == URL
    with pytest.raises(ConfigurationError):
        User(key=KEY, secret=SECRET, passphrase=PASS, is_sandbox=True)
    assert Market().credentials is None


def test_credentials_from_env(monkeypatch):
    """With no credentials passed, KUCOIN_API_* are used."""
    monkeypatch.setenv("KUCOIN_API_KEY", KEY)
    monkeypatch.setenv("KUCOIN_API_SECRET", SECRET)
    monkeypatch.setenv("KUCOIN_API_PASSPHRASE", PASS)
    rec = Recorder([])
    user = make(User, rec)
    user.get_account_list()
    assert_signed(rec.last, Credentials(KEY, SECRET, PASS))


def test_refuses_credentials_over_plain_http_to_remote_host(monkeypatch):
    """Credentials with http:// to a non-loopback host are refused before any request."""
    monkeypatch.delenv("KUNB_URL", raising=False)
    with pytest.raises(InsecureTransportError):
        User(KEY, SECRET, PASS, url="http://example.com")
    Market(url="http://example.com")  # public only: allowed


def test_repr_hides_secrets():
    """The client's repr shows neither key, secret nor passphrase."""
    text = repr(make(Trade, Recorder(), key=KEY, secret=SECRET, passphrase=PASS))
    assert "credentials=set" in text
    for secret in (KEY, SECRET, PASS):
        assert secret not in text


def test_public_call_sync_not_signed_and_query_as_sent():
    """A market call returns data, sends a sorted query, and carries no KC-API headers."""
    rec = Recorder({"candles": 1})
    m = make(Market, rec, key=KEY, secret=SECRET, passphrase=PASS)
    assert m.get_kline("BTC-USDT", "1min", startAt=10, endAt=20) == {"candles": 1}
    req = rec.last
    assert req.method == "GET"
    assert req.url.raw_path == b"/api/v1/market/candles?endAt=20&startAt=10&symbol=BTC-USDT&type=1min"
    assert not any(h.lower().startswith("kc-api") for h in req.headers)


async def test_public_call_async_twin():
    """Every endpoint has an awaitable a-prefixed twin with the same result."""
    rec = Recorder({"price": "1"})
    m = make(Market, rec)
    assert await m.aget_ticker("BTC-USDT") == {"price": "1"}
    assert rec.last.url.params["symbol"] == "BTC-USDT"
    assert m.get_ticker("BTC-USDT") == {"price": "1"}
    await m.aclose()


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda m: m.get_symbol_list(), "GET", "/api/v2/symbols"),
        (lambda m: m.get_symbol_detail("BTC-USDT"), "GET", "/api/v2/symbols/BTC-USDT"),
        (lambda m: m.get_all_tickers(), "GET", "/api/v1/market/allTickers"),
        (lambda m: m.get_24h_stats("BTC-USDT"), "GET", "/api/v1/market/stats"),
        (lambda m: m.get_part_order(20, "BTC-USDT"), "GET", "/api/v1/market/orderbook/level2_20"),
        (lambda m: m.get_part_order(100, "BTC-USDT"), "GET", "/api/v1/market/orderbook/level2_100"),
        (lambda m: m.get_trade_histories("BTC-USDT"), "GET", "/api/v1/market/histories"),
        (lambda m: m.get_server_timestamp(), "GET", "/api/v1/timestamp"),
    ],
)
def test_market_endpoints(call, method, path):
    """Market methods hit KuCoin's documented paths."""
    rec = Recorder()
    call(make(Market, rec))
    assert rec.last.method == method and rec.last.url.path == path


def test_part_order_rejects_other_depths():
    """Only the 20 and 100 level snapshots exist."""
    with pytest.raises(ConfigurationError):
        make(Market, Recorder()).get_part_order(50, "BTC-USDT")


def test_full_book_is_signed_and_needs_credentials(monkeypatch):
    """The v3 full book is a signed call; without credentials it fails clearly before sending."""
    monkeypatch.delenv("KUCOIN_API_KEY", raising=False)
    rec = Recorder({"bids": [], "asks": []})
    creds = Credentials(KEY, SECRET, PASS)
    make(Market, rec, credentials=creds).get_aggregated_orderv3("BTC-USDT")
    assert_signed(rec.last, creds)
    assert rec.last.url.path == "/api/v3/market/orderbook/level2"
    with pytest.raises(ConfigurationError):
        make(Market, rec).get_aggregated_orderv3("BTC-USDT")
    assert len(rec.requests) == 1


async def test_orders_signed_compact_body():
    """Orders are signed over the exact compact JSON body sent, with a generated clientOid."""
    rec = Recorder({"orderId": "o1"})
    creds = Credentials(KEY, SECRET, PASS)
    t = make(Trade, rec, credentials=creds)
    assert t.create_limit_order("BTC-USDT", "buy", "0.1", "100") == {"orderId": "o1"}
    body = rec.last.content
    assert b" " not in body
    sent = json.loads(body)
    assert sent["type"] == "limit" and sent["price"] == "100" and len(sent["clientOid"]) == 32
    assert rec.last.headers["Content-Type"] == "application/json"
    assert_signed(rec.last, creds)
    await t.acreate_market_order("BTC-USDT", "sell", funds="5", clientOid="mine")
    sent = json.loads(rec.last.content)
    assert sent == {"symbol": "BTC-USDT", "side": "sell", "type": "market", "funds": "5", "clientOid": "mine"}
    assert_signed(rec.last, creds)
    await t.aclose()


async def test_order_numbers_are_sent_in_plain_notation():
    """A float or Decimal size/price goes out without an exponent (``str(0.00001)`` is ``"1e-05"``)."""
    rec = Recorder({"orderId": "o1"})
    t = make(Trade, rec, credentials=Credentials(KEY, SECRET, PASS))
    t.create_limit_order("BTC-USDT", "buy", 0.00001, Decimal("3E+4"))
    sent = json.loads(rec.last.content)
    assert (sent["size"], sent["price"]) == ("0.00001", "30000")
    await t.acreate_market_order("BTC-USDT", "buy", funds=Decimal("1E-7"))
    assert json.loads(rec.last.content)["funds"] == "0.0000001"
    with pytest.raises(ConfigurationError):
        t.create_limit_order("BTC-USDT", "buy", float("nan"), "1")
    await t.aclose()


def test_market_order_needs_exactly_one_of_size_funds():
    """size and funds are mutually exclusive and one is required."""
    t = make(Trade, Recorder(), key=KEY, secret=SECRET, passphrase=PASS)
    with pytest.raises(ConfigurationError):
        t.create_market_order("BTC-USDT", "buy")
    with pytest.raises(ConfigurationError):
        t.create_market_order("BTC-USDT", "buy", size="1", funds="2")


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda t: t.cancel_order("abc"), "DELETE", "/api/v1/orders/abc"),
        (lambda t: t.cancel_all_orders(symbol="BTC-USDT"), "DELETE", "/api/v1/orders"),
        (lambda t: t.cancel_client_order("c1"), "DELETE", "/api/v1/order/client-order/c1"),
        (lambda t: t.get_order_list(status="active"), "GET", "/api/v1/orders"),
        (lambda t: t.get_order_details("abc"), "GET", "/api/v1/orders/abc"),
        (lambda t: t.get_fill_list("TRADE"), "GET", "/api/v1/fills"),
        (lambda t: t.get_recent_fills(), "GET", "/api/v1/limit/fills"),
        (lambda t: t.create_limit_hf_order("A-B", "buy", "1", "2"), "POST", "/api/v1/hf/orders"),
    ],
)
def test_trade_endpoints_signed(call, method, path):
    """Trade methods hit KuCoin's paths and every one is signed over what was sent."""
    rec = Recorder()
    creds = Credentials(KEY, SECRET, PASS)
    call(make(Trade, rec, credentials=creds))
    assert rec.last.method == method and rec.last.url.path == path
    assert_signed(rec.last, creds)


def test_account_list_filters():
    """get_account_list sends currency and type only when given."""
    rec = Recorder([])
    u = make(User, rec, key=KEY, secret=SECRET, passphrase=PASS)
    u.get_account_list()
    assert rec.last.url.query == b""
    u.get_account_list("USDT", "trade")
    assert dict(rec.last.url.params) == {"currency": "USDT", "type": "trade"}


def test_v1_key_sends_plain_passphrase_without_version_header():
    """is_v1api signs as key version 1: plain passphrase, no KC-API-KEY-VERSION."""
    rec = Recorder([])
    make(User, rec, key=KEY, secret=SECRET, passphrase=PASS, is_v1api=True).get_account_list()
    assert rec.last.headers["KC-API-PASSPHRASE"] == PASS
    assert "KC-API-KEY-VERSION" not in rec.last.headers


def test_ws_token_public_and_private():
    """Every client fetches tokens: public unsigned POST with empty body, private signed."""
    token = {"token": "t", "instanceServers": []}
    rec = Recorder(token)
    creds = Credentials(KEY, SECRET, PASS)
    for cls in (Market, User, Trade, GetToken, WsToken):
        assert make(cls, rec, credentials=creds).get_ws_token() == token
        assert rec.last.url.path == "/api/v1/bullet-public" and rec.last.content == b""
        assert "KC-API-SIGN" not in rec.last.headers
    make(User, rec, credentials=creds).get_ws_token(is_private=True)
    assert rec.last.url.path == "/api/v1/bullet-private" and rec.last.method == "POST"
    assert_signed(rec.last, creds)


async def test_ws_token_async():
    """aget_ws_token is the non-blocking twin the WebSocket layer uses."""
    rec = Recorder({"token": "t", "instanceServers": []})
    g = make(GetToken, rec)
    assert (await g.aget_ws_token(False))["token"] == "t"
    await g.aclose()


def test_empty_data_returned_as_is():
    """An empty data list comes back as [], not as the envelope (unlike KuCoin's SDK)."""
    assert make(Market, Recorder([])).get_all_tickers() == []


@pytest.mark.parametrize(
    ("status", "body", "exc", "code"),
    [
        (401, {"code": "400005", "msg": "Invalid KC-API-SIGN"}, AuthenticationError, "400005"),
        (200, {"code": "400100", "msg": "Parameter Error"}, ApiError, "400100"),
        (200, {"code": "200004", "msg": "Balance insufficient!"}, OrderError, "200004"),
        (429, {"code": "429000", "msg": "Too many requests"}, ApiError, "429000"),
        (503, None, ApiError, "503"),
    ],
)
def test_errors_are_typed_with_code_msg_status(status, body, exc, code):
    """KuCoin error envelopes and non-JSON HTTP errors raise ApiError subclasses with code/msg/status."""
    raw = b"<html>bad gateway</html>" if body is None else json.dumps(body).encode()
    m = make(Market, Recorder(status=status, body=raw))
    with pytest.raises(exc) as info:
        m.get_ticker("BTC-USDT")
    assert info.value.code == code and info.value.status == status
    if body:
        assert info.value.msg == body["msg"]


def test_non_json_success_is_protocol_error():
    """A 200 response that is not JSON is a ProtocolError."""
    with pytest.raises(ProtocolError):
        make(Market, Recorder(body=b"not json")).get_ticker("X-Y")


def test_transport_errors_chained():
    """Network failures raise TransportError/RequestTimeout with the httpx error as __cause__."""

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(TransportError) as info:
        make(Market, refuse).get_ticker("BTC-USDT")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    with pytest.raises(RequestTimeout) as info2:
        make(Market, slow).get_ticker("BTC-USDT")
    assert isinstance(info2.value.__cause__, httpx.ReadTimeout)


async def test_async_transport_errors_chained():
    """The async path translates errors the same way."""

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    m = make(Market, refuse)
    with pytest.raises(TransportError) as info:
        await m.aget_ticker("BTC-USDT")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    await m.aclose()


async def test_async_only_transport_refuses_sync_calls():
    """An ASGI-style async-only transport serves a* methods and refuses blocking ones clearly."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"code":"200000","data":1}'})

    m = Market(url=URL, transport=httpx.ASGITransport(app=app))
    assert await m.aget_server_timestamp() == 1
    with pytest.raises(ConfigurationError):
        m.get_server_timestamp()
    await m.aclose()


def test_context_managers_close():
    """with-blocks close the HTTP client."""
    rec = Recorder()
    with make(Market, rec) as m:
        m.get_server_status()
        assert m._sync is not None
    assert m._sync is None


def test_env_credentials_checked_only_when_signing(monkeypatch):
    """Keys from the environment do not stop a public client on a plain-http remote URL; a signed call
    through it is refused before sending."""
    monkeypatch.setenv("KUCOIN_API_KEY", KEY)
    monkeypatch.setenv("KUCOIN_API_SECRET", SECRET)
    monkeypatch.setenv("KUCOIN_API_PASSPHRASE", PASS)
    rec = Recorder()
    m = Market(url="http://example.com", transport=httpx.MockTransport(rec))
    m.get_ticker("BTC-USDT")
    with pytest.raises(InsecureTransportError):
        m.get_aggregated_orderv3("BTC-USDT")
    assert len(rec.requests) == 1


@pytest.mark.parametrize("client", [Market, User, Trade, GetToken])
def test_every_endpoint_has_an_awaitable_twin_with_the_same_signature(client: type) -> None:
    """``name`` and ``aname`` are real methods (IDEs and type checkers see them) taking the same arguments."""
    import inspect

    endpoints = [
        name
        for name, member in inspect.getmembers(client, inspect.isfunction)
        if not name.startswith("_") and not inspect.iscoroutinefunction(member) and name not in ("close",)
    ]
    assert "get_ws_token" in endpoints
    for name in endpoints:
        twin = getattr(client, f"a{name}")
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(twin) == inspect.signature(getattr(client, name)), name
    for name, _member in inspect.getmembers(client, inspect.iscoroutinefunction):
        if not name.startswith("_") and name not in ("aclose",):
            assert name[1:] in endpoints, f"{name} has no blocking twin"
