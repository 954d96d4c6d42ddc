"""One interface for every SMS provider, the errors it may raise, and the factory that picks one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from courier.settings import Settings

MessageType = Literal["TRANSACTIONAL", "PROMOTIONAL"]


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """What a provider needs to send one job; built by the sender from a validated `SmsJob`."""

    job_id: str
    to: str
    body: str
    message_type: MessageType
    parts: int
    encoding: str
    origination: str | None = None
    ttl_seconds: int | None = None
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderAccepted:
    """The provider took the message; `message_id` ties later delivery receipts to it."""

    provider: str
    message_id: str


class ProviderError(Exception):
    """A send the provider refused; `code` is a stable reason recorded on the status record."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class RetryableSendError(ProviderError):
    """Throttling, 5xx, timeouts, transient configuration trouble: try the job again later."""


class PermanentSendError(ProviderError):
    """The job can never succeed as it is (invalid number, opted out, blocked): record FAILED."""


class UnknownOutcomeError(ProviderError):
    """The request may have reached the provider but no answer came back (a read timeout, a
    connection reset after the request was written): sending again could send twice, so the
    job is recorded as UNKNOWN and settled by its delivery receipt instead."""


class SmsProvider(Protocol):
    """Sends one message, in one attempt.

    Raises `RetryableSendError` (the provider certainly did not take it), `PermanentSendError`
    or `UnknownOutcomeError` (it may have), nothing else.
    """

    name: str
    # Whether this provider's delivery receipts reach the status function (SENT then moves to
    # DELIVERED/FAILED); without them SENT is the job's final state.
    sends_receipts: bool

    def send(self, message: OutboundSms) -> ProviderAccepted: ...


def build_provider(settings: Settings) -> SmsProvider:
    """The provider the settings name; imports only the adapter that is used."""
    if settings.sms_provider == "end-user-messaging":
        from courier.sms.providers.end_user_messaging import EndUserMessagingProvider

        return EndUserMessagingProvider.from_settings(settings)
    if settings.sms_provider == "sns":
        from courier.sms.providers.sns import SnsProvider

        return SnsProvider.from_settings(settings)
    from courier.sms.providers.sandbox import SandboxProvider

    return SandboxProvider.from_settings(settings)
