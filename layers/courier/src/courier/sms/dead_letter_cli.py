"""`sms dlq list|show|redrive`: the SMS dead-letter queues from a shell (a thin wrapper).

    sms dlq list transactional --stack courier-prod
    sms dlq show bulk <message-id>
    sms dlq redrive transactional --failure-code MAX_RECEIVES          # dry run: prints the plan
    sms dlq redrive transactional --message-id <id> --apply [--force]

Queue URLs and table names come from flags, else the outputs of `--stack`, else the settings'
environment variables (SMS_<KIND>_DEAD_LETTER_QUEUE_URL, SMS_<KIND>_QUEUE_URL,
SMS_MESSAGES_TABLE, ...). One JSON line per message goes to stdout, a summary to stderr. Exit
status: 0 when every selected message is (or would be) redriven, 1 when any was refused,
failed or not found (or AWS could not be asked: no region, credentials or endpoint), 2 for
usage errors (an unreadable --stack among them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from courier.sms.dead_letters import QueueKind

if TYPE_CHECKING:
    from courier.settings import Settings
    from courier.sms.dead_letter_queues import SqsDeadLetterQueue
    from courier.sms.dead_letter_redrive import (
        PlannedMessage,
        RedrivePlan,
        RedriveResult,
        RedriveRules,
    )
    from courier.sms.job_records import TableJobHistory

EXIT_OK, EXIT_NOT_ALL, EXIT_USAGE = 0, 1, 2

# Stack outputs of each kind's (dead-letter queue URL, source queue URL), from template.yaml.
_STACK_OUTPUTS = {
    QueueKind.TRANSACTIONAL: ("SmsTransactionalDeadLetterQueueUrl", "SmsTransactionalQueueUrl"),
    QueueKind.BULK: ("SmsBulkDeadLetterQueueUrl", "SmsBulkQueueUrl"),
    QueueKind.EVENTS: ("SmsEventsDeadLetterQueueUrl", "SmsEventsQueueUrl"),
}


class DlqUsageError(Exception):
    """Bad arguments or missing configuration: exit status 2."""


def add_dlq_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `dlq` and its subcommands to the `sms` parser's subcommands."""
    dlq: argparse.ArgumentParser = commands.add_parser(
        "dlq",
        help="list, show and redrive the SMS dead-letter queues",
        description="Inspect the dead-letter queues and send messages back to their queue. "
        "Listing leaves every message visible; redrive is a dry run unless --apply.",
    )
    actions = dlq.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("queue", choices=[k.value for k in QueueKind], help="which DLQ")
        where = parser.add_argument_group("where (flags, then --stack's outputs, then env vars)")
        where.add_argument("--stack", help="CloudFormation stack whose outputs name the queues")
        where.add_argument("--dlq-url", help="the dead-letter queue URL")
        where.add_argument("--source-queue-url", help="the queue its messages go back to")
        where.add_argument(
            "--messages-table",
            help="job records: statuses and idempotency claims (default: $SMS_MESSAGES_TABLE)",
        )
        where.add_argument("--endpoint-url", help="AWS endpoint for emulators")
        parser.add_argument(
            "--limit", type=int, default=1000, help="most messages to read (default 1000)"
        )
        parser.add_argument(
            "--visibility-timeout",
            type=int,
            default=60,
            help="seconds a message is held while read; released right after (default 60)",
        )
        parser.set_defaults(dlq_parser=parser)

    common(actions.add_parser("list", help="one line per dead letter: code, reason, job, age"))
    show = actions.add_parser("show", help="one dead letter and what a redrive would do to it")
    common(show)
    show.add_argument("message_id")
    redrive = actions.add_parser(
        "redrive",
        help="send dead letters back to their queue (dry run unless --apply)",
        description="Refuses jobs already SENT/DELIVERED/UNKNOWN, jobs whose idempotency record "
        "has expired (or expires within --margin-hours), and bodies that do not parse, "
        "unless --force.",
    )
    common(redrive)
    chosen = redrive.add_argument_group("which messages (at least one)")
    chosen.add_argument("--all", action="store_true", help="every message in the queue")
    chosen.add_argument(
        "--message-id", action="append", default=[], help="this message (repeatable)"
    )
    chosen.add_argument(
        "--failure-code",
        action="append",
        default=[],
        help="messages with this failure_code, e.g. MAX_RECEIVES (repeatable)",
    )
    redrive.add_argument("--apply", action="store_true", help="move them (default: dry run)")
    redrive.add_argument("--force", action="store_true", help="move refused messages too")
    redrive.add_argument(
        "--margin-hours",
        type=float,
        default=24.0,
        help="refuse jobs whose idempotency record ends within this many hours (default 24)",
    )
    return dlq


