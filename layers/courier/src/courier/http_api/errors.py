"""The HTTP API's error shape: `{"code", "message"}`, plus `errors` (a field list) for 422."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from courier.sms.contract import SmsJob

MAX_JOBS = 100


class FieldError(BaseModel):
    """One problem with one field; `index` and `job_id` say which job of an SMS request."""

    index: int | None = Field(default=None, description="Position of the job in the request.")
    job_id: str | None = Field(default=None, description="The job_id the job claims, if any.")
    field: str | None = Field(default=None, description="Dotted path of the field, if any.")
    code: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable; clients act on this.")
    message: str = Field(description="For people.")
    errors: list[FieldError] | None = Field(
        default=None, description="The field errors (422 responses only)."
    )


def error_responses(*statuses: int) -> dict[int, Any]:
    """OpenAPI `responses` entries for error statuses, each with the ErrorBody schema."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"model": ErrorBody}},
        }
        for status in statuses
    }


class ApiError(Exception):
    """An error response a route chooses: status, code and a log-safe message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return ErrorBody(code=self.code, message=self.message, errors=self.errors).model_dump(
            mode="json", exclude_none=True
        )


def _claimed_job_id(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("job_id")
        if isinstance(value, str):
            return value[:128]
    return None


def _location(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("str", "int", "float", "bool")]
    return ".".join(parts) or None


def job_field_errors(data: object) -> list[FieldError]:
    """Per-job field errors for an SMS request body under the `SmsJob` contract (no values)."""
    if isinstance(data, dict):
        items: list[object] = [data]
    elif isinstance(data, list):
        if not data:
            return [FieldError(code="too_short", message="give at least one job")]
        if len(data) > MAX_JOBS:
            return [
                FieldError(
                    code="too_many_jobs",
                    message=f"{len(data)} jobs in one request; at most {MAX_JOBS}",
                )
            ]
        items = data
    else:
        return [
            FieldError(
                code="model_type", message="the body must be one SmsJob object or a list of them"
            )
        ]
    problems: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(
                FieldError(index=index, code="model_type", message="a job must be a JSON object")
            )
            continue
        try:
            SmsJob.model_validate(item)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            for err in errors:
                problems.append(
                    FieldError(
                        index=index,
                        job_id=_claimed_job_id(item),
                        field=_location(err["loc"]),
                        code=err["type"],
                        message=err["msg"],
                    )
                )
    return problems


def request_field_errors(errors: list[Any]) -> list[FieldError]:
    """Powertools' validation errors (query, path, header) as field errors, values left out."""
    problems: list[FieldError] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        problems.append(
            FieldError(
                field=_location(loc),
                code=str(err.get("type", "invalid")),
                message=str(err.get("msg", "invalid value")),
            )
        )
    return problems
