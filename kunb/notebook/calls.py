"""What every panel function does with its arguments: symbols checked and upper-cased, the symbol
catalog to look them up in, the registry key part of a protocol, the credentials of an account panel.
Shared by ``live_ticker`` (:mod:`.ticker`), ``live_book`` (:mod:`.livebook`), ``live_candles``,
``live_trades``, ``live_account`` and ``dashboard`` (:mod:`.api`), each defined next to its panel so that
a panel's first call imports only what that panel needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError
from ..protocol.symbols import symbol_list
from ..signing import Credentials
from ..sources.base import MarketSource
from .runtime import cell_key
from .source import is_simulated, market_source, resolve_url, session_credentials
from .symbols import SymbolCatalog

__all__ = ["catalog_for", "checked_symbols", "credentials_for", "market_panel_args", "protocol_key"]


def credentials_for(credentials: Credentials | None, url: str) -> Credentials:
    """The credentials given, else the embedded exchange's demo user at ``url``, else the environment's;
    a ConfigurationError saying where to put them when there are none."""
    creds = credentials or session_credentials(url) or Credentials.from_env()
    if creds is None:
        raise ConfigurationError(
            "live_account needs API credentials: pass credentials=kunb.Credentials(key, secret, passphrase), "
            "set KUCOIN_API_KEY / KUCOIN_API_SECRET / KUCOIN_API_PASSPHRASE, or start the embedded exchange "
            "with kunb.sim.start() (its demo user is used)"
        )
    return creds


def protocol_key(protocol: str) -> tuple[str, ...]:
    """A registry key part that keeps a UTA panel from replacing a classic one (classic keys unchanged)."""
    return () if protocol == "classic" else (protocol,)


def checked_symbols(symbols: str | Sequence[str]) -> list[str]:
    """The symbols a panel was given, checked (:func:`~kunb.protocol.symbols.symbol_list`: not a symbol at
    all is a ConfigurationError showing what was passed) and in upper case (what a cell meant by
    ``'btc-usdt'``)."""
    names = list(dict.fromkeys(s.upper() for s in symbol_list(symbols)))
    if not names:
        raise ConfigurationError(f"give symbols as 'BTC-USDT' or a list of such names, got {symbols!r}")
    return names


def catalog_for(source: object, url: str) -> SymbolCatalog | None:
    """Symbols are looked up at the exchange's REST API, unless the data comes from a custom source (a
    recording, a test), which has none."""
    return SymbolCatalog(url) if source is None else None


def market_panel_args(
    kind: str, key: tuple[Any, ...], url: str | None, source: MarketSource | None, protocol: str
) -> dict[str, Any]:
    """What a market panel takes from where its data comes: the exchange's URL (a custom source's own),
    whether it is the embedded exchange, its registry key (``kind``, the panel's ``key`` parts, the URL,
    the protocol), the source (``protocol`` at the URL unless one was given) and its symbol catalog."""
    resolved = source.url if source is not None else resolve_url(url)
    return {
        "url": resolved,
        "simulated": is_simulated(resolved),
        "key": cell_key(kind, *key, resolved, *protocol_key(protocol)),
        "source": source or market_source(protocol, resolved),
        "catalog": catalog_for(source, resolved),
    }
