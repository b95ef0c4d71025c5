"""The embedded exchange's WebSocket feed: KuCoin's connection protocol over websockets' asyncio server.

``server`` serves connections (tokens from ``tokens``, topics from ``topics``), each a ``session`` with
its own queue and lasting faults; ``hub`` fans pushes out; ``publisher`` turns core events into pushes;
``firehose`` is the benchmark mode. Imports :mod:`kunb.sim.core` and :mod:`kunb.sim.wire`, never REST or
the composition.
"""
