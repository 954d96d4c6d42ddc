"""In-memory stand-ins for the sender's adapters, for tests that must not touch any network."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from courier.sms.status import StatusChange

# Shared with the benchmarks, so they live in local/.
from local.in_memory_adapters import InMemoryIdempotencyStore as InMemoryIdempotencyStore
from local.in_memory_adapters import SetOptOuts as SetOptOuts


class RecordingStatus:
    """Keeps every status change; mirrors the store's day keys with one shard."""

    def __init__(self) -> None:
        self.changes: list[StatusChange] = []
        self.facts: list[dict[str, object]] = []

    def record(
        self,
        change: StatusChange,
        *,
        describe: dict[str, object] | None = None,
        always: dict[str, object] | None = None,
    ) -> bool:
        self.changes.append(change)
        self.facts.append({**(describe or {}), **(always or {})})
        return True

    def day_keys(self, job_id: str, at: datetime) -> dict[str, str]:
        return {"day": at.date().isoformat(), "sk_time": f"{at.isoformat()}#{job_id}"}


class CountingLimiter:
    def __init__(self) -> None:
        self.tokens: list[int] = []

    def acquire(self, tokens: int) -> float:
        self.tokens.append(tokens)
        return 0.0


def job(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"job_id": "job-1", "to": "+821012345678", "body": "Your code is 123456"}
    return {**base, **overrides}
