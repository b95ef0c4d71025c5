"""Encoders of KuCoin's UTA protocol, public side: control frames and market pushes (pure, JSON-ready dicts).

Shapes follow ``uta-protocol.md``: the welcome (``#welcome``), both pong styles (``#ping-and-pong``),
``{"id", "result"}`` replies (``#replies``) and ``{"T", "P", "d"}`` pushes (``#public-pushes``) with
one-to-three-letter keys. Times ``P`` and ``M`` are nanoseconds, kline ``O``/``C`` seconds; ``P``, ``M``,
``O``, ``C`` and ``E`` are JSON numbers (what the live gateway sends), prices and sizes strings. Books are
given as ``(ticks, lots)`` rows; the caller (the feed's UTA publisher) decides what a push covers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kunb.sim.core.market import Market
from kunb.sim.core.symbols import SymbolSpec
from kunb.sim.core.tape import CANDLE_SECONDS, Candle, Trade, bucket_start

__all__ = [
    "INCREMENT_LEVELS",
    "SNAPSHOT_DEPTHS",
    "TRADE_TYPE",
    "kline",
    "obu",
    "pong_op",
    "pong_type",
    "result",
    "ticker",
    "trade",
    "welcome",
]

TRADE_TYPE = "SPOT"  # the only market this exchange lists (``T`` is ``<channel>.SPOT``)
#: uta-protocol.md#order-book: increment@10ms keeps the top 500 levels per side
INCREMENT_LEVELS = 500
#: levels per side of the snapshot depths (increment@10ms: its first snapshot)
SNAPSHOT_DEPTHS: dict[str, int] = {"1": 1, "5": 5, "50": 50, "increment@10ms": INCREMENT_LEVELS}

Rows = Iterable[tuple[int, int]]


def welcome(session_id: str, ping_interval_ms: int, ping_timeout_ms: int) -> dict[str, Any]:
    """The first frame of every UTA socket (uta-protocol.md#welcome), with the optional ``pingTimeout``."""
    return {
        "sessionId": session_id,
        "message": "welcome",
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
    }


def pong_type(request_id: str, now_ns: int) -> dict[str, Any]:
    """The answer to ``{"id", "type": "ping"}``: ``ts`` in ns, as seen live."""
    return {"type": "pong", "id": request_id, "ts": now_ns}


def pong_op(request_id: str) -> dict[str, Any]:
    """The answer to ``{"id", "op": "ping"}`` (the universal SDK's style)."""
    return {"op": "pong", "id": request_id}


def result(request_id: str, accepted: bool, reason: str = "", *, key: str = "message") -> dict[str, Any]:
    """A subscribe/unsubscribe/auth reply: ``{"id", "result": true}`` or ``false`` with the reason in
    ``message`` or ``reason`` (both are documented, uta-protocol.md#replies)."""
    answer: dict[str, Any] = {"id": request_id, "result": accepted}
    if not accepted:
        answer[key] = reason
    return answer


def _push(channel: str, now_ns: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"T": f"{channel}.{TRADE_TYPE}", "P": now_ns, "d": data}


def ticker(market: Market, last: Trade, now_ns: int) -> dict[str, Any]:
    """``ticker.SPOT`` (uta-protocol.md#ticker): best ask/bid, the last trade (``S`` its taker side in
    capitals, ``M`` its time), ``E`` the book sequence (increasing, not continuous)."""
    spec, book = market.spec, market.book
    bid, ask = book.best_bid(), book.best_ask()
    return _push(
        "ticker",
        now_ns,
        {
            "s": spec.symbol,
            "a": spec.price_str(ask[0]) if ask else "",
            "A": spec.size_str(ask[1]) if ask else "",
            "b": spec.price_str(bid[0]) if bid else "",
            "B": spec.size_str(bid[1]) if bid else "",
            "l": spec.price_str(last.price),
            "q": spec.size_str(last.size),
            "S": last.side.value.upper(),
            "E": book.sequence,
            "M": last.time_ns,
        },
    )


def trade(spec: SymbolSpec, fill: Trade, now_ns: int) -> dict[str, Any]:
    """``trade.SPOT`` (uta-protocol.md#trades): ``S`` lower case on spot, ``ti`` a string equal to ``E``."""
    return _push(
        "trade",
        now_ns,
        {
            "s": spec.symbol,
            "p": spec.price_str(fill.price),
            "q": spec.size_str(fill.size),
            "S": fill.side.value,
            "ti": str(fill.sequence),
            "E": fill.sequence,
            "M": fill.time_ns,
        },
    )


def _bar_end(interval: str, start_s: int) -> int:
    width = CANDLE_SECONDS[interval]
    if width:
        return start_s + width
    return bucket_start(interval, start_s + 32 * 86_400)  # 1month: the next month's first second


def kline(
    spec: SymbolSpec, interval: str, candle: Candle | None, last_price: int, now_ns: int
) -> dict[str, Any]:
    """``kline.SPOT`` (uta-protocol.md#klines): the bar in progress at ``now_ns`` (``O``/``C`` in seconds).

    ``candle`` is that bar, or ``None`` when nothing traded in it yet: then a flat bar at ``last_price``
    with no volume (KuCoin pushes klines about once a second whether or not trades happen).
    """
    start = bucket_start(interval, now_ns // 1_000_000_000)
    if candle is None or candle.start != start:
        candle = Candle(start, last_price, last_price, last_price, last_price, 0, 0)
    return _push(
        "kline",
        now_ns,
        {
            "s": spec.symbol,
            "i": interval,
            "O": start,
            "C": _bar_end(interval, start),
            "o": spec.price_str(candle.open),
            "h": spec.price_str(candle.high),
            "l": spec.price_str(candle.low),
            "c": spec.price_str(candle.close),
            "v": spec.size_str(candle.volume),
            "a": spec.funds_str(candle.turnover),
            "S": False,
        },
    )


def obu(
    spec: SymbolSpec,
    depth: str,
    kind: str,
    first: int,
    last: int,
    bids: Rows,
    asks: Rows,
    now_ns: int,
) -> dict[str, Any]:
    """``obu.SPOT`` (uta-protocol.md#order-book): ``kind`` ``snapshot`` (``first == last``) or ``delta``;
    rows are ``(ticks, lots)``, sizes totals, 0 removing a level; asks ascending, bids descending as given."""
    price, size = spec.price_str, spec.size_str
    return {
        "T": f"obu.{TRADE_TYPE}",
        "dp": depth,
        "t": kind,
        "P": now_ns,
        "d": {
            "s": spec.symbol,
            "O": first,
            "C": last,
            "M": now_ns,
            "a": [[price(p), size(s)] for p, s in asks],
            "b": [[price(p), size(s)] for p, s in bids],
        },
    }
