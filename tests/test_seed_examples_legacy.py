"""The seed specification's blocking examples (multi-symbol streamer, trading bot) run as written on kunb.

The two classes are the seed's text verbatim; only import lines are added (the examples use ``json``
and ``time`` without importing them, and ``KucoinWsClient`` now comes from ``kunb.ws_client``). The
exchange is a thread-backed ``kunb.sim`` with its synthetic flow frozen (``rate=0``), so the only market
activity is the orders this test places and every number can be compared exactly with the exchange's
REST answers. The examples' ``time.sleep(300)`` becomes polling of their own state with a deadline.
"""

from __future__ import annotations

import gc
import io
import json
import warnings
from contextlib import redirect_stdout
from decimal import Decimal

import pytest
from support import blocking_threads, point_env_at, until_sync

import kunb.sim
from kunb.client import Market, Trade, User

IMPORTS = """
import json
import time
from kunb.ws_client import KucoinWsClient
"""

STREAMER = '''
class KuCoinStreamer:
    def __init__(self, symbols, api_credentials=None):
        self.symbols = symbols
        self.ws_client = KucoinWsClient(**api_credentials) if api_credentials else KucoinWsClient()
        self.connections = {}
        self.data_buffer = {}

    def start_streaming(self):
        """Start streaming for all symbols."""
        for symbol in self.symbols:
            # Subscribe to ticker updates
            ticker_topic = f'/market/ticker:{symbol}'
            self.connections[f'{symbol}_ticker'] = self.ws_client._socket(
                ticker_topic,
                lambda msg, s=symbol: self.handle_ticker(msg, s)
            )

            # Subscribe to level2 order book updates
            orderbook_topic = f'/market/level2:{symbol}'
            self.connections[f'{symbol}_orderbook'] = self.ws_client._socket(
                orderbook_topic,
                lambda msg, s=symbol: self.handle_orderbook(msg, s)
            )

    def handle_ticker(self, message, symbol):
        """Handle ticker updates."""
        data = json.loads(message)
        if data['type'] == 'message':
            ticker = data['data']
            self.data_buffer[f'{symbol}_ticker'] = {
                'symbol': symbol,
                'price': float(ticker['price']),
                'change': float(ticker['changeRate']),
                'volume': float(ticker['vol']),
                'timestamp': ticker['time']
            }
            self.process_ticker_update(symbol)

    def handle_orderbook(self, message, symbol):
        """Handle order book updates."""
        data = json.loads(message)
        if data['type'] == 'message':
            ob_data = data['data']
            self.data_buffer[f'{symbol}_orderbook'] = {
                'symbol': symbol,
                'bids': ob_data['bids'][:5],  # Top 5 bids
                'asks': ob_data['asks'][:5],  # Top 5 asks
                'timestamp': ob_data['time']
            }
            self.process_orderbook_update(symbol)

    def process_ticker_update(self, symbol):
        """Process ticker data for analysis."""
        ticker = self.data_buffer.get(f'{symbol}_ticker')
        if ticker:
            print(f"{symbol}: ${ticker['price']} ({ticker['change']:+.2%})")

    def process_orderbook_update(self, symbol):
        """Process order book data."""
        ob = self.data_buffer.get(f'{symbol}_orderbook')
        if ob and ob['bids'] and ob['asks']:
            spread = float(ob['asks'][0][0]) - float(ob['bids'][0][0])
            spread_pct = spread / float(ob['bids'][0][0]) * 100
            print(f"{symbol} Spread: ${spread:.4f} ({spread_pct:.3f}%)")

    def get_market_snapshot(self):
        """Get current market snapshot."""
        snapshot = {}
        for symbol in self.symbols:
            ticker_key = f'{symbol}_ticker'
            ob_key = f'{symbol}_orderbook'

            if ticker_key in self.data_buffer and ob_key in self.data_buffer:
                ticker = self.data_buffer[ticker_key]
                orderbook = self.data_buffer[ob_key]

                snapshot[symbol] = {
                    'price': ticker['price'],
                    'change_24h': ticker['change'],
                    'volume_24h': ticker['volume'],
                    'bid': float(orderbook['bids'][0][0]) if orderbook['bids'] else None,
                    'ask': float(orderbook['asks'][0][0]) if orderbook['asks'] else None,
                    'spread': None
                }

                if snapshot[symbol]['bid'] and snapshot[symbol]['ask']:
                    snapshot[symbol]['spread'] = snapshot[symbol]['ask'] - snapshot[symbol]['bid']

        return snapshot

    def close(self):
        """Close all connections."""
        self.ws_client.close()
'''

