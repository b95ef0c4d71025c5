"""One feed connection's state: outgoing queue and writer, subscribed topics, lasting faults.

Each :class:`Session` has its own bounded queue and writer task, so one slow reader cannot stall the
others (KuCoin drops pushes for slow readers too, which shows up as a level2 gap). :class:`FaultState`
holds the lasting faults of one connection, or of all of them (the hub's ``everyone``), as loop-time
deadlines that the writer, the ping/ack handling and the publisher consult.
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
    level2_skips: dict[str | None, int] = field(default_factory=dict)  # symbol (None = any) -> pushes

    def reset(self) -> None:
        """Lift every fault of this state (in place: sessions hold a reference)."""
        self.no_pong_until = self.drop_acks_until = self.ack_delay = self.ack_delay_until = 0.0
        self.stall_until = 0.0
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
    """One client connection: its token, topics, outgoing queue and fault state."""

    def __init__(self, ws: ServerConnection, token: Token, connect_id: str, hub_faults: FaultState) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.token = token
        self.connect_id = connect_id
        self.topics: set[str] = set()
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

    @property
    def user_id(self) -> str | None:
        return self.token.user_id

    def enqueue(self, frame: bytes, *, control: bool = False) -> None:
        """Queue one text frame; pushes beyond :data:`QUEUE_LIMIT` are dropped, control frames never."""
        if self._closing:
            return
        if not control and len(self._queue) >= QUEUE_LIMIT:
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
                    await self.ws.send(item, text=True)
                    self.sent += 1
            self.idle.set()
