"""The admin token verifier with keys made in the test and the JWKS fetch injected (no network)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from courier.admin.identity import (
    AdminIdentity,
    AdminTokenVerifier,
    InvalidAdminToken,
    NotAnAdmin,
    SignInUnavailable,
    bearer_token,
)
from tests.admin_tokens import CLIENT_ID, ISSUER, FakeUserPool, SigningKey


class CountingJwksClient(jwt.PyJWKClient):
    """PyJWKClient with its HTTP fetch replaced by the pool's document; counts the fetches."""

    def __init__(self, pool: FakeUserPool, *, fail: bool = False) -> None:
        super().__init__("https://jwks.invalid/.well-known/jwks.json", lifespan=3600)
        self.pool = pool
        self.fetches = 0
        self.fail = fail

    def fetch_data(self) -> Any:
        self.fetches += 1
        if self.fail:
            raise jwt.PyJWKClientConnectionError("connection refused")
        data = self.pool.jwks()
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        self._last_successful_fetch = time.monotonic()
        return data


@pytest.fixture
def pool() -> FakeUserPool:
    return FakeUserPool()


@pytest.fixture
def jwks(pool: FakeUserPool) -> CountingJwksClient:
    return CountingJwksClient(pool)


@pytest.fixture
def verifier(jwks: CountingJwksClient) -> AdminTokenVerifier:
    return AdminTokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, jwks=jwks)


def test_an_admins_access_token_gives_the_identity(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    token = pool.access_token("alice", ["readers", "admin"])

    identity = verifier.authorize(token)

    assert identity == AdminIdentity(
        sub=jwt.decode(token, options={"verify_signature": False})["sub"],
        username="alice",
        groups=("readers", "admin"),
    )


def test_the_keys_are_fetched_once_and_reused(
    pool: FakeUserPool, verifier: AdminTokenVerifier, jwks: CountingJwksClient
) -> None:
    for name in ("alice", "bob", "carol"):
        verifier.authorize(pool.access_token(name, ["admin"]))

    assert jwks.fetches == 1


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "bearer"])
def test_no_bearer_token_is_401(header: str | None) -> None:
    with pytest.raises(InvalidAdminToken) as caught:
        bearer_token(header)
    assert caught.value.status == 401


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 100])
def test_a_garbage_token_is_401(verifier: AdminTokenVerifier, token: str) -> None:
    with pytest.raises(InvalidAdminToken) as caught:
        verifier.authorize(token)
    assert caught.value.status == 401


def test_an_expired_token_is_401(pool: FakeUserPool, verifier: AdminTokenVerifier) -> None:
    token = pool.access_token("alice", ["admin"], issued_at=time.time() - 7200, lifetime=3600)

    with pytest.raises(InvalidAdminToken, match="expired"):
        verifier.authorize(token)


