"""KuCoin wire shapes of the simulator's market data: pure functions from core state to JSON-ready dicts.

Field names and JSON types follow ``classic-protocol.md`` sections 2 (pushes) and 4.3 (REST):
decimals are strings, ``sequenceStart``/``sequenceEnd`` and ms times are numbers, match ``time`` is
a string of ns, the ``/market/snapshot`` payload uses JSON numbers.
"""

from __future__ import annotations

from typing import Any

from kunb.sim.core.market import Market
from kunb.sim.core.orderbook import L2Delta, OrderBook, Side
from kunb.sim.core.symbols import SymbolSpec
from kunb.sim.core.tape import Candle, Trade

__all__ = [
    "FEE_RATE",
    "all_tickers_item",
    "candle_push",
    "candle_row",
    "currency_item",
    "depth_push",
    "history_item",
    "level1",
    "level1_push",
    "level2_push",
    "match_push",
    "orderbook_snapshot",
    "snapshot_push",
    "stats",
    "symbol_item",
    "ticker_push",
]

FEE_RATE = "0.001"


def _level(spec: SymbolSpec, level: tuple[int, int] | None) -> tuple[str | None, str | None]:
    if level is None:
        return None, None
    return spec.price_str(level[0]), spec.size_str(level[1])


def ticker_push(market: Market, now_ms: int) -> dict[str, Any]:
    """``data`` of ``/market/ticker`` (2.1): BBO from the book, last trade from the tape, book sequence."""
    spec, book, tape = market.spec, market.book, market.tape
    bid, bid_size = _level(spec, book.best_bid())
    ask, ask_size = _level(spec, book.best_ask())
    return {
        "sequence": str(book.sequence),
        "price": spec.price_str(tape.last_price),
        "size": spec.size_str(tape.last_size),
        "bestAsk": ask,
        "bestAskSize": ask_size,
        "bestBid": bid,
        "bestBidSize": bid_size,
        "time": now_ms,
    }


def level2_push(spec: SymbolSpec, delta: L2Delta, now_ms: int) -> dict[str, Any]:
    """``data`` of ``/market/level2`` (2.2); level-less sequences become ``["0","0",seq]`` rows."""
    price, size = spec.price_str, spec.size_str
    asks = [[price(c.price), size(c.size), str(c.sequence)] for c in delta.asks]
    bids = [[price(c.price), size(c.size), str(c.sequence)] for c in delta.bids]
    for seq in delta.bumps:
        (asks if seq % 2 else bids).append(["0", "0", str(seq)])
    return {
        "changes": {"asks": asks, "bids": bids},
        "sequenceEnd": delta.end,
        "sequenceStart": delta.start,
        "symbol": spec.symbol,
        "time": now_ms,
    }


def level1_push(market: Market, now_ms: int) -> dict[str, Any]:
    """``data`` of ``/spotMarket/level1`` (2.1): best ask and bid as ``[price, size]``, ms timestamp."""
    spec, book = market.spec, market.book
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "asks": [spec.price_str(ask[0]), spec.size_str(ask[1])] if ask else [],
        "bids": [spec.price_str(bid[0]), spec.size_str(bid[1])] if bid else [],
        "timestamp": now_ms,
    }


def depth_push(spec: SymbolSpec, book: OrderBook, depth: int, now_ms: int) -> dict[str, Any]:
    """``data`` of ``/spotMarket/level2Depth5|50`` (full replacement, no sequence)."""
    return {
        "asks": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.SELL, depth)],
        "bids": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.BUY, depth)],
        "timestamp": now_ms,
    }


def match_push(spec: SymbolSpec, trade: Trade) -> dict[str, Any]:
    """``data`` of ``/market/match``: ``side`` is the taker side, ``time`` a string of ns."""
    return {
        "makerOrderId": trade.maker_order_id,
        "price": spec.price_str(trade.price),
        "sequence": str(trade.sequence),
        "side": trade.side.value,
        "size": spec.size_str(trade.size),
        "symbol": spec.symbol,
        "takerOrderId": trade.taker_order_id,
        "time": str(trade.time_ns),
        "tradeId": str(trade.sequence),
        "type": "match",
    }


