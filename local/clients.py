"""A user's operations on a running local system: queue SMS jobs, read statuses, dead letters
and the sandbox outbox, connect chat clients. `make demo` and the e2e tests drive the system
through them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from local.system import LocalSystem
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
    return SmsStatusStore(table, timezone="Asia/Seoul", ttl_days=1)  # reads need no TTL


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


def visible_messages(system: LocalSystem, url: str, *, looks: int = 5) -> dict[str, Any]:
    """Every message a consumer could receive now, by id (received with no visibility timeout,
    so nothing is hidden from the functions); `looks` receives of up to 10 each."""
    sqs = system.client("sqs")
    found: dict[str, Any] = {}
    for _ in range(looks):
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", []):
            found[m["MessageId"]] = m
    return found


def delete_messages(system: LocalSystem, url: str, message_ids: set[str]) -> None:
    """Delete a test's leftovers from a queue, so later tests see only their own messages;
    every other message received meanwhile is made visible again at once."""
    sqs = system.client("sqs")
    left = set(message_ids)
    for _ in range(10):
        if not left:
            return
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, WaitTimeSeconds=1
        ).get("Messages", []):
            if m["MessageId"] in left:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                left.discard(m["MessageId"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )


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
