"""kunb.model.holdings (pure): balance and order merge rules between private pushes and REST seeds, fed the
events the classic decoder makes of KuCoin's payloads (B, O: pushes; R, S: REST answers)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from decoded import event
from hypothesis import given, settings
from hypothesis import strategies as st

from kunb.exceptions import ProtocolError
from kunb.model.holdings import Holdings
from kunb.protocol.classic_decoder import ClassicDecoder

_decoder = ClassicDecoder()


def B(data):
    return event("/account/balance", data)


def O(data):  # noqa: E743
    return event("/spotMarket/tradeOrders", data)


def R(items):
    return _decoder.account_balances(items)


def S(items):
    return _decoder.order_states(items)


def balance_push(
    eid: str, total: str, available: str, hold: str, *, currency: str = "USDT", event="trade.hold"
):
    return {
        "accountId": "acc-trade-usdt",
        "currency": currency,
        "total": total,
        "available": available,
        "hold": hold,
        "relationEvent": event,
        "relationEventId": eid,
        "time": "1730269283892",
    }


def rest_account(
    total: str, available: str, hold: str, *, currency="USDT", kind="trade", ident="acc-trade-usdt"
):
    return {
        "id": ident,
        "currency": currency,
        "type": kind,
        "balance": total,
        "available": available,
        "holds": hold,
    }


def order_push(kind: str, filled: str, *, status="open", match=None, oid="o1", ts=1, size="1", remain=None):
    data = {
        "symbol": "BTC-USDT",
        "orderType": "limit",
        "side": "buy",
        "orderId": oid,
        "type": kind,
        "orderTime": 1670329987026,
        "size": size,
        "filledSize": filled,
        "remainSize": remain if remain is not None else str(Decimal(size) - Decimal(filled)),
        "price": "100",
        "clientOid": "c1",
        "status": status,
        "ts": ts,
    }
    if match is not None:
        price, size_ = match
        data.update(matchPrice=price, matchSize=size_, tradeId=f"t{ts}", liquidity="taker")
    return data


def test_balance_push_applies_and_duplicates_are_ignored():
    """A push sets the absolute numbers; the same push delivered again is counted and ignored, even when
    it arrives after a newer change (it must not roll the balance back)."""
    h = Holdings()
    assert h.on_balance(B(balance_push("e1", "10", "9", "1"))) is not None
    assert h.on_balance(B(balance_push("e2", "10", "8", "2"))) is not None
    assert h.on_balance(B(balance_push("e1", "10", "9", "1"))) is None
    b = h.balance("USDT")
    assert (b.total, b.available, b.hold) == (Decimal(10), Decimal(8), Decimal(2))
    assert h.duplicates == 1 and b.source == "trade.hold"


def test_one_event_moving_several_balances_is_not_a_duplicate():
    """A fill settles both currencies under one relationEventId, and an order's hold and its release can
    share one: each is a distinct change and must be applied (kucoin-protocol.md 2.3)."""
    h = Holdings()
    h.on_balance(B(balance_push("fill-1", "5", "5", "0", currency="USDT", event="trade.setted")))
    h.on_balance(B(balance_push("fill-1", "1", "1", "0", currency="BTC", event="trade.setted")))
    assert h.balance("BTC").total == Decimal(1) and h.balance("USDT").total == Decimal(5)
    h.on_balance(B(balance_push("o1", "5", "4", "1")))  # hold for order o1
    h.on_balance(B(balance_push("o1", "5", "5", "0")))  # its release on cancel
    b = h.balance("USDT")
    assert (b.available, b.hold) == (Decimal(5), Decimal(0))
    assert h.duplicates == 0


def test_rest_seed_skips_balances_pushed_after_the_request_went_out():
    """A push that arrives while the REST request is in flight wins over the (possibly older) answer."""
    h = Holdings()
    h.seed_balances(
        R([rest_account("10", "10", "0"), rest_account("1", "1", "0", currency="BTC", ident="b")])
    )
    h.begin_seed()
    h.on_balance(B(balance_push("e2", "10", "8", "2")))
    changed = h.seed_balances(
        R([rest_account("10", "10", "0"), rest_account("2", "2", "0", currency="BTC", ident="b")])
    )
    assert changed == 1 and h.corrections == 1
    assert h.balance("USDT").available == Decimal(8)  # the push, not the older REST answer
    assert h.balance("BTC").total == Decimal(2)  # untouched by pushes: REST corrects it


def test_account_type_from_rest_id_or_relation_event():
    """A push's account type comes from the REST account id, else from its relationEvent prefix."""
    h = Holdings()
    h.seed_balances(R([rest_account("5", "5", "0", kind="main", ident="acc-main")]))
    push = balance_push("e3", "6", "6", "0", event="main.deposit")
    push["accountId"] = "acc-main"
    h.on_balance(B(push))
    other = balance_push("e4", "7", "7", "0", event="main.transfer", currency="ETH")
    other["accountId"] = "unknown"
    h.on_balance(B(other))
    assert h.balance("USDT", "main").total == 6 and h.balance("ETH", "main").total == 7
    assert h.balance("USDT", "trade") is None


