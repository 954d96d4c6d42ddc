"""Powertools idempotency records kept inside the job's own SmsMessages item (one write saved).

Powertools' DynamoDBPersistenceLayer keeps its record in a table of its own: a put before the
send and an update after it, then the sender writes the job's status: three writes. Here the
record's fields live in the job's status item (`pk = JOB#<job_id>`) under `claim*` names, and
the update that completes the record IS the status write (courier.sms.status_store's `record`
with the claim fields in `always`): two writes, one saved per job ($0.68 per million at Seoul's
price). What Powertools decides is unchanged: this subclass changes where the record is stored,
not the INPROGRESS / COMPLETED / expiry / payload-hash logic, which stays Powertools'.

Hand-written parts, and why: Powertools hashes the key (`<prefix>#<md5>`), so the job's key is
derived here from the job id itself (`_get_hashed_idempotency_key`); its put replaces the whole
item (a PutItem) where this one may only touch the claim fields (an UpdateItem); its delete
removes the whole item where this one removes the claim and deletes the item only when the claim
was all it held. A record's payload (the job, which the completing write needs for the job's
facts) reaches `_update_record` through `save_success`, on the same thread and call.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyKeyError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

from courier.aws_errors import is_condition_failed
from courier.sms.status_store import job_key

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from courier.settings import Settings
    from courier.sms.phone_keys import PhoneKeys
    from courier.sms.status_store import SmsStatusStore

# The claim's attributes on the job item (`status` is the job's SMS status, not the claim's).
CLAIM = "claim"
CLAIM_EXPIRES = "claim_expires"
CLAIM_IN_PROGRESS_EXPIRES = "claim_in_progress_expires"
CLAIM_RESULT = "claim_result"
CLAIM_HASH = "claim_hash"
_CLAIM_FIELDS = (CLAIM, CLAIM_EXPIRES, CLAIM_IN_PROGRESS_EXPIRES, CLAIM_RESULT, CLAIM_HASH)


class JobClaimStore(DynamoDBPersistenceLayer):
    """A Powertools persistence layer whose records are the SmsMessages job items' claim fields."""

    def __init__(
        self,
        *,
        table_name: str,
        client: Any,
        status: SmsStatusStore,
        status_ttl_days: int,
        phone_keys: PhoneKeys | None = None,
    ) -> None:
        super().__init__(
            table_name=table_name,
            key_attr="pk",
            status_attr=CLAIM,
            expiry_attr=CLAIM_EXPIRES,
            in_progress_expiry_attr=CLAIM_IN_PROGRESS_EXPIRES,
            data_attr=CLAIM_RESULT,
            validation_key_attr=CLAIM_HASH,
            boto3_client=client,
        )
        self._status = status
        self._status_ttl_seconds = status_ttl_days * 86400
        self._phone_keys = phone_keys
        self._local = threading.local()

    @classmethod
    def from_settings(
        cls, settings: Settings, status: SmsStatusStore, *, phone_keys: PhoneKeys | None = None
    ) -> JobClaimStore:
        """On the messages table, through the DynamoDB client the status store shares."""
        from courier.dynamodb_tables import dynamodb_client

        return cls(
            table_name=settings.sms_messages_table,
            client=dynamodb_client(settings),
            status=status,
            status_ttl_days=settings.sms_status_ttl_days,
            phone_keys=phone_keys,
        )

    # -- keys -------------------------------------------------------------------------------

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise IdempotencyKeyError("No data found to create a hashed idempotency_key")
        return job_key(job_id)

    # -- what the sender asks ---------------------------------------------------------------

    def save_success(self, data: dict[str, Any], result: dict[str, Any]) -> None:
        self._local.job = data
        self._local.recorded = None
        try:
            super().save_success(data=data, result=result)
        finally:
            self._local.job = None

    def take_recorded(self, job_id: str) -> bool:
        """Whether this thread's last completed record also wrote `job_id`'s status."""
        recorded = getattr(self._local, "recorded", None)
        self._local.recorded = None
        return recorded == job_id

    # -- the record on the item -------------------------------------------------------------

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        if CLAIM not in item:
            # A job item without a claim (written before the send, e.g. SCHEDULE_TOO_FAR, or by a
            # receipt that got there first) holds no idempotency record.
            raise IdempotencyItemNotFoundError
        return super()._item_to_data_record(item)

    def _put_record(self, data_record: DataRecord) -> None:
        from botocore.exceptions import ClientError

        now = dt.datetime.now()
        assignments = {
            "#status": {"S": data_record.status},
            "#expiry": {"N": str(data_record.expiry_timestamp)},
        }
        if data_record.in_progress_expiry_timestamp is not None:
            assignments["#in_progress_expiry"] = {
                "N": str(data_record.in_progress_expiry_timestamp)
            }
        if self.payload_validation_enabled and data_record.payload_hash:
            assignments["#validation"] = {"S": data_record.payload_hash}
        names = {
            "#status": self.status_attr,
            "#expiry": self.expiry_attr,
            "#in_progress_expiry": self.in_progress_expiry_attr,
            "#item_expires": "expires_at",
        }
        if "#validation" in assignments:  # DynamoDB refuses a name no expression uses
            names["#validation"] = self.validation_key_attr
        values = {f":{name[1:]}": value for name, value in assignments.items()}
        sets = [f"{name} = :{name[1:]}" for name in assignments]
        # An item the claim alone created still expires with the table's TTL.
        sets.append("#item_expires = if_not_exists(#item_expires, :item_expires)")
        values[":item_expires"] = {"N": str(int(time.time()) + self._status_ttl_seconds)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._get_key(data_record.idempotency_key),
                UpdateExpression="SET " + ", ".join(sets),
                # Powertools' own three conditions, on the claim instead of the item's key.
                ConditionExpression=(
                    "attribute_not_exists(#status) OR #expiry < :now OR (#status = :inprogress"
                    " AND attribute_exists(#in_progress_expiry)"
                    " AND #in_progress_expiry < :now_in_millis)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":now": {"N": str(int(now.timestamp()))},
                    ":now_in_millis": {"N": str(int(now.timestamp() * 1000))},
                    ":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failed(error):
                raise
            item: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if not item:
                raise IdempotencyItemAlreadyExistsError() from error
            old = self._item_to_data_record(item)
            try:
                self._validate_payload(data_payload=data_record, stored_data_record=old)
            except IdempotencyValidationError as invalid:
                raise invalid from error
            self._save_to_cache(data_record=old)
            raise IdempotencyItemAlreadyExistsError(old_data_record=old) from error

    def _update_record(self, data_record: DataRecord) -> None:
        from courier.sms.contract import SmsJob
        from courier.sms.delivery import record_result

        job_data = getattr(self._local, "job", None)
        if job_data is None:
            # Powertools completes a record only through save_success, which hands the job over.
            raise RuntimeError("a claim was completed without its job (not via save_success)")
        claim: dict[str, object] = {
            CLAIM: data_record.status,
            CLAIM_EXPIRES: int(data_record.expiry_timestamp or 0),
            CLAIM_RESULT: data_record.response_data,
        }
        if self.payload_validation_enabled:
            claim[CLAIM_HASH] = data_record.payload_hash
        job = SmsJob.model_validate(job_data)
        result = json.loads(data_record.response_data or "{}")
        record_result(self._status, job, result, phone_keys=self._phone_keys, always=claim)
        self._local.recorded = job.job_id

    def _delete_record(self, data_record: DataRecord) -> None:
        """A failed attempt frees the key: the item goes if the claim was all it held, else the
        claim's fields go and the job's status stays."""
        from botocore.exceptions import ClientError

        key = self._get_key(data_record.idempotency_key)
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=key,
                ConditionExpression="attribute_not_exists(#job_status)",
                ExpressionAttributeNames={"#job_status": "status"},
            )
        except ClientError as error:
            if not is_condition_failed(error):
                raise
            self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(f"#c{n}" for n in range(len(_CLAIM_FIELDS))),
                ExpressionAttributeNames={f"#c{n}": f for n, f in enumerate(_CLAIM_FIELDS)},
            )
