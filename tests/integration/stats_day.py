"""A day of SMS and chat records for the stats tests, written by the real writers.

2026-11-24 in Seoul, with noise on the 23rd and the 25th just across the day's edges. The SMS
records reach the stats as in AWS: through the SmsMessages stream and the counter's handler
(`count_stream`), into the partials the aggregate step reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

import counter
from courier.chat.message_store import MessageStore, StoredMessage
from courier.data.connections import Database
from courier.settings import get_settings
from courier.sms.status import SmsStatus, StatusChange
from courier.sms.status_store import SmsStatusStore
from tests.harness import (
    REGION,
    FakeLambdaContext,
)

DAY = "2026-11-24"
BUCKET = "courier-stats-reports-test"
SMS_SHARDS, CHAT_SHARDS = 1, 3  # SMS: one task a day (the stream partials)
# 00:10 on the 25th in Seoul is still the 24th in UTC: "yesterday" is the 24th in Seoul.
NOW = datetime(2026, 11, 24, 15, 10, tzinfo=UTC)
CONTEXT: Any = FakeLambdaContext()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Stack:
    def __init__(self, database: Database) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.dynamodb = boto3.resource("dynamodb", region_name=REGION)
        self.database = database  # the stats history's, migrated (the test's own connections)

    def object(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return body

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.Table("DailyStats").get_item(Key={"date": DAY})["Item"]
        return item


# ---- seeding through the real writers ---------------------------------------------------------


def sent(
    store: SmsStatusStore,
    job_id: str,
    at: datetime,
    *,
    status: str = "SENT",
    parts: int = 1,
    priority: str = "transactional",
    reason: str | None = None,
) -> None:
    """What the sender writes after a send (or a permanent failure)."""
    store.record(
        StatusChange(job_id=job_id, status=SmsStatus(status), at=at, reason=reason),
        describe={
            "parts": parts,
            "encoding": "GSM",
            "priority": priority,
            "to_masked": "+82******78",
            "country": "KR",
            "created_at": at.isoformat(timespec="milliseconds"),
            **store.day_keys(job_id, at),
        },
    )


def receipt(
    store: SmsStatusStore, job_id: str, at: datetime, status: str, reason: str | None = None
) -> None:
    """What the status function writes for a delivery receipt."""
    store.record(StatusChange(job_id=job_id, status=SmsStatus(status), at=at, reason=reason))


# Where count_stream left off in each stream shard (the stack fixture clears it per test).
STREAM_POSITIONS: dict[str, str] = {}


def count_stream(*, batch_size: int = 10) -> int:
    """What the counter's stream mapping does: every new record of the SmsMessages stream,
    through the real counter handler in batches (INSERT and MODIFY only, as its FilterCriteria
    keep). Returns the records handed to the handler."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    # moto serves the regional endpoint only, not the account-based one botocore derives from
    # a stream ARN.
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    arn = dynamodb.describe_table(TableName="SmsMessages")["Table"]["LatestStreamArn"]
    handed = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        shard_id = shard["ShardId"]
        after = STREAM_POSITIONS.get(shard_id)
        where: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            if after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **where)
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        if not records:
            continue
        STREAM_POSITIONS[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        kept = [
            {**record, "eventSourceARN": arn}
            for record in records
            if record["eventName"] in ("INSERT", "MODIFY")
        ]
        for start in range(0, len(kept), batch_size):
            counter.handler({"Records": kept[start : start + batch_size]}, CONTEXT)
        handed += len(kept)
    return handed


def seed_sms() -> None:
    store = SmsStatusStore.from_settings(get_settings())
    # The day, edge to edge in Seoul (15:00 UTC on the 23rd to 14:59:59.999 UTC on the 24th).
    sent(store, "first", utc("2026-11-23T15:00:00"))
    receipt(store, "first", utc("2026-11-23T15:00:05"), "DELIVERED")
    sent(store, "late-receipt", utc("2026-11-24T00:30:00"), parts=2, priority="bulk")
    # Delivered on the 25th: still a job of the 24th, in its 09 hour.
    receipt(store, "late-receipt", utc("2026-11-24T15:10:00"), "DELIVERED")
    sent(store, "no-receipt", utc("2026-11-24T00:45:00"), parts=3, priority="bulk")
    sent(store, "invalid", utc("2026-11-24T03:00:00"), status="FAILED", reason="INVALID_NUMBER")
    sent(store, "opted-out", utc("2026-11-24T03:20:00"), status="FAILED", reason="OPTED_OUT")
    sent(store, "carrier", utc("2026-11-24T05:00:00"))
    receipt(store, "carrier", utc("2026-11-24T05:01:00"), "FAILED", "CARRIER_UNREACHABLE")
    sent(store, "last", utc("2026-11-24T14:59:59.999"), parts=4)
    for n in range(20):  # two per hour from 09 to 18 in Seoul
        job = f"campaign-{n:02d}"
        at = utc(f"2026-11-24T{n % 10:02d}:30:00")
        sent(store, job, at, priority="bulk")
        receipt(store, job, at + timedelta(seconds=30), "DELIVERED")
    # Noise: the neighbouring days, and a receipt for a job the sender has not written yet (no
    # day keys, so not in the index).
    sent(store, "day-before", utc("2026-11-23T14:59:59.999"), status="FAILED", reason="OPTED_OUT")
    sent(store, "day-after", utc("2026-11-24T15:00:00"), parts=5)
    receipt(store, "receipt-first", utc("2026-11-24T04:00:00"), "DELIVERED")
    count_stream()


def seed_chat() -> None:
    store = MessageStore.from_settings(get_settings())
    messages = [
        ("lobby", "u1", "2026-11-23T15:00:00"),
        ("lobby", "u2", "2026-11-24T01:00:00"),
        ("lobby", "u3", "2026-11-24T02:00:00"),
        ("lobby", "u1", "2026-11-24T03:00:00"),
        ("lobby", "u2", "2026-11-24T14:59:59.999999"),
        ("team-a", "u1", "2026-11-24T04:00:00"),
        ("team-a", "u4", "2026-11-24T04:01:00"),
        ("team-a", "u4", "2026-11-24T04:02:00"),
        ("team-b", "u5", "2026-11-24T05:00:00"),
        ("team-b", "u5", "2026-11-24T05:01:00"),
        ("team-b", "u5", "2026-11-24T05:02:00"),
        ("random", "u6", "2026-11-24T06:00:00"),
        # Noise on the neighbouring days, by users who were not active on the 24th.
        ("lobby", "u9", "2026-11-23T14:59:59.999999"),
        ("lobby", "u8", "2026-11-24T15:00:00"),
        ("quiet", "u8", "2026-11-25T01:00:00"),
    ]
    for n, (room, sender, at) in enumerate(messages):
        store.append(
            StoredMessage(
                room=room,
                message_id=f"m-{n:03d}",
                sender_sub=sender,
                sender_name=sender.upper(),
                text=f"hello {n}",
                sent_at=utc(at),
                client_msg_id=None,
            )
        )
