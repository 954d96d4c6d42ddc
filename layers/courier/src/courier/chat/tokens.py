"""Signed chat tokens (HS256 JWT): who the user is and which rooms they may join."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from courier.chat.limits import MAX_NAME_CHARS, MAX_SUB_CHARS
from courier.chat.room_access import grants_every_room
from courier.lax_values import boolean, whole_number

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

_ROOM_GRANT = re.compile(ROOM_GRANT_PATTERN)


class InvalidToken(Exception):
    """The token cannot be trusted; `reason` is safe to log (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Problem = tuple[tuple[str | int, ...], str]  # where (claim, then list index), what rule


class InvalidClaims(ValueError):
    """Claims of the wrong type or shape: `problems` says where and which rule, never values."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        self.fields = tuple(sorted({str(where[0]) for where, _ in self.problems if where}))
        super().__init__(f"bad claims: {', '.join(self.fields) or 'payload'}")


@dataclass(frozen=True, kw_only=True)
class ChatClaims:
    """The verified contents of a chat token; checked when built (`InvalidClaims` otherwise).

    A dataclass that checks itself, not a pydantic model: the $connect authorizer reads the
    claims of every ticket and would otherwise import pydantic for them alone (~80 ms of CPU of
    its cold start). Numbers and the flag are read as pydantic's lax mode read them.
    """

    sub: str
    name: str  # display name shown to the room
    # Set only by `mint(..., allow_all_rooms=True)`: a wildcard-only grant is never an accident.
    all_rooms: bool = False
    rooms: list[str]
    exp: int
    iat: int
    iss: Literal["courier"] = ISSUER
    aud: Literal["courier-chat"] = AUDIENCE

    def __post_init__(self) -> None:
        problems = _claim_problems(self.__dict__)
        if problems:
            raise InvalidClaims(problems)
        for name, read in (("all_rooms", boolean), ("exp", whole_number), ("iat", whole_number)):
            object.__setattr__(self, name, read(getattr(self, name)))
        object.__setattr__(self, "rooms", list(self.rooms))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ChatClaims:
        """The claims in a decoded token or ticket; other registered claims (nbf, jti) ignored."""
        known = {spec.name: payload[spec.name] for spec in fields(cls) if spec.name in payload}
        missing: list[Problem] = [((name,), "required") for name in _REQUIRED if name not in known]
        problems = missing + _claim_problems(known)
        if problems:
            raise InvalidClaims(problems)
        return cls(**known)

    @classmethod
    def from_json(cls, text: str) -> ChatClaims:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidClaims([((), "not JSON")]) from None
        if not isinstance(payload, dict):
            raise InvalidClaims([((), "not a JSON object")])
        return cls.from_payload(payload)

    def as_payload(self, *, with_all_rooms: bool) -> dict[str, Any]:
        """The claims to sign; `all_rooms` only when set (tokens ride in headers: keep short)."""
        payload = asdict(self)
        if not with_all_rooms:
            del payload["all_rooms"]
        return payload

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)


_REQUIRED: Final = ("sub", "name", "rooms", "exp", "iat")


def _claim_problems(values: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with the claims among `values` (absent ones are not checked here)."""
    problems: list[Problem] = []
    for name, most in (("sub", MAX_SUB_CHARS), ("name", MAX_NAME_CHARS)):
        value = values.get(name, "x")
        if not isinstance(value, str) or not 1 <= len(value) <= most:
            problems.append(((name,), f"a string of 1 to {most} characters"))
    for name, read, rule in (
        ("all_rooms", boolean, "a boolean"),
        ("exp", whole_number, "a whole number"),
        ("iat", whole_number, "a whole number"),
    ):
        if name in values:
            try:
                read(values[name])
            except ValueError:
                problems.append(((name,), rule))
    rooms = values.get("rooms", [])
    if not isinstance(rooms, list | tuple):
        problems.append((("rooms",), "a list of room grants"))
    elif len(rooms) > MAX_ROOM_GRANTS:
        problems.append((("rooms",), f"at most {MAX_ROOM_GRANTS} room grants"))
    else:
        problems += [
            (("rooms", index), f"a room name or pattern matching {ROOM_GRANT_PATTERN}")
            for index, grant in enumerate(rooms)
            if not (isinstance(grant, str) and _ROOM_GRANT.fullmatch(grant))
        ]
        flagged = values.get("all_rooms", False)
        if (
            # A wildcard-only grant opens every room: only with the all_rooms claim.
            not any(where[0] in ("rooms", "all_rooms") for where, _ in problems)
            and not boolean(flagged)
            and any(grants_every_room(grant) for grant in rooms)
        ):
            problems.append((("rooms",), "a wildcard-only grant needs the all_rooms claim"))
    for name, expected in (("iss", ISSUER), ("aud", AUDIENCE)):
        if values.get(name, expected) != expected:
            problems.append(((name,), f"must be {expected!r}"))
    return problems


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
        payload = claims.as_payload(with_all_rooms=allow_all_rooms)
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
            claims = ChatClaims.from_payload(payload)
        except InvalidClaims as exc:
            raise InvalidToken(str(exc)) from None
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
