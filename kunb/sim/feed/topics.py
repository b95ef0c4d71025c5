"""Subscription topics: parse a subscribe request's topic into per-symbol push topics, or a KuCoin error.

Pure. Rules from ``classic-protocol.md#subscribe-and-ack``-1.8: split the
topic at the first ``:``, split the args
on ``,`` and trim spaces; a subscription to ``/market/ticker:A,B`` yields pushes on
``/market/ticker:A`` and ``/market/ticker:B``; ``/market/ticker:all`` stays one topic; unknown
prefixes or symbols are error 404 ``topic ... is not found``; more than 100 topics in one request
is error 509.
"""

from __future__ import annotations

from collections.abc import Collection

from kunb.exceptions import SubscribeError
from kunb.sim.core.tape import CANDLE_SECONDS

__all__ = [
    "CANDLE_TYPES_WS",
    "MAX_TOPICS_PER_CONNECTION",
    "MAX_TOPICS_PER_REQUEST",
    "PUBLIC_PREFIXES",
    "expand",
    "split_topic",
]

MAX_TOPICS_PER_REQUEST = 100  # 1.8: topics per subscribe request
MAX_TOPICS_PER_CONNECTION = 400  # 1.8: current docs (legacy: 300)

PUBLIC_PREFIXES = frozenset(
    {
        "/market/ticker",
        "/market/snapshot",
        "/market/level2",
        "/spotMarket/level1",
        "/spotMarket/level2Depth5",
        "/spotMarket/level2Depth50",
        "/market/match",
        "/market/candles",
    }
)
# 2.1: the WS candle list (REST additionally has 5min and 1month, which we accept too)
CANDLE_TYPES_WS = frozenset(CANDLE_SECONDS)


def split_topic(topic: str) -> tuple[str, list[str]]:
    """``"/market/level2: A, B"`` -> ``("/market/level2", ["A", "B"])``; no ``:`` -> no args."""
    prefix, sep, rest = topic.partition(":")
    prefix = prefix.strip()
    if not sep:
        return prefix, []
    return prefix, [a.strip() for a in rest.split(",")]


def expand(
    topic: str,
    symbols: Collection[str],
    *,
    private_prefixes: Collection[str] = (),
) -> tuple[str, list[str]]:
    """Validate ``topic`` and return ``(prefix, per-symbol push topics)``.

    Raises:
        SubscribeError: 404 for an unknown prefix, symbol or candle type; 509 for >100 topics.
    """
    prefix, args = split_topic(topic)
    not_found = SubscribeError(404, f"topic {topic} is not found")
    if prefix in private_prefixes:
        # Private topics are arg-less (/account/balance, /spotMarket/tradeOrders) or per symbol.
        if not args:
            return prefix, [prefix]
        if any(not a for a in args):
            raise not_found
        out = [f"{prefix}:{a}" for a in dict.fromkeys(args)]
    elif prefix not in PUBLIC_PREFIXES or not args or any(not a for a in args):
        raise not_found
    elif prefix == "/market/ticker" and args == ["all"]:
        return prefix, ["/market/ticker:all"]
    elif prefix == "/market/candles":
        for arg in args:
            symbol, _, kind = arg.rpartition("_")
            if symbol not in symbols or kind not in CANDLE_TYPES_WS:
                raise not_found
        out = [f"{prefix}:{a}" for a in dict.fromkeys(args)]
    else:
        if any(a not in symbols for a in args):
            raise not_found
        out = [f"{prefix}:{a}" for a in dict.fromkeys(args)]
    if len(out) > MAX_TOPICS_PER_REQUEST:
        raise SubscribeError(
            509, f"exceed max subscription count limitation of {MAX_TOPICS_PER_REQUEST} per time"
        )
    return prefix, out
