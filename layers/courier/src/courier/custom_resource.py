"""Answers CloudFormation custom resource requests: the request model and the response PUT.

CloudFormation waits for the answer on the request's pre-signed S3 `ResponseURL`; a function
that never answers holds the stack for the resource's ServiceTimeout (an hour by default). So
`answer` always answers: SUCCESS, FAILED with the error as the reason, or FAILED shortly before
the function's own deadline if the work has not finished by then.

Hand-written (about 60 lines) rather than crhelper or cfnresponse: crhelper (2.0.12) sets up
the root logger at import (beside Powertools' logger), creates Lambda, Events and Logs clients
for a polling mode this function does not use, sleeps 120 s on every Delete by default, and its
sender speaks HTTPS only and retries forever; cfnresponse has no deadline guard and prints
instead of logging. The protocol itself is one JSON PUT.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Leave this long before the function's deadline to send FAILED (the PUT itself is quick).
DEADLINE_MARGIN_SECONDS = 10.0
RESPONSE_TIMEOUT_SECONDS = 10.0
# CloudFormation keeps a reason of up to 4 KB in the stack events.
MAX_REASON = 1000


class CustomResourceRequest(BaseModel):
    """The fields of a custom resource request this service reads (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    response_url: str = Field(alias="ResponseURL")
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    resource_properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")


def send_response(
    event: dict[str, Any],
    status: Literal["SUCCESS", "FAILED"],
    *,
    physical_resource_id: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """PUT the response document to the pre-signed ResponseURL (an empty Content-Type, as the
    signature expects)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:MAX_REASON] or status,
            "PhysicalResourceId": physical_resource_id,
            "StackId": event.get("StackId", ""),
            "RequestId": event.get("RequestId", ""),
            "LogicalResourceId": event.get("LogicalResourceId", ""),
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's own
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def answer(
    event: dict[str, Any],
    work: Callable[[CustomResourceRequest], dict[str, Any]],
    *,
    remaining_seconds: float,
    send: Callable[..., None] = send_response,
    on_error: Callable[[BaseException], None] | None = None,
) -> Literal["SUCCESS", "FAILED"]:
    """Run `work` for a Create or Update (a Delete does nothing) and answer exactly once.

    The physical id stays the one CloudFormation holds (a new id would make it delete the
    old resource after an update); the first Create gets `<stack name>-<logical id>`.
    """
    lock = threading.Lock()
    answered: list[str] = []

    def once(status: Literal["SUCCESS", "FAILED"], reason: str, data: dict[str, Any]) -> None:
        with lock:
            if answered:
                return
            answered.append(status)
        stack_name = str(event.get("StackId", "stack")).split("/")[-2:][0]
        physical = event.get("PhysicalResourceId") or (
            f"{stack_name}-{event.get('LogicalResourceId', 'resource')}"
        )
        send(event, status, physical_resource_id=physical, reason=reason, data=data)

    timer = threading.Timer(
        max(remaining_seconds - DEADLINE_MARGIN_SECONDS, 0.0),
        lambda: once("FAILED", "timed out before the work finished", {}),
    )
    timer.daemon = True
    timer.start()
    try:
        request = CustomResourceRequest.model_validate(event)
        data = {} if request.request_type == "Delete" else work(request)
    except Exception as error:
        if on_error is not None:
            on_error(error)
        once("FAILED", f"{type(error).__name__}: {error}", {})
    else:
        once("SUCCESS", "", data)
    finally:
        timer.cancel()
    return "SUCCESS" if answered == ["SUCCESS"] else "FAILED"
