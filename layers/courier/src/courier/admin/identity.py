"""Verifies an admin's Cognito access token and says who it belongs to (401 / 403 otherwise).

The HTTP API's JWT authorizer checks the same token before the function runs (signature, `iss`,
`exp`, audience: `client_id` for an access token). The function checks it again, here, because
(1) the authorizer checks scopes and not groups, so the `admin` group is checked here; (2) the
authorizer also accepts an ID token (its `aud` is the client id), while only an access token may
call the API (`token_use`); (3) tests and any path without the authorizer (an emulator that
skips it, a route attached without it by mistake) get the same answer.

Library: PyJWT (already the chat tokens' library) with its `crypto` extra (`cryptography`, which
ships abi3 manylinux aarch64 wheels, for RS256) and its `PyJWKClient`, which fetches the pool's
JWKS, caches it for the life of the execution environment (`lifespan`), and on a token signed
with an unknown `kid` (a key rotation) refreshes it once, at most every `cooldown_duration`
seconds, so a stream of forged `kid`s cannot turn into a stream of fetches. joserfc/authlib do
the same with more to configure; PyJWT is one dependency the layer already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from jwt import PyJWKClient

    from courier.settings import Settings

ALGORITHMS: Final = ["RS256"]  # Cognito signs with RS256 only; never trust the header's alg
LEEWAY_SECONDS: Final = 30  # clock skew between Cognito and the function
JWKS_LIFESPAN_SECONDS: Final = 3600.0  # Cognito rotates rarely; an unknown kid refreshes sooner
JWKS_REFRESH_COOLDOWN_SECONDS: Final = 30.0
JWKS_TIMEOUT_SECONDS: Final = 5.0
MAX_TOKEN_CHARS: Final = 8192


class AdminAuthError(Exception):
    """The request cannot be allowed; `status` and `code` say how to answer it."""

    status = 401
    code = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidAdminToken(AdminAuthError):
    """No token, or one that is malformed, forged, expired or meant for someone else (401)."""


class NotAnAdmin(AdminAuthError):
    """A valid token of a user outside the admin group (403)."""

    status = 403
    code = "forbidden"


class SignInUnavailable(AdminAuthError):
    """The pool's signing keys could not be fetched (503: worth another try)."""

    status = 503
    code = "sign_in_unavailable"


@dataclass(frozen=True)
class AdminIdentity:
    """Who made an admin request: the Cognito user's id, name and groups."""

    sub: str
    username: str
    groups: tuple[str, ...]


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value, or InvalidAdminToken."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidAdminToken("send Authorization: Bearer <access token>")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidAdminToken("the token is too long")
    return token


class AdminTokenVerifier:
    """Checks Cognito access tokens of one user pool and app client; keeps the keys cached."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        jwks: PyJWKClient,
        admin_group: str = "admin",
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        if not issuer or not client_id:
            raise ValueError("the admin sign-in needs the pool's issuer and the app client id")
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._jwks = jwks
        self._admin_group = admin_group
        self._leeway = leeway

    @classmethod
    def for_pool(
        cls,
        *,
        issuer: str,
        client_id: str,
        jwks_url: str = "",
        admin_group: str = "admin",
    ) -> AdminTokenVerifier:
        """A verifier fetching the keys from `jwks_url` (default: the issuer's JWKS document)."""
        from jwt import PyJWKClient

        url = jwks_url or f"{issuer.rstrip('/')}/.well-known/jwks.json"
        client = PyJWKClient(
            url,
            lifespan=JWKS_LIFESPAN_SECONDS,
            cooldown_duration=JWKS_REFRESH_COOLDOWN_SECONDS,
            timeout=JWKS_TIMEOUT_SECONDS,
        )
        return cls(issuer=issuer, client_id=client_id, jwks=client, admin_group=admin_group)

    def authenticate(self, token: str) -> AdminIdentity:
        """The identity a valid access token of this pool and client carries (any group)."""
        claims = self._claims(token)
        username = claims.get("username") or claims.get("cognito:username") or ""
        groups = claims.get("cognito:groups") or []
        if not isinstance(username, str) or not isinstance(groups, list):
            raise InvalidAdminToken("the token's username or groups are malformed")
        return AdminIdentity(
            sub=str(claims["sub"]),
            username=username,
            groups=tuple(str(group) for group in groups),
        )

    def authorize(self, token: str) -> AdminIdentity:
        """The identity of an admin: 401 for a bad token, 403 outside the admin group."""
        identity = self.authenticate(token)
        if self._admin_group not in identity.groups:
            raise NotAnAdmin(f"{identity.username or identity.sub} is not in the admin group")
        return identity

    def _claims(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidAdminToken("the token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
            raise InvalidAdminToken("the token is not signed by the user pool")
        try:
            key = self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as error:
            raise SignInUnavailable(f"cannot fetch the user pool's keys: {error}") from None
        except jwt.PyJWKClientError:
            raise InvalidAdminToken("the token is signed with a key the pool lacks") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                leeway=self._leeway,
                # Access tokens carry no `aud`; their audience is `client_id`, checked below.
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidAdminToken("the token has expired; sign in again") from None
        except jwt.InvalidIssuerError:
            raise InvalidAdminToken("the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidAdminToken(f"the token lacks the {error.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidAdminToken("the token's signature does not verify") from None
        except jwt.InvalidTokenError:
            raise InvalidAdminToken("the token is not valid") from None
        if claims.get("token_use") != "access":
            raise InvalidAdminToken("send the access token, not the ID token")
        if claims.get("client_id") != self._client_id:
            raise InvalidAdminToken("the token was issued to another app client")
        return claims


def verifier_from_settings(settings: Settings) -> AdminTokenVerifier:
    """The settings' verifier (ADMIN_TOKEN_ISSUER, ADMIN_CLIENT_ID, ADMIN_JWKS_URL)."""
    if not settings.admin_token_issuer or not settings.admin_client_id:
        raise SignInUnavailable("the admin sign-in is not configured for this function")
    return _cached_verifier(
        settings.admin_token_issuer,
        settings.admin_client_id,
        settings.admin_jwks_url,
        settings.admin_group,
    )


@cache
def _cached_verifier(
    issuer: str, client_id: str, jwks_url: str, admin_group: str
) -> AdminTokenVerifier:
    # One per execution environment: its key cache outlives invocations.
    return AdminTokenVerifier.for_pool(
        issuer=issuer, client_id=client_id, jwks_url=jwks_url, admin_group=admin_group
    )