def run_dlq(args: argparse.Namespace) -> int:
    """Run one `sms dlq` action; returns the exit status."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if args.limit < 1 or args.visibility_timeout < 1:
            raise DlqUsageError("--limit and --visibility-timeout must be at least 1")
        kind = QueueKind(args.queue)
        settings = _settings(args, kind)
        queue = _queue(args, settings, kind)
        if args.dlq_action == "list":
            return _list(kind, queue, args.limit)
        if args.dlq_action == "show":
            return _show(kind, queue, settings, args)
        return _redrive(kind, queue, settings, args)
    except DlqUsageError as error:
        args.dlq_parser.print_usage(sys.stderr)
        print(f"sms: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (BotoCoreError, ClientError) as error:
        # No region or credentials, an unreachable endpoint, a denied call: one line, no trace.
        print(f"sms: error: AWS: {error}", file=sys.stderr)
        return EXIT_NOT_ALL


# ---- configuration


def _settings(args: argparse.Namespace, kind: QueueKind) -> Settings:
    from courier.settings import get_settings
    from courier.sms.dead_letter_queues import QUEUE_URL_SETTINGS

    settings = get_settings()
    dlq_field, source_field = QUEUE_URL_SETTINGS[kind]
    overrides: dict[str, Any] = {}
    if args.endpoint_url:
        overrides["aws_endpoint_url"] = args.endpoint_url
    if args.stack:
        outputs = _stack_outputs(args.stack, args.endpoint_url or settings.aws_endpoint_url)
        dlq_output, source_output = _STACK_OUTPUTS[kind]
        for field, output in (
            (dlq_field, dlq_output),
            (source_field, source_output),
            ("sms_messages_table", "SmsMessagesTableName"),
        ):
            if output in outputs:
                overrides[field] = outputs[output]
    for field, flag in (
        (dlq_field, args.dlq_url),
        (source_field, args.source_queue_url),
        ("sms_messages_table", args.messages_table),
    ):
        if flag:
            overrides[field] = flag
    return dataclasses.replace(settings, **overrides)


def _stack_outputs(stack: str, endpoint_url: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client: Any = boto3.client("cloudformation", endpoint_url=endpoint_url or None)
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise DlqUsageError(f"cannot read the outputs of stack {stack}: {error}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _queue(args: argparse.Namespace, settings: Settings, kind: QueueKind) -> SqsDeadLetterQueue:
    from courier.sms.dead_letter_queues import SqsDeadLetterQueue

    try:
        return SqsDeadLetterQueue.from_settings(
            settings, kind, visibility_seconds=args.visibility_timeout
        )
    except ValueError as error:
        raise DlqUsageError(f"{error}, or pass --dlq-url/--source-queue-url or --stack") from error


def _history_and_rules(
    settings: Settings, margin_hours: float = 24.0
) -> tuple[TableJobHistory, RedriveRules]:
    from courier.sms.dead_letter_redrive import redrive_rules
    from courier.sms.job_records import TableJobHistory

    return TableJobHistory.from_settings(settings), redrive_rules(
        settings, margin_hours=margin_hours
    )


# ---- actions


def _print(record: dict[str, Any]) -> None:
    print(json.dumps(record, default=str))


def _list(kind: QueueKind, queue: SqsDeadLetterQueue, limit: int) -> int:
    from courier.sms.dead_letters import inspect_dead_letters

    listing = inspect_dead_letters(kind, queue, limit=limit)
    for letter in listing.letters:
        _print(letter.model_dump(mode="json"))
    sys.stdout.flush()
    more = "" if listing.complete else " (more than listed: raise --limit)"
    print(
        f"messages={len(listing.letters)} depth~{listing.depth}{more}; every message was "
        "released (left visible)",
        file=sys.stderr,
    )
    return EXIT_OK


def _show(
    kind: QueueKind, queue: SqsDeadLetterQueue, settings: Settings, args: argparse.Namespace
) -> int:
    from courier.sms.dead_letter_redrive import Selection, plan_redrive

    history, rules = _history_and_rules(settings)
    plan = plan_redrive(
        kind,
        queue,
        history,
        rules,
        Selection(message_ids=frozenset({args.message_id})),
        limit=args.limit,
    )
    if not plan.messages:
        print(f"sms: message {args.message_id} is not in the {kind} DLQ", file=sys.stderr)
        return EXIT_NOT_ALL
    print(json.dumps(plan.messages[0].model_dump(mode="json"), indent=2))
    return EXIT_OK


def _line(planned: PlannedMessage, action: str) -> dict[str, Any]:
    letter = planned.letter
    return {
        "message_id": letter.message_id,
        "action": action,
        "job_id": letter.job_id,
        "to": letter.to_masked,
        "failure_code": letter.failure_code,
        "refusal": planned.refusal,
        "refusal_detail": planned.refusal_detail,
        "forced": planned.forced,
        "job_status": planned.job_status,
        "age_seconds": letter.age_seconds,
        "receive_count": letter.receive_count,
    }


def _redrive(
    kind: QueueKind, queue: SqsDeadLetterQueue, settings: Settings, args: argparse.Namespace
) -> int:
    from courier.sms.dead_letter_redrive import Selection, apply_redrive, plan_redrive

    if not (args.all or args.message_id or args.failure_code):
        raise DlqUsageError("choose messages: --all, --message-id or --failure-code")
    if args.all and (args.message_id or args.failure_code):
        raise DlqUsageError("--all cannot be combined with --message-id or --failure-code")
    selection = Selection(
        all=args.all,
        message_ids=frozenset(args.message_id),
        failure_codes=frozenset(args.failure_code),
    )
    history, rules = _history_and_rules(settings, args.margin_hours)
    plan = plan_redrive(kind, queue, history, rules, selection, force=args.force, limit=args.limit)
    if not args.apply:
        return _report_plan(plan)
    result = apply_redrive(plan, queue, history, rules, limit=args.limit)
    return _report_result(result)


def _report_plan(plan: RedrivePlan) -> int:
    for planned in plan.messages:
        _print(_line(planned, "would_redrive" if planned.action == "redrive" else "refused"))
    for message_id in plan.not_found:
        _print({"message_id": message_id, "action": "not_found"})
    sys.stdout.flush()
    how = (
        "as one SQS message move task (message by message where the service has none)"
        if plan.moves_whole_queue
        else "message by message"
    )
    print(
        f"dry run: would redrive {len(plan.to_move)} {how}; refused={len(plan.refused)} "
        f"not_found={len(plan.not_found)}; nothing moved (--apply to act)",
        file=sys.stderr,
    )
    return EXIT_OK if not (plan.refused or plan.not_found) else EXIT_NOT_ALL


def _report_result(result: RedriveResult) -> int:
    plan = result.plan
    moved = set(result.moved)
    refused_now = {planned.letter.message_id for planned in result.refused_now}
    for planned in plan.messages:
        message_id = planned.letter.message_id
        if message_id in refused_now:
            continue  # printed below, as judged when applied
        if message_id in moved:
            action = "redriven"
        elif message_id in result.failed:
            action = "failed"
        elif message_id in result.vanished:
            action = "vanished"
        else:
            action = "refused"
        record = _line(planned, action)
        if message_id in result.failed:
            record["error"] = result.failed[message_id]
        _print(record)
    for judged in result.refused_now:
        _print(_line(judged, "refused"))
    for message_id in plan.not_found:
        _print({"message_id": message_id, "action": "not_found"})
    sys.stdout.flush()
    extra = f" task={result.task_handle}" if result.task_handle else ""
    if result.fallback_reason:
        extra += f" (message by message: {result.fallback_reason})"
    refused = len(plan.refused) + len(result.refused_now)
    print(
        f"redriven={len(result.moved)} method={result.method}{extra} refused={refused} "
        f"failed={len(result.failed)} vanished={len(result.vanished)} "
        f"not_found={len(plan.not_found)}",
        file=sys.stderr,
    )
    trouble = refused or result.failed or result.vanished or plan.not_found
    return EXIT_NOT_ALL if trouble else EXIT_OK
