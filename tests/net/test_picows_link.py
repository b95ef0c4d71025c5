"""kunb.net.picows_link: the picows frame link against servers on 127.0.0.1.

Most tests use a scripted server that writes exactly the bytes a test gives it (frames cut anywhere,
masked, oversized, fragmented, control frames) and records the client's frames. Read chunking is driven
through the transport's protocol (``get_buffer`` / ``buffer_updated``, what asyncio calls on a socket
read), so frames can be cut at any byte. One test runs against websockets' own server, one over TLS
with a throw-away certificate trusted through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Callable

import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import serve

pytest.importorskip("picows")

from kunb.net.link import ConnectionLink, FrameLink, open_link
from kunb.net.picows_link import PicowsLink, open_picows_link

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 5.0
CLOSE, PING, PONG = 0x8, 0x9, 0xA


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


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(code.to_bytes(2, "big") + reason, CLOSE)


async def until(predicate: Callable[[], object], timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    """Poll a condition with a bounded deadline (no sleeps as synchronisation)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


class ServerConn(asyncio.Protocol):
    """One accepted connection of :class:`Scripted`: the upgrade answer, then raw bytes both ways."""

    def __init__(self, server: Scripted) -> None:
        self.server = server
        self.buf = bytearray()
        self.upgraded = False
        self.frames: list[tuple[int, bytes]] = []  # the client's frames, unmasked
        self.eof = asyncio.Event()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.conns.append(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            request = bytes(self.buf[:end])
            del self.buf[: end + 4]
            self.upgraded = True
            self.server.requests.append(request)
            if self.server.answer is None:
                return  # silent: the client's handshake times out
            self.transport.write(self.server.answer(request) + self.server.after_answer)
        while self._client_frame():
            pass

    def _client_frame(self) -> bool:
        buf = self.buf
        if len(buf) < 2:
            return False
        n, pos = buf[1] & 0x7F, 2
        if n == 126:
            n, pos = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            n, pos = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < pos + 4 + n:
            return False
        key = bytes(buf[pos : pos + 4]) * (n // 4 + 1)
        masked = bytes(buf[pos + 4 : pos + 4 + n])
        payload = (int.from_bytes(masked, "big") ^ int.from_bytes(key[:n], "big")).to_bytes(n, "big")
        opcode = buf[0] & 0x0F
        self.frames.append((opcode, payload))
        del buf[: pos + 4 + n]
        if opcode == CLOSE and self.server.reply_close:  # as a server does: reply, then end TCP
            self.transport.write(frame(payload[:2], CLOSE))
            self.transport.close()
        return True

    def eof_received(self) -> bool:
        self.eof.set()
        return True  # keep the write side open: the test decides when TCP ends

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof.set()

    def sent(self, opcode: int) -> list[bytes]:
        return [p for op, p in self.frames if op == opcode]


def accept(request: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept_key = base64.b64encode(hashlib.sha1(key + GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key + b"\r\n\r\n"
    )


class Scripted:
    """A WebSocket server on 127.0.0.1 that answers the upgrade (``answer``; ``None``: never) followed
    by ``after_answer`` in the same write, then writes only what the test gives it (and, unless
    ``reply_close`` is false, answers a client's Close and ends TCP)."""

    def __init__(
        self,
        *,
        answer: Callable[[bytes], bytes] | None = accept,
        after_answer: bytes = b"",
        reply_close: bool = True,
    ) -> None:
        self.answer = answer
        self.after_answer = after_answer
        self.reply_close = reply_close
        self.conns: list[ServerConn] = []
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Scripted:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ServerConn(self), "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for conn in self.conns:
            conn.transport.abort()
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/feed?token=secret-token-value&connectId=c1"

    @property
    def conn(self) -> ServerConn:
        return self.conns[-1]


async def opened(
    server: Scripted, got: list[bytes] | None = None, **kwargs: object
) -> tuple[PicowsLink, ServerConn]:
    on_messages = got.extend if got is not None else (lambda _: None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    kwargs.setdefault("close_timeout", 1.0)
    link = await open_picows_link(server.url, on_messages, **kwargs)  # type: ignore[arg-type]
    return link, server.conn


def inject(link: PicowsLink, data: bytes) -> None:
    """Hand ``data`` to the link as socket reads would (asyncio's BufferedProtocol calls): one read,
    or as many as the protocol's buffer needs."""
    protocol = link.transport.get_protocol()
    while data:
        buffer = protocol.get_buffer(-1)
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        protocol.buffer_updated(n)
        data = data[n:]


async def test_frames_after_the_handshake_answer_in_the_same_write():
    got: list[bytes] = []
    welcome = b'{"id":"c1","type":"welcome"}'
    async with Scripted(after_answer=frame(welcome) + frame(b"x" * 300)) as server:
        link, _ = await opened(server, got)
        await until(lambda: len(got) == 2)
        assert got == [welcome, b"x" * 300]
        assert not link.ended.done()
        await link.close()


@settings(max_examples=20, deadline=None)
@given(cut=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_messages(cut):
    """Text and binary messages (short, 16-bit and 64-bit lengths, empty) arrive intact however the
    byte stream is cut into reads."""
    messages = [b"a", b"b" * 125, b"c" * 126, os.urandom(70_000), b"", b'{"type":"message"}', b"d" * 300]
    stream = b"".join(frame(m, 0x2 if i % 2 else 0x1) for i, m in enumerate(messages))

    async def run() -> list[bytes]:
        got: list[bytes] = []
        async with Scripted() as server:
            link, _ = await opened(server, got)
            pos = i = 0
            while pos < len(stream):
                step = cut[i % len(cut)] * (97 if i % 3 == 0 else 1)
                inject(link, stream[pos : pos + step])
                pos += step
                i += 1
            link.abort()
            await asyncio.wait_for(link.ended, TIMEOUT)
        return got

    assert asyncio.run(run()) == messages


async def test_binary_frames_are_messages_too():
    """KuCoin's UTA feed sends its JSON in binary frames."""
    got: list[bytes] = []
    body = b'{"topic":"spotData","data":' + b"1" * 200 + b"}"
    async with Scripted() as server:
        link, conn = await opened(server, got)
        conn.transport.write(frame(body, 0x2) + frame(b'{"type":"pong"}', 0x2))
        await until(lambda: len(got) == 2)
        assert got == [body, b'{"type":"pong"}']
        await link.close()


async def test_fragmented_message_with_a_ping_in_between_is_reassembled_and_the_ping_answered():
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got)
        big = b"y" * 200  # fragments over 125 bytes take the same path as small ones
        data = frame(b'{"a":', fin=False) + frame(b"hello", PING) + frame(big, 0x0, fin=False)
        data += frame(b"}", 0x0) + frame(b"next" * 40, 0x2, fin=False) + frame(b"!", 0x0)
        for i in range(0, len(data), 3):  # also cut mid-fragment
            inject(link, data[i : i + 3])
        assert got == [b'{"a":' + big + b"}", b"next" * 40 + b"!"]
        await until(lambda: conn.sent(PONG))
        assert conn.sent(PONG) == [b"hello"]  # picows answered the ping
        await link.close()


async def test_a_pong_from_the_server_is_ignored():
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got)
        conn.transport.write(frame(b"beat", PONG) + frame(b"data"))
        await until(lambda: got)
        assert got == [b"data"]
        await link.close()


async def test_server_close_is_answered_and_reported():
    got: list[bytes] = []
    async with Scripted(reply_close=False) as server:
        link, conn = await opened(server, got)
        conn.transport.write(frame(b"last") + close_frame(1000, b"bye") + frame(b"ignored"))
        await until(lambda: conn.sent(CLOSE))
        assert conn.sent(CLOSE) == [(1000).to_bytes(2, "big") + b"bye"]  # echoed (RFC 6455 5.5.1)
        assert not link.ended.done()  # a client waits for the server to end TCP (7.1.1)
        conn.transport.close()
        await asyncio.wait_for(link.ended, TIMEOUT)
        assert got == [b"last"]
        reason = link.reason()
        assert isinstance(reason, websockets.ConnectionClosedOK)
        assert reason.rcvd is not None and reason.rcvd.code == 1000 and reason.rcvd.reason == "bye"
        assert reason.rcvd_then_sent is True
        with pytest.raises(websockets.ConnectionClosed):
            await link.send("too late")


async def test_server_close_with_an_error_code_is_a_connection_closed_error():
    async with Scripted(reply_close=False) as server:
        link, conn = await opened(server)
        conn.transport.write(close_frame(1011, b"restart"))
        await until(lambda: conn.sent(CLOSE))
        conn.transport.close()
        await asyncio.wait_for(link.ended, TIMEOUT)
        reason = link.reason()
        assert isinstance(reason, websockets.ConnectionClosedError)
        assert reason.rcvd is not None and reason.rcvd.code == 1011


async def test_client_close_waits_for_the_server_then_returns():
    async with Scripted(reply_close=False) as server:
        link, conn = await opened(server)
        closing = asyncio.ensure_future(link.close())
        await until(lambda: conn.sent(CLOSE))
        assert conn.sent(CLOSE) == [(1000).to_bytes(2, "big")]
        conn.transport.write(close_frame(1000))
        await until(lambda: link._rcvd is not None)
        assert not closing.done()  # still waiting for the server to end TCP
        conn.transport.close()
        await asyncio.wait_for(closing, TIMEOUT)
        reason = link.reason()
        assert isinstance(reason, websockets.ConnectionClosedOK)
        assert reason.rcvd_then_sent is False


async def test_client_close_aborts_after_close_timeout_when_the_server_is_silent():
    async with Scripted(reply_close=False) as server:
        link, conn = await opened(server, close_timeout=0.2)
        await asyncio.wait_for(link.close(), TIMEOUT)
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)
        reason = link.reason()
        assert isinstance(reason, websockets.ConnectionClosedError)
        assert reason.sent is not None and reason.sent.code == 1000 and reason.rcvd is None


async def test_abrupt_eof_mid_frame():
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got)
        conn.transport.write(frame(b"whole") + frame(b"cut short")[:5])
        conn.transport.close()
        await asyncio.wait_for(link.ended, TIMEOUT)
        reason = link.reason()
        assert got == [b"whole"]
        assert isinstance(reason, websockets.ConnectionClosedError) and reason.rcvd is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(b"masked", mask=True), 1002),  # RFC 6455 5.1: a server never masks
        (frame(b"more", 0x0), 1002),  # a continuation frame with no message to continue
        (frame(b"start", fin=False) + frame(b"again"), 1002),  # a new message inside a fragmented one
        (frame(b"x", 0x3), 1002),  # a reserved opcode
        (frame((999).to_bytes(2, "big"), CLOSE), 1002),  # an invalid close code
    ],
    ids=["masked", "orphan-continuation", "interleaved", "reserved-opcode", "bad-close-code"],
)
async def test_protocol_errors_fail_the_connection(data, code):
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got)
        conn.transport.write(frame(b"before") + data + frame(b"after"))
        await asyncio.wait_for(link.ended, TIMEOUT)
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)
        assert got == [b"before"]
        assert [int.from_bytes(p[:2], "big") for p in conn.sent(CLOSE)] == [code]
        reason = link.reason()
        assert isinstance(reason, websockets.ConnectionClosedError)
        assert reason.sent is not None and reason.sent.code == code
        assert reason.__cause__ is not None  # what broke the protocol


