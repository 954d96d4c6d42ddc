"""The aggregate and publish steps on in-memory ports; the adapters' error mapping via Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber

from courier.data.errors import DatabaseUnavailable
from courier.stats.adapters import DynamoDayShardPager, DynamoStatsTable, S3ObjectStore
from courier.stats.columns import ColumnPage
from courier.stats.contract import AggregateRequest, PartialRef, PublishRequest
from courier.stats.errors import MissingObject, PartialsMismatch, TransientStatsError
from courier.stats.history import Group, HistoryDay, PeriodTotals
from courier.stats.steps import StatsAggregator, StatsPublisher
from courier.stats.tallies import CHAT_FIELDS, SMS_FIELDS, SMS_INTEGER_FIELDS, SmsTally, fold_sms
from courier.stats.wire import WireDecoder
from tests.harness import REGION

SEOUL = ZoneInfo("Asia/Seoul")
DAY = "2026-11-24"
RUN = "run-a"


class ListPager:
    """Records per day-shard, served in pages of `size`; remembers what was asked."""

    def __init__(self, records: Mapping[str, list[dict[str, Any]]], size: int = 2) -> None:
        self.records = records
        self.size = size
        self.asked: list[str] = []

    def pages(self, day_shard: str) -> Iterator[Sequence[Mapping[str, Any]]]:
        self.asked.append(day_shard)
        items = self.records.get(day_shard, [])
        for start in range(0, len(items), self.size):
            yield items[start : start + self.size]


class MemoryObjects:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, body: bytes, *, content_type: str) -> str:
        self.objects[key] = (body, content_type)
        return f"s3://reports/{key}"

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise MissingObject(key)
        return self.objects[key][0]


class MemoryTable:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put(self, item: Mapping[str, Any]) -> None:
        self.items[item["date"]] = dict(item)


def sms(status: str, hour_utc: int, parts: int = 1, reason: str | None = None) -> dict[str, Any]:
    at = f"2026-11-2{3 if hour_utc >= 15 else 4}T{hour_utc:02d}:10:00.000+00:00"
    record = {"status": status, "parts": parts, "priority": "transactional", "created_at": at}
    return record | ({"reason": reason} if reason else {})


SMS_RECORDS = {
    DAY: [
        sms("DELIVERED", 15, 2),
        sms("FAILED", 3, 1, "OPTED_OUT"),
        sms("SENT", 14),
        sms("DELIVERED", 0),
    ],
}


class FoldedSmsDays:
    """The SMS day counts port: each day's records folded (what the stream partials merge to)."""

    def __init__(self, records: Mapping[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.asked: list[str] = []

    def day_tally(self, day: str) -> SmsTally:
        self.asked.append(day)
        return fold_sms([self.records.get(day, [])], zone=SEOUL)


CHAT_RECORDS = {
    f"{DAY}#00": [{"room": "lobby", "sender_sub": "u1"}, {"room": "lobby", "sender_sub": "u2"}],
    f"{DAY}#01": [{"room": "dev", "sender_sub": "u1"}],
    f"{DAY}#02": [],
}


class MemoryHistory:
    """The stats history port in memory; `unavailable` makes the upsert fail like a lost DB."""

    def __init__(self, events: list[str]) -> None:
        self.rows: dict[date, HistoryDay] = {}
        self.unavailable = False
        self.events = events

    def upsert_day(self, day: HistoryDay) -> None:
        if self.unavailable:
            raise DatabaseUnavailable("cannot connect to Endpoint(writer@db:3306/courier)")
        self.rows[day.day] = day
        self.events.append(f"upsert {day.day}")

    def days(self, first: date, last: date) -> list[HistoryDay]:
        return [row for day, row in sorted(self.rows.items()) if first <= day <= last]

    def range_summary(self, first: date, last: date, group: Group) -> list[PeriodTotals]:
        raise NotImplementedError  # not a publish concern


class RecordingCache:
    """The cache invalidator: records the days, answers `reachable` (False: Redis down)."""

    def __init__(self, events: list[str]) -> None:
        self.reachable = True
        self.events = events

    def invalidate(self, day: date) -> bool:
        self.events.append(f"invalidate {day}")
        return self.reachable


class Stack:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.objects = MemoryObjects()
        self.table = MemoryTable()
        self.history = MemoryHistory(self.events)
        self.cache = RecordingCache(self.events)
        self.sms_days = FoldedSmsDays(SMS_RECORDS)
        self.chat_pager = ListPager(CHAT_RECORDS)
        self.aggregator = StatsAggregator(
            sms=self.sms_days,
            chat=self.chat_pager,
            objects=self.objects,
            zone=SEOUL,
        )
        self.publisher = StatsPublisher(
            objects=self.objects,
            table=self.table,
            history=self.history,
            cache=self.cache,
            shards={"sms": 1, "chat": 3},
            timezone="Asia/Seoul",
            top_rooms=5,
        )

    def aggregate_all(self, run: str = RUN) -> list[PartialRef]:
        tasks = [AggregateRequest(date=DAY, source="sms", shard=0, run=run)] + [
            AggregateRequest(date=DAY, source="chat", shard=n, run=run) for n in range(3)
        ]
        return [self.aggregator.aggregate(task) for task in tasks]


def test_aggregate_stores_the_partial_and_returns_a_small_pointer() -> None:
    stack = Stack()
    ref = stack.aggregator.aggregate(AggregateRequest(date=DAY, source="sms", shard=0, run=RUN))
    assert ref.model_dump() == {
        "source": "sms",
        "shard": 0,
        "records": 4,
        "partial_key": f"partials/{DAY}/{RUN}/sms-00.json",
    }
    assert stack.sms_days.asked == [DAY]
    body, content_type = stack.objects.objects[f"partials/{DAY}/{RUN}/sms-00.json"]
    assert content_type == "application/json"
    partial = json.loads(body)
    assert partial["sms"]["by_status"] == {"DELIVERED": 2, "FAILED": 1, "SENT": 1}
    assert partial["sms"]["by_hour"][0] == 1  # 15:10 UTC → 00:10 KST
    assert partial["sms"]["by_hour"][12] == 1  # 03:10 UTC → 12:10 KST


def test_an_empty_shard_gives_an_empty_partial() -> None:
    stack = Stack()
    ref = stack.aggregator.aggregate(AggregateRequest(date=DAY, source="chat", shard=2, run=RUN))
    assert ref.records == 0
    assert json.loads(stack.objects.objects[ref.partial_key][0])["chat"] == {
        "messages": 0,
        "by_room": {},
        "users": [],
    }


def test_publish_merges_every_partial_and_writes_item_and_reports() -> None:
    stack = Stack()
    refs = stack.aggregate_all()
    result = stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs))
    assert result.report_json == f"s3://reports/reports/{DAY}/daily-stats.json"
    assert result.report_csv == f"s3://reports/reports/{DAY}/daily-stats.csv"
    assert result.summary.startswith(f"Daily stats {DAY} (Asia/Seoul): SMS 4 jobs")
    item = stack.table.items[DAY]
    assert item["sms"]["by_status"] == {"DELIVERED": 2, "FAILED": 1, "SENT": 1}
    assert item["sms"]["parts"] == 5
    assert item["chat"]["active_users"] == 2
    assert item["chat"]["top_rooms"] == [
        {"room": "lobby", "messages": 2},
        {"room": "dev", "messages": 1},
    ]
    assert stack.objects.objects[f"reports/{DAY}/daily-stats.csv"][1].startswith("text/csv")


