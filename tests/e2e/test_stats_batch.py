"""The stats batch end to end: Step Functions -> plan/aggregate/publish Lambdas -> report in S3."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from local.clients import wait_for_statuses
from local.system import LocalSystem
from tests.e2e.conftest import Ledger


def test_the_state_machine_reports_what_the_suite_did_today(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    # Given every job the suite queued has settled (the seed jobs and the SMS tests' jobs)
    wait_for_statuses(local_system, list(ledger.jobs))
    # When the state machine runs for today
    result = local_system.run_stats()
    # Then the execution succeeds and its JSON report in S3 has the right counts
    assert result["status"] == "SUCCEEDED", result
    report = result["report"]
    assert report is not None, "no report in the reports bucket"
    assert report["date"] == result["date"]
    sms, chat = report["sms"], report["chat"]
    statuses = Counter(status for _, status, _ in ledger.jobs.values())
    priorities = Counter(priority for priority, _, _ in ledger.jobs.values())
    reasons = Counter(reason for _, _, reason in ledger.jobs.values() if reason)
    assert sms["jobs"] == len(ledger.jobs)
    assert sms["by_status"] == {
        "SENT": statuses["SENT"],
        "DELIVERED": 0,
        "FAILED": statuses["FAILED"],
    }
    assert sms["by_priority"] == {
        "transactional": priorities["transactional"],
        "bulk": priorities["bulk"],
    }
    assert sms["failed_by_reason"] == dict(reasons)
    assert chat["messages"] == sum(ledger.chat_messages.values())
    assert chat["active_rooms"] == len(ledger.chat_messages)
    assert chat["active_users"] == len(set().union(*ledger.chat_senders.values()))


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_http_api_serves_the_days_numbers_and_the_room_history(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    # Given a stats run for today (idempotent: it rewrites the same day)
    result = local_system.run_stats()
    assert result["status"] == "SUCCEEDED", result
    # When the web app's API routes are called (no CloudFront here, so no origin header)
    status, numbers = _get(f"{local_system.api_base}/stats/{result['date']}")
    # Then they answer with the stored numbers
    assert status == 200, numbers
    assert numbers["date"] == result["date"]
    assert numbers["sms"]["jobs"] == result["report"]["sms"]["jobs"]
    # And the room history needs a chat token whose rooms cover the room
    assert _get(f"{local_system.api_base}/rooms/lobby/messages")[0] == 401
    status, history = _get(
        f"{local_system.api_base}/rooms/lobby/messages", local_system.tokens["alice"]
    )
    assert status == 200, history
    assert history["room"] == "lobby"
    assert len(history["messages"]) == ledger.chat_messages["lobby"]
