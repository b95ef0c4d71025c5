"""The simulator's symbol catalogue: realistic KuCoin spot pairs, their increments, integer <-> wire."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from kunb.exceptions import ConfigurationError

__all__ = ["DEFAULT_SYMBOLS", "SymbolSpec", "catalogue", "format_units"]


def format_units(units: int, decimals: int) -> str:
    """``units * 10**-decimals`` as KuCoin prints decimals: no exponent, no trailing zeros (``"0.5"``)."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    whole, frac = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def _decimals(increment: str) -> int:
    exp = Decimal(increment).normalize().as_tuple().exponent
    return max(0, -int(exp))


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One spot pair. Prices are integer ticks of ``price_increment``; sizes are lots of ``base_increment``.

    Notional ("funds") units are ``ticks * lots``, i.e. multiples of ``price_increment * base_increment``.
    """

    symbol: str
    base: str
    quote: str
    price_increment: str
    base_increment: str
    quote_increment: str
    base_min_size: str
    quote_min_size: str
    initial_price: str
    market: str = "USDS"
    events_per_second: float = 10.0  # book changes per second the market model aims at

    @property
    def price_decimals(self) -> int:
        return _decimals(self.price_increment)

    @property
    def size_decimals(self) -> int:
        return _decimals(self.base_increment)

    @property
    def tick_digits(self) -> int:
        return int(Decimal(self.price_increment).scaleb(self.price_decimals))

    @property
    def lot_digits(self) -> int:
        return int(Decimal(self.base_increment).scaleb(self.size_decimals))

    def price_str(self, ticks: int) -> str:
        return format_units(ticks * self.tick_digits, self.price_decimals)

    def size_str(self, lots: int) -> str:
        return format_units(lots * self.lot_digits, self.size_decimals)

    def funds_str(self, notional: int) -> str:
        """Notional units (ticks * lots) as a quote-currency decimal string."""
        return format_units(
            notional * self.tick_digits * self.lot_digits, self.price_decimals + self.size_decimals
        )

    def to_ticks(self, price: str | Decimal) -> int:
        """Exact price -> ticks; raises ConfigurationError if not a positive multiple of the increment."""
        return self._exact(price, self.price_increment, "price")

    def to_lots(self, size: str | Decimal) -> int:
        """Exact size -> lots; raises ConfigurationError if not a positive multiple of the increment."""
        return self._exact(size, self.base_increment, "size")

    def to_notional(self, funds: str | Decimal) -> int:
        """Quote funds -> notional units, rounded down to the representable amount."""
        unit = Decimal(self.price_increment) * Decimal(self.base_increment)
        return int(Decimal(funds) / unit)

    @staticmethod
    def _exact(value: str | Decimal, increment: str, what: str) -> int:
        try:
            q = Decimal(value) / Decimal(increment)
        except ArithmeticError as exc:
            raise ConfigurationError(f"{what} {value!r} is not a decimal") from exc
        if q != q.to_integral_value() or q <= 0:
            raise ConfigurationError(f"{what} {value} is not a positive multiple of {increment}")
        return int(q)


def _spec(
    symbol: str,
    price: str,
    price_inc: str,
    base_inc: str,
    base_min: str,
    *,
    market: str = "USDS",
    eps: float = 10,
) -> SymbolSpec:
    base, quote = symbol.split("-")
    quote_inc = {"USDT": "0.000001", "USDC": "0.000001", "BTC": "0.00000001", "ETH": "0.0000001"}.get(
        quote, "0.000001"
    )
    quote_min = {"USDT": "0.1", "USDC": "0.1", "BTC": "0.00001", "ETH": "0.0001"}.get(quote, "0.1")
    return SymbolSpec(
        symbol, base, quote, price_inc, base_inc, quote_inc, base_min, quote_min, price, market, eps
    )


# name, price, priceIncrement, baseIncrement, baseMinSize: realistic 2024-2025 values for KuCoin spot.
DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    _spec("BTC-USDT", "67250.1", "0.1", "0.00000001", "0.00001", eps=25),
    _spec("ETH-USDT", "3456.78", "0.01", "0.0000001", "0.0001", eps=20),
    _spec("SOL-USDT", "152.345", "0.001", "0.0001", "0.01", eps=15),
    _spec("XRP-USDT", "0.5234", "0.0001", "0.0001", "0.1", eps=12),
    _spec("ADA-USDT", "0.3521", "0.0001", "0.0001", "1", eps=8),
    _spec("KCS-USDT", "9.876", "0.001", "0.0001", "0.01", eps=8),
    _spec("DOGE-USDT", "0.12345", "0.00001", "0.0001", "10", eps=10),
    _spec("TRX-USDT", "0.16234", "0.00001", "0.0001", "10", eps=6),
    _spec("DOT-USDT", "5.123", "0.001", "0.0001", "0.1", eps=6),
    _spec("LINK-USDT", "11.234", "0.001", "0.0001", "0.1", eps=6),
    _spec("AVAX-USDT", "27.45", "0.01", "0.0001", "0.01", eps=6),
    _spec("LTC-USDT", "71.23", "0.01", "0.000001", "0.001", eps=6),
    _spec("BCH-USDT", "356.7", "0.1", "0.00001", "0.0001", eps=5),
    _spec("TON-USDT", "5.2345", "0.0001", "0.0001", "0.1", eps=6),
    _spec("SHIB-USDT", "0.00001723", "0.00000001", "1", "10000", eps=6),
    _spec("PEPE-USDT", "0.000009876", "0.000000001", "1", "100000", eps=8),
    _spec("NEAR-USDT", "4.567", "0.001", "0.0001", "0.1", eps=5),
    _spec("ATOM-USDT", "6.789", "0.001", "0.0001", "0.1", eps=5),
    _spec("UNI-USDT", "7.891", "0.001", "0.0001", "0.1", eps=4),
    _spec("XLM-USDT", "0.09876", "0.00001", "0.0001", "1", eps=4),
    _spec("FIL-USDT", "3.789", "0.001", "0.0001", "0.1", eps=4),
    _spec("APT-USDT", "6.543", "0.001", "0.0001", "0.1", eps=4),
    _spec("ARB-USDT", "0.6789", "0.0001", "0.0001", "1", eps=4),
    _spec("OP-USDT", "1.5678", "0.0001", "0.0001", "0.1", eps=4),
    _spec("SUI-USDT", "1.2345", "0.0001", "0.0001", "0.1", eps=5),
    _spec("BTC-USDC", "67248.9", "0.1", "0.00000001", "0.00001", eps=8),
    _spec("ETH-USDC", "3456.12", "0.01", "0.0000001", "0.0001", eps=6),
    _spec("ETH-BTC", "0.05141", "0.00001", "0.0000001", "0.0001", market="BTC", eps=6),
    _spec("SOL-BTC", "0.002265", "0.000001", "0.0001", "0.01", market="BTC", eps=4),
    _spec("KCS-BTC", "0.0001468", "0.0000001", "0.0001", "0.01", market="BTC", eps=3),
    _spec("XRP-BTC", "0.00000778", "0.00000001", "0.1", "1", market="BTC", eps=3),
    _spec("LINK-ETH", "0.003249", "0.000001", "0.0001", "0.1", market="ALTS", eps=3),
)

_BY_NAME = {s.symbol: s for s in DEFAULT_SYMBOLS}


def _synthetic(n: int, seed: int) -> list[SymbolSpec]:
    """``n`` made-up but well-formed pairs (``AAB-USDT``...), prices spread over 1e-5..1e4."""
    rng = random.Random(f"kunb.sim.symbols:{seed}")
    out: list[SymbolSpec] = []
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    i = 0
    while len(out) < n:
        name = "".join(letters[(i // 26**k) % 26] for k in (2, 1, 0)) + "X"
        i += 1
        if f"{name}-USDT" in _BY_NAME:  # e.g. AVAX: never shadow a real pair
            continue
        decimals = rng.randint(0, 8)  # price ~ 10**(4 - decimals)
        price_inc = format_units(1, decimals) if decimals else "1"
        price = format_units(rng.randint(10**4, 10**5 - 1), decimals) if decimals else "1234"
        base_inc = format_units(1, min(8, max(0, 8 - decimals)))
        out.append(_spec(f"{name}-USDT", price, price_inc, base_inc, base_inc, market="ALTS", eps=1.0))
    return out


def catalogue(symbols: int | list[str] | tuple[str, ...] | None = None, *, seed: int = 0) -> list[SymbolSpec]:
    """Resolve the ``symbols`` argument of :class:`kunb.sim.Exchange`.

    ``None``: the default realistic pairs. A list of names: those (known names keep their real
    increments; unknown ``BASE-QUOTE`` names get generic ones). An int ``n``: the defaults, then
    synthesised names until there are ``n`` pairs (KuCoin's ``ticker:all`` covers about 1,500).
    """
    if symbols is None:
        return list(DEFAULT_SYMBOLS)
    if isinstance(symbols, int):
        if symbols < 1:
            raise ConfigurationError("symbols must be >= 1")
        out = list(DEFAULT_SYMBOLS[:symbols])
        return out + _synthetic(symbols - len(out), seed)
    out = []
    for name in symbols:
        name = name.strip().upper()
        if name in _BY_NAME:
            out.append(_BY_NAME[name])
            continue
        parts = name.split("-")
        if len(parts) != 2 or not all(p.isalnum() for p in parts):
            raise ConfigurationError(f"symbol {name!r} is not BASE-QUOTE")
        out.append(_spec(name, "1.2345", "0.0001", "0.0001", "0.1", market="ALTS", eps=5))
    if len({s.symbol for s in out}) != len(out):
        raise ConfigurationError("duplicate symbols")
    return out
