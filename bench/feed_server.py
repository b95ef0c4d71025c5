"""A standalone loopback KuCoin feed for benchmarks: bullet + level2 snapshot over HTTP and the WebSocket
feed on one port, with pre-framed pushes so that the server is not what is measured.

Two kinds of feed, chosen by the subscribed symbol:

- ``BTC-USDT`` (``FIREHOSE``): every subscribe writes ``--n`` pre-rendered, pre-framed pushes
  (``trade.ticker`` or ``trade.l2update``, about 250 B each) with one ``transport.write``. The level2
  snapshot of ``BTC-USDT`` is the state before the first push, so a client that syncs applies all of them.
- any other symbol (and ``/market/ticker:all`` over ``--symbols`` names): paced at ``--rate`` pushes per
  second per symbol, each frame carrying ``"ns"``, the server's ``time.time_ns()`` when it was rendered
  (an extra top-level field; ``data`` keeps KuCoin's shape), for send-to-callback latency.

KuCoin's UTA protocol is served on the same port at ``/uta`` (binary frames, uta-protocol.md): a
``message: welcome``, ``{"id", "result": true}`` answers, pongs, and for ``obu`` of ``BTC-USDT`` at depth
``increment@10ms`` the socket snapshot followed by ``--n`` pre-rendered deltas (``UtaBook``: 1-8 level
changes each, both sides, consecutive ``O``/``C``) in one write.

The bullet says ``"encrypt": null`` so that KuCoin's official SDK can connect to ``ws://``
(``perf-baselines.md``). Level2 books stay uncrossed: bids live on 100 ticks below a fixed centre, asks on
100 ticks above it, so ``level2_100`` snapshots are complete. Subscribing twice (the official SDK does)
is acked twice but fed once.

Run: ``python bench/feed_server.py --n 200000`` prints ``READY <port>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import signal
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import orjson

__all__ = ["FIREHOSE", "L2Book", "Ticker", "UtaBook", "main", "ws_frame"]

FIREHOSE = "BTC-USDT"
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LEVELS = 100  # price levels per side
_BASE_SEQ = 1_000


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked, unfragmented server frame (RFC 6455 5.2)."""
    n = len(payload)
    head = 0x80 | opcode
    if n < 126:
        return bytes((head, n)) + payload
    if n < 1 << 16:
        return bytes((head, 126)) + n.to_bytes(2, "big") + payload
    return bytes((head, 127)) + n.to_bytes(8, "big") + payload


class L2Book:
    """One symbol's level2 book: single-change pushes with consecutive sequences, never crossed."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol = symbol
        self.rng = random.Random(seed)
        self.seq = _BASE_SEQ
        centre = 40_000_00 + self.rng.randrange(1_000_00)  # cents
        self.bids = {centre - 1 - i: self._size() for i in range(_LEVELS)}
        self.asks = {centre + i: self._size() for i in range(_LEVELS)}
        self._bid_prices = list(self.bids)
        self._ask_prices = list(self.asks)
        self._head = (
            b'{"type":"message","topic":"/market/level2:' + symbol.encode() + b'","subject":"trade.l2update",'
        )
        self._sym = b'"symbol":"' + symbol.encode() + b'","time":'

    def _size(self) -> str:
        return f"{self.rng.randrange(1, 50_000) / 10_000:.4f}"

    def snapshot(self, now_ms: int) -> dict[str, object]:
        """The ``level2_100`` answer's ``data``: the whole book (it has 100 levels per side)."""
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return {
            "sequence": str(self.seq),
            "time": now_ms,
            "bids": [[f"{p / 100:.2f}", s] for p, s in bids if s != "0"],
            "asks": [[f"{p / 100:.2f}", s] for p, s in asks if s != "0"],
        }

    def push(self, now_ms: int, stamp: bytes = b"") -> bytes:
        """The next push as JSON bytes (``stamp``: ``b',"ns":123'`` or empty)."""
        rng = self.rng
        self.seq += 1
        seq = str(self.seq).encode()
        size = "0" if rng.random() < 0.2 else self._size()
        if rng.random() < 0.5:
            price = self._bid_prices[int(rng.random() * _LEVELS)]
            self.bids[price] = size
            side = b'"asks":[],"bids":[["'
            tail = b'"]]}'
        else:
            price = self._ask_prices[int(rng.random() * _LEVELS)]
            self.asks[price] = size
            side = b'"asks":[["'
            tail = b'"]],"bids":[]}'
        row = f"{price / 100:.2f}".encode() + b'","' + size.encode() + b'","' + seq
        return (
            self._head
            + b'"data":{"changes":{'
            + side
            + row
            + tail
            + b',"sequenceEnd":'
            + seq
            + b',"sequenceStart":'
            + seq
            + b","
            + self._sym
            + str(now_ms).encode()
            + b"}"
            + stamp
            + b"}"
        )


