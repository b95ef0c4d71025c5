"""Every notebook runs top to bottom in a real kernel against the embedded exchange, with real outcomes."""

from __future__ import annotations

import pytest
from nbrun import UNTIL, last_json, run_notebook, widget_views

QUICK_CHECK = """
import asyncio, json, httpx
await ticker.wait_stopped()
_trades = httpx.get(ticker.url + "/api/v1/market/histories", params={"symbol": "BTC-USDT"}).json()["data"]
_stats = httpx.get(ticker.url + "/api/v1/market/stats", params={"symbol": "BTC-USDT"}).json()["data"]
_fig = ticker.panel.figure
_snap = ticker.snapshot()
print(json.dumps({
    "points": {
        _fig.trace_attributes(i)["name"]: len(_fig.columns(i).get("x", [])) for i in range(_fig.trace_count)
    },
    "x_dtype": str(_fig.columns(0)["x"].dtype),
    "xaxis_type": _fig.plotly_layout["xaxis"]["type"],
    "price_format": _fig.plotly_layout["yaxis"]["tickformat"],
    "messages_sent": _fig.messages_sent,
    "frames": _snap["frames"], "messages": _snap["messages"], "status": _snap["status"],
    "simulated": _snap["simulated"], "badge": ticker.panel.badge.value,
    "btc": _snap["symbols"]["BTC-USDT"],
    "recent_trade_prices": [float(t["price"]) for t in _trades],
    "exchange_vol": float(_stats["vol"]),
    "kunb_tasks": [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")],
    "df_rows": len(ticker.df),
    "url_is_session_sim": ticker.url == kunb.sim.default_url(),
}))
"""


def test_quickstart_notebook_streams_into_the_figure():
    """01-quickstart: a widget view, price traces holding streamed points, numbers matching the exchange."""
    streamed = UNTIL + "\nawait _until(lambda: ticker.model.messages >= 20 and ticker.panel.frames >= 3)"
    nb = run_notebook("01-quickstart.ipynb", after=[streamed, "ticker.stop()", QUICK_CHECK])
    out = last_json(nb)
    assert len(widget_views(nb)) >= 1
    assert out["points"]["BTC-USDT"] >= 5 and out["points"]["ETH-USDT"] >= 5
    assert out["points"]["BTC-USDT spread bps"] == out["points"]["BTC-USDT"]
    assert out["x_dtype"] == "float64" and out["xaxis_type"] == "date"
    assert out["price_format"] == ",.1f"  # BTC-USDT's tick is 0.1: prices to the tick, with separators
    assert 1 <= out["frames"] < out["messages"]  # coalesced redraws
    assert out["messages_sent"] <= out["frames"] + 2  # a message per redraw at most: only the new points
    assert out["status"] == "stopped" and 'data-status="stopped"' in out["badge"]
    assert out["simulated"] is True and "simulated" in out["badge"]
    btc = out["btc"]
    assert btc["bid"] < btc["ask"] and abs(btc["spread"] - (btc["ask"] - btc["bid"])) < 1e-9
    assert btc["price"] in out["recent_trade_prices"]  # the last price is a trade the exchange made
    assert 0 < btc["volume_24h"] <= out["exchange_vol"]
    assert out["kunb_tasks"] == []
    assert out["df_rows"] >= 20
    assert out["url_is_session_sim"]  # no url=: the exchange kunb.sim.start() made the session default


BOOK_CHECK = """
import asyncio, json, httpx
for _ in range(300):  # catch the exchange's REST book at the local book's sequence
    _reply = httpx.get(sim.url + "/api/v1/market/orderbook/level2_20", params={"symbol": "BTC-USDT"})
    _rest = _reply.json()["data"]
    if int(_rest["sequence"]) == book.book.last_sequence:
        break
    await asyncio.sleep(0.01)
_bids, _asks = book.book.top(20)
_fig = book.panel.figure
print(json.dumps({
    "same_sequence": int(_rest["sequence"]) == book.book.last_sequence,
    "bids_match": _bids == [(float(p), float(s)) for p, s in _rest["bids"]],
    "asks_match": _asks == [(float(p), float(s)) for p, s in _rest["asks"]],
    "depth_points": {_fig.trace_attributes(i)["name"]: len(_fig.columns(i).get("x", [])) for i in range(3)},
    "frames": book.panel.frames, "status": book.health.value, "simulated": book.simulated,
    "df_rows": len(book.df),
}))
"""


