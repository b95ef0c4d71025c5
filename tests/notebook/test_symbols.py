"""The symbol catalog refuses unknown symbols by name and brings the ticks of known ones; a lookup that
fails for a passing reason refuses nothing."""

from __future__ import annotations

import httpx
import pytest

from kunb.client import Market
from kunb.notebook import symbols as symbols_module
from kunb.notebook.formats import Precision
from kunb.notebook.symbols import SymbolCatalog, unknown_symbol_message


def _item(symbol: str, price_increment: str, base_increment: str) -> dict[str, str]:
    base, quote = symbol.split("-")
    return {"symbol": symbol, "baseCurrency": base, "quoteCurrency": quote, "priceIncrement": price_increment,
            "baseIncrement": base_increment}  # fmt: skip


ITEMS = {"BTC-USDT": _item("BTC-USDT", "0.1", "0.00000001"), "USDT-EUR": _item("USDT-EUR", "0.0001", "0.01")}


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.setattr(symbols_module, "_known", {})


def _market(requests: list[str], *, down: set[str] = frozenset()) -> Market:
    def handle(request: httpx.Request) -> httpx.Response:
        symbol = request.url.path.rsplit("/", 1)[1]
        requests.append(symbol)
        if symbol in down:
            return httpx.Response(503, json={"code": "503000", "msg": "busy"})
        if symbol not in ITEMS:
            return httpx.Response(400, json={"code": "900001", "msg": "symbol not exists"})
        return httpx.Response(200, json={"code": "200000", "data": ITEMS[symbol]})

    return Market(url="https://api.kucoin.com", transport=httpx.MockTransport(handle))


async def test_check_refuses_unknown_symbols_by_name_and_keeps_the_rest():
    requests: list[str] = []
    catalog = SymbolCatalog("https://api.kucoin.com", market=_market(requests))
    check = await catalog.check(["BTC-USDT", "XXX-USDT", "BTC-USDT"])
    assert list(check.info) == ["BTC-USDT"] and list(check.rejected) == ["XXX-USDT"]
    assert "900001" in check.rejected["XXX-USDT"]
    assert check.usable(["XXX-USDT", "BTC-USDT"]) == ["BTC-USDT"]
    assert catalog.precision("BTC-USDT") == Precision(price=1, size=8)
    assert catalog.precision("XXX-USDT") == Precision()
    message = unknown_symbol_message(check.rejected, "https://api.kucoin.com")
    assert message.startswith("not streamed: XXX-USDT (unknown symbol") and "api.kucoin.com" in message
    await catalog.check(["BTC-USDT", "XXX-USDT"])  # known answers are kept: no second request
    assert sorted(requests) == ["BTC-USDT", "XXX-USDT"]


async def test_a_passing_failure_refuses_nothing():
    """An exchange error (5xx) or the network: the symbol is neither known nor refused, and asked again."""
    requests: list[str] = []
    catalog = SymbolCatalog("https://api.kucoin.com", market=_market(requests, down={"BTC-USDT"}))
    check = await catalog.check(["BTC-USDT"])
    assert check.info == {} and check.rejected == {}
    assert check.usable(["BTC-USDT"]) == ["BTC-USDT"]
    await catalog.check(["BTC-USDT"])
    assert requests == ["BTC-USDT", "BTC-USDT"]
    unreachable = SymbolCatalog("http://127.0.0.1:9")
    assert (await unreachable.check(["BTC-USDT"])).rejected == {}


async def test_pair_finds_the_market_either_way_round():
    catalog = SymbolCatalog("https://api.kucoin.com", market=_market([]))
    found = await catalog.pair("BTC", "USDT")
    assert found is not None and found[0].symbol == "BTC-USDT" and found[1] is False
    inverted = await catalog.pair("EUR", "USDT")
    assert inverted is not None and inverted[0].symbol == "USDT-EUR" and inverted[1] is True
    assert await catalog.pair("DOGE", "USDT") is None


async def test_an_empty_answer_counts_as_unknown():
    """KuCoin may answer an unknown symbol with ``data: null`` instead of 900001."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": "200000", "data": None})

    market = Market(url="https://api.kucoin.com", transport=httpx.MockTransport(handle))
    check = await SymbolCatalog("https://api.kucoin.com", market=market).check(["ZZZ-USDT"])
    assert "no such symbol" in check.rejected["ZZZ-USDT"]