def test_order_fills_accumulate_deal_funds_and_done_is_final():
    """Match pushes add matchPrice*matchSize; a stale match after filled changes nothing."""
    h = Holdings()
    h.on_order(O(order_push("open", "0", ts=1)))
    u1 = h.on_order(O(order_push("match", "0.4", status="match", match=("100", "0.4"), ts=2)))
    u2 = h.on_order(O(order_push("match", "1", status="match", match=("101", "0.6"), ts=3)))
    h.on_order(O(order_push("filled", "1", status="done", ts=4)))
    stale = h.on_order(O(order_push("match", "0.4", status="match", match=("100", "0.4"), ts=5)))
    order = h.orders["o1"]
    assert (u1.filled, u2.filled, stale.filled) == (Decimal("0.4"), Decimal("0.6"), 0)
    assert order.deal_size == 1 and order.deal_funds == Decimal("40") + Decimal("60.6")
    assert order.status == "done" and order.event == "match" and order.exact
    assert order.trade_ids == ["t2", "t3"]


def test_missed_fill_marks_order_inexact_until_rest_refresh():
    """A filledSize jump larger than matchSize reveals a missed fill; the REST order makes it exact."""
    h = Holdings()
    h.on_order(O(order_push("open", "0", ts=1)))
    update = h.on_order(O(order_push("match", "0.7", status="open", match=("100", "0.3"), ts=2)))
    assert update.missed_fills and h.inexact_orders() == ["o1"]
    h.seed_orders(
        S(
            [
                {
                    "id": "o1",
                    "symbol": "BTC-USDT",
                    "side": "buy",
                    "dealSize": "0.7",
                    "dealFunds": "69.9",
                    "isActive": True,
                    "size": "1",
                    "price": "100",
                }
            ]
        )
    )
    order = h.orders["o1"]
    assert order.exact and order.deal_funds == Decimal("69.9") and order.remain_size == Decimal("0.3")
    assert order.status == "open" and h.corrections == 1


def test_rest_seed_closes_orders_finished_in_an_outage_and_never_reopens():
    """An order REST reports inactive becomes done (filled or canceled); REST cannot undo a done push."""
    h = Holdings()
    h.on_order(O(order_push("open", "0", ts=1)))
    h.on_order(O(order_push("open", "0", ts=1, oid="o2")))
    h.seed_orders(
        S(
            [
                {
                    "id": "o1",
                    "symbol": "BTC-USDT",
                    "side": "buy",
                    "dealSize": "0",
                    "dealFunds": "0",
                    "isActive": False,
                    "cancelExist": True,
                },
                {
                    "id": "o3",
                    "symbol": "ETH-USDT",
                    "side": "sell",
                    "dealSize": "2",
                    "dealFunds": "20",
                    "isActive": False,
                    "cancelExist": False,
                    "size": "2",
                },
            ]
        )
    )
    assert h.orders["o1"].status == "done" and h.orders["o1"].event == "canceled"
    assert h.orders["o3"].event == "filled" and h.orders["o3"].deal_funds == 20
    assert h.learned == 1 and h.corrections == 1  # o3 learnt from REST; o1 corrected
    h.on_order(O(order_push("canceled", "0", status="done", ts=2, oid="o2")))
    h.seed_orders(S([{"id": "o2", "symbol": "BTC-USDT", "side": "buy", "dealSize": "0", "isActive": True}]))
    assert h.orders["o2"].done and h.open_orders() == []


