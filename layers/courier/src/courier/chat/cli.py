"""`chat`: mint chat tokens, print the chat JSON Schemas, or delete a room's history.

    chat token --sub u-1 --name Alice --room lobby --room 'team-*' [--ttl 3600] [--secret S]
    chat token --sub ops --name Ops --room '*' --all-rooms
    chat revoke --sub u-1
    chat schema [client|server]
    chat history delete --room lobby [--yes]

`token` prints only the token on stdout (its expiry goes to stderr). The secret is --secret, else
the deployment's: $CHAT_TOKEN_SECRET_ARN (Secrets Manager) or $CHAT_TOKEN_SECRET. --ttl may not
exceed $CHAT_TOKEN_MAX_AGE_SECONDS (default 24 h): verifiers refuse older tokens. A wildcard-only
--room such as '*' opens every room and needs --all-rooms. `revoke` refuses every token of the
user issued until now, and the tickets bought with them ($CHAT_REVOCATIONS_TABLE); tokens minted
afterwards work (exit status 1 when AWS fails).
`schema client` and `schema server` print the committed file; `schema` alone prints one JSON
object holding both. `history delete` without --yes only counts what it would delete; with
--yes it deletes the room's messages from $CHAT_MESSAGES_TABLE and Redis ($REDIS_URL).
Exit status: 0 on success, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """Bad arguments or no usable secret: exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chat", description="Courier chat channel tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    token = commands.add_parser(
        "token",
        help="mint a signed chat token",
        description="Mint an HS256 chat token for one user and the rooms they may join.",
    )
    token.add_argument("--sub", required=True, help="user id (token subject)")
    token.add_argument("--name", required=True, help="display name shown to the room")
    token.add_argument(
        "--room",
        dest="rooms",
        action="append",
        required=True,
        metavar="ROOM",
        help="a room name or pattern such as 'team-*' (repeatable)",
    )
    token.add_argument(
        "--ttl", type=_positive_int, default=3600, metavar="SECONDS", help="default: 3600"
    )
    token.add_argument(
        "--all-rooms",
        action="store_true",
        help="allow a wildcard-only --room such as '*' (every room)",
    )
    token.add_argument(
        "--secret",
        help="signing secret, at least 32 bytes "
        "(default: $CHAT_TOKEN_SECRET_ARN from Secrets Manager, else $CHAT_TOKEN_SECRET)",
    )

    revoke = commands.add_parser(
        "revoke",
        help="refuse every token a user holds",
        description="Refuse every chat token of a user issued until now (and the tickets bought "
        "with them); tokens minted afterwards work.",
    )
    revoke.add_argument("--sub", required=True, help="user id (token subject)")

    schema = commands.add_parser(
        "schema",
        help="print the chat JSON Schemas",
        description="Print the JSON Schema of client frames, server events, or both.",
    )
    schema.add_argument("which", nargs="?", choices=["client", "server"], help="default: both")

    history = commands.add_parser(
        "history",
        help="manage a room's message history",
        description="Manage a room's stored message history.",
    )
    history_commands = history.add_subparsers(dest="history_command", required=True)
    delete = history_commands.add_parser(
        "delete",
        help="delete a room's messages (a dry run without --yes)",
        description="Delete every message of a room from DynamoDB and Redis. Without --yes, "
        "only print what would be deleted.",
    )
    delete.add_argument("--room", required=True, type=_room_name, help="the room, e.g. lobby")
    delete.add_argument("--yes", action="store_true", help="really delete (default: dry run)")
    return parser


def _room_name(text: str) -> str:
    from courier.chat.frames import ROOM_PATTERN

    # One exact room only: never a pattern, so a typo cannot reach other rooms' keys.
    if not re.fullmatch(ROOM_PATTERN, text):
        raise argparse.ArgumentTypeError(f"not a room name (pattern {ROOM_PATTERN})")
    return text


