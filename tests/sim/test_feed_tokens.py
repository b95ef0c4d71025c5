"""Bullet tokens: valid until their TTL; the registry forgets expired ones and keeps at most max_tokens."""

from __future__ import annotations

import pytest

from kunb.exceptions import ConfigurationError
from kunb.sim.feed.tokens import TokenRegistry

S = 1_000_000_000


def test_tokens_expire_with_their_ttl_and_expired_ones_are_forgotten() -> None:
    tokens = TokenRegistry(ttl_ns=60 * S)
    first = tokens.issue(0)
    assert tokens.check(first.value, 59 * S) is first and tokens.check(first.value, 60 * S) is None
    second = tokens.issue(61 * S, private=True, user_id="u1")  # issuing forgets the expired first
    assert len(tokens) == 1 and tokens.check(second.value, 61 * S) is second
    assert tokens.check("", 0) is None and tokens.check(None, 0) is None


def test_a_client_reconnecting_all_day_cannot_grow_the_registry() -> None:
    """One bullet a second for a day with a 24 h TTL: at most max_tokens are kept, the newest."""
    tokens = TokenRegistry(ttl_ns=86_400 * S, max_tokens=500)
    issued = [tokens.issue(t * S) for t in range(0, 86_400, 20)]
    assert len(tokens) == 500
    now = 86_400 * S - 1
    assert tokens.check(issued[-1].value, now) is issued[-1] and tokens.check(issued[-500].value, now)
    assert tokens.check(issued[-501].value, now) is None  # forgotten: refused like an expired token
    assert tokens.expire_all() == 500 and len(tokens) == 0


def test_max_tokens_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        TokenRegistry(ttl_ns=S, max_tokens=0)
