"""The recorded tables: their Arrow schemas, and normalized events turned into Arrow record batches.

One table per kind of event (:data:`TABLES`); every table has ``time`` (exchange time as a UTC timestamp in
microseconds, the finest unit Spark reads from Parquet), ``time_ns`` (the exchange's exact nanoseconds,
null when the protocol sent no time: ``time`` then holds the local receive time) and ``received`` (local
receive time). Market numbers are ``float64`` and account amounts ``decimal128(38, 18)``: the choice was
measured (``bench/record.py``, section "Recording" of ``bench/RESULTS.md``). Book levels are exploded to
one row per level, so ``book_deltas`` and ``book_snapshots`` can be filtered and joined in SQL.

The partition columns (``symbol``, or ``currency`` for balances; the ``date`` of ``time``) are columns of
the batches built here; :mod:`kunb.record.files` moves them into the directory names when it writes Parquet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..events import (
    BalanceChange,
    BookDelta,
    BookSnapshot,
    Candle,
    Fill,
    Integrity,
    OrderEvent,
    Stats,
    Tick,
    Trade,
)

__all__ = [
    "DECIMAL",
    "PARTITION",
    "SCHEMAS",
    "TABLES",
    "TABLE_OF",
    "Table",
    "to_batch",
]

Table = str
TIME = pa.timestamp("us", tz="UTC")
DECIMAL = pa.decimal128(38, 18)
_F64 = pa.float64()
_I64 = pa.int64()
_STR = pa.string()
_QUANTUM = Decimal(1).scaleb(-18)

_COMMON = [("time", TIME), ("time_ns", _I64), ("received", TIME)]


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([*_COMMON, *fields])


SCHEMAS: dict[Table, pa.Schema] = {
    "ticks": _schema(
        ("symbol", _STR),
        ("sequence", _I64),
        ("price", _F64),
        ("size", _F64),
        ("best_bid", _F64),
        ("best_bid_size", _F64),
        ("best_ask", _F64),
        ("best_ask_size", _F64),
    ),
    "trades": _schema(
        ("symbol", _STR),
        ("sequence", _I64),
        ("trade_id", _STR),
        ("side", _STR),
        ("price", _F64),
        ("size", _F64),
    ),
    # One row per changed level; ``sequence`` is the change's own (classic) or ``sequence_end`` (UTA). A
    # delta that changed no level keeps its sequence range as one row with a null side.
    "book_deltas": _schema(
        ("symbol", _STR),
        ("sequence_start", _I64),
        ("sequence_end", _I64),
        ("sequence", _I64),
        ("side", _STR),
        ("price", _F64),
        ("size", _F64),
    ),
    # One row per level, best first (``level`` 0); ``origin`` says whether the feed delivered the snapshot
    # (a REST answer or a socket snapshot the book used) or the recorder took it from the deltas.
    "book_snapshots": _schema(
        ("symbol", _STR),
        ("sequence", _I64),
        ("depth", _I64),
        ("origin", _STR),
        ("side", _STR),
        ("level", _I64),
        ("price", _F64),
        ("size", _F64),
    ),
    "candles": _schema(
        ("symbol", _STR),
        ("interval", _STR),
        ("start", TIME),
        ("open", _F64),
        ("close", _F64),
        ("high", _F64),
        ("low", _F64),
        ("volume", _F64),
        ("turnover", _F64),
    ),
    "stats": _schema(
        ("symbol", _STR),
        ("last", _F64),
        ("change_rate", _F64),
        ("change_price", _F64),
        ("high", _F64),
        ("low", _F64),
        ("volume", _F64),
        ("volume_value", _F64),
    ),
    "balances": _schema(
        ("currency", _STR),
        ("account_type", _STR),
        ("account_id", _STR),
        ("total", DECIMAL),
        ("available", DECIMAL),
        ("hold", DECIMAL),
        ("available_change", DECIMAL),
        ("hold_change", DECIMAL),
        ("relation_event", _STR),
        ("relation_event_id", _STR),
        ("order_id", _STR),
    ),
    "orders": _schema(
        ("symbol", _STR),
        ("order_id", _STR),
        ("client_oid", _STR),
        ("side", _STR),
        ("order_type", _STR),
        ("kind", _STR),
        ("status", _STR),
        ("price", DECIMAL),
        ("size", DECIMAL),
        ("filled_size", DECIMAL),
        ("remain_size", DECIMAL),
        ("canceled_size", DECIMAL),
        ("match_price", DECIMAL),
        ("match_size", DECIMAL),
        ("trade_id", _STR),
        ("liquidity", _STR),
        ("order_time", TIME),
    ),
    "fills": _schema(
        ("symbol", _STR),
        ("order_id", _STR),
        ("trade_id", _STR),
        ("side", _STR),
        ("price", DECIMAL),
        ("size", DECIMAL),
        ("fee", DECIMAL),
        ("fee_currency", _STR),
        ("liquidity", _STR),
    ),
    # ``time`` is the local time the driver noticed it; ``symbol`` is "" for a whole connection.
    "integrity": _schema(
        ("symbol", _STR),
        ("kind", _STR),
        ("detail", _STR),
        ("sequence", _I64),
    ),
}

TABLES: tuple[Table, ...] = tuple(SCHEMAS)

# The column that names a file's directory below ``date=``; integrity rows are few: by date only.
PARTITION: dict[Table, str | None] = {name: "symbol" for name in TABLES}
PARTITION["balances"] = "currency"
PARTITION["integrity"] = None

TABLE_OF: dict[type, Table] = {
    Tick: "ticks",
    Trade: "trades",
    BookDelta: "book_deltas",
    BookSnapshot: "book_snapshots",
    Candle: "candles",
    Stats: "stats",
    BalanceChange: "balances",
    OrderEvent: "orders",
    Fill: "fills",
    Integrity: "integrity",
}


def _times(time_ns: Sequence[int], received_ns: Sequence[int]) -> list[pa.Array]:
    """``time``, ``time_ns`` and ``received``: an exchange time of 0 (not sent) becomes null in
    ``time_ns`` and the receive time in ``time``."""
    exchange = pa.array(time_ns, _I64)
    received = pa.array(received_ns, _I64)
    known = pc.not_equal(exchange, 0)
    exact = pc.if_else(known, exchange, pa.scalar(None, _I64))
    return [
        _micros(pc.if_else(known, exchange, received)),
        exact,
        _micros(received),
    ]


def _micros(ns: pa.Array) -> pa.Array:
    # floor division: ``divide`` truncates toward zero, which is the floor for every time after 1970
    return pc.divide(ns, 1_000).cast(TIME)


def _decimal(values: Sequence[Decimal | None], lossy: list[str], name: str) -> pa.Array:
    """Account amounts as decimal128(38, 18); an amount with more than 18 decimals is rounded and named
    in ``lossy`` so the caller can write an integrity row (KuCoin's amounts have far fewer)."""
    try:
        return pa.array(values, DECIMAL)
    except (pa.ArrowInvalid, InvalidOperation):
        out = []
        for value in values:
            if value is not None and value != value.quantize(_QUANTUM):
                lossy.append(f"{name}={value}")
                value = value.quantize(_QUANTUM)
            out.append(value)
        return pa.array(out, DECIMAL)


def _ticks(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    (symbol, time_ns, received, sequence, price, size, bid, bid_size, ask, ask_size) = zip(
        *events, strict=True
    )
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(sequence, _I64),
        pa.array(price, _F64),
        pa.array(size, _F64),
        pa.array(bid, _F64),
        pa.array(bid_size, _F64),
        pa.array(ask, _F64),
        pa.array(ask_size, _F64),
    ]


def _trades(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    symbol, time_ns, received, sequence, trade_id, side, price, size = zip(*events, strict=True)
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(sequence, _I64),
        pa.array(trade_id, _STR),
        pa.array(side, _STR),
        pa.array(price, _F64),
        pa.array(size, _F64),
    ]


def _book_deltas(events: list[BookDelta], lossy: list[str]) -> list[pa.Array]:
    cols: list[list[Any]] = [[] for _ in range(9)]
    (time_ns, received, symbol, start, end, sequence, side, price, size) = cols
    for delta in events:
        rows = 0
        for name, changes in (("bid", delta.bids), ("ask", delta.asks)):
            for level_price, level_size, level_sequence in changes:
                price.append(level_price)
                size.append(level_size)
                sequence.append(level_sequence)
                side.append(name)
            rows += len(changes)
        if not rows:  # keep the sequence range on record
            price.append(None)
            size.append(None)
            sequence.append(delta.sequence_end)
            side.append(None)
            rows = 1
        time_ns.extend((delta.time_ns,) * rows)
        received.extend((delta.received_ns,) * rows)
        symbol.extend((delta.symbol,) * rows)
        start.extend((delta.sequence_start,) * rows)
        end.extend((delta.sequence_end,) * rows)
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(start, _I64),
        pa.array(end, _I64),
        pa.array(sequence, _I64),
        pa.array(side, _STR),
        pa.array(price, _F64),
        pa.array(size, _F64),
    ]


