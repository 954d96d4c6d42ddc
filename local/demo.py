"""`make demo`: SMS jobs, two chat clients and the stats batch against a running `make dev`."""

from __future__ import annotations

import json
import sys
import uuid

from local.clients import (
    chat_client,
    dead_letters,
    outbox,
    send_jobs,
    send_poison,
    wait_for_statuses,
)
from local.system import LocalSystem


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
