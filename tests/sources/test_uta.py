"""kunb.Stream and kunb.Account over UTA (protocol="uta") against the scripted UTA server, REST mocked."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from utafeed import KEY, PASSPHRASE, SECRET, UtaFeed, obu, ticker

from kunb.account import Account, AccountState
from kunb.events import Integrity
from kunb.exceptions import ConfigurationError
from kunb.model.book import BookState
from kunb.net.uta_rest import UtaRest
from kunb.signing import Credentials
from kunb.sources.base import LinkStatus, MarketChannels
from kunb.sources.uta import UtaAccountSource, UtaMarketSource
from kunb.stream import Stream

FAST = {"backoff_base": 0.02, "backoff_cap": 0.1, "stable_after": 0.0, "request_timeout": 2.0}
CREDS = Credentials(KEY, SECRET, PASSPHRASE)
BOOK = (10, [("100", "1"), ("99", "2")], [("101", "1"), ("102", "3")])


def test_topics_are_one_per_symbol_and_channel() -> None:
    source = UtaMarketSource(ws_url="ws://127.0.0.1:1")
    channels = MarketChannels(("BTC-USDT", "ETH-USDT"), stats=True, candles="1min", extra=("obu.SPOT:X-Y:5",))
    assert source.topics(channels) == [
        "obu.SPOT:BTC-USDT:increment@10ms",
        "ticker.SPOT:BTC-USDT",
        "trade.SPOT:BTC-USDT",
        "kline.SPOT:BTC-USDT:1min",
        "obu.SPOT:ETH-USDT:increment@10ms",
        "ticker.SPOT:ETH-USDT",
        "trade.SPOT:ETH-USDT",
        "kline.SPOT:ETH-USDT:1min",
        "obu.SPOT:X-Y:5",
    ]
    with pytest.raises(ConfigurationError, match="depth"):
        UtaMarketSource(depth="20")
    with pytest.raises(ConfigurationError, match="credentials"):
        UtaMarketSource(depth="increment")  # its REST snapshot is signed
    with pytest.raises(ConfigurationError, match="protocol"):
        Stream("BTC-USDT", protocol="fix")
    with pytest.raises(ConfigurationError, match="classic options"):
        Stream("BTC-USDT", protocol="uta", snapshot_depth=100)


async def test_stream_syncs_from_the_socket_snapshot_and_resubscribes_on_a_gap() -> None:
    """increment@10ms: the snapshot after the subscription makes the book live; deltas apply by O..C; a gap
    drops the book, the source unsubscribes and subscribes again (counted), and the new snapshot heals it."""
    async with UtaFeed() as feed:
        feed.books["BTC-USDT"] = BOOK
        stream = Stream("BTC-USDT", protocol="uta", ws_url=feed.url, stats=False, **FAST)
        integrity: list[Integrity] = []
        stream.add_sink(lambda e: integrity.append(e) if isinstance(e, Integrity) else None)
        async with stream:
            await stream.wait_live(5)
            book = stream.books["BTC-USDT"]
            assert stream.protocol == "uta" and book.best_bid == 100.0 and book.best_ask == 101.0
            await feed.push(obu("delta", 11, 12, bids=[("100", "0"), ("100.5", "4")]))
            await feed.push(ticker(price="100.7"))
            await stream.wait_for(lambda s: s.ticks is not None and len(s.ticks) == 1, 5)
            assert book.best_bid == 100.5 and book.stats.last_sequence == 12
            assert stream.last_tick("BTC-USDT").price == 100.7

            feed.books["BTC-USDT"] = (30, [("90", "1")], [("91", "1")])
            await feed.push(obu("delta", 20, 21, asks=[("101", "0")]))  # O > last + 1: a gap
            await stream.wait_for(lambda s: s.books["BTC-USDT"].best_bid == 90.0, 5)
            assert stream.source.resyncs == 1  # type: ignore[attr-defined]
            assert feed.frames(action="unsubscribe", channel="obu")
            assert [e.kind for e in integrity if e.symbol == "BTC-USDT"][:1] == ["gap"]
            assert stream.live


async def test_depth_50_snapshots_replace_the_book() -> None:
    async with UtaFeed() as feed:
        feed.books["BTC-USDT"] = BOOK
        async with Stream("BTC-USDT", protocol="uta", ws_url=feed.url, depth="50", stats=False, **FAST) as s:
            await s.wait_live(5)
            await feed.push(obu("snapshot", 11, 11, bids=[("98", "1")], asks=[("103", "1")], depth="50"))
            await s.wait_for(lambda s: s.books["BTC-USDT"].best_bid == 98.0, 5)
            assert s.books["BTC-USDT"].best_ask == 103.0 and s.source.resyncs == 0  # type: ignore[attr-defined]
            assert ("obu", "BTC-USDT", "50") in feed.subscribed[0]


async def test_deprecated_increment_syncs_from_the_rest_snapshot() -> None:
    async with UtaFeed() as feed:
        asked: list[str] = []

        async def rest(symbol: str) -> dict[str, Any]:
            asked.append(symbol)
            return {
                "tradeType": "SPOT",
                "symbol": symbol,
                "sequence": 10,
                "bids": [["100", "1"]],
                "asks": [["101", "1"]],
            }

        stream = Stream(
            "BTC-USDT",
            protocol="uta",
            ws_url=feed.url,
            depth="increment",
            snapshots=rest,
            stats=False,
            **FAST,
        )
        async with stream:
            await feed.push(obu("delta", 10, 11, bids=[("100", "5")], depth="increment"))
            await stream.wait_live(5)
            book = stream.books["BTC-USDT"]
            await stream.wait_for(lambda s: book.last_sequence == 11, 5)  # the delta after sequence 10
            assert asked[0] == "BTC-USDT" and stream.snapshots_fetched >= 1
            assert book.top(1) == ([(100.0, 5.0)], [(101.0, 1.0)])
            assert stream.source.resyncs == 0  # type: ignore[attr-defined]


async def test_a_silent_book_is_reported_and_resubscribed() -> None:
    """No snapshot after the ack: the connection reports the topic silent (an Integrity event), and the
    book, still waiting, gets a new subscription once the snapshot is overdue."""
    async with UtaFeed() as feed:
        stream = Stream(
            "BTC-USDT",
            protocol="uta",
            ws_url=feed.url,
            stats=False,
            silence_after=0.2,
            open_timeout=5,
            **FAST,
        )
        silent: list[Integrity] = []
        stream.add_sink(
            lambda e: silent.append(e) if isinstance(e, Integrity) and e.kind == "silent" else None
        )
        async with stream:
            await stream.wait_for(lambda s: bool(silent), 5)
            assert silent[0].symbol == "BTC-USDT" and "obu.SPOT:BTC-USDT:increment@10ms" in silent[0].detail
            assert stream.link is LinkStatus.LIVE  # one topic, not the link
            assert stream.books["BTC-USDT"].state is not BookState.LIVE


async def test_a_dropped_link_resyncs_from_the_resubscriptions_snapshot() -> None:
    async with UtaFeed() as feed:
        feed.books["BTC-USDT"] = BOOK
        async with Stream("BTC-USDT", protocol="uta", ws_url=feed.url, stats=False, **FAST) as stream:
            await stream.wait_live(5)
            feed.books["BTC-USDT"] = (50, [("80", "1")], [("81", "1")])
            await feed.conns[0].close()
            await stream.wait_for(lambda s: s.live and s.books["BTC-USDT"].best_bid == 80.0, 5)
            assert stream.source.resyncs == 0  # type: ignore[attr-defined]  # the reconnect's own snapshot
            assert len(feed.conns) == 2


# -- the account ---------------------------------------------------------------------------------------------
class UtaRestFake:
    """The UTA REST endpoints ccxt's UTA mode calls, answered from lists (signed requests only)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.balances = [
            {"currency": "USDT", "balance": "100", "available": "90", "hold": "10", "equity": "100"}
        ]
        self.open_orders: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers.get("KC-API-KEY") == KEY and request.headers.get("KC-API-SIGN")
        self.paths.append(f"{request.method} {request.url.raw_path.decode()}")
        path = request.url.path
        if path == "/api/ua/v1/unified/account/balance":
            data: Any = {"accountType": "UNIFIED", "ts": 1, "accounts": [{"currencies": self.balances}]}
        elif path == "/api/ua/v1/unified/order/open-list":
            data = {"pageNumber": 1, "totalPage": 1, "items": self.open_orders}
        elif path == "/api/ua/v1/unified/order/history":
            data = {"pageNumber": 1, "totalPage": 1, "items": []}
        elif path == "/api/v2/bullet-private":
            data = {"token": "v1tok"}
        else:
            return httpx.Response(404, json={"code": "404", "msg": "Not Found"})
        return httpx.Response(200, content=json.dumps({"code": "200000", "data": data}))


