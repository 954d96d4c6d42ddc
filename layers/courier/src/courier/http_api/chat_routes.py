"""The HTTP API's chat routes, authorized by the chat token: connect tickets and room history."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from courier.chat.frames import (
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    MAX_CURSOR_CHARS,
    ROOM_PATTERN,
    HistoryEvent,
)
from courier.chat.history import history_page
from courier.chat.message_store import BadCursor
from courier.chat.room_access import may_access
from courier.chat.tokens import InvalidToken
from courier.http_api import wiring
from courier.http_api.errors import ApiError, error_responses
from courier.http_api.models import ChatTicketOut
from courier.http_api.origin import header
from courier.settings import get_settings

CHAT_TOKEN: Final = "chatToken"  # noqa: S105 (a scheme name)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, headers={"WWW-Authenticate": "Bearer"})


def _bearer_token() -> str:
    """The request's `Authorization: Bearer` value, or 401."""
    authorization = header(router.current_event.headers, "authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send Authorization: Bearer <chat token>")
    return token.strip()


@router.post(
    "/api/chat/tickets",
    summary="Get a single-use WebSocket connect ticket",
    description="Exchanges the chat token (`Authorization: Bearer`) for a ticket to put in the "
    "WebSocket URL (`?ticket=`) in place of the token, so the long-lived token never appears "
    "in a URL or an access log. A ticket opens one connection within `expires_in` seconds "
    "(about a minute, never past the token's expiry); get a new one for every connect.",
    tags=["chat"],
    security=[{CHAT_TOKEN: []}],
    responses={
        201: {
            "description": "A ticket",
            "content": {"application/json": {"model": ChatTicketOut}},
        },
        **error_responses(401, 403, 405, 413, 422),
    },
)
def create_chat_ticket() -> Response[dict[str, Any]]:
    token = _bearer_token()
    try:
        issued = wiring.chat_access(get_settings()).issue_ticket(token)
    except InvalidToken as error:
        raise _unauthorized(error.reason) from None
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=ChatTicketOut.of(issued).model_dump(mode="json"),
        # A ticket is a credential: no cache may keep it.
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/api/rooms/<room>/messages",
    summary="Read a page of a room's history",
    description="The newest page, or the one before `cursor` (a previous page's next_cursor); "
    "oldest message first, the same shape as the WebSocket `history` event. Requires "
    "`Authorization: Bearer <chat token>` whose rooms cover the room.",
    tags=["chat"],
    security=[{CHAT_TOKEN: []}],
    responses={
        200: {"description": "A history page"},
        **error_responses(400, 401, 403, 405, 422),
    },
)
def room_messages(
    room: str,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of a page")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=HISTORY_MAX_LIMIT, description="Messages per page")
    ] = HISTORY_DEFAULT_LIMIT,
) -> HistoryEvent:
    settings = get_settings()
    token = _bearer_token()
    try:
        claims = wiring.chat_access(settings).authenticate(token)
    except InvalidToken as error:
        raise _unauthorized(error.reason) from None
    if not re.fullmatch(ROOM_PATTERN, room):
        raise ApiError(400, "invalid_room", "room must match " + ROOM_PATTERN)
    if not may_access(claims.rooms, room):
        raise ApiError(403, "forbidden", f"your token does not cover room {room!r}")
    try:
        return history_page(
            wiring.room_state(settings),
            wiring.message_store(settings),
            room,
            cursor=cursor,
            limit=limit,
        )
    except BadCursor as error:
        raise ApiError(400, "bad_cursor", str(error)) from None
