"""The signed-request verifier: every failure gets KuCoin's code and HTTP 401; real clients' forms pass."""

from __future__ import annotations

import json

import pytest

from kunb.exceptions import AuthenticationError
from kunb.signing import Credentials, auth_headers, prehash, sign, sign_passphrase
from kunb.sim.core.accounts import Accounts
from kunb.sim.rest.auth import FUTURE_TOLERANCE_MS, PAST_TOLERANCE_MS, SignedRequest, verify

NOW = 1_732_942_471_752


@pytest.fixture
def accounts() -> Accounts:
    return Accounts(seed=11)


def _request(creds: Credentials, method: str, target: str, body: bytes = b"", *, ts: int = NOW, **override):
    headers = auth_headers(creds, method, target, body, timestamp_ms=ts)
    for name, value in override.items():
        header = "KC-API-" + name.replace("_", "-").upper()
        if value is None:
            headers.pop(header, None)
        else:
            headers[header] = value
    return SignedRequest(method, target, body, headers)


def _code(accounts: Accounts, request: SignedRequest) -> str:
    with pytest.raises(AuthenticationError) as info:
        verify(request, accounts.by_key, now_ms=NOW)
    assert info.value.status == 401
    return info.value.code


def test_a_correctly_signed_request_returns_its_user(accounts: Accounts) -> None:
    """GET with a query and POST with a body both verify and name the key's owner."""
    user = accounts.create()
    get = _request(user.credentials, "GET", "/api/v1/accounts?currency=BTC&type=trade")
    body = json.dumps({"clientOid": "a", "side": "buy"}).encode()  # kucoin-python's spaced separators
    post = _request(user.credentials, "POST", "/api/v1/orders", body)
    assert verify(get, accounts.by_key, now_ms=NOW) is user
    assert verify(post, accounts.by_key, now_ms=NOW) is user


@pytest.mark.parametrize("missing", ["key", "sign", "timestamp", "passphrase"])
def test_missing_header_is_400001(accounts: Accounts, missing: str) -> None:
    """Each of the four required headers missing (or empty) is 400001."""
    user = accounts.create()
    for value in (None, ""):
        request = _request(user.credentials, "GET", "/api/v1/accounts", **{missing: value})
        assert _code(accounts, request) == "400001"


def test_unknown_key_is_400003(accounts: Accounts) -> None:
    """A well-formed request with a key the exchange never issued is 400003."""
    accounts.create()
    stranger = Credentials("5c2db93503aa674c74a31734", "secret", "pass")
    assert _code(accounts, _request(stranger, "GET", "/api/v1/accounts")) == "400003"


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (FUTURE_TOLERANCE_MS, True),
        (FUTURE_TOLERANCE_MS + 1, False),
        (-PAST_TOLERANCE_MS, True),
        (-PAST_TOLERANCE_MS - 1, False),
        (-60_000, False),
        (3_600_000, False),
    ],
)
def test_timestamp_window(accounts: Accounts, offset: int, ok: bool) -> None:
    """5 s into the future, 6 s into the past (kucoin-python truncates to seconds); beyond is 400002."""
    user = accounts.create()
    request = _request(user.credentials, "GET", "/api/v1/accounts", ts=NOW + offset)
    if ok:
        assert verify(request, accounts.by_key, now_ms=NOW) is user
    else:
        assert _code(accounts, request) == "400002"


def test_non_numeric_timestamp_is_400002(accounts: Accounts) -> None:
    """A timestamp that is not an integer of ms is 400002."""
    user = accounts.create()
    assert _code(accounts, _request(user.credentials, "GET", "/x", timestamp="12.5")) == "400002"
    assert _code(accounts, _request(user.credentials, "GET", "/x", timestamp="soon")) == "400002"


