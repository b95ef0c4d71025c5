"""UTA subscriptions: a subscribe frame into the topic keys the hub knows, or KuCoin's refusal (pure).

Rules from ``uta-protocol.md#subscribe`` (and ``uta-kunb.md#uta-subscribe`` where sources disagree, the
exchange accepts both forms): ``action`` in any case; ``channel`` in any case, canonical in the key;
``tradeType`` ``SPOT`` on public channels, ``UNIFIED`` (or absent) on private ones; ``balance`` takes
``accountType`` ``UNIFIED`` or ``FUNDING`` in any case (ccxt sends ``unified``); one ``symbol`` per
frame, a ``symbols`` array only for ``ticker``; ``depth`` one of ``1 5 50 increment increment@10ms``;
``interval`` one of KuCoin's kline intervals. A symbol the exchange does not list is acknowledged and
then sends nothing (as KuCoin does): :attr:`Subscription.listed` is False for it.

Keys are those of ``uta-kunb.md#uta-topic-keys``: ``obu.SPOT:BTC-USDT:increment@10ms``,
``kline.SPOT:BTC-USDT:1min``, ``ticker.SPOT:BTC-USDT``, ``orderAll.UNIFIED``, ``order.UNIFIED:BTC-USDT``,
``execution.UNIFIED``, ``balance.UNIFIED``. Classic topics start with ``/``, so the two never collide in
the hub.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kunb.sim.core.tape import CANDLE_SECONDS

__all__ = [
    "DEPTHS",
    "INTERVALS",
    "MAX_TOPICS_PRIVATE",
    "MAX_TOPICS_PUBLIC",
    "PRIVATE_CHANNELS",
    "PUBLIC_CHANNELS",
    "Refusal",
    "Subscription",
    "parse_key",
    "parse_subscription",
]

PUBLIC_CHANNELS = ("ticker", "trade", "kline", "obu")
PRIVATE_CHANNELS = ("orderAll", "order", "execution", "execution.lite", "balance")
#: channels KuCoin has that this exchange does not serve (futures, positions, call auctions)
_OTHER_CHANNELS = (
    "mark-price",
    "funding-fee",
    "funding-fee-all-symbols",
    "callAuctionInfo",
    "position",
    "positionAll",
    "lw",
    "leverage",
)
DEPTHS = ("1", "5", "50", "increment", "increment@10ms")
INTERVALS = tuple(CANDLE_SECONDS)  # 1min ... 1month: the same names as UTA's kline intervals
ACCOUNT_TYPES = ("UNIFIED", "FUNDING")
MAX_TOPICS_PUBLIC = 600  # uta-protocol.md#limits
MAX_TOPICS_PRIVATE = 400
_CANONICAL = {name.lower(): name for name in PUBLIC_CHANNELS + PRIVATE_CHANNELS + _OTHER_CHANNELS}
_INVALID = "invalid request data"


class Refusal(Exception):
    """A refused subscription: KuCoin's reason, and the key it travels under (``message`` or ``reason``)."""

    def __init__(self, reason: str = _INVALID, key: str = "message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscribe/unsubscribe frame understood: its hub keys and what they are."""

    channel: str  #: canonical spelling
    keys: tuple[str, ...]  #: hub topics (several only for a ``ticker`` with ``symbols``)
    private: bool
    listed: bool  #: False: a symbol the exchange does not list (acknowledged, then silence)


def _text(msg: Mapping[str, Any], name: str) -> str | None:
    value = msg.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Refusal()
    return str(value)


def parse_subscription(msg: Mapping[str, Any], symbols: Collection[str], *, private: bool) -> Subscription:
    """Read a subscribe or unsubscribe frame sent to the public (``private=False``) or private socket.

    Raises:
        Refusal: KuCoin's refusal (``invalid request data``, or a reason naming the problem).
    """
    name = _text(msg, "channel")
    channel = _CANONICAL.get((name or "").lower())
    if channel is None:
        raise Refusal()
    if channel in _OTHER_CHANNELS:
        raise Refusal(f'topic {channel} type = "spot" not allowed in current environment', "reason")
    if (channel in PRIVATE_CHANNELS) != private:
        # one socket per kind (uta-protocol.md#endpoints): public data on the public host only
        raise Refusal(f"topic {channel} is not served on the {'private' if private else 'public'} socket")
    if private:
        return _private(channel, msg, symbols)
    return _public(channel, msg, symbols)


def _public(channel: str, msg: Mapping[str, Any], symbols: Collection[str]) -> Subscription:
    trade_type = (_text(msg, "tradeType") or "").upper()
    if trade_type == "FUTURES":
        raise Refusal(f'topic {channel} type = "public_futures" not allowed in current environment', "reason")
    if trade_type != "SPOT":
        raise Refusal()
    names: list[str]
    if "symbols" in msg:
        many = msg["symbols"]
        if channel != "ticker":
            raise Refusal(f"symbols are not supported for topic {channel}", "reason")
        if not isinstance(many, list) or not many or not all(isinstance(s, str) and s for s in many):
            raise Refusal()
        names = list(dict.fromkeys(many))
    else:
        symbol = _text(msg, "symbol")
        if not symbol:
            raise Refusal(f"missing `symbol` for topic: {channel}", "reason")
        names = [symbol]
    param = ""
    if channel == "obu":
        param = _text(msg, "depth") or ""
        if param not in DEPTHS:
            raise Refusal()
    elif channel == "kline":
        param = _text(msg, "interval") or ""
        if param not in INTERVALS:
            raise Refusal()
    keys = tuple(f"{channel}.SPOT:{s}" + (f":{param}" if param else "") for s in names)
    return Subscription(channel, keys, False, all(s in symbols for s in names))


def _private(channel: str, msg: Mapping[str, Any], symbols: Collection[str]) -> Subscription:
    if channel == "balance":
        account = (_text(msg, "accountType") or "UNIFIED").upper()
        if account not in ACCOUNT_TYPES:
            raise Refusal()
        return Subscription(channel, (f"balance.{account}",), True, True)
    trade_type = (_text(msg, "tradeType") or "UNIFIED").upper()
    if trade_type not in ("UNIFIED", "SPOT"):  # the V1 documentation's SPOT is accepted too
        raise Refusal()
    if channel == "order":
        symbol = _text(msg, "symbol")
        if not symbol:
            raise Refusal("missing `symbol` for topic: order", "reason")
        return Subscription(channel, (f"order.UNIFIED:{symbol}",), True, symbol in symbols)
    return Subscription(channel, (f"{channel}.UNIFIED",), True, True)


def parse_key(key: str) -> tuple[str, str, str]:
    """``obu.SPOT:BTC-USDT:50`` -> ``("obu", "BTC-USDT", "50")`` (the symbol and parameter may be empty)."""
    head, _, rest = key.partition(":")
    symbol, _, param = rest.partition(":")
    return head.rpartition(".")[0], symbol, param
