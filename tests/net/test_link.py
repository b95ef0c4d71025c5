"""kunb.net.link.FrameLink: websockets' sans-I/O client driven from data_received, and its plain-frame path.

Most tests drive the link through a fake transport (bytes in, bytes out; no socket), so frames can be cut
at every byte. One test runs both link kinds against websockets' own server on 127.0.0.1. TLS (``wss://``)
is the event loop's and is not tested here: it needs a certificate the test could trust offline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib

import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import serve
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.protocol import State
from websockets.uri import parse_uri

from kunb.net.link import ConnectionLink, FrameLink, open_link

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 5.0


def frame(
    payload: bytes, opcode: int = 0x1, *, fin: bool = True, rsv1: bool = False, mask: bool = False
) -> bytes:
    """A server frame (RFC 6455 5.2)."""
    head = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        out = bytes((head, n | (0x80 if mask else 0)))
    elif n < 1 << 16:
        out = bytes((head, 126 | (0x80 if mask else 0))) + n.to_bytes(2, "big")
    else:
        out = bytes((head, 127 | (0x80 if mask else 0))) + n.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        return out + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return out + payload


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Parse the client's (masked) frames: (opcode, payload)."""
    out = []
    pos = 0
    while pos < len(data):
        opcode = data[pos] & 0x0F
        n = data[pos + 1] & 0x7F
        pos += 2
        if n == 126:
            n = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif n == 127:
            n = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        key = data[pos : pos + 4]
        pos += 4
        out.append((opcode, bytes(b ^ key[i % 4] for i, b in enumerate(data[pos : pos + n]))))
        pos += n
    return out


class FakeTransport(asyncio.Transport):
    """Collects what the link writes; abort/close end the connection like a socket would."""

    def __init__(self, link: FrameLink) -> None:
        super().__init__()
        self.link = link
        self.written = bytearray()
        self.eof_written = False
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def is_closing(self) -> bool:
        return self.closing

    def _lose(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.link.connection_lost, None)

    def close(self) -> None:
        self._lose()

    def abort(self) -> None:
        self.aborted = True
        self._lose()

    def take(self) -> bytes:
        out = bytes(self.written)
        self.written.clear()
        return out


