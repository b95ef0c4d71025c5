"""Credentials redaction and KuCoin request signing."""

from __future__ import annotations

import logging
import pickle

import pytest

from kunb.exceptions import ConfigurationError, InsecureTransportError
from kunb.signing import (
    Credentials,
    auth_headers,
    ensure_safe_url,
    is_loopback_host,
    prehash,
    sign,
    sign_passphrase,
)

KEY, SECRET, PASSPHRASE = (
    "key-5c2db93503aa674c74a31734",
    "f03a5284-5c39-4aaa-9b20-dea10bdcf8e3",
    "pass-phrase!",
)


def test_worked_example_from_kucoin_docs() -> None:
    """The legacy docs' worked example (kucoin-protocol.md 4.2) signs to the documented value."""
    message = prehash(1547015186532, "POST", "/api/v1/deposit-addresses", '{"currency":"BTC"}')
    assert message == '1547015186532POST/api/v1/deposit-addresses{"currency":"BTC"}'
    assert sign(SECRET, message) == "7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4="


def test_passphrase_plain_for_v1_and_signed_for_v2_v3() -> None:
    """Key version 1 sends the passphrase as is; 2 and 3 send its HMAC."""
    assert sign_passphrase(Credentials(KEY, SECRET, PASSPHRASE, key_version=1)) == PASSPHRASE
    signed = sign(SECRET, PASSPHRASE)
    assert sign_passphrase(Credentials(KEY, SECRET, PASSPHRASE, key_version=2)) == signed
    assert sign_passphrase(Credentials(KEY, SECRET, PASSPHRASE, key_version=3)) == signed


def test_auth_headers_shape() -> None:
    """All KC-API headers are present, and v1 omits the version header."""
    creds = Credentials(KEY, SECRET, PASSPHRASE)
    headers = auth_headers(creds, "get", "/api/v1/accounts?currency=BTC", timestamp_ms=1700000000000)
    assert headers["KC-API-KEY"] == KEY
    assert headers["KC-API-TIMESTAMP"] == "1700000000000"
    assert headers["KC-API-KEY-VERSION"] == "2"
    assert headers["KC-API-SIGN"] == sign(SECRET, "1700000000000GET/api/v1/accounts?currency=BTC")
    v1 = auth_headers(Credentials(KEY, SECRET, PASSPHRASE, key_version=1), "GET", "/x", timestamp_ms=1)
    assert "KC-API-KEY-VERSION" not in v1


def test_incomplete_credentials_refuse_to_sign() -> None:
    """Signing without a secret is a clear configuration error, not a bad signature."""
    with pytest.raises(ConfigurationError):
        auth_headers(Credentials(KEY, "", PASSPHRASE), "GET", "/x", timestamp_ms=1)


def test_bad_key_version_rejected() -> None:
    with pytest.raises(ConfigurationError):
        Credentials(KEY, SECRET, PASSPHRASE, key_version=4)


def test_repr_str_log_and_pickle_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """No rendering of Credentials contains the key, secret or passphrase."""
    creds = Credentials(KEY, SECRET, PASSPHRASE)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("kunb.test").debug("creds %s %r", creds, creds)
    rendered = [repr(creds), str(creds), f"{creds}", caplog.text, pickle.dumps(creds).hex()]
    rendered.append(pickle.dumps(creds).decode("latin-1"))
    for text in rendered:
        for secret in (KEY, SECRET, PASSPHRASE):
            assert secret not in text
    clone = pickle.loads(pickle.dumps(creds))
    assert not clone.is_complete
    with pytest.raises(ConfigurationError):
        auth_headers(clone, "GET", "/x", timestamp_ms=1)


def test_from_env() -> None:
    env = {"KUCOIN_API_KEY": KEY, "KUCOIN_API_SECRET": SECRET, "KUCOIN_API_PASSPHRASE": PASSPHRASE}
    creds = Credentials.from_env(env)
    assert creds is not None and creds.key == KEY and creds.secret == SECRET and creds.key_version == 2
    assert Credentials.from_env({}) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host", ["api.kucoin.com", "10.0.0.1", "192.168.1.1", "", None, "127.0.0.1.evil.com"]
)
def test_not_loopback_hosts(host: str | None) -> None:
    assert not is_loopback_host(host)


def test_plain_text_credentials_only_to_loopback() -> None:
    """http:// and ws:// are refused for any host that is not loopback."""
    ensure_safe_url("https://api.kucoin.com")
    ensure_safe_url("wss://ws-api-spot.kucoin.com/")
    ensure_safe_url("http://127.0.0.1:8080")
    ensure_safe_url("ws://localhost:9000/feed")
    for url in ("http://api.kucoin.com", "ws://10.1.2.3/", "http://192.168.0.5:80"):
        with pytest.raises(InsecureTransportError):
            ensure_safe_url(url)
    with pytest.raises(ConfigurationError):
        ensure_safe_url("ftp://127.0.0.1")


def test_redact_token_in_urls_and_request_lines() -> None:
    """Every token= value is hidden, whatever follows it."""
    from kunb.signing import redact_token

    assert redact_token("ws://h/?token=abc.def&connectId=1") == "ws://h/?token=***&connectId=1"
    assert redact_token("GET /?token=abc HTTP/1.1") == "GET /?token=*** HTTP/1.1"
    assert redact_token("a?token=x&b=1&token=y") == "a?token=***&b=1&token=***"
    assert redact_token("no secrets here") == "no secrets here"