def snapshot_columns(events: Sequence[BookSnapshot], origin: str) -> list[list[Any]]:
    """The ``book_snapshots`` rows of some snapshots as Python columns (see :func:`to_batch`)."""
    cols: list[list[Any]] = [[] for _ in range(10)]
    time_ns, received, symbol, sequence, depth, origins, side, level, price, size = cols
    for snap in events:
        rows = 0
        for name, levels in (("bid", snap.bids), ("ask", snap.asks)):
            for index, (level_price, level_size) in enumerate(levels):
                price.append(level_price)
                size.append(level_size)
                level.append(index)
                side.append(name)
            rows += len(levels)
        if not rows:  # an empty book is still a snapshot at its sequence
            price.append(None)
            size.append(None)
            level.append(None)
            side.append(None)
            rows = 1
        time_ns.extend((snap.time_ns,) * rows)
        received.extend((snap.received_ns,) * rows)
        symbol.extend((snap.symbol,) * rows)
        sequence.extend((snap.sequence,) * rows)
        depth.extend((snap.depth,) * rows)
        origins.extend((origin,) * rows)
    return cols


def _snapshot_arrays(cols: list[list[Any]]) -> list[pa.Array]:
    time_ns, received, symbol, sequence, depth, origins, side, level, price, size = cols
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(sequence, _I64),
        pa.array(depth, _I64),
        pa.array(origins, _STR),
        pa.array(side, _STR),
        pa.array(level, _I64),
        pa.array(price, _F64),
        pa.array(size, _F64),
    ]


