"""kunb's own UTA clients against the embedded exchange, end to end: ``kunb.Stream(..., protocol="uta")``
and ``kunb.Account(..., protocol="uta")``, and books built from UTA and from classic on the same exchange
agreeing level by level at the same sequence.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from utasim import signed, until

import kunb
from kunb.events import BookDelta, BookSnapshot, Fill
from kunb.model.book import BookState, OrderBook
from kunb.sim import Exchange
from kunb.sim.core.orderbook import Side

SYMBOLS = ["BTC-USDT", "ETH-USDT"]
FAST = {"backoff_base": 0.05, "backoff_cap": 0.5}


def levels(ex: Exchange, symbol: str, depth: int | None) -> tuple[dict[float, float], dict[float, float]]:
    market = ex.core.market(symbol)
    spec, book = market.spec, market.book
    return tuple(  # type: ignore[return-value]
        {float(spec.price_str(p)): float(spec.size_str(s)) for p, s in book.depth(side, depth)}
        for side in (Side.BUY, Side.SELL)
    )


class Recorder:
    """A Stream sink: each live book's levels (``depth`` per side) by sequence, after every book event."""

    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self.by_sequence: dict[tuple[str, int], tuple[dict[float, float], dict[float, float]]] = {}
        self.stream: kunb.Stream | None = None

    def sink(self, event: object) -> None:
        if not isinstance(event, BookDelta | BookSnapshot) or self.stream is None:
            return
        book: OrderBook = self.stream.books[event.symbol]
        if book.state is BookState.LIVE and book.last_sequence is not None:
            bids, asks = book.levels("bid"), book.levels("ask")
            if self.depth is not None:
                bids = dict(sorted(bids.items(), reverse=True)[: self.depth])
                asks = dict(sorted(asks.items())[: self.depth])
            self.by_sequence[(event.symbol, book.last_sequence)] = (bids, asks)


def recorded(stream: kunb.Stream, depth: int | None) -> Recorder:
    recorder = Recorder(depth)
    recorder.stream = stream
    stream.add_sink(recorder.sink)
    return recorder


async def test_a_uta_stream_end_to_end(exchange) -> None:
    """Books at increment@10ms equal the exchange's at the same sequence; ticks, trades and candles flow."""
    stream = kunb.Stream(
        SYMBOLS,
        url=exchange.url,
        protocol="uta",
        ws_url=exchange.uta_url,
        candles="1min",
        stats=False,
        **FAST,
    )
    checked: list[str] = []

    def check(event: object) -> None:
        if isinstance(event, BookDelta | BookSnapshot):
            book = stream.books[event.symbol]
            if book.state is BookState.LIVE and book.last_sequence == exchange.sequence(event.symbol):
                assert (book.levels("bid"), book.levels("ask")) == levels(exchange, event.symbol, 500)
                checked.append(event.symbol)

    stream.add_sink(check)
    try:
        await stream.astart()
        await stream.wait_live(10)
        await until(lambda: set(checked) == set(SYMBOLS) and len(checked) > 20, 10)
        await until(lambda: len(stream.ticks.df) > 0 and len(stream.trades.df) > 0, 10)  # type: ignore[union-attr]
        await until(lambda: len(stream.candles.df) > 0, 10)  # type: ignore[union-attr]
        assert all(b.stats.gaps == 0 and b.stats.snapshots == 1 for b in stream.books.values())
        assert {s.binary for s in exchange.connections()} == {True}  # it spoke UTA
    finally:
        await stream.aclose()


@pytest.mark.parametrize("depth", ["increment", "50", "5", "1"])
async def test_a_uta_stream_at_the_other_depths(exchange, depth) -> None:
    """The deprecated increment (signed REST snapshot) keeps the whole book; 1/5/50 keep their top."""
    stream = kunb.Stream(
        "BTC-USDT", url=exchange.url, credentials=exchange.credentials, protocol="uta",
        ws_url=exchange.uta_url, depth=depth, ticker=False, trades=False, stats=False, **FAST,
    )  # fmt: skip
    size = None if depth == "increment" else int(depth)
    rec = recorded(stream, size)
    checked: list[int] = []

    def check(event: object) -> None:
        sequence = exchange.sequence("BTC-USDT")
        if isinstance(event, BookDelta | BookSnapshot) and ("BTC-USDT", sequence) in rec.by_sequence:
            assert rec.by_sequence[("BTC-USDT", sequence)] == levels(exchange, "BTC-USDT", size)
            checked.append(sequence)

    stream.add_sink(check)  # after the recorder: it sees this event's book
    try:
        await stream.astart()
        await stream.wait_live(10)
        await until(lambda: len(checked) >= 3, 10)
    finally:
        await stream.aclose()


