"""The browser bench's workload (bench/figure_demo.py) gives both renderers the same window and points."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from recordingcomm import record_comms

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import figure_demo

sys.path.pop(0)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What widgets publish during the test (see recordingcomm)."""
    return record_comms(monkeypatch)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The demo's wall clock (seconds), set by the test."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(figure_demo.time, "time", lambda: now[0])
    return now


@pytest.mark.parametrize("kind", figure_demo.KINDS)
def test_both_kinds_start_full_and_add_the_same_points(sent, clock, kind):
    panel = figure_demo.DemoPanel(kind, window=50, ticks_hz=10.0, seed=3)
    figure = panel.figure
    reference = figure_demo._Series(4, 50, 10.0, seed=3)  # the same seed and clock: the same walk

    def drawn(i: int) -> tuple[np.ndarray, np.ndarray]:
        if kind == "livefigure":
            cols = figure.columns(i)
            return cols["x"], cols["y"]
        return np.asarray(figure.data[i].x), np.asarray(figure.data[i].y)

    assert [len(drawn(i)[0]) for i in range(4)] == [50] * 4
    clock[0] += 0.35  # 3 ticks due at 10 per second
    panel.redraw()
    reference.advance(clock[0] * 1000.0)
    for i in range(4):
        x, y = drawn(i)
        assert np.array_equal(x, reference.t) and np.array_equal(y, reference.y[i])
    assert panel.redraws == 1
    clock[0] += 0.05  # no tick due yet: nothing is sent
    panel.redraw()
    assert panel.redraws == 1