def test_unreadable_pushes_raise_protocol_error():
    """Missing or non-decimal fields are a ProtocolError, never a silent wrong state."""
    h = Holdings()
    with pytest.raises(ProtocolError):
        h.on_balance(B({"currency": "USDT", "total": "x", "available": "1", "hold": "0"}))
    with pytest.raises(ProtocolError):
        h.on_order(O({"type": "open"}))
    with pytest.raises(ProtocolError):
        h.seed_balances(R([{"currency": "USDT"}]))
    assert h.balances == {} and h.version == 0


def test_frames_have_typed_columns():
    """balances_frame/orders_frame give float64 numbers indexed by (currency, type) and order id."""
    h = Holdings()
    h.seed_balances(R([rest_account("10.5", "10", "0.5")]))
    h.on_order(O(order_push("match", "0.5", status="match", match=("100", "0.5"), ts=10**18)))
    balances, orders = h.balances_frame(), h.orders_frame()
    assert balances.loc[("USDT", "trade"), "hold"] == 0.5 and balances["total"].dtype == "float64"
    assert orders.loc["o1", "deal_funds"] == 50.0 and str(orders["time"].dtype) == "datetime64[ns, UTC]"
    # ``time`` keeps its dtype whatever the rows: REST values only (all NaT), or none at all
    assert str(balances["time"].dtype) == "datetime64[ns, UTC]" and pd.isna(balances["time"]).all()
    empty = Holdings()
    assert str(empty.balances_frame()["time"].dtype) == str(empty.orders_frame()["time"].dtype)
    assert str(empty.orders_frame()["time"].dtype) == "datetime64[ns, UTC]"


@settings(max_examples=60, deadline=None)
@given(
    changes=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12),
    rest_after=st.integers(min_value=0, max_value=12),
    delivered_before_answer=st.integers(min_value=0, max_value=12),
)
def test_seed_interleaving_ends_at_the_latest_state(changes, rest_after, delivered_before_answer):
    """Whatever the interleaving of a REST seed with pushes made after subscribing, the balance ends at
    the exchange's latest value once every push arrived (the rule in kunb.holdings' docstring)."""
    rest_after = min(rest_after, len(changes))  # REST sees the first ``rest_after`` changes
    h = Holdings()
    h.seed_balances(R([rest_account("0", "0", "0")]))  # an old seed
    pushes = [balance_push(f"e{i}", str(v), str(v), "0") for i, v in enumerate(changes)]
    # pushes are delivered in order; some arrive after begin_seed but before the REST answer
    arrived = min(delivered_before_answer, len(pushes))
    h.begin_seed()
    for p in pushes[:arrived]:
        h.on_balance(B(p))
    snapshot_value = str(changes[rest_after - 1]) if rest_after else "0"
    h.seed_balances(R([rest_account(snapshot_value, snapshot_value, "0")]))
    for p in pushes[arrived:]:
        h.on_balance(B(p))
    assert h.balance("USDT").total == Decimal(changes[-1])


def test_finished_orders_are_bounded_and_open_orders_are_always_kept():
    """A long session keeps at most max_done_orders finished orders; open ones are never forgotten."""
    h = Holdings(max_done_orders=3)
    h.on_order(O(order_push("open", "0", oid="resting")))
    for i in range(10):
        h.on_order(O(order_push("open", "0", oid=f"o{i}", ts=1)))
        h.on_order(O(order_push("filled", "1", status="done", oid=f"o{i}", ts=2)))
    done = [oid for oid, order in h.orders.items() if order.done]
    assert done == ["o7", "o8", "o9"]
    assert "resting" in h.orders and not h.orders["resting"].done
    assert h.forgotten == 7
    h.seed_orders(
        S([{"id": "rest-done", "symbol": "BTC-USDT", "side": "buy", "isActive": False, "dealSize": "1"}])
    )
    assert "o7" not in h.orders and "rest-done" in h.orders and h.forgotten == 8


def test_a_corrected_resend_of_an_unreadable_order_push_is_applied():
    """An unreadable push is not remembered as seen, so its readable re-send is not a duplicate."""
    h = Holdings()
    bad = {**order_push("open", "0", oid="o9"), "price": "not-a-number"}
    with pytest.raises(ProtocolError):
        h.on_order(O(bad))
    assert h.on_order(O(order_push("open", "0", oid="o9"))) is not None
    assert h.duplicates == 0 and h.orders["o9"].price == Decimal("100")
