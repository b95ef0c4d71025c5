"""A recording as a source: the raw layer's frames handed to the recorded protocol's decoder, in order.

:class:`ReplaySource` is a :class:`~kunb.sources.base.MarketSource` over a recording directory
(:mod:`kunb.record`): it reads the raw layer of every connection, merged in the order the recording
process took the records in (their local receive time), and hands each market data frame to the
driver's callback exactly as a live connection would (the same filtering of data frames and the same
last touches: :func:`kunb.protocol.classic.add_ticker_symbol`). Decoding is the recorded protocol's own
decoder (classic or UTA), stamping each frame with its *recorded* receive time. So a
:class:`kunb.Stream` over it rebuilds the books and frames the recording saw.

Book snapshots are facts of the recording too: every recorded REST snapshot answer (classic level 2,
UTA ``market/orderbook``) reaches the driver at its recorded place, as a :class:`RecordedSnapshot` frame
that the decoder turns into a :class:`~kunb.events.BookSnapshot`; :meth:`ReplaySource.snapshot` therefore
answers ``None`` (it comes as an event), as a live source does for a snapshot sent on the socket. A frame
listener of a replayed stream sees these frames too (``{"type": "rest", ...}``).

Links: a recorded link that ended and was dialed again is reported as ``down`` (before the next snapshot
or dial, so the books it carried resync as they did live) and ``restored`` at its next data frame;
frames the raw layer itself lost (its ``overflow`` records) as ``overflow``.

Pacing: as fast as the CPU allows (``speed=None``, yielding to the event loop every few hundred frames),
or ``speed`` times the recorded pace.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..events import BookSnapshot, Event, SymbolInfo
from ..exceptions import ConfigurationError, SubscribeError
from ..protocol import classic as classic_protocol
from ..protocol import uta as uta_protocol
from ..protocol.classic_decoder import ClassicDecoder
from ..protocol.uta_decoder import UtaDecoder
from ..record.derive import RestSnapshot, snapshot_of, symbols_of
from ..record.raw import RAW_DIR, raw_files, read_raw, read_recording
from .base import FrameCallback, LinkCallback, LinkChange, LinkStatus, MarketChannels

__all__ = ["RecordedMarket", "RecordedSnapshot", "ReplayDecoder", "ReplaySource", "recorded_market"]

logger = logging.getLogger(__name__)

_YIELD_EVERY = 256  # frames between two yields to the event loop when replaying as fast as possible
_MIN_SLEEP = 0.001  # seconds: a frame due sooner than this is handed over at once

# channel of a market data frame -> the MarketChannels field that asks for it
_CLASSIC_CHANNELS = {
    "/market/level2": "book",
    "/market/ticker": "ticker",
    "/market/match": "trades",
    "/market/snapshot": "stats",
    "/market/candles": "candles",
}
_UTA_CHANNELS = {"obu": "book", "ticker": "ticker", "trade": "trades", "kline": "candles"}


RecordedSnapshot = RestSnapshot
"""A recorded REST book snapshot as the replay hands it to the driver (see :class:`RestSnapshot`)."""


@dataclass
class RecordedMarket:
    """What a recording subscribed to (from the subscribe frames it sent)."""

    protocol: str  #: ``classic`` or ``uta``
    symbols: list[str]  #: in the order they were first subscribed
    channels: set[str] = field(
        default_factory=set
    )  #: ``book``, ``ticker``, ``trades``, ``stats``, ``candles``
    candles: str | None = None  #: the candle interval subscribed (the first one)
    listed: dict[str, SymbolInfo] = field(default_factory=dict)
    """What the recorded symbol-list answers said about the recorded symbols (their increments)."""


def recorded_market(out: str | os.PathLike[str]) -> RecordedMarket:
    """The protocol, symbols and channels a recording's market connections subscribed to.

    Raises:
        ConfigurationError: ``out`` has no raw layer, or the raw layer has no market subscription.
        RecordingError: a file cannot be read.
    """
    files = raw_files(out, open_files=True)
    if not files:
        raise ConfigurationError(f"{out} has no raw layer ({RAW_DIR}/): nothing to replay")
    found: RecordedMarket | None = None
    listed: dict[str, SymbolInfo] = {}
    for path in files:
        for record in read_raw(path):
            if record.get("k") == "rest":
                answer = symbols_of(record["u"], record["s"], record.get("d", ""))
                listed.update((info.symbol, info) for info in answer)
                continue
            if record.get("k") != "sent" or "subscribe" not in str(record.get("d", "")):
                continue
            try:
                frame = orjson.loads(record["d"])
            except orjson.JSONDecodeError:
                continue
            found = _note_subscription(found, frame)
    if found is None or not found.symbols:
        raise ConfigurationError(f"{out}: the recording subscribed to no market data to replay")
    found.listed = {s: listed[s] for s in found.symbols if s in listed}
    return found


def _note_subscription(found: RecordedMarket | None, frame: Any) -> RecordedMarket | None:
    if not isinstance(frame, dict):
        return found
    if frame.get("type") == "subscribe" and isinstance(frame.get("topic"), str):
        prefix, _, args = frame["topic"].partition(":")
        channel = _CLASSIC_CHANNELS.get(prefix.strip())
        if channel is None:
            return found
        found = found or RecordedMarket("classic", [])
        for arg in (a.strip() for a in args.split(",")):
            symbol = arg
            if channel == "candles":
                symbol, _, interval = arg.rpartition("_")
                found.candles = found.candles or interval
            if symbol and symbol != "all" and symbol not in found.symbols:
                found.symbols.append(symbol)
        found.channels.add(channel)
    elif str(frame.get("action", "")).lower() == "subscribe" and frame.get("channel") in _UTA_CHANNELS:
        channel = _UTA_CHANNELS[frame["channel"]]
        found = found or RecordedMarket("uta", [])
        symbol = frame.get("symbol")
        if isinstance(symbol, str) and symbol not in found.symbols:
            found.symbols.append(symbol)
        if channel == "candles":
            found.candles = found.candles or frame.get("interval")
        found.channels.add(channel)
    return found


class ReplayDecoder:
    """The recorded protocol's decoder as a replay uses it: each frame is decoded with its recorded
    receive time (:attr:`received_ns`, set by the source before it hands the frame over), and a
    :class:`RecordedSnapshot` becomes the snapshot event the live source made of that REST answer."""

    def __init__(self, protocol: str) -> None:
        if protocol not in ("classic", "uta"):
            raise ConfigurationError(f"a recording is of the classic or the uta protocol, not {protocol!r}")
        self.protocol = protocol
        self.inner: ClassicDecoder | UtaDecoder = ClassicDecoder() if protocol == "classic" else UtaDecoder()
        self.received_ns = 0
        self._decode = self.inner.decode

    def decode(self, frame: Mapping[str, Any], received_ns: int) -> tuple[Event, ...]:
        if frame.__class__ is RecordedSnapshot:
            return (self.snapshot(frame),)
        return self._decode(frame, self.received_ns)

    def snapshot(self, frame: Mapping[str, Any]) -> BookSnapshot:
        """The :class:`~kunb.events.BookSnapshot` of a recorded REST answer.

        Raises:
            ProtocolError: the answer has no readable book.
        """
        inner = self.inner
        if isinstance(inner, ClassicDecoder):
            return inner.book_snapshot(frame["symbol"], frame["data"], self.received_ns, depth=frame["depth"])
        return inner.book_snapshot(
            frame["data"], self.received_ns, depth=frame["depth"], symbol=frame["symbol"]
        )


@dataclass
class ReplayProgress:
    """Where a replay is (``Stream.connection`` of a replayed stream)."""

    records: int = 0  #: raw records read
    frames: int = 0  #: data frames handed to the driver
    snapshots: int = 0  #: recorded REST snapshots handed to the driver
    skipped: int = 0  #: data frames of other symbols, channels or protocols
    bad_frames: int = 0  #: recorded frames that are not JSON objects
    position_ns: int = 0  #: the recorded receive time of the latest record
    started: float = 0.0  #: time.monotonic() when the replay began
    finished: float = 0.0  #: time.monotonic() when it reached the end (0: not yet)

    @property
    def rate(self) -> float:
        """Data frames per second of replay so far."""
        end = self.finished or time.monotonic()
        return self.frames / (end - self.started) if end > self.started else 0.0


class ReplaySource:
    """A recording replayed as market data (see the module docstring).

    Args:
        out: the recording directory (its ``raw/`` layer).
        speed: ``None``: as fast as the CPU allows; a number: that many times the recorded pace
            (``1``: as it happened).
        protocol: ``classic`` or ``uta``; default: what the recording subscribed with.

    Raises:
        ConfigurationError: no raw layer, nothing to replay, or a speed that is not positive.
    """

    protocol = "replay"

    def __init__(
        self, out: str | os.PathLike[str], *, speed: float | None = None, protocol: str | None = None
    ) -> None:
        if speed is not None and not speed > 0:
            raise ConfigurationError(f"speed must be positive (or None: as fast as possible), not {speed}")
        self.out = Path(out)
        self.market = recorded_market(out)
        self.recorded_protocol = protocol or self.market.protocol
        self.speed = speed
        self.url = f"replay:{self.out}"
        self.decoder = ReplayDecoder(self.recorded_protocol)
        self.worked_around: BaseException | None = None
        self.progress = ReplayProgress()
        self.finished = asyncio.Event()
        """Set once every record was handed over (or the replay failed: see :attr:`error`)."""
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        speed = "max" if self.speed is None else f"{self.speed:g}x"
        return f"<ReplaySource {self.out} {self.recorded_protocol} {speed} frames={self.progress.frames}>"

    def topics(self, channels: MarketChannels) -> list[str]:
        """The recorded protocol's topics for ``channels`` (what the recording subscribed to)."""
        symbols = channels.symbols
        wanted = [
            name for name in ("book", "ticker", "trades", "stats", "candles") if getattr(channels, name)
        ]
        if self.recorded_protocol == "classic":
            names = {v: k for k, v in _CLASSIC_CHANNELS.items()}
            return [f"{names[c]}:{','.join(symbols)}" for c in wanted]
        names = {v: k for k, v in _UTA_CHANNELS.items()}
        return [f"{names[c]}.SPOT:{s}" for c in wanted if c in names for s in symbols]

    async def open(
        self,
        channels: MarketChannels,
        on_frame: FrameCallback,
        on_link: LinkCallback,
        *,
        within: float | None,
    ) -> None:
        if self._task is not None:
            raise ConfigurationError("a ReplaySource replays once: make a new one")
        missing = [s for s in channels.symbols if s not in self.market.symbols]
        if missing:  # what the exchange does with an unknown symbol: refuse the subscription
            held = ", ".join(self.market.symbols)
            raise SubscribeError(404, f"{self.out} did not record {', '.join(missing)} (it has {held})")
        on_link(LinkChange(LinkStatus.LIVE, "replay", channels.symbols, f"replaying {self.out}"))
        self.progress.started = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(
            self._run(channels, on_frame, on_link), name="kunb-replay"
        )

    async def wait_finished(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the whole recording was handed over.

        Raises:
            TimeoutError: not within ``timeout`` seconds.
            RecordingError, ProtocolError: the replay failed (a file could not be read...).
        """
        async with asyncio.timeout(timeout):
            await self.finished.wait()
        if self.error is not None:
            raise self.error

    async def stats(self, symbol: str) -> None:
        """24 h statistics come from the recorded pushes: nothing to seed."""
        return None

    async def symbols(self, symbols: Sequence[str]) -> dict[str, SymbolInfo | None]:
        """The recording as the symbol list: ``None`` for a symbol it does not hold, the recorded
        increments for one it holds whose symbol-list answer it kept; other recorded symbols left out."""
        market = self.market
        return {s: market.listed.get(s) for s in symbols if s in market.listed or s not in market.symbols}

    async def snapshot(self, symbol: str) -> None:
        """``None``: recorded snapshots reach the driver at their place in the recording (see the module
        docstring)."""
        return None

    def connection_detail(self) -> ReplayProgress:
        return self.progress

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the replay ------------------------------------------------------------------------------
    async def _run(self, channels: MarketChannels, on_frame: FrameCallback, on_link: LinkCallback) -> None:
        try:
            await self._play(channels, on_frame, on_link)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a file that cannot be read: say so, do not hang the waiters
            self.error = exc
            logger.error("kunb replay of %s failed: %s", self.out, exc)
            on_link(LinkChange(LinkStatus.CLOSED, "replay", (), f"replay failed: {exc}", exc))
        finally:
            self.progress.finished = time.monotonic()
            self.finished.set()

    async def _play(self, channels: MarketChannels, on_frame: FrameCallback, on_link: LinkCallback) -> None:
        links = _Links(on_link)
        route = self._router(channels)
        decoder = self.decoder
        progress = self.progress
        protocol = self.recorded_protocol
        classic = protocol == "classic"
        wanted = set(channels.symbols)
        book = channels.book
        loads = orjson.loads
        prepare = classic_protocol.add_ticker_symbol
        speed = self.speed
        first_ns: int | None = None
        started = time.monotonic()
        since_yield = 0
        for connection, record in self._records():
            kind = record["k"]
            stamp = record["t"]
            progress.records += 1
            progress.position_ns = stamp
            if speed is not None:
                if first_ns is None:
                    first_ns = stamp
                delay = started + (stamp - first_ns) / 1e9 / speed - time.monotonic()
                if delay >= _MIN_SLEEP:
                    await asyncio.sleep(delay)
                    since_yield = 0
            if kind == "recv":
                text = record.get("d")
                try:
                    frame = loads(text if text is not None else _b64(record))
                except (orjson.JSONDecodeError, ValueError):
                    progress.bad_frames += 1
                    continue
                if frame.__class__ is not dict:
                    progress.bad_frames += 1
                    continue
                if classic:
                    if frame.get("type") != "message":
                        continue  # welcome, ack, pong: the connection's business
                elif frame.get("T") is None:
                    continue
                symbol = route(frame)
                if symbol is None:
                    progress.skipped += 1
                    continue
                links.data(connection, symbol)
                decoder.received_ns = stamp
                on_frame(prepare(frame) if classic else frame)
                progress.frames += 1
                since_yield += 1
                if since_yield >= _YIELD_EVERY:
                    since_yield = 0
                    await asyncio.sleep(0)  # let the driver's other tasks (and everything else) run
            elif kind == "rest":
                snapshot = snapshot_of(record["u"], record["s"], record.get("d", "")) if book else None
                if snapshot is not None and snapshot["protocol"] == protocol and snapshot["symbol"] in wanted:
                    links.flush()  # a snapshot fetched in an outage finds its books resyncing, as live
                    decoder.received_ns = stamp
                    on_frame(snapshot)
                    progress.snapshots += 1
            elif kind == "open":
                links.opened(connection)
            elif kind == "close":
                links.closed(connection)
            elif kind == "overflow":
                links.lost(connection, int(record.get("n", 0)))

    def _records(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        return read_recording(self.out)

    def _router(self, channels: MarketChannels) -> Any:
        """``route(frame) -> symbol`` of a wanted market data frame, else ``None``."""
        wanted = set(channels.symbols)
        fields = {
            name for name in ("book", "ticker", "trades", "stats", "candles") if getattr(channels, name)
        }
        interval = channels.candles
        if self.recorded_protocol == "classic":
            prefixes = {p: c for p, c in _CLASSIC_CHANNELS.items() if c in fields}

            def classic_route(frame: dict[str, Any]) -> str | None:
                topic = frame.get("topic")
                if topic.__class__ is not str:
                    return None
                prefix, _, arg = topic.partition(":")
                channel = prefixes.get(prefix)
                if channel is None:
                    return None
                if channel == "candles":
                    arg, _, kind = arg.rpartition("_")
                    if kind != interval:
                        return None
                elif arg == "all":
                    arg = frame.get("subject", "")
                return arg if arg in wanted else None

            return classic_route
        cache: dict[str, str | None] = {}

        def uta_route(frame: dict[str, Any]) -> str | None:
            key = uta_protocol.push_key(frame)
            if key is None:
                return None
            if key not in cache:
                cache[key] = _uta_symbol(key, fields, wanted, interval)
            return cache[key]

        return uta_route


def _wanted(channels: MarketChannels) -> list[str]:
    """The channel names ``channels`` asks for."""
    return [name for name in ("book", "ticker", "trades", "stats", "candles") if getattr(channels, name)]


def _uta_symbol(key: str, fields: set[str], wanted: set[str], interval: str | None) -> str | None:
    try:
        parsed = uta_protocol.parse_topic(key)
    except ValueError:
        return None
    channel = _UTA_CHANNELS.get(parsed.channel)
    if channel not in fields or parsed.symbol not in wanted:
        return None
    if channel == "candles" and parsed.param != interval:
        return None
    return parsed.symbol


def _b64(record: Mapping[str, Any]) -> bytes:
    return base64.b64decode(record["b64"])


class _Links:
    """The recorded links' ends and re-dials, as the link changes a live source reported."""

    def __init__(self, on_link: LinkCallback) -> None:
        self._on_link = on_link
        self._symbols: dict[str, dict[str, None]] = {}  # connection -> symbols its data frames carried
        self._down: list[str] = []  # connections whose end is not reported yet
        self._restoring: set[str] = set()

    def data(self, connection: str, symbol: str) -> None:
        carried = self._symbols.setdefault(connection, {})
        if symbol not in carried:
            carried[symbol] = None
        if connection in self._restoring:
            self._restoring.discard(connection)
            self._on_link(LinkChange(LinkStatus.RESTORED, connection, tuple(carried), "dialed again"))

    def closed(self, connection: str) -> None:
        # reported at the next dial or snapshot, not now: the recording's own end closes every link,
        # and books must not resync after the last frame
        if connection in self._symbols and connection not in self._down:
            self._down.append(connection)

    def opened(self, connection: str) -> None:
        self.flush()

    def flush(self) -> None:
        down, self._down = self._down, []
        for connection in down:
            self._restoring.add(connection)
            symbols = tuple(self._symbols.get(connection, ()))
            self._on_link(LinkChange(LinkStatus.DOWN, connection, symbols, "the recorded link ended"))

    def lost(self, connection: str, count: int) -> None:
        detail = f"{count} frames missing from the recording (its raw queue overflowed)"
        self._on_link(LinkChange(LinkStatus.OVERFLOW, connection, (), detail))