async def test_oversized_frame_is_refused_without_buffering_it():
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got, max_size=1000)
        conn.transport.write(frame(b"ok") + frame(b"x" * 2000)[:100])
        await asyncio.wait_for(link.ended, TIMEOUT)
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)
        assert got == [b"ok"]
        assert [int.from_bytes(p[:2], "big") for p in conn.sent(CLOSE)] == [1009]  # message too big
        assert link.reason().sent.code == 1009  # type: ignore[attr-defined]


async def test_frames_parsed_after_picows_failed_the_connection_are_discarded():
    """picows keeps parsing until it disconnects (10 ms later): a frame it refused (oversized: its
    payload completes in a later read) and everything after it never reach on_messages."""
    got: list[bytes] = []
    async with Scripted() as server:
        link, _ = await opened(server, got, max_size=1000)
        big = frame(b"x" * 2000)
        inject(link, frame(b"ok") + big[:500])
        inject(link, big[500:] + frame(b"late" * 40) + frame(b"small"))
        await asyncio.wait_for(link.ended, TIMEOUT)
        assert got == [b"ok"]


async def test_oversized_fragmented_message_is_refused():
    got: list[bytes] = []
    async with Scripted() as server:
        link, conn = await opened(server, got, max_size=1000)
        conn.transport.write(frame(b"a" * 600, fin=False) + frame(b"b" * 600, 0x0) + frame(b"later"))
        await asyncio.wait_for(link.ended, TIMEOUT)
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)
        assert got == []
        assert [int.from_bytes(p[:2], "big") for p in conn.sent(CLOSE)] == [1009]
        reason = link.reason()
        assert isinstance(reason.__cause__, websockets.PayloadTooBig)