def test_a_token_expired_within_the_leeway_still_passes(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    # Given a token that expired 10 s ago (clock skew is allowed 30 s)
    token = pool.access_token("alice", ["admin"], issued_at=time.time() - 3610, lifetime=3600)

    assert verifier.authorize(token).username == "alice"


def test_a_token_for_another_app_client_is_401(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    token = pool.access_token("alice", ["admin"], client_id="another-client")

    with pytest.raises(InvalidAdminToken, match="another app client"):
        verifier.authorize(token)


def test_a_token_from_another_issuer_is_401(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    token = pool.access_token(
        "alice", ["admin"], iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"
    )

    with pytest.raises(InvalidAdminToken, match="another issuer"):
        verifier.authorize(token)


def test_an_id_token_is_refused_even_with_the_right_audience(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    # The JWT authorizer accepts it (aud = the client id); the API wants the access token.
    token = pool.access_token("alice", ["admin"], token_use="id", aud=CLIENT_ID, client_id=None)

    with pytest.raises(InvalidAdminToken, match="access token"):
        verifier.authorize(token)


def test_a_token_signed_by_a_stranger_with_a_known_kid_is_401(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    forger = SigningKey("key-1")  # same kid, another private key
    token = pool.access_token("mallory", ["admin"], key=forger)

    with pytest.raises(InvalidAdminToken, match="signature"):
        verifier.authorize(token)


def test_an_hs256_token_is_refused(verifier: AdminTokenVerifier) -> None:
    token = jwt.encode(
        {"sub": "x", "iss": ISSUER, "token_use": "access", "client_id": CLIENT_ID},
        "a-shared-secret-of-thirty-two-bytes!",
        algorithm="HS256",
        headers={"kid": "key-1"},
    )
    with pytest.raises(InvalidAdminToken):
        verifier.authorize(token)


def test_a_user_outside_the_admin_group_is_403(
    pool: FakeUserPool, verifier: AdminTokenVerifier
) -> None:
    for groups in (None, [], ["readers"]):
        token = pool.access_token("bob", groups)
        with pytest.raises(NotAnAdmin) as caught:
            verifier.authorize(token)
        assert caught.value.status == 403
        # Authenticated all the same: the identity is valid, only the group is missing.
        assert verifier.authenticate(token).username == "bob"


def test_an_unknown_kid_refreshes_the_keys_once(
    pool: FakeUserPool, verifier: AdminTokenVerifier, jwks: CountingJwksClient
) -> None:
    # Given keys fetched and cached
    verifier.authorize(pool.access_token("alice", ["admin"]))
    assert jwks.fetches == 1
    # When the pool rotates to a new key and signs with it
    new_key = pool.rotate("key-2")
    jwks._last_successful_fetch = time.monotonic() - 60  # past the refresh cooldown
    identity = verifier.authorize(pool.access_token("alice", ["admin"], key=new_key))

    # Then one refresh fetched the new key
    assert identity.username == "alice"
    assert jwks.fetches == 2


def test_unknown_kids_in_a_row_cause_no_more_than_one_refresh(
    pool: FakeUserPool, verifier: AdminTokenVerifier, jwks: CountingJwksClient
) -> None:
    verifier.authorize(pool.access_token("alice", ["admin"]))
    jwks._last_successful_fetch = time.monotonic() - 60
    stranger = SigningKey("kid-nobody-has")

    for _ in range(5):
        with pytest.raises(InvalidAdminToken, match="key the pool lacks"):
            verifier.authorize(pool.access_token("mallory", ["admin"], key=stranger))

    assert jwks.fetches == 2  # the first fetch and one refresh; the cooldown holds the rest


def test_keys_that_cannot_be_fetched_are_503(pool: FakeUserPool) -> None:
    verifier = AdminTokenVerifier(
        issuer=ISSUER, client_id=CLIENT_ID, jwks=CountingJwksClient(pool, fail=True)
    )
    with pytest.raises(SignInUnavailable) as caught:
        verifier.authorize(pool.access_token("alice", ["admin"]))
    assert caught.value.status == 503


def test_the_verifier_refuses_to_start_without_issuer_or_client(
    jwks: CountingJwksClient,
) -> None:
    with pytest.raises(ValueError, match="issuer"):
        AdminTokenVerifier(issuer="", client_id=CLIENT_ID, jwks=jwks)
    with pytest.raises(ValueError, match="issuer"):
        AdminTokenVerifier(issuer=ISSUER, client_id="", jwks=jwks)


def test_the_default_jwks_url_is_the_issuers_document() -> None:
    verifier = AdminTokenVerifier.for_pool(issuer=ISSUER + "/", client_id=CLIENT_ID)
    assert verifier._jwks.uri == f"{ISSUER}/.well-known/jwks.json"
    local = AdminTokenVerifier.for_pool(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        jwks_url="http://127.0.0.1:4566/ap-northeast-2_TestPool1/.well-known/jwks.json",
    )
    assert local._jwks.uri.startswith("http://127.0.0.1:4566/")
