"""The runtime: nothing patched at import, nesting opt-in, keys follow the cell, run() works in scripts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

import kunb.notebook.runtime as runtime


def test_importing_kunb_notebook_patches_nothing():
    """In a fresh interpreter, importing kunb.notebook leaves asyncio alone and never loads nest_asyncio2."""
    code = textwrap.dedent(
        """
        import asyncio, sys
        run, loop_cls = asyncio.run, asyncio.BaseEventLoop.run_until_complete
        import kunb, kunb.notebook
        kunb.live_ticker  # the lazy export resolves too
        print(asyncio.run is run, asyncio.BaseEventLoop.run_until_complete is loop_cls,
              "nest_asyncio2" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "True", "False"]


def test_run_in_a_script_is_asyncio_run():
    """Without a running loop, run() runs the coroutine to completion on a fresh loop."""

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert runtime.run(answer()) == 42


def test_cell_key_falls_back_to_the_arguments_outside_a_kernel():
    """Outside a kernel there is no cell id: the key is the kind plus the arguments."""
    assert runtime.cell_key("ticker", ("BTC-USDT",), "u") == ("ticker", ("BTC-USDT",), "u")


def test_register_replaces_and_stops_the_previous_object():
    """A second object under the same key stops the first; unregister forgets it."""

    class Obj:
        stopped = False

        def stop(self) -> None:
            self.stopped = True

    a, b = Obj(), Obj()
    runtime.register(("k",), a)
    runtime.register(("k",), b)
    assert a.stopped and not b.stopped and runtime.live_objects()[-1] is b
    runtime.unregister(b)
    assert b not in runtime.live_objects()


_TICKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import kunb, kunb.sim

    handle = kunb.sim.start(seed=1, symbols=["BTC-USDT"], tick_ms=20)
    ticker = kunb.live_ticker(["BTC-USDT"])
    asyncio.run(ticker.wait_live())
    if sys.argv[1] == "stop":
        ticker.stop()
        print("after stop:", len(ticker.tasks), ticker.health.value, ticker.stream.state.value)
    """
)


@pytest.mark.parametrize("how", ["stop", "exit"])
def test_a_live_ticker_in_a_script_ends_its_tasks(how: str) -> None:
    """In a plain script, stop() returns once the panel's tasks and its stream have ended, and the
    interpreter's exit (stopped or not) destroys no pending task: no "Task was destroyed but it is
    pending!", no "Exception ignored" (issue 17)."""
    out = subprocess.run(
        [sys.executable, "-c", _TICKER_SCRIPT, how], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for noise in ("Task was destroyed", "Exception ignored", "Traceback"):
        assert noise not in out.stderr, out.stderr
    if how == "stop":
        assert "after stop: 0 stopped closed" in out.stdout, out.stdout
