"""The ticker panel draws what it is given: float64 columns in named traces, only new points per redraw,
prices to the symbol's tick, a legend on the shared spread axis, a recent time axis before any tick."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pytest
from nbfakes import ticker_msg
from recordingcomm import record_comms

from kunb.notebook.formats import Precision
from kunb.notebook.model import TickerView
from kunb.notebook.status import Health, StatusView, badge_html
from kunb.notebook.tickerpanel import TickerPanel
from kunb.stream import Stream

LIVE = StatusView(health=Health.LIVE, url="https://api.kucoin.com", simulated=False)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_comms(monkeypatch)


def _model(n: int = 4, *, window: int = 100, rows: int = 1000) -> TickerView:
    stream = Stream(["BTC-USDT", "ETH-USDT"], book=False, trades=False, window=rows)
    _push(stream, range(n))
    return TickerView(stream, window=window)


def _push(stream: Stream, indexes: Any) -> None:
    for i in indexes:
        stream.ingest(ticker_msg("BTC-USDT", i, price=50_000.0, spread=1.0))
        stream.ingest(ticker_msg("ETH-USDT", i, price=3_000.0, spread=0.2))


def _ops(log: list[dict[str, Any]], figure: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    return [
        (m["data"]["content"], m["buffers"])
        for m in log
        if m["comm_id"] == figure.model_id and m["type"] == "comm_msg" and m["data"].get("method") == "custom"
    ]


def test_render_puts_the_window_into_named_float64_traces(sent):
    """Each symbol's price and spread traces hold the model's window as float64 columns on date axes."""
    model = _model()
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    panel.render(model, LIVE)
    fig = panel.figure
    metas = [fig.trace_attributes(i)["meta"] for i in range(fig.trace_count)]
    assert metas == ["price:BTC-USDT", "price:ETH-USDT", "spread:BTC-USDT", "spread:ETH-USDT"]
    price = fig.columns(0)
    assert price["x"].dtype == np.float64 and price["y"].tolist() == [50_000.0, 50_001.0, 50_002.0, 50_003.0]
    assert fig.columns(3)["y"][-1] == pytest.approx(0.2 / 3003.0 * 1e4)
    layout = fig.plotly_layout
    assert {layout[k]["type"] for k in ("xaxis", "xaxis2", "xaxis3")} == {"date"}
    assert panel.frames == 1


def test_series_sharing_the_spread_axis_have_a_legend_prices_do_not(sent):
    panel = TickerPanel(["BTC-USDT", "ETH-USDT"], window=10, simulated=False)
    fig = panel.figure
    assert fig.plotly_layout["showlegend"] is True
    shown = [fig.trace_attributes(i).get("showlegend", True) for i in range(4)]
    assert shown == [False, False, True, True]


def test_a_redraw_sends_only_the_new_ticks(sent):
    """After the first draw, each redraw is one message extending every trace by the new points only."""
    model = _model(4)
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    panel.render(model, LIVE)
    before = len(_ops(sent, panel.figure))
    _push(model.stream, range(4, 7))
    panel.render(model, LIVE)
    (content, buffers), *rest = _ops(sent, panel.figure)[before:]
    assert rest == []
    assert [(op["op"], op["trace"], op["max_points"]) for op in content["ops"]] == [
        ("extend", 0, 100), ("extend", 2, 100), ("extend", 1, 100), ("extend", 3, 100)
    ]  # fmt: skip
    assert {memoryview(b).nbytes for b in buffers} == {3 * 8}  # 3 new points a column, not the window
    assert panel.figure.columns(0)["y"][-3:].tolist() == [50_004.0, 50_005.0, 50_006.0]
    assert len(panel.figure.columns(0)["y"]) == 7


def test_a_frame_without_new_data_sends_nothing(sent):
    """Heartbeat frames refresh badge and table but send nothing to the figure."""
    model = _model()
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    panel.render(model, LIVE)
    before = len(_ops(sent, panel.figure))
    panel.render(model, LIVE)
    assert (panel.frames, panel.redraws, _ops(sent, panel.figure)[before:]) == (2, 1, [])


def test_ticks_that_outran_the_ring_redraw_the_window(sent):
    """More new ticks than the stream's ring holds: the window is sent again (replace), not a gap."""
    model = _model(4, window=5, rows=10)
    panel = TickerPanel(model.symbols, window=5, simulated=False)
    panel.render(model, LIVE)
    before = len(_ops(sent, panel.figure))
    _push(model.stream, range(4, 30))
    panel.render(model, LIVE)
    ((content, _buffers),) = _ops(sent, panel.figure)[before:]
    assert {op["op"] for op in content["ops"]} == {"replace"}
    assert panel.figure.columns(0)["y"].tolist() == [50_025.0 + k for k in range(5)]


