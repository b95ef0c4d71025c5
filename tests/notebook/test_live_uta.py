"""The notebook panels with protocol="uta": a live ticker and book over the scripted UTA server, the
protocol on the badge, and the UTA hosts of a session's embedded exchange."""

from __future__ import annotations

import sys
import types

import pytest
from support import until
from utafeed import UtaFeed, ticker

import kunb.notebook as nb
from kunb.exceptions import ConfigurationError
from kunb.notebook.source import market_source, session_uta_urls
from kunb.notebook.status import Health, StatusView, badge_html
from kunb.sources.uta import UtaMarketSource


def test_the_badge_names_the_protocol() -> None:
    classic = badge_html(StatusView(health=Health.LIVE, url="u", simulated=False))
    uta = badge_html(StatusView(health=Health.LIVE, url="u", simulated=False, protocol="uta"))
    assert 'data-protocol="classic"' in classic and ">CLASSIC<" in classic
    assert 'data-protocol="uta"' in uta and ">UTA<" in uta


async def test_live_ticker_and_book_over_uta(monkeypatch: pytest.MonkeyPatch) -> None:
    async with UtaFeed() as feed:
        monkeypatch.setenv("KUNB_UTA_URL", feed.url)
        feed.books["BTC-USDT"] = (5, [("100", "1")], [("101", "1")])
        tick = nb.live_ticker("BTC-USDT", url="http://127.0.0.1:9", protocol="uta", max_hz=50)
        book = nb.live_book("BTC-USDT", url="http://127.0.0.1:9", protocol="uta", max_hz=50)
        try:
            await until(lambda: len(feed.frames(action="subscribe")) == 2, what="both subscriptions")
            await feed.push(ticker(price="100.5"), feed.connection_with("ticker"))
            await until(lambda: tick.received >= 1, what="a tick")
            await until(lambda: book.health is Health.LIVE, what="a live book")
            assert tick.stream.protocol == "uta" and book.stream.books["BTC-USDT"].best_ask == 101.0
            await until(lambda: 'data-protocol="uta"' in tick.panel.badge.value, what="the badge")
            assert {f["channel"] for f in feed.frames(action="subscribe")} == {"ticker", "obu"}
        finally:
            await tick.aclose()
            await book.aclose()


def test_protocol_is_checked_and_a_session_exchange_gives_its_uta_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="protocol"):
        market_source("fix", "http://127.0.0.1:9")
    assert market_source("classic", "http://127.0.0.1:9") is None
    fake_sim = types.SimpleNamespace(
        default_url=lambda: "http://127.0.0.1:7",
        default_uta_urls=lambda: ("ws://127.0.0.1:8", "ws://127.0.0.1:6"),
    )
    monkeypatch.setitem(sys.modules, "kunb.sim", fake_sim)
    assert session_uta_urls("http://127.0.0.1:7") == ("ws://127.0.0.1:8", "ws://127.0.0.1:6")
    assert session_uta_urls("http://127.0.0.1:9") == (None, None)
    source = market_source("uta", "http://127.0.0.1:7")
    assert isinstance(source, UtaMarketSource) and source.ws_url == "ws://127.0.0.1:8"
    with pytest.raises(ConfigurationError, match="classic"):
        nb.live_book("BTC-USDT", url="http://127.0.0.1:9", protocol="uta", snapshots=lambda s: None)