BOT = '''
class TradingBot:
    def __init__(self, api_key, api_secret, api_passphrase, symbols):
        self.ws_client = KucoinWsClient(api_key, api_secret, api_passphrase)
        self.symbols = symbols
        self.market_data = {}
        self.positions = {}

    def start_monitoring(self):
        """Start monitoring market data and account updates."""
        # Monitor market data
        for symbol in self.symbols:
            topic = f'/market/ticker:{symbol}'
            self.ws_client._socket(topic, self.handle_market_data)

        # Monitor account balance changes
        self.ws_client._socket('/account/balance', self.handle_balance_update, is_private=True)

        # Monitor order execution
        self.ws_client._socket('/spotMarket/tradeOrders', self.handle_order_update, is_private=True)

    def handle_market_data(self, message):
        """Process market data for trading decisions."""
        data = json.loads(message)
        if data['type'] == 'message':
            ticker = data['data']
            symbol = ticker['symbol']
            price = float(ticker['price'])

            # Store market data
            self.market_data[symbol] = {
                'price': price,
                'change': float(ticker['changeRate']),
                'timestamp': ticker['time']
            }

            # Check for trading opportunities
            self.check_trading_signals(symbol, price)

    def handle_balance_update(self, message):
        """Handle account balance changes."""
        data = json.loads(message)
        if data['type'] == 'message':
            balance_data = data['data']
            currency = balance_data['currency']
            available = float(balance_data['available'])

            print(f"Balance Update: {currency} = {available}")

            # Update position tracking
            if currency in self.positions:
                self.positions[currency]['balance'] = available

    def handle_order_update(self, message):
        """Handle order execution updates."""
        data = json.loads(message)
        if data['type'] == 'message':
            order_data = data['data']

            print(f"Order Update: {order_data['symbol']} - {order_data['status']}")

            if order_data['status'] == 'match':
                # Order was filled
                self.on_order_filled(order_data)

    def check_trading_signals(self, symbol, price):
        """Check for trading opportunities."""
        # Implement your trading logic here
        # This is just a simple example

        if symbol not in self.market_data:
            return

        # Simple momentum strategy example
        change = self.market_data[symbol]['change']

        if change > 0.05:  # Price up 5%
            print(f"Strong upward momentum detected for {symbol}")
            # Consider buying logic here

        elif change < -0.05:  # Price down 5%
            print(f"Strong downward momentum detected for {symbol}")
            # Consider selling logic here

    def on_order_filled(self, order_data):
        """Handle order fill events."""
        symbol = order_data['symbol']
        side = order_data['side']
        size = float(order_data['dealSize'])
        price = float(order_data['dealFunds']) / size if size > 0 else 0

        print(f"Order Filled: {side} {size} {symbol} at ${price}")

        # Update position tracking
        base_currency = symbol.split('-')[0]
        quote_currency = symbol.split('-')[1]

        if side == 'buy':
            # Bought base currency with quote currency
            self.update_position(base_currency, size, price)
        else:
            # Sold base currency for quote currency
            self.update_position(base_currency, -size, price)

    def update_position(self, currency, size_change, price):
        """Update position tracking."""
        if currency not in self.positions:
            self.positions[currency] = {'size': 0, 'avg_price': 0}

        pos = self.positions[currency]

        if pos['size'] == 0:
            # New position
            pos['size'] = size_change
            pos['avg_price'] = price
        else:
            # Update existing position
            total_value = pos['size'] * pos['avg_price'] + size_change * price
            pos['size'] += size_change

            if pos['size'] != 0:
                pos['avg_price'] = total_value / pos['size']
            else:
                pos['avg_price'] = 0
'''

SYMBOLS = ["BTC-USDT", "ETH-USDT", "ADA-USDT"]
DEADLINE = 15.0


