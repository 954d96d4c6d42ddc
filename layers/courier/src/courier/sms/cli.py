"""`sms`: put SMS jobs on the Courier queues from a shell, or print the job JSON Schema.

    sms send --to +821012345678 --body "Your code is 123456"
    sms send --file jobs.jsonl [--dry-run]
    sms schema
    sms dlq list|show|redrive transactional|bulk|events ...   (see courier.sms.dead_letter_cli)

One JSON line per job result goes to stdout, a `queued=N invalid=N failed=N` summary to stderr.
Exit status: 0 when every job was queued (or, with --dry-run, is valid), 1 when any job was
invalid or failed, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from logging import StreamHandler
from pathlib import Path
from typing import Any, TextIO

from courier.observability import logger, mask_phone
from courier.sms.contract import Priority
from courier.sms.dead_letter_cli import add_dlq_parser, run_dlq

EXIT_OK, EXIT_JOB_ERRORS, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """Bad arguments or unreadable input: exit status 2."""


class _CurrentStderr:
    """A stream that always writes to the current sys.stderr (logs must stay off stdout)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sms", description="Send SMS jobs to the Courier queues (SmsJob v1)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = commands.add_parser(
        "send",
        help="validate and queue jobs",
        description="Queue one job (--to/--body) or a JSON Lines file of jobs (--file).",
    )
    source = send.add_argument_group("one job")
    source.add_argument("--to", help="destination number in E.164 form, e.g. +821012345678")
    source.add_argument("--body", help="message text")
    source.add_argument("--job-id", help="idempotency key (default: a new UUID4)")
    source.add_argument(
        "--priority",
        choices=[p.value for p in Priority],
        help="queue to use (default: transactional)",
    )
    source.add_argument("--origination", help="sender ID, origination number or pool")
    source.add_argument("--send-at", help="earliest send time, ISO 8601 with offset")
    source.add_argument(
        "--metadata",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="string values echoed into status records (repeatable)",
    )
    send.add_argument(
        "--file",
        help="JSON Lines file of jobs, one object per line ('-' for stdin); blank lines skipped",
    )
    queues = send.add_argument_group("queues")
    queues.add_argument("--transactional-queue-url", help="default: $SMS_TRANSACTIONAL_QUEUE_URL")
    queues.add_argument("--bulk-queue-url", help="default: $SMS_BULK_QUEUE_URL")
    queues.add_argument(
        "--endpoint-url", help="SQS endpoint for emulators (default: $AWS_ENDPOINT_URL)"
    )
    queues.add_argument(
        "--max-attempts", type=int, default=5, help="SendMessageBatch attempts per batch"
    )
    send.add_argument(
        "--dry-run", action="store_true", help="validate and print results; send nothing"
    )

    commands.add_parser("schema", help="print the SmsJob v1 JSON Schema")

    opt_out = commands.add_parser(
        "opt-out",
        help="manage the opt-out list the sender checks before every send",
        description="Add, remove or check a number on the opt-out list ($SMS_OPT_OUT_TABLE).",
    )
    opt_out.add_argument("action", choices=["add", "remove", "check"])
    opt_out.add_argument("number", help="phone number in E.164 form")
    opt_out.add_argument("--table", help="opt-out table name (default: $SMS_OPT_OUT_TABLE)")
    opt_out.add_argument(
        "--endpoint-url", help="DynamoDB endpoint for emulators (default: $AWS_ENDPOINT_URL)"
    )
    dlq = add_dlq_parser(commands)
    parser.set_defaults(subparsers={"send": send, "opt-out": opt_out, "dlq": dlq})
    return parser


def _single_job(args: argparse.Namespace) -> dict[str, Any]:
    if not args.to or args.body is None:
        raise _UsageError("give --to and --body, or --file")
    job: dict[str, Any] = {
        "job_id": args.job_id or str(uuid.uuid4()),
        "to": args.to,
        "body": args.body,
    }
    if args.priority:
        job["priority"] = args.priority
    if args.origination:
        job["origination"] = args.origination
    if args.send_at:
        job["send_at"] = args.send_at
    if args.metadata:
        metadata: dict[str, str] = {}
        for pair in args.metadata:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise _UsageError(f"--metadata wants KEY=VALUE, got {pair!r}")
            metadata[key] = value
        job["metadata"] = metadata
    return job


