"""The WebSocket link on picows: frames parsed in C, every message handed to a callback as it is parsed.

picows (a Cython WebSocket client) parses frames in C and calls :meth:`PicowsLink.on_ws_frame` once per
frame from the socket's read callback; a whole text or binary frame is taken as bytes, with no task,
future or generator step per message, and the messages of each read go to ``on_messages`` at once when
picows has parsed the read (the seam of :mod:`kunb.net.link`). What picows leaves to its user is done
here as RFC 6455 and websockets (the other links) do it:

- fragmented messages are reassembled (5.4), ``max_size`` bounding the whole message (1009 past it);
- a received Close is echoed (5.5.1), then the client waits ``close_timeout`` for the server to end
  TCP (7.1.1) before aborting; frames after a Close are discarded (1.4);
- why the link ended is websockets' ``ConnectionClosed`` (``rcvd``, ``sent``; OK or Error) and a
  refused handshake raises websockets' ``InvalidStatus`` / ``InvalidHandshake``, so the connection
  above treats every link alike.

picows itself answers pings and fails the connection on masked, oversized or malformed frames (1002,
1009). One check is left out for speed: a final frame over 125 bytes with no fragmented message in
progress is taken as a whole message without reading its opcode (see the hot path), so a continuation
frame that continues nothing, which websockets refuses with 1002, is delivered when it is that long.
Not offered: compression (KuCoin's pushes are small JSON), redirects, proxies (:func:`open_link` picks
websockets' connection when one is configured). TLS is the event loop's own (``wss://`` uses
``ssl.create_default_context()``, so ``SSL_CERT_FILE`` applies), on asyncio's transports.

``on_messages`` may raise to end the link: the TCP connection is aborted and :meth:`PicowsLink.reason`
returns that exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl as ssl_module
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from picows import WSFrame, WSHandshakeError, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    PayloadTooBig,
    ProtocolError,
)
from websockets.frames import OK_CLOSE_CODES, Close, CloseCode
from websockets.http11 import Response
from websockets.uri import parse_uri

from ..signing import redact_token

__all__ = ["PicowsLink", "open_picows_link"]

OnMessages = Callable[[list[bytes]], None]  # the messages of one socket read, in order

_TEXT, _BINARY, _CONT, _CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION, WSMsgType.CLOSE
_NORMAL_CLOSE = Close(CloseCode.NORMAL_CLOSURE, "")
_READ_CAP = 32 * 1024  # bytes per socket read (~120 KuCoin pushes): see _Reads
_USER_AGENT = f"Python/{sys.version_info[0]}.{sys.version_info[1]} picows/{metadata.version('picows')}"


class PicowsLink(WSListener):
    """One client connection; the complete messages of each read go to ``on_messages`` once picows parsed
    the read."""

    def __init__(self, on_messages: OnMessages, *, close_timeout: float, max_size: int, name: str) -> None:
        self._on_messages = on_messages
        self._batch: list[bytes] = []  # the messages of the read being parsed (one list, reused)
        self._close_timeout = close_timeout
        self._max_size = max_size
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._hot = self._hot_path()
        self._receiving = False  # data frames are delivered (no Close received, not failed)
        self._open = False  # sending is allowed (no Close sent or received)
        self._ws: WSTransport | None = None
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._ended: asyncio.Future[None] = self._loop.create_future()  # done once TCP is closed
        self._watcher: asyncio.Task[None] | None = None
        self._fragments: list[bytes] | None = None
        self._fragments_size = 0
        self._rcvd: Close | None = None
        self._sent: Close | None = None
        self._rcvd_then_sent: bool | None = None
        self._error: BaseException | None = None  # raised by on_messages: it ended the link
        self._cause: BaseException | None = None  # the protocol error that failed the connection
        self._close_timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._drain: list[asyncio.Future[None]] = []

    # -- the Link interface ---------------------------------------------------------------------------
    @property
    def ended(self) -> asyncio.Future[None]:
        return self._ended

    def reason(self) -> BaseException:
        """The exception that ended the link: ``on_messages``', else websockets' ``ConnectionClosed``."""
        if self._error is not None:
            return self._error
        return self._close_exc()

    async def send(self, text: str) -> None:
        """Send one text message (waits while the socket's write buffer is full).

        Raises:
            websockets.ConnectionClosed: the connection is closing or closed.
        """
        if not self._open or self.transport.is_closing():
            await self._wait_ended()
            raise self._close_exc()
        self._ws.send(_TEXT, text)  # type: ignore[union-attr]  # picows encodes a str as UTF-8
        if self._paused and not self._ended.done():
            waiter = self._loop.create_future()
            self._drain.append(waiter)
            await waiter

    async def close(self) -> None:
        """The closing handshake, bounded by ``close_timeout`` (then the TCP connection is aborted)."""
        if not self._ended.done():
            if self._open and not self.transport.is_closing():
                self._send_close(_NORMAL_CLOSE.serialize(), _NORMAL_CLOSE)  # as ClientConnection.close()
            await self._wait_ended()
        if self._watcher is not None:
            await asyncio.wait((self._watcher,))  # it ends with the connection: no task outlives close()

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    # -- picows' WSListener ---------------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport
        self.transport = underlying = transport.underlying_transport
        underlying.set_protocol(_Reads(underlying.get_protocol(), transport, self._deliver))
        self._open = self._receiving = True
        self._route(True)
        # Frames in the same read as the handshake answer are parsed before _Reads is in place: they are
        # delivered on the loop's next turn, before any later read.
        self._loop.call_soon(self._deliver)
        # picows keeps the error that failed the connection for wait_disconnected(): collected there, so
        # that it is marked retrieved. Not the `ended` future: cancelling a task (asyncio.run does at
        # exit) would mark the link ended with its socket still open.
        self._watcher = self._loop.create_task(self._watch(transport), name=f"kunb-{self._name}-link")

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """Every frame while the hot path is off (see :meth:`_route`)."""
        try:
            self._frame(frame)
        except Exception as exc:
            self._failed(exc)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._deliver()  # what the last read brought, before the link reports its end
        self._open = self._receiving = False
        self._route(False)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._release_drain()
        if not self._ended.done():
            self._ended.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._release_drain()

    # -- internals ------------------------------------------------------------------------------------
    def _deliver(self) -> None:
        """Hand the messages parsed so far to ``on_messages`` (after each read)."""
        batch = self._batch
        if not batch:
            return
        try:
            if self._error is None:
                self._on_messages(batch)
        except Exception as exc:
            self._failed(exc)
        finally:
            batch.clear()

    def _hot_path(self) -> Callable[[WSTransport, WSFrame], None]:
        append = self._batch.append
        failed = self._failed
        general = self._frame

        def on_ws_frame(transport: WSTransport, frame: WSFrame) -> None:
            # A whole text or binary message (KuCoin's classic feed sends text, UTA binary frames). A
            # control frame carries at most 125 bytes (RFC 6455 5.5, enforced by picows), so a final
            # frame over 125 bytes outside a fragmented message is one: its opcode, an enum that picows
            # builds on every read (~150 ns, more than the rest of this function), is left unread.
            if frame.fin and frame.payload_size > 125:
                append(frame.get_payload_as_bytes())
                return
            try:
                general(frame)
            except Exception as exc:
                failed(exc)

        return on_ws_frame

    def _route(self, plain: bool) -> None:
        """Hand frames to the hot path (open, no fragmented message in progress) or the general one.

        picows looks ``on_ws_frame`` up on the listener for every frame (a Cython ``cpdef`` method that
        Python may override), so the hot path is a closure stored on the instance: no state check, no
        bound method, no attribute loads per frame. Removing it falls back to the class's method.
        """
        if plain:
            self.__dict__["on_ws_frame"] = self._hot
        else:
            self.__dict__.pop("on_ws_frame", None)

    def _frame(self, frame: WSFrame) -> None:
        """Every frame but a whole data message on an open link. Pings were answered by picows."""
        if not self._receiving:
            return  # after a Close (RFC 6455 1.4) or a failure: discarded
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if self._fragments is not None:
                self._fail(CloseCode.PROTOCOL_ERROR, "expected a continuation frame")
                return
            if frame.fin:  # a whole message of up to 125 bytes (acks, pongs, welcome)
                self._batch.append(frame.get_payload_as_bytes())
                return
            self._fragments = []
            self._fragments_size = 0
            self._route(False)
        elif kind is _CONT:
            if self._fragments is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
                return
        elif kind is _CLOSE:
            self._close_received(frame.get_payload_as_bytes())
            return
        else:
            return  # a pong: KuCoin's keepalive is its JSON ping, no pong is awaited here
        fragments = self._fragments
        self._fragments_size += frame.payload_size
        if self._fragments_size > self._max_size:
            self._cause = PayloadTooBig(self._fragments_size, self._max_size)
            self._fail(CloseCode.MESSAGE_TOO_BIG, f"over size limit ({self._max_size} bytes)")
            return
        fragments.append(frame.get_payload_as_bytes())
        if frame.fin:
            self._fragments = None
            self._route(True)
            self._batch.append(b"".join(fragments))

    def _close_received(self, payload: bytes) -> None:
        try:
            rcvd = Close.parse(payload)
        except ProtocolError as exc:  # picows checked the code below 3000; 5000 and up is invalid too
            self._cause = exc
            self._fail(CloseCode.PROTOCOL_ERROR, str(exc))
            return
        self._rcvd = rcvd
        self._receiving = False
        self._route(False)
        self._fragments = None
        if self._open:
            # Echo the payload as websockets does (RFC 6455 5.5.1: "typically echos the status code").
            self._send_close(payload, rcvd)
            self._rcvd_then_sent = True
        else:
            self._rcvd_then_sent = False
        self._arm_close_timer()  # a client waits for the server to end TCP (RFC 6455 7.1.1)

    def _send_close(self, payload: bytes, close: Close) -> None:
        self._ws.send(_CLOSE, payload)  # type: ignore[union-attr]
        self._sent = close
        self._open = False

    def _fail(self, code: CloseCode, reason: str) -> None:
        """The server broke the protocol: say why in a Close, then end TCP (as picows does for its own)."""
        if self._cause is None:
            self._cause = ProtocolError(reason)
        self._receiving = False
        self._route(False)
        self._fragments = None
        if self._open:
            close = Close(code, reason)
            self._send_close(close.serialize(), close)
        self._ws.disconnect()  # type: ignore[union-attr]

    def _failed(self, exc: BaseException) -> None:
        """``on_messages`` raised (a connection-level error frame...): the link ends with that error."""
        if self._error is None:
            self._error = exc
        self._open = self._receiving = False
        self._route(False)
        self.abort()

    def _close_exc(self) -> ConnectionClosed:
        rcvd, sent = self._rcvd, self._sent
        handshake = self._ws.close_handshake if self._ws is not None else None
        cause = self._cause
        if sent is None and handshake is not None and handshake.sent is not None:
            # picows failed the connection (masked, oversized, malformed frame): its Close says why.
            sent = Close(handshake.sent.code.value, handshake.sent.reason)
            cause = cause or ProtocolError(sent.reason or str(sent))
        ok = rcvd is not None and sent is not None and {rcvd.code, sent.code} <= OK_CLOSE_CODES
        exc = (ConnectionClosedOK if ok else ConnectionClosedError)(rcvd, sent, self._rcvd_then_sent)
        exc.__cause__ = cause
        return exc

    async def _watch(self, transport: WSTransport) -> None:
        try:
            await transport.wait_disconnected()
        except Exception as exc:  # picows' WSProtocolError (masked, oversized, malformed frame...)
            if self._cause is None:
                self._cause = exc  # the same error as the Close picows sent, as the exception itself

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and not self._ended.done():
            self._close_timer = self._loop.call_later(self._close_timeout, self.abort)

    async def _wait_ended(self) -> None:
        self._arm_close_timer()
        await asyncio.shield(self._ended)

    def _release_drain(self) -> None:
        for waiter in self._drain:
            if not waiter.done():
                waiter.set_result(None)
        self._drain.clear()


class _Reads(asyncio.BufferedProtocol):
    """Between asyncio's transport and picows' protocol: bounded reads delivered at once, and none once
    picows failed.

    - After picows parsed a read, its messages go to the link's ``on_messages`` in one call.
    - At most ``_READ_CAP`` bytes per socket read. picows grows its read buffer to whatever the socket
      holds, so after a stall one read could hold tens of thousands of messages, more than the
      connection's bounded queue keeps (it would shed most of them). And every message of a read is
      parsed before the first is decoded: 32 KiB of pushes stay in the CPU cache, where 256 KiB
      (asyncio's own read size) cost up to a third of the level2 rate (bench/RESULTS.md).
    - When picows fails the connection (it sends its own Close; kunb sends Closes as plain frames), it
      disconnects only 10 ms later and meanwhile parses what arrives, even the rest of a frame it
      refused as oversized: those bytes are discarded instead (RFC 6455 7.1.7).

    Every other call goes straight to picows.
    """

    def __init__(self, protocol: Any, ws: WSTransport, deliver: Callable[[], None]) -> None:
        self._protocol = protocol
        self._ws = ws
        self._buffer_updated = protocol.buffer_updated
        self._deliver = deliver

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer: memoryview = self._protocol.get_buffer(sizehint)
        return buffer if len(buffer) <= _READ_CAP else buffer[:_READ_CAP]

    def buffer_updated(self, nbytes: int) -> None:
        if not self._ws.is_close_frame_sent:
            self._buffer_updated(nbytes)
            self._deliver()  # the read's messages, at once

    def eof_received(self) -> bool | None:
        keep_open: bool | None = self._protocol.eof_received()
        return keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        self._protocol.pause_writing()

    def resume_writing(self) -> None:
        self._protocol.resume_writing()


class _WireLog(logging.LoggerAdapter[logging.Logger]):
    """picows' log lines on kunb's wire logger: its per-connection INFO lines at DEBUG (where websockets
    logs them), and the bullet token hidden in the request line it logs as bytes."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level == logging.INFO:
            level = logging.DEBUG
        if not self.isEnabledFor(level):
            return
        shown = tuple(
            redact_token(a.decode("latin-1") if isinstance(a, bytes | bytearray) else a)
            if isinstance(a, str | bytes | bytearray)
            else a
            for a in args
        )
        self.logger.log(level, redact_token(str(msg)), *shown, **kwargs)


async def _connect(host: str, port: int) -> socket.socket:
    """A connected TCP socket (each resolved address in turn, as ``loop.create_connection`` does). kunb
    holds it so that a dial cancelled during the WebSocket handshake can end it at once."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    errors: list[OSError] = []
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if len(errors) == 1:
        raise errors[0]
    raise OSError(f"cannot connect to {host}:{port}: {', '.join(map(str, errors)) or 'no address'}")


def _handshake_error(exc: WSHandshakeError) -> InvalidHandshake:
    """picows' handshake error as websockets' (the connection above handles websockets' errors)."""
    response = exc.response
    if response is not None and int(response.status) != 101:
        status = response.status
        headers = Headers(list(response.headers.items()))
        phrase = getattr(status, "phrase", "")
        return InvalidStatus(Response(int(status), phrase, headers, response.body or b""))
    return InvalidHandshake(str(exc))


async def open_picows_link(
    url: str,
    on_messages: OnMessages,
    *,
    sock: socket.socket | None = None,
    open_timeout: float = 10.0,
    close_timeout: float = 2.0,
    max_size: int = 2**24,
    logger: logging.Logger | None = None,
    name: str = "link",
) -> PicowsLink:
    """Connect and complete the WebSocket handshake; ``on_messages`` gets every message from then on, the
    messages of each socket read in one call.

    Raises:
        websockets.InvalidURI: not a ws:// or wss:// URL.
        OSError, TimeoutError, websockets.WebSocketException: connect or handshake failed.
    """
    wsuri = parse_uri(url)
    link = PicowsLink(on_messages, close_timeout=close_timeout, max_size=max_size, name=name)
    dialed: list[socket.socket] = []

    async def socket_factory(_: object) -> socket.socket:
        dialed.append(sock if sock is not None else await _connect(wsuri.host, wsuri.port))
        return dialed[-1]

    try:
        async with asyncio.timeout(open_timeout):
            _, listener = await ws_connect(
                lambda request, response: link,
                url,
                ssl_context=ssl_module.create_default_context() if wsuri.secure else None,
                websocket_handshake_timeout=open_timeout,
                logger_name=_WireLog(logger or logging.getLogger("kunb.net.wire"), {}),
                enable_auto_pong=True,
                max_frame_size=max_size,
                extra_headers={"User-Agent": _USER_AGENT},
                max_redirects=0,  # as websockets' sans-I/O link: KuCoin's feed hosts do not redirect
                socket_factory=socket_factory,
                use_aiofastnet=False,  # asyncio's own transports and TLS (measured: bench/RESULTS.md)
            )
    except BaseException as exc:
        for dialed_sock in dialed:  # a transport that owns it sees EOF and closes; no socket outlives us
            if dialed_sock.fileno() >= 0:
                with contextlib.suppress(OSError):
                    dialed_sock.shutdown(socket.SHUT_RDWR)
        if isinstance(exc, WSHandshakeError):
            raise _handshake_error(exc) from exc
        raise
    if listener is not link:  # picows returns no listener when TCP ended during the handshake
        raise InvalidHandshake("connection lost during the opening handshake")
    return link
