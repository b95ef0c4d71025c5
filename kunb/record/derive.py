"""What a protocol's decoder makes of raw records: the events of a data frame, the snapshot of a REST answer.

A raw record is what a connection or REST client handed a wire tap (:mod:`kunb.net.wire`). The writer
process of a :class:`~kunb.record.session.Recording` (``process=True``) rebuilds the normalized events from
them with the same decoders the drivers use (:mod:`kunb.protocol.classic_decoder`,
:mod:`kunb.protocol.uta_decoder`), and :class:`kunb.sources.replay.ReplaySource` finds the recorded book
snapshots with :func:`snapshot_of`. Frames are told apart by their shape (classic data frames have
``"type": "message"``, UTA pushes a ``T``), REST answers by their path (``classic-protocol.md``,
``uta-protocol.md#order-book``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ..events import BookSnapshot, Event, Stats, SymbolInfo
from ..exceptions import ProtocolError
from ..protocol.classic import add_ticker_symbol
from ..protocol.classic_decoder import ClassicDecoder
from ..protocol.uta import orderbook_depth
from ..protocol.uta_decoder import UtaDecoder

__all__ = ["CLASSIC_SNAPSHOTS", "UTA_SNAPSHOTS", "Deriver", "RestSnapshot", "snapshot_of", "symbols_of"]

#: classic REST level-2 snapshot paths -> the snapshot's depth (``None``: the full book)
CLASSIC_SNAPSHOTS: dict[str, int | None] = {
    "/api/v3/market/orderbook/level2": None,
    "/api/v1/market/orderbook/level2": None,
    "/api/v1/market/orderbook/level2_100": 100,
    "/api/v1/market/orderbook/level2_20": 20,
}
UTA_SNAPSHOTS = ("/api/ua/v1/market/orderbook", "/api/ua/v2/market/orderbook")
_STATS = "/api/v1/market/stats"
_SYMBOLS = "/api/v2/symbols"  # the list, or one symbol at /api/v2/symbols/{symbol} (both protocols ask it)
_OK_CODES = ("200000", "200")


class RestSnapshot(dict[str, Any]):
    """A REST book snapshot answer: ``{"type": "rest", "protocol", "url", "symbol", "depth", "data"}``
    (``data``: the answer's ``data``). A replay hands it to its driver as a frame."""


def _answer(url: str, status: int, body: str | bytes) -> tuple[str, dict[str, list[str]], Any] | None:
    """(path, query, data) of a successful KuCoin REST answer, else ``None``."""
    if status != 200:
        return None
    parts = urlsplit(url)
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(envelope, dict) or str(envelope.get("code")) not in _OK_CODES:
        return None
    return parts.path, parse_qs(parts.query), envelope.get("data")


def snapshot_of(url: str, status: int, body: str | bytes) -> RestSnapshot | None:
    """The book snapshot a recorded REST answer holds (classic level 2 or UTA ``market/orderbook``), or
    ``None`` (another call, an error answer)."""
    answer = _answer(url, status, body)
    if answer is None:
        return None
    path, query, data = answer
    symbol = (query.get("symbol") or [""])[0]
    if not symbol or not isinstance(data, dict):
        return None
    if path in CLASSIC_SNAPSHOTS:
        protocol, depth = "classic", CLASSIC_SNAPSHOTS[path]
    elif path in UTA_SNAPSHOTS:
        protocol, depth = "uta", orderbook_depth((query.get("limit") or ["FULL"])[0])
    else:
        return None
    return RestSnapshot(type="rest", protocol=protocol, url=url, symbol=symbol, depth=depth, data=data)


def symbols_of(url: str, status: int, body: str | bytes) -> list[SymbolInfo]:
    """The symbols a recorded symbol-list answer (``GET /api/v2/symbols[/{symbol}]``) lists, with their
    increments; ``[]`` for another call, an error answer or an unreadable item."""
    answer = _answer(url, status, body)
    if answer is None:
        return []
    path, _query, data = answer
    if path.rstrip("/") != _SYMBOLS and not path.startswith(_SYMBOLS + "/"):
        return []
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    found = []
    for item in items:
        try:
            found.append(ClassicDecoder.symbol_info(item))
        except ProtocolError:
            continue  # a symbol without increments: rounding just stays off for it
    return found


class Deriver:
    """Events of raw records, decoded as the drivers decode them (one decoder per protocol)."""

    def __init__(self) -> None:
        self.classic = ClassicDecoder()
        self.uta = UtaDecoder()
        self.undecodable = 0  #: data frames a decoder refused (the driver reported them itself)

    def frame(self, data: bytes | str, received_ns: int) -> tuple[Event, ...]:
        """The events of one frame received; none for control frames (welcome, ack, pong...)."""
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            return ()
        if frame.__class__ is not dict:
            return ()
        try:
            if frame.get("type") == "message":
                if frame.get("topic").__class__ is not str:
                    return ()
                return self.classic.decode(add_ticker_symbol(frame), received_ns)
            push = frame.get("T")
            if push.__class__ is str and frame.get("d").__class__ in (dict, list):
                return self.uta.decode(frame, received_ns)
        except ProtocolError:
            self.undecodable += 1
        return ()

    def snapshot(self, snapshot: Mapping[str, Any], received_ns: int) -> BookSnapshot:
        """The :class:`~kunb.events.BookSnapshot` of a :class:`RestSnapshot`.

        Raises:
            ProtocolError: the answer has no readable book.
        """
        symbol, data, depth = snapshot["symbol"], snapshot["data"], snapshot["depth"]
        if snapshot["protocol"] == "classic":
            return self.classic.book_snapshot(symbol, data, received_ns, depth=depth)
        return self.uta.book_snapshot(data, received_ns, depth=depth, symbol=symbol)

    def rest(self, received_ns: int, url: str, status: int, body: str | bytes) -> Event | None:
        """The event a REST answer makes (a book snapshot, 24 h statistics), or ``None``."""
        found = snapshot_of(url, status, body)
        if found is not None:
            try:
                return self.snapshot(found, received_ns)
            except ProtocolError:
                self.undecodable += 1
                return None
        answer = _answer(url, status, body)
        if answer is None or answer[0] != _STATS or not isinstance(answer[2], dict):
            return None
        symbol = (answer[1].get("symbol") or [""])[0]
        stats: Stats = self.classic.stats(symbol, answer[2], received_ns)
        return stats
