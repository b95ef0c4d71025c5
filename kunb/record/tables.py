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

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
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


# Each event type as an Arrow struct: a list of NamedTuples converts to it in one pass of C++ (measured
# about twice as fast as transposing with zip() and converting column by column).
_LEVEL_CHANGES = pa.list_(pa.struct([("price", _F64), ("size", _F64), ("sequence", _I64)]))
_LEVELS = pa.list_(pa.struct([("price", _F64), ("size", _F64)]))
_STRUCTS: dict[type, pa.StructType] = {
    Tick: pa.struct(
        [
            ("symbol", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
            ("sequence", _I64),
            ("price", _F64),
            ("size", _F64),
            ("best_bid", _F64),
            ("best_bid_size", _F64),
            ("best_ask", _F64),
            ("best_ask_size", _F64),
        ]
    ),
    Trade: pa.struct(
        [
            ("symbol", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
            ("sequence", _I64),
            ("trade_id", _STR),
            ("side", _STR),
            ("price", _F64),
            ("size", _F64),
        ]
    ),
    BookSnapshot: pa.struct(
        [
            ("symbol", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
            ("sequence", _I64),
            ("bids", _LEVELS),
            ("asks", _LEVELS),
            ("depth", _I64),
        ]
    ),
    BookDelta: pa.struct(
        [
            ("symbol", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
            ("sequence_start", _I64),
            ("sequence_end", _I64),
            ("bids", _LEVEL_CHANGES),
            ("asks", _LEVEL_CHANGES),
        ]
    ),
    Candle: pa.struct(
        [
            ("symbol", _STR),
            ("interval", _STR),
            ("start_ns", _I64),
            ("time_ns", _I64),
            ("received_ns", _I64),
            *((name, _F64) for name in ("open", "close", "high", "low", "volume", "turnover")),
        ]
    ),
    Stats: pa.struct(
        [
            ("symbol", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
            *(
                (name, _F64)
                for name in ("last", "change_rate", "change_price", "high", "low", "volume", "volume_value")
            ),
        ]
    ),
    BalanceChange: pa.struct(
        [
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
            ("time_ns", _I64),
            ("received_ns", _I64),
        ]
    ),
    OrderEvent: pa.struct(
        [
            ("order_id", _STR),
            ("client_oid", _STR),
            ("symbol", _STR),
            ("side", _STR),
            ("order_type", _STR),
            ("kind", _STR),
            ("status", _STR),
            *(
                (name, DECIMAL)
                for name in (
                    "price",
                    "size",
                    "filled_size",
                    "remain_size",
                    "canceled_size",
                    "match_price",
                    "match_size",
                )
            ),
            ("trade_id", _STR),
            ("liquidity", _STR),
            ("order_time_ns", _I64),
            ("time_ns", _I64),
            ("received_ns", _I64),
        ]
    ),
    Fill: pa.struct(
        [
            ("order_id", _STR),
            ("trade_id", _STR),
            ("symbol", _STR),
            ("side", _STR),
            ("price", DECIMAL),
            ("size", DECIMAL),
            ("fee", DECIMAL),
            ("fee_currency", _STR),
            ("liquidity", _STR),
            ("time_ns", _I64),
            ("received_ns", _I64),
        ]
    ),
    Integrity: pa.struct(
        [("kind", _STR), ("symbol", _STR), ("detail", _STR), ("sequence", _I64), ("received_ns", _I64)]
    ),
}
# output column -> struct field, where the names differ (times are converted to timestamps)
_RENAMED = {"start": "start_ns", "order_time": "order_time_ns"}


def _micros(ns: pa.Array) -> pa.Array:
    # floor division: ``divide`` truncates toward zero, which is the floor for every time after 1970
    return pc.divide(ns, 1_000).cast(TIME)


def _struct_array(kind: type, events: list[Any], lossy: list[str]) -> pa.StructArray:
    """``events`` as one struct array; account amounts with more than 18 decimals are rounded and named
    in ``lossy`` so the caller can write an integrity row (KuCoin's amounts have far fewer)."""
    struct = _STRUCTS[kind]
    try:
        return pa.array(events, struct)
    except (pa.ArrowInvalid, InvalidOperation):
        decimals = [i for i, field in enumerate(struct) if field.type == DECIMAL]
        if not decimals:
            raise
        fixed = []
        for event in events:
            values = list(event)
            for i in decimals:
                value = values[i]
                if value is not None and value != value.quantize(_QUANTUM):
                    lossy.append(f"{struct.field(i).name}={value}")
                    values[i] = value.quantize(_QUANTUM)
            fixed.append(tuple(values))
        return pa.array(fixed, struct)


def _columns(table: Table, fields: dict[str, pa.Array]) -> list[pa.Array]:
    """The table's columns from struct fields of the same name (times computed, renames applied)."""
    exchange = fields.get("time_ns")
    received = fields["received_ns"]
    if exchange is None:  # integrity: no exchange time
        exchange = pa.nulls(len(received), _I64)
    known = pc.fill_null(pc.not_equal(exchange, 0), False)  # 0: the protocol sent no time
    exact = pc.if_else(known, exchange, pa.scalar(None, _I64))
    out = []
    for field in SCHEMAS[table]:
        name = field.name
        if name == "time":
            out.append(_micros(pc.if_else(known, exchange, received)))
        elif name == "time_ns":
            out.append(exact)
        elif name == "received":
            out.append(_micros(received))
        elif name in _RENAMED:
            out.append(_micros(fields[_RENAMED[name]]))
        else:
            out.append(fields[name])
    return out


def _explode(fields: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """One row per level of the ``bids`` and ``asks`` lists (bids first, in list order, rows of one event
    together and events in order), plus one row with a null side for an event with no level at all: the
    parents' fields repeated, ``side``, ``level`` (index in its list) and the level struct's fields."""
    bids, asks = fields["bids"], fields["asks"]
    parents, sides, items, levels = [], [], [], []
    for name, lists in (("bid", bids), ("ask", asks)):
        parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        offsets = lists.offsets.to_numpy(zero_copy_only=False)
        parents.append(parent)
        sides.append(pa.repeat(pa.scalar(name, _STR), len(parent)))
        items.append(pc.list_flatten(lists))
        levels.append(np.arange(len(parent)) - offsets[parent] if len(parent) else parent)
    counts = pc.add(pc.list_value_length(bids), pc.list_value_length(asks)).to_numpy(zero_copy_only=False)
    empty = np.flatnonzero(counts == 0)
    parent = np.concatenate([*parents, empty])
    order = np.argsort(parent, kind="stable")
    take = pa.array(order)
    rows = {
        name: column.take(pa.array(parent[order]))
        for name, column in fields.items()
        if name not in ("bids", "asks")
    }
    rows["side"] = pa.concat_arrays([*sides, pa.nulls(len(empty), _STR)]).take(take)
    level = np.concatenate([*levels, np.zeros(len(empty), dtype=np.int64)])
    rows["level"] = pa.array(level, _I64).take(take)
    if len(empty):  # an event with no level keeps its sequence on record; its level is null
        rows["level"] = pc.if_else(pc.is_null(rows["side"]), pa.scalar(None, _I64), rows["level"])
    structs = pa.concat_arrays([*items, pa.nulls(len(empty), items[0].type)]).take(take)
    for child in structs.type:
        rows[child.name] = pc.struct_field(structs, child.name)
    return rows


def _flat(kind: type, table: Table, events: list[Any], lossy: list[str]) -> list[pa.Array]:
    array = _struct_array(kind, events, lossy)
    return _columns(table, dict(zip(array.type.names, array.flatten(), strict=True)))


def _book_deltas(events: list[Any], lossy: list[str]) -> list[pa.Array]:
    array = _struct_array(BookDelta, events, lossy)
    fields = dict(zip(array.type.names, array.flatten(), strict=True))
    rows = _explode(fields)
    # an empty delta's row carries its sequence_end as its sequence
    rows["sequence"] = pc.coalesce(rows["sequence"], rows["sequence_end"])
    return _columns("book_deltas", rows)


def _snapshots(events: list[BookSnapshot], origin: str) -> list[pa.Array]:
    array = _struct_array(BookSnapshot, events, [])
    fields = dict(zip(array.type.names, array.flatten(), strict=True))
    rows = _explode(fields)
    rows["origin"] = pa.repeat(pa.scalar(origin, _STR), len(rows["side"]))
    return _columns("book_snapshots", rows)


_BUILDERS: dict[Table, Callable[[list[Any], list[str]], list[pa.Array]]] = {
    "ticks": lambda events, lossy: _flat(Tick, "ticks", events, lossy),
    "trades": lambda events, lossy: _flat(Trade, "trades", events, lossy),
    "book_deltas": _book_deltas,
    "book_snapshots": lambda events, lossy: _snapshots(events, "feed"),
    "candles": lambda events, lossy: _flat(Candle, "candles", events, lossy),
    "stats": lambda events, lossy: _flat(Stats, "stats", events, lossy),
    "balances": lambda events, lossy: _flat(BalanceChange, "balances", events, lossy),
    "orders": lambda events, lossy: _flat(OrderEvent, "orders", events, lossy),
    "fills": lambda events, lossy: _flat(Fill, "fills", events, lossy),
    "integrity": lambda events, lossy: _flat(Integrity, "integrity", events, lossy),
}


def to_batch(table: Table, events: list[Any], lossy: list[str] | None = None) -> pa.RecordBatch:
    """The rows of ``events`` (all of ``table``'s event type, at least one) as a record batch.

    ``lossy`` collects account amounts that had to be rounded to 18 decimals (normally none).
    """
    arrays = _BUILDERS[table](events, [] if lossy is None else lossy)
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMAS[table])


def periodic_snapshot_batch(snapshots: list[BookSnapshot]) -> pa.RecordBatch:
    """``book_snapshots`` rows for snapshots the recorder took from the deltas (``origin`` ``recorder``)."""
    return pa.RecordBatch.from_arrays(_snapshots(snapshots, "recorder"), schema=SCHEMAS["book_snapshots"])
