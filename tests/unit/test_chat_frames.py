"""The chat v1 wire contract: parsing client frames, encoding server events, committed schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from courier import schema_export
from courier.chat.frames import (
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    MAX_FRAME_BYTES,
    MAX_TEXT_CHARS,
    VALID_ACTIONS,
    AckEvent,
    ErrorCode,
    ErrorEvent,
    FrameError,
    HistoryEvent,
    HistoryFrame,
    JoinedEvent,
    JoinFrame,
    LeaveFrame,
    LeftEvent,
    Member,
    MessageEvent,
    PingFrame,
    PongEvent,
    PresenceEvent,
    SendFrame,
    ServerEvent,
    client_frame_json_schema,
    decode_event,
    encode_event,
    parse_client_frame,
    server_event_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
CLIENT_SCHEMA = SCHEMAS / "chat-client-frame.v1.schema.json"
SERVER_SCHEMA = SCHEMAS / "chat-server-event.v1.schema.json"
SENT_AT = datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=timezone(timedelta(hours=9)))
ALICE = Member(sub="u-1", name="Alice")


def send(**fields: Any) -> dict[str, Any]:
    return {"action": "send", "room": "lobby", "text": "hello", "client_msg_id": "c-1", **fields}


def frame_error(raw: str | bytes | None) -> FrameError:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(raw)
    return caught.value


def is_frame_valid(data: object) -> bool:
    try:
        parse_client_frame(json.dumps(data, ensure_ascii=False))
    except FrameError:
        return False
    return True


@pytest.fixture(scope="module")
def client_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(CLIENT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def server_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SERVER_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


# Valid frames ------------------------------------------------------------------------------


def test_each_action_parses_into_its_model() -> None:
    # Given one valid frame per action / When parsed / Then each becomes its own model
    frames = [
        parse_client_frame('{"action": "join", "room": "lobby"}'),
        parse_client_frame('{"action": "leave", "room": "team-a"}'),
        parse_client_frame(json.dumps(send(text="안녕 😀"), ensure_ascii=False)),
        parse_client_frame('{"action": "history", "room": "lobby", "cursor": "abc", "limit": 7}'),
        parse_client_frame(b'{"action": "ping"}'),
    ]
    assert frames == [
        JoinFrame(room="lobby"),
        LeaveFrame(room="team-a"),
        SendFrame(room="lobby", text="안녕 😀", client_msg_id="c-1"),
        HistoryFrame(room="lobby", cursor="abc", limit=7),
        PingFrame(),
    ]
    assert [f.action for f in frames] == list(VALID_ACTIONS)


def test_history_defaults_to_the_newest_page() -> None:
    # Given a history frame with only a room / Then it asks for the newest default-sized page
    frame = parse_client_frame('{"action": "history", "room": "lobby"}')
    assert isinstance(frame, HistoryFrame)
    assert frame.cursor is None
    assert frame.limit == HISTORY_DEFAULT_LIMIT == 50


def test_frames_are_immutable() -> None:
    frame = parse_client_frame('{"action": "join", "room": "lobby"}')
    assert isinstance(frame, JoinFrame)
    with pytest.raises(ValidationError):
        frame.room = "other"  # type: ignore[misc]


# Errors, one per class ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "hello",
        "{'action': 'ping'}",
        '{"action": "ping"',
        '{"action": "ping"} trailing',
        '{"action": "ping", "limit": NaN}',
        b'{"action": "ping", "x": "\xff"}',
        "[" * 5000 + "]" * 5000,
    ],
    ids=[
        "none", "empty", "blank", "bare word", "single quotes", "truncated", "trailing data",
        "NaN", "invalid utf-8", "deep nesting",
    ],
)  # fmt: skip
def test_not_json_is_malformed_json(raw: str | bytes | None) -> None:
    # Given a frame that is not JSON / When parsed / Then malformed_json
    assert frame_error(raw).code is ErrorCode.MALFORMED_JSON


@pytest.mark.parametrize("raw", ["[]", '[{"action": "ping"}]', '"ping"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_malformed_json(raw: str) -> None:
    error = frame_error(raw)
    assert error.code is ErrorCode.MALFORMED_JSON
    assert "object" in error.reason


def test_oversize_counts_utf8_bytes_not_characters() -> None:
    # Given 6000 Hangul syllables: 6000 characters (well under the byte limit as characters)
    # but 18000 bytes of UTF-8
    raw = json.dumps(send(text="가" * 6000), ensure_ascii=False)
    assert len(raw) < MAX_FRAME_BYTES < len(raw.encode())
    # When parsed as text or bytes / Then oversize: the size is checked before the text length
    for given in (raw, raw.encode()):
        error = frame_error(given)
        assert error.code is ErrorCode.OVERSIZE
        assert str(MAX_FRAME_BYTES) in error.reason
        assert "가" not in error.reason


def test_the_byte_limit_is_inclusive() -> None:
    # Given a ping padded with JSON whitespace to exactly the limit, and one byte more
    frame = '{"action": "ping"}'
    at_limit = frame + " " * (MAX_FRAME_BYTES - len(frame))
    # Then the first parses and the second is oversize
    assert parse_client_frame(at_limit) == PingFrame()
    assert frame_error(at_limit + " ").code is ErrorCode.OVERSIZE


@pytest.mark.parametrize(
    "raw",
    ['{"room": "lobby"}', '{"action": "shout", "room": "lobby"}', '{"action": 1}',
     '{"action": null}', '{"action": "JOIN", "room": "lobby"}', '{"action": ""}',
     '{"action": ["join"]}'],
)  # fmt: skip
def test_missing_or_unknown_action_lists_the_valid_ones(raw: str) -> None:
    # Given a frame without a known action / When parsed
    error = frame_error(raw)
    # Then unknown_action, whose reason and error event list every valid action
    assert error.code is ErrorCode.UNKNOWN_ACTION
    for action in VALID_ACTIONS:
        assert action in error.reason
    event = error.to_event()
    assert event.valid_actions == list(VALID_ACTIONS)
    assert event.action is None


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        # wrong types
        ({"action": "join", "room": 123}, ["room"]),
        ({"action": "join", "room": None}, ["room"]),
        ({"action": "history", "room": "lobby", "limit": "10"}, ["limit"]),
        ({"action": "history", "room": "lobby", "limit": True}, ["limit"]),
        ({"action": "history", "room": "lobby", "limit": 10.5}, ["limit"]),
        ({"action": "history", "room": "lobby", "cursor": 5}, ["cursor"]),
        (send(text=None), ["text"]),
        (send(text=["hi"]), ["text"]),
        (send(client_msg_id=7), ["client_msg_id"]),
        # missing fields
        ({"action": "join"}, ["room"]),
        ({"action": "send", "room": "lobby"}, ["text", "client_msg_id"]),
        # extra fields
        ({"action": "ping", "at": 1}, ["at"]),
        (send(room_id="lobby"), ["room_id"]),
        # limits
        ({"action": "history", "room": "lobby", "limit": 0}, ["limit"]),
        ({"action": "history", "room": "lobby", "limit": HISTORY_MAX_LIMIT + 1}, ["limit"]),
        ({"action": "history", "room": "lobby", "cursor": ""}, ["cursor"]),
        ({"action": "history", "room": "lobby", "cursor": "c" * 513}, ["cursor"]),
        (send(text=""), ["text"]),
        (send(text="x" * (MAX_TEXT_CHARS + 1)), ["text"]),
        (send(client_msg_id=""), ["client_msg_id"]),
        (send(client_msg_id="a" * 65), ["client_msg_id"]),
        (send(client_msg_id="has space"), ["client_msg_id"]),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else ",".join(v),
)
def test_invalid_frames_name_every_bad_field(data: dict[str, Any], fields: list[str]) -> None:
    # Given a frame with a known action but bad fields / When parsed
    error = frame_error(json.dumps(data))
    # Then invalid_frame for that action, naming each bad field
    assert error.code is ErrorCode.INVALID_FRAME
    assert error.action == data["action"]
    named = [part.split(":")[0] for part in error.reason.split("; ")]
    assert named == fields


@pytest.mark.parametrize(
    ("room", "valid"),
    [
        ("lobby", True), ("a", True), ("0", True), ("team-a_1", True), ("r" * 64, True),
        ("r" * 65, False), ("", False), ("Lobby", False), ("-lobby", False), ("_lobby", False),
        ("team a", False), ("team*", False), ("로비", False), ("lobby\n", False),
        ("team.a", False), ("team/a", False),
    ],
)  # fmt: skip
def test_room_pattern(room: str, valid: bool) -> None:
    # Given a join to `room` / Then it parses iff the name fits the pattern
    assert is_frame_valid({"action": "join", "room": room}) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("hi", True), (" padded ", True), ("x" * MAX_TEXT_CHARS, True),
        ("😀" * MAX_TEXT_CHARS, True), ("가" * MAX_TEXT_CHARS, True),
        (" ", False), ("   ", False), ("\n\t\r ", False), ("\u3000\u00a0", False),
        ("x" * (MAX_TEXT_CHARS + 1), False),
    ],
    ids=["short", "padded", "2000 ascii", "2000 emoji", "2000 hangul", "space", "spaces",
         "control whitespace", "unicode spaces", "2001"],
)  # fmt: skip
def test_text_is_bounded_and_not_only_whitespace(text: str, valid: bool) -> None:
    assert is_frame_valid(send(text=text)) is valid


def test_a_frame_stuffed_with_fields_gets_a_bounded_reason() -> None:
    # Given a ping with 500 unknown fields (still under the byte limit)
    raw = json.dumps({"action": "ping", **{f"f{i}": 0 for i in range(500)}})
    assert len(raw.encode()) <= MAX_FRAME_BYTES
    # When parsed / Then the reason lists the first ten and counts the rest
    error = frame_error(raw)
    assert error.code is ErrorCode.INVALID_FRAME
    assert error.reason.split("; ")[-1] == "and 490 more"
    assert len(error.reason) < 500


def test_whitespace_only_text_says_why() -> None:
    error = frame_error(json.dumps(send(text="  \n ")))
    assert error.code is ErrorCode.INVALID_FRAME
    assert error.reason == "text: must contain a non-whitespace character"


def test_the_reason_never_echoes_the_message_text() -> None:
    # Given a send whose text is too long and whose other fields are wrong too
    secret = "my pin is 4321 " * 200
    raw = json.dumps(send(text=secret, room="Bad Room", extra=secret[:20]))
    # When parsed / Then the reason names the problems but quotes none of the text
    error = frame_error(raw)
    assert error.code is ErrorCode.INVALID_FRAME
    assert "my pin" not in error.reason
    assert "4321" not in error.reason
    assert "my pin" not in str(error)
    assert "my pin" not in encode_event(error.to_event()).decode()


def test_frame_errors_become_error_events() -> None:
    # Given an invalid send / When turned into an event / Then it carries code, reason and action
    error = frame_error(json.dumps(send(text="")))
    event = error.to_event()
    assert event == ErrorEvent(code=ErrorCode.INVALID_FRAME, reason=error.reason, action="send")
    body = json.loads(encode_event(event))
    assert body["type"] == "error"
    assert body["code"] == "invalid_frame"
    assert "valid_actions" not in body


def test_error_codes_are_the_documented_set() -> None:
    assert [c.value for c in ErrorCode] == [
        "malformed_json", "oversize", "unknown_action", "invalid_frame",
        "forbidden", "not_joined", "rate_limited", "internal_error",
    ]  # fmt: skip


# Server events -----------------------------------------------------------------------------


def all_events() -> list[ServerEvent]:
    message = MessageEvent(
        room="lobby", message_id="01J-1", sender=ALICE, text="안녕 😀", sent_at=SENT_AT
    )
    return [
        message,
        message.model_copy(update={"client_msg_id": "c-1"}),
        AckEvent(
            room="lobby", client_msg_id="c-1", message_id="01J-1", sent_at=SENT_AT, duplicate=True
        ),
        JoinedEvent(room="lobby", member=ALICE),
        LeftEvent(room="lobby", member=ALICE),
        PresenceEvent(room="lobby", members=[ALICE, Member(sub="u-2", name="밥")]),
        HistoryEvent(room="lobby", messages=[message], next_cursor="opaque"),
        HistoryEvent(room="lobby", messages=[]),
        ErrorEvent(code=ErrorCode.FORBIDDEN, reason="not in your token's rooms", action="join"),
        FrameError(ErrorCode.UNKNOWN_ACTION, "unknown action").to_event(),
        PongEvent(at=datetime(2026, 3, 1, tzinfo=UTC)),
    ]


def test_encoding_leaves_out_null_fields() -> None:
    # Given events with unset optional fields / When encoded / Then those keys are absent
    message, _, _, _, _, _, _, last_page, error, _, _ = all_events()
    assert "client_msg_id" not in json.loads(encode_event(message))
    assert "next_cursor" not in json.loads(encode_event(last_page))
    body = json.loads(encode_event(error))
    assert "valid_actions" not in body
    assert body["action"] == "join"


def test_encoding_is_compact_utf8_json() -> None:
    # Given a message with Hangul and an emoji / When encoded
    data = encode_event(all_events()[0])
    # Then it is UTF-8 (no \\u escapes), has no spaces between tokens, keeps the time offset
    assert "안녕 😀".encode() in data
    assert b"\\u" not in data
    assert b'", "' not in data
    assert b'": ' not in data
    assert json.loads(data) == {
        "type": "message",
        "room": "lobby",
        "message_id": "01J-1",
        "sender": {"sub": "u-1", "name": "Alice"},
        "text": "안녕 😀",
        "sent_at": "2026-03-01T09:00:00.250000+09:00",
    }


@pytest.mark.parametrize("event", all_events(), ids=lambda e: e.type)
def test_events_round_trip_and_match_the_server_schema(
    event: ServerEvent, server_validator: jsonschema.Draft202012Validator
) -> None:
    # Given each kind of event / When encoded / Then the committed schema accepts it
    data = encode_event(event)
    errors = [e.message for e in server_validator.iter_errors(json.loads(data))]
    assert not errors
    # And decoding gives the same event back
    assert decode_event(data) == event


def test_events_need_aware_times() -> None:
    with pytest.raises(ValidationError):
        PongEvent(at=datetime(2026, 3, 1))


# Committed schemas -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "model_schema"),
    [(CLIENT_SCHEMA, client_frame_json_schema), (SERVER_SCHEMA, server_event_json_schema)],
    ids=["client", "server"],
)
def test_schema_files_match_the_models(path: Path, model_schema: Any) -> None:
    # Given the committed file / Then it is the model's schema, written as the exporter writes it
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == model_schema()
    assert text == schema_export.render(path.name)
    assert text.endswith("}\n")


def test_schemas_state_the_essentials() -> None:
    client = json.loads(CLIENT_SCHEMA.read_text(encoding="utf-8"))
    server = json.loads(SERVER_SCHEMA.read_text(encoding="utf-8"))
    # Both are draft 2020-12 with their own id
    for schema, name in [(client, CLIENT_SCHEMA.name), (server, SERVER_SCHEMA.name)]:
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://courier.example/schemas/{name}"
    # Client frames: one closed object per action, the action required
    assert client["discriminator"]["propertyName"] == "action"
    assert sorted(client["discriminator"]["mapping"]) == sorted(VALID_ACTIONS)
    for definition in client["$defs"].values():
        assert definition["additionalProperties"] is False
        assert definition["required"][0] == "action"
    send_props = client["$defs"]["SendFrame"]["properties"]
    assert send_props["text"]["maxLength"] == MAX_TEXT_CHARS
    assert client["$defs"]["HistoryFrame"]["properties"]["limit"]["maximum"] == HISTORY_MAX_LIMIT
    # Server events: discriminated on type, each type required, error codes enumerated
    assert sorted(server["discriminator"]["mapping"]) == sorted(
        ["message", "ack", "joined", "left", "presence", "history", "error", "pong"]
    )
    assert server["$defs"]["ErrorCode"]["enum"] == [c.value for c in ErrorCode]
    for name in server["discriminator"]["mapping"].values():
        assert server["$defs"][name.rsplit("/", 1)[1]]["required"][0] == "type"


AGREEMENT: list[tuple[str, object, bool]] = [
    ("join", {"action": "join", "room": "lobby"}, True),
    ("leave", {"action": "leave", "room": "lobby"}, True),
    ("send", send(), True),
    ("send hangul 2000", send(text="가" * MAX_TEXT_CHARS), True),
    ("history full", {"action": "history", "room": "a", "cursor": "x", "limit": 100}, True),
    ("history null cursor", {"action": "history", "room": "a", "cursor": None}, True),
    ("ping", {"action": "ping"}, True),
    ("no action", {"room": "lobby"}, False),
    ("unknown action", {"action": "shout"}, False),
    ("empty object", {}, False),
    ("not an object", ["join"], False),
    ("room upper", {"action": "join", "room": "Lobby"}, False),
    ("room long", {"action": "join", "room": "r" * 65}, False),
    ("room number", {"action": "join", "room": 1}, False),
    ("text blank", send(text="  "), False),
    ("text long", send(text="x" * (MAX_TEXT_CHARS + 1)), False),
    ("msg id bad", send(client_msg_id="a/b"), False),
    ("no msg id", {"action": "send", "room": "a", "text": "hi"}, False),
    ("limit string", {"action": "history", "room": "a", "limit": "5"}, False),
    ("limit bool", {"action": "history", "room": "a", "limit": True}, False),
    ("limit 0", {"action": "history", "room": "a", "limit": 0}, False),
    ("extra", {"action": "ping", "x": 1}, False),
]


@pytest.mark.parametrize(
    ("data", "valid"), [c[1:] for c in AGREEMENT], ids=[c[0] for c in AGREEMENT]
)
def test_client_schema_agrees_with_the_parser(
    client_validator: jsonschema.Draft202012Validator, data: object, valid: bool
) -> None:
    # Given a frame / Then the parser and the committed schema give the same verdict
    assert is_frame_valid(data) is valid
    assert client_validator.is_valid(data) is valid


def test_export_check_names_a_stale_chat_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given current files, the client frame one then edited by hand
    assert schema_export.main(["--dir", str(tmp_path)]) == 0
    stale = tmp_path / CLIENT_SCHEMA.name
    stale.write_text(stale.read_text().replace('"maxLength": 2000', '"maxLength": 200'))
    capsys.readouterr()
    # When checked / Then it fails, with a diff for that file only
    assert schema_export.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{stale}: out of date" in err
    assert f"{tmp_path / SERVER_SCHEMA.name}: up to date" in err
    assert '"maxLength": 2000' in err
