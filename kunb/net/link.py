"""The WebSocket link under ConnectWebsocket: every complete message handed to a callback as it is parsed.

``websockets``' asyncio ``recv()`` costs a future, an assembler round trip and a task wake-up per
message, which is most of its ~5 us per small frame (``bench/RESULTS.md``), and its sans-I/O frame
parser alone costs ~3 us (a generator round trip per header field). A link here hands the complete
messages of each socket read to ``on_messages`` at once, as a list in arrival order, synchronously from
the read callback: one call per read rather than per message, and the connection above sees how many
messages one read brought (it sheds the oldest of a read too large for its queue). The list is the
link's: it is valid during the call only. :class:`FrameLink` is an :class:`asyncio.Protocol` that does
it in one pass over the socket chunk:

- the common frame - FIN, no RSV bit (no compression), unmasked, text or binary, no fragmented message
  in progress, connection open - is sliced out of the chunk directly (RFC 6455 5.2: its header is two,
  four or ten bytes);
- every other byte goes through websockets' own sans-I/O :class:`~websockets.client.ClientProtocol`,
  always a whole frame at a time so its parser stays on frame boundaries: the opening handshake,
  permessage-deflate, fragments, size limits (an oversized or masked frame hands it the rest of the
  stream), pings answered with pongs, the closing handshake and its ``ConnectionClosed`` exceptions.

TLS is the event loop's (``wss://`` uses ``ssl.create_default_context()``, so ``SSL_CERT_FILE`` applies).

:class:`ConnectionLink` offers the same interface over websockets' ``ClientConnection`` (a reader task
calls ``recv()``); :func:`open_link` uses it when an HTTP/SOCKS proxy is configured in the environment
(websockets knows how to tunnel, the frame links do not) or when asked to (``kind="websockets"``, used by
the benchmark to compare the paths). :func:`open_link`'s default (``kind="auto"``) is the picows link
(:mod:`kunb.net.picows_link`, frames parsed in C) when picows is installed, else FrameLink. Not followed
by any: HTTP redirects of the upgrade request (KuCoin's feed hosts do not redirect). Every link hands
text and binary messages over alike (classic frames are text, UTA frames binary).

``on_messages`` may raise to end the link: the transport is aborted (the rest of that read is not
delivered) and :meth:`FrameLink.reason` returns that exception (``ConnectWebsocket`` raises
``WebSocketError`` this way for a connection-level error frame).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable
from typing import Literal, Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

try:
    from .picows_link import open_picows_link
except ImportError:  # no picows wheel for this platform (or installed without it): websockets' links
    open_picows_link = None  # type: ignore[assignment]
PICOWS = open_picows_link is not None  # the picows link can be used

__all__ = ["PICOWS", "ConnectionLink", "FrameLink", "Link", "LinkKind", "open_link"]

OnMessages = Callable[[list[bytes]], None]  # the messages of one socket read, in order
LinkKind = Literal["auto", "picows", "frames", "websockets"]

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_OPEN = State.OPEN
_MAX_HEAD = 65_536  # an HTTP answer longer than this is websockets' to refuse


class Link(Protocol):
    """What ConnectWebsocket needs from a connection."""

    transport: asyncio.Transport

    @property
    def ended(self) -> asyncio.Future[None]: ...  # done once the connection is over

    def reason(self) -> BaseException: ...  # why it ended (call once ``ended`` is done)

    async def send(self, text: str) -> None: ...

    async def close(self) -> None: ...

    def abort(self) -> None: ...


class FrameLink(asyncio.Protocol):
    """One client connection; the complete messages of each read go to ``on_messages`` from
    ``data_received``."""

    def __init__(
        self, protocol: ClientProtocol, on_messages: OnMessages, *, close_timeout: float, max_size: int
    ) -> None:
        self._protocol = protocol
        self._on_messages = on_messages
        self._batch: list[bytes] = []  # the messages of the read being parsed
        self._close_timeout = close_timeout
        self._loop = asyncio.get_running_loop()
        self._response: asyncio.Future[None] = self._loop.create_future()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._fragments: list[bytes] | None = None
        self._max_size = max_size
        self._opening = True  # until the HTTP answer has been handed to websockets
        self._general = False  # every byte goes through websockets (it is failing the connection)
        self._head = bytearray()
        self._pending = bytearray()  # the start of a frame cut by the end of a chunk
        self._need = 0  # bytes the pending frame needs before it is parsed again
        self._error: BaseException | None = None  # raised by on_messages: it ended the link
        self._connection_exc: BaseException | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._drain: list[asyncio.Future[None]] = []
        self.transport: asyncio.Transport = None  # type: ignore[assignment]

    # -- the Link interface ---------------------------------------------------------------------------
    @property
    def ended(self) -> asyncio.Future[None]:
        return self._ended

    def reason(self) -> BaseException:
        """The exception that ended the link: ``on_messages``', else websockets' ``ConnectionClosed``."""
        if self._error is not None:
            return self._error
        return self._close_exc()

    def _close_exc(self) -> websockets.ConnectionClosed:
        exc = self._protocol.close_exc
        if self._connection_exc is not None:
            exc.__cause__ = self._connection_exc
        return exc

    async def send(self, text: str) -> None:
        """Send one text message (waits while the socket's write buffer is full).

        Raises:
            websockets.ConnectionClosed: the connection is closing or closed.
        """
        protocol = self._protocol
        if protocol.state is not _OPEN or self.transport.is_closing():
            await self._wait_ended()
            raise self._close_exc()
        protocol.send_text(text.encode())
        self._flush()
        if self._paused and not self._ended.done():
            waiter = self._loop.create_future()
            self._drain.append(waiter)
            await waiter

    async def close(self) -> None:
        """The closing handshake, bounded by ``close_timeout`` (then the TCP connection is aborted)."""
        if self._ended.done():
            return
        if self._protocol.state is _OPEN and not self.transport.is_closing():
            self._protocol.send_close(CloseCode.NORMAL_CLOSURE)  # as ClientConnection.close() does
            self._flush()
        await self._wait_ended()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    # -- opening --------------------------------------------------------------------------------------
    async def handshake(self) -> None:
        """Send the upgrade request and wait for the answer (raises websockets' handshake errors)."""
        request = self._protocol.connect()
        request.headers.setdefault("User-Agent", USER_AGENT)
        self._protocol.send_request(request)
        self._flush()
        await asyncio.wait((self._response, self._ended), return_when=asyncio.FIRST_COMPLETED)
        exc = self._protocol.handshake_exc
        if exc is not None:
            raise exc
        if not self._response.done():
            raise websockets.InvalidHandshake("connection lost during the opening handshake")

    # -- asyncio.Protocol -----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        batch = self._batch = []
        self._receive(data)
        if batch:
            self._deliver(batch)

    def _deliver(self, batch: list[bytes]) -> None:
        if self._error is not None:
            return  # on_messages ended the link: nothing more is delivered
        try:
            self._on_messages(batch)
        except Exception as exc:  # on_messages ends the link (a connection-level error frame...)
            self._error = exc
            self.abort()

    def _receive(self, data: bytes) -> None:
        """Parse one chunk; its complete messages are appended to ``self._batch``."""
        if self._opening:
            data = self._opening_data(data)
            if not data:
                return
        if self._general:
            self._to_protocol(data)
            return
        pending = self._pending
        if pending:  # a frame was cut by the previous chunk: wait until it is whole, then parse once
            pending += data
            if len(pending) < self._need:
                return
            data = bytes(pending)
            pending.clear()
        protocol = self._protocol
        append = self._batch.append
        max_size = self._max_size
        size = len(data)
        pos = 0
        plain = protocol.state is _OPEN and protocol.current_size is None
        need = 0
        while True:
            if size - pos < 2:
                need = 2
                break
            head = data[pos]
            length = data[pos + 1]
            start = pos + 2
            if length > 125:
                if length & 0x80:  # a masked server frame: websockets fails the connection
                    self._general = True
                    self._to_protocol(data[pos:])
                    return
                if length == 126:  # 16-bit length: most KuCoin pushes (126..65535 bytes)
                    start += 2
                    if start > size:
                        need = start - pos
                        break
                    length = data[pos + 2] << 8 | data[pos + 3]
                else:
                    start += 8
                    length = int.from_bytes(data[pos + 2 : start], "big")
                if start > size:
                    need = start - pos
                    break
                if length > max_size:  # websockets raises PayloadTooBig and closes
                    self._general = True
                    self._to_protocol(data[pos:])
                    return
            end = start + length
            if end > size:
                need = end - pos
                break
            if plain and (head == 0x81 or head == 0x82):
                # The hot path: FIN, no RSV bit (no compression), text or binary, no fragmented
                # message in progress - the whole message, handed over as it is.
                append(data[start:end])
            else:
                self._to_protocol(data[pos:end])
                plain = protocol.state is _OPEN and protocol.current_size is None
            pos = end
        if pos < size:
            pending += data[pos:]
            self._need = need

    def _opening_data(self, data: bytes) -> bytes:
        """Give websockets exactly the HTTP answer; return the bytes after it (frames), if any."""
        head = self._head
        head += data
        end = head.find(b"\r\n\r\n")
        if end < 0 and len(head) <= _MAX_HEAD:
            return b""
        cut = len(head) if end < 0 else end + 4
        protocol = self._protocol
        self._opening = False
        self._to_protocol(bytes(head[:cut]))
        rest = bytes(head[cut:])
        head.clear()
        if protocol.state is not _OPEN:  # refused (or not HTTP): websockets has the error
            if rest:
                self._to_protocol(rest)
            if not self._response.done():
                self._response.set_result(None)
            return b""
        return rest

    def _to_protocol(self, data: bytes) -> None:
        """The general path: websockets parses the bytes (whole frames, the handshake answer, or the
        rest of a connection it is about to fail) and its events are handled here."""
        protocol = self._protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        self._flush()  # automatic pongs and close replies
        if protocol.close_expected():
            self._arm_close_timer()
        for event in events:
            if isinstance(event, Response):
                if not self._response.done():
                    self._response.set_result(None)
            elif isinstance(event, Frame):  # a client is never sent a Request
                self._frame(event)

    def _frame(self, frame: Frame) -> None:
        """A data frame parsed by websockets: whole, or a fragment to reassemble (RFC 6455 5.4).
        Control frames were answered by websockets already."""
        opcode = frame.opcode
        data = bytes(frame.data)  # typed bytes-like; a parsed frame's is bytes, returned as it is (no copy)
        if opcode is _TEXT or opcode is _BINARY:
            if frame.fin:
                self._batch.append(data)
                return
            self._fragments = [data]
        elif opcode is _CONT and self._fragments is not None:
            self._fragments.append(data)
        else:
            return
        if frame.fin:
            message = b"".join(self._fragments)
            self._fragments = None
            self._batch.append(message)

    def eof_received(self) -> None:
        batch = self._batch = []
        if self._opening and self._head:
            self._opening = False
            self._to_protocol(bytes(self._head))
        self._protocol.receive_eof()
        self._protocol.events_received()
        self._flush()
        if batch:
            self._deliver(batch)
        # Returning None closes the transport: after EOF a WebSocket endpoint never writes again.

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.receive_eof()  # idempotent: the protocol state becomes CLOSED
        if exc is not None and self._connection_exc is None:
            self._connection_exc = exc
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if not self._ended.done():
            self._ended.set_result(None)
        for waiter in self._drain:
            if not waiter.done():
                waiter.set_result(None)
        self._drain.clear()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain:
            if not waiter.done():
                waiter.set_result(None)
        self._drain.clear()

    # -- internals ------------------------------------------------------------------------------------
    def _flush(self) -> None:
        transport = self.transport
        for data in self._protocol.data_to_send():
            try:
                if data:
                    transport.write(data)
                elif transport.can_write_eof():
                    transport.write_eof()  # half-close after the closing handshake (no TLS)
                else:
                    transport.close()
            except Exception as exc:  # pragma: no cover - the socket broke under us
                if self._connection_exc is None:
                    self._connection_exc = exc
                transport.abort()
                return

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and not self._ended.done():
            self._close_timer = self._loop.call_later(self._close_timeout, self.abort)

    async def _wait_ended(self) -> None:
        self._arm_close_timer()
        await asyncio.shield(self._ended)


class ConnectionLink:
    """The Link interface over websockets' ``ClientConnection``: a reader task feeds ``on_messages`` (one
    message per call)."""

    def __init__(self, ws: ClientConnection, on_messages: OnMessages, *, name: str) -> None:
        self._ws = ws
        self._on_messages = on_messages
        self._error: BaseException | None = None
        self._closed: BaseException | None = None
        self.transport = ws.transport
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"kunb-{name}-read")

    @property
    def ended(self) -> asyncio.Future[None]:
        return self._reader

    def reason(self) -> BaseException:
        if self._error is not None:
            return self._error
        assert self._closed is not None
        return self._closed

    async def _read(self) -> None:
        recv = self._ws.recv
        on_messages = self._on_messages
        try:
            while True:
                on_messages([await recv(False)])
        except websockets.ConnectionClosed as exc:
            self._closed = exc
        except Exception as exc:
            self._error = exc
            self._ws.transport.abort()

    async def send(self, text: str) -> None:
        await self._ws.send(text)

    async def close(self) -> None:
        try:
            await self._ws.close()
        finally:
            await self._stop_reader()

    def abort(self) -> None:
        self._ws.transport.abort()

    async def _stop_reader(self) -> None:
        if not self._reader.done():
            self._reader.cancel()
        try:
            await asyncio.shield(self._reader)
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise


async def open_link(
    url: str,
    on_messages: OnMessages,
    *,
    kind: LinkKind = "auto",
    sock: socket.socket | None = None,
    open_timeout: float = 10.0,
    close_timeout: float = 2.0,
    max_size: int = 2**24,
    logger: logging.Logger | None = None,
    name: str = "link",
) -> Link:
    """Connect and complete the WebSocket handshake; ``on_messages`` gets every message from then on, the
    messages of each socket read in one call.

    Raises:
        websockets.InvalidURI: not a ws:// or wss:// URL.
        OSError, TimeoutError, websockets.WebSocketException: connect or handshake failed.
    """
    wsuri = parse_uri(url)
    if kind == "picows" and open_picows_link is None:
        raise ImportError("transport 'picows' needs the picows package (pip install picows)")
    if kind == "websockets" or (sock is None and get_proxy(wsuri) is not None):
        ws = await connect(
            url,
            sock=sock,
            open_timeout=open_timeout,
            ping_interval=None,  # KuCoin's JSON ping is the keepalive (classic-protocol.md#subscribe-and-ack)
            close_timeout=close_timeout,
            max_size=max_size,
            logger=logger,
        )
        return ConnectionLink(ws, on_messages, name=name)
    if kind == "picows" or (kind == "auto" and open_picows_link is not None):
        return await open_picows_link(
            url,
            on_messages,
            sock=sock,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            logger=logger,
            name=name,
        )
    loop = asyncio.get_running_loop()
    protocol = ClientProtocol(
        wsuri, extensions=enable_client_permessage_deflate(None), max_size=max_size, logger=logger
    )
    link = FrameLink(protocol, on_messages, close_timeout=close_timeout, max_size=max_size)
    ssl = ssl_module.create_default_context() if wsuri.secure else None
    server_hostname = wsuri.host if wsuri.secure else None
    try:
        async with asyncio.timeout(open_timeout):
            if sock is None:
                await loop.create_connection(
                    lambda: link, wsuri.host, wsuri.port, ssl=ssl, server_hostname=server_hostname
                )
            else:
                await loop.create_connection(
                    lambda: link, sock=sock, ssl=ssl, server_hostname=server_hostname
                )
            await link.handshake()
    except BaseException:
        link.abort()
        raise
    return link