async def test_on_message_raising_ends_the_link_with_that_error():
    class Stop(Exception):
        pass

    got: list[bytes] = []

    def on_messages(batch: list[bytes]) -> None:
        for data in batch:
            if data.startswith(b"bad"):
                raise Stop("connection-level error frame")
            got.append(data)

    async with Scripted() as server:
        link = await open_picows_link(server.url, on_messages, open_timeout=TIMEOUT)
        conn = server.conn
        conn.transport.write(frame(b"fine") + frame(b"bad" * 100) + frame(b"never" * 100) + frame(b"no"))
        await asyncio.wait_for(link.ended, TIMEOUT)
        assert got == [b"fine"]
        assert isinstance(link.reason(), Stop)
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)  # aborted at once
        assert conn.sent(CLOSE) == []
        with pytest.raises(websockets.ConnectionClosed):  # sending says "closed", whatever ended the link
            await link.send("late")


async def test_refused_handshake_raises_websockets_invalid_status():
    def refuse(request: bytes) -> bytes:
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way"

    async with Scripted(answer=refuse) as server:
        with pytest.raises(websockets.InvalidStatus) as info:
            await open_picows_link(server.url, lambda _: None, open_timeout=TIMEOUT)
        assert info.value.response.status_code == 403


async def test_connection_lost_during_the_handshake_raises_invalid_handshake():
    def hang_up(request: bytes) -> bytes:
        server.conn.transport.close()
        return b""

    async with Scripted(answer=hang_up) as server:
        with pytest.raises(websockets.InvalidHandshake):
            await open_picows_link(server.url, lambda _: None, open_timeout=TIMEOUT)


