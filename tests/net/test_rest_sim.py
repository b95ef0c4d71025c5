"""kunb.client against kunb.sim's REST server on loopback: shapes, signing, order lifecycle, errors."""

from __future__ import annotations

import asyncio

import pytest

from kunb import exceptions
from kunb.client import GetToken, Market, Trade, User
from kunb.exceptions import ApiError, AuthenticationError, OrderError
from kunb.signing import Credentials


async def test_market_data_shapes(exchange):
    """Symbols, tickers, stats, level1/level2 snapshots, candles, trades and server time come back as
    KuCoin's data (decimals as strings)."""
    async with Market(url=exchange.url) as m:
        symbols = await m.aget_symbol_list()
        assert {s["symbol"] for s in symbols} >= {"BTC-USDT", "ETH-USDT"}
        assert (await m.aget_symbol_detail("BTC-USDT"))["baseCurrency"] == "BTC"
        level1 = await m.aget_ticker("BTC-USDT")
        assert float(level1["bestAsk"]) >= float(level1["bestBid"]) > 0
        assert any(t["symbol"] == "ETH-USDT" for t in (await m.aget_all_tickers())["ticker"])
        assert (await m.aget_24h_stats("BTC-USDT"))["symbol"] == "BTC-USDT"
        book = await m.aget_part_order(20, "BTC-USDT")
        assert len(book["bids"]) <= 20 and isinstance(book["sequence"], str)
        bids = [float(p) for p, _ in book["bids"]]
        assert bids == sorted(bids, reverse=True)
        assert isinstance(await m.aget_kline("BTC-USDT", "1min"), list)
        assert isinstance(await m.aget_trade_histories("BTC-USDT"), list)
        assert isinstance(await m.aget_server_timestamp(), int)
        assert (await m.aget_server_status())["status"] == "open"


async def test_sync_methods_work_off_the_loop(exchange):
    """The blocking twins work too (run in a thread here: the simulator shares this test's loop)."""
    with Market(url=exchange.url) as m:
        ticker = await asyncio.to_thread(m.get_ticker, "BTC-USDT")
        token = await asyncio.to_thread(m.get_ws_token)
    assert float(ticker["price"]) > 0
    assert token["instanceServers"][0]["endpoint"].startswith("ws://127.0.0.1:")


async def test_full_book_and_accounts_signed(exchange):
    """Signed calls are accepted by the simulator's verifier (v3 full book, accounts, private token)."""
    creds = exchange.credentials
    async with (
        Market(url=exchange.url, credentials=creds) as m,
        User(url=exchange.url, credentials=creds) as u,
    ):
        full = await m.aget_aggregated_orderv3("BTC-USDT")
        assert len(full["bids"]) > 20 or len(full["asks"]) > 20
        accounts = await u.aget_account_list(currency="USDT", account_type="trade")
        assert accounts and all(a["currency"] == "USDT" and a["type"] == "trade" for a in accounts)
        one = await u.aget_account(accounts[0]["id"])
        assert one["currency"] == "USDT"
        token = await u.aget_ws_token(is_private=True)
        assert token["token"]
        async with GetToken(url=exchange.url, credentials=creds) as g:
            assert (await g.aget_ws_token(True))["token"] != token["token"]


