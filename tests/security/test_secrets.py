"""No secret leaks: key, secret, passphrase, computed signatures and WebSocket tokens never appear in a
log record (every logger, DEBUG), an exception text or the repr/str of a public object, through every
private flow (signed REST, private WebSocket, orders, Account with a reconnect, Stream on the signed
v3 book, error paths such as a bad passphrase). Credentials are refused over clear text to a
non-loopback host before anything is sent, and pickling credentials keeps no secret.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import secrets
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import until

import kunb.signing
from kunb.account import Account
from kunb.client import Market, Trade, User
from kunb.exceptions import AuthenticationError, ConfigurationError, InsecureTransportError, KunbError
from kunb.net.connection import ConnectionState, ConnectWebsocket
from kunb.signing import Credentials
from kunb.stream import Stream
from kunb.ws_client import KucoinWsClient

TIMEOUT = 15.0
FAST = {"backoff_base": 0.05, "backoff_cap": 0.5, "stable_after": 0.5, "request_timeout": 5.0}


class Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@contextlib.contextmanager
def all_logs_at_debug() -> Iterator[Capture]:
    capture = Capture()
    manager = logging.root.manager
    saved: dict[logging.Logger, int] = {}
    attached: list[logging.Logger] = []
    loggers = [logging.root, *(lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    for lg in loggers:
        saved[lg] = lg.level
        lg.setLevel(logging.DEBUG)
        if lg is logging.root or not lg.propagate:
            lg.addHandler(capture)
            attached.append(lg)
    try:
        yield capture
    finally:
        for lg in attached:
            lg.removeHandler(capture)
        for lg, level in saved.items():
            lg.setLevel(level)


class Secrets:
    """What must never show: the credentials, every signature computed, every token issued."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, exchange: Any, *credentials: Credentials) -> None:
        self.values: set[str] = set()
        for c in credentials:
            self.values |= {c.key, c.secret, c.passphrase}
        self.signatures: set[str] = set()
        self.tokens: set[str] = set()
        real_sign = kunb.signing.sign

        def sign(secret: str, message: str) -> str:
            out = real_sign(secret, message)
            self.signatures.add(out)
            return out

        monkeypatch.setattr(kunb.signing, "sign", sign)
        issue = exchange.tokens.issue

        def record_issue(*args: Any, **kwargs: Any) -> Any:
            token = issue(*args, **kwargs)
            self.tokens.add(token.value)
            return token

        monkeypatch.setattr(exchange.tokens, "issue", record_issue)

    def all(self) -> set[str]:
        return self.values | self.signatures | self.tokens

    def leaks(self, texts: list[str]) -> list[tuple[str, str]]:
        return [(s[:4] + "...", t[:300]) for t in texts for s in self.all() if s and s in t]


def fresh_credentials() -> Credentials:
    # long random values: no accidental match with ordinary log text
    return Credentials(
        f"key{secrets.token_hex(12)}", f"sec{secrets.token_hex(16)}", f"pw{secrets.token_hex(8)}"
    )


def exception_texts(exc: BaseException) -> list[str]:
    return ["".join(traceback.format_exception(exc)), str(exc), repr(exc)]