def test_window_change_redraws_everything(sent):
    model = _model(10)
    panel = TickerPanel(model.symbols, window=100, simulated=False)
    panel.render(model, LIVE)
    model.set_window(3)
    panel.render(model, LIVE)
    assert len(panel.figure.columns(0)["x"]) == 3


def test_before_the_first_tick_the_time_axis_shows_the_last_minute(sent):
    """No tick yet: the axis spans the last minute (not plotly's empty default of January 2000); the
    first points switch it to autorange."""
    panel = TickerPanel(["BTC-USDT"], window=10, simulated=False)
    lo, hi = panel.figure.plotly_layout["xaxis"]["range"]
    now = time.time() * 1000
    assert now - 70_000 < lo < hi <= now + 1000
    model = _model(0)
    panel.render(model, LIVE)
    assert panel.figure.plotly_layout["xaxis"].get("autorange") is not True
    _push(model.stream, range(2))
    panel.render(model, LIVE)
    assert panel.figure.plotly_layout["xaxis"]["autorange"] is True


def test_table_writes_prices_to_the_tick_with_separators(sent):
    """With the symbol's increments known, prices have its decimals and thousands separators, sizes no
    scientific notation, times a date and a zone."""
    model = _model()
    panel = TickerPanel(
        model.symbols, window=100, simulated=True, precision=lambda s: Precision(price=1, size=8)
    )
    panel.render(model, StatusView(health=Health.RECONNECTING, url="http://127.0.0.1:1", simulated=True))
    html = panel.table.value
    bid = re.search(
        r'<tr data-symbol="BTC-USDT">.*?<td class="kunb-bid[^"]*" data-value="([^"]*)"[^>]*>([^<]*)</td>',
        html,
    )
    assert bid is not None and bid.groups() == ("50002.5", "50,002.5")
    spread = re.search(r'<td class="kunb-spread[^"]*" data-value="([^"]*)"[^>]*>([^<]*)</td>', html)
    assert spread is not None and spread.groups() == ("1.0", "1.0")
    when = re.search(r'<td class="kunb-time"[^>]*>([^<]*)</td>', html)
    assert when is not None and re.fullmatch(r"2023-11-14 22:13:20\.\d{3} UTC", when.group(1))
    shown = re.sub(r"<[^>]*>", " ", html)  # the text a reader sees
    assert not re.search(r"\de[-+]?\d|\dk\b", shown), shown  # no scientific notation, no SI suffix
    assert 'data-status="reconnecting"' in panel.badge.value and "simulated" in panel.badge.value
    layout = panel.figure.plotly_layout
    assert layout["yaxis"]["tickformat"] == ",.1f" and layout["yaxis"]["exponentformat"] == "none"
    assert "simulated" in layout["title"]["text"]


def test_set_symbols_rebuilds_the_figure(sent):
    """Changing symbols replaces the figure with one trace pair per new symbol; the old one is closed."""
    panel = TickerPanel(["BTC-USDT"], window=10, simulated=False)
    old = panel.figure
    panel.set_symbols(["ETH-USDT", "ADA-USDT"])
    metas = [panel.figure.trace_attributes(i)["meta"] for i in range(4)]
    assert metas == ["price:ETH-USDT", "price:ADA-USDT", "spread:ETH-USDT", "spread:ADA-USDT"]
    assert panel.widget.children[-1] is panel.figure and old.comm is None


def test_unreachable_badge_says_how_to_start_the_embedded_exchange():
    """When the exchange cannot be reached the badge says so and names kunb.sim.start()."""
    html = badge_html(StatusView(health=Health.UNREACHABLE, url="https://api.kucoin.com", simulated=False))
    assert 'data-status="unreachable"' in html
    assert "Cannot reach https://api.kucoin.com" in html and "kunb.sim.start()" in html
    assert 'data-simulated="false"' in html


def test_a_notice_shows_whatever_the_health():
    html = badge_html(
        StatusView(health=Health.LIVE, url="u", simulated=False, notice="not streamed: X-Y <b>")
    )
    assert '<div class="kunb-notice"' in html and "not streamed: X-Y &lt;b&gt;" in html
