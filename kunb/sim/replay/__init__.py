"""``kunb sim --replay DIR``: the embedded exchange serving a kunb recording over the wire.

Unmodified clients (kunb, KuCoin's SDK, ccxt) connect as to KuCoin: a bullet token, the classic
WebSocket protocol (welcome, ping/pong, subscribe acks: :mod:`kunb.sim.feed`), and REST order-book
snapshots. The pushes they get are the recording's frames, byte for byte, at the recorded pace times
``speed``, starting with the first subscription; a snapshot asked for at any moment is the recorded book
at that moment of the replay (:mod:`kunb.sim.replay.book`), so a client syncs its book as it would live.

``recording`` reads the raw layer, ``book`` keeps the recorded books, ``market`` what the REST side
serves, ``server`` composes them (``ReplayExchange``). It sits beside :mod:`kunb.sim.exchange` as one
more composition on top of the feed, wire and core layers.
"""

from __future__ import annotations

from kunb.sim.replay.server import ReplayExchange

__all__ = ["ReplayExchange"]