class UtaBook:
    """One symbol's UTA ``increment@10ms`` book: a socket snapshot, then deltas of 1-8 absolute level
    sizes each (``"0"`` removes a level), never crossed (the same fixed centre as :class:`L2Book`)."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.symbol = symbol
        self.rng = random.Random(seed)
        self.seq = 20_000_000_000
        centre = 40_000_00 + self.rng.randrange(1_000_00)  # cents
        self.bids = {centre - 1 - i: self._size() for i in range(_LEVELS)}
        self.asks = {centre + i: self._size() for i in range(_LEVELS)}
        self._bid_prices = list(self.bids)
        self._ask_prices = list(self.asks)
        self.changes = 0  # level changes rendered in deltas

    def _size(self) -> str:
        return f"{self.rng.randrange(1, 50_000) / 10_000:.4f}"

    def snapshot(self, now_ns: int) -> bytes:
        bids = [[f"{p / 100:.2f}", s] for p, s in sorted(self.bids.items(), reverse=True) if s != "0"]
        asks = [[f"{p / 100:.2f}", s] for p, s in sorted(self.asks.items()) if s != "0"]
        d = {"C": self.seq, "M": now_ns, "O": self.seq, "a": asks, "b": bids, "s": self.symbol}
        frame = {"T": "obu.SPOT", "dp": "increment@10ms", "t": "snapshot", "P": now_ns, "d": d}
        return orjson.dumps(frame)

    def delta(self, now_ns: int) -> bytes:
        rng = self.rng
        sides: tuple[list[list[str]], list[list[str]]] = ([], [])
        first = self.seq + 1
        for _ in range(1 + int(rng.random() * 8)):
            self.seq += 1
            size = "0" if rng.random() < 0.2 else self._size()
            ask = rng.random() < 0.5
            prices = self._ask_prices if ask else self._bid_prices
            price = prices[int(rng.random() * _LEVELS)]
            (self.asks if ask else self.bids)[price] = size
            sides[ask].append([f"{price / 100:.2f}", size])
        self.changes += self.seq - first + 1
        bids, asks = sides
        d = {"C": self.seq, "M": now_ns, "O": first, "a": asks, "b": bids, "s": self.symbol}
        return orjson.dumps({"T": "obu.SPOT", "dp": "increment@10ms", "t": "delta", "P": now_ns, "d": d})


class Ticker:
    """One symbol's ticker: a random walk around 43000, rendered like KuCoin's ``trade.ticker``."""

    def __init__(self, symbol: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seq = 1_545_896_668_000
        self.price = 43_000.0
        self._topic = f"/market/ticker:{symbol}".encode()
        self._subject = b"trade.ticker"

    def push(self, now_ms: int, stamp: bytes = b"", *, all_topic: bytes = b"") -> bytes:
        rng = self.rng
        self.seq += 1
        self.price = max(1.0, self.price + (rng.random() - 0.5) * 2)
        p = self.price
        data = (
            b'{"sequence":"%d","price":"%.1f","size":"%.8f","bestAsk":"%.1f","bestAskSize":"%.8f",'
            b'"bestBid":"%.1f","bestBidSize":"%.8f","time":%d}'
            % (self.seq, p, rng.random(), p + 0.1, rng.random() * 3, p, rng.random() * 3, now_ms)
        )
        topic, subject = (all_topic, self._subject_all) if all_topic else (self._topic, self._subject)
        return (
            b'{"type":"message","topic":"'
            + topic
            + b'","subject":"'
            + subject
            + b'","data":'
            + data
            + stamp
            + b"}"
        )

    @property
    def _subject_all(self) -> bytes:  # ticker:all carries the symbol in `subject` (kucoin-protocol.md 2)
        return self._topic.rsplit(b":", 1)[1]


class Feed:
    """The server's state: firehose blobs, paced units and their subscribers."""

    def __init__(self, n: int, rate: float, symbols: int) -> None:
        self.n = n
        self.rate = rate
        self.all_symbols = [f"S{i:04d}-USDT" for i in range(symbols)]
        self.books: dict[str, L2Book] = {}
        self.tickers: dict[str, Ticker] = {}
        now = int(time.time() * 1000)
        fire_book = L2Book(FIREHOSE, seed=1)
        self.fire_snapshot = fire_book.snapshot(now)
        self.blobs = {
            "level2": b"".join(ws_frame(fire_book.push(now + i // 10)) for i in range(n)),
            "ticker": b"".join(ws_frame(t) for t in _tickers(Ticker(FIREHOSE, seed=2), n, now)),
        }
        # UTA increment@10ms: the snapshot before the first delta, then the deltas (binary frames)
        uta_book = UtaBook(FIREHOSE, seed=3)
        now_ns = now * 1_000_000
        self.uta_snapshot = ws_frame(uta_book.snapshot(now_ns), 0x2)
        self.uta_blob = b"".join(ws_frame(uta_book.delta(now_ns + i * 10_000_000), 0x2) for i in range(n))
        self.uta_changes = uta_book.changes
        # paced units: (kind, symbol) -> subscribed connections; kind "all" is /market/ticker:all
        self.units: dict[tuple[str, str], set[WsConn]] = {}
        self._order: list[tuple[str, str]] = []
        self._pacer: asyncio.Task[None] | None = None

    def book(self, symbol: str) -> L2Book:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = L2Book(symbol, seed=hash(symbol) & 0xFFFF)
        return book

    def snapshot(self, symbol: str) -> dict[str, object]:
        if symbol == FIREHOSE:
            return self.fire_snapshot
        return self.book(symbol).snapshot(int(time.time() * 1000))

    def subscribe(self, conn: WsConn, topic: str) -> None:
        prefix, _, arg = topic.partition(":")
        kind = {"/market/ticker": "ticker", "/market/level2": "level2"}.get(prefix)
        if kind is None:
            return
        symbols = self.all_symbols if arg == "all" else arg.split(",")
        if arg == "all" and kind == "ticker":
            kind = "all"
        for symbol in symbols:
            if symbol == FIREHOSE:
                if (kind, symbol) not in conn.fed:
                    conn.fed.add((kind, symbol))
                    conn.transport.write(self.blobs[kind])
                continue
            key = (kind, symbol)
            subs = self.units.get(key)
            if subs is None:
                subs = self.units[key] = set()
                self._order.append(key)
            subs.add(conn)
        if self._order and self._pacer is None:
            self._pacer = asyncio.get_running_loop().create_task(self._pace())

    def drop(self, conn: WsConn) -> None:
        for key in [k for k, subs in self.units.items() if conn in subs]:
            subs = self.units[key]
            subs.discard(conn)
            if not subs:
                del self.units[key]
                self._order.remove(key)

    async def _pace(self) -> None:
        """Every millisecond, render the pushes due so far (round robin over the units) and write them."""
        last = time.perf_counter()
        owed = 0.0  # pushes due but not yet rendered (fractional carry)
        i = 0
        all_topic = b"/market/ticker:all"
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            order = self._order
            owed += (now - last) * self.rate * len(order)  # the units of this interval, not of the past
            last = now
            due = int(owed)
            if due <= 0:
                continue
            owed -= due
            out: dict[WsConn, list[bytes]] = {}
            now_ms = int(time.time() * 1000)
            for _ in range(due):
                i %= len(order)
                kind, symbol = key = order[i]
                i += 1
                stamp = b',"ns":%d' % time.time_ns()
                if kind == "level2":
                    payload = self.book(symbol).push(now_ms, stamp)
                else:
                    ticker = self.tickers.get(symbol)
                    if ticker is None:
                        ticker = self.tickers[symbol] = Ticker(symbol, seed=hash(symbol) & 0xFFFF)
                    payload = ticker.push(now_ms, stamp, all_topic=all_topic if kind == "all" else b"")
                frame = ws_frame(payload)
                for conn in self.units[key]:
                    out.setdefault(conn, []).append(frame)
            for conn, frames in out.items():
                if not conn.transport.is_closing():
                    conn.transport.write(b"".join(frames))


def _tickers(ticker: Ticker, n: int, now: int) -> Iterator[bytes]:
    for i in range(n):
        yield ticker.push(now + i // 10)


class WsConn(asyncio.Protocol):
    """One client connection: HTTP requests (bullet, snapshot, upgrade), then WebSocket frames."""

    def __init__(self, feed: Feed, port_ref: list[int]) -> None:
        self.feed = feed
        self.port_ref = port_ref
        self.buf = bytearray()
        self.ws = False
        self.uta = False  # upgraded at /uta: KuCoin's UTA protocol, binary frames
        self.fed: set[tuple[str, str]] = set()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.feed.drop(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if not (self._ws_frame() if self.ws else self._http_request()):
                return

    # -- HTTP ----------------------------------------------------------------------------------------
    def _http_request(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(self.buf) < end + 4 + length:
            return False
        del self.buf[: end + 4 + length]
        url = urlsplit(target)
        if headers.get("upgrade", "").lower() == "websocket":
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.ws = True
            if url.path.startswith("/uta"):
                self.uta = True
                self._send({"sessionId": "bench", "message": "welcome", "pingInterval": 18000})
                return True
            connect_id = parse_qs(url.query).get("connectId", ["bench"])[0]
            self._send({"id": connect_id, "type": "welcome"})
            return True
        if method == "POST" and url.path.endswith("bullet-public"):
            endpoint = f"ws://127.0.0.1:{self.port_ref[0]}/"
            server = {"endpoint": endpoint, "encrypt": None, "protocol": "websocket"}
            server |= {"pingInterval": 18000, "pingTimeout": 10000}
            body = {"code": "200000", "data": {"token": "bench-token", "instanceServers": [server]}}
        elif url.path.startswith("/api/v1/market/orderbook/level2"):
            symbol = parse_qs(url.query).get("symbol", [""])[0]
            body = {"code": "200000", "data": self.feed.snapshot(symbol)}
        else:
            self._respond(404, {"code": "404000", "msg": "not found"})
            return True
        self._respond(200, body)
        return True

    def _respond(self, status: int, body: object) -> None:
        raw = orjson.dumps(body)
        reason = b"OK" if status == 200 else b"Not Found"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, len(raw))
            + raw
        )

    # -- WebSocket -----------------------------------------------------------------------------------
    def _ws_frame(self) -> bool:
        buf = self.buf
        if len(buf) < 2:
            return False
        opcode = buf[0] & 0x0F
        n = buf[1] & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return False
            n, pos = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n, pos = int.from_bytes(buf[2:10], "big"), 10
        masked = buf[1] & 0x80
        mask = bytes(buf[pos : pos + 4]) if masked else b"\0\0\0\0"
        pos += 4 if masked else 0
        if len(buf) < pos + n:
            return False
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[pos : pos + n]))
        del buf[: pos + n]
        if opcode == 0x8:  # close: echo it, then end the TCP connection
            self.transport.write(ws_frame(payload[:2], 0x8))
            self.transport.close()
            return False
        if opcode == 0x9:
            self.transport.write(ws_frame(payload, 0xA))
        elif opcode in (0x1, 0x2):
            (self._on_uta if self.uta else self._on_text)(payload)
        return True

    def _on_uta(self, payload: bytes) -> None:
        """A UTA client frame (uta-protocol.md#subscribe-and-unsubscribe, #ping-and-pong)."""
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if msg.get("type") == "ping":
            self._send({"type": "pong", "id": msg.get("id"), "ts": time.time_ns()})
        elif msg.get("op") == "ping":
            self._send({"op": "pong", "id": msg.get("id")})
        elif str(msg.get("action", "")).lower() in ("subscribe", "unsubscribe"):
            self._send({"id": msg.get("id"), "result": True})
            key = ("uta", str(msg.get("channel")))
            if (
                str(msg.get("action")).lower() == "subscribe"
                and key == ("uta", "obu")
                and msg.get("symbol") == FIREHOSE
                and msg.get("depth") == "increment@10ms"
                and key not in self.fed
            ):
                self.fed.add(key)
                self.transport.write(self.feed.uta_snapshot + self.feed.uta_blob)

    def _on_text(self, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        kind = msg.get("type")
        if kind == "ping":
            self._send({"id": msg.get("id"), "type": "pong", "timestamp": int(time.time() * 1e6)})
        elif kind in ("subscribe", "unsubscribe"):
            if msg.get("response", True):
                self._send({"id": msg.get("id"), "type": "ack"})
            if kind == "subscribe":
                self.feed.subscribe(self, str(msg.get("topic", "")))

    def _send(self, message: object) -> None:
        self.transport.write(ws_frame(orjson.dumps(message), 0x2 if self.uta else 0x1))


async def serve(n: int, rate: float, symbols: int, port: int = 0) -> None:
    """Serve until cancelled; prints ``READY <port>`` once listening."""
    feed = Feed(n, rate, symbols)
    port_ref = [0]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: WsConn(feed, port_ref), "127.0.0.1", port)
    port_ref[0] = server.sockets[0].getsockname()[1]
    print(f"READY {port_ref[0]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=200_000, help="pushes per firehose subscribe")
    parser.add_argument("--rate", type=float, default=1_000.0, help="paced pushes per second per symbol")
    parser.add_argument("--symbols", type=int, default=1_500, help="symbols of /market/ticker:all")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.n, args.rate, args.symbols, args.port))


if __name__ == "__main__":
    main()
