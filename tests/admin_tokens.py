"""Test stand-ins for a Cognito user pool: RSA keys made in the test, tokens shaped like its own."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_TestPool1"
CLIENT_ID = "5hbs0c0testclientid0000000"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}


@dataclass
class FakeUserPool:
    """Keys it signs with, the JWKS document it publishes, and tokens like Cognito's."""

    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey("key-1")])
    issuer: str = ISSUER
    client_id: str = CLIENT_ID

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}

    def rotate(self, kid: str) -> SigningKey:
        key = SigningKey(kid)
        self.keys.append(key)
        return key

    def access_token(
        self,
        username: str = "alice",
        groups: list[str] | None = None,
        *,
        key: SigningKey | None = None,
        lifetime: int = 3600,
        issued_at: float | None = None,
        **overrides: Any,
    ) -> str:
        """An access token as Cognito issues one (claims per its documentation)."""
        now = int(issued_at if issued_at is not None else time.time())
        claims: dict[str, Any] = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)),
            "iss": self.issuer,
            "client_id": self.client_id,
            "origin_jti": str(uuid.uuid4()),
            "token_use": "access",
            "scope": "openid email profile",
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "username": username,
        }
        if groups is not None:
            claims["cognito:groups"] = groups
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signer = key or self.keys[0]
        return jwt.encode(claims, signer.private, algorithm="RS256", headers={"kid": signer.kid})