async def test_private_flows_at_debug_leak_no_secret(exchange, monkeypatch) -> None:
    good = exchange.create_account(credentials=fresh_credentials(), balances={"USDT": "100000", "BTC": "5"})
    wrong = Credentials(good.key, good.secret, good.passphrase + "x")
    stranger = fresh_credentials()  # a key the exchange does not know
    found = Secrets(monkeypatch, exchange, good, wrong, stranger)
    texts: list[str] = []
    objects: list[Any] = []
    with all_logs_at_debug() as logs:
        user = User(credentials=good, url=exchange.url)
        trade = Trade(credentials=good, url=exchange.url)
        market = Market(credentials=good, url=exchange.url)
        objects += [good, wrong, stranger, user, trade, market]
        # signed REST
        assert await user.aget_account_list()
        await market.aget_aggregated_orderv3("BTC-USDT")
        bid = float((await market.aget_ticker("BTC-USDT"))["bestBid"])
        # private WebSocket + order placement + a reconnect
        got: list[dict] = []
        ws = await KucoinWsClient.create(None, user, got.append, private=True, **FAST)
        account = Account(good, url=exchange.url, **FAST)
        stream = Stream("BTC-USDT", url=exchange.url, credentials=good, market=market, **FAST)
        objects += [ws, account, stream]
        async with ws, account, stream:
            await ws.subscribe(["/account/balance", "/spotMarket/tradeOrders"])
            await account.wait_live(TIMEOUT)
            await stream.wait_live(TIMEOUT)
            order = await trade.acreate_limit_order("BTC-USDT", "buy", "0.01", f"{bid * 0.9:.1f}")
            await until(lambda: any(m["data"].get("orderId") == order["orderId"] for m in got))
            await until(lambda: account.order(order["orderId"]) is not None)
            exchange.faults.disconnect(abrupt=True)
            await until(lambda: ws.counters.reconnects >= 1 and ws.state is ConnectionState.LIVE)
            await until(lambda: account.counters.reseeds >= 1)
            await trade.acancel_order(order["orderId"])
            exchange.faults.expire_tokens()  # next dial: 401 "token is expired", then a fresh token
            exchange.faults.disconnect(abrupt=True)
            await until(lambda: ws.counters.reconnects >= 2 and ws.state is ConnectionState.LIVE)
            objects += [*ws.connections, account.counters, ws.counters, stream.books["BTC-USDT"]]
            texts += [repr(e) for e in (account.error, stream.error) if e is not None]
        # error paths: bad passphrase, unknown key, over REST and on the private WebSocket
        for creds in (wrong, stranger):
            bad_user = User(credentials=creds, url=exchange.url)
            with pytest.raises(AuthenticationError) as info:
                await bad_user.aget_account_list()
            texts += exception_texts(info.value)
            bad_ws = await KucoinWsClient.create(None, bad_user, got.append, private=True, **FAST)
            with pytest.raises(KunbError) as info:
                await bad_ws.wait_live(TIMEOUT)
            texts += exception_texts(info.value)
            objects += [bad_user, bad_ws, *bad_ws.connections]
            await bad_ws.close()
            await bad_user.aclose()
            bad_account = Account(creds, url=exchange.url, **FAST)
            with pytest.raises(KunbError) as info:
                await bad_account.astart()
                await bad_account.wait_live(TIMEOUT)
            texts += exception_texts(info.value)
            objects.append(bad_account)
            await bad_account.aclose()
        for client in (user, trade, market):
            await client.aclose()
    assert found.signatures and len(found.tokens) >= 3  # the scan looked for something real
    texts += logs.texts + [repr(o) for o in objects] + [str(o) for o in objects]
    assert len(logs.texts) > 50  # DEBUG really was on (websockets' wire logs, kunb's own)
    canary = [
        f"x {good.passphrase} y",
        f"GET /?token={next(iter(found.tokens))}",
        next(iter(found.signatures)),
    ]
    assert len(found.leaks(canary)) == 3  # the scan does find what it looks for
    print(f"scanned {len(texts)} texts for {len(found.all())} secrets ({len(found.tokens)} tokens)")
    assert found.leaks(texts) == []


def test_pickled_credentials_keep_no_secret_and_refuse_to_sign() -> None:
    creds = fresh_credentials()
    blob = pickle.dumps(creds)
    for value in (creds.key, creds.secret, creds.passphrase):
        assert value.encode() not in blob
    back = pickle.loads(blob)
    assert not back.is_complete
    with pytest.raises(ConfigurationError):
        kunb.signing.auth_headers(back, "GET", "/api/v1/accounts", timestamp_ms=1)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})):
        assert creds.secret not in text and creds.key not in text and creds.passphrase not in text


def test_pickling_a_client_keeps_no_secret() -> None:
    creds = fresh_credentials()
    trade = Trade(credentials=creds, url="https://api.kucoin.com")
    try:
        blob = pickle.dumps(trade)
    except (TypeError, pickle.PicklingError, AttributeError):
        return  # not picklable at all is fine too
    for value in (creds.key, creds.secret, creds.passphrase):
        assert value.encode() not in blob


