"""What the chat route handlers read of API Gateway WebSocket events, as pydantic models."""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    # API Gateway adds fields over time, and emulators omit some: read ours, ignore the rest.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class RequestContext(_Lenient):
    connection_id: str = Field(alias="connectionId", min_length=1)
    domain_name: str = Field(alias="domainName", default="")
    api_id: str = Field(alias="apiId", default="")
    stage: str = Field(default="")
    route_key: str = Field(alias="routeKey", default="")
    authorizer: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"domainName": self.domain_name, "apiId": self.api_id, "stage": self.stage}


class WebSocketEvent(_Lenient):
    request_context: RequestContext = Field(alias="requestContext")
    body: str | None = None
    is_base64_encoded: bool = Field(alias="isBase64Encoded", default=False)

    def text(self) -> str | bytes | None:
        if self.body is not None and self.is_base64_encoded:
            return base64.b64decode(self.body)
        return self.body


class AuthorizerContext(_Lenient):
    """What the authorizer put in the context at $connect (strings only, as API Gateway wants)."""

    sub: str
    name: str
    rooms: str  # JSON list of room patterns

    def room_patterns(self) -> tuple[str, ...]:
        return tuple(str(r) for r in json.loads(self.rooms))


def ok() -> dict[str, Any]:
    """The response API Gateway expects from a WebSocket route integration."""
    return {"statusCode": 200}
