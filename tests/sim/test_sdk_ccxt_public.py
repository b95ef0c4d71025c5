"""ccxt's kucoin class, unmodified, reads public market data from kunb.sim (markets, tickers, book...)."""

from __future__ import annotations

import pytest

import kunb.sim

ccxt = pytest.importorskip("ccxt")


def test_ccxt_public_market_data():
    """load_markets, fetch_ticker/tickers, order book, OHLCV, trades, time and status all parse."""
    with kunb.sim.start(symbols=["BTC-USDT", "ETH-BTC"], history_s=120, tick_ms=50) as sim:
        ex = ccxt.kucoin({"options": {"fetchMarkets": {"types": ["spot"]}, "uta": False}, "timeout": 5000})
        for key in ("public", "private", "utaPrivate"):
            ex.urls["api"][key] = sim.url
        markets = ex.load_markets()
        assert set(markets) == {"BTC/USDT", "ETH/BTC"}
        assert markets["BTC/USDT"]["precision"]["price"] == 0.1
        ticker = ex.fetch_ticker("BTC/USDT")
        assert ticker["bid"] < ticker["ask"] and ticker["baseVolume"] > 0
        book = ex.fetch_order_book("ETH/BTC", 20)
        assert len(book["bids"]) == 20 and book["bids"][0][0] < book["asks"][0][0] and book["nonce"] > 0
        candles = ex.fetch_ohlcv("BTC/USDT", "1m", limit=3)
        assert 1 <= len(candles) <= 3 and all(c[3] <= c[1] <= c[2] for c in candles)  # low <= open <= high
        trades = ex.fetch_trades("BTC/USDT")
        assert trades and {t["side"] for t in trades} <= {"buy", "sell"}
        assert set(ex.fetch_tickers()) == {"BTC/USDT", "ETH/BTC"}
        assert ex.fetch_status()["status"] == "ok" and ex.fetch_time() > 1_600_000_000_000
