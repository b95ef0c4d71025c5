"""The throttle coalesces marks into a bounded number of renders and never blocks the caller."""

from __future__ import annotations

import asyncio

import pytest
from support import until

from kunb.exceptions import ConfigurationError
from kunb.notebook.throttle import Throttle


async def test_many_marks_between_frames_cost_one_render():
    """A burst of marks before the render task runs produces exactly one render."""
    renders: list[int] = []
    throttle = Throttle(lambda: renders.append(throttle.marks), max_hz=1000, heartbeat=None)
    task = asyncio.create_task(throttle.run())
    try:
        for _ in range(1000):
            throttle.mark()
        await until(lambda: renders)
        assert renders == [1000]
        assert throttle.renders == 1
    finally:
        task.cancel()


async def test_render_rate_is_bounded_under_continuous_marks():
    """Marking on every loop turn for a while renders no faster than max_hz."""
    throttle = Throttle(lambda: None, max_hz=20, heartbeat=None)
    task = asyncio.create_task(throttle.run())
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        while loop.time() - start < 0.5:
            throttle.mark()
            await asyncio.sleep(0)
        elapsed = loop.time() - start
    finally:
        task.cancel()
    assert throttle.marks > 100
    assert 2 <= throttle.renders <= 20 * elapsed + 2


async def test_heartbeat_renders_without_marks():
    """With a heartbeat, a quiet stream still gets frames (rates and status must age visibly)."""
    throttle = Throttle(lambda: None, max_hz=100, heartbeat=0.02)
    task = asyncio.create_task(throttle.run())
    try:
        await until(lambda: throttle.renders >= 3)
    finally:
        task.cancel()
    assert throttle.marks == 0


async def test_a_failing_render_is_counted_and_rendering_continues():
    """An exception in render() is recorded, and the next mark renders again."""
    calls = []

    def render() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")

    throttle = Throttle(render, max_hz=1000, heartbeat=None)
    task = asyncio.create_task(throttle.run())
    try:
        throttle.mark()
        await until(lambda: throttle.errors == 1)
        throttle.mark()
        await until(lambda: throttle.renders == 1)
    finally:
        task.cancel()
    assert isinstance(throttle.last_error, ValueError)


async def test_a_render_that_keeps_failing_logs_once_per_interval(caplog: pytest.LogCaptureFixture):
    """Every failure is counted, but the traceback is logged once per 10 s, not on every frame."""
    now = [0.0]

    def render() -> None:
        raise ValueError("boom")

    throttle = Throttle(render, max_hz=1000, heartbeat=None, clock=lambda: now[0])
    with caplog.at_level("ERROR", logger="kunb.notebook.throttle"):
        for _ in range(50):
            throttle.render_now()
        now[0] = 10.0
        throttle.render_now()
    assert throttle.errors == 51
    assert len([r for r in caplog.records if "rendering a live panel failed" in r.getMessage()]) == 2


@pytest.mark.parametrize("kwargs", [{"max_hz": 0}, {"max_hz": -1}, {"heartbeat": 0}])
def test_bad_rates_are_configuration_errors(kwargs):
    """A non-positive rate or heartbeat is refused with a typed error."""
    with pytest.raises(ConfigurationError):
        Throttle(lambda: None, **kwargs)