def test_publish_upserts_the_days_history_row_then_invalidates_the_cache() -> None:
    # Given the day's partials
    stack = Stack()
    refs = stack.aggregate_all()

    # When the day is published twice (a re-run)
    stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs))
    stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs))

    # Then the history holds one row with the day's counters and the JSON report's URI, and
    # the cache was invalidated after each write, never before it
    (row,) = stack.history.rows.values()
    assert row.day == date(2026, 11, 24)
    assert (row.sms_jobs, row.sms_delivered, row.sms_failed, row.sms_sent) == (4, 2, 1, 1)
    assert (row.chat_messages, row.chat_active_users, row.chat_active_rooms) == (3, 2, 2)
    assert row.report_uri == f"s3://reports/reports/{DAY}/daily-stats.json"
    assert stack.events == [f"upsert {DAY}", f"invalidate {DAY}"] * 2


def test_an_unreachable_database_is_a_transient_error_the_state_machine_retries() -> None:
    stack = Stack()
    stack.history.unavailable = True

    with pytest.raises(TransientStatsError, match="history of 2026-11-24"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=stack.aggregate_all()))
    assert stack.events == []  # nothing invalidated for a day that was not written


def test_an_unreachable_cache_does_not_fail_the_publish() -> None:
    stack = Stack()
    stack.cache.reachable = False

    result = stack.publisher.publish(
        PublishRequest(date=DAY, run=RUN, partials=stack.aggregate_all())
    )

    assert result.date == DAY
    assert stack.events == [f"upsert {DAY}", f"invalidate {DAY}"]


