"""The admin API's SMS routes: a job's status, the dead-letter queues, the opt-out list.

    POST   /api/admin/jobs/search               {"phone"}: its jobs, newest first, paged (masked)
    GET    /api/admin/jobs/{job_id}             the job's status record (number masked)
    GET    /api/admin/dlq/{queue}               dead letters: reasons, masked numbers, ages
    POST   /api/admin/dlq/{queue}/redrive       dry run by default; {"apply": true} moves them
    POST   /api/admin/opt-outs/search           {"phone"}: opted out? since when, why
    POST   /api/admin/opt-outs                  {"phone", "reason"}: opt it out
    POST   /api/admin/opt-outs/remove           {"phone"}: take it off the list

A phone number travels in request bodies only, never in a path or query string: URLs are what
CloudFront standard logs, WAF logs and browser tooling record. The lookup by number never
stores or searches the number itself: the senders write a keyed hash of it
(courier.sms.phone_keys) that the `by_phone` index is keyed on. Every change is recorded in the
audit log with what it was before and after; reads are not audited.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from courier.admin import sms_admin
from courier.http_api import wiring
from courier.http_api.admin_routes import ADMIN_TOKEN, request_id, signed_in_admin
from courier.http_api.errors import ApiError, error_responses
from courier.http_api.models import JobStatusOut
from courier.observability import mask_phone
from courier.settings import get_settings
from courier.sms.contract import E164_PATTERN, JOB_ID_PATTERN
from courier.sms.dead_letter_redrive import PlannedMessage, Selection, redrive_rules
from courier.sms.dead_letters import DeadLetter, QueueKind
from courier.sms.status import JobSummary

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

SECURITY: list[dict[str, list[str]]] = [{ADMIN_TOKEN: []}]
MAX_DLQ_LIMIT = 500  # one listing must fit API Gateway's 29 s
MAX_JOBS_LIMIT = 100  # one BatchGetItem reads a page's records


class JobSummaryOut(BaseModel):
    """One job of a number: its latest status and times (the table keeps no other history)."""

    job_id: str
    to_masked: str | None = None
    status: str
    status_at: datetime = Field(description="When the current status was recorded.")
    created_at: datetime | None = Field(
        default=None, description="When the sender recorded the job (its send or refusal)."
    )
    priority: str | None = None
    reason: str | None = None
    delivery_receipts: str | None = Field(
        default=None,
        description="'expected': a receipt moves SENT/UNKNOWN on; 'none': SENT is final",
    )

    @classmethod
    def of(cls, job: JobSummary) -> JobSummaryOut:
        return cls(
            job_id=job.job_id,
            to_masked=job.to_masked,
            status=job.status.value,
            status_at=job.status_at,
            created_at=job.created_at,
            priority=job.priority,
            reason=job.reason,
            delivery_receipts=job.delivery_receipts,
        )


class PhoneJobsOut(BaseModel):
    to: str = Field(description="The number, masked.")
    jobs: list[JobSummaryOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for older jobs.")


class DeadLetterPageOut(BaseModel):
    queue: QueueKind
    letters: list[DeadLetter]
    depth: int = Field(description="The queue's approximate size when listed.")
    complete: bool = Field(description="False when the queue holds more than `limit`.")


class RedriveIn(BaseModel):
    apply: bool = Field(default=False, description="Move the messages; otherwise a dry run.")
    force: bool = Field(default=False, description="Move refused messages too.")
    all: bool = Field(default=False, description="Every message in the queue.")
    message_ids: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list, max_length=100
    )
    failure_codes: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20
    )


class RedriveOut(BaseModel):
    applied: bool
    messages: list[PlannedMessage] = Field(description="The selected messages and their fate.")
    not_found: list[str]
    method: str | None = Field(default=None, description="How they moved (applied only).")
    moved: list[str] = Field(default_factory=list)
    refused_now: list[str] = Field(default_factory=list, description="Refused when re-checked.")
    failed: dict[str, str] = Field(default_factory=dict)
    vanished: list[str] = Field(default_factory=list)


class OptOutOut(BaseModel):
    to: str = Field(description="The number, masked.")
    opted_out: bool
    source: str | None = None
    opted_out_at: str | None = None


class PhoneIn(BaseModel):
    phone: str = Field(max_length=16, description="E.164, e.g. +821012345678")


class PhoneJobsIn(PhoneIn):
    limit: int = Field(default=20, ge=1, le=MAX_JOBS_LIMIT, description="Most jobs a page.")
    cursor: str | None = Field(
        default=None,
        max_length=sms_admin.MAX_JOBS_CURSOR_CHARS,
        description="next_cursor of a page",
    )


class OptOutIn(PhoneIn):
    reason: str = Field(min_length=1, max_length=200, description="Why (kept in the list).")


def _queue_kind(queue: str) -> QueueKind:
    try:
        return QueueKind(queue)
    except ValueError:
        kinds = ", ".join(k.value for k in QueueKind)
        raise ApiError(404, "queue_not_found", f"no such dead-letter queue; use {kinds}") from None


def _dead_letter_queue(kind: QueueKind) -> Any:
    try:
        return wiring.dead_letter_queue(get_settings(), kind)
    except ValueError:
        raise ApiError(503, "queue_unavailable", f"the {kind} queues are not configured") from None


def _phone(phone: str) -> str:
    if not re.fullmatch(E164_PATTERN, phone):
        raise ApiError(400, "invalid_phone", "phone must be an E.164 number, e.g. +821012345678")
    return phone


def _valid_phone(phone: str) -> str:
    """An E.164 number that fits its country's numbering plan (a number no job can have is
    refused rather than looked up)."""
    from courier.sms.numbers import is_valid_number

    number = _phone(phone)
    if not is_valid_number(number):
        raise ApiError(400, "invalid_phone", "phone is not a valid number in its country's plan")
    return number


@router.post(
    "/api/admin/jobs/search",
    summary="Find a number's jobs",
    description="The jobs sent to an E.164 number (in the body, so no URL carries it), newest "
    "first, each with its masked number, latest status, priority and times; page with "
    "`cursor`. The number is looked up by a keyed "
    "hash (the records hold it masked only) and never returned in full. The table keeps each "
    "job's latest status, not every transition: `created_at` is when the sender recorded the "
    "job, `status_at` when its current status was recorded.",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: {"description": "A page of the number's jobs"},
        **error_responses(400, 401, 403, 405, 422, 503),
    },
)
def admin_jobs_for_phone(
    request: Annotated[PhoneJobsIn, Body(description="The number, and which page")],
) -> PhoneJobsOut:
    signed_in_admin()
    number = _valid_phone(request.phone)
    settings = get_settings()
    phone_keys = wiring.phone_keys(settings)
    if phone_keys is None:
        raise ApiError(503, "lookup_unavailable", "the phone lookup key is not configured")
    try:
        found = sms_admin.jobs_for_phone(
            phone_keys,
            wiring.status_store(settings),
            number,
            limit=request.limit,
            cursor=request.cursor,
        )
    except sms_admin.BadJobsCursor as error:
        raise ApiError(400, "bad_cursor", str(error)) from None
    return PhoneJobsOut(
        to=found.to_masked,
        jobs=[JobSummaryOut.of(job) for job in found.jobs],
        next_cursor=found.next_cursor,
    )


def _opt_out_out(phone: str, found: dict[str, Any] | None) -> OptOutOut:
    if found is None:
        return OptOutOut(to=mask_phone(phone), opted_out=False)
    return OptOutOut(
        to=found["to"],
        opted_out=True,
        source=found.get("source"),
        opted_out_at=found.get("opted_out_at"),
    )


@router.get(
    "/api/admin/jobs/<job_id>",
    summary="Read a job's status",
    description="The job's status record as the pipeline stores it: the latest status (later "
    "stages win), when and why, parts, encoding, the masked number. The table keeps the latest "
    "state, not every transition.",
    tags=["admin"],
    security=SECURITY,
    responses={200: {"description": "The record"}, **error_responses(400, 401, 403, 404, 405, 422)},
)
def admin_job(job_id: Annotated[str, Path(max_length=128)]) -> JobStatusOut:
    signed_in_admin()
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise ApiError(400, "invalid_job_id", "job_id must match " + JOB_ID_PATTERN)
    record = wiring.status_store(get_settings()).get(job_id)
    if record is None:
        raise ApiError(404, "job_not_found", "no status is recorded for this job")
    return JobStatusOut.of(record)


@router.get(
    "/api/admin/dlq/<queue>",
    summary="List a dead-letter queue",
    description="Each dead letter's failure code and reason, job id, masked number, age and "
    "receive count; listing leaves every message visible.",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: {"description": "The dead letters"},
        **error_responses(401, 403, 404, 405, 422, 503),
    },
)
def admin_dead_letters(
    queue: str,
    limit: Annotated[int, Query(ge=1, le=MAX_DLQ_LIMIT, description="Most to read")] = 100,
) -> DeadLetterPageOut:
    signed_in_admin()
    from courier.sms.dead_letters import inspect_dead_letters

    kind = _queue_kind(queue)
    listing = inspect_dead_letters(kind, _dead_letter_queue(kind), limit=limit)
    return DeadLetterPageOut(
        queue=kind, letters=listing.letters, depth=listing.depth, complete=listing.complete
    )


@router.post(
    "/api/admin/dlq/<queue>/redrive",
    summary="Redrive dead letters",
    description="Sends the chosen dead letters back to their queue, with the `sms dlq "
    "redrive` refusals (already sent, idempotency record expiring, unparseable, wrong source) "
    "unless `force`. A dry run unless `apply`; an applied redrive is audited.",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: {"description": "The plan, or what was done"},
        **error_responses(400, 401, 403, 404, 405, 422, 503),
    },
)
def admin_redrive(
    queue: str, request: Annotated[RedriveIn, Body(description="Which messages, and whether")]
) -> RedriveOut:
    admin = signed_in_admin()
    kind = _queue_kind(queue)
    if not (request.all or request.message_ids or request.failure_codes):
        raise ApiError(400, "no_selection", "choose messages: all, message_ids or failure_codes")
    if request.all and (request.message_ids or request.failure_codes):
        raise ApiError(400, "bad_selection", "all cannot be combined with ids or codes")
    selection = Selection(
        all=request.all,
        message_ids=frozenset(request.message_ids),
        failure_codes=frozenset(request.failure_codes),
    )
    settings = get_settings()
    outcome = sms_admin.redrive(
        kind,
        _dead_letter_queue(kind),
        wiring.job_history(settings),
        redrive_rules(settings),
        selection,
        apply=request.apply,
        force=request.force,
    )
    if outcome.change is not None:
        wiring.audit_log(settings).record(
            admin,
            "sms.redrive",
            f"dlq:{kind}",
            before=outcome.change.before,
            after=outcome.change.after,
            request_id=request_id(),
        )
    result = outcome.result
    return RedriveOut(
        applied=result is not None,
        messages=outcome.plan.messages,
        not_found=outcome.plan.not_found,
        method=result.method if result else None,
        moved=result.moved if result else [],
        refused_now=[m.letter.message_id for m in result.refused_now] if result else [],
        failed=result.failed if result else {},
        vanished=result.vanished if result else [],
    )


@router.post(
    "/api/admin/opt-outs/search",
    summary="Look up an opt-out",
    description="Whether the number is opted out, since when and why (the number masked). "
    "A POST so that no URL carries the number.",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: {"description": "The number's entry"},
        **error_responses(400, 401, 403, 405, 422),
    },
)
def admin_find_opt_out(
    request: Annotated[PhoneIn, Body(description="The number")],
) -> OptOutOut:
    signed_in_admin()
    number = _phone(request.phone)
    return _opt_out_out(number, sms_admin.find_opt_out(wiring.opt_outs(get_settings()), number))


@router.post(
    "/api/admin/opt-outs",
    summary="Opt a number out",
    description="No message is sent to it any more; the reason is kept (opting out a number "
    "already out renews the reason and time). Audited.",
    tags=["admin"],
    security=SECURITY,
    responses={200: {"description": "The entry"}, **error_responses(400, 401, 403, 405, 422)},
)
def admin_add_opt_out(
    request: Annotated[OptOutIn, Body(description="The number, and why")],
) -> OptOutOut:
    admin = signed_in_admin()
    number = _phone(request.phone)
    settings = get_settings()
    opt_outs = wiring.opt_outs(settings)
    change = sms_admin.add_opt_out(opt_outs, number, reason=request.reason, admin=admin.username)
    wiring.audit_log(settings).record(
        admin,
        "optout.add",
        mask_phone(number),
        before=change.before,
        after=change.after,
        request_id=request_id(),
    )
    return _opt_out_out(number, change.after)


@router.post(
    "/api/admin/opt-outs/remove",
    summary="Take a number off the opt-out list",
    description="Messages may be sent to it again. 404 when it is not opted out. Audited.",
    tags=["admin"],
    security=SECURITY,
    responses={200: {"description": "Removed"}, **error_responses(400, 401, 403, 404, 405, 422)},
)
def admin_remove_opt_out(
    request: Annotated[PhoneIn, Body(description="The number")],
) -> OptOutOut:
    admin = signed_in_admin()
    number = _phone(request.phone)
    settings = get_settings()
    try:
        change = sms_admin.remove_opt_out(wiring.opt_outs(settings), number)
    except sms_admin.NotOptedOut as error:
        raise ApiError(404, "not_opted_out", str(error)) from None
    wiring.audit_log(settings).record(
        admin,
        "optout.remove",
        mask_phone(number),
        before=change.before,
        after=None,
        request_id=request_id(),
    )
    return _opt_out_out(number, None)
