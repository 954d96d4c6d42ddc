"""The migration custom resource: every request answered once, Delete a no-op, errors FAILED."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import migrate
import pytest

from courier import custom_resource
from courier.data import bootstrap
from courier.data.bootstrap import BootstrapResult
from courier.data.errors import DatabaseNotConfigured
from tests.harness import FakeLambdaContext, load_event

STACK_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/courier-dev/0a1b2c3d"


def request(request_type: str, **extra: Any) -> dict[str, Any]:
    """The events/data file of that request type (`sam local invoke` uses the same files)."""
    known = request_type in ("Create", "Update", "Delete")
    event = load_event(f"data/migrations-{request_type.lower() if known else 'create'}.json")
    return {**event, "RequestType": request_type, **extra}


class Responses:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], status: str, **fields: Any) -> None:
        self.sent.append({"status": status, **fields})


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> Responses:
    sent = Responses()
    monkeypatch.setattr(custom_resource, "send_response", sent)
    monkeypatch.setattr(migrate, "answer", _answer_with(sent))
    return sent


def _answer_with(sent: Responses) -> Any:
    def answer(event: dict[str, Any], work: Any, **kwargs: Any) -> Any:
        return custom_resource.answer(event, work, send=sent, **kwargs)

    return answer


@pytest.fixture
def bootstrap_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def fake(settings: Any) -> BootstrapResult:
        calls.append(settings)
        return BootstrapResult(database="courier", app_user="courier_app", applied=["0001_x"])

    monkeypatch.setattr(bootstrap, "bootstrap_from_settings", fake)
    return calls


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_migrate_and_answer_success(
    responses: Responses, bootstrap_calls: list[Any], request_type: str
) -> None:
    # Given a Create or Update request
    extra = (
        {"PhysicalResourceId": "courier-dev-DatabaseMigrations"} if request_type == "Update" else {}
    )
    # When the handler runs
    result = migrate.handler(request(request_type, **extra), FakeLambdaContext())
    # Then it migrated once and answered SUCCESS with what it applied, under a stable id
    assert len(bootstrap_calls) == 1
    assert result == {"Status": "SUCCESS"}
    assert responses.sent == [
        {
            "status": "SUCCESS",
            "physical_resource_id": "courier-dev-DatabaseMigrations",
            "reason": "",
            "data": {"Applied": "0001_x", "Database": "courier"},
        }
    ]


def test_delete_does_nothing_and_answers_success(
    responses: Responses, bootstrap_calls: list[Any]
) -> None:
    # Given a Delete (stack deletion or a rollback of a Create)
    event = request("Delete", PhysicalResourceId="courier-dev-DatabaseMigrations")
    # When the handler runs
    migrate.handler(event, FakeLambdaContext())
    # Then nothing touched the database, and CloudFormation hears SUCCESS for the same id
    assert bootstrap_calls == []
    assert [(r["status"], r["physical_resource_id"]) for r in responses.sent] == [
        ("SUCCESS", "courier-dev-DatabaseMigrations")
    ]


def test_a_failure_answers_failed_with_the_reason(
    responses: Responses, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bootstrap that fails (no master secret configured)
    def broken(settings: Any) -> BootstrapResult:
        raise DatabaseNotConfigured("the migrations need DATABASE_MASTER_SECRET_ARN")

    monkeypatch.setattr(bootstrap, "bootstrap_from_settings", broken)
    # When a Create runs
    result = migrate.handler(request("Create"), FakeLambdaContext())
    # Then CloudFormation hears FAILED once, with the error as the reason
    assert result == {"Status": "FAILED"}
    assert len(responses.sent) == 1
    assert responses.sent[0]["status"] == "FAILED"
    assert "DatabaseNotConfigured" in responses.sent[0]["reason"]
    assert "DATABASE_MASTER_SECRET_ARN" in responses.sent[0]["reason"]


def test_an_unknown_request_type_answers_failed() -> None:
    # Given a request CloudFormation never sends
    sent = Responses()
    # When it is answered
    status = custom_resource.answer(
        request("Replace"), lambda r: {}, remaining_seconds=60, send=sent
    )
    # Then the answer is FAILED, not silence
    assert status == "FAILED"
    assert sent.sent[0]["status"] == "FAILED"


def test_work_outliving_the_deadline_answers_failed_once() -> None:
    # Given work slower than the time left before the function's deadline (minus the margin)
    sent = Responses()

    def slow(req: custom_resource.CustomResourceRequest) -> dict[str, Any]:
        time.sleep(0.5)
        return {}

    # When it runs with 0.1 s to spare after the margin
    status = custom_resource.answer(
        request("Create"),
        slow,
        remaining_seconds=custom_resource.DEADLINE_MARGIN_SECONDS + 0.1,
        send=sent,
    )
    # Then the timer answered FAILED and the late success was not sent as well
    assert status == "FAILED"
    assert [r["status"] for r in sent.sent] == ["FAILED"]
    assert "timed out" in sent.sent[0]["reason"]


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        _Recorder.received.append((self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def response_server() -> Iterator[str]:
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bucket/signed?X-Amz-Signature=abc"
    finally:
        server.shutdown()
        server.server_close()


def test_the_response_is_one_json_put_to_the_response_url(response_server: str) -> None:
    # Given a request whose ResponseURL is a local server
    event = request("Create", ResponseURL=response_server)
    # When a FAILED response is sent
    custom_resource.send_response(
        event, "FAILED", physical_resource_id="courier-dev-DatabaseMigrations", reason="x" * 5000
    )
    # Then the server got one PUT on the signed path, an empty Content-Type, and the document
    ((path, headers, body),) = _Recorder.received
    assert path == "/bucket/signed?X-Amz-Signature=abc"
    assert headers.get("Content-Type") == ""
    document = json.loads(body)
    assert document["Status"] == "FAILED"
    assert document["PhysicalResourceId"] == "courier-dev-DatabaseMigrations"
    assert (document["StackId"], document["RequestId"], document["LogicalResourceId"]) == (
        STACK_ID,
        "req-1",
        "DatabaseMigrations",
    )
    assert len(document["Reason"]) == custom_resource.MAX_REASON


def test_the_app_user_is_iam_authenticated_tls_only_and_dml_only() -> None:
    # Given the statements that create the application user on Aurora
    create, grant = bootstrap.app_user_statements("courier_app", "courier")
    # Then it logs in with IAM tokens, over TLS only, and may only read and write rows
    assert create == (
        "CREATE USER IF NOT EXISTS 'courier_app'@'%' "
        "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
    )
    assert grant == "GRANT SELECT, INSERT, UPDATE, DELETE ON `courier`.* TO 'courier_app'@'%'"


@pytest.mark.parametrize("name", ["", "1abc", "app'; DROP", "a-b", "x" * 33])
def test_names_that_are_not_plain_identifiers_are_refused(name: str) -> None:
    with pytest.raises(DatabaseNotConfigured, match="not a plain name"):
        bootstrap.app_user_statements(name, "courier")
    with pytest.raises(DatabaseNotConfigured, match="not a plain name"):
        bootstrap.create_database_statement(name)
