"""In-memory stand-ins for the SMS sender's idempotency store and opt-out list, for tests and
benchmarks that must not touch any network (bench/ never imports tests/).
"""

from __future__ import annotations

import threading
import time

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord


class InMemoryIdempotencyStore(BasePersistenceLayer):
    """Powertools persistence with the DynamoDB layer's semantics, in a dict."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            if idempotency_key not in self.records:
                raise IdempotencyItemNotFoundError
            return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._lock:
            existing = self.records.get(data_record.idempotency_key)
            if existing is not None and (existing.expiry_timestamp or 0) > now:
                in_progress_expired = (
                    existing.status == "INPROGRESS"
                    and existing.in_progress_expiry_timestamp is not None
                    and existing.in_progress_expiry_timestamp < now * 1000
                )
                if not in_progress_expired:
                    # As the DynamoDB layer does: a changed payload is a validation error.
                    self._validate_payload(data_payload=data_record, stored_data_record=existing)
                    raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
            self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records.pop(data_record.idempotency_key, None)


class SetOptOuts:
    """An opt-out list in a set."""

    def __init__(self, *numbers: str) -> None:
        self.numbers = set(numbers)

    def is_opted_out(self, phone_number: str) -> bool:
        return phone_number in self.numbers
