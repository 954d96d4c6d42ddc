"""Every function of template.yaml answers each of its events files on the local system.

One function of each code folder (functions/<folder>) has its first events file invoked the way
`make invoke` does (local/invoke.py: `sam remote invoke` against MiniStack); every other file
goes with the same Invoke request sent directly (local/invoke.py's `invoke_function`). The
events write what other e2e tests count (status records, dead letters, chat messages), so
tests/e2e/conftest.py runs this module last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local.invoke import Invocation, invoke, invoke_function
from local.system import STACK_NAME, LocalSystem
from local.template import EVENTS, template_resources

# Logical id -> its events files (globs under events/). A new function needs its events here.
EVENTS_OF: dict[str, list[str]] = {
    "SmsTransactionalSenderFunction": ["sms/sender-*.json"],
    "SmsBulkSenderFunction": ["sms/sender-*.json"],
    "SmsStatusFunction": ["sms/receipt-*.json"],
    "ChatAuthorizerFunction": ["chat/authorizer.json"],
    "ChatConnectFunction": ["chat/connect.json"],
    "ChatDisconnectFunction": ["chat/disconnect.json"],
    "ChatDefaultFunction": ["chat/default-*.json"],
    "ChatChannelFunction": [
        "chat/join.json",
        "chat/send.json",
        "chat/history.json",
        "chat/ping.json",
        "chat/leave.json",
    ],
    "ChatSweepFunction": ["chat/sweep.json"],
    "StatsPlanFunction": ["stats/plan-*.json", "stats/scheduled-start.json"],
    "StatsAggregateFunction": ["stats/aggregate.json"],
    "StatsPublishFunction": ["stats/publish.json"],
    "SmsStatsCounterFunction": ["stats/counter-*.json"],
    "DatabaseMigrationFunction": ["data/migrations-*.json"],
    "ApiFunction": ["api/*.json"],
    "AdminApiFunction": ["admin/*.json"],
    "CampaignLauncherFunction": ["campaigns/launch-*.json"],
}
# Invoked in this order, each group's events concurrently: the senders write the status records
# the receipts and the APIs read (and the two senders share idempotency records: one at a time).
_FIRST = [["SmsTransactionalSenderFunction"], ["SmsBulkSenderFunction"]]
_LAST = ["ApiFunction", "AdminApiFunction"]
PHASES = [
    *_FIRST,
    [name for name in EVENTS_OF if not any(name in phase for phase in [*_FIRST, _LAST])],
    _LAST,
]

Check = Callable[[Invocation], None]


def _payload(answer: Invocation) -> dict[str, Any]:
    body = answer.json()
    assert isinstance(body, dict), answer.payload
    return body


def _dead_lettered_as_malformed(answer: Invocation) -> None:
    # Not a batch item failure (which SQS would retry): straight to the DLQ with its reason.
    assert _payload(answer) == {"batchItemFailures": []}
    assert "sms job dead-lettered" in answer.log_tail
    assert '"code":"MALFORMED_JSON"' in answer.log_tail


def _denied(answer: Invocation) -> None:
    # The file's ticket is a placeholder, so the authorizer must refuse the connection.
    statements = _payload(answer)["policyDocument"]["Statement"]
    assert [s["Effect"] for s in statements] == ["Deny"]


def _status(code: int, error_code: str) -> Check:
    def check(answer: Invocation) -> None:
        body = _payload(answer)
        assert body["statusCode"] == code, body
        assert f'"code":"{error_code}"' in body["body"], body

    return check


def _refused_plan(answer: Invocation) -> None:
    assert answer.function_error is not None, answer.payload
    assert "partials do not match the plan" in _payload(answer)["errorMessage"]


# Events meant to be refused, and how the answer must say so.
REFUSALS: dict[str, Check] = {
    "sms/sender-malformed.json": _dead_lettered_as_malformed,
    "chat/authorizer.json": _denied,
    # Placeholder bearer tokens in the files (the user pastes a real one).
    **{
        f"admin/{path.name}": _status(401, "unauthorized")
        for path in (EVENTS / "admin").glob("*.json")
    },
    "api/get-messages.json": _status(401, "unauthorized"),
    "api/post-chat-ticket.json": _status(401, "unauthorized"),
    # A fresh local system has no report for the file's day.
    "api/get-stats.json": _status(404, "stats_not_found"),
    # The file is a 16-shard production plan; the local stack deploys DayShards=2, and the
    # publish step refuses partials that do not match its plan rather than publish a wrong day.
    "stats/publish.json": _refused_plan,
}


def _event_files(logical_id: str) -> list[Path]:
    return sorted({path for pattern in EVENTS_OF[logical_id] for path in EVENTS.glob(pattern)})


def _first_of_each_folder(names: Iterable[str]) -> set[str]:
    """One function per code folder (its CodeUri), the first in EVENTS_OF's order."""
    firsts: dict[str, str] = {}
    for name in names:
        firsts.setdefault(str(_functions()[name]["Properties"]["CodeUri"]), name)
    return set(firsts.values())