def order_item(order_id: str = "o1", status: int = 2) -> dict[str, Any]:
    return {"orderId": order_id, "symbol": "BTC-USDT", "orderType": "LIMIT", "side": "BUY", "size": "0.5",
            "price": "100", "filledSize": "0", "avgPrice": "0", "clientOid": "c1", "status": status,
            "orderTime": 1774457869404794617, "sizeUnit": "BASECCY"}  # fmt: skip


def account(feed: UtaFeed, fake: UtaRestFake, **kw: Any) -> Account:
    rest = UtaRest(url="http://127.0.0.1:9", credentials=CREDS, transport=httpx.MockTransport(fake))
    return Account(CREDS, protocol="uta", ws_url=feed.url, rest=rest, symbols=["BTC-USDT"], **FAST, **kw)


async def test_account_authenticates_seeds_from_uta_rest_and_follows_pushes() -> None:
    async with UtaFeed() as feed:
        fake = UtaRestFake()
        fake.open_orders = [order_item()]
        async with account(feed, fake) as acct:
            await acct.wait_live(5)
            assert acct.protocol == "uta"
            assert feed.received[0][1]["op"] == "auth"
            assert [f["channel"] for f in feed.frames(action="subscribe")] == [
                "orderAll",
                "execution",
                "balance",
            ]
            assert fake.paths[0] == "GET /api/ua/v1/unified/account/balance"
            query = "pageNumber=1&pageSize=200&symbol=BTC-USDT&tradeType=SPOT"
            assert f"GET /api/ua/v1/unified/order/open-list?{query}" in fake.paths
            assert acct.balance("USDT", "unified").available == Decimal("90")
            assert acct.order("o1").status == "open"

            await feed.push({"T": "balance.UNIFIED", "P": 1774982552507478380,
                             "d": {"c": "USDT", "e": "95", "b": "95", "a": "95", "h": "0", "l": "0",
                                   "U": 1774982552505000000}})  # fmt: skip
            cancel = {"oi": "o1", "ci": "c1", "s": "BTC-USDT", "S": "BUY", "oT": "LIMIT", "p": "100",
                      "q": "0.5", "eT": "CANCEL", "os": 5, "fS": "0", "rS": "0", "cS": "0.5",
                      "O": 1770380108442909926, "U": 1770380108526000000}  # fmt: skip
            await feed.push({"T": "orderAll.UNIFIED", "P": 1770380108536802787, "d": cancel})
            await acct.wait_for(lambda a: a.order("o1").status == "done", 5)
            assert acct.balance("USDT", "unified").total == Decimal("95")
            assert acct.counters.balance_pushes == 1 and acct.counters.order_pushes == 1


