"""Panels find their exchange the way every other client does (one resolver, issue 12)."""

from __future__ import annotations

import pytest

import kunb.sim
from kunb.net.rest import DEFAULT_URL, Market
from kunb.notebook.source import is_simulated, resolve_url


def test_a_simulator_that_is_not_the_default_is_not_what_panels_dial(monkeypatch: pytest.MonkeyPatch) -> None:
    """start(make_default=False) leaves $KUNB_URL alone; a panel then dials what Market() dials, not the
    simulator (before, panels preferred any in-process simulator and disagreed with the REST clients)."""
    monkeypatch.delenv("KUNB_URL", raising=False)
    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50, make_default=False) as handle:
        assert resolve_url() == Market().url == DEFAULT_URL
        assert resolve_url() != handle.url
        assert is_simulated(handle.url)  # still labelled simulated when dialled explicitly


def test_the_default_simulator_is_what_every_client_dials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUNB_URL", "http://127.0.0.1:9")
    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50) as handle:
        assert resolve_url() == Market().url == handle.url
        assert resolve_url("http://127.0.0.1:7/") == "http://127.0.0.1:7"
