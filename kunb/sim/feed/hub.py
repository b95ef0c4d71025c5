"""Fan-out of the feed: sessions by topic; a push is serialised once and queued on every subscriber.

Private topics (``register_private``) need a private token; :meth:`Hub.publish_private` sends one
user's frame only to that user's sessions subscribed to the topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kunb.sim.feed.session import FaultState, Session

__all__ = ["Hub"]


class Hub:
    """Sessions by per-symbol topic; publishes pre-serialised frames."""

    def __init__(self, everyone: FaultState) -> None:
        self._sessions: dict[int, Session] = {}
        self._subscribers: dict[str, set[Session]] = {}
        self.private_prefixes: set[str] = set()
        self.everyone = everyone
        self.pushes = 0
        self.fresh: set[str] = set()  # topics subscribed since the publisher last looked

    def register_private(self, prefix: str) -> None:
        """Declare a private topic prefix (e.g. ``/account/balance``): it needs a private token."""
        self.private_prefixes.add(prefix)

    def sessions(self) -> list[Session]:
        return list(self._sessions.values())

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
        for topic in session.topics:
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.discard(session)
                if not subs:
                    del self._subscribers[topic]

    def subscribe(self, session: Session, topics: Iterable[str]) -> None:
        for topic in topics:
            session.topics.add(topic)
            self.fresh.add(topic)
            self._subscribers.setdefault(topic, set()).add(session)

    def unsubscribe(self, session: Session, topics: Iterable[str]) -> None:
        for topic in topics:
            session.topics.discard(topic)
            subs = self._subscribers.get(topic)
            if subs is not None:
                subs.discard(session)
                if not subs:
                    del self._subscribers[topic]

    def subscribers(self, topic: str) -> set[Session]:
        return self._subscribers.get(topic, set())

    def wanted(self, topic: str) -> bool:
        return topic in self._subscribers

    def publish(self, topic: str, frame: bytes) -> int:
        """Queue ``frame`` on every subscriber of ``topic``; returns how many."""
        subs = self._subscribers.get(topic)
        if not subs:
            return 0
        for s in subs:
            s.enqueue(frame)
        self.pushes += len(subs)
        return len(subs)

    def publish_private(self, user_id: str, topic: str, message: dict[str, Any]) -> int:
        """Send ``message`` (a full push dict) to ``user_id``'s sessions subscribed to ``topic``."""
        subs = [s for s in self._subscribers.get(topic, ()) if s.user_id == user_id]
        if not subs:
            return 0
        frame = orjson.dumps(message)
        for s in subs:
            s.enqueue(frame, private=True)
        self.pushes += len(subs)
        return len(subs)
