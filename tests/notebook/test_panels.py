"""Panels render exactly what they are given: float64 arrays in named traces, a date axis, truthful badge."""

from __future__ import annotations

import re

import numpy as np
import pytest
from nbfakes import ticker_msg

from kunb.notebook.model import TickerView
from kunb.notebook.panels import TickerPanel, fmt_num
from kunb.notebook.status import Health, StatusView, badge_html
from kunb.stream import Stream


def _model(n: int = 4) -> TickerView:
    stream = Stream(["BTC-USDT", "ETH-USDT"], book=False, trades=False)
    for i in range(n):
        stream.ingest(ticker_msg("BTC-USDT", i, price=50_000.0, spread=1.0))
        stream.ingest(ticker_msg("ETH-USDT", i, price=3_000.0, spread=0.2))
    return TickerView(stream, window=100)


def test_render_puts_the_window_into_named_float64_traces():
    """Each symbol's price trace and spread trace hold the model's window as float64 arrays."""
    model = _model()
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    panel.render(model, StatusView(health=Health.LIVE, url="https://api.kucoin.com", simulated=False))
    by_uid = {tr.meta: tr for tr in panel.figure.data}
    price = by_uid["price:BTC-USDT"]
    assert price.name == "BTC-USDT"
    assert isinstance(price.x, np.ndarray) and price.x.dtype == np.float64
    assert price.y.tolist() == [50_000.0, 50_001.0, 50_002.0, 50_003.0]
    assert by_uid["spread:ETH-USDT"].y[-1] == pytest.approx(0.2 / 3003.0 * 1e4)
    assert panel.figure.layout.template.layout.xaxis.type == "date"
    assert panel.frames == 1


def test_render_shows_quotes_table_and_badge():
    """The table shows bid/ask/spread per symbol and the badge says the health word."""
    model = _model()
    panel = TickerPanel(model.symbols, window=100, simulated=True)
    panel.render(model, StatusView(health=Health.RECONNECTING, url="http://127.0.0.1:1", simulated=True))
    assert 'data-symbol="BTC-USDT"' in panel.table.value
    spread = re.search(r'<td class="kunb-spread" data-value="([^"]*)"[^>]*>([^<]*)</td>', panel.table.value)
    assert spread is not None and spread.groups() == ("1.0", fmt_num(1.0, 50_002.5))
    assert 'data-status="reconnecting"' in panel.badge.value
    assert "simulated" in panel.badge.value
    assert "simulated" in panel.figure.layout.title.text
    assert all("simulated" in a.text for a in panel.figure.layout.annotations)


def test_unreachable_badge_says_how_to_start_the_embedded_exchange():
    """When the exchange cannot be reached the badge says so and names kunb.sim.start()."""
    html = badge_html(StatusView(health=Health.UNREACHABLE, url="https://api.kucoin.com", simulated=False))
    assert 'data-status="unreachable"' in html
    assert "Cannot reach https://api.kucoin.com" in html and "kunb.sim.start()" in html
    assert 'data-simulated="false"' in html


def test_set_symbols_rebuilds_the_figure():
    """Changing symbols replaces the figure with one trace pair per new symbol."""
    panel = TickerPanel(["BTC-USDT"], window=10, simulated=False)
    panel.set_symbols(["ETH-USDT", "ADA-USDT"])
    assert [t.meta for t in panel.figure.data] == [
        "price:ETH-USDT",
        "price:ADA-USDT",
        "spread:ETH-USDT",
        "spread:ADA-USDT",
    ]
    assert panel.widget.children[-1] is panel.figure


def test_a_frame_without_new_data_sends_no_arrays():
    """Heartbeat frames refresh badge and table but do not resend unchanged trace data."""
    model = _model()
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    status = StatusView(health=Health.LIVE, url="u", simulated=False)
    panel.render(model, status)
    sent: list[object] = []
    send = panel.figure.comm.send
    panel.figure.comm.send = lambda *a, **k: (sent.append(k), send(*a, **k))
    panel.render(model, status)
    assert (panel.frames, panel.redraws, sent) == (2, 1, [])
    model.stream.ingest(ticker_msg("BTC-USDT", 99))
    panel.render(model, status)
    assert panel.redraws == 2 and sent
