"""Order-level limit order book of one symbol: price-time priority matching, L2 aggregation, sequences.

Pure: no I/O, no clock. Prices and sizes are integers (price ticks and base lots of the symbol's
increments, see :class:`kunb.sim.core.symbols.SymbolSpec`) so matching is exact and fast; conversion to
KuCoin's decimal strings happens only at the wire.

API (used by the market model and by the trading layer for user orders)::

    book = OrderBook("BTC-USDT", start_sequence=1_000, ids=my_id_factory)
    r = book.add_limit(Side.BUY, price=670_000, size=10_000, owner="user-1")   # -> OrderResult
    r.fills        # tuple[Fill, ...] against resting orders, in execution order
    r.resting      # the Order left on the book (None when fully filled, IOC/FOK, post-only reject)
    r.canceled     # lots not filled and not rested (IOC/FOK remainder, post-only reject)
    book.add_market(Side.SELL, size=5_000, owner="user-1")          # by size (lots)
    book.add_market(Side.BUY, funds=670_000 * 5_000, owner=None)    # by funds (notional units)
    book.cancel(order_id)              # -> the removed Order, or None
    book.reduce(order_id, new_size)    # change a resting order's size in place (keeps priority)
    book.best_bid(), book.best_ask()   # (price, aggregated size) or None
    book.depth(Side.BUY, 20)           # [(price, size), ...] best first
    book.sequence                      # last sequence consumed; REST snapshots carry it
    book.drain()                       # -> L2Delta | None: the changes since the last drain

Notional ("funds") units are ``price_ticks * lots``; :class:`SymbolSpec` converts them to quote currency.

Sequences (classic-protocol.md#order-book-sync, "Simulator invariants"): every change of a level's aggregated
size consumes exactly one sequence number and is recorded; :meth:`OrderBook.drain` returns the range
``[start, end]`` of every sequence consumed since the previous drain, with one row per touched price
carrying the sequence of its last change (KuCoin pushes only the latest row per price). Consecutive
drains are therefore contiguous. :meth:`OrderBook.bump` consumes a sequence without changing any
level, like KuCoin's ``["0", "0", seq]`` rows that clients must skip.

Fills carry the maker's and taker's order ids and owners (``None`` = the synthetic market maker), so
the trading layer can settle balances and notify users whose resting orders are hit by synthetic flow.
"""

from __future__ import annotations

import enum
import itertools
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedDict

from kunb.exceptions import ConfigurationError

__all__ = [
    "Change",
    "Fill",
    "L2Delta",
    "Order",
    "OrderBook",
    "OrderResult",
    "Side",
    "TimeInForce",
]


class Side(enum.StrEnum):
    """Order side; the value is KuCoin's wire word."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(enum.StrEnum):
    """Limit order time in force (KuCoin's words). GTT is treated as GTC by the book."""

    GTC = "GTC"
    GTT = "GTT"
    IOC = "IOC"
    FOK = "FOK"


@dataclass(slots=True, eq=False)
class Order:
    """A resting (or just processed) order. ``size`` is what remains; ``owner`` None = market maker."""

    order_id: str
    side: Side
    price: int
    size: int
    owner: str | None = None
    original_size: int = 0
    priority: int = 0  # book sequence when it started resting (time priority)

    def __post_init__(self) -> None:
        if not self.original_size:
            self.original_size = self.size


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution between a taker and a resting maker order, at the maker's price.

    ``sequence`` is the book sequence consumed by the maker level's change; it doubles as the
    trade id and the match push's ``sequence`` (KuCoin's example shows them equal).
    """

    sequence: int
    price: int
    size: int
    taker_side: Side
    taker_order_id: str
    taker_owner: str | None
    maker_order_id: str
    maker_owner: str | None
    maker_remaining: int

    @property
    def notional(self) -> int:
        return self.price * self.size


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What happened to one incoming order."""

    order_id: str
    side: Side
    owner: str | None
    fills: tuple[Fill, ...]
    resting: Order | None
    canceled: int  # lots neither filled nor rested (IOC/FOK/market remainder, post-only reject)
    funds_left: int | None = None  # market-by-funds: notional units not spent
    rejected: bool = False  # post-only that would have taken, or FOK that could not fill

    @property
    def filled(self) -> int:
        return sum(f.size for f in self.fills)


@dataclass(frozen=True, slots=True)
class Change:
    """One level row of an L2 delta: the level's new aggregated size (0 = removed) and its sequence."""

    side: Side
    price: int
    size: int
    sequence: int


@dataclass(frozen=True, slots=True)
class L2Delta:
    """All changes over ``[start, end]``; rows are the latest per price, ``bumps`` are level-less seqs."""

    start: int
    end: int
    bids: tuple[Change, ...]
    asks: tuple[Change, ...]
    bumps: tuple[int, ...] = ()


@dataclass(slots=True)
class _Level:
    orders: deque[Order] = field(default_factory=deque)
    total: int = 0