def _describe(loc: tuple[int | str, ...], problem: str) -> str:
    if loc[:1] == ("rooms",):
        where = f"--room #{int(loc[1]) + 1}" if len(loc) > 1 else "--room"
    else:
        where = "--" + ".".join(str(part) for part in loc)
    return f"{where}: {problem}"


def _token(args: argparse.Namespace) -> int:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from courier.chat.room_access import grants_every_room
    from courier.chat.tokens import InvalidClaims, TokenSigner, token_signer_from_settings
    from courier.settings import get_settings

    try:
        settings = get_settings()
        signer = (
            TokenSigner(args.secret, max_age_seconds=settings.chat_token_max_age_seconds)
            if args.secret
            else token_signer_from_settings(settings)
        )
    except (ValueError, RuntimeError, GetParameterError) as exc:
        raise _UsageError(str(exc)) from None
    if args.ttl > signer.max_age_seconds:
        raise _UsageError(
            f"--ttl: at most {signer.max_age_seconds} "
            "(CHAT_TOKEN_MAX_AGE_SECONDS: older tokens are refused)"
        )
    if any(grants_every_room(room) for room in args.rooms) and not args.all_rooms:
        raise _UsageError("--room: a wildcard-only room opens every room; add --all-rooms")
    now = datetime.now(UTC)
    try:
        token = signer.mint(
            args.sub,
            args.name,
            args.rooms,
            ttl_seconds=args.ttl,
            now=now,
            allow_all_rooms=args.all_rooms,
        )
    except InvalidClaims as exc:
        # Name the bad arguments only; the messages state the rule, not the value.
        problems = "; ".join(_describe(where, rule) for where, rule in exc.problems)
        raise _UsageError(problems) from None
    print(token)
    expires = datetime.fromtimestamp(int(now.timestamp()) + args.ttl, UTC)
    print(f"expires {expires.isoformat()}", file=sys.stderr)
    return EXIT_OK


def _revoke(sub: str) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from courier.chat.access import revoke_user
    from courier.chat.revocations import RevocationList
    from courier.settings import get_settings

    if not sub.strip():
        raise _UsageError("--sub: must not be empty")
    settings = get_settings()
    try:
        revoked_at = revoke_user(
            RevocationList.from_settings(settings),
            sub,
            max_token_age_seconds=settings.chat_token_max_age_seconds,
            now=datetime.now(UTC),
        )
    except (BotoCoreError, ClientError) as exc:
        print(f"chat revoke: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"revoked {sub}: tokens issued up to {revoked_at.isoformat()} are refused")
    return EXIT_OK


def _schema(which: str | None) -> int:
    from courier.schema_export import CHAT_CLIENT_FRAME, CHAT_SERVER_EVENT, render

    files = {"client": CHAT_CLIENT_FRAME, "server": CHAT_SERVER_EVENT}
    if which is not None:
        sys.stdout.write(render(files[which]))
        return EXIT_OK
    both = {kind: json.loads(render(name)) for kind, name in files.items()}
    sys.stdout.write(json.dumps(both, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return EXIT_OK


def _history_delete(room: str, *, confirmed: bool) -> int:
    from courier.chat.room_history import delete_room_history, room_history_size
    from courier.chat.wiring import history_stores
    from courier.settings import get_settings

    try:
        rooms, messages = history_stores(get_settings())
    except RuntimeError as exc:  # no REDIS_URL
        raise _UsageError(str(exc)) from None
    if not confirmed:
        size = room_history_size(rooms, messages, room)
        print(
            f"would delete {size.stored_messages} stored and {size.recent_messages} recent "
            f"messages of room {room!r}; run again with --yes to delete them"
        )
        return EXIT_OK
    deleted = delete_room_history(rooms, messages, room)
    print(
        f"deleted {deleted.stored_messages} stored and {deleted.recent_messages} recent "
        f"messages of room {room!r}"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The `chat` console script; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "schema":
            return _schema(args.which)
        if args.command == "history":
            return _history_delete(args.room, confirmed=args.yes)
        if args.command == "revoke":
            return _revoke(args.sub)
        return _token(args)
    except _UsageError as exc:
        print(f"chat {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
