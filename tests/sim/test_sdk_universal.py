"""KuCoin's universal SDK (unmodified) against kunb.sim: REST ticker and book, WS ticker and level2.

The SDK runs in a child process (``usdk_probe.py``) because its ``stop()`` can block forever.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import kunb.sim

pytest.importorskip("kucoin_universal_sdk")
PROBE = pathlib.Path(__file__).with_name("usdk_probe.py")


def test_universal_sdk_public_rest_and_ws():
    """Token, welcome, acked subscribes, strictly typed pushes (no callback errors), contiguous level2."""
    with kunb.sim.start(symbols=["BTC-USDT"], tick_ms=50) as sim:
        proc = subprocess.run(
            [sys.executable, str(PROBE), sim.url], capture_output=True, text=True, timeout=60
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    assert result["rest"]["ticker_bid_lt_ask"] and result["rest"]["book_levels"] == 20
    assert result["ws"]["contiguous"] and result["callback_errors"] == 0
