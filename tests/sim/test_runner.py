"""kunb.sim.start() is the session default (KUNB_URL) until stop(); the feed never logs bullet tokens."""

from __future__ import annotations

import logging
import os

import pytest
from simclient import bullet, open_ws

import kunb.sim
from kunb.client import Market


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
