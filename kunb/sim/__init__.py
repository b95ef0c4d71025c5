"""kunb.sim: an embedded KuCoin-compatible exchange (REST + WebSocket on loopback) for tests and demos.

::

    async with kunb.sim.Exchange(seed=1, symbols=["BTC-USDT", "ETH-USDT"]) as ex:
        ex.url                  # REST base URL http://127.0.0.1:PORT; bullet-public names ex.ws_url
        ex.uta_url              # UTA public socket ws://127.0.0.1:PORT; ex.uta_private_url the private one
        ex.faults               # fault injection (kunb.sim.faults): disconnect, drop_pongs, skip_level2...
        ex.credentials          # the demo user's key; ex.create_account(balances=...) makes another
        ex.sequence("BTC-USDT") # the server's book sequence; ex.snapshot(sym) its book, REST-shaped
        ex.connections(), ex.stats()

    handle = kunb.sim.start(seed=1)  # own thread and loop (notebooks): handle.url, .uta_url, .faults, .stop()
    kunb.sim.stop()                  # stops the exchange started last
    # start() sets KUNB_URL, KUNB_UTA_URL, KUNB_UTA_PRIVATE_URL (clients' defaults) until stop();
    # default_url(), default_uta_urls(), default_credentials(), simulator_urls()

``Exchange`` keyword arguments: ``seed``, ``symbols`` (names, a count such as 2000, or None for the
realistic default set), ``host``/``port``/``ws_port``/``uta_port``/``uta_private_port`` (loopback, any
free port), ``uta_binary`` (UTA frames binary, as KuCoin's), ``tick_ms`` (market step and push period),
``rate`` (synthetic flow multiplier, 0 freezes it), ``history_s`` (simulated past trading),
``ping_interval_ms``/``ping_timeout_ms``, ``token_ttl_s``, ``max_connection_s``, ``admin`` (HTTP fault
route), ``firehose`` (benchmark mode), ``clock``.

Layout (imports point down only; ``tests/sim/test_sim_layers.py`` pins it): ``core/`` the pure
exchange (books, flow, tape, accounts, trading, private events); ``wire/`` the JSON shapes of both
protocols (classic ``market``, ``private_push``, ``private_rest``; UTA ``uta``, ``uta_private``,
``uta_rest``); ``rest/`` the starlette app over a narrow backend (``uta``: the UTA endpoints); ``feed/``
the websockets servers (classic ``server``, UTA ``uta_server``), fan-out, publishers, firehose; on top
``exchange`` (the composition), ``faults``, ``runner``, ``cli``.
Memory stays flat in long runs: finished orders and fills are kept per user up to KuCoin's "recent"
window (1,000 each, 7 days: ``kunb.sim.core.trading.Retention``), candles for 24 h (minutes) and 7 days
(hours), the last 100 trades, at most 10,000 bullet tokens; ``ex.stats()`` reports what is kept.
Command line: ``kunb sim`` or ``python -m kunb.sim`` (prints ``KUNB_SIM_URL=...`` first, then
``KUNB_SIM_UTA_URL``, ``KUNB_SIM_UTA_PRIVATE_URL``, the demo key, and ``KUNB_URL``, ``KUNB_SIMULATED``,
``KUNB_UTA_URL``, ``KUNB_UTA_PRIVATE_URL`` for kunb's clients).
"""

from __future__ import annotations

from kunb.sim.exchange import Exchange
from kunb.sim.faults import Faults
from kunb.sim.runner import (
    SimHandle,
    default_credentials,
    default_url,
    default_uta_urls,
    simulator_urls,
    start,
    stop,
)

__all__ = [
    "Exchange",
    "Faults",
    "SimHandle",
    "default_credentials",
    "default_url",
    "default_uta_urls",
    "simulator_urls",
    "start",
    "stop",
]
