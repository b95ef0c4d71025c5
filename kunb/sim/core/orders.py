"""User orders of the embedded exchange: request validation with KuCoin's codes, and order/fill records.

Pure: no I/O, no clock. :func:`parse_order` turns the JSON body the official SDKs send to
``POST /api/v1/orders`` / ``/api/v1/hf/orders`` into an :class:`OrderRequest` or raises
:class:`~kunb.exceptions.OrderError` with KuCoin's code and message
(``classic-protocol.md#rest-envelope``, 4.3).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kunb.exceptions import OrderError
from kunb.sim.core.orderbook import Side, TimeInForce
from kunb.sim.core.symbols import SymbolSpec

__all__ = [
    "OrderRequest",
    "OrderState",
    "TradeFill",
    "UserOrder",
    "parse_order",
]

_CLIENT_OID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_STP = ("", "CN", "CO", "CB", "DC")
_ZERO = Decimal(0)
_MAX_SIZE = Decimal(10_000_000_000)  # KuCoin's baseMaxSize (classic-protocol.md#endpoints symbols)
_BAD_REQUEST = 400


class OrderState(enum.Enum):
    """Lifecycle of a user order (KuCoin's ``status`` words in order pushes)."""

    NEW = "new"  #: accepted, not yet matched or rested
    OPEN = "open"  #: resting on the book
    DONE = "done"  #: filled or canceled; holds released


def _param_error(msg: str) -> OrderError:
    return OrderError("400100", msg, _BAD_REQUEST)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order: decimals exact and on the symbol's increments."""

    symbol: str
    side: Side
    type: str  # "limit" | "market"
    client_oid: str
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    visible_size: Decimal = _ZERO
    cancel_after: int = -1
    stp: str = ""
    remark: str = ""


@dataclass(slots=True, eq=False)
class UserOrder:
    """One user order and everything that happened to it (the fields of KuCoin's order views)."""

    order_id: str
    user_id: str
    request: OrderRequest
    created_ms: int
    hold_currency: str
    hold_left: Decimal
    state: OrderState = OrderState.NEW
    filled_size: Decimal = _ZERO
    deal_funds: Decimal = _ZERO
    fee: Decimal = _ZERO
    canceled_size: Decimal = _ZERO
    canceled_funds: Decimal = _ZERO
    updated_ms: int = 0
    fee_currency: str = ""

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def active(self) -> bool:
        return self.state is not OrderState.DONE

    @property
    def size(self) -> Decimal:
        """The order's size: as requested, or (market by funds) what has filled so far."""
        return self.request.size if self.request.size is not None else self.filled_size

    @property
    def remain_size(self) -> Decimal:
        if self.state is OrderState.DONE or self.request.size is None:
            return _ZERO
        return self.request.size - self.filled_size - self.canceled_size


@dataclass(frozen=True, slots=True)
class TradeFill:
    """One execution of a user order, as ``GET /api/v1/fills`` lists it."""

    trade_id: str
    order_id: str
    counter_order_id: str
    symbol: str
    side: Side
    liquidity: str  # "taker" | "maker"
    price: Decimal
    size: Decimal
    funds: Decimal
    fee: Decimal
    fee_rate: Decimal
    fee_currency: str
    order_type: str
    created_ms: int


def _text(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _param_error(f"{name} must be a string")
    return value.strip()


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _param_error(f"{name} must be a boolean")


def _decimal(params: Mapping[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _param_error(f"{name} must be a number")
    try:
        # JSON numbers arrive as int or Decimal (bodies are parsed with parse_float=Decimal); str(float)
        # is exact enough for the rare float a caller passes in-process.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise _param_error(f"{name} must be a number") from None
    if not number.is_finite():
        raise _param_error(f"{name} must be a number")
    return number


def _on_increment(value: Decimal, increment: str) -> bool:
    try:
        return (value / Decimal(increment)) % 1 == 0
    except InvalidOperation:  # absurdly large or precise numbers: not a multiple we can trade
        return False


def _check_size(spec: SymbolSpec, size: Decimal) -> None:
    if size <= 0:
        raise _param_error("Order size must be greater than 0.")
    if size > _MAX_SIZE:
        raise _param_error(f"Order size exceeds the maximum ({_MAX_SIZE}).")
    if size < Decimal(spec.base_min_size):
        raise _param_error(f"Order size below the minimum requirement ({spec.base_min_size}).")
    if not _on_increment(size, spec.base_increment):
        raise _param_error("Order size increment invalid.")


def parse_order(params: Mapping[str, Any], specs: Mapping[str, SymbolSpec]) -> OrderRequest:
    """Validate an order body as KuCoin does.

    Args:
        params: the decoded JSON body (numbers may be str, int or Decimal).
        specs: the exchange's symbols by name.

    Raises:
        OrderError: 400100 for a missing or bad parameter (KuCoin-like ``msg``), 900001 for an unknown symbol.
    """
    if not isinstance(params, Mapping):
        raise _param_error("the request body must be a JSON object")
    client_oid = _text(params, "clientOid")
    if client_oid and not _CLIENT_OID.fullmatch(client_oid):
        raise _param_error("clientOid must be at most 40 characters of letters, digits, '_' and '-'.")
    side_text = _text(params, "side").lower()
    if side_text not in ("buy", "sell"):
        raise _param_error("side must be buy or sell.")
    symbol = _text(params, "symbol")
    if not symbol:
        raise _param_error("symbol is required.")
    spec = specs.get(symbol)
    if spec is None:
        raise OrderError("900001", "symbol not exists", _BAD_REQUEST)
    order_type = _text(params, "type", "limit").lower() or "limit"
    if order_type not in ("limit", "market"):
        raise _param_error("type must be limit or market.")
    trade_type = _text(params, "tradeType", "TRADE") or "TRADE"
    if trade_type != "TRADE":
        raise _param_error("Only spot trading (tradeType TRADE) is supported by the embedded exchange.")
    stp = _text(params, "stp")
    if stp not in _STP:
        raise _param_error("stp must be one of CN, CO, CB, DC.")
    remark = _text(params, "remark")
    if len(remark) > 100:
        raise _param_error("remark is too long (max 100 characters).")
    price, size, funds = _decimal(params, "price"), _decimal(params, "size"), _decimal(params, "funds")
    common: dict[str, Any] = {
        "symbol": symbol,
        "side": Side(side_text),
        "client_oid": client_oid,
        "stp": stp,
        "remark": remark,
    }
    if order_type == "market":
        if (size is None) == (funds is None):
            raise _param_error("A market order needs exactly one of size or funds.")
        if size is not None:
            _check_size(spec, size)
        else:
            assert funds is not None
            if funds <= 0 or funds < Decimal(spec.quote_min_size):
                raise _param_error(f"Order funds below the minimum requirement ({spec.quote_min_size}).")
            if not _on_increment(funds, spec.quote_increment):
                raise _param_error("Order funds increment invalid.")
        return OrderRequest(type="market", size=size, funds=funds, **common)
    if price is None:
        raise _param_error("price is required for a limit order.")
    if size is None:
        raise _param_error("size is required for a limit order.")
    if price <= 0:
        raise _param_error("Order price must be greater than 0.")
    if not _on_increment(price, spec.price_increment):
        raise _param_error("Order price increment invalid.")
    _check_size(spec, size)
    if price * size < Decimal(spec.quote_min_size):
        raise _param_error(f"Order funds below the minimum requirement ({spec.quote_min_size}).")
    tif_text = (_text(params, "timeInForce", "GTC") or "GTC").upper()
    try:
        time_in_force = TimeInForce(tif_text)
    except ValueError:
        raise _param_error("timeInForce must be GTC, GTT, IOC or FOK.") from None
    post_only = _flag(params, "postOnly")
    if post_only and time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise _param_error("postOnly is invalid when timeInForce is IOC or FOK.")
    cancel_after = params.get("cancelAfter", -1)
    if cancel_after is None or cancel_after == "":
        cancel_after = -1
    try:
        cancel_after = int(cancel_after)
    except (TypeError, ValueError):
        raise _param_error("cancelAfter must be an integer number of seconds.") from None
    # The universal SDK always sends cancelAfter: -1 (= none) with GTC (classic-protocol.md, Universal SDK).
    if cancel_after > 0 and time_in_force is not TimeInForce.GTT:
        raise _param_error("cancelAfter is only valid with timeInForce GTT.")
    visible = _decimal(params, "visibleSize") or _ZERO
    return OrderRequest(
        type="limit",
        price=price,
        size=size,
        time_in_force=time_in_force,
        post_only=post_only,
        hidden=_flag(params, "hidden"),
        iceberg=_flag(params, "iceberg"),
        visible_size=visible,
        cancel_after=cancel_after,
        **common,
    )