def test_wrong_passphrase_is_400004(accounts: Accounts) -> None:
    """A passphrase HMAC made with the wrong passphrase, or a plain one for a v2 key, is 400004."""
    user = accounts.create()
    creds = user.credentials
    wrong = sign_passphrase(Credentials(creds.key, creds.secret, "not-it"))
    assert _code(accounts, _request(creds, "GET", "/x", passphrase=wrong)) == "400004"
    assert _code(accounts, _request(creds, "GET", "/x", passphrase=creds.passphrase)) == "400004"
    assert _code(accounts, _request(creds, "GET", "/x", key_version=None)) == "400004"


def test_bad_signature_is_400005(accounts: Accounts) -> None:
    """A signature over anything else (secret, method, path, body, timestamp) is 400005."""
    user = accounts.create()
    creds = user.credentials
    other = Credentials(creds.key, "another-secret", creds.passphrase)
    bad = _request(other, "GET", "/api/v1/accounts", passphrase=sign_passphrase(creds))
    assert _code(accounts, bad) == "400005"
    good = _request(creds, "POST", "/api/v1/orders", b'{"a":1}')
    for tampered in (
        SignedRequest("PUT", good.target, good.body, good.headers),
        SignedRequest("POST", "/api/v1/orders?x=1", good.body, good.headers),
        SignedRequest("POST", good.target, b'{"a":2}', good.headers),
        SignedRequest("POST", good.target, b'{"a": 1}', good.headers),  # re-serialised: not the bytes signed
        SignedRequest("POST", good.target, b"\xff", good.headers),
    ):
        assert _code(accounts, tampered) == "400005"


def test_version_3_header_is_accepted_for_a_v2_key(accounts: Accounts) -> None:
    """The universal SDK always sends KC-API-KEY-VERSION 3; a v2 key must accept it (and 2)."""
    user = accounts.create(key_version=2)
    request = _request(user.credentials, "GET", "/api/v1/accounts", key_version="3")
    assert verify(request, accounts.by_key, now_ms=NOW) is user


def test_v1_key_uses_a_plain_passphrase(accounts: Accounts) -> None:
    """A v1 key sends the passphrase in clear and no version header; its HMAC form is refused."""
    user = accounts.create(key_version=1)
    creds = user.credentials
    assert verify(_request(creds, "GET", "/x"), accounts.by_key, now_ms=NOW) is user
    hmac_form = sign(creds.secret, creds.passphrase)
    assert _code(accounts, _request(creds, "GET", "/x", passphrase=hmac_form)) == "400004"


def test_percent_decoded_target_is_accepted(accounts: Accounts) -> None:
    """Clients that sign the unencoded query but send it encoded (usdk, docs) verify too."""
    user = accounts.create()
    creds = user.credentials
    signed_form = "/api/v1/orders?status=done&remark=a b!@#"
    wire_form = "/api/v1/orders?status=done&remark=a%20b%21%40%23"
    headers = auth_headers(creds, "GET", signed_form, timestamp_ms=NOW)
    assert verify(SignedRequest("GET", wire_form, b"", headers), accounts.by_key, now_ms=NOW) is user
    # ... and so do clients that sign exactly what they send (gosdk encodes both).
    headers = auth_headers(creds, "GET", wire_form, timestamp_ms=NOW)
    assert verify(SignedRequest("GET", wire_form, b"", headers), accounts.by_key, now_ms=NOW) is user


def test_headers_are_case_insensitive_and_repr_hides_them(accounts: Accounts) -> None:
    """Lower-case header names work (ASGI gives them so); the request repr shows no header values."""
    user = accounts.create()
    request = _request(user.credentials, "GET", "/x")
    lowered = SignedRequest("GET", "/x", b"", {k.lower(): v for k, v in request.headers.items()})
    assert verify(lowered, accounts.by_key, now_ms=NOW) is user
    text = repr(request)
    assert all(value not in text for value in request.headers.values())


def test_documented_prehash_layout() -> None:
    """The verifier signs ``timestamp + METHOD + target + body`` like the docs' worked example."""
    assert prehash(1, "get", "/p?q=1", b"") == "1GET/p?q=1"
