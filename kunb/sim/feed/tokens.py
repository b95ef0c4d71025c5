"""Bullet tokens of the simulator: issue, look up, expire. Pure: the time is always an argument.

A token is checked only when a connection opens (``classic-protocol.md#token``: valid for 24 h), so the
registry keeps at most :data:`MAX_TOKENS`, oldest forgotten first (a forgotten token is refused like an
expired one, and clients then ask for a new bullet): a client that reconnects all day cannot grow it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kunb.exceptions import ConfigurationError

__all__ = ["MAX_TOKENS", "Token", "TokenRegistry"]

#: Tokens remembered at once (about 5 MB); beyond it the oldest issued is forgotten.
MAX_TOKENS = 10_000


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

    def __init__(self, *, ttl_ns: int, max_tokens: int = MAX_TOKENS) -> None:
        if max_tokens < 1:
            raise ConfigurationError("max_tokens must be >= 1")
        self.ttl_ns = ttl_ns
        self.max_tokens = max_tokens
        self._tokens: dict[str, Token] = {}  # insertion order = issue order

    def issue(self, now_ns: int, *, private: bool = False, user_id: str | None = None) -> Token:
        """A new KuCoin-looking token (opaque base64-ish text, ~190 chars like the real ones)."""
        value = secrets.token_urlsafe(128)[:160] + "=." + secrets.token_urlsafe(16) + "=="
        token = Token(value, private, user_id, now_ns + self.ttl_ns)
        self._tokens[value] = token
        self._purge(now_ns)
        return token

    def __len__(self) -> int:
        return len(self._tokens)

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
        """Forget expired tokens, then the oldest beyond :attr:`max_tokens` (issue order = expiry order
        while the TTL is fixed, so the front of the dict holds the oldest)."""
        tokens = self._tokens
        while len(tokens) > self.max_tokens or (tokens and next(iter(tokens.values())).expires_ns <= now_ns):
            del tokens[next(iter(tokens))]
