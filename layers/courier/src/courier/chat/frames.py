"""The public v1 chat wire contract: client frames, server events, and parsing (schemas/chat-*)."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.config import JsonDict
from pydantic_core import ErrorDetails

# Part of this contract, kept in courier.chat.limits so the tokens need not build these models.
from courier.chat.limits import MAX_NAME_CHARS as MAX_NAME_CHARS
from courier.chat.limits import MAX_SUB_CHARS as MAX_SUB_CHARS
from courier.chat.limits import ROOM_PATTERN as ROOM_PATTERN

SCHEMA_VERSION: Final = 1
CLIENT_MSG_ID_PATTERN: Final = r"^[A-Za-z0-9_.:-]{1,64}$"
# JSON Schema `pattern` is a search, not a full match: "contains one non-whitespace character".
NOT_BLANK_PATTERN: Final = r"\S"
MAX_TEXT_CHARS: Final = 2000
# Far below API Gateway's 32 KB frame / 128 KB message, so one frame never needs reassembly and
# a parsed frame is cheap; 2000 characters of 4-byte UTF-8 text (8 KB) still fit with room to spare.
MAX_FRAME_BYTES: Final = 16 * 1024
# What `@connections` accepts in one post: a server event (a history page above all) must fit.
MAX_EVENT_BYTES: Final = 128 * 1024
HISTORY_MAX_LIMIT: Final = 100
HISTORY_DEFAULT_LIMIT: Final = 50
MAX_CURSOR_CHARS: Final = 512
MAX_MESSAGE_ID_CHARS: Final = 128
MAX_LISTED_PROBLEMS: Final = 10

VALID_ACTIONS: Final = ("join", "leave", "send", "history", "ping")

CLIENT_FRAME_SCHEMA_ID: Final = "https://courier.example/schemas/chat-client-frame.v1.schema.json"
SERVER_EVENT_SCHEMA_ID: Final = "https://courier.example/schemas/chat-server-event.v1.schema.json"
_DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"


class ErrorCode(StrEnum):
    """Every `code` an `error` event may carry; clients switch on these, never on `reason`."""

    MALFORMED_JSON = "malformed_json"
    OVERSIZE = "oversize"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_FRAME = "invalid_frame"
    FORBIDDEN = "forbidden"
    NOT_JOINED = "not_joined"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


Room = Annotated[str, StringConstraints(pattern=ROOM_PATTERN)]
ClientMsgId = Annotated[str, StringConstraints(pattern=CLIENT_MSG_ID_PATTERN)]
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS, pattern=NOT_BLANK_PATTERN)
]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_CHARS)]
Sub = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUB_CHARS)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_ID_CHARS)]


def _tag_is_required(tag: str) -> Callable[[JsonDict], None]:
    """A json_schema_extra hook listing the discriminator as required.

    The tag has a default so code can write `PingFrame()`, which would otherwise make pydantic
    call it optional; on the wire it is always present and the union cannot be resolved without it.
    """

    def hook(schema: JsonDict) -> None:
        listed = schema.get("required", [])
        required = [name for name in listed if name != tag] if isinstance(listed, list) else []
        schema["required"] = [tag, *required]

    return hook


# Client -> server ------------------------------------------------------------------------------


class _ClientFrame(BaseModel):
    # Strict: the schema says integer/string, so "50" or 1 must not slip through by coercion.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, json_schema_extra=_tag_is_required("action")
    )


class JoinFrame(_ClientFrame):
    """Join a room: receive its messages and presence; the token must allow the room."""

    action: Literal["join"] = "join"
    room: Room


class LeaveFrame(_ClientFrame):
    """Leave a room: stop receiving its messages."""

    action: Literal["leave"] = "leave"
    room: Room


class SendFrame(_ClientFrame):
    """Send a message to a joined room; `client_msg_id` makes a retried send deliver once."""

    action: Literal["send"] = "send"
    room: Room
    text: Text = Field(description="Message text: not only whitespace.")
    client_msg_id: ClientMsgId = Field(
        description="Client-chosen id, unique per sender: a resend with the same id is not "
        "broadcast again, only acknowledged."
    )


class HistoryFrame(_ClientFrame):
    """Ask for a page of a room's history: the newest page, or the one before `cursor`."""

    action: Literal["history"] = "history"
    room: Room
    cursor: Cursor | None = Field(
        default=None, description="`next_cursor` of the previous page; absent for the newest."
    )
    limit: int = Field(default=HISTORY_DEFAULT_LIMIT, ge=1, le=HISTORY_MAX_LIMIT)