def _counter_ids(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):016x}"


class OrderBook:
    """One symbol's book. See the module docstring for the API and the sequence rules."""

    def __init__(
        self,
        symbol: str,
        *,
        start_sequence: int = 0,
        ids: Callable[[], str] | None = None,
    ) -> None:
        self.symbol = symbol
        self.sequence = start_sequence
        self._ids = ids or _counter_ids(format(zlib.crc32(symbol.encode()), "08x"))
        self._bids: SortedDict[int, _Level] = SortedDict()  # price -> _Level; best = last
        self._asks: SortedDict[int, _Level] = SortedDict()  # price -> _Level; best = first
        self._orders: dict[str, Order] = {}
        self._pending: dict[tuple[Side, int], Change] = {}
        self._bumps: list[int] = []
        self._drained_to = start_sequence

    # ------------------------------------------------------------------ queries
    def __contains__(self, order_id: str) -> bool:
        return order_id in self._orders

    def order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def orders(self) -> Iterator[Order]:
        """Iterate every resting order (in placement order)."""
        return iter(list(self._orders.values()))

    def orders_of(self, owner: str | None) -> list[Order]:
        """Resting orders of ``owner`` (None = the synthetic market maker)."""
        return [o for o in self._orders.values() if o.owner == owner]

    def __len__(self) -> int:
        return len(self._orders)

    def best_bid(self) -> tuple[int, int] | None:
        if not self._bids:
            return None
        price, level = self._bids.peekitem(-1)
        return price, level.total

    def best_ask(self) -> tuple[int, int] | None:
        if not self._asks:
            return None
        price, level = self._asks.peekitem(0)
        return price, level.total

    def level_size(self, side: Side, price: int) -> int:
        level = self._side(side).get(price)
        return level.total if level else 0

    def level_count(self, side: Side) -> int:
        return len(self._side(side))

    def depth(self, side: Side, limit: int | None = None) -> list[tuple[int, int]]:
        """Aggregated levels, best first: bids high->low, asks low->high."""
        book = self._side(side)
        keys = reversed(book.keys()) if side is Side.BUY else iter(book.keys())
        out: list[tuple[int, int]] = []
        for price in keys:
            if limit is not None and len(out) >= limit:
                break
            out.append((price, book[price].total))
        return out

    def level_orders(self, side: Side, price: int) -> tuple[Order, ...]:
        """The FIFO queue at one price (first = next to fill)."""
        level = self._side(side).get(price)
        return tuple(level.orders) if level else ()

    # ------------------------------------------------------------------ orders
    def add_limit(
        self,
        side: Side,
        price: int,
        size: int,
        *,
        owner: str | None = None,
        order_id: str | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
    ) -> OrderResult:
        """Match a limit order against the opposite side, then rest the remainder (GTC/GTT)."""
        if price <= 0 or size <= 0:
            raise ConfigurationError(f"limit order needs positive price and size, got {price}, {size}")
        oid = order_id or self._ids()
        if post_only and self._crosses(side, price):
            return OrderResult(oid, side, owner, (), None, size, rejected=True)
        if time_in_force is TimeInForce.FOK and self._available(side, price) < size:
            return OrderResult(oid, side, owner, (), None, size, rejected=True)
        fills, left, _ = self._match(side, oid, owner, size=size, limit=price, funds=None)
        resting = None
        canceled = 0
        if left:
            if time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                canceled = left
            else:
                resting = self._rest(Order(oid, side, price, left, owner, original_size=size))
        return OrderResult(oid, side, owner, tuple(fills), resting, canceled)

    def add_market(
        self,
        side: Side,
        *,
        size: int | None = None,
        funds: int | None = None,
        owner: str | None = None,
        order_id: str | None = None,
    ) -> OrderResult:
        """Take liquidity by ``size`` (lots) or by ``funds`` (notional units); the rest is canceled."""
        if (size is None) == (funds is None):
            raise ConfigurationError("market order needs exactly one of size or funds")
        if (size is not None and size <= 0) or (funds is not None and funds <= 0):
            raise ConfigurationError("market order size/funds must be positive")
        oid = order_id or self._ids()
        fills, left, funds_left = self._match(side, oid, owner, size=size, limit=None, funds=funds)
        return OrderResult(oid, side, owner, tuple(fills), None, left or 0, funds_left=funds_left)

    def cancel(self, order_id: str) -> Order | None:
        """Remove a resting order; returns it (with its remaining size) or None if unknown."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        book = self._side(order.side)
        level = book[order.price]
        level.orders.remove(order)
        level.total -= order.size
        if not level.orders:
            del book[order.price]
        self._record(order.side, order.price, level.total)
        return order

    def reduce(self, order_id: str, new_size: int) -> Order | None:
        """Shrink a resting order in place (keeps its time priority); ``new_size`` 0 cancels it."""
        order = self._orders.get(order_id)
        if order is None or new_size >= order.size or new_size < 0:
            return None if order is None or new_size < 0 else order
        if new_size == 0:
            return self.cancel(order_id)
        level = self._side(order.side)[order.price]
        level.total -= order.size - new_size
        order.size = new_size
        self._record(order.side, order.price, level.total)
        return order

    def set_maker_liquidity(self, side: Side, price: int, size: int) -> bool:
        """Set the synthetic market maker's total size at one price in a single change (firehose path).

        Resizes the market maker's last order at that price (or adds one, or removes them all for
        ``size`` 0); user orders there are untouched. Consumes exactly one sequence, except for removing
        a level that does not exist (returns False). The caller keeps the book uncrossed (bids below the
        best ask, asks above the best bid).
        """
        if size < 0:
            raise ConfigurationError("size must be >= 0")
        book = self._side(side)
        level = book.get(price)
        if level is None:
            if size == 0:
                return False
            self._rest(Order(self._ids(), side, price, size))
            return True
        makers = [o for o in level.orders if o.owner is None]
        if size == 0:
            for o in makers:
                level.orders.remove(o)
                level.total -= o.size
                del self._orders[o.order_id]
            if not level.orders:
                del book[price]
        else:
            for o in makers[:-1]:  # keep one maker order, with the whole size
                level.orders.remove(o)
                level.total -= o.size
                del self._orders[o.order_id]
            if makers:
                keep = makers[-1]
                level.total += size - keep.size
                keep.size = size
            else:
                order = Order(self._ids(), side, price, size)
                level.orders.append(order)
                level.total += size
                self._orders[order.order_id] = order
        self._record(side, price, level.total if price in book else 0)
        return True

    def bump(self) -> int:
        """Consume one sequence without changing a level (KuCoin's ``["0","0",seq]`` rows)."""
        self.sequence += 1
        self._bumps.append(self.sequence)
        return self.sequence

    # ------------------------------------------------------------------ L2 delta stream
    def drain(self) -> L2Delta | None:
        """Changes since the previous drain as one contiguous range, or None when nothing changed."""
        if self.sequence == self._drained_to:
            return None
        bids = tuple(c for c in self._pending.values() if c.side is Side.BUY)
        asks = tuple(c for c in self._pending.values() if c.side is Side.SELL)
        delta = L2Delta(self._drained_to + 1, self.sequence, bids, asks, tuple(self._bumps))
        self._pending.clear()
        self._bumps.clear()
        self._drained_to = self.sequence
        return delta

    @property
    def undrained(self) -> bool:
        return self.sequence != self._drained_to

    # ------------------------------------------------------------------ internals
    def _side(self, side: Side) -> SortedDict[int, _Level]:
        return self._bids if side is Side.BUY else self._asks

    def _record(self, side: Side, price: int, total: int) -> int:
        self.sequence += 1
        self._pending[(side, price)] = Change(side, price, total, self.sequence)
        return self.sequence

    def _rest(self, order: Order) -> Order:
        book = self._side(order.side)
        level = book.get(order.price)
        if level is None:
            level = book[order.price] = _Level()
        level.orders.append(order)
        level.total += order.size
        self._orders[order.order_id] = order
        order.priority = self._record(order.side, order.price, level.total)
        return order

    def _crosses(self, side: Side, price: int) -> bool:
        if side is Side.BUY:
            best = self.best_ask()
            return best is not None and best[0] <= price
        best = self.best_bid()
        return best is not None and best[0] >= price

    def _available(self, side: Side, limit: int) -> int:
        total = 0
        for price, size in self.depth(side.opposite):
            if (side is Side.BUY and price > limit) or (side is Side.SELL and price < limit):
                break
            total += size
        return total

    def _match(
        self,
        side: Side,
        taker_id: str,
        owner: str | None,
        *,
        size: int | None,
        limit: int | None,
        funds: int | None,
    ) -> tuple[list[Fill], int | None, int | None]:
        """Walk the opposite side best-first; returns fills, lots left (size mode), funds left."""
        book = self._asks if side is Side.BUY else self._bids
        fills: list[Fill] = []
        while book and (size is None or size > 0) and (funds is None or funds > 0):
            price, level = book.peekitem(0 if side is Side.BUY else -1)
            if limit is not None and (price > limit if side is Side.BUY else price < limit):
                break
            want = size if size is not None else funds // price if funds is not None else 0
            if want <= 0:
                break
            maker = level.orders[0]
            qty = min(want, maker.size)
            maker.size -= qty
            level.total -= qty
            if maker.size == 0:
                level.orders.popleft()
                del self._orders[maker.order_id]
            if not level.orders:
                del book[price]
            seq = self._record(side.opposite, price, level.total)
            fills.append(
                Fill(seq, price, qty, side, taker_id, owner, maker.order_id, maker.owner, maker.size)
            )
            if size is not None:
                size -= qty
            if funds is not None:
                funds -= qty * price
        return fills, size, funds
