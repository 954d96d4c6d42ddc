"""The HTTP API: one Powertools resolver (payload format 2.0) with validation and OpenAPI.

    POST /api/sms                       one SmsJob or a list -> 202 per-job results
    GET  /api/sms/{job_id}              the job's status record
    GET  /api/stats?from&to&group       the stats history summed per day, week or month
    GET  /api/stats/{date}              the day's DailyStats numbers
    GET  /api/rooms/{room}/messages     a history page (Bearer chat token covering the room)
    POST /api/chat/tickets              a single-use WebSocket connect ticket (Bearer chat token)
    GET  /api/openapi.json              the OpenAPI document of this API and the admin API

The admin console's routes (`/api/admin/*`) run in a function of their own
(courier.http_api.admin_app), apart from this user-facing traffic; one document covers both.

Before the resolver (courier.http_api.resolver) parses anything, every unsigned request must
carry CloudFront's `x-origin-verify` value (refused when no value is configured, unless
VERIFY_CLOUDFRONT_ORIGIN is false) and a body of at most 256 KiB. Errors are
`{"code", "message"}` (plus `errors` for 422). Operators and services reach the SMS routes
through an API Gateway IAM authorizer (SigV4), on the API's own URL (such requests skip the
origin header); the stats route serves aggregates to the web app; people read history with the
chat token the WebSocket uses.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import (
    APIKey,
    APIKeyIn,
    HTTPBearer,
    SecurityScheme,
    Server,
)
from aws_lambda_powertools.event_handler.openapi.params import Body

from courier.http_api import wiring
from courier.http_api.admin_routes import ADMIN_TOKEN
from courier.http_api.chat_routes import CHAT_TOKEN
from courier.http_api.chat_routes import router as chat_router
from courier.http_api.errors import (
    MAX_JOBS,
    ApiError,
    FieldError,
    error_responses,
    job_field_errors,
)
from courier.http_api.models import (
    JobResultOut,
    JobStatusOut,
    SubmitFailed,
    SubmitResponse,
)
from courier.http_api.openapi_merge import merged_documents
from courier.http_api.resolver import build_resolver
from courier.http_api.stats_routes import router as stats_router
from courier.settings import get_settings
from courier.sms.contract import JOB_ID_PATTERN, SmsJob
from courier.sms.producer import validate_jobs

TITLE: Final = "Courier HTTP API"
VERSION: Final = "1.0.0"

SIGV4: Final = "sigv4"
SECURITY_SCHEMES: Final[dict[str, SecurityScheme]] = {
    SIGV4: APIKey.model_validate(
        {
            "name": "Authorization",
            "in": APIKeyIn.header,
            "description": "AWS Signature Version 4 (API Gateway IAM authorization), for services.",
        }
    ),
    CHAT_TOKEN: HTTPBearer(
        bearerFormat="JWT",
        description="The signed chat token the WebSocket API accepts (HS256, rooms claim).",
    ),
    ADMIN_TOKEN: HTTPBearer(
        bearerFormat="JWT",
        description="A Cognito access token of the admin user pool (hosted sign-in, code + "
        "PKCE), checked by the API's JWT authorizer and again by the function (admin group).",
    ),
}

# Method sets of every route, for 405 on a known path (kept equal to the resolver's; tested).
ROUTES: Final[dict[str, frozenset[str]]] = {
    "/api/sms": frozenset({"POST"}),
    "/api/sms/{job_id}": frozenset({"GET"}),
    "/api/stats": frozenset({"GET"}),
    "/api/stats/{date}": frozenset({"GET"}),
    "/api/rooms/{room}/messages": frozenset({"GET"}),
    "/api/chat/tickets": frozenset({"POST"}),
    "/api/openapi.json": frozenset({"GET"}),
}


app = build_resolver(ROUTES, body_field_errors=job_field_errors)


# -- SMS ------------------------------------------------------------------------------------


@app.post(
    "/api/sms",
    summary="Submit SMS jobs",
    description="One SmsJob or a list of up to 100. Every job is validated first: if any is "
    "invalid, nothing is queued and 422 lists the field errors per job. Otherwise each job is "
    "queued (transactional or bulk) and 202 gives one result per job, in request order. "
    "Resubmitting is safe: job_id is the idempotency key.",
    tags=["sms"],
    security=[{SIGV4: []}],
    responses={
        202: {
            "description": "Every job queued",
            "content": {"application/json": {"model": SubmitResponse}},
        },
        502: {
            "description": "Some jobs were not queued (resubmit them)",
            "content": {"application/json": {"model": SubmitFailed}},
        },
        **error_responses(400, 403, 405, 413, 422),
    },
)
def submit_sms(
    jobs: Annotated[
        SmsJob | list[SmsJob], Body(description="One SmsJob, or a list of 1 to 100 of them")
    ],
) -> Response[dict[str, Any]]:
    batch = [jobs] if isinstance(jobs, SmsJob) else list(jobs)
    if not 1 <= len(batch) <= MAX_JOBS:
        # A plain list in the annotation: Powertools reads `Annotated[list, ...]` as one item.
        raise ApiError(
            422, "validation_error", "the request is not valid", errors=job_field_errors(batch)
        )
    # The producer's own checks (duplicate job_id, encodability) before anything is sent.
    invalid = [r for r in validate_jobs(batch) if not r.ok]
    if invalid:
        raise ApiError(
            422,
            "validation_error",
            "the request is not valid",
            errors=[
                FieldError(
                    index=r.index,
                    job_id=r.job_id,
                    code=r.error.code if r.error else "invalid",
                    message=r.error.reason if r.error else "invalid job",
                )
                for r in invalid
            ],
        )
    results = wiring.producer(get_settings()).send(batch)
    queued = sum(r.status == "queued" for r in results)
    out = [JobResultOut.of(r) for r in results]
    if queued < len(results):
        failed = SubmitFailed(
            code="enqueue_failed",
            message="some jobs were not queued; resubmitting them is safe",
            jobs=len(results),
            queued=queued,
            failed=len(results) - queued,
            results=out,
        )
        return Response(
            status_code=502,
            content_type=content_types.APPLICATION_JSON,
            body=failed.model_dump(mode="json"),
        )
    body = SubmitResponse(jobs=len(results), queued=queued, failed=0, results=out)
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json"),
    )


@app.get(
    "/api/sms/<job_id>",
    summary="Read a job's status",
    description="The status record (number masked, no body); 404 until the sender records it.",
    tags=["sms"],
    security=[{SIGV4: []}],
    responses={
        200: {"description": "The status record"},
        **error_responses(400, 403, 404, 405, 422),
    },
)
def sms_status(job_id: str) -> JobStatusOut:
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise ApiError(400, "invalid_job_id", "job_id must match " + JOB_ID_PATTERN)
    record = wiring.status_store(get_settings()).get(job_id)
    if record is None:
        raise ApiError(404, "job_not_found", "no status is recorded for this job")
    return JobStatusOut.of(record)


# -- Stats (a day, ranges of the history): courier.http_api.stats_routes ----------------------

app.include_router(stats_router)


# -- Chat (history, connect tickets): courier.http_api.chat_routes ---------------------------

app.include_router(chat_router)

# -- OpenAPI --------------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of this API and the admin API, as served and as committed.

    Two functions, one HTTP API: the admin resolver's paths and schemas are merged into this
    one's (schemas/openapi.json), so clients see one API.
    """
    from courier.http_api.admin_app import app as admin_app

    description = __doc__.split("\n\n", 1)[0] if __doc__ else None
    documents = [
        json.loads(
            resolver.get_openapi_json_schema(
                title=TITLE,
                version=VERSION,
                description=description,
                servers=[Server(url="/")],
                security_schemes=SECURITY_SCHEMES,
            )
        )
        for resolver in (app, admin_app)
    ]
    return merged_documents(documents[0], documents[1])


@app.get(
    "/api/openapi.json",
    summary="This API's OpenAPI document",
    tags=["meta"],
    include_in_schema=True,
    responses={200: {"description": "The OpenAPI 3.1 document"}, **error_responses(403, 405, 422)},
)
def openapi_json() -> Response[dict[str, Any]]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document()
    )
