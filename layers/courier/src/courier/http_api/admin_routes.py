"""The HTTP API's admin routes (`/api/admin/*`): Cognito access token of the admin group.

    GET /api/admin/me       who is signed in (username, groups)
    GET /api/admin/audit    the audit log, newest first, filtered, a keyset page at a time

API Gateway's JWT authorizer checks the token before these run; every route here checks it
again (`courier.admin.identity`: signature, issuer, expiry, access token of the web app's
client) and requires the admin group (403 otherwise). Later admin routes take the caller from
`signed_in_admin()` and record what they change with `wiring.audit_log(...).record(...)`.
"""

from __future__ import annotations

from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AwareDatetime, BaseModel, Field

from courier.admin.audit import (
    MAX_CURSOR_CHARS,
    PAGE_DEFAULT_LIMIT,
    PAGE_MAX_LIMIT,
    AuditEntry,
    AuditFilters,
    BadAuditCursor,
)
from courier.admin.identity import AdminAuthError, AdminIdentity, bearer_token
from courier.http_api import wiring
from courier.http_api.errors import ApiError, error_responses
from courier.http_api.origin import header
from courier.settings import get_settings

ADMIN_TOKEN: Final = "adminToken"  # noqa: S105 (a scheme name)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


class AdminMeOut(BaseModel):
    sub: str = Field(description="The Cognito user's id.")
    username: str
    groups: list[str]


class AuditPageOut(BaseModel):
    entries: list[AuditEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the older entries.")


def signed_in_admin() -> AdminIdentity:
    """The admin making this request (401 without a valid access token, 403 outside the group)."""
    authorization = header(router.current_event.headers, "authorization")
    try:
        token = bearer_token(authorization)
        return wiring.admin_verifier(get_settings()).authorize(token)
    except AdminAuthError as error:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        raise ApiError(error.status, error.code, error.reason, headers=headers) from None


def request_id() -> str:
    """API Gateway's id of this request (the audit entries of an action carry it)."""
    return str(router.current_event.request_context.request_id or "")


@router.get(
    "/api/admin/me",
    summary="Who is signed in",
    description="The signed-in admin's Cognito user id, username and groups.",
    tags=["admin"],
    security=[{ADMIN_TOKEN: []}],
    responses={
        200: {"description": "The admin", "content": {"application/json": {"model": AdminMeOut}}},
        **error_responses(401, 403, 405, 422, 503),
    },
)
def admin_me() -> AdminMeOut:
    admin = signed_in_admin()
    return AdminMeOut(sub=admin.sub, username=admin.username, groups=list(admin.groups))


@router.get(
    "/api/admin/audit",
    summary="Read the audit log",
    description="What admins did, newest first: filter by `actor` (username or user id), "
    "`action` (exact, or a prefix written `sms.*`) and a time range (`from` inclusive, `to` "
    "exclusive, ISO 8601 with a zone); page with `cursor` (a previous page's next_cursor).",
    tags=["admin"],
    security=[{ADMIN_TOKEN: []}],
    responses={
        200: {
            "description": "A page of entries",
            "content": {"application/json": {"model": AuditPageOut}},
        },
        **error_responses(400, 401, 403, 405, 422, 503),
    },
)
def admin_audit(
    actor: Annotated[str | None, Query(max_length=128, description="Username or user id")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="e.g. sms.redrive, or sms.*")
    ] = None,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Entries at or after this time")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(alias="to", description="Entries before this time")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of a page")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=PAGE_MAX_LIMIT, description="Entries per page")
    ] = PAGE_DEFAULT_LIMIT,
) -> AuditPageOut:
    signed_in_admin()
    try:
        filters = AuditFilters(actor=actor or None, action=action or None, start=start, end=end)
    except ValueError as error:
        raise ApiError(400, "invalid_filter", str(error)) from None
    try:
        page = wiring.audit_log(get_settings()).page(filters, cursor, limit)
    except BadAuditCursor as error:
        raise ApiError(400, "bad_cursor", str(error)) from None
    return AuditPageOut(entries=page.entries, next_cursor=page.next_cursor)