async def test_account_reauthenticates_and_reseeds_after_a_drop() -> None:
    async with UtaFeed() as feed:
        fake = UtaRestFake()
        async with account(feed, fake) as acct:
            await acct.wait_live(5)
            await feed.conns[0].close()
            await acct.wait_for(lambda a: a.counters.reseeds == 1 and a.state is AccountState.LIVE, 5)
            assert [f["op"] for n, f in feed.received if n == 1 and "op" in f] == ["auth"]
            assert any("/order/history" in p for p in fake.paths)  # orders finished in the outage


async def test_account_v1_fetches_a_token_and_refused_auth_closes() -> None:
    async with UtaFeed() as feed:
        fake = UtaRestFake()
        async with account(feed, fake, auth="v1") as acct:
            await acct.wait_live(5)
            assert feed.paths == ["/?token=v1tok"] and feed.frames(op="auth") == []
            assert "POST /api/v2/bullet-private" in fake.paths
    async with UtaFeed() as feed:
        feed.accept_auth = False
        acct = account(feed, UtaRestFake())
        with pytest.raises(Exception, match="auth refused"):
            await acct.astart()
        assert acct.state is AccountState.CLOSED and len(feed.conns) == 1


def test_account_source_needs_credentials() -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        UtaAccountSource(Credentials("", "", ""), ws_url="ws://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="classic option"):
        Account(CREDS, protocol="uta", order_topic="/spotMarket/tradeOrdersV2")