class Recorder(httpx.BaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"code": "200000", "data": {}})


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.7:8080", "http://[2001:db8::1]"])
def test_credentials_over_clear_text_to_a_remote_host_are_refused_before_sending(url, monkeypatch) -> None:
    creds = fresh_credentials()
    transport = Recorder()
    with pytest.raises(InsecureTransportError) as info:
        Trade(credentials=creds, url=url, transport=transport)
    assert "https" in str(info.value) and creds.key not in str(info.value)
    # keys from the environment are checked when a call is signed: still nothing sent
    monkeypatch.setenv("KUCOIN_API_KEY", creds.key)
    monkeypatch.setenv("KUCOIN_API_SECRET", creds.secret)
    monkeypatch.setenv("KUCOIN_API_PASSPHRASE", creds.passphrase)
    user = User(url=url, transport=transport)
    with pytest.raises(InsecureTransportError):
        user.get_account_list()
    with pytest.raises(InsecureTransportError):
        user.get_ws_token(True)
    assert transport.requests == []
    # a public call carries no credentials: allowed, and unsigned
    Market(url=url, transport=transport).get_server_timestamp()
    assert len(transport.requests) == 1
    assert not any(h.lower().startswith("kc-api") for h in transport.requests[0].headers)
    user.close()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1", "https://x.example"]
)
def test_credentials_to_loopback_or_over_tls_are_allowed(url) -> None:
    transport = Recorder()
    User(credentials=fresh_credentials(), url=url, transport=transport).get_account_list()
    assert len(transport.requests) == 1 and "KC-API-SIGN" in transport.requests[0].headers


async def test_private_token_is_not_sent_over_ws_to_a_remote_host() -> None:
    """A bullet naming ws:// on a non-loopback host: the private connection ends with
    InsecureTransportError and no socket is ever opened."""
    dials: list[int] = []

    class Tokens:
        async def aget_ws_token(self, is_private: bool = False) -> dict[str, Any]:
            return {
                "token": "tok-" + secrets.token_hex(8),
                "instanceServers": [{"endpoint": "ws://203.0.113.9/"}],
            }

    def sock():
        dials.append(1)
        raise AssertionError("a socket was requested")

    conn = ConnectWebsocket(None, Tokens(), lambda m: None, private=True, sock=sock, **FAST)
    try:
        with pytest.raises(InsecureTransportError):
            await conn.wait_live(TIMEOUT)
        assert dials == [] and conn.state is ConnectionState.CLOSED
    finally:
        await conn.close()


async def test_notebook_account_output_leaks_no_secret(exchange, monkeypatch) -> None:
    """What a notebook shows of an account (panel HTML, reprs, snapshot) through a reconnect."""
    import kunb.notebook as nb
    from kunb.notebook.live import Health

    good = exchange.create_account(credentials=fresh_credentials(), balances={"USDT": "50000", "BTC": "1"})
    found = Secrets(monkeypatch, exchange, good)
    with all_logs_at_debug() as logs:
        live = nb.live_account(good, url=exchange.url, max_hz=50)
        try:
            await until(lambda: live.health is Health.LIVE and live.seeded)
            async with Trade(credentials=good, url=exchange.url) as trade:
                placed = await trade.acreate_market_order("BTC-USDT", "buy", funds="50")
            await until(lambda: f'data-order-id="{placed["orderId"]}"' in live.panel.orders.value)
            exchange.faults.disconnect(abrupt=True)
            await until(lambda: live.snapshot()["reseeds"] >= 1 and live.health is Health.LIVE)
            shown = [live.panel.balances.value, live.panel.orders.value, repr(live), str(live.snapshot())]
            bundle = getattr(live, "_repr_mimebundle_", None)
            if bundle is not None:
                shown.append(repr(bundle()))
        finally:
            await live.aclose()
    assert found.signatures and found.tokens
    assert found.leaks(shown + logs.texts) == []
