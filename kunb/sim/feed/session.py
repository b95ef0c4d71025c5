"""One feed connection's state: outgoing queue and writer, subscribed topics, lasting faults.

Each :class:`Session` has its own bounded queue and writer task, so one slow reader cannot stall the
others (KuCoin drops pushes for slow readers too, which shows up as a level2 gap). :class:`FaultState`
holds the lasting faults of one connection, or of all of them (the hub's ``everyone``), as loop-time
deadlines that the writer, the ping/ack handling and the publisher consult. Sessions of both protocols
are the same class: a classic one sends text frames, a UTA one binary frames
(``uta-protocol.md#framing-and-lifetime``) and learns its user from a token or an ``op:auth`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from kunb.sim.feed.tokens import Token

__all__ = ["QUEUE_LIMIT", "FaultState", "Session"]

QUEUE_LIMIT = 10_000  # pushes queued per session before dropping (slow reader)
_ids = itertools.count(1)


@dataclass(slots=True)
class FaultState:
    """Lasting faults of one connection (or of all): loop-time deadlines, 0 = off."""

    no_pong_until: float = 0.0
    drop_acks_until: float = 0.0
    ack_delay: float = 0.0
    ack_delay_until: float = 0.0
    stall_until: float = 0.0
    silent_until: float = 0.0  # market-data pushes are dropped; pongs, acks and private pushes still go out
    snapshot_delay: float = 0.0  # UTA obu snapshots promised by a subscription come this late
    snapshot_delay_until: float = 0.0
    level2_skips: dict[str | None, int] = field(default_factory=dict)  # symbol (None = any) -> pushes

    def reset(self) -> None:
        """Lift every fault of this state (in place: sessions hold a reference)."""
        self.no_pong_until = self.drop_acks_until = self.ack_delay = self.ack_delay_until = 0.0
        self.stall_until = self.silent_until = self.snapshot_delay = self.snapshot_delay_until = 0.0
        self.level2_skips.clear()

    def take_level2_skip(self, symbol: str) -> bool:
        """Consume one pending level2 skip for ``symbol``; True when this push must be dropped."""
        for key in (symbol, None):
            left = self.level2_skips.get(key, 0)
            if left > 0:
                if left == 1:
                    del self.level2_skips[key]
                else:
                    self.level2_skips[key] = left - 1
                return True
        return False


class Session:
    """One client connection: its token, topics, outgoing queue and fault state.

    Args:
        ws: the connection.
        token: the token it connected with (``None``: a UTA socket dialed without one).
        connect_id: the id error frames and fault injection know it by.
        hub_faults: the exchange-wide fault state.
        binary: send binary frames (UTA) instead of text frames (classic).
    """

    def __init__(
        self,
        ws: ServerConnection,
        token: Token | None,
        connect_id: str,
        hub_faults: FaultState,
        *,
        binary: bool = False,
    ) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.token = token
        self.user_id: str | None = token.user_id if token is not None else None
        """The user whose private pushes this connection may get (a private token's, or UTA ``op:auth``)."""
        self.binary = binary
        self.connect_id = connect_id
        self.topics: set[str] = set()
        self.ghosts: set[str] = set()  # UTA subscriptions to unlisted symbols: acknowledged, never served
        self.faults = FaultState()
        self.hub_faults = hub_faults  # the exchange-wide fault state (conn=None)
        self.uplink: deque[float] = deque()
        self.last_seen = 0.0
        self.sent = 0
        self.dropped = 0
        self._queue: deque[bytes | tuple[bytes, int]] = deque()  # (blob, n): pre-framed firehose batch
        self._wakeup = asyncio.Event()
        self.idle = asyncio.Event()  # set whenever the queue has been fully written
        self.idle.set()
        self.progress = asyncio.Event()  # set after every queue item written (firehose pacing)
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Session(id={self.id}, connect_id={self.connect_id!r}, topics={len(self.topics)})"

    def allow_uplink(self, now: float, limit: int, window_s: float) -> bool:
        """Count one client message at loop time ``now``; False when it is over ``limit`` per ``window_s``
        (a sliding window, as KuCoin counts: classic-protocol.md#subscribe-and-ack,
        uta-protocol.md#limits)."""
        window = self.uplink
        while window and window[0] <= now - window_s:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    def reply_delay(self, now: float) -> float | None:
        """How late an ack (or UTA result) goes out under the ``drop_acks``/``delay_acks`` faults: ``None``
        when it must be dropped, else seconds (0: at once)."""
        f, g = self.faults, self.hub_faults
        if max(f.drop_acks_until, g.drop_acks_until) > now:
            return None
        return max(
            f.ack_delay if f.ack_delay_until > now else 0.0, g.ack_delay if g.ack_delay_until > now else 0.0
        )

    def snapshot_delay(self, now: float) -> float:
        """How late a UTA snapshot promised now comes under the ``delay_snapshots`` fault (0: at once)."""
        f, g = self.faults, self.hub_faults
        return max(
            f.snapshot_delay if f.snapshot_delay_until > now else 0.0,
            g.snapshot_delay if g.snapshot_delay_until > now else 0.0,
        )

    def no_pong(self, now: float) -> bool:
        """True while the ``drop_pongs`` fault swallows this connection's pongs."""
        return max(self.faults.no_pong_until, self.hub_faults.no_pong_until) > now

    def silent(self) -> bool:
        """True while a ``silence`` fault drops this connection's market-data pushes."""
        until = max(self.faults.silent_until, self.hub_faults.silent_until)
        return until > 0.0 and until > asyncio.get_running_loop().time()

    def enqueue(self, frame: bytes, *, control: bool = False, private: bool = False) -> None:
        """Queue one frame; pushes beyond :data:`QUEUE_LIMIT` are dropped, and market-data pushes while
        :meth:`silent`; control frames never."""
        if self._closing:
            return
        if not control and (len(self._queue) >= QUEUE_LIMIT or (not private and self.silent())):
            self.dropped += 1
            return
        self._queue.append(frame)
        self.idle.clear()
        self._wakeup.set()

    def enqueue_frames(self, blob: bytes, count: int) -> None:
        """Queue ``count`` pre-framed WebSocket text frames written as one blob (firehose mode)."""
        if self._closing:
            return
        self._queue.append((blob, count))
        self.idle.clear()
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        """Queue items not yet handed to the transport."""
        return len(self._queue)

    def abort(self) -> None:
        """Abrupt disconnect: abort the TCP transport, no close frame (fault injection)."""
        self._closing = True
        self.ws.transport.abort()

    def close_with(self, code: int, reason: str) -> None:
        self._closing = True
        self._close_task = asyncio.get_running_loop().create_task(self.ws.close(code, reason))

    async def writer(self, now: Callable[[], float]) -> None:
        """Send queued frames in order; honours the stall fault; ends quietly when the peer is gone."""
        with contextlib.suppress(ConnectionClosed):
            await self._write_loop(now)

    async def _write_loop(self, now: Callable[[], float]) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                stall = max(self.faults.stall_until, self.hub_faults.stall_until) - now()
                if stall > 0:
                    await asyncio.sleep(min(stall, 0.05))
                    continue
                item = self._queue.popleft()
                if isinstance(item, tuple):
                    # Frames built by kunb.sim.firehose: one write, websockets' own flow control.
                    # Never after the closing handshake began: a data frame may not follow a close.
                    if self.ws.state is not State.OPEN:
                        self._queue.clear()
                        break
                    self.ws.transport.write(item[0])
                    await self.ws.drain()
                    self.sent += item[1]
                    self.progress.set()
                else:
                    await self.ws.send(item, text=not self.binary)
                    self.sent += 1
            self.idle.set()