async def test_handshake_timeout_raises_and_closes_the_socket():
    async with Scripted(answer=None) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await open_picows_link(server.url, lambda _: None, open_timeout=0.3)
        assert loop.time() - started < 3
        await asyncio.wait_for(server.conn.eof.wait(), TIMEOUT)


async def test_a_dial_cancelled_during_the_handshake_closes_its_socket_at_once():
    async with Scripted(answer=None) as server:
        dial = asyncio.ensure_future(open_picows_link(server.url, lambda _: None, open_timeout=60))
        await until(lambda: server.requests)
        dial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dial
        await asyncio.wait_for(server.conn.eof.wait(), TIMEOUT)  # long before the 60 s handshake timeout


async def test_cancelling_the_links_task_does_not_end_it():
    """asyncio.run cancels every task at exit, the link's watcher too: the link is still open then, and
    close() still closes its socket (nothing left open when the loop ends)."""
    async with Scripted() as server:
        link, conn = await opened(server)
        watchers = [t for t in asyncio.all_tasks() if t.get_name() == "kunb-link-link"]
        assert len(watchers) == 1
        watchers[0].cancel()
        await asyncio.wait(watchers)
        assert not link.ended.done()
        await asyncio.wait_for(link.close(), TIMEOUT)
        assert link.ended.done()
        await asyncio.wait_for(conn.eof.wait(), TIMEOUT)
        assert conn.sent(CLOSE) == [(1000).to_bytes(2, "big")]


