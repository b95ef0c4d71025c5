"""Every notebook runs top to bottom in a real kernel against the embedded exchange, with real outcomes."""

from __future__ import annotations

from nbrun import UNTIL, last_json, run_notebook, widget_views

QUICK_CHECK = """
import asyncio, json, httpx
await ticker.wait_stopped()
_trades = httpx.get(sim.url + "/api/v1/market/histories", params={"symbol": "BTC-USDT"}).json()["data"]
_stats = httpx.get(sim.url + "/api/v1/market/stats", params={"symbol": "BTC-USDT"}).json()["data"]
_fig = ticker.panel.figure
_snap = ticker.snapshot()
print(json.dumps({
    "points": {t.name: len(t.x) for t in _fig.data},
    "x_dtype": str(_fig.data[0].x.dtype),
    "xaxis_template": _fig.layout.template.layout.xaxis.type,
    "frames": _snap["frames"], "messages": _snap["messages"], "status": _snap["status"],
    "simulated": _snap["simulated"], "badge": ticker.panel.badge.value,
    "btc": _snap["symbols"]["BTC-USDT"],
    "recent_trade_prices": [float(t["price"]) for t in _trades],
    "exchange_vol": float(_stats["vol"]),
    "kunb_tasks": [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("kunb-")],
    "df_rows": len(ticker.df),
}))
"""


def test_quickstart_notebook_streams_into_the_figure():
    """01-quickstart: a widget view, price traces holding streamed points, numbers matching the exchange."""
    streamed = UNTIL + "\nawait _until(lambda: ticker.model.messages >= 20 and ticker.panel.frames >= 3)"
    nb = run_notebook("01-quickstart.ipynb", before={7: [streamed]}, after=[QUICK_CHECK])
    out = last_json(nb)
    assert len(widget_views(nb)) >= 1
    assert out["points"]["BTC-USDT"] >= 5 and out["points"]["ETH-USDT"] >= 5
    assert out["points"]["BTC-USDT spread bps"] == out["points"]["BTC-USDT"]
    assert out["x_dtype"] == "float64" and out["xaxis_template"] == "date"
    assert 1 <= out["frames"] < out["messages"]  # coalesced redraws
    assert out["status"] == "stopped" and 'data-status="stopped"' in out["badge"]
    assert out["simulated"] is True and "simulated" in out["badge"]
    btc = out["btc"]
    assert btc["bid"] < btc["ask"] and abs(btc["spread"] - (btc["ask"] - btc["bid"])) < 1e-9
    assert btc["price"] in out["recent_trade_prices"]  # the last price is a trade the exchange made
    assert 0 < btc["volume_24h"] <= out["exchange_vol"]
    assert out["kunb_tasks"] == []
    assert out["df_rows"] >= 20