def _read_lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    """(line number, text) for every non-blank line."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if text:
            yield number, text


def _file_jobs(name: str) -> tuple[list[str], list[int]]:
    if name == "-":
        pairs = list(_read_lines(sys.stdin))
    else:
        try:
            with Path(name).open(encoding="utf-8-sig") as stream:
                pairs = list(_read_lines(stream))
        except (OSError, UnicodeDecodeError) as exc:
            raise _UsageError(f"cannot read {name}: {exc}") from exc
    return [text for _, text in pairs], [number for number, _ in pairs]


def _send(args: argparse.Namespace) -> int:
    from courier.settings import get_settings
    from courier.sms.producer import JobInput, RetryPolicy, SmsProducer, validate_jobs

    jobs: list[JobInput]
    lines: list[int]
    one_job_flags = (args.to, args.body, args.job_id, args.priority, args.origination)
    if args.file is not None:
        if any(flag is not None for flag in one_job_flags) or args.send_at or args.metadata:
            raise _UsageError("--file cannot be combined with single-job options")
        texts, lines = _file_jobs(args.file)
        jobs = list(texts)
    else:
        jobs, lines = [_single_job(args)], []

    if args.max_attempts < 1:
        raise _UsageError("--max-attempts must be at least 1")
    if args.dry_run:
        results = validate_jobs(jobs)
    else:
        settings = get_settings()
        producer = SmsProducer.from_settings(
            settings,
            transactional_queue_url=args.transactional_queue_url,
            bulk_queue_url=args.bulk_queue_url,
            endpoint_url=args.endpoint_url,
            retry=RetryPolicy(max_attempts=args.max_attempts),
        )
        if not producer.queue_urls:
            raise _UsageError(
                "no queue URL: set SMS_TRANSACTIONAL_QUEUE_URL / SMS_BULK_QUEUE_URL "
                "or pass --transactional-queue-url / --bulk-queue-url"
            )
        results = producer.send(jobs)

    for result in results:
        record = result.to_dict()
        if lines:
            record["line"] = lines[result.index]
        print(json.dumps(record))
    sys.stdout.flush()

    invalid = sum(r.status == "invalid" for r in results)
    failed = sum(r.status == "failed" for r in results)
    if args.dry_run:
        valid = sum(r.status == "valid" for r in results)
        print(f"valid={valid} invalid={invalid} (dry run: nothing sent)", file=sys.stderr)
    else:
        queued = sum(r.status == "queued" for r in results)
        print(f"queued={queued} invalid={invalid} failed={failed}", file=sys.stderr)
    return EXIT_OK if invalid == failed == 0 else EXIT_JOB_ERRORS


def _opt_out(args: argparse.Namespace) -> int:
    import re

    from courier.settings import get_settings
    from courier.sms.contract import E164_PATTERN
    from courier.sms.opt_out import OptOutList

    if not re.fullmatch(E164_PATTERN, args.number):
        raise _UsageError("number must be in E.164 form, e.g. +821012345678")
    settings = get_settings()
    overrides: dict[str, Any] = {
        "sms_opt_out_table": args.table or settings.sms_opt_out_table,
        "aws_endpoint_url": args.endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL", settings.aws_endpoint_url),
    }
    opt_outs = OptOutList.from_settings(dataclasses.replace(settings, **overrides))
    masked = mask_phone(args.number)
    if args.action == "add":
        opt_outs.opt_out(args.number, source="cli")
        print(json.dumps({"number": masked, "opted_out": True}))
    elif args.action == "remove":
        opt_outs.opt_in(args.number)
        print(json.dumps({"number": masked, "opted_out": False}))
    else:
        print(json.dumps({"number": masked, "opted_out": opt_outs.is_opted_out(args.number)}))
    return EXIT_OK


def _schema() -> int:
    from courier.schema_export import render_sms_job as render

    sys.stdout.write(render())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The `sms` console script; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    # Logs go to stderr so stdout stays one JSON result per line; quiet unless asked.
    handler = logger.registered_handler
    previous_level = logger.log_level
    previous_stream = None
    if isinstance(handler, StreamHandler):
        previous_stream = handler.setStream(_CurrentStderr())
    if args.verbose:
        logger.setLevel("INFO")
    elif not (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL")):
        logger.setLevel("ERROR")
    try:
        if args.command == "schema":
            return _schema()
        if args.command == "opt-out":
            return _opt_out(args)
        if args.command == "dlq":
            return run_dlq(args)
        return _send(args)
    except _UsageError as exc:
        args.subparsers.get(args.command, parser).print_usage(sys.stderr)
        print(f"sms: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if isinstance(handler, StreamHandler) and previous_stream is not None:
            handler.setStream(previous_stream)
        logger.setLevel(previous_level)


if __name__ == "__main__":
    raise SystemExit(main())