@pytest.mark.slow
def test_order_book_notebook_matches_the_exchange():
    """02-order-book: the synced book equals the exchange's REST book at the same sequence; depth drawn."""
    ready = "\nawait _until(lambda: book.panel.frames >= 3 and book.health.value == 'live')\n"
    check = UNTIL + ready + BOOK_CHECK
    nb = run_notebook("02-order-book.ipynb", after=[check])
    out = last_json(nb)
    assert len(widget_views(nb)) >= 1
    assert out["same_sequence"] and out["bids_match"] and out["asks_match"]
    assert out["depth_points"]["bids"] > 0 and out["depth_points"]["asks"] > 0
    assert out["status"] == "live" and out["simulated"] is True and out["df_rows"] > 0


RECENT_TRADES = """
import asyncio, json, httpx
def _trade_prices(symbol):
    _r = httpx.get(sim.url + "/api/v1/market/histories", params={"symbol": symbol}).json()["data"]
    return [float(t["price"]) for t in _r]
def _kunb_tasks():
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")]
"""


@pytest.mark.slow
def test_seed_basic_market_data_notebook():
    """10-seed-basic-market-data: the seed's asyncio.run(main()) runs in a kernel and streams both topics."""
    check = RECENT_TRADES + (
        "print(json.dumps({'counts': counts, 'last': float(last_ticker['price']),"
        " 'trades': _trade_prices('BTC-USDT'), 'tasks': _kunb_tasks()}))"
    )
    out = last_json(run_notebook("10-seed-basic-market-data.ipynb", after=[check]))
    assert out["counts"]["ticker"] >= 5 and out["counts"]["level2"] >= 5
    assert out["last"] in out["trades"]
    assert out["tasks"] == []  # the example closed its client


@pytest.mark.slow
def test_seed_private_account_notebook():
    """11-seed-private-account: the market buy shows as order events and balance changes matching REST."""
    check = (
        RECENT_TRADES
        + """
from kunb.client import Trade, User
_order = Trade(url=URL, credentials=creds).get_order_details(placed["orderId"])
_btc = [a for a in User(url=URL, credentials=creds).get_account_list("BTC", "trade")][0]
print(json.dumps({
    "types": [u["type"] for u in order_updates if u["orderId"] == placed["orderId"]],
    "active": _order["isActive"], "deal_size": float(_order["dealSize"]),
    "btc_pushed": [float(b["available"]) for b in balance_updates if b["currency"] == "BTC"],
    "btc_rest": float(_btc["available"]),
    "events": sorted({b["relationEvent"] for b in balance_updates}),
    "tasks": _kunb_tasks(),
}))
"""
    )
    out = last_json(run_notebook("11-seed-private-account.ipynb", after=[check]))
    assert out["types"][-1] == "filled" and "match" in out["types"]
    assert out["active"] is False and out["deal_size"] > 0
    assert out["btc_pushed"][-1] == out["btc_rest"]
    assert "trade.setted" in out["events"]
    assert out["tasks"] == []


