"""`make demo`: SMS jobs, two chat clients and the stats batch against a running `make dev`.

The operations are functions of their own so the end-to-end tests drive the system the same way.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from local.runtime import LocalSystem, local_parameter_overrides
from scripts.chat_session import ChatClient, open_chat

POISON_BODY = '{"schema_version": 1, "job_id": "poison-'  # cut short: not even JSON
TERMINAL = {"SENT", "DELIVERED", "FAILED"}


# ---------------------------------------------------------------------------------------------
# SMS
# ---------------------------------------------------------------------------------------------


def send_jobs(system: LocalSystem, jobs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue jobs with the producer CLI (`sms send --file -`); its per-job results, in order."""
    outputs = system.outputs
    result = system.run_cli(
        "sms",
        "send",
        "--file",
        "-",
        "--transactional-queue-url",
        outputs["SmsTransactionalQueueUrl"],
        "--bulk-queue-url",
        outputs["SmsBulkQueueUrl"],
        stdin="".join(json.dumps(job) + "\n" for job in jobs),
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def send_poison(system: LocalSystem) -> str:
    """A broken message straight onto the queue, as a buggy producer elsewhere would send."""
    sqs = system.client("sqs")
    response = sqs.send_message(
        QueueUrl=system.outputs["SmsTransactionalQueueUrl"], MessageBody=POISON_BODY
    )
    message_id: str = response["MessageId"]
    return message_id


def status_store(system: LocalSystem) -> Any:
    """The app's own status adapter, pointed at the emulator's table."""
    from courier.sms.status_store import SmsStatusStore

    table = system.client_resource("dynamodb").Table(system.outputs["SmsMessagesTableName"])
    shards = int(local_parameter_overrides()["DayShards"])  # as deployed (reads need no TTL)
    return SmsStatusStore(table, day_shards=shards, timezone="Asia/Seoul", ttl_days=1)


def wait_for_statuses(
    system: LocalSystem, job_ids: Iterable[str], *, timeout: float = 90
) -> dict[str, Any]:
    """job_id -> the job's status record once every job has reached a terminal status."""
    store = status_store(system)
    pending = set(job_ids)
    records: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for job_id in sorted(pending):
            record = store.get(job_id)
            if record is not None and record.status.value in TERMINAL:
                records[job_id] = record
                pending.discard(job_id)
        if pending:
            time.sleep(0.5)
    if pending:
        raise TimeoutError(f"no terminal status after {timeout:.0f}s for {sorted(pending)}")
    return records


def dead_letters(system: LocalSystem, *, wait_for: int = 1, timeout: float = 60) -> list[Any]:
    """Messages in the transactional DLQ (left there: received with a zero visibility timeout)."""
    sqs = system.client("sqs")
    url = system.outputs["SmsTransactionalDeadLetterQueueUrl"]
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            seen[message["MessageId"]] = message
        if len(seen) >= wait_for:
            break
    return list(seen.values())


def outbox(system: LocalSystem) -> list[dict[str, Any]]:
    """What the sandbox provider accepted (one line per accepted message)."""
    if not system.outbox.exists():
        return []
    return [json.loads(line) for line in system.outbox.read_text().splitlines() if line]


# ---------------------------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------------------------


@contextmanager
def chat_client(system: LocalSystem, name: str, token: str | None) -> Iterator[ChatClient]:
    """A client connected as the web page connects: the token buys a single-use ticket over the
    HTTP API and the WebSocket URL carries the ticket. No token: no ticket at all."""
    ticket = None if token is None else system.connect_ticket(token)
    with open_chat(system.websocket_url, name, ticket) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# The scripted demo
# ---------------------------------------------------------------------------------------------


def _title(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    system = LocalSystem.from_state_file()
    run = uuid.uuid4().hex[:6]

    _title("SMS: the producer CLI queues jobs (one invalid, one twice)")
    good = [
        {"job_id": f"demo-{run}-otp", "to": "+821012345678", "body": "Your code is 482913"},
        {
            "job_id": f"demo-{run}-news",
            "to": "+821087654321",
            "priority": "bulk",
            "body": "Courier newsletter: the local runtime is up.",
        },
        {"job_id": f"demo-{run}-nowhere", "to": "+99912345678", "body": "No such country."},
    ]
    invalid = {"job_id": f"demo-{run}-invalid", "to": "010-1234-5678", "body": "not E.164"}
    for result in send_jobs(system, [*good, invalid]):
        print(f"  {result['job_id']}: {result['status']} {result.get('error') or ''}".rstrip())
    again = send_jobs(system, [good[0]])[0]
    print(f"  {again['job_id']} again: {again['status']} (the sender must send it once)")
    poison = send_poison(system)
    print(f"  a broken message straight onto the queue: SQS id {poison}")

    _title("SMS: status records")
    records = wait_for_statuses(system, [job["job_id"] for job in good])
    for job_id, record in records.items():
        reason = f" ({record.reason})" if record.reason else ""
        print(
            f"  {job_id}: {record.status.value}{reason}, {record.parts} part(s), "
            f"to {record.to_masked}"
        )
    sent = [line["job_id"] for line in outbox(system)]
    print(f"  the sandbox provider accepted {good[0]['job_id']} {sent.count(good[0]['job_id'])}x")

    _title("SMS: the dead-letter queue")
    for message in dead_letters(system):
        attributes = message.get("MessageAttributes", {})
        code = attributes.get("failure_code", {}).get("StringValue")
        reason = attributes.get("failure_reason", {}).get("StringValue")
        print(f"  {message['Body'][:40]!r}... -> {code}: {reason}")

    _title("Chat: alice and bob in the lobby")
    with (
        chat_client(system, "alice", system.tokens["alice"]) as alice,
        chat_client(system, "bob", system.tokens["bob"]) as bob,
    ):
        alice.join("lobby")
        bob.join("lobby")
        alice.say("lobby", "Hi Bob, this went through API Gateway, Lambda and Redis.")
        bob.wait_for(
            lambda f: f.get("type") == "message" and f.get("sender", {}).get("sub") == "alice"
        )
        bob.say("lobby", "Hi Alice! Loud and clear.")
        alice.wait_for(
            lambda f: f.get("type") == "message" and f.get("sender", {}).get("sub") == "bob"
        )
        alice.send_raw("this is not JSON")
        alice.wait_for(lambda f: f.get("type") == "error")
        for client in (alice, bob):
            print(f"  frames {client.name} received:")
            for frame in client.frames:
                print(f"    {json.dumps(frame, ensure_ascii=False)[:150]}")

    _title("Stats: the state machine for today")
    result = system.run_stats()
    print(f"  execution {result['status']} {result['error'] or ''}".rstrip())
    report = result.get("report") or {}
    if report:
        sms, chat = report["sms"], report["chat"]
        print(f"  report s3://{system.outputs['StatsReportsBucketName']}/{report['_key']}")
        print(
            f"  sms: {sms['jobs']} jobs, by status {sms['by_status']}, "
            f"failed by reason {sms['failed_by_reason']}"
        )
        print(
            f"  chat: {chat['messages']} messages, {chat['active_users']} users in "
            f"{chat['active_rooms']} room(s)"
        )
    return 0 if result["status"] == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
