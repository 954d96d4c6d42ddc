"""`make smoke` against the local runtime: the deployed-stack check, run as the pipeline runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from local.clients import outbox
from local.system import LocalSystem
from tests.e2e.conftest import Ledger

ROOT = Path(__file__).resolve().parents[2]


def _smoke(system: LocalSystem, *argv: str) -> subprocess.CompletedProcess[str]:
    # The command `make smoke ENV=local` runs, with the emulator's credentials and endpoint.
    return subprocess.run(
        [sys.executable, "-m", "scripts.smoke", *argv],
        cwd=ROOT,
        env=system.aws_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_smoke_check_passes_against_the_local_stack(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    # Given the local stack (SmsProvider=sandbox), whose outputs MiniStack's CloudFormation holds
    # When the smoke check runs against it
    result = _smoke(
        local_system, "--config-env", "local", "--endpoint-url", local_system.endpoint, "--json"
    )
    # Then it exits 0 and every check passed, none skipped
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_check = {r["check"]: r for r in report["results"]}
    for check in by_check.values():  # what it left behind, for the stats test's counts
        if check["check"] == "sms" and check["status"] == "ok":
            ledger.job(check["data"]["job_id"], check["data"]["priority"], "SENT")
        if check["check"] == "chat" and check["status"] == "ok":
            for sender in check["data"]["senders"]:
                ledger.chat(check["data"]["room"], sender)
    assert report["stack"] == "courier-local"
    assert {name: r["status"] for name, r in by_check.items()} == {
        "sms": "ok",
        "chat": "ok",
        "stats": "ok",
    }, result.stderr
    # And its SMS job went through the sandbox provider exactly once
    job_id = by_check["sms"]["data"]["job_id"]
    assert [line["job_id"] for line in outbox(local_system)].count(job_id) == 1
    # And the lines a pipeline log shows name each check
    for name in ("sms", "chat", "stats"):
        assert f"smoke {name}: ok" in result.stderr


def test_the_smoke_check_refuses_a_stack_that_does_not_exist(local_system: LocalSystem) -> None:
    # Given a stack name nothing was deployed under
    # When the smoke check runs against it
    result = _smoke(
        local_system,
        "--stack",
        "courier-nowhere",
        "--region",
        "ap-northeast-2",
        "--endpoint-url",
        local_system.endpoint,
    )
    # Then it fails with a usage error naming the stack, and runs no check
    assert result.returncode == 2, result.stderr
    assert "cannot read stack courier-nowhere" in result.stderr
    assert "smoke sms:" not in result.stderr
