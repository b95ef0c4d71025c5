"""Order validation: the bodies official SDKs send pass; bad ones get KuCoin's codes and messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kunb.exceptions import OrderError
from kunb.sim.core.orderbook import Side, TimeInForce
from kunb.sim.core.orders import parse_order
from kunb.sim.core.symbols import catalogue

SPECS = {s.symbol: s for s in catalogue(["BTC-USDT", "ETH-BTC"])}
LIMIT = {
    "clientOid": "5c52e11203aa677f33e493fb",
    "side": "buy",
    "symbol": "BTC-USDT",
    "price": "50000",
    "size": "0.0001",
}


def test_universal_sdk_body_with_defaults_is_accepted() -> None:
    """The universal SDK always sends cancelAfter -1 and false flags; they mean 'none'."""
    body = {
        **LIMIT,
        "type": "limit",
        "price": "43215.6",
        "size": "0.00001",
        "timeInForce": "GTC",
        "postOnly": False,
        "hidden": False,
        "iceberg": False,
        "cancelAfter": -1,
    }
    request = parse_order(body, SPECS)
    assert (request.side, request.type, request.time_in_force) == (Side.BUY, "limit", TimeInForce.GTC)
    assert (request.price, request.size, request.cancel_after) == (Decimal("43215.6"), Decimal("0.00001"), -1)


def test_kucoin_python_and_ccxt_shapes_are_accepted() -> None:
    """Defaults (type limit, GTC), numbers as JSON numbers, and a market order by funds all parse."""
    assert parse_order({**LIMIT}, SPECS).type == "limit"
    assert parse_order({**LIMIT, "price": Decimal("50000.5"), "size": 1}, SPECS).size == 1
    market = parse_order(
        {"clientOid": "x", "side": "sell", "symbol": "ETH-BTC", "type": "market", "funds": "0.01"}, SPECS
    )
    assert (market.funds, market.size) == (Decimal("0.01"), None)
    gtt = parse_order({**LIMIT, "timeInForce": "GTT", "cancelAfter": 60, "postOnly": "true"}, SPECS)
    assert (gtt.time_in_force, gtt.post_only, gtt.cancel_after) == (TimeInForce.GTT, True, 60)
    assert parse_order({**LIMIT, "clientOid": None}, SPECS).client_oid == ""


@pytest.mark.parametrize(
    ("change", "code", "msg_part"),
    [
        ({"symbol": "NOPE-USDT"}, "900001", "symbol not exists"),
        ({"symbol": ""}, "400100", "symbol"),
        ({"side": "hold"}, "400100", "side"),
        ({"type": "stop"}, "400100", "type"),
        ({"clientOid": "x" * 41}, "400100", "clientOid"),
        ({"clientOid": "bad oid!"}, "400100", "clientOid"),
        ({"price": "50000.05"}, "400100", "price increment"),
        ({"price": "-1"}, "400100", "price"),
        ({"price": None}, "400100", "price is required"),
        ({"size": "0.000012345"}, "400100", "size increment"),
        ({"size": "0.000001"}, "400100", "minimum"),
        ({"size": "1e30"}, "400100", "maximum"),
        ({"size": "abc"}, "400100", "number"),
        ({"size": "NaN"}, "400100", "number"),
        ({"size": True}, "400100", "number"),
        ({"price": "1", "size": "0.00001"}, "400100", "funds below"),
        ({"timeInForce": "DAY"}, "400100", "timeInForce"),
        ({"timeInForce": "IOC", "postOnly": True}, "400100", "postOnly"),
        ({"postOnly": "maybe"}, "400100", "postOnly"),
        ({"cancelAfter": 60}, "400100", "GTT"),
        ({"cancelAfter": "soon"}, "400100", "cancelAfter"),
        ({"stp": "XX"}, "400100", "stp"),
        ({"tradeType": "MARGIN_TRADE"}, "400100", "TRADE"),
        ({"side": 1}, "400100", "side"),
    ],
)
def test_bad_limit_orders(change: dict, code: str, msg_part: str) -> None:
    """Each bad field gets its KuCoin code and a message naming the problem."""
    with pytest.raises(OrderError) as info:
        parse_order({**LIMIT, **change}, SPECS)
    assert info.value.code == code
    assert msg_part.lower() in info.value.msg.lower()


@pytest.mark.parametrize(
    ("change", "msg_part"),
    [
        ({"size": "0.001", "funds": "10"}, "exactly one"),
        ({}, "exactly one"),
        ({"funds": "0.01"}, "funds below"),
        ({"funds": "10.0000001"}, "funds increment"),
        ({"size": "0.100000001"}, "size increment"),
    ],
)
def test_bad_market_orders(change: dict, msg_part: str) -> None:
    """A market order needs exactly one of size or funds, each on its increment and above the minimum."""
    body = {"clientOid": "m", "side": "buy", "symbol": "BTC-USDT", "type": "market", **change}
    with pytest.raises(OrderError) as info:
        parse_order(body, SPECS)
    assert info.value.code == "400100" and msg_part in info.value.msg


def test_body_must_be_an_object() -> None:
    """A JSON array or string body is a parameter error, not a crash."""
    for body in ([], "x", None):
        with pytest.raises(OrderError):
            parse_order(body, SPECS)  # type: ignore[arg-type]
