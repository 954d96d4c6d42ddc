"""The admin console's bulk SMS campaign routes (`/api/admin/campaigns...`).

    POST /api/admin/campaigns                  create a draft (name + template)
    GET  /api/admin/campaigns                  the newest campaigns
    PUT  /api/admin/campaigns/{id}/audience    the audience CSV (text/csv) -> per-row report
    GET  /api/admin/campaigns/{id}             preview (encoding, parts, cost) and progress
    POST /api/admin/campaigns/{id}/launch      launch now or at a time ({"at": null | ISO time})
    POST /api/admin/campaigns/{id}/cancel      stop the chunks not yet queued

Every route requires a signed-in admin (`signed_in_admin()`); every change is audited by the
campaign service. The launch itself runs in the campaign launcher function (courier.campaigns).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AwareDatetime, BaseModel, Field

from courier.admin.audit import AuditActor
from courier.campaigns.audience import MAX_AUDIENCE_BYTES, Audience, AudienceFileError, RowStatus
from courier.campaigns.model import Campaign, CampaignConflict, CampaignNotFound
from courier.campaigns.service import MAX_NAME_CHARS, CampaignService
from courier.campaigns.template import MAX_TEMPLATE_CHARS, TemplateError
from courier.http_api import wiring
from courier.http_api.admin_routes import ADMIN_TOKEN, request_id, signed_in_admin
from courier.http_api.errors import ApiError, FieldError, error_responses
from courier.http_api.origin import header
from courier.observability import mask_phone
from courier.settings import get_settings

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

CAMPAIGN_ID: Final = re.compile(r"^[0-9a-f]{32}$")
MAX_REPORTED_PROBLEMS: Final = 500
AUDIENCE_PATH: Final = re.compile(r"^/api/admin/campaigns/[^/]+/audience/?$")
SECURITY: Final[list[dict[str, list[str]]]] = [{ADMIN_TOKEN: []}]
# The resolver's body limit on the audience route: the file's own limit plus room for the
# multipart-free request overhead (the file limit itself is checked with its own error).
AUDIENCE_BODY_BYTES: Final = MAX_AUDIENCE_BYTES + 64 * 1024


class CreateCampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    template: str = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_CHARS,
        description="Message text with {name}-style variables ({{ and }} for literal braces).",
    )


class LaunchIn(BaseModel):
    at: AwareDatetime | None = Field(
        default=None, description="When to launch (ISO 8601 with an offset); null: now."
    )


class CampaignOut(BaseModel):
    id: str
    name: str
    template: str
    state: str = Field(description="draft, scheduled, launching, launched or cancelled")
    created_by: str
    created_at: datetime
    updated_at: datetime
    launch_at: datetime | None
    launched_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    rows: dict[str, int] | None = Field(description="Audience rows by status; null: no upload.")
    chunks_queued: int
    jobs_queued: int

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        return cls(
            id=c.id,
            name=c.name,
            template=c.template,
            state=c.state.value,
            created_by=c.created_by.username,
            created_at=c.created_at,
            updated_at=c.updated_at,
            launch_at=c.launch_at,
            launched_at=c.launched_at,
            finished_at=c.finished_at,
            cancelled_at=c.cancelled_at,
            rows=(c.audience or {}).get("counts"),
            chunks_queued=c.chunks_queued,
            jobs_queued=c.jobs_queued,
        )


class CampaignListOut(BaseModel):
    campaigns: list[CampaignOut] = Field(description="Newest first.")


class RowProblemOut(BaseModel):
    row: int = Field(description="Data row, from 1 (the header is not counted).")
    phone: str = Field(description="The number, masked.")
    status: str = Field(description="invalid, duplicate or opted_out")
    code: str | None
    message: str | None


class AudienceReportOut(BaseModel):
    rows: int
    counts: dict[str, int] = Field(description="Rows by status: valid, invalid, duplicate, ...")
    parts_total: int = Field(description="SMS parts of every valid row's message.")
    unused_columns: list[str]
    problems: list[RowProblemOut] = Field(description="Rows not valid, in row order.")
    problems_truncated: bool = Field(description=f"More than {MAX_REPORTED_PROBLEMS} problems.")

    @classmethod
    def of(cls, audience: Audience) -> AudienceReportOut:
        bad = [r for r in audience.rows if r.status is not RowStatus.VALID]
        summary = audience.summary()
        return cls(
            rows=len(audience.rows),
            counts=audience.counts,
            parts_total=int(summary["parts_total"]),  # type: ignore[call-overload]
            unused_columns=audience.unused_columns,
            problems=[
                RowProblemOut(
                    row=r.row,
                    phone=mask_phone(r.phone) if r.phone else "",
                    status=r.status.value,
                    code=r.error_code,
                    message=r.error,
                )
                for r in bad[:MAX_REPORTED_PROBLEMS]
            ],
            problems_truncated=len(bad) > MAX_REPORTED_PROBLEMS,
        )


class MessagePreviewOut(BaseModel):
    encoding: str = Field(description="GSM-7 or UCS-2")
    characters: int
    parts: int
    cost: Decimal


class ProgressOut(BaseModel):
    jobs_queued: int
    by_status: dict[str, int] = Field(
        description="SENT, DELIVERED, FAILED, UNKNOWN from the status records; QUEUED: none yet."
    )


class CampaignPreviewOut(BaseModel):
    campaign: CampaignOut
    variables: list[str]
    sample: MessagePreviewOut = Field(description="The template with variables shown by name.")
    encoding: str = Field(description="GSM-7, UCS-2 (some rows need it), or unknown (no rows).")
    max_parts: int = Field(description="The most parts one recipient's message takes.")
    cost_per_message: Decimal = Field(description="Estimated, at max_parts.")
    total_parts: int
    total_cost: Decimal = Field(description="Estimated, for every valid row.")
    currency: str
    progress: ProgressOut | None = Field(description="Once jobs are queued.")


def _actor() -> AuditActor:
    admin = signed_in_admin()
    return AuditActor(sub=admin.sub, username=admin.username)


def _service() -> CampaignService:
    return wiring.campaign_service(get_settings())


def _checked_id(campaign_id: str) -> str:
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise ApiError(404, "campaign_not_found", "no such campaign")
    return campaign_id


def _conflict(error: CampaignConflict) -> ApiError:
    return ApiError(409, error.code, str(error))


def _not_found() -> ApiError:
    return ApiError(404, "campaign_not_found", "no such campaign")


def _ok(description: str, model: type[BaseModel]) -> Any:
    return {"description": description, "content": {"application/json": {"model": model}}}


@router.post(
    "/api/admin/campaigns",
    summary="Create a campaign",
    description="A draft from a name and a template; 422 lists every template problem.",
    tags=["admin"],
    security=SECURITY,
    responses={201: _ok("The draft", CampaignOut), **error_responses(401, 403, 405, 422, 503)},
)
def create_campaign(body: Annotated[CreateCampaignIn, Body()]) -> tuple[CampaignOut, int]:
    actor = _actor()
    try:
        campaign = _service().create(actor, body.name, body.template, request_id())
    except TemplateError as error:
        problems = [
            FieldError(field="template", code=p.code, message=p.message) for p in error.problems
        ]
        raise ApiError(422, "invalid_template", str(error), errors=problems) from None
    except ValueError as error:
        raise ApiError(422, "invalid_campaign", str(error)) from None
    return CampaignOut.of(campaign), 201


@router.get(
    "/api/admin/campaigns",
    summary="List campaigns",
    description="The newest campaigns first.",
    tags=["admin"],
    security=SECURITY,
    responses={200: _ok("Campaigns", CampaignListOut), **error_responses(401, 403, 405, 422, 503)},
)
def list_campaigns(
    limit: Annotated[int, Query(ge=1, le=100, description="How many")] = 50,
) -> CampaignListOut:
    signed_in_admin()
    return CampaignListOut(campaigns=[CampaignOut.of(c) for c in _service().recent(limit)])


@router.put(
    "/api/admin/campaigns/<campaign_id>/audience",
    summary="Upload a campaign's audience",
    description="The body is a CSV file (Content-Type text/csv, UTF-8): a header with `phone` "
    "and one column per template variable, then one recipient a row (at most 10,000 rows, "
    "4 MiB). Every row is checked (E.164 number, variables present, message within the part "
    "limit), repeated numbers and opted-out numbers are marked; the report lists the rows "
    "that will not be sent. A new upload replaces the previous one (drafts only).",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: _ok("The per-row report", AudienceReportOut),
        **error_responses(400, 401, 403, 404, 405, 409, 413, 415, 422, 503),
    },
)
def upload_audience(campaign_id: str) -> AudienceReportOut:
    actor = _actor()
    event = router.current_event
    content_type = (header(event.headers, "content-type") or "").split(";")[0].strip().lower()
    if content_type != "text/csv":
        raise ApiError(415, "unsupported_media_type", "send the audience as text/csv")
    try:
        text = event.decoded_body or ""
    except UnicodeDecodeError:
        raise ApiError(400, "not_utf8", "the CSV file must be UTF-8 text") from None
    try:
        audience = _service().upload_audience(actor, _checked_id(campaign_id), text, request_id())
    except AudienceFileError as error:
        status = 413 if error.code in ("file_too_large", "too_many_rows") else 422
        raise ApiError(status, error.code, str(error)) from None
    except CampaignNotFound:
        raise _not_found() from None
    except CampaignConflict as error:
        raise _conflict(error) from None
    return AudienceReportOut.of(audience)


@router.get(
    "/api/admin/campaigns/<campaign_id>",
    summary="Preview a campaign and follow its progress",
    description="Encoding, parts and estimated cost per message and in total; rows by status; "
    "once launched, its jobs counted by SMS status.",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: _ok("The campaign", CampaignPreviewOut),
        **error_responses(401, 403, 404, 405, 422, 503),
    },
)
def get_campaign(campaign_id: str) -> CampaignPreviewOut:
    signed_in_admin()
    settings = get_settings()
    try:
        view = _service().view(_checked_id(campaign_id))
    except CampaignNotFound:
        raise _not_found() from None
    audience = view.campaign.audience or {}
    rows = int(audience.get("rows") or 0)
    encoding = "unknown" if not rows else ("UCS-2" if audience.get("ucs2_rows") else "GSM-7")
    return CampaignPreviewOut(
        campaign=CampaignOut.of(view.campaign),
        variables=list(view.variables),
        sample=MessagePreviewOut(
            encoding=view.sample.encoding,
            characters=view.sample.characters,
            parts=view.sample.parts,
            cost=view.sample.cost,
        ),
        encoding=encoding,
        max_parts=int(audience.get("max_parts") or 0),
        cost_per_message=view.cost_per_message,
        total_parts=int(audience.get("parts_total") or 0),
        total_cost=view.total_cost,
        currency=settings.campaign_currency,
        progress=ProgressOut(
            jobs_queued=view.progress.jobs_queued, by_status=view.progress.by_status
        )
        if view.progress
        else None,
    )


@router.post(
    "/api/admin/campaigns/<campaign_id>/launch",
    summary="Launch a campaign",
    description="Now (`at` null or past) or at a time within the scheduling horizon. The "
    "launcher queues the jobs in chunks; job ids come from the campaign and the number, so a "
    "relaunch (after a cancel) never sends a recipient twice.",
    tags=["admin"],
    security=SECURITY,
    responses={
        202: _ok("Launching or scheduled", CampaignOut),
        **error_responses(401, 403, 404, 405, 409, 422, 503),
    },
)
def launch_campaign(campaign_id: str, body: Annotated[LaunchIn, Body()]) -> tuple[CampaignOut, int]:
    actor = _actor()
    try:
        campaign = _service().launch(actor, _checked_id(campaign_id), body.at, request_id())
    except CampaignNotFound:
        raise _not_found() from None
    except CampaignConflict as error:
        raise _conflict(error) from None
    except ValueError as error:
        raise ApiError(422, "invalid_launch_time", str(error)) from None
    return CampaignOut.of(campaign), 202


@router.post(
    "/api/admin/campaigns/<campaign_id>/cancel",
    summary="Cancel a campaign",
    description="Stops the chunks not yet queued (jobs already queued are sent).",
    tags=["admin"],
    security=SECURITY,
    responses={
        200: _ok("Cancelled", CampaignOut),
        **error_responses(401, 403, 404, 405, 409, 422, 503),
    },
)
def cancel_campaign(campaign_id: str) -> CampaignOut:
    actor = _actor()
    try:
        return CampaignOut.of(_service().cancel(actor, _checked_id(campaign_id), request_id()))
    except CampaignNotFound:
        raise _not_found() from None
    except CampaignConflict as error:
        raise _conflict(error) from None
