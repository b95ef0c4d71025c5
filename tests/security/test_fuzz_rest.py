"""Hostile REST answers to kunb.client, and hostile requests to kunb.sim's REST app.

Client: any status, content type and body (not JSON, JSON that is not an envelope, envelopes with odd
code/msg types, huge numbers) gives ``data`` only for a 200 with a success code, else a KunbError
subclass; nothing else escapes. Simulator: bad JSON, huge bodies, wrong content types, bad query
params and odd paths never produce a 500 or stop the server for other clients.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hostile import dumps, fuzz, json_values
from hypothesis import given
from hypothesis import strategies as st

from kunb.client import Market, Trade
from kunb.exceptions import ApiError, KunbError, ProtocolError

ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(["200000", "200", "400100", "429000", "400005"]) | json_values,
        "data": json_values,
        "msg": json_values,
    },
)
BODIES = st.one_of(
    ENVELOPES.map(dumps),
    json_values.map(dumps),
    st.binary(max_size=40),
    st.sampled_from([b"", b"<html>502 Bad Gateway</html>", b'{"code":"200000","data":' + b"[" * 2000]),
)
STATUS = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503])
CTYPE = st.sampled_from(["application/json", "text/html", "application/octet-stream", ""])


@fuzz(3000)
@given(STATUS, CTYPE, BODIES)
def test_client_returns_data_or_raises_a_kunb_error(status: int, ctype: str, body: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": ctype} if ctype else {}
        return httpx.Response(status, content=body, headers=headers)

    market = Market(url="http://127.0.0.1:1", transport=httpx.MockTransport(answer))
    try:
        data = market.get_ticker("BTC-USDT")
    except ApiError as exc:
        assert isinstance(exc.code, str) and isinstance(exc.msg, str)
        assert str(exc)
    except ProtocolError as exc:
        assert str(exc)  # not JSON on a 200, or JSON that is not an envelope
    else:
        import orjson

        envelope = orjson.loads(body)
        assert status == 200 and str(envelope["code"]) in ("200000", "200")
        assert data == envelope.get("data")
    finally:
        market.close()


async def test_client_async_path_raises_the_same_typed_errors() -> None:
    bodies = [b"not json", b"[1,2]", b'{"code":400100,"msg":{"x":1}}', b'{"code":"200000"}']
    seen: list[type[BaseException] | None] = []
    for body in bodies:
        transport = httpx.MockTransport(lambda r, body=body: httpx.Response(200, content=body))
        async with Market(url="http://127.0.0.1:1", transport=transport) as market:
            try:
                await market.aget_ticker("BTC-USDT")
                seen.append(None)
            except KunbError as exc:
                seen.append(type(exc))
    assert seen[0] is ProtocolError and seen[1] is ProtocolError
    assert seen[2] is not None and issubclass(seen[2], ApiError)
    assert seen[3] is None  # a success envelope without data is data=None, not an error


# -- the simulator's REST inputs ------------------------------------------------------------------

PATHS = st.sampled_from(
    [
        "/api/v1/market/orderbook/level1",
        "/api/v1/market/orderbook/level2_20",
        "/api/v1/market/candles",
        "/api/v1/market/histories",
        "/api/v1/market/stats",
        "/api/v2/symbols/BTC-USDT",
        "/api/v1/orders",
        "/api/v1/hf/orders",
        "/api/v1/accounts",
        "/api/v1/bullet-public",
        "/api/v1/bullet-private",
        "/admin/faults/disconnect",
        "/api/v1/%ff%fe",
        "/" + "a" * 3000,
    ]
)
PARAMS = st.dictionaries(
    st.sampled_from(["symbol", "type", "startAt", "endAt", "currentPage", "pageSize", "x"]),
    st.text(max_size=12) | st.sampled_from(["9" * 40, "-1", "nan", "BTC-USDT", "1min", "0"]),
    max_size=4,
)
_HEADER_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=8)  # what h11 sends
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(["application/json", "text/plain", "multipart/form-data", "x/y"]),
        "KC-API-KEY": _HEADER_TEXT,
        "KC-API-SIGN": _HEADER_TEXT,
        "KC-API-TIMESTAMP": st.sampled_from(["0", "-1", "9" * 30, "abc"]),
        "KC-API-PASSPHRASE": _HEADER_TEXT,
        "KC-API-KEY-VERSION": st.sampled_from(["1", "2", "3", "99", "x"]),
    },
)


@pytest.fixture(scope="module")
def sim():
    """A started exchange on its own loop thread (hypothesis tests are synchronous)."""
    from kunb.sim import start

    handle = start(make_default=False, seed=5, symbols=["BTC-USDT"], tick_ms=50)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def http(sim):
    with httpx.Client(base_url=sim.url, timeout=10) as client:  # keep-alive: one connection for all examples
        yield client


@fuzz(3000)
@given(
    st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    PATHS,
    PARAMS,
    HEADERS,
    BODIES | st.just(b"x" * 200_000),
)
def test_sim_rest_never_fails_with_a_server_error(
    http, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    response = http.request(method, path, params=params, headers=headers, content=body)
    assert response.status_code < 500, (response.status_code, response.text[:200])
    envelope = response.json()
    assert isinstance(envelope, dict) and isinstance(envelope.get("code"), str)
    # the server is still there for everyone else
    assert http.get("/api/v1/timestamp").json()["code"] == "200000"


def test_sim_refuses_a_huge_signed_body_without_reading_it_all(sim) -> None:
    """A 5 MB order body is answered 413 (the limit is checked while streaming)."""
    creds = sim.credentials
    trade = Trade(credentials=creds, url=sim.url)
    try:
        with pytest.raises(ApiError) as info:
            trade.create_limit_order("BTC-USDT", "buy", "1", "1", remark="x" * 5_000_000)
        assert info.value.status == 413
        assert Market(url=sim.url).get_server_timestamp() > 0
    finally:
        trade.close()


async def test_sim_rest_answers_others_during_a_slow_body_upload(exchange) -> None:
    """A client that trickles a body (slowloris) does not block other requests."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", int(exchange.url.rsplit(":", 1)[1]))
    try:
        writer.write(b"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{")
        await writer.drain()
        async with httpx.AsyncClient(base_url=exchange.url, timeout=5) as client:
            for _ in range(5):
                r = await client.get("/api/v1/market/orderbook/level1", params={"symbol": "BTC-USDT"})
                assert r.json()["code"] == "200000"
    finally:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 5)