async def test_books_from_uta_and_from_classic_agree_level_by_level_at_the_same_sequence(exchange) -> None:
    """One exchange, two streams: classic level2 (full signed snapshot) and UTA increment@10ms. Wherever
    both books stood at the same sequence they held the same levels (the book is under 500 levels deep)."""
    classic = kunb.Stream(SYMBOLS, url=exchange.url, credentials=exchange.credentials, stats=False, **FAST)
    uta = kunb.Stream(SYMBOLS, url=exchange.url, protocol="uta", ws_url=exchange.uta_url, stats=False, **FAST)
    a, b = recorded(classic, None), recorded(uta, None)
    assert all(exchange.core.market(s).book.level_count(side) < 500 for s in SYMBOLS for side in Side)
    try:
        await classic.astart()
        await uta.astart()
        await classic.wait_live(10)
        await uta.wait_live(10)
        await until(lambda: len(a.by_sequence.keys() & b.by_sequence.keys()) >= 50, 15)
        common = a.by_sequence.keys() & b.by_sequence.keys()
        assert {s for s, _ in common} == set(SYMBOLS)
        for key in common:
            assert a.by_sequence[key] == b.by_sequence[key], key
    finally:
        await classic.aclose()
        await uta.aclose()


@pytest.mark.parametrize("auth", ["v2", "v1"])
async def test_a_uta_account_end_to_end(auth) -> None:
    """Seeds from UTA REST, then follows orders placed through classic and UTA REST, fills with fees and
    unified balances; at the end it agrees with REST to the last digit."""
    async with Exchange(seed=8, symbols=SYMBOLS, rate=0, tick_ms=20) as ex:
        creds = ex.create_account()
        await signed(
            ex.url,
            creds,
            "POST",
            "/api/v1/orders",
            {"side": "buy", "symbol": "BTC-USDT", "price": "50000", "size": "0.001"},
        )
        account = kunb.Account(
            creds, url=ex.url, protocol="uta", ws_url=ex.uta_private_url, auth=auth, symbols=SYMBOLS, **FAST
        )
        fills: list[Fill] = []
        account.add_sink(lambda event, _result: fills.append(event) if isinstance(event, Fill) else None)
        try:
            await account.astart()
            await account.wait_live(10)
            [seeded] = [o for o in account.holdings.orders.values()]  # the order placed before it started
            assert seeded.status == "open" and seeded.source == "rest"
            market = ex.core.market("ETH-USDT")
            ask = market.spec.price_str(market.book.best_ask()[0])
            body = {"symbol": "ETH-USDT", "side": "BUY", "orderType": "LIMIT", "price": ask, "size": "0.01"}
            placed = await signed(ex.url, creds, "POST", "/api/ua/v1/unified/order/place", body)
            taker = placed["orderId"]
            await signed(
                ex.url,
                creds,
                "POST",
                "/api/ua/v1/unified/order/cancel",
                {"orderId": seeded.order_id, "symbol": "BTC-USDT"},
            )
            await until(lambda: (o := account.order(taker)) is not None and o.status == "done", 5)
            await until(lambda: (o := account.order(seeded.order_id)) is not None and o.status == "done", 5)
            assert account.order(taker).deal_size == Decimal("0.01")  # type: ignore[union-attr]
            await until(lambda: len(fills) == 1, 5)
            fee = (Decimal(ask) * Decimal("0.01") * Decimal("0.001")).quantize(Decimal("1e-12"))
            assert (fills[0].order_id, fills[0].fee, fills[0].liquidity) == (taker, fee, "taker")
            rest = await signed(ex.url, creds, "GET", "/api/ua/v1/unified/account/balance")
            for item in rest["accounts"][0]["currencies"]:
                mine = account.balance(item["currency"], "unified")
                assert mine is not None
                assert (mine.total, mine.available, mine.hold) == tuple(
                    Decimal(item[k]) for k in ("balance", "available", "hold")
                )
            assert account.counters.bad_messages == 0
        finally:
            await account.aclose()


async def test_a_uta_account_recovers_orders_placed_while_it_was_down(exchange) -> None:
    creds = exchange.create_account()
    account = kunb.Account(
        creds, url=exchange.url, protocol="uta", ws_url=exchange.uta_private_url, symbols=SYMBOLS, **FAST
    )
    try:
        await account.astart()
        await account.wait_live(10)
        exchange.faults.stall(seconds=None)  # nothing reaches it ...
        order = await signed(
            exchange.url,
            creds,
            "POST",
            "/api/v1/orders",
            {"side": "buy", "symbol": "BTC-USDT", "price": "50000", "size": "0.001"},
        )
        exchange.faults.disconnect()  # ... then the link drops
        exchange.faults.clear()
        await until(lambda: account.counters.reseeds >= 1, 10)
        recovered = account.order(order["orderId"])
        assert recovered is not None and recovered.source == "rest" and account.counters.order_pushes == 0
    finally:
        await account.aclose()