@pytest.mark.slow
def test_seed_multi_symbol_streamer_notebook():
    """12-seed-multi-symbol-streamer: the market snapshot's numbers match the exchange's book and trades."""
    check = (
        RECENT_TRADES
        + """
_s = streamer.stream
_book = _s.books["BTC-USDT"]
for _ in range(300):
    _reply = httpx.get(sim.url + "/api/v1/market/orderbook/level2_20", params={"symbol": "BTC-USDT"})
    _rest = _reply.json()["data"]
    if int(_rest["sequence"]) == _book.last_sequence:
        _snap = streamer.get_market_snapshot()["BTC-USDT"]
        break
    await asyncio.sleep(0.01)
_stats = httpx.get(sim.url + "/api/v1/market/stats", params={"symbol": "ADA-USDT"}).json()["data"]
print(json.dumps({
    "same_sequence": int(_rest["sequence"]) == _book.last_sequence,
    "bid": _snap["bid"], "ask": _snap["ask"],
    "rest_bid": float(_rest["bids"][0][0]), "rest_ask": float(_rest["asks"][0][0]),
    "symbols": sorted(snapshot), "ada_volume": snapshot["ADA-USDT"]["volume_24h"],
    "ada_rest_volume": float(_stats["vol"]),
    "btc_price": snapshot["BTC-USDT"]["price"], "trades": _trade_prices("BTC-USDT"),
}))
"""
    )
    out = last_json(run_notebook("12-seed-multi-symbol-streamer.ipynb", before={8: [check]}))
    assert out["same_sequence"]
    assert (out["bid"], out["ask"]) == (out["rest_bid"], out["rest_ask"])
    assert out["symbols"] == ["ADA-USDT", "BTC-USDT", "ETH-USDT"]
    assert 0 < out["ada_volume"] <= out["ada_rest_volume"]


@pytest.mark.slow
def test_seed_trading_bot_notebook():
    """13-seed-trading-bot: both orders filled, and the bot's position equals the exchange's fills."""
    check = (
        RECENT_TRADES
        + """
from kunb.client import Trade, User
_t = Trade(url=URL, credentials=creds)
_buy, _sell = _t.get_order_details(buy["orderId"]), _t.get_order_details(sell["orderId"])
_btc = User(url=URL, credentials=creds).get_account_list("BTC", "trade")[0]
print(json.dumps({
    "buy_active": _buy["isActive"], "sell_active": _sell["isActive"],
    "buy_size": float(_buy["dealSize"]), "sell_size": float(_sell["dealSize"]),
    "buy_funds": float(_buy["dealFunds"]),
    "position": bot.positions["BTC"], "filled": bot.filled_orders,
    "orders": [buy["orderId"], sell["orderId"]],
    "btc_rest": float(_btc["available"]), "btc_pushed": bot.balances["BTC"],
    "tasks": _kunb_tasks(),
}))
"""
    )
    out = last_json(run_notebook("13-seed-trading-bot.ipynb", after=[check]))
    assert out["buy_active"] is False and out["sell_active"] is False
    assert out["filled"] == out["orders"]
    assert out["position"]["size"] == pytest.approx(out["buy_size"] - out["sell_size"], abs=1e-12)
    assert out["position"]["avg_price"] == pytest.approx(out["buy_funds"] / out["buy_size"], rel=1e-9)
    assert out["btc_rest"] == out["btc_pushed"]
    assert out["tasks"] == []


@pytest.mark.slow
def test_account_and_trading_notebook():
    """03-account-and-trading: balances equal REST after trading; both orders' events; a 3-tab dashboard."""
    check = (
        UNTIL
        + """
import json
from kunb.client import User
await _until(lambda: all(p.health.value == "live" for p in dash.parts))
_u = User(url=URL, credentials=creds)
for _ in range(100):  # the fill's balance pushes may trail its order events
    _rest = {a["currency"]: float(a["available"]) for a in _u.get_account_list(account_type="trade")}
    _mine = {c: v["available"] for c, v in account.snapshot()["balances"].items()}
    if _mine == _rest:
        break
    await asyncio.sleep(0.02)
_types = {}
for e in account.orders.events:
    _types.setdefault(e["orderId"], []).append(e["type"])
# the account's value, recomputed here from REST balances and level-1 mids (the panel's live prices)
from kunb.client import Market as _Market
_m = _Market(url=URL)
_value_rest = 0.0
for _c, _amount in _rest.items():
    if _c == "USDT":
        _value_rest += _amount + 0.0
        continue
    try:
        _l1 = _m.get_ticker(f"{_c}-USDT")
    except Exception:
        continue
    _value_rest += (_amount + 0.0) * (float(_l1["bestBid"]) + float(_l1["bestAsk"])) / 2
account.throttle.render_now()
print(json.dumps({
    "balances_match": _mine == _rest, "currencies": len(_rest),
    "buy": _types.get(buy["orderId"]), "resting": _types.get(resting["orderId"]),
    "tabs": dash.titles,
    "simulated": [p.simulated for p in dash.parts] + [account.simulated],
    "orders_html": f'data-order-id="{resting["orderId"]}"' in account.panel.orders.value,
    "value": account.value, "value_rest": _value_rest,
    "fill_orders": [f["order_id"] for f in account.fills.rows],
}))
"""
    )
    nb = run_notebook("03-account-and-trading.ipynb", after=[check])
    out = last_json(nb)
    assert out["balances_match"] and out["currencies"] >= 2
    assert out["buy"][0] == "filled" and "match" in out["buy"]  # newest first
    assert out["resting"] == ["canceled", "open"]
    assert out["tabs"] == ["Ticker", "Order book", "Candles", "Trades", "Account"]
    assert all(out["simulated"]) and out["orders_html"]
    # the value at live mid prices, within the few bps the market moves between the two readings
    assert out["value"] == pytest.approx(out["value_rest"], rel=2e-3)
    assert buy_id_in(out)
    assert len(widget_views(nb)) >= 2