def test_publish_is_independent_of_the_order_of_the_partials() -> None:
    stack = Stack()
    refs = stack.aggregate_all()
    stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs))
    first = dict(stack.objects.objects)
    stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=list(reversed(refs))))
    assert stack.objects.objects == first


def test_publish_refuses_missing_duplicate_and_foreign_partials() -> None:
    stack = Stack()
    refs = stack.aggregate_all()
    with pytest.raises(PartialsMismatch, match=r"missing \[\('chat', 2\)\]"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs[:-1]))
    with pytest.raises(PartialsMismatch, match="listed twice"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=[*refs, refs[0]]))
    foreign = refs[0].model_copy(update={"partial_key": "reports/other.json"})
    with pytest.raises(PartialsMismatch, match="is not"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=[foreign, *refs[1:]]))
    stale = refs[0].model_copy(update={"records": 99})
    with pytest.raises(PartialsMismatch, match="holds 4 records"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=[stale, *refs[1:]]))
    extra = PartialRef(
        source="sms", shard=2, records=0, partial_key=f"partials/{DAY}/{RUN}/sms-02.json"
    )
    with pytest.raises(PartialsMismatch, match=r"unexpected \[\('sms', 2\)\]"):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=[*refs, extra]))
    del stack.objects.objects[refs[1].partial_key]
    with pytest.raises(MissingObject):
        stack.publisher.publish(PublishRequest(date=DAY, run=RUN, partials=refs))
    assert stack.table.items == {}


def test_two_runs_of_a_day_each_publish_from_their_own_partials() -> None:
    # Given run A has aggregated the day, then a record arrives and run B aggregates it too
    stack = Stack()
    refs_a = stack.aggregate_all("run-a")
    stack.sms_days.records = {DAY: [*SMS_RECORDS[DAY], sms("SENT", 1)]}
    refs_b = stack.aggregate_all("run-b")

    # When both publish, the run that started later first
    b = stack.publisher.publish(PublishRequest(date=DAY, run="run-b", partials=refs_b))
    a = stack.publisher.publish(PublishRequest(date=DAY, run="run-a", partials=refs_a))

    # Then each published its own snapshot (A never read B's partials)
    assert a.summary.startswith(f"Daily stats {DAY} (Asia/Seoul): SMS 4 jobs")
    assert b.summary.startswith(f"Daily stats {DAY} (Asia/Seoul): SMS 5 jobs")
    # And one run's pointers do not pass for another run's
    with pytest.raises(PartialsMismatch, match="is not"):
        stack.publisher.publish(PublishRequest(date=DAY, run="run-a", partials=refs_b))


