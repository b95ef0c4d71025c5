"""Private push frames parse with the official universal SDK's own pydantic models (types and enums exact)."""

from __future__ import annotations

import json

import pytest

from kunb.sim.core.accounts import Accounts
from kunb.sim.core.market import ExchangeCore
from kunb.sim.core.orderbook import Side
from kunb.sim.core.symbols import catalogue
from kunb.sim.core.trading import Trading
from kunb.sim.wire.private_push import BALANCE_TOPIC, ORDERS_TOPIC, ORDERS_V2_TOPIC, frames

models = pytest.importorskip("kucoin_universal_sdk.generate.spot.spot_private")

T0 = 1_732_942_471_752_000_000


def _pushes() -> list:
    core = ExchangeCore(catalogue(["BTC-USDT"]), seed=2, now_ns=T0, rate=0.0, warmup_events=40)
    accounts = Accounts(seed=2)
    user = accounts.create().user_id
    trading = Trading(accounts, core)
    spec, book = core.market("BTC-USDT").spec, core.market("BTC-USDT").book
    bodies = [
        {"side": "buy", "symbol": "BTC-USDT", "price": "50000", "size": "0.001"},  # rests
        {"side": "buy", "symbol": "BTC-USDT", "type": "market", "funds": "100"},  # market by funds
        {"side": "sell", "symbol": "BTC-USDT", "type": "market", "size": "0.001"},  # market by size
        {"side": "sell", "symbol": "BTC-USDT", "price": spec.price_str(book.best_bid()[0]), "size": "0.001"},
        {"side": "sell", "symbol": "BTC-USDT", "price": "90000", "size": "0.002", "postOnly": True},
    ]
    pushes = [p for body in bodies for p in frames(trading.place(user, body, now_ns=T0).events)]
    return pushes + frames(trading.cancel_all(user, now_ns=T0).events)


def test_every_private_frame_parses_with_the_universal_sdk_models() -> None:
    """V1 and V2 order events and balance events validate from their JSON text, field by field."""
    by_topic = {
        ORDERS_TOPIC: models.OrderV1Event,
        ORDERS_V2_TOPIC: models.OrderV2Event,
        BALANCE_TOPIC: models.AccountEvent,
    }
    pushes = _pushes()
    seen = set()
    for push in pushes:
        text = json.dumps(push.message["data"])
        event = by_topic[push.topic].model_validate_json(text)  # raises on a number-for-string or bad enum
        seen.add((push.topic, getattr(event, "type", None) and event.type.value))
        assert event.model_dump(by_alias=True, exclude_none=True).keys() <= json.loads(text).keys()
    assert {(ORDERS_TOPIC, t) for t in ("open", "match", "filled", "canceled")} <= seen
    assert (ORDERS_V2_TOPIC, "received") in seen and (ORDERS_TOPIC, "received") not in seen


def test_a_received_event_on_v1_would_fail_to_parse() -> None:
    """The reason V1 never carries ``received``: the universal SDK's V1 enum rejects it."""
    v2 = next(p for p in _pushes() if p.message["data"].get("type") == "received")
    with pytest.raises(ValueError):
        models.OrderV1Event.model_validate_json(json.dumps(v2.message["data"]))
    assert Side.BUY.value == v2.message["data"]["side"]