def _functions() -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template_resources().items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


CASES = [
    pytest.param(
        name,
        path.relative_to(EVENTS).as_posix(),
        id=f"{name}-{path.stem}",
    )
    for name in EVENTS_OF
    for path in _event_files(name)
]


def test_every_function_has_events_files_and_every_events_file_a_function() -> None:
    # Given the template's functions and the events/ directory
    functions = set(_functions())
    # Then each function has at least one events file, and no events file is left unused
    assert functions - set(EVENTS_OF) == set(), "functions without events files"
    assert set(EVENTS_OF) - functions == set(), "events mapped to no function of the template"
    assert [name for name in EVENTS_OF if not _event_files(name)] == []
    used = {path for name in EVENTS_OF for path in _event_files(name)}
    assert sorted(set(EVENTS.rglob("*.json")) - used) == []


@pytest.fixture(scope="module")
def answers(local_system: LocalSystem) -> dict[tuple[str, str], Invocation | str]:
    """(logical id, events file) -> the function's answer, or why it was not invoked."""
    resources = local_system.client("cloudformation").describe_stack_resources(
        StackName=STACK_NAME
    )["StackResources"]
    deployed = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    functions = _functions()
    through_sam = _first_of_each_folder(name for name in EVENTS_OF if name in deployed)
    results: dict[tuple[str, str], Invocation | str] = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for phase in PHASES:
            futures = {}
            for name in phase:
                if name not in deployed:
                    condition = functions[name].get("Condition", "(none)")
                    reason = f"{name} exists only under condition {condition}, false locally"
                    for path in _event_files(name):
                        results[(name, path.relative_to(EVENTS).as_posix())] = reason
                    continue
                # A folder's first function's first file through `sam remote invoke`, as `make
                # invoke FN=<logical id>` runs it; the others with the same Invoke request sent
                # from here: each SAM CLI start costs 2-2.5 CPU seconds, and the request it sends
                # is the same for every function.
                first, *others = _event_files(name)
                for path in (first, *others):
                    key = (name, path.relative_to(EVENTS).as_posix())
                    futures[key] = (
                        pool.submit(invoke, local_system, name, path)
                        if path == first and name in through_sam
                        else pool.submit(invoke_function, local_system, deployed[name], path)
                    )
            results.update({key: future.result() for key, future in futures.items()})
    return results


@pytest.mark.parametrize(("logical_id", "event"), CASES)
def test_the_function_answers_its_events_file(
    answers: dict[tuple[str, str], Invocation | str], logical_id: str, event: str
) -> None:
    # Given the local system, and the function invoked with the file as `make invoke` does
    answer = answers[(logical_id, event)]
    if isinstance(answer, str):
        pytest.skip(answer)
    # Then an event meant to be refused is refused, saying so
    if event in REFUSALS:
        REFUSALS[event](answer)
        return
    # And any other answers without an error: nothing for SQS to retry, no 5xx, no crash
    assert answer.function_error is None, f"{answer.payload}\n{answer.log_tail}"
    body = _payload(answer)
    if "batchItemFailures" in body:
        assert body["batchItemFailures"] == [], answer.log_tail
    if "statusCode" in body:
        assert body["statusCode"] in {200, 202}, body