async def test_a_given_connected_socket_is_used():
    got: list[bytes] = []
    async with Scripted(after_answer=frame(b"hi")) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        link = await open_picows_link(server.url, got.extend, sock=sock, open_timeout=TIMEOUT)
        await until(lambda: got)
        assert got == [b"hi"]
        assert link.transport.get_extra_info("socket").fileno() == sock.fileno()
        assert len(server.conns) == 1
        link.abort()
        await asyncio.wait_for(link.ended, TIMEOUT)


async def test_send_waits_while_the_write_buffer_is_full():
    async with Scripted() as server:
        link, conn = await opened(server)
        conn.transport.pause_reading()
        link.transport.set_write_buffer_limits(high=64 * 1024)
        sending = asyncio.ensure_future(link.send("z" * (32 * 2**20)))  # more than the kernel buffers
        await until(lambda: link._paused)
        assert not sending.done()
        conn.transport.resume_reading()
        await asyncio.wait_for(sending, 30)
        await until(lambda: any(op == 0x1 for op, _ in conn.frames), 30)
        assert conn.frames[0] == (0x1, b"z" * (32 * 2**20))
        await link.close()


async def test_a_burst_is_parsed_a_bounded_read_at_a_time():
    """After a stall the socket may hold megabytes: other tasks run between reads of at most 32 KiB,
    and each read's messages come in one call."""
    loop = asyncio.get_running_loop()
    turns = 0
    seen: list[int] = []
    batches: list[int] = []

    def on_messages(batch: list[bytes]) -> None:
        batches.append(len(batch))
        seen.extend([turns] * len(batch))

    async def spin() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    async with Scripted() as server:
        link = await open_picows_link(server.url, on_messages, open_timeout=TIMEOUT)
        spinner = loop.create_task(spin())
        try:
            server.conn.transport.write(frame(b"m" * 250) * 16_000)  # 4 MiB in one write
            await until(lambda: len(seen) == 16_000, 30)
        finally:
            spinner.cancel()
        per_turn = max(seen.count(t) for t in set(seen))
        assert per_turn <= 32 * 1024 // 254 + 1
        assert len(batches) < 16_000 / 50  # whole reads at once, not a call per message
        await link.close()


async def test_the_token_never_reaches_the_logs(caplog):
    """picows logs the upgrade request line (bytes) at its debug level 9: the token is hidden."""
    wire = logging.getLogger("kunb.test.wire")
    caplog.set_level(1, logger="kunb.test.wire")
    async with Scripted() as server:
        link = await open_picows_link(server.url, lambda _: None, open_timeout=TIMEOUT, logger=wire)
        await link.close()
    assert "upgrade request" in caplog.text.lower()  # the request line was logged...
    assert "secret-token-value" not in caplog.text  # ...without the token
    assert all(r.levelno != logging.INFO for r in caplog.records)  # per-connection lines at DEBUG


