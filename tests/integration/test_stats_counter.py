"""The SMS stats counter's handler in-process against moto: the events file, retries, bisection,
and the SmsMessages stream itself (moto implements DynamoDB Streams)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

import counter
from courier.settings import get_settings
from courier.sms.status_store import SmsStatusStore
from courier.stats import wiring
from tests.harness import REGION, load_event
from tests.integration.stats_day import CONTEXT, DAY, Stack, count_stream, receipt, sent, utc


def partial_keys() -> list[tuple[str, str]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table("SmsStatsPartials")
    return sorted((item["pk"], item["sk"]) for item in table.scan()["Items"])


def test_the_events_file_counts_its_batch_into_the_days_partial(stack: Stack) -> None:
    # Given the counter's events file (two sends, then a receipt for the first)
    event = load_event("stats/counter-batch.json")

    # When the handler counts it
    answer = counter.handler(event, CONTEXT)

    # Then the day gains two jobs, one DELIVERED and one FAILED, in one partial keyed by the
    # batch's first record, with the batch's days noted
    assert answer == {"records": 3, "days": {DAY: 3}}
    first = event["Records"][0]["eventID"]
    assert partial_keys() == [(f"BATCH#{first}", "DAYS"), (f"DAY#{DAY}", first)]
    tally = wiring.sms_stats_counter().day_tally(DAY)
    assert tally.jobs == 2
    assert tally.by_status == {"DELIVERED": 1, "FAILED": 1}
    assert tally.failed_by_reason == {"OPTED_OUT": 1}
    assert tally.parts_by_status == {"DELIVERED": 1, "FAILED": 2}


def test_a_redelivered_and_then_bisected_batch_counts_once(stack: Stack) -> None:
    # Given the events file's batch counted, then redelivered whole (a failed invocation)
    event = load_event("stats/counter-batch.json")
    counter.handler(event, CONTEXT)
    counter.handler(event, CONTEXT)

    # When the mapping bisects it: the first half, then the second
    records: list[dict[str, Any]] = event["Records"]
    counter.handler({"Records": records[:1]}, CONTEXT)
    counter.handler({"Records": records[1:]}, CONTEXT)

    # Then the day counts each record once
    tally = wiring.sms_stats_counter().day_tally(DAY)
    assert tally.jobs == 2
    assert tally.by_status == {"DELIVERED": 1, "FAILED": 1}


def test_a_half_that_no_longer_touches_a_day_deletes_the_whole_batchs_partial_of_it(
    stack: Stack,
) -> None:
    # Given a batch over two days written whole (its invocation then failed)
    store = SmsStatusStore.from_settings(get_settings())
    sent(store, "yesterday", utc("2026-11-23T05:00:00"))
    count_stream()
    receipt(store, "yesterday", utc("2026-11-24T01:00:00"), "DELIVERED")
    sent(store, "today", utc("2026-11-24T01:00:00"))
    # The receipt (a MODIFY of the 23rd's job) and the send (the 24th's), in stream order
    # (moto also streams an INSERT of the bare key before an UpdateItem's first write).
    streams = [r for r in _stream_records()[2:] if "status" in r["dynamodb"]["NewImage"]]
    assert [r["eventName"] for r in streams] == ["MODIFY", "INSERT"]
    counter.handler({"Records": streams}, CONTEXT)
    assert {pk for pk, _ in partial_keys() if pk.startswith("DAY#")} >= {
        "DAY#2026-11-23",
        f"DAY#{DAY}",
    }

    # When the first half (the 23rd only, the same first record) and the second are counted
    counter.handler({"Records": streams[:1]}, CONTEXT)
    counter.handler({"Records": streams[1:]}, CONTEXT)

    # Then each day counts its job once
    days = wiring.sms_stats_counter()
    assert days.day_tally("2026-11-23").by_status == {"DELIVERED": 1}
    assert days.day_tally(DAY).jobs == 1


def test_remove_records_and_malformed_events(stack: Stack) -> None:
    # Given a REMOVE record (TTL expiry) that got through, and a record without its stream part
    event = load_event("stats/counter-batch.json")
    counter.handler(event, CONTEXT)
    removed = {**event["Records"][2], "eventName": "REMOVE", "eventID": "remove-1"}

    # When they are handled
    counter.handler({"Records": [removed]}, CONTEXT)
    with pytest.raises(ValueError, match="not a DynamoDB stream record"):
        counter.handler({"Records": [{"eventID": "x", "eventName": "MODIFY"}]}, CONTEXT)

    # Then the day's counts did not move
    assert wiring.sms_stats_counter().day_tally(DAY).jobs == 2


def _stream_records() -> list[dict[str, Any]]:
    """Every INSERT/MODIFY record of the SmsMessages stream so far, as the mapping sends them."""
    from botocore.config import Config

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    arn = dynamodb.describe_table(TableName="SmsMessages")["Table"]["LatestStreamArn"]
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found += [
            {**record, "eventSourceARN": arn}
            for record in streams.get_records(ShardIterator=iterator)["Records"]
            if record["eventName"] in ("INSERT", "MODIFY")
        ]
    return found
