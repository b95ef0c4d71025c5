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
    "AccountBalanceData": "kunb.payloads",
    "AccountState": "kunb.account",
    "BlockingWsClient": "kunb.blocking",
    "ApiError": "kunb.exceptions",
    "BookState": "kunb.book",
    "ConnectWebsocket": "kunb.websocket",
    "ConnectionState": "kunb.websocket",
    "Credentials": "kunb.signing",
    "EventKind": "kunb.websocket",
    "GetToken": "kunb.client",
    "KucoinWsClient": "kunb.ws_client",
    "KunbError": "kunb.exceptions",
    "LifecycleEvent": "kunb.websocket",
    "Market": "kunb.client",
    "OrderBook": "kunb.book",
    "OrderBookData": "kunb.payloads",
    "OrderUpdateData": "kunb.payloads",
    "Stream": "kunb.feed",
    "StreamState": "kunb.feed",
    "TickerData": "kunb.payloads",
    "Trade": "kunb.client",
    "User": "kunb.client",
    "WebSocketMessage": "kunb.payloads",
    "WebSocketToken": "kunb.payloads",
    "WsToken": "kunb.client",
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
    from .blocking import BlockingWsClient
    from .book import BookState, OrderBook
    from .client import GetToken, Market, Trade, User, WsToken
    from .exceptions import ApiError, KunbError
    from .feed import Stream, StreamState
    from .notebook import dashboard, live_account, live_book, live_ticker
    from .payloads import (
        AccountBalanceData,
        OrderBookData,
        OrderUpdateData,
        TickerData,
        WebSocketMessage,
        WebSocketToken,
    )
    from .signing import Credentials
    from .websocket import ConnectionState, ConnectWebsocket, EventKind, LifecycleEvent
    from .ws_client import KucoinWsClient
