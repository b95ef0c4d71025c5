"""The wire tap (kunb.net.wire): a connection tells it of every dial, frame received (as it came off the
socket, with the local time) and sent, and of every link end; a REST client of every answer. Without a
tap the hot path is the plain closure."""

from __future__ import annotations

import time
from typing import Any

from support import until

from kunb.net.connection import ConnectionState, ConnectWebsocket
from kunb.net.rest import Market

FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 5.0}


class Tap:
    """Keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def received(self, connection: str, received_ns: int, frames: tuple[bytes | str, ...]) -> None:
        assert frames, "a read with no frames is not told"
        self.calls.extend(("recv", connection, received_ns, frame) for frame in frames)

    def sent(self, connection: str, sent_ns: int, frame: bytes | str) -> None:
        self.calls.append(("sent", connection, sent_ns, frame))

    def rest(
        self, connection: str, received_ns: int, method: str, url: str, status: int, body: bytes | str
    ) -> None:
        self.calls.append(("rest", connection, received_ns, method, url, status, body))

    def opened(self, connection: str, ns: int, url: str) -> None:
        self.calls.append(("open", connection, ns, url))

    def closed(self, connection: str, ns: int, code: int | None = None, reason: str = "") -> None:
        self.calls.append(("close", connection, ns, reason))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


async def test_a_connection_tells_the_tap_everything_across_a_reconnect(exchange) -> None:
    tap = Tap()
    messages: list[dict[str, Any]] = []
    before = time.time_ns()
    async with Market(url=exchange.url) as market:
        conn = ConnectWebsocket(None, market, messages.append, wire=tap, name="tapped-1", **FAST)
        try:
            await conn.subscribe("/market/ticker:BTC-USDT")
            await until(lambda: len(messages) >= 5, timeout=10)
            assert conn.counters.frames == sum(1 for c in tap.calls if c[0] == "recv")
            assert exchange.faults.disconnect(abrupt=True) == 1
            await until(
                lambda: conn.counters.reconnects == 1 and conn.state is ConnectionState.LIVE, timeout=10
            )
            seen = len(messages)
            await until(lambda: len(messages) >= seen + 3, timeout=10)
        finally:
            await conn.close()
    kinds = tap.kinds()
    assert kinds[0] == "open" and kinds[-1] == "close"
    assert kinds.count("open") == 2 and kinds.count("close") == 2  # the drop, and the close
    assert all(call[1] == "tapped-1" for call in tap.calls)
    assert "token=" in tap.calls[0][3]  # the tap gets the URL as dialed: removing secrets is its job
    first = tap.calls[1]
    assert first[0] == "recv" and b'"type":"welcome"' in first[3] and isinstance(first[3], bytes)
    stamps = [call[2] for call in tap.calls]
    assert stamps == sorted(stamps) and stamps[0] >= before
    sent = [call[3] for call in tap.calls if call[0] == "sent"]
    assert sum('"type":"subscribe"' in text for text in sent) == 2  # subscribed, then resubscribed
    pushes = [c for c in tap.calls if c[0] == "recv" and b'"type":"message"' in c[3]]
    assert len(pushes) >= len(messages)


async def test_a_rest_client_tells_the_tap_every_answer(exchange) -> None:
    tap = Tap()
    async with Market(url=exchange.url, wire=tap, wire_name="market") as market:
        await market.aget_ticker("BTC-USDT")
        await market.aget_part_order(20, "ETH-USDT")
        await market.aget_ws_token()
    assert [(c[0], c[1], c[3], c[5]) for c in tap.calls] == [
        ("rest", "market", "GET", 200),
        ("rest", "market", "GET", 200),
        ("rest", "market", "POST", 200),
    ]
    assert tap.calls[1][4].endswith("/api/v1/market/orderbook/level2_20?symbol=ETH-USDT")
    assert b'"sequence"' in tap.calls[1][6] and b'"token"' in tap.calls[2][6]


async def test_without_a_tap_the_hot_path_is_the_plain_closure(exchange) -> None:
    async with Market(url=exchange.url) as market:
        plain = ConnectWebsocket(None, market, lambda _m: None, **FAST)
        tapped = ConnectWebsocket(None, market, lambda _m: None, wire=Tap(), **FAST)
        try:
            assert plain._on_frame.__qualname__ == "ConnectWebsocket._frame_sink.<locals>.on_messages"
            assert tapped._on_frame.__qualname__ == "_tapped.<locals>.tapped"
        finally:
            await plain.close()
            await tapped.close()
