"""kunb: live KuCoin market data and account updates over WebSocket, in Jupyter.

Names are imported lazily (PEP 562) so ``import kunb`` stays cheap and works on a headless machine
without pulling in pandas, ipywidgets or plotly until they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__  # `as`: an explicit re-export (see below)

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
    "fetch_klines": "kunb.klines",
    "klines_frame": "kunb.klines",
    "live_account": "kunb.notebook",
    "live_book": "kunb.notebook",
    "live_candles": "kunb.notebook",
    "live_ticker": "kunb.notebook",
    "live_trades": "kunb.notebook",
    "replay": "kunb.playback",
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
    # `X as X`: an explicit re-export, so type checkers (mypy --strict: no_implicit_reexport) see X
    from .account import Account as Account
    from .account import AccountState as AccountState
    from .compat.blocking import BlockingWsClient as BlockingWsClient
    from .events import BalanceChange as BalanceChange
    from .events import BookDelta as BookDelta
    from .events import BookSnapshot as BookSnapshot
    from .events import Candle as Candle
    from .events import Fill as Fill
    from .events import Integrity as Integrity
    from .events import OrderEvent as OrderEvent
    from .events import Stats as Stats
    from .events import Tick as Tick
    from .exceptions import ApiError as ApiError
    from .exceptions import KunbError as KunbError
    from .klines import fetch_klines as fetch_klines
    from .klines import klines_frame as klines_frame
    from .model.book import BookState as BookState
    from .model.book import OrderBook as OrderBook
    from .net.connection import ConnectionState as ConnectionState
    from .net.connection import ConnectWebsocket as ConnectWebsocket
    from .net.connection import EventKind as EventKind
    from .net.connection import LifecycleEvent as LifecycleEvent
    from .net.rest import GetToken as GetToken
    from .net.rest import Market as Market
    from .net.rest import Trade as Trade
    from .net.rest import User as User
    from .net.rest import WsToken as WsToken
    from .notebook import dashboard as dashboard
    from .notebook import live_account as live_account
    from .notebook import live_book as live_book
    from .notebook import live_candles as live_candles
    from .notebook import live_ticker as live_ticker
    from .notebook import live_trades as live_trades
    from .playback import replay as replay
    from .protocol.payloads import AccountBalanceData as AccountBalanceData
    from .protocol.payloads import OrderBookData as OrderBookData
    from .protocol.payloads import OrderUpdateData as OrderUpdateData
    from .protocol.payloads import TickerData as TickerData
    from .protocol.payloads import WebSocketMessage as WebSocketMessage
    from .protocol.payloads import WebSocketToken as WebSocketToken
    from .signing import Credentials as Credentials
    from .sources.base import LinkStatus as LinkStatus
    from .stream import Stream as Stream
    from .stream import StreamState as StreamState
    from .ws_client import KucoinWsClient as KucoinWsClient