def _book_snapshots(events: list[BookSnapshot], lossy: list[str]) -> list[pa.Array]:
    return _snapshot_arrays(snapshot_columns(events, "feed"))


def _candles(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    (symbol, interval, start, time_ns, received, open_, close, high, low, volume, turnover) = zip(
        *events, strict=True
    )
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(interval, _STR),
        _micros(pa.array(start, _I64)),
        pa.array(open_, _F64),
        pa.array(close, _F64),
        pa.array(high, _F64),
        pa.array(low, _F64),
        pa.array(volume, _F64),
        pa.array(turnover, _F64),
    ]


def _stats(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    symbol, time_ns, received, *numbers = zip(*events, strict=True)
    return [*_times(time_ns, received), pa.array(symbol, _STR), *(pa.array(c, _F64) for c in numbers)]


def _balances(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    (
        currency,
        account_type,
        account_id,
        total,
        available,
        hold,
        available_change,
        hold_change,
        relation_event,
        relation_event_id,
        order_id,
        time_ns,
        received,
    ) = zip(*events, strict=True)
    return [
        *_times(time_ns, received),
        pa.array(currency, _STR),
        pa.array(account_type, _STR),
        pa.array(account_id, _STR),
        _decimal(total, lossy, "total"),
        _decimal(available, lossy, "available"),
        _decimal(hold, lossy, "hold"),
        _decimal(available_change, lossy, "available_change"),
        _decimal(hold_change, lossy, "hold_change"),
        pa.array(relation_event, _STR),
        pa.array(relation_event_id, _STR),
        pa.array(order_id, _STR),
    ]


def _orders(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    (
        order_id,
        client_oid,
        symbol,
        side,
        order_type,
        kind,
        status,
        price,
        size,
        filled_size,
        remain_size,
        canceled_size,
        match_price,
        match_size,
        trade_id,
        liquidity,
        order_time_ns,
        time_ns,
        received,
    ) = zip(*events, strict=True)
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(order_id, _STR),
        pa.array(client_oid, _STR),
        pa.array(side, _STR),
        pa.array(order_type, _STR),
        pa.array(kind, _STR),
        pa.array(status, _STR),
        _decimal(price, lossy, "price"),
        _decimal(size, lossy, "size"),
        _decimal(filled_size, lossy, "filled_size"),
        _decimal(remain_size, lossy, "remain_size"),
        _decimal(canceled_size, lossy, "canceled_size"),
        _decimal(match_price, lossy, "match_price"),
        _decimal(match_size, lossy, "match_size"),
        pa.array(trade_id, _STR),
        pa.array(liquidity, _STR),
        _micros(pa.array(order_time_ns, _I64)),
    ]


def _fills(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    (order_id, trade_id, symbol, side, price, size, fee, fee_currency, liquidity, time_ns, received) = zip(
        *events, strict=True
    )
    return [
        *_times(time_ns, received),
        pa.array(symbol, _STR),
        pa.array(order_id, _STR),
        pa.array(trade_id, _STR),
        pa.array(side, _STR),
        _decimal(price, lossy, "price"),
        _decimal(size, lossy, "size"),
        _decimal(fee, lossy, "fee"),
        pa.array(fee_currency, _STR),
        pa.array(liquidity, _STR),
    ]


def _integrity(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    kind, symbol, detail, sequence, received = zip(*events, strict=True)
    return [
        *_times([0] * len(received), received),
        pa.array(symbol, _STR),
        pa.array(kind, _STR),
        pa.array(detail, _STR),
        pa.array(sequence, _I64),
    ]


_BUILDERS: dict[Table, Callable[[list[Any], list[str]], list[pa.Array]]] = {
    "ticks": _ticks,
    "trades": _trades,
    "book_deltas": _book_deltas,
    "book_snapshots": _book_snapshots,
    "candles": _candles,
    "stats": _stats,
    "balances": _balances,
    "orders": _orders,
    "fills": _fills,
    "integrity": _integrity,
}


def to_batch(table: Table, events: list[Any], lossy: list[str] | None = None) -> pa.RecordBatch:
    """The rows of ``events`` (all of ``table``'s event type, at least one) as a record batch.

    ``lossy`` collects account amounts that had to be rounded to 18 decimals (normally none).
    """
    arrays = _BUILDERS[table](events, [] if lossy is None else lossy)
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMAS[table])


def periodic_snapshot_batch(snapshots: Sequence[BookSnapshot]) -> pa.RecordBatch:
    """``book_snapshots`` rows for snapshots the recorder took from the deltas (``origin`` ``recorder``)."""
    return pa.RecordBatch.from_arrays(
        _snapshot_arrays(snapshot_columns(snapshots, "recorder")), schema=SCHEMAS["book_snapshots"]
    )