async def test_against_websockets_server_via_open_link():
    """A real peer: messages in order (text and binary), a send round trip, a clean close, no task left."""
    echoed: list[str] = []

    async def handler(ws):
        for i in range(500):
            await ws.send(f'{{"i":{i}}}')
        await ws.send(b"\x00binary" * 30)
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
        link = await open_link(f"ws://127.0.0.1:{port}/", on_messages, open_timeout=TIMEOUT)
        assert isinstance(link, PicowsLink)  # the default when picows is installed
        await link.send("hi")
        await asyncio.wait_for(done.wait(), TIMEOUT)
        await asyncio.wait_for(link.close(), TIMEOUT)
        assert link.ended.done()
        assert isinstance(link.reason(), websockets.ConnectionClosedOK)
        assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    assert got == [f'{{"i":{i}}}'.encode() for i in range(500)] + [b"\x00binary" * 30, b"after"]
    assert echoed == ["hi"]


async def test_a_configured_proxy_still_goes_through_websockets_connection(monkeypatch):
    """picows' link does not read proxy settings: with a proxy in the environment, websockets is used."""
    import kunb.net.link as transport_module

    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", "http://proxy.test:3128")
    calls: list[str] = []

    async def fake_connect(url: str, **kwargs: object) -> ConnectionLink:
        calls.append(url)
        raise OSError("not dialing in a test")

    monkeypatch.setattr(transport_module, "connect", fake_connect)
    with pytest.raises(OSError, match="not dialing"):
        await open_link("ws://feed.test/", lambda _: None, kind="picows")
    assert calls == ["ws://feed.test/"]


async def test_without_picows_the_default_link_is_framelink(monkeypatch):
    """Where picows is not installed (no wheel), open_link's default falls back to websockets' parser,
    and asking ConnectWebsocket for picows is a clear configuration error."""
    import kunb.net.connection as websocket_module
    import kunb.net.link as transport_module
    from kunb.exceptions import ConfigurationError
    from kunb.net.connection import ConnectWebsocket

    monkeypatch.setattr(transport_module, "open_picows_link", None)
    monkeypatch.setattr(websocket_module, "PICOWS", False)
    got: list[bytes] = []
    async with Scripted(after_answer=frame(b"hello")) as server:
        link = await open_link(server.url, got.extend, open_timeout=TIMEOUT)
        assert isinstance(link, FrameLink)
        await until(lambda: got)
        assert got == [b"hello"]
        await link.close()
        with pytest.raises(ImportError, match="picows"):
            await open_link(server.url, got.extend, kind="picows")

    class Tokens:
        async def aget_ws_token(self, private: bool = False) -> dict[str, object]:
            raise AssertionError("never dialed")

    with pytest.raises(ConfigurationError, match="picows"):
        ConnectWebsocket(None, Tokens(), lambda _: None, transport="picows")


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE for this test only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kunb test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_wss_uses_the_event_loops_tls_and_the_default_trust_store(certificate):
    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(ws):
        await ws.send('{"type":"welcome"}')
        await ws.send(b"b" * 300)
        assert await ws.recv() == "over tls"
        await ws.send("bye")
        await ws.wait_closed()

    def on_messages(batch: list[bytes]) -> None:
        got.extend(batch)
        if b"bye" in batch:
            done.set()

    async with serve(handler, "127.0.0.1", 0, ssl=certificate) as server:
        port = server.sockets[0].getsockname()[1]
        link = await open_picows_link(f"wss://127.0.0.1:{port}/", on_messages, open_timeout=TIMEOUT)
        assert link.transport.get_extra_info("ssl_object") is not None
        await link.send("over tls")
        await asyncio.wait_for(done.wait(), TIMEOUT)
        await asyncio.wait_for(link.close(), TIMEOUT)
        assert isinstance(link.reason(), websockets.ConnectionClosedOK)
    assert got == [b'{"type":"welcome"}', b"b" * 300, b"bye"]


async def test_wss_refuses_an_untrusted_certificate(certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")

    async def handler(ws):
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=certificate) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_picows_link(f"wss://127.0.0.1:{port}/", lambda _: None, open_timeout=TIMEOUT)
