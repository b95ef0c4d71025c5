"""kunb.sim's public UTA socket over raw websockets: welcome, pongs, replies, and the ``obu`` books.

``uta-protocol.md`` is the contract: binary frames, a welcome with ``pingInterval``, each ping style
answered in its own, ``{"id","result"}`` replies with the documented refusals, a snapshot after every
subscription at depth 1/5/50/``increment@10ms``, 10 ms deltas over the top 500 with ``O == previous C +
1``, the deprecated ``increment`` continuing the signed REST snapshot, and the market pushes. Books are
checked against the exchange's own book at the same sequence (the test shares the exchange's loop).
"""

from __future__ import annotations

import asyncio
import itertools

import orjson
import pytest
import websockets
from utasim import (
    before_pong,
    collect,
    open_uta,
    pinging,
    recv,
    recv_raw,
    request,
    send,
    signed,
    subscribe,
    wait_for,
)

from kunb.sim import Exchange
from kunb.sim.core.orderbook import Side

SYM = "BTC-USDT"


@pytest.fixture
async def frozen():
    """An exchange whose market moves only when a test moves it (rate 0)."""
    async with Exchange(
        seed=1, symbols=[SYM, "ETH-USDT"], rate=0, tick_ms=20, ping_interval_ms=1_000, ping_timeout_ms=1_000
    ) as ex:
        yield ex


def top(ex: Exchange, symbol: str = SYM, depth: int | None = 500) -> tuple[list[list[str]], list[list[str]]]:
    """The server's top ``depth`` levels per side as the wire writes them."""
    market = ex.core.market(symbol)
    spec, book = market.spec, market.book
    return tuple(  # type: ignore[return-value]
        [[spec.price_str(p), spec.size_str(s)] for p, s in book.depth(side, depth)]
        for side in (Side.BUY, Side.SELL)
    )


def set_level(ex: Exchange, side: Side, price: int, lots: int, symbol: str = SYM) -> None:
    """Move the frozen market: the maker's size at one price (one sequence), then publish."""
    assert ex.core.market(symbol).book.set_maker_liquidity(side, price, lots)
    ex.publish()


def is_obu(m: dict) -> bool:
    return m.get("T") == "obu.SPOT"


class Book:
    """A client-side book built from one snapshot and the deltas after it (``O == C + 1`` enforced)."""

    def __init__(self, snapshot: dict) -> None:
        d = snapshot["d"]
        assert snapshot["t"] == "snapshot" and d["O"] == d["C"]
        self.bids = {p: s for p, s in d["b"]}
        self.asks = {p: s for p, s in d["a"]}
        self.last = d["C"]

    def apply(self, delta: dict) -> None:
        d = delta["d"]
        assert delta["t"] == "delta" and d["O"] == self.last + 1, (d["O"], self.last)
        for rows, side in ((d["b"], self.bids), (d["a"], self.asks)):
            for price, size in rows:
                if size == "0":
                    side.pop(price, None)
                else:
                    side[price] = size
        self.last = d["C"]

    def rows(self) -> tuple[list[list[str]], list[list[str]]]:
        bids = sorted(self.bids.items(), key=lambda r: -float(r[0]))
        asks = sorted(self.asks.items(), key=lambda r: float(r[0]))
        return [list(r) for r in bids], [list(r) for r in asks]


# ---------------------------------------------------------------------- connection
async def test_the_welcome_comes_first_as_a_binary_frame(exchange) -> None:
    async with websockets.connect(exchange.uta_url) as raw:
        frame = await recv_raw(raw)
        assert isinstance(frame, bytes)  # uta-protocol.md#framing-and-lifetime
        welcome = orjson.loads(frame)
    assert welcome["message"] == "welcome" and welcome["sessionId"]
    assert (welcome["pingInterval"], welcome["pingTimeout"]) == (1_000, 1_000)
    assert exchange.uta_url.startswith("ws://127.0.0.1:") and exchange.uta_url.count("/") == 2


