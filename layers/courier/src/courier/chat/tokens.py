"""Signed chat tokens (HS256 JWT): who the user is and which rooms they may join."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from courier.chat.limits import MAX_NAME_CHARS, MAX_SUB_CHARS
from courier.chat.room_access import grants_every_room

if TYPE_CHECKING:
    from courier.settings import Settings

ISSUER: Final = "courier"
AUDIENCE: Final = "courier-chat"
ALGORITHM: Final = "HS256"
# RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES: Final = 32
LEEWAY_SECONDS: Final = 5
DEFAULT_TTL_SECONDS: Final = 3600
# A verifier refuses tokens issued longer ago than this, whatever their `exp` says.
DEFAULT_MAX_AGE_SECONDS: Final = 24 * 3600
# A room name, or an fnmatch pattern over room names such as `team-*` (no `[...]` classes).
ROOM_GRANT_PATTERN: Final = r"^[a-z0-9*?_-]{1,64}$"
# Tokens ride in request headers and ticket records: keep them small.
MAX_ROOM_GRANTS: Final = 32

RoomGrant = Annotated[str, StringConstraints(pattern=ROOM_GRANT_PATTERN)]


class InvalidToken(Exception):
    """The token cannot be trusted; `reason` is safe to log (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatClaims(BaseModel):
    """The verified contents of a chat token."""

    # Other registered claims (nbf, jti) may be added later without breaking older verifiers.
    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUB_CHARS)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)] = Field(
        description="Display name shown to the room."
    )
    # Set only by `mint(..., allow_all_rooms=True)`: a wildcard-only grant is never an accident.
    # Declared before `rooms` so the rooms validator can read it.
    all_rooms: bool = False
    rooms: list[RoomGrant] = Field(max_length=MAX_ROOM_GRANTS)
    exp: int
    iat: int
    iss: Literal["courier"] = ISSUER
    aud: Literal["courier-chat"] = AUDIENCE

    @field_validator("rooms")
    @classmethod
    def _all_rooms_needs_the_flag(cls, rooms: list[str], info: ValidationInfo) -> list[str]:
        if not info.data.get("all_rooms") and any(grants_every_room(grant) for grant in rooms):
            raise ValueError("a wildcard-only grant needs the all_rooms claim")
        return rooms


class TokenSigner:
    """Mints and verifies chat tokens with one shared HS256 secret."""

    def __init__(self, secret: str, *, max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS) -> None:
        if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(f"the chat token secret must be at least {MIN_SECRET_BYTES} bytes")
        if max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be positive")
        self._key = secret.encode("utf-8")
        self.max_age_seconds = max_age_seconds

    def __repr__(self) -> str:
        return "TokenSigner(secret=***)"

    def mint(
        self,
        sub: str,
        name: str,
        rooms: Sequence[str],
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        now: datetime | None = None,
        *,
        allow_all_rooms: bool = False,
    ) -> str:
        """A signed token for `sub`, valid for `ttl_seconds` from `now` (default: the clock).

        A wildcard-only grant such as `*` opens every room, so it is refused unless the caller
        says so with `allow_all_rooms=True` (recorded in the token as the `all_rooms` claim).
        """
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if ttl_seconds > self.max_age_seconds:
            raise ValueError(
                f"ttl_seconds must be at most {self.max_age_seconds}: older tokens are refused"
            )
        if not allow_all_rooms and any(grants_every_room(grant) for grant in rooms):
            raise ValueError("a wildcard-only room grant opens every room: allow_all_rooms=True")
        issued = int((now or datetime.now(UTC)).timestamp())
        # Validated before signing so no token with claims `verify` would refuse is ever issued.
        claims = ChatClaims(
            sub=sub,
            name=name,
            rooms=list(rooms),
            iat=issued,
            exp=issued + ttl_seconds,
            all_rooms=allow_all_rooms,
        )
        # The flag only when set: tokens ride in headers and stay short.
        payload = claims.model_dump(exclude=None if allow_all_rooms else {"all_rooms"})
        import jwt  # here, not at import: the $connect authorizer redeems tickets, never tokens

        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, *, now: datetime | None = None) -> ChatClaims:
        """The token's claims; raises `InvalidToken` unless it is current, ours and well-formed.

        Current means unexpired and issued at most `max_age_seconds` before `now` (default: the
        clock), so a token minted with a long `exp` still dies after the deployment's maximum.
        """
        if not token:
            raise InvalidToken("missing token")
        import jwt  # here, not at import: the $connect authorizer redeems tickets, never tokens

        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        if algorithm is None:
            raise InvalidToken("malformed token")
        # PyJWT would refuse these too (algorithms=[HS256]); saying so first makes the reason clear
        # and keeps `none` and key-confusion tricks out whatever a future default might be.
        if algorithm != ALGORITHM:
            raise InvalidToken(f"algorithm {str(algorithm)[:16]!r} is not accepted")
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim {exc.claim!r}") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token issued in the future") from None
        except jwt.DecodeError:
            raise InvalidToken("malformed token") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token ({type(exc).__name__})") from None
        try:
            claims = ChatClaims.model_validate(payload)
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            raise InvalidToken(f"bad claims: {', '.join(fields) or 'payload'}") from None
        age = int((now or datetime.now(UTC)).timestamp()) - claims.iat
        if age > self.max_age_seconds + LEEWAY_SECONDS:
            raise InvalidToken(f"token older than {self.max_age_seconds} s")
        return claims


def token_signer_from_settings(settings: Settings) -> TokenSigner:
    """The signer for this deployment: Secrets Manager in AWS, a plain setting for local runs."""
    if settings.chat_token_secret_arn:
        from courier.secret_store import secret_value

        return TokenSigner(
            secret_value(settings.chat_token_secret_arn, json_key="secret"),
            max_age_seconds=settings.chat_token_max_age_seconds,
        )
    if settings.chat_token_secret:
        return TokenSigner(
            settings.chat_token_secret, max_age_seconds=settings.chat_token_max_age_seconds
        )
    raise RuntimeError(
        "no chat token secret: set CHAT_TOKEN_SECRET_ARN (Secrets Manager), "
        "or CHAT_TOKEN_SECRET for local runs and tests"
    )
