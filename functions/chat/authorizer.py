"""Lambda REQUEST authorizer for the WebSocket $connect route: redeems a single-use ticket."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.access import chat_access_from_settings
from courier.chat.authorizer_request import AuthorizerRequest
from courier.chat.tokens import InvalidToken
from courier.observability import logger
from courier.settings import get_settings


def _policy(principal: str, effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AuthorizerRequest.from_event(event)
    try:
        claims = chat_access_from_settings(get_settings()).redeem_ticket(request.ticket)
    except InvalidToken as refused:
        logger.info("chat connect denied", extra={"reason": str(refused)})
        return _policy("anonymous", "Deny", request.method_arn)
    return {
        **_policy(claims.sub, "Allow", request.method_arn),
        # Context values must be strings, numbers or booleans: the room list travels as JSON.
        "context": {"sub": claims.sub, "name": claims.name, "rooms": json.dumps(claims.rooms)},
    }
