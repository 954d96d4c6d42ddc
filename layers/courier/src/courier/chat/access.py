"""Who may use the chat: verified, unrevoked tokens, and the single-use tickets they buy."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from courier.chat.tokens import ChatClaims, InvalidClaims, InvalidToken

if TYPE_CHECKING:
    from courier.chat.revocations import RevocationList
    from courier.chat.ticket_store import TicketStore
    from courier.chat.tokens import TokenSigner
    from courier.settings import Settings

# 256 bits: unguessable within a ticket's minute of life.
TICKET_BYTES: Final = 32
# A revocation must outlive every token it refuses; past their maximum age the age check does.
REVOCATION_MARGIN_SECONDS: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime
    expires_in: int  # seconds


class ChatAccess:
    """Checks tokens (signature, expiry, maximum age, revocation) and issues and redeems tickets.

    A ticket stands for the token that bought it: redeeming one yields that token's claims, and a
    revocation of the user after the ticket was issued still refuses it.
    """

    def __init__(
        self,
        signer: TokenSigner | Callable[[], TokenSigner],
        tickets: TicketStore,
        revocations: RevocationList,
        *,
        ticket_ttl_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`signer` may be a function building it at its first use: redeeming never needs it."""
        self._signer = signer
        self._tickets = tickets
        self._revocations = revocations
        self._ticket_ttl = ticket_ttl_seconds
        self._clock = clock

    def authenticate(self, token: str) -> ChatClaims:
        """The token's claims; `InvalidToken` unless valid, young enough and not revoked."""
        claims = self._token_signer().verify(token, now=self._clock())
        self._refuse_revoked(claims)
        return claims

    def issue_ticket(self, token: str) -> IssuedTicket:
        """A single-use ticket for the token's holder, valid `ticket_ttl_seconds` at most."""
        claims = self.authenticate(token)
        now = int(self._clock().timestamp())
        # Never past the token's own expiry.
        expires_at = min(now + self._ticket_ttl, claims.exp)
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        self._tickets.put(ticket, claims.to_json(), expires_at=expires_at)
        return IssuedTicket(
            ticket=ticket,
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            expires_in=max(0, expires_at - now),
        )

    def _token_signer(self) -> TokenSigner:
        if callable(self._signer):
            self._signer = self._signer()
        return self._signer

    def redeem_ticket(self, ticket: str) -> ChatClaims:
        """The claims a ticket stands for, consuming it; `InvalidToken` if it cannot be used.

        The only way into the WebSocket: a token never travels in a URL (access logs keep URLs).
        """
        if not ticket:
            raise InvalidToken("missing ticket")
        stored = self._tickets.consume(ticket, now=int(self._clock().timestamp()))
        if stored is None:
            raise InvalidToken("unknown, used or expired ticket")
        try:
            claims = ChatClaims.from_json(stored)
        except InvalidClaims:
            raise InvalidToken("unreadable ticket") from None
        self._refuse_revoked(claims)
        return claims

    def _refuse_revoked(self, claims: ChatClaims) -> None:
        revoked_at = self._revocations.revoked_at(claims.sub)
        # `iat` has whole seconds: a token from the second of the revocation is refused too.
        if revoked_at is not None and claims.iat <= revoked_at:
            raise InvalidToken("token revoked")


def revoke_user(
    revocations: RevocationList, sub: str, *, max_token_age_seconds: int, now: datetime
) -> datetime:
    """Refuse every token of `sub` issued up to `now` (tickets they bought too); returns `now`."""
    if not sub:
        raise ValueError("sub must not be empty")
    revoked_at = int(now.timestamp())
    revocations.revoke(
        sub,
        revoked_at=revoked_at,
        expires_at=revoked_at + max_token_age_seconds + REVOCATION_MARGIN_SECONDS,
    )
    return datetime.fromtimestamp(revoked_at, UTC)


def chat_access_from_settings(settings: Settings) -> ChatAccess:
    """The deployment's access checks (the signer is built per call: secrets rotate).

    The signer, and so the token secret, only when a token is checked: the $connect authorizer
    redeems tickets alone, and need not read the secret (a Secrets Manager client and call).
    """
    from courier.chat.revocations import RevocationList
    from courier.chat.ticket_store import TicketStore
    from courier.chat.tokens import token_signer_from_settings

    return ChatAccess(
        lambda: token_signer_from_settings(settings),
        TicketStore.from_settings(settings),
        RevocationList.from_settings(settings),
        ticket_ttl_seconds=settings.chat_ticket_ttl_seconds,
    )
