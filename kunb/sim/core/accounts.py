"""Demo accounts of the embedded exchange: API keys, and a ledger of available/hold balances per currency.

Pure: no I/O, no clock. Amounts are :class:`~decimal.Decimal` throughout so balances move by exact
increments and conservation (balances + fees collected) can be checked to the last digit. Every change
returns a :class:`BalanceChange`, which becomes an ``/account/balance`` push
(``classic-protocol.md#private-channels``)
by way of :class:`kunb.sim.core.events.BalanceEvent`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from kunb.exceptions import ConfigurationError, OrderError
from kunb.signing import Credentials

__all__ = [
    "DEFAULT_BALANCES",
    "Account",
    "AccountType",
    "Accounts",
    "Balance",
    "BalanceChange",
    "Ledger",
    "User",
    "format_decimal",
    "to_decimal",
]

AccountType = str  # "main" | "trade": KuCoin's classic account types (classic-protocol.md#endpoints)
_ACCOUNT_TYPES = ("main", "trade")

#: Starting trade-account balances of a demo account: enough to trade the default symbols.
DEFAULT_BALANCES: Mapping[str, str] = {
    "USDT": "10000",
    "USDC": "10000",
    "BTC": "1",
    "ETH": "10",
    "KCS": "100",
    "SOL": "50",
    "XRP": "5000",
    "DOGE": "20000",
    "ADA": "10000",
    "LTC": "50",
}
#: Starting main-account balances (KuCoin keeps funding in ``main``; trading uses ``trade``).
_DEFAULT_MAIN_BALANCES: Mapping[str, str] = {"USDT": "1000"}
_ZERO = Decimal(0)


def to_decimal(value: object) -> Decimal:
    """An exact Decimal from a str/int/Decimal (floats are refused: they are not exact)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise ConfigurationError(f"amounts must be str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError as exc:
            raise ConfigurationError(f"not a decimal amount: {value!r}") from exc
        if not result.is_finite():
            raise ConfigurationError(f"not a finite amount: {value!r}")
        return result
    raise ConfigurationError(f"amounts must be str, int or Decimal, not {type(value).__name__}")


def format_decimal(value: Decimal) -> str:
    """KuCoin's decimal text: plain notation, no exponent, no trailing zeros (``"0.5005"``, ``"0"``)."""
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's balance: ``available`` can be spent, ``hold`` is locked by open orders."""

    available: Decimal
    hold: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.hold


@dataclass(frozen=True, slots=True)
class Account:
    """One (user, type, currency) account with its KuCoin-style id."""

    id: str
    user_id: str
    type: AccountType
    currency: str


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """One ledger movement, with the balance after it (the fields of an ``/account/balance`` push).

    ``relation_event`` is KuCoin's ``relationEvent`` (``trade.hold``, ``trade.setted``, ``main.deposit``...);
    ``context`` its ``relationContext`` (``symbol``, ``orderId`` and, on settlement, ``tradeId``).
    """

    account: Account
    available: Decimal
    hold: Decimal
    available_change: Decimal
    hold_change: Decimal
    relation_event: str
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def currency(self) -> str:
        return self.account.currency

    @property
    def total(self) -> Decimal:
        return self.available + self.hold


@dataclass(frozen=True, slots=True, repr=False)
class User:
    """A demo user: its id and API key (the key's secrets stay inside :class:`Credentials`)."""

    user_id: str
    credentials: Credentials

    def __repr__(self) -> str:
        return f"User(user_id={self.user_id!r}, credentials={self.credentials!r})"


class Ledger:
    """Available/hold balances per (user, account type, currency), and the fees the exchange collected.

    Invariants (checked by the property tests): for every currency, the sum of all balances plus
    :attr:`fees` only changes through :meth:`deposit`; ``available`` and ``hold`` never go negative.
    """

    def __init__(self, ids: Iterator[str]) -> None:
        self._ids = ids
        self._balances: dict[tuple[str, str, str], list[Decimal]] = {}
        self._accounts: dict[tuple[str, str, str], Account] = {}
        self._by_id: dict[str, Account] = {}
        #: Fees collected by the exchange, per currency.
        self.fees: dict[str, Decimal] = {}

    # -- reading -------------------------------------------------------------------------------------

    def account(self, user_id: str, currency: str, account_type: AccountType = "trade") -> Account:
        """The account, created (empty) on first use as KuCoin does when a currency is first touched."""
        if account_type not in _ACCOUNT_TYPES:
            raise ConfigurationError(f"account type must be one of {_ACCOUNT_TYPES}, not {account_type!r}")
        key = (user_id, account_type, currency)
        account = self._accounts.get(key)
        if account is None:
            account = Account(id=next(self._ids), user_id=user_id, type=account_type, currency=currency)
            self._accounts[key] = account
            self._by_id[account.id] = account
            self._balances[key] = [_ZERO, _ZERO]
        return account

    def balance(self, user_id: str, currency: str, account_type: AccountType = "trade") -> Balance:
        """The balance of one account (zero when it was never touched)."""
        values = self._balances.get((user_id, account_type, currency))
        if values is None:
            return Balance(_ZERO, _ZERO)
        return Balance(values[0], values[1])

    def by_id(self, account_id: str) -> Account | None:
        """The account with this id, or ``None``."""
        return self._by_id.get(account_id)

    def accounts_of(self, user_id: str) -> list[Account]:
        """Every account of one user, in creation order."""
        # list() snapshots in one C call (atomic under the GIL): a notebook thread may add accounts while the
        # exchange's thread reads.
        return [a for a in list(self._accounts.values()) if a.user_id == user_id]

    def totals(self) -> dict[str, Decimal]:
        """Per currency: every balance (available + hold) plus the fees collected."""
        totals: dict[str, Decimal] = dict(self.fees)
        for (_, _, currency), (available, hold) in list(self._balances.items()):
            totals[currency] = totals.get(currency, _ZERO) + available + hold
        return totals

    # -- moving --------------------------------------------------------------------------------------

    def deposit(
        self, user_id: str, currency: str, amount: Decimal, account_type: AccountType = "trade"
    ) -> BalanceChange:
        """Credit new money (funding a demo account): the only operation that changes the totals."""
        if amount < 0:
            raise ConfigurationError("a deposit cannot be negative")
        event = "main.deposit" if account_type == "main" else "trade.transfer"
        return self._move(self.account(user_id, currency, account_type), amount, _ZERO, event, {})

    def hold(self, user_id: str, currency: str, amount: Decimal, context: Mapping[str, str]) -> BalanceChange:
        """Lock ``amount`` of the trade account for an order.

        Raises:
            OrderError: 200004 ``Balance insufficient!`` when ``available`` is smaller than ``amount``.
        """
        account = self.account(user_id, currency)
        if self._balances[(user_id, "trade", currency)][0] < amount:
            raise OrderError("200004", "Balance insufficient!", 200)
        return self._move(account, -amount, amount, "trade.hold", context)

    def release(
        self, user_id: str, currency: str, amount: Decimal, context: Mapping[str, str]
    ) -> BalanceChange:
        """Give back ``amount`` of hold to available (cancel, or the unused rest of a done order)."""
        return self._move(self.account(user_id, currency), amount, -amount, "trade.hold", context)

    def settle(
        self,
        user_id: str,
        currency: str,
        *,
        from_hold: Decimal,
        credit: Decimal,
        context: Mapping[str, str],
    ) -> BalanceChange:
        """One side of a fill in one currency: take ``from_hold`` out of hold, add ``credit`` to available."""
        return self._move(self.account(user_id, currency), credit, -from_hold, "trade.setted", context)

    def collect_fee(self, currency: str, amount: Decimal) -> None:
        """Book a fee the exchange earned (its counterpart was taken from a user by :meth:`settle`)."""
        self.fees[currency] = self.fees.get(currency, _ZERO) + amount

    def _move(
        self,
        account: Account,
        available_change: Decimal,
        hold_change: Decimal,
        event: str,
        context: Mapping[str, str],
    ) -> BalanceChange:
        values = self._balances[(account.user_id, account.type, account.currency)]
        available, hold = values[0] + available_change, values[1] + hold_change
        if available < 0 or hold < 0:
            # A bug in the caller, not a user error: the order layer checks balances before moving them.
            raise AssertionError(f"{account.currency} balance would go negative ({available}, {hold})")
        values[0], values[1] = available, hold
        return BalanceChange(account, available, hold, available_change, hold_change, event, dict(context))


class Accounts:
    """The exchange's users and their ledger; the first user is the demo account.

    Ids, keys and secrets come from a seeded generator, so one seed gives the same demo credentials
    every run (handy for notebooks); pass explicit credentials to :meth:`create` to choose them. Users
    (and their accounts, one per currency touched) are only ever created by :meth:`create`, never as
    time passes, so they do not grow in a long run.
    """

    def __init__(self, *, seed: int = 0) -> None:
        self._rng = random.Random(f"kunb.sim.accounts:{seed}")
        self.ledger = Ledger(self._object_ids())
        self._users: dict[str, User] = {}
        self._by_key: dict[str, User] = {}

    def _object_ids(self) -> Iterator[str]:
        while True:
            yield self.new_id()

    def new_id(self) -> str:
        """A fresh 24-hex-digit id shaped like KuCoin's (a MongoDB ObjectId)."""
        return f"{self._rng.getrandbits(96):024x}"

    def create(
        self,
        *,
        balances: Mapping[str, object] | None = None,
        main_balances: Mapping[str, object] | None = None,
        key_version: int = 2,
        credentials: Credentials | None = None,
    ) -> User:
        """A new user with an API key and funded trade (and main) accounts.

        Args:
            balances: trade-account balances (``{"USDT": "10000"}``); default :data:`DEFAULT_BALANCES`.
            main_balances: main-account balances; default 1000 USDT.
            key_version: 1, 2 (default, as KuCoin issues keys today) or 3.
            credentials: use this key instead of generating one (its ``key`` must be new).
        """
        if credentials is None:
            credentials = Credentials(
                key=self.new_id(),
                secret=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                passphrase=f"kunb-{self._rng.getrandbits(32):08x}",
                key_version=key_version,
            )
        if not credentials.is_complete:
            raise ConfigurationError("an account's credentials need a key, secret and passphrase")
        if credentials.key in self._by_key:
            raise ConfigurationError("an account with this API key already exists")
        user = User(user_id=self.new_id(), credentials=credentials)
        self._users[user.user_id] = user
        self._by_key[credentials.key] = user
        for account_type, amounts in (
            ("trade", DEFAULT_BALANCES if balances is None else balances),
            ("main", _DEFAULT_MAIN_BALANCES if main_balances is None else main_balances),
        ):
            for currency, amount in amounts.items():
                self.ledger.deposit(user.user_id, currency, to_decimal(amount), account_type)
        return user

    def by_key(self, key: str) -> User | None:
        """The user owning this API key, or ``None``."""
        return self._by_key.get(key)

    def get(self, user_id: str) -> User | None:
        """The user with this id, or ``None``."""
        return self._users.get(user_id)

    def __iter__(self) -> Iterator[User]:
        return iter(list(self._users.values()))

    def __len__(self) -> int:
        return len(self._users)
