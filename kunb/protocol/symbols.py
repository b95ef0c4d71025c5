"""What a KuCoin symbol looks like, checked where people type them (``Stream([...])``, ``live_ticker``).

A symbol is one name such as ``BTC-USDT`` (spot) or ``XBTUSDTM`` (futures): a string without spaces and
without the separators of topics (``/``, ``:``, ``,``). Whether the exchange lists it is the exchange's to
say (an unknown symbol is refused when subscribed); this only catches what cannot be a symbol at all,
before anything connects, with an error that shows what was passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..exceptions import ConfigurationError

__all__ = ["symbol_list"]

_NOT_IN_A_SYMBOL = frozenset("/:, \t\r\n")


def symbol_list(symbols: object) -> list[str]:
    """``symbols`` (one symbol, or an iterable of them) as a list, in order, without duplicates.

    Raises:
        ConfigurationError: not a string or an iterable of strings (a number, bytes, a dict...), or a
            string that cannot be a symbol (empty, a topic, several symbols joined by commas).
    """
    if isinstance(symbols, str):
        items: list[object] = [symbols]
    elif isinstance(symbols, Iterable) and not isinstance(symbols, (bytes, bytearray, Mapping)):
        items = list(symbols)
    else:
        raise ConfigurationError(
            f"symbols must be a symbol such as 'BTC-USDT' or a list of them, not {symbols!r}"
        )
    for item in items:
        _check(item)
    return list(dict.fromkeys(items))  # type: ignore[arg-type]  # every item is a str: checked above


def _check(symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol:
        raise ConfigurationError(f"a symbol is a non-empty string such as 'BTC-USDT', not {symbol!r}")
    if "," in symbol:
        parts = [part.strip() for part in symbol.split(",")]
        raise ConfigurationError(f"{symbol!r} is several symbols in one string: pass a list, {parts!r}")
    if symbol.startswith("/"):
        raise ConfigurationError(f"{symbol!r} is a topic: pass the symbol it names, such as 'BTC-USDT'")
    if _NOT_IN_A_SYMBOL.intersection(symbol):
        raise ConfigurationError(f"{symbol!r} is not a symbol (no spaces, '/' or ':'); such as 'BTC-USDT'")