def load(source: str) -> dict:
    namespace: dict = {"__name__": "seed_example"}
    exec(compile(IMPORTS + source, "<seed example>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def sim():
    handle = kunb.sim.start(seed=3, symbols=SYMBOLS, tick_ms=20, rate=0, history_s=600)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def env(sim, monkeypatch):
    return point_env_at(sim, monkeypatch)


@pytest.fixture
def closing():
    """Objects closed at teardown even when the test failed early (their close() is idempotent)."""
    items: list = []
    yield items
    for item in items:
        item.close()


def sessions(sim) -> set[int]:
    return {s.id for s in sim.exchange.connections()}


def test_streamer_snapshot_matches_the_exchange(env, closing):
    """KuCoinStreamer as written: after orders move each market, its get_market_snapshot() holds the
    exchange's last price, best bid and ask, 24 h change rate and volume; close() leaves nothing behind."""
    sim = env
    before = sessions(sim)
    streamer = load(STREAMER)["KuCoinStreamer"](SYMBOLS)
    closing.append(streamer)
    printed = io.StringIO()
    with redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        streamer.start_streaming()
        stats_seen: dict[str, float] = {}
        # the test's own extra callback (same client): when 24 h stats reach the client
        streamer.ws_client._socket(
            "/market/snapshot:" + ",".join(SYMBOLS),
            lambda text: stats_seen.__setitem__(*_vol(json.loads(text))),
        )
        creds = sim.credentials
        with Trade(url=sim.url, credentials=creds) as t, Market(url=sim.url) as m:
            for symbol in SYMBOLS:
                size = "0.01" if symbol == "BTC-USDT" else "1"
                t.create_market_order(symbol, "buy", size=size)  # a trade: price, change, volume move
            for symbol in SYMBOLS:  # wait until the snapshot channel carries the new volume
                vol = float(m.get_24h_stats(symbol)["vol"])
                until_sync(lambda s=symbol, v=vol: stats_seen.get(s) == v, f"{symbol} 24 h stats push")
            for symbol in SYMBOLS:  # more size at the best bid: a ticker push now carries the fresh stats
                level1 = m.get_ticker(symbol)
                t.create_limit_order(
                    symbol, "buy", "0.001" if symbol == "BTC-USDT" else "1", level1["bestBid"]
                )

            def matches():
                snap = streamer.get_market_snapshot()
                if set(snap) != set(SYMBOLS):
                    return None
                for symbol in SYMBOLS:
                    level1, stats = m.get_ticker(symbol), m.get_24h_stats(symbol)
                    want = {
                        "price": float(level1["price"]),
                        "bid": float(level1["bestBid"]),
                        "ask": float(level1["bestAsk"]),
                        "change_24h": float(stats["changeRate"]),
                        "volume_24h": float(stats["vol"]),
                    }
                    if {k: snap[symbol][k] for k in want} != want:
                        return None
                return snap

            snapshot = until_sync(matches, "the streamer's snapshot to equal the exchange")
        for row in snapshot.values():
            assert row["spread"] == pytest.approx(row["ask"] - row["bid"]) and row["spread"] > 0
            assert row["volume_24h"] > 0
        streamer.close()
        gc.collect()
    assert "Spread: $" in printed.getvalue() and "BTC-USDT: $" in printed.getvalue()
    assert streamer.ws_client.callback_errors == 0
    assert blocking_threads() == []
    until_sync(lambda: sessions(sim) <= before, "the server to see the client's sockets closed")
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def _vol(message: dict) -> tuple[str, float]:
    data = message["data"]["data"]
    return data["symbol"], float(data["vol"])


def test_trading_bot_tracks_a_fill(env, closing):
    """TradingBot as written: it receives market data, balance and order updates, and its positions
    reflect an order filled through kunb.client.Trade (dealSize/dealFunds as the exchange's REST order)."""
    sim = env
    creds = sim.exchange.create_account()
    before = sessions(sim)
    bot = load(BOT)["TradingBot"](creds.key, creds.secret, creds.passphrase, ["BTC-USDT", "ETH-USDT"])
    closing.append(bot.ws_client)
    printed = io.StringIO()
    with redirect_stdout(printed):
        bot.start_monitoring()
        with (
            Trade(url=sim.url, credentials=creds) as t,
            Market(url=sim.url) as m,
            User(url=sim.url, credentials=creds) as u,
        ):
            level1 = m.get_ticker("BTC-USDT")
            size = min(Decimal(level1["bestAskSize"]), Decimal("0.0005"))
            # a marketable limit buy at the best ask, within its size: exactly one match (status "match")
            oid = t.create_limit_order("BTC-USDT", "buy", str(size), level1["bestAsk"])["orderId"]
            order = until_sync(lambda: (o := t.get_order_details(oid))["isActive"] is False and o, "the fill")
            until_sync(lambda: "BTC" in bot.positions, "the bot's position")
            usdt = next(a for a in u.get_account_list("USDT", "trade"))
            until_sync(
                lambda: f"Balance Update: USDT = {float(usdt['available'])}" in printed.getvalue(),
                "the final USDT balance push",
            )
            until_sync(lambda: "BTC-USDT" in bot.market_data, "a ticker after the trade")
        bot.ws_client.close()
    position = bot.positions["BTC"]
    assert position["size"] == float(order["dealSize"]) == float(size)
    assert position["avg_price"] == pytest.approx(float(order["dealFunds"]) / float(order["dealSize"]))
    assert bot.market_data["BTC-USDT"]["price"] == float(level1["bestAsk"])
    assert "Order Update: BTC-USDT - match" in printed.getvalue()
    assert f"Order Filled: buy {float(size)} BTC-USDT" in printed.getvalue()
    assert blocking_threads() == []
    until_sync(lambda: sessions(sim) <= before, "the server to see the bot's sockets closed")