def buy_id_in(out: dict) -> bool:
    """The market buy's fills are listed (a resting order that was cancelled has none)."""
    return bool(out["fill_orders"]) and out["buy"] is not None


CANDLES_CHECK = """
import json, httpx
await candles.wait_until(lambda: len(candles.model.history["time"]) > 0)
# the tape's first BTC trade may come after the notebook's last cell on a busy machine: wait for it
await trades.wait_until(lambda: any(t["symbol"] == "BTC-USDT" for t in trades.snapshot()["trades"]))
candles.throttle.render_now()  # the figure as of now: the history may have come after the last redraw
_q = {"symbol": "BTC-USDT", "type": "1min"}
_rest = httpx.get(URL + "/api/v1/market/candles", params=_q).json()["data"]
# closed candles (all but the exchange's newest): start (ms) -> close
_closed = {int(r[0]) * 1000: float(r[2]) for r in _rest[1:]}
_df = candles.df
_starts = [int(t.value // 1_000_000) for t in _df.index]
_mine = {t: c for t, c in zip(_starts, _df["close"]) if t in _closed}
_tape = [t for t in trades.snapshot()["trades"] if t["symbol"] == "BTC-USDT"]
_recent = httpx.get(URL + "/api/v1/market/histories", params={"symbol": "BTC-USDT"}).json()["data"]
_listed = {(float(x["price"]), float(x["size"])) for x in _recent}
print(json.dumps({
    "history": candles.snapshot()["history"], "candles": candles.snapshot()["candles"],
    "closed_compared": len(_mine), "closed_match": all(_closed[t] == c for t, c in _mine.items()),
    "figure_points": len(candles.panel.figure.columns(0)["x"]),
    "ascending": bool(_df.index.is_monotonic_increasing),
    "klines_rows": len(klines), "klines_ascending": bool(klines.index.is_monotonic_increasing),
    "klines_dtypes": sorted({str(t) for t in klines.dtypes}),
    "tape_btc": len(_tape), "tape_listed": sum((t["price"], t["size"]) in _listed for t in _tape),
    "simulated": candles.simulated and trades.simulated,
}))
"""


@pytest.mark.slow
def test_candles_and_trades_notebook():
    """04-candles-and-trades: the history equals the exchange's REST candles, the live candles continue
    it, the tape's trades are the exchange's, fetch_klines returns a typed ascending frame."""
    nb = run_notebook("04-candles-and-trades.ipynb", after=[CANDLES_CHECK], timeout=180)
    out = last_json(nb)
    assert out["history"] >= 15 and out["candles"] >= out["history"]  # 20 simulated minutes before now
    assert out["closed_compared"] >= 15 and out["closed_match"]  # closed candles: what REST says
    assert out["figure_points"] == out["candles"] and out["ascending"]
    assert out["klines_rows"] >= 15 and out["klines_ascending"] and out["klines_dtypes"] == ["float64"]
    assert out["tape_listed"] == out["tape_btc"] > 0  # every BTC trade on the tape is one the exchange made
    assert out["simulated"]
    assert len(widget_views(nb)) >= 2
