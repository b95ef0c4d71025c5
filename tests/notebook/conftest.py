"""Fixtures for the notebook layer: a scripted market source, so panels run without sockets."""

from __future__ import annotations

import pytest
from nbfakes import FakeMarketSource

from kunb.notebook.runtime import stop_all


@pytest.fixture
def fake_source() -> FakeMarketSource:
    return FakeMarketSource()


@pytest.fixture(autouse=True)
def _no_leftover_live_objects():
    yield
    stop_all()