def candle_row(spec: SymbolSpec, c: Candle) -> list[str]:
    """``[start(s), open, close, high, low, volume, turnover]``, all strings (REST and push)."""
    return [
        str(c.start),
        spec.price_str(c.open),
        spec.price_str(c.close),
        spec.price_str(c.high),
        spec.price_str(c.low),
        spec.size_str(c.volume),
        spec.funds_str(c.turnover),
    ]


def candle_push(spec: SymbolSpec, c: Candle, now_ns: int) -> dict[str, Any]:
    """``data`` of ``/market/candles:{symbol}_{type}``: the in-progress bucket, ``time`` in ns."""
    return {"symbol": spec.symbol, "candles": candle_row(spec, c), "time": now_ns}


def _change(market: Market, now_ns: int) -> tuple[int, float]:
    s = market.tape.stats(now_ns)
    change = s.last - s.open
    return change, (change / s.open if s.open else 0.0)


def stats(market: Market, now_ms: int) -> dict[str, Any]:
    """``GET /api/v1/market/stats`` data (24 h rolling, from the tape)."""
    spec = market.spec
    s = market.tape.stats(now_ms * 1_000_000)
    change, rate = _change(market, now_ms * 1_000_000)
    bid, ask = market.book.best_bid(), market.book.best_ask()
    return {
        "time": now_ms,
        "symbol": spec.symbol,
        "buy": spec.price_str(bid[0]) if bid else None,
        "sell": spec.price_str(ask[0]) if ask else None,
        "changeRate": f"{rate:.4f}",
        "changePrice": spec.price_str(change),
        "high": spec.price_str(s.high),
        "low": spec.price_str(s.low),
        "vol": spec.size_str(s.volume),
        "volValue": spec.funds_str(s.turnover),
        "last": spec.price_str(s.last),
        "averagePrice": _average(spec, s.turnover, s.volume, s.last),
        "takerFeeRate": FEE_RATE,
        "makerFeeRate": FEE_RATE,
        "takerCoefficient": "1",
        "makerCoefficient": "1",
    }


def _average(spec: SymbolSpec, turnover: int, volume: int, last: int) -> str:
    if not volume:
        return spec.price_str(last)
    return f"{turnover / volume * float(spec.price_increment):.8f}"


def all_tickers_item(market: Market, now_ms: int) -> dict[str, Any]:
    """One element of ``GET /api/v1/market/allTickers`` ``data.ticker``."""
    item = stats(market, now_ms)
    del item["time"]
    book, spec = market.book, market.spec
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "symbol": spec.symbol,
        "symbolName": spec.symbol,
        "buy": item["buy"],
        "bestBidSize": spec.size_str(bid[1]) if bid else None,
        "sell": item["sell"],
        "bestAskSize": spec.size_str(ask[1]) if ask else None,
        **{k: v for k, v in item.items() if k not in ("symbol", "buy", "sell")},
    }


def level1(market: Market, now_ms: int) -> dict[str, Any]:
    """``GET /api/v1/market/orderbook/level1`` data."""
    t = ticker_push(market, now_ms)
    return {
        "time": now_ms,
        "sequence": t["sequence"],
        "price": t["price"],
        "size": t["size"],
        "bestBid": t["bestBid"],
        "bestBidSize": t["bestBidSize"],
        "bestAsk": t["bestAsk"],
        "bestAskSize": t["bestAskSize"],
    }


def orderbook_snapshot(market: Market, depth: int | None, now_ms: int) -> dict[str, Any]:
    """``level2_20`` / ``level2_100`` (and the full v3 book with ``depth=None``): ``sequence`` reflected."""
    spec, book = market.spec, market.book
    return {
        "time": now_ms,
        "sequence": str(book.sequence),
        "bids": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.BUY, depth)],
        "asks": [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(Side.SELL, depth)],
    }


def history_item(spec: SymbolSpec, trade: Trade) -> dict[str, Any]:
    """One element of ``GET /api/v1/market/histories`` (``time`` in ns, a number)."""
    return {
        "sequence": str(trade.sequence),
        "price": spec.price_str(trade.price),
        "size": spec.size_str(trade.size),
        "side": trade.side.value,
        "time": trade.time_ns,
    }


