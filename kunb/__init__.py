"""kunb: live KuCoin market data and account updates over WebSocket, in Jupyter.

Names are imported lazily (PEP 562) so ``import kunb`` stays cheap and works on a headless machine
without pulling in pandas, ipywidgets or plotly until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Account": "kunb.account",
    "AccountBalanceData": "kunb.protocol.payloads",
    "AccountState": "kunb.account",
    "ApiError": "kunb.exceptions",
    "BalanceChange": "kunb.events",
    "BlockingWsClient": "kunb.compat.blocking",
    "BookDelta": "kunb.events",
    "BookSnapshot": "kunb.events",
    "BookState": "kunb.model.book",
    "Candle": "kunb.events",
    "ConnectWebsocket": "kunb.net.connection",
    "ConnectionState": "kunb.net.connection",
    "Credentials": "kunb.signing",
    "EventKind": "kunb.net.connection",
    "Fill": "kunb.events",
    "GetToken": "kunb.net.rest",
    "Integrity": "kunb.events",
    "KucoinWsClient": "kunb.ws_client",
    "KunbError": "kunb.exceptions",
    "LifecycleEvent": "kunb.net.connection",
    "LinkStatus": "kunb.sources.base",
    "Market": "kunb.net.rest",
    "OrderBook": "kunb.model.book",
    "OrderBookData": "kunb.protocol.payloads",
    "OrderEvent": "kunb.events",
    "OrderUpdateData": "kunb.protocol.payloads",
    "Stats": "kunb.events",
    "Stream": "kunb.stream",
    "StreamState": "kunb.stream",
    "Tick": "kunb.events",
    "TickerData": "kunb.protocol.payloads",
    "Trade": "kunb.net.rest",
    "User": "kunb.net.rest",
    "WebSocketMessage": "kunb.protocol.payloads",
    "WebSocketToken": "kunb.protocol.payloads",
    "WsToken": "kunb.net.rest",
    "dashboard": "kunb.notebook",
    "live_account": "kunb.notebook",
    "live_book": "kunb.notebook",
    "live_ticker": "kunb.notebook",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kunb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .account import Account, AccountState
    from .compat.blocking import BlockingWsClient
    from .events import (
        BalanceChange,
        BookDelta,
        BookSnapshot,
        Candle,
        Fill,
        Integrity,
        OrderEvent,
        Stats,
        Tick,
    )
    from .exceptions import ApiError, KunbError
    from .model.book import BookState, OrderBook
    from .net.connection import ConnectionState, ConnectWebsocket, EventKind, LifecycleEvent
    from .net.rest import GetToken, Market, Trade, User, WsToken
    from .notebook import dashboard, live_account, live_book, live_ticker
    from .protocol.payloads import (
        AccountBalanceData,
        OrderBookData,
        OrderUpdateData,
        TickerData,
        WebSocketMessage,
        WebSocketToken,
    )
    from .signing import Credentials
    from .sources.base import LinkStatus
    from .stream import Stream, StreamState
    from .ws_client import KucoinWsClient
