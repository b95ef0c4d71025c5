"""UTA private pushes: ``orderAll``/``order``, ``execution`` (and ``.lite``), ``balance`` from core events.

Pure, built from the same frozen :mod:`~kunb.sim.core.events` as the classic pushes
(:mod:`kunb.sim.wire.private_push`), so an order placed through either REST API reaches both protocols.
Shapes: ``uta-protocol.md#private-pushes``. How the exchange's order events become UTA ones (KuCoin
documents the fields, not the sequence of pushes; what the live gateway does is *uncertain*):

* ``received`` sends nothing (UTA has no such event; ``os`` 0 is a conditional order not yet triggered);
* ``open`` is ``eT: OPEN`` with ``os`` 2 (4 when the order already filled in part);
* ``match`` is ``eT: MATCH``, ``os`` 4, the fill in ``lS``/``ls``/``ti``/``lR``; the fill that completes the
  order is one push ``eT: FILL``, ``os`` 3 (as in KuCoin's example) and no separate ``filled`` push;
* ``filled`` without a fill of its own (a market order by funds) is ``eT: FILL``, ``os`` 3, ``lS`` 0;
* ``canceled`` is ``eT: CANCEL``, ``os`` 5, or 6 when it had filled in part.

Every fill also makes an ``execution`` push with its fee. Balance changes of the trade account are
``balance.UNIFIED`` (``U`` in ns), those of the main account ``balance.FUNDING`` (``U`` an ms string).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from kunb.sim.core.accounts import format_decimal
from kunb.sim.core.events import BalanceEvent, OrderEvent, OrderEventType, PrivateEvent
from kunb.sim.core.orders import OrderState

__all__ = [
    "BALANCE_FUNDING_TOPIC",
    "BALANCE_TOPIC",
    "EXECUTION_LITE_TOPIC",
    "EXECUTION_TOPIC",
    "ORDER_ALL_TOPIC",
    "UtaPush",
    "average_price",
    "frames",
    "order_status",
    "order_topic",
]

ORDER_ALL_TOPIC = "orderAll.UNIFIED"
EXECUTION_TOPIC = "execution.UNIFIED"
EXECUTION_LITE_TOPIC = "execution.lite.UNIFIED"
BALANCE_TOPIC = "balance.UNIFIED"
BALANCE_FUNDING_TOPIC = "balance.FUNDING"
_PRICE_QUANTUM = Decimal("1e-12")
_ZERO = Decimal(0)


def order_topic(symbol: str) -> str:
    """The hub topic of one symbol's ``order`` channel (``uta-kunb.md#uta-topic-keys``)."""
    return f"order.UNIFIED:{symbol}"


class UtaPush(NamedTuple):
    """One push for one user's connections subscribed to ``topic``."""

    user_id: str
    topic: str
    message: dict[str, Any]


def order_status(state: OrderState, filled: Decimal, canceled_size: Decimal, by_funds: bool) -> int:
    """UTA's ``os`` for an order: 2 live, 4 partially filled, 3 filled, 5 canceled, 6 partially canceled.

    A finished order is filled as the exchange decides it (:meth:`kunb.sim.core.trading.Trading`): nothing
    of its size canceled, or, bought or sold by funds, anything filled (the rest is less than a lot).
    """
    if state is not OrderState.DONE:
        return 4 if filled else 2
    if not canceled_size and (not by_funds or filled):
        return 3
    return 6 if filled else 5


def average_price(filled: Decimal, deal_funds: Decimal) -> str:
    """The average fill price (``aP``, ``avgPrice``), 12 decimals at most; ``"0"`` before any fill."""
    if not filled:
        return "0"
    return format_decimal((deal_funds / filled).quantize(_PRICE_QUANTUM))


def _order_data(event: OrderEvent, event_type: str, status: int, fill: bool) -> dict[str, Any]:
    request, match = event.request, event.match
    by_funds = request.size is None and request.funds is not None
    quantity = request.funds if by_funds else request.size
    data: dict[str, Any] = {
        "oi": event.order_id,
        "ci": request.client_oid,
        "s": request.symbol,
        "tT": "SPOT",
        "S": request.side.value.upper(),
        "oT": request.type.upper(),
        "tIF": request.time_in_force.value,
        "p": "" if request.price is None else format_decimal(request.price),
        "q": format_decimal(quantity if quantity is not None else _ZERO),
        "qU": "QUOTECCY" if by_funds else "BASECCY",
        "eT": event_type,
        "os": status,
        "fS": format_decimal(event.filled_size),
        "lS": "0",
        "ls": "0",
        "aP": average_price(event.filled_size, event.deal_funds),
        "rS": format_decimal(event.remain_size),
        "f": format_decimal(event.fee),
        "fC": event.fee_currency,
        "lR": "",
        "ti": "",
        "O": event.created_ms * 1_000_000,
        "U": event.ts_ns,
        "oS": "USER",
        "cR": "USER" if event_type == "CANCEL" else "",
        "cS": format_decimal(event.canceled_size),
        "t": "0",
        "pO": request.post_only,
        "rO": False,
        "stp": request.stp,
        "bT": "",
        "tD": "",
        "tP": "",
        "tPT": "",
        "toi": "",
        "pP": "",
        "pPT": "",
        "lP": "",
        "lPT": "",
    }
    if fill and match is not None:
        data.update(
            lS=format_decimal(match.size),
            ls=format_decimal(match.price),
            ti=match.trade_id,
            lR=match.liquidity.upper(),
        )
    return data


