"""Demo accounts and the ledger: keys, starting balances, hold/settle/release, conservation."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from kunb.exceptions import ConfigurationError, OrderError
from kunb.signing import Credentials
from kunb.sim.core.accounts import DEFAULT_BALANCES, Accounts, format_decimal, to_decimal

CTX = {"symbol": "BTC-USDT", "orderId": "o1"}


def test_demo_account_has_a_v2_key_and_default_balances() -> None:
    """A created account gets a complete v2 key, a 24-hex user id, and the default trade balances."""
    accounts = Accounts(seed=7)
    user = accounts.create()
    creds = user.credentials
    assert creds.is_complete and creds.key_version == 2
    assert len(user.user_id) == 24 and int(user.user_id, 16) >= 0
    for currency, amount in DEFAULT_BALANCES.items():
        assert accounts.ledger.balance(user.user_id, currency).available == Decimal(amount)
    assert accounts.ledger.balance(user.user_id, "USDT", "main").available > 0
    assert accounts.by_key(creds.key) is user
    assert accounts.get(user.user_id) is user


def test_same_seed_same_credentials_other_seed_other_credentials() -> None:
    """Credentials are reproducible for one seed and differ across seeds."""
    a, b, c = (Accounts(seed=s).create().credentials for s in (1, 1, 2))
    assert (a.key, a.secret, a.passphrase) == (b.key, b.secret, b.passphrase)
    assert a.key != c.key and a.secret != c.secret


def test_more_accounts_with_versions_and_chosen_credentials() -> None:
    """Accounts can be added in-process with key version 1 or 3, or with chosen credentials."""
    accounts = Accounts()
    v1 = accounts.create(key_version=1)
    v3 = accounts.create(key_version=3, balances={"USDT": "5"})
    chosen = accounts.create(credentials=Credentials("my-key", "my-secret", "my-pass"))
    assert v1.credentials.key_version == 1 and v3.credentials.key_version == 3
    assert accounts.ledger.balance(v3.user_id, "USDT").available == Decimal(5)
    assert accounts.ledger.balance(v3.user_id, "BTC").available == 0
    assert accounts.by_key("my-key") is chosen and len(accounts) == 3
    with pytest.raises(ConfigurationError):
        accounts.create(credentials=Credentials("my-key", "x", "y"))
    with pytest.raises(ConfigurationError):
        accounts.create(credentials=Credentials("k2", "", "y"))


def test_secrets_stay_out_of_reprs_and_pickles() -> None:
    """A user's repr shows neither secret nor passphrase, and a pickled key cannot sign."""
    user = Accounts(seed=3).create()
    text = repr(user)
    assert user.user_id in text
    for secret in (user.credentials.key, user.credentials.secret, user.credentials.passphrase):
        assert secret not in text
    assert not pickle.loads(pickle.dumps(user.credentials)).is_complete


def test_hold_settle_release_move_money_and_report_changes() -> None:
    """hold moves available to hold, settle takes from hold and credits, release gives back."""
    accounts = Accounts()
    user = accounts.create(balances={"USDT": "100", "BTC": "0"})
    ledger, uid = accounts.ledger, user.user_id
    change = ledger.hold(uid, "USDT", Decimal("50.05"), CTX)
    assert (change.available, change.hold, change.available_change, change.hold_change) == (
        Decimal("49.95"),
        Decimal("50.05"),
        Decimal("-50.05"),
        Decimal("50.05"),
    )
    assert change.relation_event == "trade.hold" and change.context == CTX
    paid = ledger.settle(uid, "USDT", from_hold=Decimal("25.025"), credit=Decimal(0), context=CTX)
    got = ledger.settle(uid, "BTC", from_hold=Decimal(0), credit=Decimal("0.0005"), context=CTX)
    ledger.collect_fee("USDT", Decimal("0.025"))
    assert paid.relation_event == got.relation_event == "trade.setted"
    assert (paid.hold, got.available) == (Decimal("25.025"), Decimal("0.0005"))
    back = ledger.release(uid, "USDT", Decimal("25.025"), CTX)
    assert (back.available, back.hold, back.total) == (Decimal("74.975"), 0, Decimal("74.975"))
    # 100 USDT went to 74.975 (user) + 0.025 (fees) + 25 (paid to the counterparty, not in this ledger)
    assert ledger.totals()["USDT"] == Decimal("100") + Decimal("1000") - Decimal(25)


def test_hold_more_than_available_is_200004_and_changes_nothing() -> None:
    """Insufficient balance is KuCoin's 200004 and leaves the balance untouched."""
    accounts = Accounts()
    user = accounts.create(balances={"USDT": "10"})
    with pytest.raises(OrderError) as info:
        accounts.ledger.hold(user.user_id, "USDT", Decimal("10.0001"), CTX)
    assert info.value.code == "200004" and info.value.msg == "Balance insufficient!"
    assert accounts.ledger.balance(user.user_id, "USDT").available == Decimal(10)


def test_accounts_have_unique_kucoin_style_ids() -> None:
    """Every (user, type, currency) account has its own 24-hex id, found again by id."""
    accounts = Accounts()
    users = [accounts.create() for _ in range(3)]
    ids = [a.id for u in users for a in accounts.ledger.accounts_of(u.user_id)]
    assert len(ids) == len(set(ids)) == 3 * (len(DEFAULT_BALANCES) + 1)
    account = accounts.ledger.accounts_of(users[1].user_id)[0]
    assert accounts.ledger.by_id(account.id) == account and account.user_id == users[1].user_id


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.50050"), "0.5005"),
        (Decimal("1E+1"), "10"),
        (Decimal("0E-12"), "0"),
        (Decimal("-2.50"), "-2.5"),
    ],
)
def test_format_decimal_is_plain_without_trailing_zeros(value: Decimal, text: str) -> None:
    """Decimals go on the wire in plain notation, as KuCoin writes them."""
    assert format_decimal(value) == text


def test_to_decimal_refuses_floats_and_garbage() -> None:
    """Amounts must be exact: floats, bools and non-numbers are refused."""
    assert to_decimal("1.5") == Decimal("1.5") and to_decimal(3) == 3
    for bad in (1.5, True, "abc", "NaN", None):
        with pytest.raises(ConfigurationError):
            to_decimal(bad)
