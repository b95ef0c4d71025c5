"""Fixtures for the notebook layer: a scripted Feed so panels and live objects run without sockets."""

from __future__ import annotations

import pytest
from nbfakes import FakeFeed

from kunb.notebook.runtime import stop_all


@pytest.fixture
def fake_feed() -> FakeFeed:
    return FakeFeed()


@pytest.fixture(autouse=True)
def _no_leftover_live_objects():
    yield
    stop_all()
