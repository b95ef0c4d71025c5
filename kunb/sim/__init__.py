"""kunb.sim: an embedded KuCoin-compatible exchange (REST + WebSocket on loopback) for tests and demos.

::

    async with kunb.sim.Exchange(seed=1, symbols=["BTC-USDT", "ETH-USDT"]) as ex:
        ex.url          # REST base URL, http://127.0.0.1:PORT (POST /api/v1/bullet-public names the feed)
        ex.faults       # fault injection, see kunb.sim.faults

    handle = kunb.sim.start()   # on its own thread, for notebooks; handle.url, handle.stop()
    kunb.sim.stop()

Command line: ``kunb sim`` or ``python -m kunb.sim`` (prints ``KUNB_SIM_URL=...`` first).
"""

from __future__ import annotations

from kunb.sim.faults import Faults
from kunb.sim.runner import SimHandle, start, stop
from kunb.sim.server import Exchange

__all__ = ["Exchange", "Faults", "SimHandle", "start", "stop"]
