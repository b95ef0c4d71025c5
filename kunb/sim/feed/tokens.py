"""Bullet tokens of the simulator: issue, look up, expire. Pure: the time is always an argument."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

__all__ = ["Token", "TokenRegistry"]


@dataclass(frozen=True, slots=True)
class Token:
    """What a WebSocket token grants: public market data, or also one user's private topics."""

    value: str
    private: bool
    user_id: str | None
    expires_ns: int

    def __repr__(self) -> str:  # a token is a credential: never print it (COMMON.md secrets rule)
        return f"Token(private={self.private}, user_id={self.user_id!r}, expires_ns={self.expires_ns})"


class TokenRegistry:
    """Tokens by value; a token is valid until ``expires_ns`` or until :meth:`expire_all`."""

    def __init__(self, *, ttl_ns: int) -> None:
        self.ttl_ns = ttl_ns
        self._tokens: dict[str, Token] = {}

    def issue(self, now_ns: int, *, private: bool = False, user_id: str | None = None) -> Token:
        """A new KuCoin-looking token (opaque base64-ish text, ~190 chars like the real ones)."""
        self._purge(now_ns)
        value = secrets.token_urlsafe(128)[:160] + "=." + secrets.token_urlsafe(16) + "=="
        token = Token(value, private, user_id, now_ns + self.ttl_ns)
        self._tokens[value] = token
        return token

    def check(self, value: str | None, now_ns: int) -> Token | None:
        """The token if it exists and has not expired at ``now_ns``, else None."""
        token = self._tokens.get(value or "")
        if token is None or token.expires_ns <= now_ns:
            return None
        return token

    def expire_all(self) -> int:
        """Invalidate every token issued so far (fault injection); returns how many."""
        n = len(self._tokens)
        self._tokens.clear()
        return n

    def _purge(self, now_ns: int) -> None:
        if len(self._tokens) > 10_000:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_ns > now_ns}