async def test_text_frames_on_request() -> None:
    async with Exchange(seed=1, symbols=[SYM], rate=0, uta_binary=False) as ex:
        ws, _ = await open_uta(ex.uta_url)
        await send(ws, {"id": "1", "type": "ping"})
        assert isinstance(await recv_raw(ws), str)
        await ws.close()


async def test_each_ping_style_is_answered_in_its_own_style(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    await send(ws, {"id": "p32", "type": "ping"})
    pong = await recv(ws)
    assert pong["type"] == "pong" and pong["id"] == "p32" and pong["ts"] > 10**18  # ns
    await send(ws, {"id": "u1", "op": "ping", "timestamp": 1_790_000_000_000}, binary=True)
    assert await recv(ws) == {"op": "pong", "id": "u1"}
    await send(ws, {"id": 7, "op": "ping", "timestamp": "1790000000000"})  # Go client: an ms string
    assert await recv(ws) == {"op": "pong", "id": "7"}
    await ws.close()


async def test_no_answer_to_input_that_is_no_json_object(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    for junk in ("{not json", b"\xff\xfe", "[1, 2]", "3"):
        await send(ws, junk)
    assert await before_pong(ws) == []  # uta-protocol.md#framing-and-lifetime: no answer
    assert exchange.stats()["uta_bad_inputs"] >= 4
    await send(ws, {"id": "x", "op": "nope"})
    assert await recv(ws) == {"id": "x", "result": False, "message": "invalid request data"}
    await ws.close()


# ---------------------------------------------------------------------- replies
@pytest.mark.parametrize(
    ("frame", "key", "reason"),
    [
        (subscribe("obu", SYM, depth="20"), "message", "invalid request data"),
        (subscribe("nope", SYM), "message", "invalid request data"),
        (subscribe("kline", SYM, interval="2min"), "message", "invalid request data"),
        (subscribe("obu", depth="5", symbols=[SYM]), "reason", "symbols are not supported for topic obu"),
        (subscribe("obu", depth="5"), "reason", "missing `symbol` for topic: obu"),
        (subscribe("obu", SYM, depth="5", tradeType="FUTURES"), "reason", None),
        (subscribe("orderAll", tradeType="UNIFIED"), "message", None),
        (subscribe("mark-price", "XBTUSDTM"), "reason", None),
    ],
)
async def test_refusals_take_the_documented_shapes(exchange, frame, key, reason) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    answer = await request(ws, frame)
    assert answer["id"] == frame["id"] and answer["result"] is False
    assert set(answer) == {"id", "result", key}
    assert answer[key] == reason if reason else answer[key]
    await ws.close()


async def test_action_and_channel_in_any_case_and_unsubscribe_answered(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    for action in ("SUBSCRIBE", "Subscribe", "subscribe"):
        frame = {**subscribe("TICKER", SYM), "action": action}
        assert await request(ws, frame) == {"id": frame["id"], "result": True}
    session = next(s for s in exchange.connections() if f"ticker.SPOT:{SYM}" in s.topics)
    frame = {**subscribe("ticker", SYM), "action": "UNSUBSCRIBE"}
    assert await request(ws, frame) == {"id": frame["id"], "result": True}
    assert session.topics == set()
    await ws.close()


async def test_an_unlisted_symbol_is_acked_then_silent(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    assert (await request(ws, ghost := subscribe("obu", "NOPE-USDT", depth="5")))["result"] is True
    assert (await request(ws, subscribe("obu", SYM, depth="5")))["result"] is True
    # three snapshots of the listed symbol (~300 ms of 5-level pushes) and none of the other
    seen = []
    while sum(m["d"]["s"] == SYM for m in seen) < 3:
        seen.append(await wait_for(ws, is_obu))
    assert {m["d"]["s"] for m in seen} == {SYM}
    assert (await request(ws, {**ghost, "id": "u", "action": "unsubscribe"}))["result"] is True
    await ws.close()


# ---------------------------------------------------------------------- books
@pytest.mark.parametrize(("depth", "levels"), [("1", 1), ("5", 5), ("50", 50), ("increment@10ms", 500)])
async def test_a_snapshot_follows_every_subscription_at_a_snapshot_depth(frozen, depth, levels) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    frame = subscribe("obu", SYM, depth=depth)
    await send(ws, frame)
    answer, snapshot = await recv(ws), await recv(ws)
    assert answer == {"id": frame["id"], "result": True}  # the snapshot comes after the answer
    assert (snapshot["T"], snapshot["dp"], snapshot["t"]) == ("obu.SPOT", depth, "snapshot")
    d = snapshot["d"]
    # O == C == the symbol's sequence, the one classic REST snapshots report
    rest = await signed(
        frozen.url, frozen.credentials, "GET", f"/api/v3/market/orderbook/level2?symbol={SYM}"
    )
    assert d["O"] == d["C"] == frozen.sequence(SYM) == int(rest["sequence"])
    assert (d["b"], d["a"]) == top(frozen, depth=levels)
    assert d["s"] == SYM and d["M"] > 10**18 and snapshot["P"] > 10**18
    await ws.close()


@pytest.mark.parametrize("depth", ["5", "50"])
async def test_depths_5_and_50_repeat_every_100_ms_even_unchanged(frozen, depth) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    await request(ws, subscribe("obu", SYM, depth=depth))
    loop = asyncio.get_running_loop()
    times, snaps = [], []
    while len(snaps) < 4:
        snaps.append(await wait_for(ws, is_obu))
        times.append(loop.time())
    assert {(m["t"], m["d"]["C"]) for m in snaps} == {("snapshot", frozen.sequence(SYM))}
    assert min(b - a for a, b in itertools.pairwise(times[1:])) > 0.05  # a cadence, not a burst
    await ws.close()


async def test_depth_1_follows_the_best_bid_and_ask(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    await request(ws, subscribe("obu", SYM, depth="1"))
    await wait_for(ws, is_obu)
    bid = frozen.core.market(SYM).book.best_bid()
    set_level(frozen, Side.BUY, bid[0] + 1, 7)  # a new best bid
    snap = await wait_for(ws, is_obu)
    spec = frozen.core.market(SYM).spec
    assert snap["t"] == "snapshot" and snap["d"]["b"] == [[spec.price_str(bid[0] + 1), spec.size_str(7)]]
    assert snap["d"]["C"] == frozen.sequence(SYM)
    await ws.close()


async def test_increment_10ms_deltas_continue_the_snapshot_in_a_moving_market(exchange) -> None:
    """O == previous C + 1 on every delta, and the book built from them equals the exchange's top 500
    whenever both are at the same sequence."""
    ws, _ = await open_uta(exchange.uta_url)
    await request(ws, subscribe("obu", SYM, depth="increment@10ms"))
    book = Book(await wait_for(ws, is_obu))
    compared = deltas = 0
    while compared < 5 or deltas < 20:
        delta = await wait_for(ws, is_obu)
        book.apply(delta)
        deltas += 1
        assert delta["d"]["b"] or delta["d"]["a"]  # sent only when something in the top 500 changed
        if exchange.sequence(SYM) == book.last:
            assert book.rows() == top(exchange)
            compared += 1
    await ws.close()


async def test_the_top_500_edge(frozen) -> None:
    """A level pushed out of the top 500 is sent with size "0"; it comes back with its size; levels
    beyond 500 are never sent; changes deeper than the top 500 send nothing."""
    book = frozen.core.market(SYM).book
    spec = frozen.core.market(SYM).spec
    lowest = book.depth(Side.BUY)[-1][0]
    for i in range(1, 506 - book.level_count(Side.BUY) + 1):
        book.set_maker_liquidity(Side.BUY, lowest - i, 3)
    frozen.publish()
    assert book.level_count(Side.BUY) == 506
    ws, _ = await open_uta(frozen.uta_url)
    await request(ws, subscribe("obu", SYM, depth="increment@10ms"))
    local = Book(await wait_for(ws, is_obu))
    assert len(local.bids) == 500 and local.rows() == top(frozen)
    edge = book.depth(Side.BUY, 500)[-1]  # the 500th bid
    deep = book.depth(Side.BUY)[-1]  # far below the top 500
    set_level(frozen, Side.BUY, deep[0], deep[1] + 1)  # invisible: nothing is sent ...
    best = book.best_bid()[0]
    set_level(frozen, Side.BUY, best + 1, 5)  # ... until a new best bid pushes the 500th out
    delta = await wait_for(ws, is_obu)
    local.apply(delta)  # O covers the invisible change too
    assert delta["d"]["O"] == delta["d"]["C"] - 1
    assert delta["d"]["b"] == [[spec.price_str(best + 1), spec.size_str(5)], [spec.price_str(edge[0]), "0"]]
    set_level(frozen, Side.BUY, best + 1, 0)  # gone again: the old 500th comes back with its size
    delta = await wait_for(ws, is_obu)
    local.apply(delta)
    assert delta["d"]["b"] == [
        [spec.price_str(best + 1), "0"],
        [spec.price_str(edge[0]), spec.size_str(edge[1])],
    ]
    assert local.rows() == top(frozen) and local.last == frozen.sequence(SYM)
    await ws.close()


async def test_a_new_snapshot_only_after_unsubscribe_and_subscribe(frozen) -> None:
    ws, _ = await open_uta(frozen.uta_url)
    frame = subscribe("obu", SYM, depth="increment@10ms")
    await request(ws, frame)
    assert (await wait_for(ws, is_obu))["t"] == "snapshot"
    again = {**frame, "id": "again"}
    assert await request(ws, again) == {"id": "again", "result": True}  # acknowledged twice ...
    assert [m for m in await before_pong(ws) if is_obu(m)] == []  # ... one stream, no second snapshot
    assert (await request(ws, {**frame, "id": "u", "action": "unsubscribe"}))["result"] is True
    await request(ws, {**frame, "id": "s"})
    assert (await wait_for(ws, is_obu))["t"] == "snapshot"
    await ws.close()


async def test_two_subscribers_share_one_delta_stream(frozen) -> None:
    """A late subscriber's snapshot carries the sequence the shared deltas continue from."""
    first, _ = await open_uta(frozen.uta_url)
    await request(first, subscribe("obu", SYM, depth="increment@10ms"))
    early = Book(await wait_for(first, is_obu))
    best = frozen.core.market(SYM).book.best_ask()[0]
    set_level(frozen, Side.SELL, best - 1, 9)
    early.apply(await wait_for(first, is_obu))
    second, _ = await open_uta(frozen.uta_url)
    await request(second, subscribe("obu", SYM, depth="increment@10ms"))
    late = Book(await wait_for(second, is_obu))
    assert late.last == early.last and late.rows() == early.rows()
    set_level(frozen, Side.SELL, best - 1, 0)
    for ws, book in ((first, early), (second, late)):
        book.apply(await wait_for(ws, is_obu))
        assert book.rows() == top(frozen)
    await first.close()
    await second.close()


async def test_the_deprecated_increment_continues_the_signed_rest_snapshot(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    await request(ws, subscribe("obu", SYM, depth="increment"))
    first = await wait_for(ws, is_obu)
    assert (first["dp"], first["t"]) == ("increment", "delta")  # deltas only, never a snapshot
    for version in (1, 2):
        rest = await signed(
            exchange.url,
            exchange.credentials,
            "GET",
            f"/api/ua/v{version}/market/orderbook?limit=FULL&symbol={SYM}&tradeType=SPOT",
        )
        assert set(rest) == {"tradeType", "symbol", "sequence", "bids", "asks"} and rest["symbol"] == SYM
    sequence = int(rest["sequence"])
    bids, asks = dict(rest["bids"]), dict(rest["asks"])
    delta = await wait_for(ws, lambda m: is_obu(m) and m["d"]["C"] > sequence)
    assert delta["d"]["O"] - 1 <= sequence < delta["d"]["C"]  # uta-protocol.md#order-book-sync
    compared, last = 0, None
    while compared < 3:
        if last is not None:
            assert delta["d"]["O"] == last + 1
        for rows, side in ((delta["d"]["b"], bids), (delta["d"]["a"], asks)):
            for price, size in rows:
                if size == "0":
                    side.pop(price, None)
                else:
                    side[price] = size
        last = delta["d"]["C"]
        if exchange.sequence(SYM) == last:
            server_bids, server_asks = top(exchange, depth=None)
            assert (bids, asks) == (dict(server_bids), dict(server_asks))
            compared += 1
        delta = await wait_for(ws, is_obu)
    await ws.close()


# ---------------------------------------------------------------------- market pushes
async def test_ticker_trade_and_kline_pushes(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    for frame in (
        subscribe("ticker", SYM),
        subscribe("trade", SYM),
        subscribe("kline", SYM, interval="1min"),
    ):
        assert (await request(ws, frame))["result"] is True
    trade = (await wait_for(ws, lambda m: m.get("T") == "trade.SPOT"))["d"]
    assert trade["s"] == SYM and trade["S"] in ("buy", "sell") and trade["ti"] == str(trade["E"])
    assert float(trade["p"]) > 0 and float(trade["q"]) > 0 and trade["M"] > 10**18
    ticker = (await wait_for(ws, lambda m: m.get("T") == "ticker.SPOT"))["d"]
    assert set(ticker) == {"s", "a", "A", "b", "B", "l", "q", "S", "E", "M"}
    assert float(ticker["a"]) > float(ticker["b"]) and ticker["S"] in ("BUY", "SELL")  # a is the ask
    async with pinging(ws):
        klines = [await wait_for(ws, lambda m: m.get("T") == "kline.SPOT") for _ in range(2)]
    for k in klines:
        d = k["d"]
        assert (d["s"], d["i"], d["C"] - d["O"]) == (SYM, "1min", 60) and d["O"] % 60 == 0
        assert float(d["l"]) <= float(d["o"]) <= float(d["h"]) and float(d["l"]) <= float(d["c"]) <= float(
            d["h"]
        )
    assert klines[1]["P"] - klines[0]["P"] >= 500_000_000  # about once a second
    await ws.close()


async def test_a_symbols_array_works_for_tickers(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    frame = subscribe("ticker", symbols=[SYM, "ETH-USDT"])
    frame.pop("symbol", None)
    assert (await request(ws, frame))["result"] is True
    seen = set()
    while seen != {SYM, "ETH-USDT"}:
        seen.add((await wait_for(ws, lambda m: m.get("T") == "ticker.SPOT"))["d"]["s"])
    await ws.close()


# ---------------------------------------------------------------------- limits
async def test_uplink_limit_300_messages_per_10_s_on_the_public_socket(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    for i in range(310):
        await send(ws, {"id": f"f{i}", "type": "ping"})
    answers = await collect(ws, lambda m: m.get("id") == "f309")
    pongs = [a for a in answers if a.get("type") == "pong"]
    refused = [a for a in answers if a.get("result") is False]
    assert len(pongs) == 300 and len(refused) == 10 and "300" in refused[0]["message"]
    await ws.close()


async def test_at_most_600_topics_per_public_connection(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    frame = subscribe("ticker", symbols=[f"X{i}-USDT" for i in range(601)])
    frame.pop("symbol", None)
    answer = await request(ws, frame)
    assert answer["result"] is False and "600" in answer["message"]
    frame["symbols"] = frame["symbols"][:600]
    assert (await request(ws, {**frame, "id": "ok"}))["result"] is True
    await ws.close()


async def test_an_idle_connection_is_closed(exchange) -> None:
    """Without client frames for pingInterval + pingTimeout (1 s + 1 s here) the server closes."""
    ws, _ = await open_uta(exchange.uta_url)
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1000 and ws.close_reason == "ping timeout"


async def test_stats_count_uta_sessions(exchange) -> None:
    ws, _ = await open_uta(exchange.uta_url)
    assert exchange.stats()["connections"] == 1 and exchange.uta_feed.connections_total == 1
    await ws.close()
