"""KuCoin's SDK module path for the REST clients: ``from kunb.client import Market, User, Trade``.

The clients live in :mod:`kunb.net.rest`; this module keeps the SDK-shaped import working.
"""

from __future__ import annotations

from .net.rest import DEFAULT_URL, GetToken, Market, Trade, User, WsToken

__all__ = ["DEFAULT_URL", "GetToken", "Market", "Trade", "User", "WsToken"]
