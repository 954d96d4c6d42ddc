"""The $connect authorizer reads its event without pydantic, with the same checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from courier.chat.authorizer_request import AuthorizerRequest, MalformedAuthorizerRequest
from tests.harness import ROOT


def test_the_ticket_comes_from_the_query_string() -> None:
    # Given the committed authorizer event
    event = json.loads((ROOT / "events" / "chat" / "authorizer.json").read_text())
    # When read
    request = AuthorizerRequest.from_event(event)
    # Then the method ARN and the ticket are there, and no query string means no ticket
    assert request.method_arn == event["methodArn"]
    assert request.ticket == event["queryStringParameters"]["ticket"]
    assert AuthorizerRequest.from_event({"methodArn": "arn:x"}).ticket == ""


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"methodArn": 7},
        {"methodArn": "arn:x", "queryStringParameters": {"ticket": 1}},
        {"methodArn": "arn:x", "queryStringParameters": ["ticket"]},
    ],
)
def test_a_malformed_event_is_refused(event: dict[str, object]) -> None:
    with pytest.raises(MalformedAuthorizerRequest):
        AuthorizerRequest.from_event(event)


def test_the_authorizer_imports_no_pydantic() -> None:
    # Given a fresh interpreter with the function's code and the layer on its path
    code = (
        "import sys; import authorizer, courier.chat.access, courier.chat.ticket_store, "
        "courier.chat.revocations, courier.settings; print('pydantic' in sys.modules)"
    )
    paths = [str(ROOT / "functions" / "chat"), str(ROOT / "layers" / "courier" / "src")]
    # When the handler and what its first invocation uses are imported
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path[0:0] = {paths!r}; {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    # Then pydantic (~80 ms of CPU of a cold start) is not among them
    assert result.stdout.strip() == "False"
