"""An in-memory SMS provider with fault injection, for local runs, tests and benchmarks."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from courier.observability import logger, mask_phone
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    ProviderAccepted,
    RetryableSendError,
)

if TYPE_CHECKING:
    from courier.settings import Settings

# Country code 999 is reserved and unassigned in E.164, so no real provider could deliver there
# either: it lets a local run exercise permanent failures without any configuration.
UNASSIGNED_PREFIX = "+999"


class SandboxProvider:
    """Accepts messages without sending them, failing on purpose when asked to.

    Every send attempt is counted and every accepted message kept in memory; the sender calls
    `send` from several threads, so all bookkeeping happens under one lock (the simulated
    latency does not, or the threads would queue behind each other).

    The optional outbox is a JSON Lines file with one line per accepted message, *including the
    full phone number and body*: it is a local developer tool to see what would have been sent,
    never to be enabled in a deployed environment.
    """

    name = "sandbox"
    sends_receipts = False

    def __init__(
        self,
        *,
        latency_seconds: float = 0.0,
        failure_rate: float = 0.0,
        seed: int | None = None,
        permanent_failure_numbers: Iterable[str] = (),
        outbox_path: str | Path | None = None,
    ) -> None:
        if latency_seconds < 0:
            raise ValueError("latency_seconds must not be negative")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        self._latency_seconds = latency_seconds
        self._failure_rate = failure_rate
        self._random = random.Random(seed)
        self._permanent_failure_numbers = frozenset(permanent_failure_numbers)
        self._outbox = Path(outbox_path) if outbox_path else None
        if self._outbox is not None:
            self._outbox.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sent: list[OutboundSms] = []
        self._calls = 0
        self._successes_by_job: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxProvider:
        return cls(
            latency_seconds=settings.sms_sandbox_latency_ms / 1000.0,
            failure_rate=settings.sms_sandbox_failure_rate,
            outbox_path=settings.sms_sandbox_outbox or None,
        )

    @property
    def sent(self) -> list[OutboundSms]:
        """Accepted messages in the order they were accepted (a copy)."""
        with self._lock:
            return list(self._sent)

    @property
    def calls(self) -> int:
        """Send attempts, failed ones included."""
        with self._lock:
            return self._calls

    @property
    def successes_by_job(self) -> Counter[str]:
        """How many times each job_id was accepted (a copy); exactly-once means all ones."""
        with self._lock:
            return Counter(self._successes_by_job)

    def send(self, message: OutboundSms) -> ProviderAccepted:
        with self._lock:
            self._calls += 1
        if self._latency_seconds:
            time.sleep(self._latency_seconds)
        to = message.to
        if to in self._permanent_failure_numbers or to.startswith(UNASSIGNED_PREFIX):
            raise PermanentSendError("INVALID_NUMBER", f"sandbox rejects {mask_phone(to)}")
        with self._lock:
            # Drawn under the lock so a seeded run makes the same sequence of draws.
            if self._failure_rate and self._random.random() < self._failure_rate:
                raise RetryableSendError("SANDBOX_TRANSIENT", "injected transient failure")
            message_id = f"sandbox-{uuid.uuid4().hex}"
            self._sent.append(message)
            self._successes_by_job[message.job_id] += 1
            if self._outbox is not None:
                # Written under the lock so lines from concurrent sends never interleave.
                _append_outbox(self._outbox, message, message_id)
        logger.debug(
            "Sandbox accepted a message",
            extra={"job_id": message.job_id, "to": mask_phone(message.to), "id": message_id},
        )
        return ProviderAccepted(provider=self.name, message_id=message_id)


def _append_outbox(path: Path, message: OutboundSms, message_id: str) -> None:
    line = {
        "accepted_at": datetime.now(UTC).isoformat(),
        "message_id": message_id,
        "job_id": message.job_id,
        "to": message.to,
        "body": message.body,
        "message_type": message.message_type,
        "parts": message.parts,
        "encoding": message.encoding,
        "origination": message.origination,
        "context": message.context,
    }
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(line, ensure_ascii=False) + "\n")
