"""DynamoDB adapter for the redrive's checks: a job's status and its idempotency claim.

Both live in the job's SmsMessages item; the claim is read through the sender's own persistence
layer (courier.sms.job_claims, configured with courier.sms.delivery's IDEMPOTENCY_KEY_*
constants), so the two cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from courier.sms.dead_letter_redrive import JobFacts

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from courier.settings import Settings
    from courier.sms.status_store import SmsStatusStore


class TableJobHistory:
    """Answers `JobHistory.facts` from the job's SmsMessages item."""

    def __init__(self, status_store: SmsStatusStore, idempotency: BasePersistenceLayer) -> None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        from courier.sms.delivery import IDEMPOTENCY_KEY_JMESPATH, IDEMPOTENCY_KEY_PREFIX

        self._status = status_store
        self._idempotency = idempotency
        # No payload validation: the record is only looked up, never compared with a payload.
        idempotency.configure(
            IdempotencyConfig(event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH),
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TableJobHistory:
        from courier.sms.job_claims import JobClaimStore
        from courier.sms.status_store import SmsStatusStore

        status = SmsStatusStore.from_settings(settings)
        return cls(status, JobClaimStore.from_settings(settings, status))

    def facts(self, job_id: str) -> JobFacts:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemNotFoundError,
        )

        record = self._status.get(job_id)
        try:
            stored = self._idempotency.get_record(data={"job_id": job_id})
        except IdempotencyItemNotFoundError:
            stored = None
        expires = (
            datetime.fromtimestamp(float(stored.expiry_timestamp), tz=UTC)
            if stored is not None and stored.expiry_timestamp
            else None
        )
        return JobFacts(
            status=record.status if record is not None else None, idempotency_expires_at=expires
        )
