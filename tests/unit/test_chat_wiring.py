"""Where the chat functions post: the API's own @connections endpoint or a configured one."""

from __future__ import annotations

import pytest

from courier.chat.websocket_events import WebSocketEvent
from courier.chat.wiring import connections_endpoint
from courier.settings import Settings
from tests.harness import load_event


def _request_context() -> dict[str, object]:
    event = WebSocketEvent.model_validate(load_event("chat/connect.json"))
    return event.request_context.as_dict()


def test_without_configuration_the_endpoint_is_derived_from_the_event() -> None:
    # Given no CHAT_CONNECTIONS_ENDPOINT
    settings = Settings.from_env()
    # When the endpoint is resolved for a $connect event
    endpoint = connections_endpoint(settings, _request_context())
    # Then it is https://{domainName}/{stage}
    context = _request_context()
    assert endpoint == f"https://{context['domainName']}/{context['stage']}"


def test_a_configured_endpoint_gets_the_api_id_and_stage_of_the_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an emulator endpoint that embeds the API id (unknown before the stack exists)
    monkeypatch.setenv(
        "CHAT_CONNECTIONS_ENDPOINT", "http://127.0.0.1:4566/_aws/execute-api/{apiId}/{stage}"
    )
    context = _request_context()
    # When the endpoint is resolved
    endpoint = connections_endpoint(Settings.from_env(), context)
    # Then the placeholders hold the event's API id and stage
    assert context["apiId"]
    assert endpoint == (
        f"http://127.0.0.1:4566/_aws/execute-api/{context['apiId']}/{context['stage']}"
    )


def test_a_configured_endpoint_without_placeholders_is_used_as_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAT_CONNECTIONS_ENDPOINT", "https://chat.example.com/live")
    assert connections_endpoint(Settings.from_env(), _request_context()) == (
        "https://chat.example.com/live"
    )
