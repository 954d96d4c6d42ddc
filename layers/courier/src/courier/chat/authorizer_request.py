"""The $connect REQUEST authorizer's event, read without pydantic (the authorizer's cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MalformedAuthorizerRequest(ValueError):
    """The event lacks what API Gateway always sends a REQUEST authorizer."""


@dataclass(frozen=True)
class AuthorizerRequest:
    """A REQUEST authorizer call for the WebSocket API's $connect route.

    Apart from the pydantic models of `courier.chat.websocket_events`: the authorizer needs no
    other pydantic model, and importing pydantic was ~80 ms of CPU of its cold start. Read as
    those models read events: our fields checked, anything else API Gateway adds ignored.
    """

    method_arn: str
    query: dict[str, str] | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AuthorizerRequest:
        method_arn = event.get("methodArn")
        if not isinstance(method_arn, str):
            raise MalformedAuthorizerRequest("methodArn: a string is required")
        query = event.get("queryStringParameters")
        if query is not None and not (
            isinstance(query, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
        ):
            raise MalformedAuthorizerRequest("queryStringParameters: strings by name, or null")
        return cls(method_arn=method_arn, query=query)

    @property
    def ticket(self) -> str:
        """`?ticket=`: the single-use ticket bought with a chat token (POST /api/chat/tickets)."""
        return (self.query or {}).get("ticket", "")
