"""What a replay serves: the recorded books, tickers and REST answers at the replay's current moment.

Pure: records in (:meth:`ReplayMarket.apply`), REST answers out. The pushes to publish come back from
``apply`` as the recorded bytes with their topic; level-2 pushes of a sequence already published (the
same book recorded on two connections) are published once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from kunb.sim.core.symbols import DEFAULT_SYMBOLS, SymbolSpec, catalogue
from kunb.sim.feed.topics import PUBLIC_PREFIXES
from kunb.sim.replay.book import ReplayBook
from kunb.sim.replay.recording import Record
from kunb.sim.wire import market as market_wire

__all__ = ["SNAPSHOT_PATHS", "ReplayMarket", "answer_key"]

#: REST level-2 snapshot paths -> levels a side (``None``: the full book)
SNAPSHOT_PATHS: dict[str, int | None] = {
    "/api/v3/market/orderbook/level2": None,
    "/api/v1/market/orderbook/level2": None,
    "/api/v1/market/orderbook/level2_100": 100,
    "/api/v1/market/orderbook/level2_20": 20,
}
_SYMBOL_LISTS = ("/api/v1/symbols", "/api/v2/symbols")
_KNOWN = frozenset(spec.symbol for spec in DEFAULT_SYMBOLS)


def answer_key(path: str, query: Iterable[tuple[str, str]]) -> str:
    """The key of a REST call: its path and sorted query (what a recorded answer is looked up by)."""
    return path + "?" + "&".join(f"{k}={v}" for k, v in sorted(query))


def _decimals(text: str) -> int:
    exponent = Decimal(text).normalize().as_tuple().exponent
    return max(0, -int(exponent))


class ReplayMarket:
    """The recorded market at the replay's current moment (see the module docstring)."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = list(dict.fromkeys(symbols))
        self.books = {symbol: ReplayBook(symbol) for symbol in self.symbols}
        self.tickers: dict[str, Mapping[str, Any]] = {}  #: the latest ticker push's data per symbol
        self.stats24: dict[str, Mapping[str, Any]] = {}  #: the latest /market/snapshot push's data
        self.answers: dict[str, tuple[int, str]] = {}  #: answer_key -> (HTTP status, body) recorded last
        self.symbol_items: dict[str, dict[str, Any]] = {}  #: a recorded symbol list's items
        self.position_ns = 0  #: the recording's clock at the latest record applied
        self.published = 0
        self._sequences: dict[str, int] = {}  # symbol -> last level-2 sequence published
        self._specs: dict[str, SymbolSpec] = {}

    @property
    def now_ms(self) -> int:
        return self.position_ns // 1_000_000

    # -- records in ------------------------------------------------------------------------------
    def apply(self, record: Record) -> tuple[str, bytes] | None:
        """Take one record in; returns ``(topic, frame)`` when it is a push to publish."""
        self.position_ns = record.t
        if record.kind == "rest":
            self._answer(record)
            return None
        if '"message"' not in record.text:
            return None  # welcome, ack, pong: each client gets its own
        try:
            frame = orjson.loads(record.text)
        except orjson.JSONDecodeError:
            return None
        topic = frame.get("topic") if isinstance(frame, dict) else None
        if not isinstance(topic, str) or topic.partition(":")[0] not in PUBLIC_PREFIXES:
            return None  # private pushes of an account recording are not served
        data = frame.get("data")
        subject = frame.get("subject")
        if subject == "trade.l2update" and isinstance(data, dict):
            symbol = str(data.get("symbol", topic.partition(":")[2]))
            end = int(data.get("sequenceEnd", 0))
            if end <= self._sequences.get(symbol, 0):
                return None
            self._sequences[symbol] = end
            book = self.books.get(symbol)
            if book is not None:
                book.push(data)
        elif subject == "trade.ticker" and isinstance(data, dict):
            self.tickers[topic.partition(":")[2]] = data
        elif subject == "trade.snapshot" and isinstance(data, dict) and isinstance(data.get("data"), dict):
            self.stats24[topic.partition(":")[2]] = data["data"]
        self.published += 1
        return topic, record.text.encode()

    def _answer(self, record: Record) -> None:
        parts = urlsplit(record.url)
        query = parse_qsl(parts.query)
        self.answers[answer_key(parts.path, query)] = (record.status, record.text)
        if record.status != 200:
            return
        try:
            envelope = orjson.loads(record.text)
        except orjson.JSONDecodeError:
            return
        data = envelope.get("data") if isinstance(envelope, dict) else None
        if parts.path in SNAPSHOT_PATHS and isinstance(data, dict):
            symbol = dict(query).get("symbol", "")
            book = self.books.get(symbol)
            if book is not None:
                book.snapshot(data)
                self._specs.setdefault(symbol, self._infer(symbol, data))
        elif parts.path in _SYMBOL_LISTS and isinstance(data, list):
            for item in data:
                if isinstance(item, dict) and item.get("symbol") in self.books:
                    self.symbol_items.setdefault(item["symbol"], item)

    # -- REST out --------------------------------------------------------------------------------
    def snapshot(self, symbol: str, depth: int | None) -> dict[str, Any] | None:
        """The book of ``symbol`` now, REST-shaped; ``None`` while the recording does not know it."""
        book = self.books.get(symbol)
        if book is None or not book.known:
            return None
        return book.answer(depth, self.now_ms)

    def level1(self, symbol: str) -> dict[str, Any] | None:
        """``GET /api/v1/market/orderbook/level1`` from the latest recorded ticker push."""
        data = self.tickers.get(symbol)
        if data is None:
            return None
        keys = ("sequence", "price", "size", "bestBid", "bestBidSize", "bestAsk", "bestAskSize")
        return {"time": self.now_ms, **{k: data.get(k) for k in keys}}

    def stats(self, symbol: str) -> dict[str, Any] | None:
        """``GET /api/v1/market/stats`` from the latest recorded ticker and 24 h statistics pushes."""
        tick, day = self.tickers.get(symbol), self.stats24.get(symbol)
        if tick is None and day is None:
            return None
        tick, day = tick or {}, day or {}

        def text(key: str) -> str | None:
            value = day.get(key)
            return None if value is None else str(value)

        return {
            "time": self.now_ms,
            "symbol": symbol,
            "buy": tick.get("bestBid") or text("buy"),
            "sell": tick.get("bestAsk") or text("sell"),
            "changeRate": text("changeRate"),
            "changePrice": text("changePrice"),
            "high": text("high"),
            "low": text("low"),
            "vol": text("vol"),
            "volValue": text("volValue"),
            "last": tick.get("price") or text("lastTradedPrice"),
            "averagePrice": text("averagePrice"),
            "takerFeeRate": "0.001",
            "makerFeeRate": "0.001",
            "takerCoefficient": "1",
            "makerCoefficient": "1",
        }

    def all_tickers(self) -> dict[str, Any]:
        """``GET /api/v1/market/allTickers``: the replayed symbols with recorded tickers or statistics."""
        items = []
        for symbol in self.symbols:
            item = self.stats(symbol)
            if item is None:
                continue
            del item["time"]
            tick = self.tickers.get(symbol) or {}
            item.update(
                symbolName=symbol, bestBidSize=tick.get("bestBidSize"), bestAskSize=tick.get("bestAskSize")
            )
            items.append(item)
        return {"time": self.now_ms, "ticker": items}

    def symbol_list(self, *, v2: bool) -> list[dict[str, Any]]:
        """The recorded symbol list's items of the replayed symbols; for the others, items made from
        what the recording shows (increments: the decimals of its prices and sizes)."""
        out = []
        for symbol in self.symbols:
            item = self.symbol_items.get(symbol)
            out.append(item if item is not None else market_wire.symbol_item(self.spec(symbol), v2=v2))
        return out

    def currencies(self) -> list[dict[str, Any]]:
        seen: dict[str, int] = {}
        for symbol in self.symbols:
            spec = self.spec(symbol)
            seen.setdefault(spec.base, spec.size_decimals)
            seen.setdefault(spec.quote, 8)
        return [market_wire.currency_item(currency, precision) for currency, precision in seen.items()]

    def spec(self, symbol: str) -> SymbolSpec:
        """A symbol's increments: the embedded exchange's own for its symbols, else from the recording."""
        spec = self._specs.get(symbol)
        if spec is None:
            spec = self._specs[symbol] = catalogue([symbol])[0]
        return spec

    @staticmethod
    def _infer(symbol: str, data: Mapping[str, Any]) -> SymbolSpec:
        generic = catalogue([symbol])[0]
        rows = [*(data.get("bids") or ())[:50], *(data.get("asks") or ())[:50]]
        if symbol in _KNOWN or not rows:
            return generic  # the embedded exchange's own pairs keep their real increments
        price_increment = _increment(max(_decimals(str(row[0])) for row in rows))
        base_increment = _increment(max(_decimals(str(row[1])) for row in rows))
        return dataclasses.replace(
            generic,
            price_increment=price_increment,
            base_increment=base_increment,
            base_min_size=base_increment,
            initial_price=str(rows[0][0]),
        )


def _increment(decimals: int) -> str:
    """``10**-decimals`` as KuCoin writes an increment (``"0.001"``, ``"1"``)."""
    return f"{Decimal(1).scaleb(-decimals):f}"
