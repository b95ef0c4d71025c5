"""kunb.sim.start() is the session default (KUNB_URL) until stop(); the feed never logs bullet tokens."""

from __future__ import annotations

import logging
import os

import pytest
from simclient import bullet, open_ws

import kunb.sim
from kunb.client import Market
from kunb.notebook.source import market_source, session_uta_urls
from kunb.sources.uta import uta_urls


def test_start_sets_kunb_url_and_stop_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made without url= reach the started exchange; stop() puts the old KUNB_URL back."""
    monkeypatch.setenv("KUNB_URL", "http://127.0.0.1:9")
    handle = kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50)
    try:
        assert kunb.sim.default_url() == handle.url
        assert kunb.sim.default_credentials() == handle.credentials
        assert handle.credentials is not None and handle.credentials.is_complete
        assert handle.url in kunb.sim.simulator_urls()
        with Market() as market:
            assert market.url == handle.url
            assert market.get_ticker("BTC-USDT")["bestBid"]
    finally:
        handle.stop()
    assert kunb.sim.default_url() is None or kunb.sim.default_url() != handle.url
    assert handle.url not in kunb.sim.simulator_urls()
    assert kunb.sim.default_credentials() is None
    assert os.environ["KUNB_URL"] == "http://127.0.0.1:9"


def test_start_without_make_default_leaves_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUNB_URL", raising=False)
    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50, make_default=False) as handle:
        assert "KUNB_URL" not in os.environ
        assert handle.url in kunb.sim.simulator_urls()


async def test_async_exchange_is_listed_while_open() -> None:
    async with kunb.sim.Exchange(seed=3, symbols=["BTC-USDT"], tick_ms=50) as ex:
        assert ex.url in kunb.sim.simulator_urls()
    assert ex.url not in kunb.sim.simulator_urls()


async def test_feed_server_debug_logs_never_contain_the_token(
    exchange, caplog: pytest.LogCaptureFixture
) -> None:
    """websockets' request-line DEBUG record goes through a logger that hides token=..."""
    token = (await bullet(exchange.url))["token"]
    with caplog.at_level(logging.DEBUG):
        ws = await open_ws(exchange.url, token=token)
        await ws.close()
    # the raw test client logs through websockets.client; only the exchange's own records matter here
    messages = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")]
    assert any("token=***" in m for m in messages), "the request line should still be logged, redacted"
    assert not any(token in m for m in messages)


def test_start_sets_the_uta_urls_too_and_stop_restores_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """kunb.sim.start() also sets KUNB_UTA_URL and KUNB_UTA_PRIVATE_URL (what UTA streams and accounts
    dial) and offers them as default_uta_urls() (what notebook panels read); stop() restores the old ones."""
    monkeypatch.setenv("KUNB_UTA_URL", "ws://127.0.0.1:9")
    monkeypatch.delenv("KUNB_UTA_PRIVATE_URL", raising=False)
    handle = kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50)
    try:
        assert handle.uta_url.startswith("ws://127.0.0.1:") and handle.uta_private_url != handle.uta_url
        assert kunb.sim.default_uta_urls() == (handle.uta_url, handle.uta_private_url)
        assert uta_urls() == (handle.uta_url, handle.uta_private_url)
    finally:
        handle.stop()
    assert kunb.sim.default_uta_urls() is None
    assert os.environ["KUNB_UTA_URL"] == "ws://127.0.0.1:9" and "KUNB_UTA_PRIVATE_URL" not in os.environ


def test_notebook_panels_find_the_uta_sockets_of_the_session_exchange(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50) as handle:
        assert session_uta_urls(handle.url) == (handle.uta_url, handle.uta_private_url)
        assert market_source("uta", handle.url).ws_url == handle.uta_url  # type: ignore[union-attr]
