"""Verify KuCoin's signed-request headers exactly as KuCoin does, against the raw request (pure).

``classic-protocol.md#signing``: ``KC-API-SIGN = base64(HMAC_SHA256(secret,
timestamp + METHOD + target + body))``.
Clients differ in what they sign (the table in 4.2), so the signature is checked against the request target
exactly as received and, failing that, its percent-decoded form; the body is always the raw bytes received,
never a re-serialisation. Every failure is an :class:`~kunb.exceptions.AuthenticationError` with KuCoin's
code and HTTP 401 (4.1). The time is an argument.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from kunb.exceptions import AuthenticationError
from kunb.signing import Credentials, prehash, sign, sign_passphrase
from kunb.sim.core.accounts import User

__all__ = [
    "FUTURE_TOLERANCE_MS",
    "PAST_TOLERANCE_MS",
    "SignedRequest",
    "verify",
]

#: KuCoin rejects a timestamp more than 5 s away from its clock (classic-protocol.md#signing) ...
FUTURE_TOLERANCE_MS = 5_000
#: ... plus 1 s into the past, because kucoin-python truncates its timestamp to whole seconds.
PAST_TOLERANCE_MS = 6_000

_REQUIRED = ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")
_MSG_MISSING = (
    "Please check the header of your request for KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE"
)
_MSG_TIMESTAMP = "Invalid KC-API-TIMESTAMP"
_MSG_KEY = "KC-API-KEY not exists"
_MSG_PASSPHRASE = "Invalid KC-API-PASSPHRASE"
_MSG_SIGN = "Invalid KC-API-SIGN"
_UNAUTHORIZED = 401


@dataclass(frozen=True, slots=True, repr=False)
class SignedRequest:
    """What the verifier needs of one HTTP request, as received.

    Attributes:
        method: the HTTP method.
        target: the raw request target: path plus ``?`` and the raw query string when there is one.
        body: the raw body bytes (``b""`` when none).
        headers: the request headers; looked up case-insensitively.
    """

    method: str
    target: str
    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            lowered = name.lower()
            value = next((v for k, v in self.headers.items() if k.lower() == lowered), None)
        return (value or "").strip()

    def __repr__(self) -> str:  # headers carry a signature and a passphrase: never show them
        return f"SignedRequest(method={self.method!r}, target={self.target!r}, body=<{len(self.body)} bytes>)"


def _fail(code: str, msg: str) -> AuthenticationError:
    return AuthenticationError(code, msg, _UNAUTHORIZED)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _targets(target: str) -> list[str]:
    """The forms of the target a client may have signed: as sent, percent-decoded, '+'-decoded."""
    forms = [target]
    for decode in (unquote, unquote_plus):
        decoded = decode(target)
        if decoded not in forms:
            forms.append(decoded)
    return forms


def _passphrase_ok(credentials: Credentials, sent: str, version_header: str) -> bool:
    # Key version 1 sends the passphrase in clear and no (or "1") version header; versions 2 and 3 send its
    # HMAC. The universal SDK always sends header "3" for a v2 key, so 2 and 3 are treated alike (4.2).
    if credentials.key_version == 1:
        if version_header not in ("", "1"):
            return False
    elif version_header not in ("2", "3"):
        return False
    return _equal(sent, sign_passphrase(credentials))


def verify(request: SignedRequest, lookup: Callable[[str], User | None], *, now_ms: int) -> User:
    """Check one private request and return the user it is signed by.

    Args:
        request: the request as received.
        lookup: finds the user owning an API key (``Accounts.by_key``).
        now_ms: the exchange's clock, milliseconds since the epoch.

    Raises:
        AuthenticationError: HTTP 401 with KuCoin's code: 400001 a header is missing, 400003 unknown key,
            400002 timestamp outside the window, 400004 wrong passphrase, 400005 wrong signature.
    """
    values = {name: request.header(name) for name in _REQUIRED}
    if not all(values.values()):
        raise _fail("400001", _MSG_MISSING)
    user = lookup(values["KC-API-KEY"])
    if user is None:
        raise _fail("400003", _MSG_KEY)
    timestamp = values["KC-API-TIMESTAMP"]
    if not timestamp.isascii() or not timestamp.isdigit():
        raise _fail("400002", _MSG_TIMESTAMP)
    skew = int(timestamp) - now_ms
    if skew > FUTURE_TOLERANCE_MS or -skew > PAST_TOLERANCE_MS:
        raise _fail("400002", _MSG_TIMESTAMP)
    credentials = user.credentials
    if not _passphrase_ok(credentials, values["KC-API-PASSPHRASE"], request.header("KC-API-KEY-VERSION")):
        raise _fail("400004", _MSG_PASSPHRASE)
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("400005", _MSG_SIGN) from None
    sent = values["KC-API-SIGN"]
    # Check every candidate (no early exit) so the time taken does not reveal which form matched.
    matched = False
    for target in _targets(request.target):
        expected = sign(credentials.secret, prehash(timestamp, request.method, target, body))
        matched |= _equal(sent, expected)
    if not matched:
        raise _fail("400005", _MSG_SIGN)
    return user
