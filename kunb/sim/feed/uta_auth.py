"""Verify UTA's V2 ``op:auth`` frame (pure): the key, the timestamp window, the signature, the passphrase.

``uta-protocol.md#private-authentication``: ``kc-api-sign`` is ``base64(HMAC_SHA256(secret, timestamp +
"POST/api/websocket/users/verify"))`` and ``kc-api-passphrase`` the passphrase as REST sends it (its HMAC
for key versions 2 and 3, in clear for version 1; the frame has no version field). The timestamp must be
within the REST window (5 s ahead, 6 s behind). A failure names its cause, as KuCoin's REST messages do;
the frame's values are never repeated in it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from kunb.signing import prehash, sign, sign_passphrase
from kunb.sim.core.accounts import User

__all__ = ["AUTH_PATH", "AuthRefused", "verify_auth"]

AUTH_PATH = "/api/websocket/users/verify"
_FUTURE_MS, _PAST_MS = 5_000, 6_000


class AuthRefused(Exception):
    """The auth frame was refused; ``str(exc)`` is the reason sent back."""


def _field(frame: Mapping[str, Any], name: str) -> str:
    value = frame.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise AuthRefused(f"{name} is missing")
    return str(value)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def verify_auth(frame: Mapping[str, Any], lookup: Callable[[str], User | None], *, now_ms: int) -> User:
    """The user an ``op:auth`` frame authenticates.

    Raises:
        AuthRefused: a field is missing, the key unknown, the timestamp outside the window, or the
            passphrase or the signature wrong.
    """
    key = _field(frame, "kc-api-key")
    timestamp = _field(frame, "kc-api-timestamp")
    sent_sign = _field(frame, "kc-api-sign")
    sent_passphrase = _field(frame, "kc-api-passphrase")
    user = lookup(key)
    if user is None:
        raise AuthRefused("KC-API-KEY not exists")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise AuthRefused("Invalid KC-API-TIMESTAMP")
    skew = int(timestamp) - now_ms
    if skew > _FUTURE_MS or -skew > _PAST_MS:
        raise AuthRefused("Invalid KC-API-TIMESTAMP")
    credentials = user.credentials
    if not _equal(sent_passphrase, sign_passphrase(credentials)):
        raise AuthRefused("Invalid KC-API-PASSPHRASE")
    if not _equal(sent_sign, sign(credentials.secret, prehash(timestamp, "POST", AUTH_PATH))):
        raise AuthRefused("Invalid KC-API-SIGN")
    return user
