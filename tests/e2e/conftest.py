"""The local runtime, started once for the end-to-end suite and stopped after it.

The suite drives the system from outside, as a user would: the producer CLI, raw SQS, real
WebSocket clients, the state machine API and a real browser; and it reads results where a user
would (status records, the DLQ, the sandbox outbox, the report in S3).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from local.launcher import LocalRuntime
from local.redis_server import free_port
from local.seed import OPTED_OUT_NUMBER, SEED_JOBS
from local.system import STACK_NAME as LOCAL_STACK
from local.system import LocalSystem
from tests.iam_check.lambda_recording import collect, ministack_env
from tests.iam_check.plugin import add_local_calls


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_invoke_events.py after the other e2e tests: its events files write records those
    tests count (status records, dead letters, chat messages). Under pytest-xdist (`make pytest`
    runs `-n 2`) one worker runs the e2e tests in this order (tests/conftest.py, the scheduler)."""
    last = [item for item in items if item.path.name == "test_invoke_events.py"]
    rest = [item for item in items if item.path.name != "test_invoke_events.py"]
    e2e = Path(__file__).parent
    at = max((n + 1 for n, item in enumerate(rest) if e2e in item.path.parents), default=len(rest))
    items[:] = rest[:at] + last + rest[at:]


@dataclass
class Ledger:
    """What the suite did to the system, so the stats test knows the right counts."""

    # job_id -> (priority, terminal status, failure reason or None)
    jobs: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    chat_messages: Counter[str] = field(default_factory=Counter)  # room -> messages
    chat_senders: dict[str, set[str]] = field(default_factory=dict)  # room -> subs

    def job(self, job_id: str, priority: str, status: str, reason: str | None = None) -> None:
        self.jobs[job_id] = (priority, status, reason)

    def chat(self, room: str, sender: str) -> None:
        self.chat_messages[room] += 1
        self.chat_senders.setdefault(room, set()).add(sender)


# Package scope: one runtime for all of tests/e2e, stopped after its last test (under xdist the
# e2e worker goes on with other tests; the runtime's processes need not idle beside them).
@pytest.fixture(scope="package")
def local_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    # Its own ports (never a running `make dev`'s), no state file; seeded like `make dev`.
    # Every AWS call the deployed functions make is recorded for the IAM check.
    record_dir = tmp_path_factory.mktemp("iam-check-calls")
    runtime = LocalRuntime(
        port=free_port(),
        state_file=None,
        seed=True,
        log=print,
        ministack_env=ministack_env(record_dir),
        remove_files_in_background=True,  # the run directory: not on the suite's clock
    )
    with runtime:
        yield runtime
        # While MiniStack still answers: the stack's physical names map the calls back.
        assert runtime.system is not None
        started = time.monotonic()
        cloudformation = runtime.system.client("cloudformation")
        resources = cloudformation.describe_stack_resources(StackName=LOCAL_STACK)
        add_local_calls(*collect(record_dir, resources["StackResources"]))
        print(f"  the functions' AWS calls collected: {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="package")
def local_system(local_runtime: LocalRuntime) -> LocalSystem:
    assert local_runtime.system is not None
    return local_runtime.system


@pytest.fixture(scope="package")
def ledger(local_system: LocalSystem) -> Ledger:
    book = Ledger()
    for job in SEED_JOBS:
        failed = job["to"] == OPTED_OUT_NUMBER
        book.job(
            job["job_id"],
            job["priority"],
            "FAILED" if failed else "SENT",
            "OPTED_OUT" if failed else None,
        )
    return book


# Debian's Chromium, never a downloaded browser. The background-networking flags keep it from
# dialling Google's hosts, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed: `make tools` installs it"
    # Playwright gives the browser a fresh temporary profile and removes it on close.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


def sign_in_in_the_browser(page: Page, system: LocalSystem, username: str) -> None:
    """Open the admin page and sign in on MiniStack's hosted UI (code + PKCE) as `username`."""
    page.goto(system.outputs["AdminConsoleUrl"])
    page.get_by_test_id("sign-in-button").click()
    # MiniStack's hosted UI sign-in form
    page.locator("#username").fill(username)
    page.locator("#password").fill(system.admin_users[username])
    page.get_by_role("button", name="Sign in").click()