async def test_order_lifecycle(exchange):
    """Place a resting limit order, see it listed and fetched, cancel it; a market order fills."""
    creds = exchange.credentials
    async with Trade(url=exchange.url, credentials=creds) as t, Market(url=exchange.url) as m:
        bid = float((await m.aget_ticker("BTC-USDT"))["bestBid"])
        placed = await t.acreate_limit_order(
            "BTC-USDT", "buy", "0.001", str(round(bid * 0.8, 1)), clientOid="c-1"
        )
        order = await t.aget_order_details(placed["orderId"])
        assert order["isActive"] is True and order["clientOid"] == "c-1"
        assert (await t.aget_client_order_details("c-1"))["id"] == placed["orderId"]
        active = await t.aget_order_list(status="active", symbol="BTC-USDT")
        assert placed["orderId"] in [o["id"] for o in active["items"]]
        cancelled = await t.acancel_order(placed["orderId"])
        assert cancelled["cancelledOrderIds"] == [placed["orderId"]]
        assert (await t.aget_order_details(placed["orderId"]))["isActive"] is False
        filled = await t.acreate_market_order("BTC-USDT", "buy", size="0.001")
        fills = await t.aget_fill_list("TRADE", orderId=filled["orderId"])
        assert fills["items"] and all(f["orderId"] == filled["orderId"] for f in fills["items"])
        hf = await t.acreate_limit_hf_order("ETH-USDT", "sell", "0.01", "999999")
        assert hf["orderId"] in [o["id"] for o in await t.aget_active_hf_orders("ETH-USDT")]
        await t.acancel_all_hf_orders("ETH-USDT")
        assert await t.aget_active_hf_orders("ETH-USDT") in ([], None)
        await t.acreate_limit_order("BTC-USDT", "buy", "0.001", str(round(bid * 0.8, 1)))
        assert len((await t.acancel_all_orders(symbol="BTC-USDT"))["cancelledOrderIds"]) == 1


async def test_errors_carry_kucoin_codes(exchange):
    """Refusals come back as typed errors with KuCoin's code: bad key, unknown order, bad symbol."""
    wrong = Credentials("no-such-key", "s", "p")
    async with User(url=exchange.url, credentials=wrong) as u:
        with pytest.raises(AuthenticationError) as info:
            await u.aget_account_list()
        assert info.value.code.startswith("4000") and info.value.status == 401
    async with Trade(url=exchange.url, credentials=exchange.credentials) as t:
        with pytest.raises(OrderError):
            await t.acancel_order("000000000000000000000000")
        with pytest.raises(ApiError) as bad:
            await t.acreate_limit_order("NOPE-USDT", "buy", "1", "1")
        assert bad.value.code != "200000"
    async with Market(url=exchange.url) as m:
        with pytest.raises(ApiError):
            await m.aget_ticker("NOPE-USDT")


async def test_unknown_symbol_of_a_market_data_call_is_not_an_order_error(exchange):
    """KuCoin answers 900001 "symbol not exists" to market data and orders alike: a market-data call names
    the symbol in a SymbolError (nothing was ordered), an order keeps being an OrderError."""
    async with Market(url=exchange.url) as m:
        calls = {
            "ticker": m.aget_ticker,
            "24h stats": m.aget_24h_stats,
            "symbol detail": m.aget_symbol_detail,
            "level2_20": lambda s: m.aget_part_order(20, s),
        }
        for name, call in calls.items():
            with pytest.raises(ApiError) as info:
                await call("FOO-BAR")
            error = info.value
            assert not isinstance(error, OrderError), f"{name}: {type(error).__name__}: {error}"
            assert isinstance(error, exceptions.SymbolError), f"{name}: {type(error).__name__}"
            assert error.code == "900001" and error.symbol == "FOO-BAR"
            assert "'FOO-BAR'" in str(error), str(error)
    async with Trade(url=exchange.url, credentials=exchange.credentials) as t:
        with pytest.raises(OrderError) as refused:
            await t.acreate_limit_order("FOO-BAR", "buy", "1", "1")
        assert refused.value.code == "900001"


async def test_a_symbol_in_lower_case_gets_a_hint_about_case(exchange):
    """KuCoin's 900001 for btc-usdt says only "symbol not exists": the error adds that symbols are upper
    case and the spelling meant."""
    async with Market(url=exchange.url) as m:
        with pytest.raises(ApiError) as info:
            await m.aget_ticker("btc-usdt")
    assert "upper case" in str(info.value) and "'BTC-USDT'" in str(info.value), str(info.value)