class PingFrame(_ClientFrame):
    """Heartbeat: answered with `pong`."""

    action: Literal["ping"] = "ping"


ClientFrame = Annotated[
    JoinFrame | LeaveFrame | SendFrame | HistoryFrame | PingFrame,
    Field(discriminator="action"),
]
_CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(Exception):
    """A frame the server cannot act on; answered with an `error` event, connection kept open."""

    def __init__(self, code: ErrorCode, reason: str, action: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.action = action

    def to_event(self) -> ErrorEvent:
        """The `error` event answering this frame (with the valid actions when that helps)."""
        return ErrorEvent(
            code=self.code,
            reason=self.reason,
            action=self.action,
            valid_actions=list(VALID_ACTIONS) if self.code is ErrorCode.UNKNOWN_ACTION else None,
        )


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON (and every other client library) does not.
    raise ValueError(f"{name} is not JSON")


_PATTERN_RULES: Final = {
    "room": "must be 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
    "client_msg_id": "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'",
    "text": "must contain a non-whitespace character",
}


def _describe(error: ErrorDetails) -> str:
    """One problem as `field: what is wrong`, never quoting the value the client sent."""
    loc = error["loc"][1:]  # the first element is the union tag (the action)
    field = ".".join(str(part)[:64] for part in loc) or "frame"
    kind = error["type"]
    if kind == "extra_forbidden":
        problem = "unknown field"
    elif kind == "missing":
        problem = "required"
    elif kind == "string_pattern_mismatch" and field in _PATTERN_RULES:
        problem = _PATTERN_RULES[field]
    else:
        problem = error["msg"]  # pydantic's messages state the rule, not the input
    return f"{field}: {problem}"


def parse_client_frame(raw: str | bytes | None) -> ClientFrame:
    """Parse one WebSocket frame body into a client frame, or raise `FrameError`."""
    if raw is None:
        raise FrameError(ErrorCode.MALFORMED_JSON, "empty frame; send a JSON object")
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogatepass")
    # Size first: a huge frame is refused before any work is spent parsing it.
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError(
            ErrorCode.OVERSIZE, f"frame is {len(data)} bytes; the limit is {MAX_FRAME_BYTES}"
        )
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FrameError(ErrorCode.MALFORMED_JSON, "frame is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise FrameError(ErrorCode.MALFORMED_JSON, "frame must be a JSON object")

    action = body.get("action")
    if not isinstance(action, str) or action not in VALID_ACTIONS:
        what = "missing action" if action is None else "unknown action"
        raise FrameError(
            ErrorCode.UNKNOWN_ACTION, f"{what}; valid actions: {', '.join(VALID_ACTIONS)}"
        )
    try:
        return _CLIENT_FRAME.validate_python(body)
    except ValidationError as exc:
        problems = [_describe(e) for e in exc.errors(include_url=False)]
        # A frame stuffed with unknown fields must not turn into a huge error event.
        if len(problems) > MAX_LISTED_PROBLEMS:
            extra = len(problems) - MAX_LISTED_PROBLEMS
            problems = [*problems[:MAX_LISTED_PROBLEMS], f"and {extra} more"]
        raise FrameError(ErrorCode.INVALID_FRAME, "; ".join(problems), action=action) from None


# Server -> client ------------------------------------------------------------------------------


class Member(BaseModel):
    """A user in a room, as the token names them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sub: Sub
    name: DisplayName


class _ServerEvent(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra=_tag_is_required("type")
    )


class MessageEvent(_ServerEvent):
    """A message in a room, as broadcast and as listed in history pages."""

    type: Literal["message"] = "message"
    room: Room
    message_id: MessageId = Field(description="Server-assigned id, ordered by send time.")
    sender: Member
    text: Text
    sent_at: AwareDatetime
    client_msg_id: ClientMsgId | None = None


class AckEvent(_ServerEvent):
    """To the sender only: the message was accepted, under this server id."""

    type: Literal["ack"] = "ack"
    room: Room
    client_msg_id: ClientMsgId
    message_id: MessageId
    sent_at: AwareDatetime
    duplicate: bool = Field(
        description="True when this client_msg_id was seen before: acknowledged, not resent."
    )


class JoinedEvent(_ServerEvent):
    """Someone joined the room."""

    type: Literal["joined"] = "joined"
    room: Room
    member: Member


class LeftEvent(_ServerEvent):
    """Someone left the room (or their connection closed)."""

    type: Literal["left"] = "left"
    room: Room
    member: Member


class PresenceEvent(_ServerEvent):
    """Who is in the room now; sent to a connection when it joins."""

    type: Literal["presence"] = "presence"
    room: Room
    members: list[Member]


class HistoryEvent(_ServerEvent):
    """A page of history, oldest message first; `next_cursor` (absent on the last) goes back."""

    type: Literal["history"] = "history"
    room: Room
    messages: list[MessageEvent]
    next_cursor: Cursor | None = None


class ErrorEvent(_ServerEvent):
    """A frame was refused; the connection stays open."""

    type: Literal["error"] = "error"
    code: ErrorCode
    reason: str = Field(description="For people; clients act on `code`.")
    action: str | None = Field(default=None, description="The action of the refused frame.")
    valid_actions: list[str] | None = Field(
        default=None, description="Present with `unknown_action`."
    )


class PongEvent(_ServerEvent):
    """Answer to `ping`."""

    type: Literal["pong"] = "pong"
    at: AwareDatetime


ServerEvent = Annotated[
    MessageEvent
    | AckEvent
    | JoinedEvent
    | LeftEvent
    | PresenceEvent
    | HistoryEvent
    | ErrorEvent
    | PongEvent,
    Field(discriminator="type"),
]
_SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)


def encode_event(event: ServerEvent) -> bytes:
    """The event as posted to `@connections`: compact UTF-8 JSON without null fields."""
    return event.model_dump_json(exclude_none=True).encode("utf-8")


def decode_event(data: str | bytes) -> ServerEvent:
    """A server event read back (tests, clients written in Python, stored history)."""
    return _SERVER_EVENT.validate_json(data)


# JSON Schemas committed under schemas/ -------------------------------------------------------


def _with_header(schema: dict[str, Any], schema_id: str, title: str, description: str) -> Any:
    return {
        "$schema": _DRAFT_2020_12,
        "$id": schema_id,
        "title": title,
        "description": description,
        **schema,
    }


def client_frame_json_schema() -> dict[str, object]:
    """JSON Schema of every frame a client may send (v1)."""
    result: dict[str, object] = _with_header(
        _CLIENT_FRAME.json_schema(mode="validation"),
        CLIENT_FRAME_SCHEMA_ID,
        "ChatClientFrame",
        f"One frame a client sends on the Courier chat WebSocket (version {SCHEMA_VERSION}); "
        f"at most {MAX_FRAME_BYTES} bytes of UTF-8 JSON.",
    )
    return result


def server_event_json_schema() -> dict[str, object]:
    """JSON Schema of every event the server sends (v1), as `encode_event` writes them."""
    result: dict[str, object] = _with_header(
        _SERVER_EVENT.json_schema(mode="serialization"),
        SERVER_EVENT_SCHEMA_ID,
        "ChatServerEvent",
        f"One event the Courier chat WebSocket sends to a client (version {SCHEMA_VERSION}); "
        "fields that would be null are left out.",
    )
    return result
