"""DynamoDB adapter for the SmsMessages table: status records keyed for per-day sharded reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from courier.aws_errors import is_condition_failed
from courier.sms.status import (
    STATUS_RANK,
    JobRecord,
    JobSummary,
    PhoneJobsPage,
    SmsStatus,
    StatusChange,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.dynamodb_tables import ClientTable
    from courier.settings import Settings


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def _to_dynamo(value: object) -> object:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def _set_clauses(
    assignments: dict[str, object], prefix: str, *, overwrite: bool
) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """SET clauses with aliased names; `overwrite=False` keeps a value already stored."""
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for attribute, value in assignments.items():
        if value is None:
            continue
        name, placeholder = f"#{prefix}_{attribute}", f":{prefix}_{attribute}"
        names[name] = attribute
        values[placeholder] = _to_dynamo(value)
        # if_not_exists: a job's own facts are fixed at first write; replays must not move them.
        clauses.append(
            f"{name} = {placeholder}"
            if overwrite
            else f"{name} = if_not_exists({name}, {placeholder})"
        )
    return clauses, names, values


def _optional_time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


JOB_PREFIX = "JOB#"


def job_key(job_id: str) -> str:
    """A job's item key (`pk`), shared with the sender's claim (courier.sms.job_claims)."""
    return f"{JOB_PREFIX}{job_id}"


def _job_id_of(sk_time: str) -> str:
    """`sk_time` is `<iso time>#<job_id>`; an ISO time holds no `#`."""
    _, _, job_id = sk_time.partition("#")
    if not job_id:
        raise ValueError("not a position in the by_phone index")
    return job_id


# What a lookup by number shows of each record (all strings: batch_get_strings reads them).
_SUMMARY = [
    "job_id",
    "status",
    "status_at",
    "created_at",
    "priority",
    "to_masked",
    "reason",
    "delivery_receipts",
]


def _summary(item: dict[str, str]) -> JobSummary:
    return JobSummary(
        job_id=item.get("job_id") or item["pk"].removeprefix(JOB_PREFIX),
        status=SmsStatus(item["status"]),
        status_at=datetime.fromisoformat(item["status_at"]),
        created_at=_optional_time(item.get("created_at")),
        priority=item.get("priority"),
        to_masked=item.get("to_masked"),
        reason=item.get("reason"),
        delivery_receipts=item.get("delivery_receipts"),
    )


class SmsStatusStore:
    """Writes status transitions with rank/time conditions, so replays and reordering are harmless.

    Item shape (private to this adapter): `pk = JOB#<job_id>`; `day = <YYYY-MM-DD>` and
    `sk_time = <iso time>#<job_id>` (the sender's first write): the stats count a job in the day
    and hour of `sk_time`, from the table's stream (courier.stats.stream_counts);
    `provider_message_id` is kept for reading, not
    indexed (receipts name their job in the message Context); `phone_key` (a keyed hash of the
    number, courier.sms.phone_keys) and `sk_time` feed `by_phone`, a KEYS_ONLY index: a number's
    jobs newest first, then read by `pk` (`jobs_by_phone_key`). The sender's idempotency claim
    lives in the same item under `claim*` names (courier.sms.job_claims); an item holding only a
    claim has no `status` and is not a job record yet (`get` answers None).
    """

    def __init__(self, table: Table | ClientTable, *, timezone: str, ttl_days: int) -> None:
        self._table = table
        self._tz = ZoneInfo(timezone)
        self._ttl = timedelta(days=ttl_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsStatusStore:
        from courier.dynamodb_tables import client_table

        return cls(
            client_table(settings, settings.sms_messages_table),
            timezone=settings.service_timezone,
            ttl_days=settings.sms_status_ttl_days,
        )

    def day_keys(self, job_id: str, at: datetime) -> dict[str, str]:
        """The job's day keys: `day` (in the service timezone) and `sk_time`, the time the stats
        count it by (its day and hour) and `by_phone`'s sort key."""
        return {
            "day": at.astimezone(self._tz).date().isoformat(),
            "sk_time": f"{_iso(at)}#{job_id}",
        }

    def record(
        self,
        change: StatusChange,
        *,
        describe: dict[str, object] | None = None,
        always: dict[str, object] | None = None,
    ) -> bool:
        """Apply `change` unless the record already holds a later or higher-ranked state.

        `describe` carries the job's own facts (parts, priority, day keys...). They are written even
        when the status change loses to a receipt that got there first, as is `always` (written
        as given, replacing what is stored: the sender's idempotency claim, courier.sms.job_claims).
        Returns whether the status changed.

        One conditional UpdateItem whether or not the record exists yet: it creates the record
        (the sender's first write, or a receipt that got there first) or moves it on. A put first
        would fail, and still be billed a write, on every receipt (the record exists by then).
        """
        rank = STATUS_RANK[change.status]
        assignments: dict[str, object] = {
            "status": change.status.value,
            "status_rank": rank,
            "status_at": _iso(change.at),
            "job_id": change.job_id,
            "expires_at": int((change.at + self._ttl).timestamp()),
            "reason": change.reason,
            "provider": change.provider,
            "provider_message_id": change.provider_message_id,
            **change.details,
        }
        key = {"pk": job_key(change.job_id)}
        facts = {k: v for k, v in (describe or {}).items() if v is not None}
        return self._update(key, assignments, facts, always or {})

    def _update(
        self,
        key: dict[str, str],
        assignments: dict[str, object],
        facts: dict[str, object],
        always: dict[str, object],
    ) -> bool:
        from botocore.exceptions import ClientError

        sets, names, values = _set_clauses(assignments, "s", overwrite=True)
        fact_sets, fact_names, fact_values = _set_clauses(facts, "f", overwrite=False)
        always_sets, always_names, always_values = _set_clauses(always, "a", overwrite=True)
        fact_sets += always_sets
        fact_names.update(always_names)
        fact_values.update(always_values)
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET " + ", ".join(sets + fact_sets),
                # Names are aliased: `status` and `day` are DynamoDB reserved words. No record
                # yet (no rank) takes the change whole, facts included.
                ConditionExpression=(
                    "attribute_not_exists(#s_status_rank) OR #s_status_rank < :s_status_rank"
                    " OR (#s_status_rank = :s_status_rank AND #s_status_at < :s_status_at)"
                ),
                ExpressionAttributeNames={**names, **fact_names},
                ExpressionAttributeValues={**values, **fact_values},
            )
        except ClientError as error:
            if not is_condition_failed(error):
                raise
            if fact_sets:
                self._table.update_item(
                    Key=key,
                    UpdateExpression="SET " + ", ".join(fact_sets),
                    ExpressionAttributeNames=fact_names,
                    ExpressionAttributeValues=fact_values,
                )
            return False
        return True

    def get(self, job_id: str) -> JobRecord | None:
        item = self._table.get_item(Key={"pk": job_key(job_id)}, ConsistentRead=True).get("Item")
        if item is None or "status" not in item:
            # No item, or only the sender's claim (courier.sms.job_claims): no status yet.
            return None
        data: dict[str, Any] = {k: _from_dynamo(v) for k, v in item.items()}
        return JobRecord(
            job_id=data["job_id"],
            status=SmsStatus(data["status"]),
            status_at=datetime.fromisoformat(data["status_at"]),
            reason=data.get("reason"),
            provider=data.get("provider"),
            provider_message_id=data.get("provider_message_id"),
            parts=data.get("parts"),
            encoding=data.get("encoding"),
            priority=data.get("priority"),
            to_masked=data.get("to_masked"),
            country=data.get("country"),
            metadata=data.get("metadata") or {},
            day=data.get("day"),
            delivery_receipts=data.get("delivery_receipts"),
            created_at=_optional_time(data.get("created_at")),
        )

    def statuses(self, job_ids: list[str]) -> dict[str, str]:
        """Status by job id for the jobs that have a record (BatchGetItem of `pk` and `status`,
        100 a call, eventually consistent: 0.5 read unit per item of under 4 KB)."""
        from courier.dynamodb_tables import batch_get_strings

        items = batch_get_strings(self._table, "pk", [job_key(j) for j in job_ids], ["status"])
        return {
            item["pk"].removeprefix(JOB_PREFIX): item["status"]
            for item in items
            if "status" in item
        }

    def jobs_by_phone_key(
        self, phone_key: str, *, limit: int, before: str | None = None
    ) -> PhoneJobsPage:
        """A number's jobs, newest first (by `sk_time`: first write time, then job id).

        One Query of the KEYS_ONLY `by_phone` index (keys only: a few read units for a page),
        then one BatchGetItem of the page's records (0.5 read unit each). A projection carrying
        the status would instead cost a GSI write on every status change of every job; lookups
        are rare, writes are not. `before` is the `sk_time` a previous page ended at.
        """
        from courier.dynamodb_tables import batch_get_strings

        request: dict[str, Any] = {
            "IndexName": "by_phone",
            "KeyConditionExpression": "phone_key = :key",
            "ExpressionAttributeValues": {":key": phone_key},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if before is not None:
            request["ExclusiveStartKey"] = {
                "phone_key": phone_key,
                "sk_time": before,
                "pk": job_key(_job_id_of(before)),
            }
        page = self._table.query(**request)
        keys = [(str(item["pk"]), str(item["sk_time"])) for item in page.get("Items", [])]
        found = {
            item["pk"]: item
            for item in batch_get_strings(self._table, "pk", [pk for pk, _ in keys], _SUMMARY)
        }
        # A record that expired between the two reads is simply left out.
        summaries = [_summary(found[pk]) for pk, _ in keys if pk in found and "status" in found[pk]]
        more = "LastEvaluatedKey" in page and bool(keys)
        return PhoneJobsPage(jobs=summaries, last_sk_time=keys[-1][1] if more else None)