def _order_pushes(event: OrderEvent, event_type: str, status: int, fill: bool) -> list[UtaPush]:
    data = _order_data(event, event_type, status, fill)
    symbol = event.request.symbol
    return [
        UtaPush(event.user_id, ORDER_ALL_TOPIC, {"T": ORDER_ALL_TOPIC, "P": event.ts_ns, "d": data}),
        UtaPush(
            event.user_id, order_topic(symbol), {"T": "order.UNIFIED", "P": event.ts_ns, "d": dict(data)}
        ),
    ]


def _executions(event: OrderEvent) -> list[UtaPush]:
    request, match = event.request, event.match
    assert match is not None
    common = {
        "oi": event.order_id,
        "s": request.symbol,
        "S": request.side.value.upper(),
        "oT": request.type.upper(),
        "p": format_decimal(match.price),
        "q": format_decimal(match.size),
        "E": event.ts_ns,
        "lR": match.liquidity.upper(),
    }
    full = {
        **common,
        "ci": request.client_oid,
        "ti": match.trade_id,
        "f": format_decimal(match.fee),
        "fC": event.fee_currency,
        "fT": "NORMAL",
        "fP": "",
    }
    lite = {**common, "ti": int(match.trade_id)}  # a number on spot (uta-protocol.md#executions)
    return [
        UtaPush(event.user_id, EXECUTION_TOPIC, {"T": EXECUTION_TOPIC, "P": event.ts_ns, "d": full}),
        UtaPush(
            event.user_id, EXECUTION_LITE_TOPIC, {"T": EXECUTION_LITE_TOPIC, "P": event.ts_ns, "d": lite}
        ),
    ]


def balance_push(event: BalanceEvent) -> UtaPush:
    """``balance.UNIFIED`` for the trade account (``U`` ns), ``balance.FUNDING`` for main (``U`` an ms
    string, as uta-protocol.md#balances records)."""
    change = event.change
    total = format_decimal(change.total)
    funding = change.account.type == "main"
    data = {
        "c": change.currency,
        "e": total,
        "b": total,
        "a": format_decimal(change.available),
        "h": format_decimal(change.hold),
        "l": "0",
        "U": str(event.time_ms) if funding else event.time_ms * 1_000_000,
    }
    topic = BALANCE_FUNDING_TOPIC if funding else BALANCE_TOPIC
    return UtaPush(change.user_id, topic, {"T": topic, "P": event.time_ms * 1_000_000, "d": data})


def _completes(events: Sequence[PrivateEvent], index: int, order_id: str) -> int | None:
    """The index of the ``filled`` event that the ``match`` of ``order_id`` at ``index`` completes, if the
    next event of the same order is that ``filled`` one (the two become one ``FILL`` push)."""
    for j in range(index + 1, len(events)):
        later = events[j]
        if isinstance(later, OrderEvent) and later.order_id == order_id:
            return j if later.type is OrderEventType.FILLED else None
    return None


def frames(events: Iterable[PrivateEvent]) -> list[UtaPush]:
    """Every UTA push of ``events``, in order (see the module docstring for the mapping)."""
    events = list(events)
    out: list[UtaPush] = []
    merged: set[int] = set()
    for index, event in enumerate(events):
        if isinstance(event, BalanceEvent):
            out.append(balance_push(event))
            continue
        if index in merged or event.type is OrderEventType.RECEIVED:
            continue
        kind = event.type
        if kind is OrderEventType.MATCH:
            done = _completes(events, index, event.order_id)
            if done is not None:
                merged.add(done)
                out += _order_pushes(event, "FILL", 3, fill=True)
            else:
                out += _order_pushes(event, "MATCH", 4, fill=True)
            out += _executions(event)
            continue
        by_funds = event.request.size is None
        status = order_status(event.state, event.filled_size, event.canceled_size, by_funds)
        if kind is OrderEventType.OPEN:
            out += _order_pushes(event, "OPEN", status, fill=False)
        elif kind is OrderEventType.FILLED:
            out += _order_pushes(event, "FILL", 3, fill=False)
        else:
            out += _order_pushes(event, "CANCEL", status, fill=False)
    return out