# ---- adapters (botocore Stubber: no network) ---------------------------------------------------


@pytest.fixture
def dynamodb_table(aws_env: None) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table("SmsMessages")


@pytest.fixture
def dynamodb_client(aws_env: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def test_pager_queries_the_index_and_follows_last_evaluated_key(dynamodb_client: Any) -> None:
    pager = DynamoDayShardPager(
        dynamodb_client, "SmsMessages", fields=SMS_FIELDS, integers=SMS_INTEGER_FIELDS, page_size=2
    )
    expected = {
        "TableName": "SmsMessages",
        "IndexName": "by_day_shard",
        "KeyConditionExpression": "#day_shard = :day_shard",
        "ProjectionExpression": "#f0, #f1, #f2, #f3, #f4",
        "ExpressionAttributeNames": {
            "#day_shard": "day_shard",
            **{f"#f{n}": name for n, name in enumerate(SMS_FIELDS)},
        },
        "ExpressionAttributeValues": {":day_shard": {"S": f"{DAY}#03"}},
        "Limit": 2,
    }
    last = {"pk": {"S": "JOB#b"}, "day_shard": {"S": f"{DAY}#03"}, "sk_time": {"S": "t#b"}}
    item = {"status": {"S": "SENT"}, "parts": {"N": "2"}}

    with Stubber(dynamodb_client) as stub:
        stub.add_response(
            "query", {"Items": [item, item], "LastEvaluatedKey": last}, expected_params=expected
        )
        stub.add_response(
            "query", {"Items": [item]}, expected_params={**expected, "ExclusiveStartKey": last}
        )
        pages = list(pager.pages(f"{DAY}#03"))
        stub.assert_no_pending_responses()
    assert [len(page) for page in pages] == [2, 1]
    assert pages[0][0] == {"status": "SENT", "parts": 2}


# Items as a Query response's JSON holds them: plain ones and odd ones the fold must read alike.
WIRE_ITEMS: list[dict[str, Any]] = [
    {
        "status": {"S": "DELIVERED"},
        "parts": {"N": "2"},
        "priority": {"S": "bulk"},
        "created_at": {"S": "2026-11-24T01:02:03.456+00:00"},
        "sk_time": {"S": "2026-11-24T01:02:03.456+00:00#job-1"},
    },
    {
        "status": {"S": "FAILED"},
        "reason": {"S": "OPTED_OUT"},
        "parts": {"N": "1"},
        "priority": {"S": "transactional"},
        "sk_time": {"S": "2026-11-23T16:00:00+00:00#job-2"},  # no created_at: the sort key's time
    },
    {
        "status": {"N": "1.0"},  # a number where text belongs: read as boto3 reads it
        "parts": {"N": "2.5"},  # not a whole number: a Decimal, then the fold's int()
        "priority": {"N": "3"},
        "created_at": {"S": "2026-11-24T09:59:59+09:00"},
        "sk_time": {"S": "x#job-3"},
    },
    {"status": {"S": "SENT"}, "parts": {"N": "1E1"}, "sk_time": {"S": "2026-11-24T05:00:00Z#j4"}},
    {
        "status": {"S": "SENT"},
        "parts": {"N": "0"},
        "reason": {"NULL": True},
        "sk_time": {"S": "2026-11-24T05:00:00Z#j5"},
    },
]


def botocore_parsed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items as botocore's parser hands them over (fresh: the old path decoded in place)."""
    return json.loads(json.dumps(items))


def partial_bytes(pages: list[list[dict[str, Any]]]) -> bytes:
    from courier.stats.tallies import PartialDocument, fold_sms

    return PartialDocument.of(DAY, "sms", 0, fold_sms(pages, zone=SEOUL)).to_bytes()


def test_the_wire_decoder_folds_to_the_same_partial_as_boto3s_deserializer() -> None:
    from boto3.dynamodb.types import TypeDeserializer

    # Given the same items, decoded the old way (TypeDeserializer: Decimals) and the new ways
    deserializer = TypeDeserializer()
    old = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in WIRE_ITEMS]
    decoder = WireDecoder(SMS_INTEGER_FIELDS)
    parsed = decoder.items(botocore_parsed(WIRE_ITEMS))
    raw_plain = decoder.raw_items(botocore_parsed(WIRE_ITEMS[:4]))
    # Then the integer field is an int, the odd values what boto3 makes of them
    assert parsed[0]["parts"] == 2
    assert type(parsed[0]["parts"]) is int
    assert parsed[2]["status"] == old[2]["status"]
    assert type(parsed[2]["status"]) is Decimal
    assert parsed[2]["parts"] == Decimal("2.5")
    assert parsed[4]["reason"] is None
    # And the fold's partial is byte for byte the old one, by either decoder
    assert raw_plain is not None
    assert partial_bytes([parsed]) == partial_bytes([old])
    assert partial_bytes([raw_plain]) == partial_bytes([old[:4]])
    assert partial_bytes([old]) != partial_bytes([old[:4]])  # the comparison can tell them apart


