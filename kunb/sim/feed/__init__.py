"""The embedded exchange's WebSocket feeds: KuCoin's two connection protocols over websockets' asyncio server.

Classic: ``server`` serves connections (tokens from ``tokens``, topics from ``topics``), each a ``session``
with its own queue and lasting faults; ``publisher`` turns core events into pushes; ``firehose`` is the
benchmark mode. UTA: ``uta_server`` (public or private socket; ``uta_topics`` reads subscriptions,
``uta_auth`` checks ``op:auth``) and ``uta_publisher``. Both protocols' sessions live in one ``hub``, which
fans pushes out. Imports :mod:`kunb.sim.core` and :mod:`kunb.sim.wire`, never REST or the composition.
"""
