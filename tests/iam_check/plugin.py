"""The pytest side: wrap the handler modules, check at session end, report unexercised grants.

tests/integration/conftest.py calls `install()` when it is imported (before the test modules
import the handlers); tests/e2e/conftest.py hands over what the local runtime's functions
recorded (`add_local_calls`); tests/conftest.py forwards `pytest_sessionfinish` /
`pytest_terminal_summary` here, once for both.

Under pytest-xdist (`make pytest` runs `-n`) each worker records only the tests it ran, so the
check runs once on the controller over the union: a worker's `pytest_sessionfinish` hands its
recording to the controller (`export`, in xdist's `workeroutput`), the controller takes each one
as the worker goes down (`merge`, from `pytest_testnodedown`), then checks them all (`finish`).
A worker that goes down without a recording fails the check: its calls would be missing from
the "unexercised" side.
"""

from __future__ import annotations

import importlib
from dataclasses import astuple
from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.iam_check import recorder
from tests.iam_check.check import Grant, unexercised, violations
from tests.iam_check.policy import event_sources, function_roles, handler_functions, parameter_sets
from tests.iam_check.recorder import Call
from tests.iam_check.service_calls import service_calls

# Grants the integration tests cannot exercise, each with why it stays:
# (function, action, resource) patterns and the reason.
JUSTIFIED: list[tuple[str, str, str, str]] = [
    (
        "*",
        "secretsmanager:GetSecretValue",
        "*:secret:RedisAuthSecret-*",
        "the Redis AUTH password (CreateRedis only); this suite's redis-server has no ACL user, "
        "and tests/integration/test_redis_connection.py reads the secret through connect_redis",
    ),
    (
        "Sms*SenderFunction",
        "sms-voice:SendTextMessage",
        "*",
        "moto has no pinpoint-sms-voice-v2 (DESIGN.md); the request is checked with botocore's "
        "Stubber in tests/unit/test_provider_end_user_messaging.py",
    ),
    (
        "Sms*SenderFunction",
        "dynamodb:GetItem",
        "*:table/SmsMessages",
        "SmsSender reads an INPROGRESS record to age it (an interrupted delivery: exercised by "
        "tests/faults, which this check does not record), and Powertools reads the record when "
        "a failed conditional put returns no item",
    ),
    (
        "*",
        "xray:GetSampling*",
        "*",
        "part of AWSXrayWriteOnlyAccess, which SAM attaches with Tracing: Active; Lambda makes "
        "the sampling decision itself, so only PutTraceSegments/PutTelemetryRecords are used",
    ),
    (
        "*",
        "rds-db:connect",
        "*:dbuser:*/courier_app",
        "IAM database authentication: boto3 signs the token locally (generate_db_auth_token, no "
        "API call to record) and Aurora or RDS Proxy checks rds-db:connect when it is presented; "
        "tests/unit/test_template_data.py pins the grant to the application user's ARN",
    ),
    (
        "DatabaseMigrationFunction",
        "secretsmanager:GetSecretValue",
        "*:secret:rds!cluster-*",
        "the master secret RDS manages (Aurora only); the MariaDB stand-in has a root socket "
        "login, so tests/integration/test_database_bootstrap.py runs the bootstrap without it",
    ),
    (
        "AdminApiFunction",
        "sqs:StartMessageMoveTask",
        "*-dlq",
        "neither moto (NotImplementedError) nor MiniStack (InvalidAction) implements the move "
        "task, so the redrive moves message by message there; the native request is checked "
        "with botocore's Stubber in tests/unit/test_dead_letters_sqs.py",
    ),
    (
        "StatsPublishFunction",
        "s3:ListBucket",
        "*",
        "no call needs it: with s3:ListBucket a missing partial answers 404 NoSuchKey instead "
        "of 403 AccessDenied, so publish names the missing partial",
    ),
]

_state: dict[str, Any] = {"violations": [], "unexercised": [], "sets": 0, "active": False}
# Calls the deployed functions made inside the local runtime (tests/e2e, lambda_recording.py).
_LOCAL_CALLS: list[Call] = []
_LOCAL_ERRORS: list[str] = []
# On the xdist controller: what the workers recorded in process (their recorder.CALLS/ERRORS).
_WORKER_CALLS: list[Call] = []
_WORKER_ERRORS: list[str] = []
WORKER_OUTPUT_KEY = "iam_check"


def choose_function(candidates: list[str], sources: dict[str, str]) -> Any:
    def choose(event: Any) -> str:
        if len(candidates) == 1:
            return candidates[0]
        records = event.get("Records") if isinstance(event, dict) else None
        source = records[0].get("eventSourceARN") if records else None
        if source in sources and sources[source] in candidates:
            return sources[source]
        raise AssertionError(f"cannot tell which of {candidates} runs this event")

    return choose


# What a one-line handler delegates to, which tests also call directly (to inject a provider or
# a fault): (module, class, method, the handler whose functions run it).
DELEGATES = [
    ("courier.sms.sqs_consumer", "SqsJobConsumer", "process_batch", "sender.handler"),
    ("courier.sms.receipt_consumer", "ReceiptConsumer", "process_batch", "receipts.handler"),
    ("courier.chat.channel", "ChatChannel", "handle", "channel.handler"),
]


