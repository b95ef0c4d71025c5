"""Fault injection for the simulator: break connections, pongs, acks, sequences, tokens, bullets on purpose.

Every fault reaches the connections of both protocols (classic and UTA sockets share the feed's hub);
where one means something different per protocol, the line says so.

Every fault is reversible and scoped: ``conn=None`` hits every connection (those open now and, for
lasting faults, those that open while it is active); ``conn=<id>`` (a connection id from
``ex.connections()`` or the client's ``connectId``) hits one. ``seconds=None`` lasts until
:meth:`Faults.clear`; a number makes it lapse by itself.

In-process API (``ex.faults``; safe to call from any thread)::

    ex.faults.disconnect(abrupt=True, conn=None)    # abort the TCP transport: no close frame
    ex.faults.close(code=1011, reason="", conn=None)  # clean close with a code
    ex.faults.drop_pongs(seconds=None, conn=None)   # stop answering JSON pings
    ex.faults.drop_acks(seconds=None, conn=None)    # swallow subscribe/unsubscribe acks
    ex.faults.delay_acks(delay=1.0, seconds=None, conn=None)  # send acks ``delay`` s late
    ex.faults.stall(seconds=5.0, conn=None)         # send nothing (pushes queue up, then drop)
    ex.faults.silence(seconds=None, conn=None)      # drop market data; pongs, acks, private pushes go out
    ex.faults.skip_level2(pushes=1, symbol=None, conn=None)  # drop book-delta pushes: a sequence gap
                                                    # (classic level2, UTA obu deltas; firehose batches
                                                    # are not skipped)
    ex.faults.delay_snapshots(delay=2.0, seconds=None, conn=None)  # UTA obu snapshots come late
    ex.faults.send_malformed(conn=None)             # a frame that is not JSON
    ex.faults.send_unknown_type(conn=None)          # {"type": "surprise", ...}
    ex.faults.expire_tokens()                       # every issued token -> 401 "token is expired"
    ex.faults.bullet_errors(status=503, seconds=None, count=None)  # bullet-public/private -> 5xx
    ex.faults.clear()                               # lift every lasting fault

Over HTTP (only when ``Exchange(admin=True)``; the REST server binds loopback):
``POST /admin/faults/{name}`` with the keyword arguments as a JSON object, e.g.
``POST /admin/faults/drop_pongs {"seconds": 5}``; ``POST /admin/faults/clear``.

The switchboard sits on top, beside :class:`~kunb.sim.exchange.Exchange`, because one fault call reaches
feed sessions (:mod:`kunb.sim.feed`), the token registry and REST's bullet answers; the per-connection
state it sets (:class:`~kunb.sim.feed.session.FaultState`) lives in the feed, which only reads it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kunb.exceptions import ConfigurationError
from kunb.sim.feed.hub import Hub
from kunb.sim.feed.session import FaultState, Session

__all__ = ["FAULT_NAMES", "Faults"]

_T = TypeVar("_T")
_FOREVER = float("inf")


FAULT_NAMES = (
    "disconnect",
    "close",
    "drop_pongs",
    "drop_acks",
    "delay_acks",
    "stall",
    "silence",
    "skip_level2",
    "delay_snapshots",
    "send_malformed",
    "send_unknown_type",
    "expire_tokens",
    "bullet_errors",
    "clear",
)


class Faults:
    """The fault switchboard of one exchange (see the module docstring)."""

    def __init__(self, hub: Hub, expire_tokens: Callable[[], int]) -> None:
        self._hub = hub
        self._expire_tokens = expire_tokens
        self.everyone = hub.everyone
        self.bullet_status = 0
        self._bullet_until = 0.0
        self._bullet_count: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ connection faults
    def disconnect(self, *, abrupt: bool = True, conn: int | str | None = None) -> int:
        """Drop connections; ``abrupt`` aborts the transport (no close frame). Returns how many."""
        if not abrupt:
            return self.close(code=1001, reason="going away", conn=conn)

        def act() -> int:
            targets = self._targets(conn)
            for s in targets:
                s.abort()
            return len(targets)

        return self._call(act)

    def close(self, *, code: int = 1011, reason: str = "", conn: int | str | None = None) -> int:
        """Close connections cleanly with ``code``/``reason``. Returns how many."""

        def act() -> int:
            targets = self._targets(conn)
            for s in targets:
                s.close_with(code, reason)
            return len(targets)

        return self._call(act)

    def drop_pongs(self, *, seconds: float | None = None, conn: int | str | None = None) -> None:
        """Stop answering JSON pings."""
        self._lasting(conn, seconds, lambda st, until: setattr(st, "no_pong_until", until))

    def drop_acks(self, *, seconds: float | None = None, conn: int | str | None = None) -> None:
        """Swallow acks of subscribe/unsubscribe (the subscription itself still happens)."""
        self._lasting(conn, seconds, lambda st, until: setattr(st, "drop_acks_until", until))

    def delay_acks(
        self, *, delay: float = 1.0, seconds: float | None = None, conn: int | str | None = None
    ) -> None:
        """Send acks ``delay`` seconds late."""

        def set_(st: FaultState, until: float) -> None:
            st.ack_delay, st.ack_delay_until = delay, until

        self._lasting(conn, seconds, set_)

    def stall(self, *, seconds: float | None = 5.0, conn: int | str | None = None) -> None:
        """Send nothing at all (pushes pile up in the bounded queue, then are dropped)."""
        self._lasting(conn, seconds, lambda st, until: setattr(st, "stall_until", until))

    def silence(self, *, seconds: float | None = None, conn: int | str | None = None) -> None:
        """Drop every market-data push (not queued: lost), while pongs, acks and private pushes still go out:
        a link that is alive but whose streams say nothing (UTA: ``uta-kunb.md#uta-silence``; books see a
        gap when pushes resume). Private channels are spared: a quiet account cannot be told from a silent
        one, so no client could notice their loss."""
        self._lasting(conn, seconds, lambda st, until: setattr(st, "silent_until", until))

    def delay_snapshots(
        self, *, delay: float = 2.0, seconds: float | None = None, conn: int | str | None = None
    ) -> None:
        """UTA: the ``obu`` snapshot a subscription promises comes ``delay`` seconds after its ack (KuCoin's
        came 0.5 to 6.2 s late, ``uta-protocol.md#order-book-sync``); classic has no socket snapshot."""
        if delay < 0:
            raise ConfigurationError("delay must be >= 0")

        def set_(st: FaultState, until: float) -> None:
            st.snapshot_delay, st.snapshot_delay_until = delay, until

        self._lasting(conn, seconds, set_)

    def skip_level2(
        self, *, pushes: int = 1, symbol: str | None = None, conn: int | str | None = None
    ) -> None:
        """Drop the next ``pushes`` book-delta pushes (of ``symbol``, or any): the client sees a gap.

        Classic ``/market/level2`` pushes and UTA ``obu`` deltas (``increment`` and ``increment@10ms``)
        alike; an exchange-wide skip is taken by whichever protocol's delta goes out first."""
        if pushes < 1:
            raise ConfigurationError("pushes must be >= 1")

        def act() -> None:
            for st in self._states(conn):
                st.level2_skips[symbol] = st.level2_skips.get(symbol, 0) + pushes

        self._call(act)

    def send_malformed(self, *, conn: int | str | None = None) -> int:
        """Send a frame that is not JSON (text on classic sockets, binary on UTA ones)."""
        return self._call(lambda: self._send_raw(conn, b'{"type":"message","topic":'))

    def send_unknown_type(self, *, conn: int | str | None = None) -> int:
        """Send a JSON message of a type KuCoin never sends."""
        return self._call(lambda: self._send_raw(conn, b'{"type":"surprise","id":"0","data":{}}'))

    # ------------------------------------------------------------------ exchange-wide faults
    def expire_tokens(self) -> int:
        """Invalidate every token issued so far: new connections with them get 401 ``token is expired``."""
        return self._call(self._expire_tokens)

    def bullet_errors(
        self, *, status: int = 503, seconds: float | None = None, count: int | None = None
    ) -> None:
        """Make ``POST /api/v1/bullet-*`` answer HTTP ``status`` (for ``seconds`` / ``count`` requests)."""
        if not 500 <= status <= 599:
            raise ConfigurationError("bullet_errors status must be 5xx")

        def act() -> None:
            self.bullet_status = status
            self._bullet_until = self._until(seconds)
            self._bullet_count = count

        self._call(act)

    def bullet_failure(self) -> int:
        """The status the next bullet request must fail with, or 0 (called by the REST app)."""
        if not self.bullet_status:
            return 0
        if self._now() >= self._bullet_until or self._bullet_count == 0:
            self.bullet_status = 0
            return 0
        if self._bullet_count is not None:
            self._bullet_count -= 1
        return self.bullet_status

    def clear(self) -> None:
        """Lift every lasting fault, on every connection and exchange-wide."""

        def act() -> None:
            self.everyone.reset()
            self.bullet_status = 0
            for s in self._hub.sessions():
                s.faults.reset()

        self._call(act)

    # ------------------------------------------------------------------ helpers
    def _now(self) -> float:
        loop = self.loop
        return loop.time() if loop is not None else 0.0

    def _until(self, seconds: float | None) -> float:
        if seconds is not None and seconds < 0:
            raise ConfigurationError("seconds must be >= 0")
        return _FOREVER if seconds is None else self._now() + seconds

    def _targets(self, conn: int | str | None) -> list[Session]:
        sessions = self._hub.sessions()
        if conn is None:
            return sessions
        found = [s for s in sessions if conn in (s.id, s.connect_id)]
        if not found:
            raise ConfigurationError(f"no open connection {conn!r}")
        return found

    def _states(self, conn: int | str | None) -> list[FaultState]:
        if conn is None:
            return [self.everyone]
        return [s.faults for s in self._targets(conn)]

    def _lasting(
        self, conn: int | str | None, seconds: float | None, apply: Callable[[FaultState, float], None]
    ) -> None:
        def act() -> None:
            until = self._until(seconds)
            for st in self._states(conn):
                apply(st, until)

        self._call(act)

    def _send_raw(self, conn: int | str | None, frame: bytes) -> int:
        targets = self._targets(conn)
        for s in targets:
            s.enqueue(frame, control=True)
        return len(targets)

    def _call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the exchange's loop thread (directly when already there) and return its result."""
        loop = self.loop
        if loop is None or self.loop_thread is None or threading.current_thread() is self.loop_thread:
            return fn()
        fut: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # hand any failure to the calling thread
                fut.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return fut.result(timeout=10)

    def apply(self, name: str, kwargs: dict[str, Any]) -> Any:
        """Dispatch by name (the admin route); unknown names or arguments raise ConfigurationError."""
        if name not in FAULT_NAMES:
            raise ConfigurationError(f"unknown fault {name!r}")
        try:
            return getattr(self, name)(**kwargs)
        except TypeError as exc:
            raise ConfigurationError(f"bad arguments for fault {name!r}: {exc}") from exc