def symbol_item(spec: SymbolSpec, *, v2: bool) -> dict[str, Any]:
    """One element of ``GET /api/v1/symbols`` (``v2=False``) or ``/api/v2/symbols``."""
    item: dict[str, Any] = {
        "symbol": spec.symbol,
        "name": spec.symbol,
        "baseCurrency": spec.base,
        "quoteCurrency": spec.quote,
        "feeCurrency": spec.quote,
        "market": spec.market,
        "baseMinSize": spec.base_min_size,
        "quoteMinSize": spec.quote_min_size,
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": spec.base_increment,
        "quoteIncrement": spec.quote_increment,
        "priceIncrement": spec.price_increment,
        "priceLimitRate": "0.1",
        "minFunds": spec.quote_min_size,
        "isMarginEnabled": spec.quote in ("USDT", "BTC"),
        "enableTrading": True,
    }
    if v2:
        item.update(
            {
                "feeCategory": 1,
                "makerFeeCoefficient": "1.00",
                "takerFeeCoefficient": "1.00",
                "st": False,
                "callauctionIsEnabled": False,
                "callauctionPriceFloor": None,
                "callauctionPriceCeiling": None,
                "callauctionFirstStageStartTime": None,
                "callauctionSecondStageStartTime": None,
                "callauctionThirdStageStartTime": None,
                "tradingStartTime": None,
            }
        )
    return item


def currency_item(currency: str, precision: int) -> dict[str, Any]:
    """One element of ``GET /api/v3/currencies`` (what ccxt's ``load_markets`` reads)."""
    return {
        "currency": currency,
        "name": currency,
        "fullName": currency,
        "precision": precision,
        "confirms": None,
        "contractAddress": None,
        "isMarginEnabled": True,
        "isDebitEnabled": True,
        "chains": [
            {
                "chainName": currency,
                "withdrawalMinSize": "1",
                "depositMinSize": None,
                "withdrawFeeRate": "0",
                "withdrawalMinFee": "0.1",
                "isWithdrawEnabled": True,
                "isDepositEnabled": True,
                "confirms": 12,
                "preConfirms": 12,
                "contractAddress": "",
                "withdrawPrecision": precision,
                "maxWithdraw": None,
                "maxDeposit": None,
                "needTag": False,
                "chainId": currency.lower(),
            }
        ],
    }


def snapshot_push(market: Market, now_ms: int) -> dict[str, Any]:
    """``data`` of ``/market/snapshot:{symbol}`` (2.1): JSON numbers inside, ``sequence`` a string."""
    spec, book = market.spec, market.book
    s = market.tape.stats(now_ms * 1_000_000)
    change, rate = _change(market, now_ms * 1_000_000)
    bid, ask = book.best_bid(), book.best_ask()

    def pf(ticks: int) -> float:
        return float(spec.price_str(ticks))

    def sf(lots: int) -> float:
        return float(spec.size_str(lots))

    turnover = s.turnover * float(spec.price_increment) * float(spec.base_increment)
    window = {
        "changePrice": pf(change),
        "changeRate": round(rate, 4),
        "high": pf(s.high),
        "low": pf(s.low),
        "open": pf(s.open),
        "vol": sf(s.volume),
        "volValue": round(turnover, 8),
    }
    data = {
        "askSize": sf(ask[1]) if ask else 0,
        "averagePrice": float(_average(spec, s.turnover, s.volume, s.last)),
        "baseCurrency": spec.base,
        "bidSize": sf(bid[1]) if bid else 0,
        "board": 1,
        "buy": pf(bid[0]) if bid else 0,
        "changePrice": window["changePrice"],
        "changeRate": window["changeRate"],
        "close": pf(s.last),
        "datetime": now_ms,
        "high": window["high"],
        "lastTradedPrice": pf(s.last),
        "low": window["low"],
        "makerCoefficient": 1.0,
        "makerFeeRate": float(FEE_RATE),
        "marginTrade": spec.quote in ("USDT", "BTC"),
        "mark": 0,
        "market": spec.market,
        "marketChange1h": window,
        "marketChange24h": window,
        "marketChange4h": window,
        "markets": [spec.market],
        "open": window["open"],
        "quoteCurrency": spec.quote,
        "sell": pf(ask[0]) if ask else 0,
        "siteTypes": ["global"],
        "sort": 100,
        "symbol": spec.symbol,
        "symbolCode": spec.symbol,
        "takerCoefficient": 1.0,
        "takerFeeRate": float(FEE_RATE),
        "trading": True,
        "vol": window["vol"],
        "volValue": window["volValue"],
    }
    return {"sequence": str(book.sequence), "data": data}