def add_local_calls(calls: list[Call], errors: list[str]) -> None:
    """What the e2e suite recorded inside the local runtime: checked with the in-process calls."""
    _LOCAL_CALLS.extend(calls)
    _LOCAL_ERRORS.extend(errors)
    _state["active"] = True


def install() -> None:
    """Hook botocore and wrap each handler module's `handler` (and the delegates) once."""
    _state["active"] = True
    recorder.install()
    sources = event_sources()
    handlers = handler_functions()
    for handler, candidates in handlers.items():
        module = importlib.import_module(handler.rsplit(".", 1)[0])
        if getattr(module.handler, "__iam_check_wrapped__", False):
            continue
        module.handler = recorder.attributed(module.handler, choose_function(candidates, sources))
    for module_name, class_name, method, handler in DELEGATES:
        cls = getattr(importlib.import_module(module_name), class_name)
        if not getattr(getattr(cls, method), "__iam_check_wrapped__", False):
            choose = choose_function(handlers[handler], sources)
            setattr(cls, method, recorder.attributed(getattr(cls, method), choose))


def is_worker(config: pytest.Config) -> bool:
    """An xdist worker (it has `workeroutput` to send back); the controller and a plain run not."""
    return hasattr(config, "workeroutput")


def export(config: pytest.Config) -> None:
    """On an xdist worker: hand this worker's recording to the controller (plain lists: execnet
    carries only builtin types)."""
    config.workeroutput[WORKER_OUTPUT_KEY] = {
        "active": _state["active"],
        "calls": [astuple(call) for call in recorder.CALLS],
        "errors": list(recorder.ERRORS),
        "local_calls": [astuple(call) for call in _LOCAL_CALLS],
        "local_errors": list(_LOCAL_ERRORS),
    }


def merge(worker: str, workeroutput: dict[str, Any] | None) -> None:
    """On the xdist controller: one worker's recording, as it goes down."""
    payload = (workeroutput or {}).get(WORKER_OUTPUT_KEY)
    if payload is None:
        _state["active"] = True
        _WORKER_ERRORS.append(f"xdist worker {worker} went down without its recording")
        return
    if not payload["active"]:
        return
    _state["active"] = True
    _WORKER_CALLS.extend(Call(*fields) for fields in payload["calls"])
    _WORKER_ERRORS.extend(payload["errors"])
    _LOCAL_CALLS.extend(Call(*fields) for fields in payload["local_calls"])
    _LOCAL_ERRORS.extend(payload["local_errors"])


def finish(session: pytest.Session) -> None:
    """Fail the run on any recorded call a role does not allow, under any parameter set (on an
    xdist worker: hand the recording to the controller, which checks the union)."""
    if is_worker(session.config):
        export(session.config)
        return
    if not _state["active"]:
        return  # neither suite ran: nothing recorded, nothing to check
    calls = list(recorder.CALLS) + _WORKER_CALLS + _LOCAL_CALLS
    errors = set(recorder.ERRORS) | set(_WORKER_ERRORS) | set(_LOCAL_ERRORS)
    found = [f"recording: {error}" for error in sorted(errors)]
    grants: set[Grant] = set()
    sets = parameter_sets()
    for name, parameters in sets.items():
        roles = function_roles(parameters)
        provider = parameters.get("SmsProvider", "end-user-messaging")
        made = calls + service_calls(parameters)
        found += [f"[{name}] {line}" for line in violations(made, roles, provider)]
        grants |= set(unexercised(made, roles))
    _state.update(violations=found, unexercised=sorted(grants, key=str), sets=len(sets))
    _state.update(calls=len(calls), local_calls=len(_LOCAL_CALLS))
    if found and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def justification(grant: Grant) -> str | None:
    for function, action, resource, reason in JUSTIFIED:
        if (
            fnmatchcase(grant.function, function)
            and fnmatchcase(grant.action, action)
            and fnmatchcase(grant.resource, resource)
        ):
            return reason
    return None


def summary(terminalreporter: Any) -> None:
    if not _state["active"] or is_worker(terminalreporter.config):
        return
    write = terminalreporter.write_line
    terminalreporter.section("IAM check (handlers' AWS calls vs. their roles)")
    write(
        f"{_state.get('calls', 0)} calls recorded ({_state.get('local_calls', 0)} inside the "
        f"local runtime), checked under {_state['sets']} parameter sets"
    )
    for line in _state["violations"]:
        write(f"NOT ALLOWED {line}", red=True)
    unjustified = [g for g in _state["unexercised"] if justification(g) is None]
    for grant in _state["unexercised"]:
        reason = justification(grant)
        label = f"justified: {reason}" if reason else "NO TEST EXERCISES IT"
        write(f"unexercised {grant.function} {grant.sid} {grant.action} {grant.resource} ({label})")
    write(f"{len(_state['violations'])} not allowed, {len(unjustified)} unexercised unjustified")