def test_the_raw_decoder_leaves_types_other_than_s_and_n_to_botocore() -> None:
    decoder = WireDecoder(SMS_INTEGER_FIELDS)
    for odd in ({"B": "AAE="}, {"NULL": True}, {"BOOL": True}, {"M": {"a": {"B": "AAE="}}}):
        assert decoder.raw_items([{"status": {"S": "SENT"}}, {"reason": odd}]) is None


class FakeQueryEndpoint:
    """Answers the client's Query requests with JSON bodies, as DynamoDB would (no network):
    botocore's whole pipeline runs, the before-parse hook included."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies = bodies
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.requests.append(json.loads(request.body))
        body = json.dumps(self.bodies.pop(0)).encode()

        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield body

        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, Raw())


def test_the_pager_decodes_the_response_json_itself_and_falls_back_for_other_types(
    dynamodb_client: Any,
) -> None:
    from boto3.dynamodb.types import Binary

    # Given a client whose Query answers three pages: typed S/N items, a number where text
    # belongs (S and N, but not the projection's types), then one with a binary
    pager = DynamoDayShardPager(
        dynamodb_client, "SmsMessages", fields=SMS_FIELDS, integers=SMS_INTEGER_FIELDS
    )
    last = {"pk": {"S": "JOB#b"}, "day_shard": {"S": f"{DAY}#03"}, "sk_time": {"S": "t#b"}}
    typed = [{k: v for k, v in item.items() if k != "created_at"} for item in WIRE_ITEMS[:2]]
    endpoint = FakeQueryEndpoint(
        [
            {"Items": typed, "Count": 2, "LastEvaluatedKey": last},
            {"Items": [WIRE_ITEMS[2]], "Count": 1, "LastEvaluatedKey": last},
            {"Items": [{"status": {"S": "SENT"}, "reason": {"B": "AAE="}}], "Count": 1},
        ]
    )
    dynamodb_client.meta.events.register("before-send.dynamodb.Query", endpoint)
    raw_calls: list[int] = []
    original = WireDecoder.raw_items

    def counting(self: WireDecoder, items: Any) -> Any:
        result = original(self, items)
        raw_calls.append(result is not None)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WireDecoder, "raw_items", counting)
        # When the pager reads the day-shard
        pages = list(pager.pages(f"{DAY}#03"))
    # Then the first page came typed (columns), the second from the raw JSON, the third through
    # botocore (binary as bytes)
    assert isinstance(pages[0], ColumnPage)
    assert raw_calls == [True, False]
    assert pages[0].records() == [
        {
            "status": "DELIVERED",
            "parts": 2,
            "priority": "bulk",
            "sk_time": "2026-11-24T01:02:03.456+00:00#job-1",
        },
        {
            "status": "FAILED",
            "reason": "OPTED_OUT",
            "parts": 1,
            "priority": "transactional",
            "sk_time": "2026-11-23T16:00:00+00:00#job-2",
        },
    ]
    assert pages[1] == [
        {
            "status": Decimal("1.0"),
            "parts": Decimal("2.5"),
            "priority": 3,
            "created_at": "2026-11-24T09:59:59+09:00",
            "sk_time": "x#job-3",
        }
    ]
    assert pages[2] == [{"status": "SENT", "reason": Binary(b"\x00\x01")}]
    # And the key came back as DynamoDB gave it
    assert endpoint.requests[1]["ExclusiveStartKey"] == last
    assert endpoint.requests[2]["ExclusiveStartKey"] == last
    assert "ExclusiveStartKey" not in endpoint.requests[0]


def test_other_queries_on_the_client_are_parsed_by_botocore(dynamodb_client: Any) -> None:
    # Given a client the pager has hooked
    DynamoDayShardPager(dynamodb_client, "SmsMessages", fields=SMS_FIELDS)
    endpoint = FakeQueryEndpoint([{"Items": [{"status": {"S": "SENT"}}], "Count": 1}])
    dynamodb_client.meta.events.register("before-send.dynamodb.Query", endpoint)
    # When someone else queries on it
    response = dynamodb_client.query(TableName="SmsMessages", KeyConditionExpression="a = :a")
    # Then botocore's parse answers, untouched
    assert response["Items"] == [{"status": {"S": "SENT"}}]
    assert response["Count"] == 1


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ProvisionedThroughputExceededException", 400, True),
        ("ThrottlingException", 400, True),
        ("RequestLimitExceeded", 400, True),
        ("InternalServerError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("ValidationException", 400, False),
        ("ResourceNotFoundException", 400, False),
        ("AccessDeniedException", 400, False),
    ],
)
def test_pager_raises_transient_only_for_throttling_and_5xx(
    dynamodb_client: Any, code: str, status: int, transient: bool
) -> None:
    from botocore.exceptions import ClientError

    pager = DynamoDayShardPager(dynamodb_client, "ChatMessages", fields=CHAT_FIELDS)
    with Stubber(dynamodb_client) as stub:
        stub.add_client_error("query", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientStatsError if transient else ClientError) as caught:
            list(pager.pages(f"{DAY}#00"))
    assert isinstance(caught.value, TransientStatsError) is transient


def test_stats_table_put_maps_throttling(dynamodb_table: Any) -> None:
    table = DynamoStatsTable(dynamodb_table)
    with Stubber(dynamodb_table.meta.client) as stub:
        stub.add_client_error(
            "put_item", service_error_code="ProvisionedThroughputExceededException"
        )
        with pytest.raises(TransientStatsError):
            table.put({"date": DAY})


@pytest.fixture
def s3(aws_env: None) -> Any:
    return boto3.client("s3", region_name=REGION)


def test_object_store_maps_s3_errors(s3: Any) -> None:
    from botocore.exceptions import ClientError

    store = S3ObjectStore(s3, "reports")
    with Stubber(s3) as stub:
        stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
        stub.add_client_error(
            "put_object", service_error_code="InternalError", http_status_code=500
        )
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(TransientStatsError):
            store.put("k", b"x", content_type="text/csv")
        with pytest.raises(TransientStatsError):
            store.put("k", b"x", content_type="text/csv")
        with pytest.raises(MissingObject):
            store.get("partials/x.json")
        with pytest.raises(ClientError):
            store.get("partials/x.json")


def test_object_store_needs_a_bucket(s3: Any) -> None:
    with pytest.raises(ValueError, match="STATS_REPORTS_BUCKET"):
        S3ObjectStore(s3, "")
