"""The UTA REST calls kunb makes: the V1 private token, the signed order book, and the unified account.

Paths are the ones ccxt 4.5's ``kucoin.py`` calls in its UTA mode (``uta-kunb.md#uta-rest``): the
``utaPrivate`` API is ``/api/ua/v1/`` plus the path, ``{accountMode}`` filled with ``unified``. Every call
is signed like any private classic call (key version 2), blocking and ``a``-prefixed awaitable twins over
one request builder, as in :mod:`kunb.net.rest`. Results are KuCoin's ``data`` as on the wire.
"""

from __future__ import annotations

from typing import Any

from .rest import _Call, _get, _RestClient

__all__ = ["UtaRest"]

_ORDER_PAGE = 200  # ccxt's maxLimit for the UTA order lists


class UtaRest(_RestClient):
    """UTA REST endpoints (see the module docstring); credentials as for :class:`kunb.net.rest.User`."""

    # -- uta-protocol.md#private-authentication (V1) ------------------------------------------------------
    def bullet_private(self) -> Any:
        """The V1 private socket token ``{"token": ...}`` (``POST /api/v2/bullet-private``, empty body)."""
        return self._send(self._bullet_private_call())

    async def abullet_private(self) -> Any:
        """Awaitable form of :meth:`bullet_private`."""
        return await self._asend(self._bullet_private_call())

    def _bullet_private_call(self) -> _Call:
        # a one-off connection, as for classic tokens: the socket layer asks from a background task
        return _Call("POST", "/api/v2/bullet-private", None, signed=True, pooled=False)

    # -- uta-protocol.md#order-book-sync: the snapshot of the deprecated ``increment`` depth ---------------
    def get_orderbook(
        self, symbol: str, limit: str = "FULL", trade_type: str = "SPOT", version: int = 1
    ) -> Any:
        """``{"tradeType", "symbol", "sequence", "bids", "asks"}`` (signed ``GET
        /api/ua/v{1,2}/market/orderbook``; ``limit`` ``FULL``, ``20`` or ``100``)."""
        return self._send(self._get_orderbook_call(symbol, limit, trade_type, version))

    async def aget_orderbook(
        self, symbol: str, limit: str = "FULL", trade_type: str = "SPOT", version: int = 1
    ) -> Any:
        """Awaitable form of :meth:`get_orderbook`."""
        return await self._asend(self._get_orderbook_call(symbol, limit, trade_type, version))

    def _get_orderbook_call(self, symbol: str, limit: str, trade_type: str, version: int) -> _Call:
        return _get(
            f"/api/ua/v{version}/market/orderbook", True, symbol=symbol, tradeType=trade_type, limit=limit
        )

    # -- the unified account (ccxt fetch_uta_balance, fetch_uta_orders_by_status, fetch_uta_order) ---------
    def get_account_balance(self, account_mode: str = "unified") -> Any:
        """``{"accountType", "ts", "accounts": [{"currencies": [{currency, balance, available, hold...}]}]}``
        (``GET /api/ua/v1/{accountMode}/account/balance``)."""
        return self._send(self._get_account_balance_call(account_mode))

    async def aget_account_balance(self, account_mode: str = "unified") -> Any:
        """Awaitable form of :meth:`get_account_balance`."""
        return await self._asend(self._get_account_balance_call(account_mode))

    def _get_account_balance_call(self, account_mode: str) -> _Call:
        return _get(f"/api/ua/v1/{account_mode}/account/balance", True)

    def get_open_orders(
        self,
        symbol: str | None = None,
        trade_type: str = "SPOT",
        page: int = 1,
        page_size: int = _ORDER_PAGE,
        account_mode: str = "unified",
    ) -> Any:
        """A page of active orders ``{"pageNumber", "totalPage", "items": [...]}`` (``GET
        /api/ua/v1/{accountMode}/order/open-list``; ccxt always names a spot symbol)."""
        return self._send(self._get_open_orders_call(symbol, trade_type, page, page_size, account_mode))

    async def aget_open_orders(
        self,
        symbol: str | None = None,
        trade_type: str = "SPOT",
        page: int = 1,
        page_size: int = _ORDER_PAGE,
        account_mode: str = "unified",
    ) -> Any:
        """Awaitable form of :meth:`get_open_orders`."""
        return await self._asend(
            self._get_open_orders_call(symbol, trade_type, page, page_size, account_mode)
        )

    def _get_open_orders_call(
        self, symbol: str | None, trade_type: str, page: int, page_size: int, account_mode: str
    ) -> _Call:
        return _get(
            f"/api/ua/v1/{account_mode}/order/open-list",
            True,
            symbol=symbol,
            tradeType=trade_type,
            pageNumber=page,
            pageSize=page_size,
        )

    def get_order_history(
        self,
        symbol: str | None = None,
        trade_type: str = "SPOT",
        start_at: int | None = None,
        page: int = 1,
        page_size: int = _ORDER_PAGE,
        account_mode: str = "unified",
    ) -> Any:
        """A page of finished orders since ``start_at`` (ms)
        (``GET /api/ua/v1/{accountMode}/order/history``)."""
        return self._send(
            self._get_order_history_call(symbol, trade_type, start_at, page, page_size, account_mode)
        )

    async def aget_order_history(
        self,
        symbol: str | None = None,
        trade_type: str = "SPOT",
        start_at: int | None = None,
        page: int = 1,
        page_size: int = _ORDER_PAGE,
        account_mode: str = "unified",
    ) -> Any:
        """Awaitable form of :meth:`get_order_history`."""
        return await self._asend(
            self._get_order_history_call(symbol, trade_type, start_at, page, page_size, account_mode)
        )

    def _get_order_history_call(
        self,
        symbol: str | None,
        trade_type: str,
        start_at: int | None,
        page: int,
        page_size: int,
        account_mode: str,
    ) -> _Call:
        return _get(
            f"/api/ua/v1/{account_mode}/order/history",
            True,
            symbol=symbol,
            tradeType=trade_type,
            startAt=start_at,
            pageNumber=page,
            pageSize=page_size,
        )

    def get_order_detail(
        self, order_id: str, symbol: str, trade_type: str = "SPOT", account_mode: str = "unified"
    ) -> Any:
        """One order (``GET /api/ua/v1/{accountMode}/order/detail?orderId=&symbol=&tradeType=``; the
        symbol is required)."""
        return self._send(self._get_order_detail_call(order_id, symbol, trade_type, account_mode))

    async def aget_order_detail(
        self, order_id: str, symbol: str, trade_type: str = "SPOT", account_mode: str = "unified"
    ) -> Any:
        """Awaitable form of :meth:`get_order_detail`."""
        return await self._asend(self._get_order_detail_call(order_id, symbol, trade_type, account_mode))

    def _get_order_detail_call(self, order_id: str, symbol: str, trade_type: str, account_mode: str) -> _Call:
        return _get(
            f"/api/ua/v1/{account_mode}/order/detail",
            True,
            orderId=order_id,
            symbol=symbol,
            tradeType=trade_type,
        )
