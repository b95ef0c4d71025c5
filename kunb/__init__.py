"""kunb: live KuCoin market data and account updates over WebSocket, in Jupyter.

Names are imported lazily (PEP 562) so ``import kunb`` stays cheap and works on a headless machine
without pulling in pandas, ipywidgets or plotly until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Account": "kunb.account",
    "AccountBalanceData": "kunb.protocol.payloads",
    "AccountState": "kunb.account",
    "BlockingWsClient": "kunb.compat.blocking",
    "ApiError": "kunb.exceptions",
    "BookState": "kunb.model.book",
    "ConnectWebsocket": "kunb.net.connection",
    "ConnectionState": "kunb.net.connection",
    "Credentials": "kunb.signing",
    "EventKind": "kunb.net.connection",
    "GetToken": "kunb.net.rest",
    "KucoinWsClient": "kunb.ws_client",
    "KunbError": "kunb.exceptions",
    "LifecycleEvent": "kunb.net.connection",
    "Market": "kunb.net.rest",
    "OrderBook": "kunb.model.book",
    "OrderBookData": "kunb.protocol.payloads",
    "OrderUpdateData": "kunb.protocol.payloads",
    "Stream": "kunb.stream",
    "StreamState": "kunb.stream",
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
    from .stream import Stream, StreamState
    from .ws_client import KucoinWsClient