def _accept(request: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


async def opened(
    messages: list[bytes], *, extra: bytes = b"", deflate: bool = False, max_size: int = 2**20
) -> tuple[FrameLink, FakeTransport]:
    """A link after a successful handshake; ``extra`` arrives in the same chunk as the 101 answer."""
    extensions = enable_client_permessage_deflate(None) if deflate else None
    protocol = ClientProtocol(parse_uri("ws://feed.test/"), extensions=extensions, max_size=max_size)
    link = FrameLink(protocol, messages.extend, close_timeout=1.0, max_size=max_size)
    transport = FakeTransport(link)
    link.connection_made(transport)
    handshake = asyncio.ensure_future(link.handshake())
    await asyncio.sleep(0)
    request = transport.take()
    assert request.startswith(b"GET / HTTP/1.1\r\n")
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    answer += b"Sec-WebSocket-Accept: " + _accept(request) + b"\r\n"
    if deflate:
        answer += b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
    link.data_received(answer + b"\r\n" + extra)
    await asyncio.wait_for(handshake, TIMEOUT)
    return link, transport


async def test_frames_after_the_handshake_answer_in_the_same_chunk():
    got: list[bytes] = []
    link, _ = await opened(got, extra=frame(b'{"type":"welcome"}') + frame(b"x" * 300))
    assert got == [b'{"type":"welcome"}', b"x" * 300]
    assert link.ended.done() is False


async def test_each_chunk_s_messages_come_in_one_call_in_order():
    """The connection above sees how many messages one read brought: one call per chunk, and the
    general path's frames (a fragmented message, a ping) keep their place in it."""
    calls: list[list[bytes]] = []
    protocol = ClientProtocol(parse_uri("ws://feed.test/"))
    link = FrameLink(protocol, lambda batch: calls.append(list(batch)), close_timeout=1.0, max_size=2**20)
    transport = FakeTransport(link)
    link.connection_made(transport)
    handshake = asyncio.ensure_future(link.handshake())
    await asyncio.sleep(0)
    request = transport.take()
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    link.data_received(answer + b"Sec-WebSocket-Accept: " + _accept(request) + b"\r\n\r\n")
    await handshake
    link.data_received(frame(b"a") + frame(b"b" * 300) + frame(b"par", fin=False) + frame(b"p", 0x9))
    link.data_received(frame(b"ts", 0x0) + frame(b"c"))
    link.data_received(frame(b"d" * 200)[:50])  # nothing complete: no call
    assert calls == [[b"a", b"b" * 300], [b"parts", b"c"]]


@settings(max_examples=25, deadline=None)
@given(cut=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_messages(cut):
    """Messages (short, 16-bit and 64-bit lengths) arrive intact however the byte stream is cut."""
    messages = [b"a", b"b" * 125, b"c" * 126, os.urandom(70_000), b"", b'{"type":"message"}']
    stream = b"".join(frame(m, 0x2) for m in messages)

    async def run() -> list[bytes]:
        got: list[bytes] = []
        link, _ = await opened(got)
        pos = i = 0
        while pos < len(stream):
            step = cut[i % len(cut)] * (97 if i % 3 == 0 else 1)
            link.data_received(stream[pos : pos + step])
            pos += step
            i += 1
        return got

    assert asyncio.run(run()) == messages


async def test_fragmented_message_with_a_ping_in_between():
    got: list[bytes] = []
    link, transport = await opened(got)
    data = frame(b'{"a":', fin=False) + frame(b"hello", 0x9) + frame(b"1", 0x0, fin=False)
    data += frame(b"}", 0x0) + frame(b"next")
    for i in range(0, len(data), 3):  # also cut mid-fragment
        link.data_received(data[i : i + 3])
    assert got == [b'{"a":1}', b"next"]
    assert (0xA, b"hello") in client_frames(transport.take())  # websockets answered the ping


async def test_compressed_frames_are_inflated_by_websockets():
    got: list[bytes] = []
    link, _ = await opened(got, deflate=True)
    payload = b'{"type":"message","data":"' + b"z" * 1000 + b'"}'
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    link.data_received(frame(body[:-4], rsv1=True) + frame(b"plain"))
    assert got == [payload, b"plain"]


async def test_server_close_is_answered_and_reported():
    got: list[bytes] = []
    link, transport = await opened(got)
    link.data_received(frame(b"last") + frame((1000).to_bytes(2, "big") + b"bye", 0x8) + frame(b"ignored"))
    assert got == [b"last"]
    assert client_frames(transport.take())[0][0] == 0x8  # the close reply
    link.connection_lost(None)  # the server then closes TCP
    await asyncio.wait_for(link.ended, TIMEOUT)
    reason = link.reason()
    assert isinstance(reason, websockets.ConnectionClosedOK)
    assert reason.rcvd is not None and reason.rcvd.code == 1000
    with pytest.raises(websockets.ConnectionClosed):
        await link.send("too late")


async def test_client_close_waits_for_the_server_then_returns():
    got: list[bytes] = []
    link, transport = await opened(got)
    closing = asyncio.ensure_future(link.close())
    await asyncio.sleep(0)
    assert client_frames(transport.take()) == [(0x8, (1000).to_bytes(2, "big"))]
    link.data_received(frame((1000).to_bytes(2, "big"), 0x8))
    assert not closing.done()  # a client waits for the server to end TCP (RFC 6455 7.1.1)
    link.connection_lost(None)
    await asyncio.wait_for(closing, TIMEOUT)
    assert isinstance(link.reason(), websockets.ConnectionClosedOK)


async def test_client_close_aborts_after_close_timeout_when_the_server_is_silent():
    link, transport = await opened([])
    await asyncio.wait_for(link.close(), TIMEOUT)  # close_timeout is 1 s
    assert transport.aborted
    assert isinstance(link.reason(), websockets.ConnectionClosedError)


async def test_abrupt_eof_mid_frame():
    got: list[bytes] = []
    link, _ = await opened(got)
    link.data_received(frame(b"whole") + frame(b"cut short")[:5])
    link.eof_received()
    link.connection_lost(None)
    await asyncio.wait_for(link.ended, TIMEOUT)
    reason = link.reason()
    assert got == [b"whole"]
    assert isinstance(reason, websockets.ConnectionClosedError) and reason.rcvd is None


async def test_masked_server_frame_fails_the_connection():
    link, transport = await opened([])
    link.data_received(frame(b"masked", mask=True))
    closes = [p for op, p in client_frames(transport.take()) if op == 0x8]
    assert closes and int.from_bytes(closes[0][:2], "big") == 1002  # protocol error
    assert link._protocol.state is not State.OPEN


async def test_oversized_frame_is_refused_without_buffering_it():
    got: list[bytes] = []
    link, transport = await opened(got, max_size=1000)
    link.data_received(frame(b"ok") + frame(b"x" * 2000)[:100])
    closes = [p for op, p in client_frames(transport.take()) if op == 0x8]
    assert got == [b"ok"]
    assert closes and int.from_bytes(closes[0][:2], "big") == 1009  # message too big


async def test_on_message_raising_ends_the_link_with_that_error():
    class Stop(Exception):
        pass

    got: list[bytes] = []

    def on_messages(batch: list[bytes]) -> None:
        for data in batch:
            if data == b"bad":
                raise Stop("connection-level error frame")
            got.append(data)

    protocol = ClientProtocol(parse_uri("ws://feed.test/"))
    link = FrameLink(protocol, on_messages, close_timeout=1.0, max_size=2**20)
    transport = FakeTransport(link)
    link.connection_made(transport)
    handshake = asyncio.ensure_future(link.handshake())
    await asyncio.sleep(0)
    request = transport.take()
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    link.data_received(answer + b"Sec-WebSocket-Accept: " + _accept(request) + b"\r\n\r\n")
    await handshake
    link.data_received(frame(b"fine") + frame(b"bad") + frame(b"never"))
    assert transport.aborted
    assert got == [b"fine"]
    await asyncio.wait_for(link.ended, TIMEOUT)
    assert isinstance(link.reason(), Stop)
    with pytest.raises(websockets.ConnectionClosed):  # sending says "closed", whatever ended the link
        await link.send("late")


async def test_refused_handshake_raises_websockets_error():
    protocol = ClientProtocol(parse_uri("ws://feed.test/"))
    link = FrameLink(protocol, lambda _: None, close_timeout=1.0, max_size=2**20)
    transport = FakeTransport(link)
    link.connection_made(transport)
    handshake = asyncio.ensure_future(link.handshake())
    await asyncio.sleep(0)
    link.data_received(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way")
    with pytest.raises(websockets.InvalidStatus):
        await asyncio.wait_for(handshake, TIMEOUT)


@pytest.mark.parametrize("kind", ["frames", "websockets"])
async def test_both_link_kinds_against_websockets_server(kind):
    """A real socket on 127.0.0.1: messages in order, a send round trip, a clean close, no task left."""
    echoed: list[str] = []

    async def handler(ws):
        for i in range(500):
            await ws.send(f'{{"i":{i}}}')
        echoed.append(await ws.recv())
        await ws.send("after")
        await ws.wait_closed()

    got: list[bytes] = []
    done = asyncio.Event()

    def on_messages(batch: list[bytes]) -> None:
        got.extend(batch)
        if b"after" in batch:
            done.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        before = asyncio.all_tasks()
        link = await open_link(f"ws://127.0.0.1:{port}/", on_messages, kind=kind, open_timeout=TIMEOUT)
        assert isinstance(link, FrameLink if kind == "frames" else ConnectionLink)
        await link.send("hi")
        await asyncio.wait_for(done.wait(), TIMEOUT)
        await asyncio.wait_for(link.close(), TIMEOUT)
        assert link.ended.done()
        assert isinstance(link.reason(), websockets.ConnectionClosedOK)
        assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    assert got == [f'{{"i":{i}}}'.encode() for i in range(500)] + [b"after"]
    assert echoed == ["hi"]


async def test_a_configured_proxy_goes_through_websockets_connection(monkeypatch):
    """FrameLink cannot tunnel: with a proxy in the environment, websockets' connect() is used instead."""
    import kunb.net.link as transport_module

    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", "http://proxy.test:3128")
    calls: list[str] = []

    async def fake_connect(url: str, **kwargs: object) -> None:
        calls.append(url)
        raise OSError("not dialing in a test")

    monkeypatch.setattr(transport_module, "connect", fake_connect)
    with pytest.raises(OSError, match="not dialing"):
        await open_link("ws://feed.test/", lambda _: None)
    assert calls == ["ws://feed.test/"]
