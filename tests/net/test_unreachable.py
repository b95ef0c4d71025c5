"""No exchange to reach: a first connection that cannot be made fails within about two seconds of its
first failed dial, as a TransportError naming the host with the cause chained (refused, TLS); REST fails
at once and names the host; with ``open_timeout=None`` (live panels) a stream keeps redialing and says
why. Later outages of a connection that was live keep reconnecting (tests/test_ws_client.py)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

import pytest
from support import seconds, until

from kunb.client import Market
from kunb.exceptions import TransportError
from kunb.net.connection import ConnectionState, ConnectWebsocket
from kunb.sources.base import LinkStatus
from kunb.stream import Stream, StreamState
from kunb.ws_client import KucoinWsClient

# The old behaviour waited for request_timeout / open_timeout (10 s by default) before saying anything:
# set far beyond the deadline below, so only a fast failure passes.
PATIENT = 60.0
DEADLINE = 6.0  # the grace (2 s) after the first failed dial, plus slack for a busy machine


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port that refuses connections (bound, not listening, for the whole test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and every exception chained under it."""
    out = []
    seen: BaseException | None = error
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


async def test_rest_fails_at_once_naming_the_host(dead_url: str) -> None:
    async with Market(url=dead_url) as m:
        with pytest.raises(TransportError) as info:
            await asyncio.wait_for(m.aget_ticker("BTC-USDT"), seconds(DEADLINE))
    assert dead_url in str(info.value), str(info.value)
    assert any(isinstance(c, ConnectionRefusedError) for c in causes(info.value))
    with Market(url=dead_url) as m, pytest.raises(TransportError) as blocking:
        await asyncio.to_thread(m.get_ticker, "BTC-USDT")
    assert dead_url in str(blocking.value), str(blocking.value)


async def test_subscribe_with_no_exchange_fails_fast_with_the_cause(dead_url: str) -> None:
    market = Market(url=dead_url)
    async with await KucoinWsClient.create(None, market, print, request_timeout=PATIENT) as ws:
        with pytest.raises(TransportError) as info:
            await asyncio.wait_for(ws.subscribe("/market/ticker:BTC-USDT"), seconds(DEADLINE))
        assert ws.state is ConnectionState.CLOSED
    await market.aclose()
    assert dead_url in str(info.value), str(info.value)
    assert any(isinstance(c, ConnectionRefusedError) for c in causes(info.value))


async def test_stream_start_with_no_exchange_fails_fast_with_the_cause(dead_url: str) -> None:
    stream = Stream(["BTC-USDT"], url=dead_url, open_timeout=PATIENT)
    with pytest.raises(TransportError) as info:
        await asyncio.wait_for(stream.astart(), seconds(DEADLINE))
    assert stream.state is StreamState.CLOSED and stream.error is info.value
    assert dead_url in str(info.value) and "not connected within" not in str(info.value)
    assert any(isinstance(c, ConnectionRefusedError) for c in causes(info.value))


class _Bullet:
    """A token client whose bullet names a WebSocket endpoint that refuses connections."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def aget_ws_token(self, is_private: bool = False) -> dict[str, object]:
        return {"token": "t", "instanceServers": [{"endpoint": self.endpoint, "pingInterval": 18000}]}


async def test_a_refused_websocket_endpoint_fails_fast_with_the_cause(dead_url: str) -> None:
    endpoint = dead_url.replace("http://", "ws://")
    conn = ConnectWebsocket(None, _Bullet(endpoint), print, request_timeout=PATIENT)
    try:
        with pytest.raises(TransportError) as info:
            await asyncio.wait_for(conn.wait_live(PATIENT), seconds(DEADLINE))
    finally:
        await conn.close()
    assert endpoint.removeprefix("ws://") in str(info.value), str(info.value)
    assert any(isinstance(c, ConnectionRefusedError) for c in causes(info.value))


async def test_tls_to_a_plain_server_fails_fast_with_the_tls_error(exchange) -> None:
    """https:// to the embedded exchange (plain HTTP): the TLS handshake fails, and says so."""
    url = exchange.url.replace("http://", "https://")
    stream = Stream(["BTC-USDT"], url=url, open_timeout=PATIENT)
    with pytest.raises(TransportError) as info:
        await asyncio.wait_for(stream.astart(), seconds(DEADLINE))
    assert any(isinstance(c, ssl.SSLError) for c in causes(info.value)), causes(info.value)


async def test_with_open_timeout_none_a_stream_keeps_redialing_and_says_why(dead_url: str) -> None:
    """Live panels start their streams with open_timeout=None: past the grace they keep trying, and
    the link says why they cannot connect (the badge shows it)."""
    stream = Stream(["BTC-USDT"], url=dead_url, open_timeout=None, backoff_base=0.05, backoff_cap=0.1)
    start = asyncio.get_running_loop().create_task(stream.astart())
    try:
        await until(lambda: stream.link is LinkStatus.UNREACHABLE, timeout=DEADLINE)
        assert "refused" in stream.link_detail.lower() or "connect" in stream.link_detail.lower()
        conn = stream.connection.connections[0]
        # 45 redials at >= 0.025 s, then >= 0.05 s each (half of each nominal delay) take over 2.2 s
        await until(lambda: conn.counters.reconnects >= 45, timeout=20)
        assert not start.done() and stream.state is StreamState.STARTING
        assert conn.state is ConnectionState.CONNECTING
    finally:
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        await stream.aclose()
