"""The admin API's chat moderation routes.

    DELETE /api/admin/rooms/{room}/messages/{message_id}   delete one message (table and Redis)
    POST   /api/admin/users/{user}/revoke                  refuse every chat token the user holds

Both are audited with what they changed (the deleted message's sender, time and length, never
its text; the user's previous and new revocation time).
"""

from __future__ import annotations

import re
from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from courier.admin import moderation
from courier.chat.channel import MESSAGE_ID_PATTERN
from courier.chat.frames import ROOM_PATTERN
from courier.http_api import wiring
from courier.http_api.admin_routes import ADMIN_TOKEN, request_id, signed_in_admin
from courier.http_api.errors import ApiError, error_responses
from courier.settings import get_settings

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

SECURITY: Final[list[dict[str, list[str]]]] = [{ADMIN_TOKEN: []}]
USER_PATTERN: Final = r"^[A-Za-z0-9_.:@-]{1,128}$"


class DeletedMessageOut(BaseModel):
    room: str
    message_id: str
    sender_sub: str
    sent_at: str
    in_recent_history: bool = Field(description="It was also in Redis' recent history.")


class RevokedOut(BaseModel):
    user: str
    revoked_at: str = Field(description="Tokens issued up to this time are refused.")
    previously_revoked_at: str | None = None


@router.delete(
    "/api/admin/rooms/<room>/messages/<message_id>",
    summary="Delete a chat message",
    description="Removes the message from the room's stored history and from the recent "
    "history in Redis (removed, not marked: history pages are cut by key). Audited.",
    tags=["admin"],
    security=SECURITY,
    responses={200: {"description": "Deleted"}, **error_responses(400, 401, 403, 404, 405, 422)},
)
def admin_delete_message(room: str, message_id: str) -> DeletedMessageOut:
    admin = signed_in_admin()
    if not re.fullmatch(ROOM_PATTERN, room):
        raise ApiError(400, "invalid_room", "room must match " + ROOM_PATTERN)
    if not re.fullmatch(MESSAGE_ID_PATTERN, message_id):
        raise ApiError(400, "invalid_message_id", "message_id must match " + MESSAGE_ID_PATTERN)
    settings = get_settings()
    try:
        change = moderation.delete_message(
            wiring.room_state(settings), wiring.message_store(settings), room, message_id
        )
    except moderation.MessageNotFound as error:
        raise ApiError(404, "message_not_found", str(error)) from None
    wiring.audit_log(settings).record(
        admin,
        "chat.message.delete",
        f"{room}/{message_id}",
        before=change.before,
        after=None,
        request_id=request_id(),
    )
    before = change.before or {}
    return DeletedMessageOut(
        room=room,
        message_id=message_id,
        sender_sub=str(before.get("sender_sub", "")),
        sent_at=str(before.get("sent_at", "")),
        in_recent_history=bool(before.get("in_recent_history")),
    )


@router.post(
    "/api/admin/users/<user>/revoke",
    summary="Revoke a user's chat tokens",
    description="Every chat token (and connect ticket) the user (`sub`) holds now is refused; "
    "tokens issued later work. Audited.",
    tags=["admin"],
    security=SECURITY,
    responses={200: {"description": "Revoked"}, **error_responses(400, 401, 403, 405, 422)},
)
def admin_revoke_user(user: str) -> RevokedOut:
    admin = signed_in_admin()
    if not re.fullmatch(USER_PATTERN, user):
        raise ApiError(400, "invalid_user", "user must match " + USER_PATTERN)
    settings = get_settings()
    change = moderation.revoke_chat_tokens(
        wiring.revocations(settings),
        user,
        max_token_age_seconds=settings.chat_token_max_age_seconds,
    )
    wiring.audit_log(settings).record(
        admin,
        "chat.user.revoke",
        user,
        before=change.before,
        after=change.after,
        request_id=request_id(),
    )
    return RevokedOut(
        user=user,
        revoked_at=str((change.after or {})["revoked_at"]),
        previously_revoked_at=(change.before or {}).get("revoked_at"),
    )
