"""API credentials (secrets redacted everywhere) and pure KuCoin request signing.

Signing follows ``classic-protocol.md`` section 4.2: ``KC-API-SIGN = base64(HMAC_SHA256(secret, prehash))``
with ``prehash = timestamp + METHOD + path[?query] + body``; the passphrase travels in clear text for key
version 1 and HMAC-signed for versions 2 and 3. Nothing here reads the clock: the timestamp is an argument.
Both the client and the embedded exchange's verifier use these functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .exceptions import ConfigurationError, InsecureTransportError

__all__ = [
    "Credentials",
    "TokenRedactor",
    "auth_headers",
    "ensure_safe_url",
    "is_loopback_host",
    "prehash",
    "redact_token",
    "sign",
    "sign_passphrase",
]

_REDACTED = "***"


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Credentials:
    """A KuCoin API key with its secret and passphrase.

    ``repr``/``str`` never show the key, secret or passphrase, and pickling keeps only a redacted
    placeholder: an unpickled copy refuses to sign instead of leaking or silently failing.

    Args:
        key: the API key.
        secret: the API secret.
        passphrase: the passphrase chosen when the key was made.
        key_version: 1, 2 (default, as KuCoin issues today) or 3 (sent by KuCoin's universal SDK).
    """

    key: str
    secret: str = field(compare=False)
    passphrase: str = field(compare=False)
    key_version: int = 2

    def __post_init__(self) -> None:
        if self.key_version not in (1, 2, 3):
            raise ConfigurationError(f"key_version must be 1, 2 or 3, not {self.key_version!r}")
        for name in ("key", "secret", "passphrase"):
            if not isinstance(getattr(self, name), str):
                raise ConfigurationError(f"credentials {name} must be a str")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials | None:
        """Credentials from ``KUCOIN_API_KEY`` / ``KUCOIN_API_SECRET`` / ``KUCOIN_API_PASSPHRASE``
        (and optional ``KUCOIN_API_KEY_VERSION``); ``None`` when no key is set."""
        env = os.environ if environ is None else environ
        key = env.get("KUCOIN_API_KEY", "")
        if not key:
            return None
        return cls(
            key=key,
            secret=env.get("KUCOIN_API_SECRET", ""),
            passphrase=env.get("KUCOIN_API_PASSPHRASE", ""),
            key_version=int(env.get("KUCOIN_API_KEY_VERSION", "2") or 2),
        )

    @property
    def is_complete(self) -> bool:
        """True when key, secret and passphrase are all non-empty."""
        return bool(self.key and self.secret and self.passphrase)

    def __repr__(self) -> str:
        hidden = f"key={_REDACTED}, secret={_REDACTED}, passphrase={_REDACTED}"
        return f"Credentials({hidden}, key_version={self.key_version})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return hmac.compare_digest(self.key, other.key) and self.key_version == other.key_version

    def __hash__(self) -> int:
        return hash((Credentials, self.key_version))

    def __reduce__(self) -> tuple[Callable[[int], Credentials], tuple[int]]:
        # Secrets must not travel through pickle (multiprocessing, caches, notebook state).
        return (_redacted_credentials, (self.key_version,))


def _redacted_credentials(key_version: int) -> Credentials:
    return Credentials(key="", secret="", passphrase="", key_version=key_version)


def prehash(timestamp_ms: int | str, method: str, path: str, body: str | bytes = "") -> str:
    """The string KuCoin signs: ``timestamp + METHOD + path[?query] + body``."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    return f"{timestamp_ms}{method.upper()}{path}{body}"


def sign(secret: str, message: str) -> str:
    """``base64(HMAC_SHA256(secret, message))``."""
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_passphrase(credentials: Credentials) -> str:
    """The ``KC-API-PASSPHRASE`` header value for the key's version (plain for v1, HMAC for v2/v3)."""
    if credentials.key_version == 1:
        return credentials.passphrase
    return sign(credentials.secret, credentials.passphrase)


def auth_headers(
    credentials: Credentials,
    method: str,
    path: str,
    body: str | bytes = "",
    *,
    timestamp_ms: int,
) -> dict[str, str]:
    """The ``KC-API-*`` headers for one request.

    Args:
        credentials: the key to sign with; must be complete.
        method: HTTP method.
        path: the request target as sent, with ``?query`` for GET/DELETE (not percent-encoded).
        body: the exact body bytes/text sent (``""`` when none).
        timestamp_ms: milliseconds since the epoch (the caller reads the clock).
    """
    if not credentials.is_complete:
        raise ConfigurationError(
            "this call needs API credentials (key, secret and passphrase); pass them or set "
            "KUCOIN_API_KEY / KUCOIN_API_SECRET / KUCOIN_API_PASSPHRASE"
        )
    headers = {
        "KC-API-KEY": credentials.key,
        "KC-API-SIGN": sign(credentials.secret, prehash(timestamp_ms, method, path, body)),
        "KC-API-TIMESTAMP": str(timestamp_ms),
        "KC-API-PASSPHRASE": sign_passphrase(credentials),
    }
    if credentials.key_version != 1:
        headers["KC-API-KEY-VERSION"] = str(credentials.key_version)
    return headers


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and any loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_safe_url(url: str) -> None:
    """Refuse to send credentials in clear text: ``http://``/``ws://`` is allowed only to loopback.

    Raises:
        InsecureTransportError: the URL is plain-text and its host is not loopback.
        ConfigurationError: the URL has no usable scheme or host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("https", "wss"):
        return
    if scheme not in ("http", "ws"):
        raise ConfigurationError(f"unsupported URL scheme {scheme!r} in {parts.scheme}://{parts.hostname}")
    if not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"refusing to send API credentials over plain {scheme}:// to {parts.hostname}; "
            "use https:// (or a loopback address for the embedded exchange)"
        )


def redact_token(text: str) -> str:
    """Hide the value of every ``token=`` query parameter (WebSocket connect URLs carry the bullet token)."""
    start = text.find("token=")
    while start >= 0:
        end = text.find("&", start)
        stop = len(text) if end < 0 else end
        space = text.find(" ", start)  # request lines: ``GET /?token=... HTTP/1.1``
        if 0 <= space < stop:
            stop = space
        text = text[: start + 6] + _REDACTED + text[stop:]
        start = text.find("token=", start + 6 + len(_REDACTED))
    return text


class TokenRedactor(logging.Filter):
    """A logging filter that hides bullet tokens in a record's message and arguments.

    websockets logs the request line (``GET /?token=... HTTP/1.1``) at DEBUG on both the client and the
    server side; kunb attaches this filter to the loggers it hands to websockets.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact_token(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_token(a) if isinstance(a, str) else a for a in record.args)
        return True
