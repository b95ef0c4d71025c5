"""Test helper (not a test module): KuCoin wire payloads turned into events by the classic decoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kunb.events import BookDelta, BookSnapshot, Event
from kunb.protocol.classic_decoder import ClassicDecoder

_decoder = ClassicDecoder()


def events(frame: Mapping[str, Any], received_ns: int = 0) -> tuple[Event, ...]:
    """The events of one ``message`` frame."""
    return _decoder.decode(frame, received_ns)


def delta(data: Mapping[str, Any], symbol: str | None = None) -> BookDelta:
    """The :class:`BookDelta` of a ``/market/level2`` push ``data`` dict."""
    symbol = symbol or str(data.get("symbol") or "BTC-USDT")
    payload = {"time": 0, **data}
    (event,) = _decoder.decode({"type": "message", "topic": f"/market/level2:{symbol}", "data": payload}, 0)
    assert isinstance(event, BookDelta)
    return event


def book_snapshot(symbol: str, data: Mapping[str, Any], depth: int | None = None) -> BookSnapshot:
    """The :class:`BookSnapshot` of a REST level-2 answer ``data``."""
    return _decoder.book_snapshot(symbol, data, 0, depth=depth)


def event(topic: str, data: Mapping[str, Any], **envelope: Any) -> Event:
    """The (first) event of a push of ``data`` on ``topic``."""
    return _decoder.decode({"type": "message", "topic": topic, "data": data, **envelope}, 0)[0]
